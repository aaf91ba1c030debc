import { invalidOption } from '../core/errors.js'
import { isValidNamespace } from '../core/keys.js'
import { type Logger, resolveLogger } from '../core/logger.js'
import {
  fraction,
  loaderTuning,
  plainObject,
  positiveInteger,
  positiveNumber,
  rejectUnknownOptions,
} from '../core/validate.js'
import type { RedisClient } from '../redis/scripts.js'

/**
 * What the `redis` option accepts: an ioredis `Redis` or `Cluster` (checked when the cache is created).
 * Declared by shape, not imported from ioredis, so that the published types never name ioredis: an app
 * that runs memory-only, or tRPC without Redis, type-checks without it installed (`skipLibCheck: false`).
 */
export interface RedisClientLike {
  evalsha(...args: never[]): unknown
  duplicate(...args: never[]): unknown
}

export interface CreateCacheOptions {
  /** Prefix of every Redis key and of the bus channel. Letters, digits, `_ . : -`. Default `'loadcache'`. */
  namespace?: string
  /**
   * An ioredis client, `Redis` or `Cluster`. Without it the cache is memory-only (correct within one
   * process). The cache never closes this client; it opens one extra connection (`client.duplicate()`) for
   * the invalidation bus.
   */
  redis?: RedisClientLike
  /** L1, the in-process LRU. `false` disables it (every read goes to Redis). */
  memory?: { max?: number; maxBytes?: number } | false
  /** Default entry TTL in seconds (loaders may override). Default 300. */
  ttl?: number
  /** TTL in seconds of "absent" entries (ids the source did not return). Default 30. */
  negativeTtl?: number
  /**
   * Seconds an expired entry may still be served while one caller refreshes it in the background, and
   * when the source fails (fail-safe). Default 0 (off).
   */
  grace?: number
  /** Random spread added to TTLs, as a fraction (0.1 = up to +10%), so keys written together do not expire together. Default 0.1. */
  jitter?: number
  /** XFetch early refresh: `beta` (1 is the paper's default), or `false` (default) for none. */
  earlyRefresh?: number | false
  /** Largest TTL + grace any entry may have, in seconds (a larger one is an error). Default 86400. */
  maxTtl?: number
  /** Lock TTL in ms: how long a dead lock holder can block others. Fetches should finish well within it. Default 5000. */
  lockTtlMs?: number
  /** Longest a caller waits for another process's fill before fetching itself, in ms. Default: `lockTtlMs`. */
  lockWaitMs?: number
  /** Per-command Redis timeout in ms. Default 250. */
  redisTimeoutMs?: number
  /**
   * The longest, in ms, that this process may serve a value from L1 after another process's invalidation of
   * it resolved, whatever happens to Redis or the network: L1 is used only while the bus has proof (a PING
   * answered on its subscription) that it heard every invalidation up to this long ago. Default 1000.
   */
  maxStalenessMs?: number
  /**
   * Longest a loader's `fetch` may take, in ms; past it the ids fail with `E_FETCH_TIMEOUT` (or get their
   * stale value within grace). Default 0: no limit (your database driver's own timeout applies).
   */
  fetchTimeoutMs?: number
  /** Circuit breaker: consecutive Redis failures that open it (default 5) and ms it stays open (default 5000). */
  breaker?: { failureThreshold?: number; breakDurationMs?: number }
  /** Most invalidations queued while Redis is unreachable, keys and tags each (the oldest go first). Default 10000. */
  maxPendingInvalidations?: number
  /** Default 0 for loaders: maxBatchSize of the per-request DataLoaders (0 = unlimited). */
  maxBatchSize?: number
  /**
   * Values whose serialized form has at least `threshold` bytes (UTF-8) are stored in Redis compressed (raw
   * DEFLATE level 1, base64), when that makes them smaller: less Redis memory and fewer bytes per round
   * trip, for some CPU on each write and each L2 hit. L1 holds values decoded, so an L1 hit never inflates.
   * `false` stores every value as it is. Default `{ threshold: 1024 }`. No effect without `redis`.
   */
  compression?: { threshold?: number } | false
  logger?: Logger
}

export interface ResolvedCacheOptions {
  readonly namespace: string
  readonly redis: RedisClient | undefined
  readonly memory: { readonly max: number; readonly maxBytes: number } | false
  readonly ttl: number
  readonly negativeTtl: number
  readonly grace: number
  readonly jitter: number
  readonly earlyRefresh: number
  readonly maxTtl: number
  readonly lockTtlMs: number
  readonly lockWaitMs: number
  readonly redisTimeoutMs: number
  readonly maxStalenessMs: number
  readonly fetchTimeoutMs: number
  readonly failureThreshold: number
  readonly breakDurationMs: number
  readonly maxPendingInvalidations: number
  readonly maxBatchSize: number
  /** Payloads of at least this many bytes are compressed in Redis; `false`: none. */
  readonly compressAbove: number | false
  readonly logger: Logger
}

/**
 * The default compression threshold, in bytes of serialized value: below it, deflate and base64 save too
 * little to pay for their CPU (see bench/compression-RESULTS.md).
 */
export const DEFAULT_COMPRESSION_THRESHOLD = 1024

