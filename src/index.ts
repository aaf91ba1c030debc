/**
 * loadcache: per-request DataLoaders over a shared two-tier cache (in-process LRU + Redis), with one batched
 * fetch for all misses, fleet-wide stampede locks, stale-write prevention and O(1) tag invalidation.
 */
export { createCache, type LoadCache, type Loaders } from './cache/create-cache.js'
export type { CacheEvents } from './cache/engine.js'
export { jsonSerializer, type Serializer } from './cache/entry.js'
export type { CacheId } from './cache/keys.js'
export type { CreateCacheOptions, Logger } from './cache/options.js'
export type { CacheStats, LoaderStats } from './cache/stats.js'
export { LoadCacheError, type LoadCacheErrorCode, LoadCacheTypeError } from './errors.js'
export {
  defineLoader,
  type FetchResult,
  type LoaderDefinition,
  type LoaderOptions,
} from './loader/define-loader.js'
export type { BreakerState } from './redis/circuit-breaker.js'
