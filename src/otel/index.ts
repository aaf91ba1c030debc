export { type InstrumentLoadCacheOptions, instrumentLoadCache } from './instrument-load-cache.js'