/** Every option `createCache` accepts; TypeScript keeps the list complete. */
const CACHE_OPTIONS = Object.keys({
  namespace: true,
  redis: true,
  memory: true,
  ttl: true,
  negativeTtl: true,
  grace: true,
  jitter: true,
  earlyRefresh: true,
  maxTtl: true,
  lockTtlMs: true,
  lockWaitMs: true,
  redisTimeoutMs: true,
  maxStalenessMs: true,
  fetchTimeoutMs: true,
  breaker: true,
  maxPendingInvalidations: true,
  maxBatchSize: true,
  compression: true,
  logger: true,
} satisfies Record<keyof CreateCacheOptions, true>)

/** The shape check of `RedisClientLike`; the rest of ioredis's API is assumed from here on. */
function isRedisClient(value: unknown): value is RedisClient {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { evalsha?: unknown }).evalsha === 'function' &&
    typeof (value as { duplicate?: unknown }).duplicate === 'function'
  )
}

/**
 * Validates every option once, so the hot path never re-checks, and fills in the defaults.
 *
 * @throws LoadCacheTypeError (`E_INVALID_OPTION`) naming the option and value when one is invalid or unknown.
 */
export function resolveCacheOptions(options: CreateCacheOptions = {}): ResolvedCacheOptions {
  rejectUnknownOptions('createCache', plainObject('options', options), CACHE_OPTIONS)
  const namespace = options.namespace ?? 'loadcache'
  if (!isValidNamespace(namespace)) {
    throw invalidOption(
      'namespace',
      namespace,
      'a non-empty string of letters, digits and _ . : - (at most 100)',
    )
  }
  const redis: unknown = options.redis
  if (redis !== undefined && !isRedisClient(redis)) {
    throw invalidOption('redis', redis, 'an ioredis client (new Redis(...) or new Cluster(...))')
  }
  let memory: ResolvedCacheOptions['memory'] = false
  if (options.memory !== false) {
    const m = plainObject('memory', options.memory)
    rejectUnknownOptions('createCache({ memory })', m, ['max', 'maxBytes'])
    memory = {
      max: positiveInteger('memory.max', m.max, 10_000),
      maxBytes: positiveInteger('memory.maxBytes', m.maxBytes, 64 * 1024 * 1024),
    }
  }
  const breaker = plainObject('breaker', options.breaker)
  rejectUnknownOptions('createCache({ breaker })', breaker, ['failureThreshold', 'breakDurationMs'])
  const lockTtlMs = positiveInteger('lockTtlMs', options.lockTtlMs, 5000)
  const maxTtl = positiveNumber('maxTtl', options.maxTtl, 86_400)
  const resolved: ResolvedCacheOptions = {
    namespace,
    redis,
    memory,
    ttl: loaderTuning.ttl('ttl', options.ttl) ?? 300,
    negativeTtl: loaderTuning.negativeTtl('negativeTtl', options.negativeTtl) ?? 30,
    grace: loaderTuning.grace('grace', options.grace) ?? 0,
    jitter: fraction('jitter', options.jitter, 0.1),
    earlyRefresh: loaderTuning.earlyRefresh('earlyRefresh', options.earlyRefresh) ?? 0,
    maxTtl,
    lockTtlMs,
    lockWaitMs: positiveInteger('lockWaitMs', options.lockWaitMs, lockTtlMs),
    redisTimeoutMs: positiveInteger('redisTimeoutMs', options.redisTimeoutMs, 250),
    maxStalenessMs: positiveInteger('maxStalenessMs', options.maxStalenessMs, 1000),
    fetchTimeoutMs: loaderTuning.fetchTimeoutMs('fetchTimeoutMs', options.fetchTimeoutMs) ?? 0,
    failureThreshold: positiveInteger('breaker.failureThreshold', breaker.failureThreshold, 5),
    breakDurationMs: positiveInteger('breaker.breakDurationMs', breaker.breakDurationMs, 5000),
    maxPendingInvalidations: positiveInteger(
      'maxPendingInvalidations',
      options.maxPendingInvalidations,
      10_000,
    ),
    maxBatchSize: loaderTuning.maxBatchSize('maxBatchSize', options.maxBatchSize) ?? 0,
    compressAbove: compressionThreshold(options.compression),
    logger: resolveLogger(options.logger),
  }
  checkTtlBound('ttl', resolved.ttl + resolved.grace, maxTtl)
  return resolved
}

function compressionThreshold(compression: unknown): number | false {
  if (compression === false) return false
  if (
    compression !== undefined &&
    (typeof compression !== 'object' || compression === null || Array.isArray(compression))
  ) {
    throw invalidOption('compression', compression, '{ threshold: bytes } or false')
  }
  const c = plainObject('compression', compression)
  rejectUnknownOptions('createCache({ compression })', c, ['threshold'])
  return positiveInteger('compression.threshold', c.threshold, DEFAULT_COMPRESSION_THRESHOLD)
}

export function checkTtlBound(option: string, ttlPlusGrace: number, maxTtl: number): void {
  if (ttlPlusGrace > maxTtl) {
    throw invalidOption(
      option,
      ttlPlusGrace,
      `at most maxTtl (${maxTtl} s) together with grace; raise the cache's "maxTtl" option`,
    )
  }
}
