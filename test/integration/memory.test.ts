import { describeLoaderBehaviour } from './loader-behaviour.js'

// Memory-only mode (no Redis) must pass every behavioural test that does not need a second process.
describeLoaderBehaviour('memory', () => undefined)
