/**
 * loadcache: per-request DataLoaders over a shared two-tier cache (in-process LRU + Redis), with one batched
 * fetch for all misses, fleet-wide stampede locks, stale-write prevention and O(1) tag invalidation.
 */
export {
  createCache,
  type LoadCache,
  type Loaders,
  type PrimeOptions,
  type PrimeOutcome,
  type WriteTicket,
} from './cache/create-cache.js'
export type { Serializer } from './core/entry.js'
export {
  ERROR_CODES,
  isLoadCacheError,
  LoadCacheError,
  type LoadCacheErrorCode,
  LoadCacheTypeError,
} from './core/errors.js'
export type { CacheId } from './core/keys.js'
export type { Logger } from './core/logger.js'
export { jsonSerializer, structuredSerializer } from './core/serializers.js'
export { entityTag, typeTag } from './core/tags.js'
export type { CacheEvents, EvictEvent, FetchEvent, RedisEvent } from './engine/engine.js'
export type { CreateCacheOptions, RedisClientLike } from './engine/options.js'
export type { CacheStats, LoaderStats } from './engine/stats.js'
export {
  defineLoader,
  type FetchResult,
  type LoaderDefinition,
  type LoaderOptions,
} from './loader/define-loader.js'
export type { BreakerState } from './redis/circuit-breaker.js'
