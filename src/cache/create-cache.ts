import type DataLoader from 'dataloader'
import { describeValue, invalidArgument, LoadCacheError } from '../core/errors.js'
import type { CacheId } from '../core/keys.js'
import { typeTag } from '../core/tags.js'
import { plainObject, rejectUnknownOptions } from '../core/validate.js'
import { type BatchOptions, CacheEngine, type CacheEvents } from '../engine/engine.js'
import { type CreateCacheOptions, resolveCacheOptions } from '../engine/options.js'
import type { CacheStats } from '../engine/stats.js'
import type { PrimeOutcome, WriteTicket } from '../engine/write-through.js'
import type { LoaderDefinition } from '../loader/define-loader.js'
import { type Binding, CacheLoader } from './cache-loader.js'

// biome-ignore lint/suspicious/noExplicitAny: a definition's `fetch` takes its id type as a parameter, so only `any` accepts every definition.
type AnyDefinition = LoaderDefinition<any, any>

/** The per-request loaders `cache.loaders(defs)` returns: one DataLoader per definition, same property names. */
export type Loaders<Defs extends Record<string, AnyDefinition>> = {
  [P in keyof Defs]: Defs[P] extends LoaderDefinition<infer K, infer V> ? DataLoader<K, V | null> : never
}

/** Options of `cache.prime()`. */
export interface PrimeOptions {
  /** A ticket from `writeTicket()`, taken before the write to the source. Without one nothing is checked. */
  since?: WriteTicket
}

export type { PrimeOutcome, WriteTicket }

/** A shared two-tier cache. Create one per process (per namespace) and call `loaders()` once per request. */
export interface LoadCache {
  /**
   * Creates fresh DataLoaders for one request (never share them across requests or viewers: each memoizes
   * what it loaded). A load whose entry is fresh in L1 is answered at once; the other loads of one tick are
   * batched, and the batch goes through L1, Redis and `fetch`.
   *
   * @throws LoadCacheTypeError (`E_INVALID_OPTION`) when a definition's name already stands for something
   *   else in this cache: another loader with a different `fetch`, a cached GraphQL field or tRPC procedure.
   */
  loaders<Defs extends Record<string, AnyDefinition>>(definitions: Defs): Loaders<Defs>
  /**
   * Evicts entities by id, here, in Redis, and in every process on the bus. Call it after the write to the
   * source has committed. Never rejects for a Redis fault.
   *
   * @returns `true` once Redis has applied it (every process then stops serving the old values within
   *   `maxStalenessMs`), or `false` when Redis could not be reached: the invalidation is queued and replayed
   *   when it can (this process meanwhile reads nothing from Redis), but other processes that still reach
   *   Redis go on serving the old values until it lands or they expire. Always `true` without Redis.
   *
   * @throws LoadCacheTypeError (`E_INVALID_ARGUMENT`) for a name this cache does not know (pass the
   *   definition, or call `cache.loaders()` with it first), and (`E_INVALID_OPTION`) for a definition whose
   *   name another loader of this cache already has; LoadCacheError (`E_CACHE_CLOSED`) once `close()` has
   *   stopped taking writes (so do `invalidateTags`, `invalidateTypes` and `prime`).
   */
  invalidate(loader: AnyDefinition | string, ids: readonly CacheId[]): Promise<boolean>
  /**
   * Write-through: after a write to your source, stores the new values of these ids in L1 and Redis, so the
   * next read of them, in any process, costs no fetch. Each id is evicted everywhere as by `invalidate`,
   * with its entity tag (`User:7`: the GraphQL fields, tRPC procedures and responses built from it); its new
   * value is stored unless an invalidation of its key or tags came after `since` (your ticket, taken with
   * `writeTicket()` before the write): that invalidation may announce a newer write, so the value is left
   * to the next read's fetch instead. Values are what the loader's `fetch` returns for those ids.
   *
   * Never rejects for a Redis fault (the eviction is then queued, as `invalidate`'s, and nothing stored).
   *
   * @example
   * const ticket = await cache.writeTicket()
   * const row = await db.updateUser(id, patch)
   * await cache.prime(user, [[id, row]], { since: ticket })
   *
   * @returns the ids whose new value is stored (`stored`) and every id evicted (`evicted`: all of them).
   * @throws LoadCacheTypeError (`E_INVALID_ARGUMENT`) for entries that are not `[id, value]` pairs, an
   *   `undefined` value or a ticket that is not one.
   */
  prime<K extends CacheId, V>(
    loader: LoaderDefinition<K, V>,
    entries: Iterable<readonly [K, V]>,
    options?: PrimeOptions,
  ): Promise<PrimeOutcome>
  /**
   * The moment before a write to your source, for `prime(…, { since })`: one Redis round trip (none
   * without Redis). A prime given it never stores a value over an invalidation that came after it.
   */
  writeTicket(): Promise<WriteTicket>
  /**
   * Evicts every entry carrying one of these tags: O(1) per tag, however many entries carry it.
   * @returns as `invalidate`: whether Redis applied it (`false`: queued for replay).
   */
  invalidateTags(tags: readonly string[]): Promise<boolean>
  /**
   * Evicts every cached list that can hold entities of these GraphQL types (or tRPC `entity` names), and
   * every cached lookup of them that found nothing: their `Type` tags. What a mutation that creates an
   * entity does for you; call it after writing behind the API's back.
   * @returns as `invalidate`: whether Redis applied it (`false`: queued for replay).
   */
  invalidateTypes(types: readonly string[]): Promise<boolean>
  /** Counters per loader, plus the state of Redis, the bus and L1. */
  stats(): CacheStats
  /** Subscribes to state changes: `breaker`, `bus`, `redisError`, `fetchError`. */
  on<E extends keyof CacheEvents>(event: E, listener: (...args: CacheEvents[E]) => void): LoadCache
  off<E extends keyof CacheEvents>(event: E, listener: (...args: CacheEvents[E]) => void): LoadCache
  /**
   * Resolves `true` once the cache may serve from L1: at once without Redis, else once its bus subscription
   * is up (until then every read goes to Redis: correct, but slower). Resolves `false` after `timeoutMs`
   * (default 5000) rather than waiting forever, so a server can start while Redis is down.
   */
  ready(timeoutMs?: number): Promise<boolean>
  /**
   * Waits for the invalidations and primes in flight (and those that start meanwhile), then refuses new
   * ones, replays what Redis has not taken until the queue is empty or `max(1 s, 10 × redisTimeoutMs)` has
   * passed (an error log names what Redis did not confirm), then closes the bus connection and stops the
   * timers. Loads fail with `E_CACHE_CLOSED` from the moment it is called: drain requests first. Every
   * call resolves when the first has finished. The Redis client you passed in is left open: disconnect it
   * after.
   */
  close(): Promise<void>
}

const engines = new WeakMap<LoadCache, CacheEngine>()

/**
 * The per-call options of the loaders one `loaders()` call made (a request state sets `observe`), kept on
 * the loaders object under a symbol: a WeakMap entry per request costs more than the rest of `loaders()`.
 */
const BINDING = Symbol('loadcache.binding')

/**
 * Binds a request's loaders (from `cache.loaders()`) to per-call options: the integrations use it so the
 * entries those loaders serve count as dependencies of the request's response. For this package only.
 */
export function bindLoaders(loaders: object, options: BatchOptions): void {
  const binding = (loaders as { [BINDING]?: Binding })[BINDING]
  if (binding !== undefined) binding.options = options
}

/** The engine behind a cache, for the integrations in this package (GraphQL, tRPC); not public API. */
export function engineOf(cache: LoadCache): CacheEngine {
  const engine = engines.get(cache)
  if (engine === undefined)
    throw invalidArgument('cache', `expected a cache made by createCache(), got ${describeValue(cache)}`)
  return engine
}

function isDefinition(value: unknown): value is AnyDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { name?: unknown }).name === 'string' &&
    typeof (value as { fetch?: unknown }).fetch === 'function'
  )
}

/**
 * Creates a cache. Without `redis` it is memory-only (correct within one process); with an ioredis client it
 * is two-tier and shares entries, locks and invalidations with every process using the same namespace.
 *
 * @throws LoadCacheTypeError (a TypeError, `E_INVALID_OPTION`) naming the option and value when an option is
 *   invalid or unknown.
 */
export function createCache(options: CreateCacheOptions = {}): LoadCache {
  const engine = new CacheEngine(resolveCacheOptions(options))
  let closed = false

  const cache: LoadCache = {
    loaders(definitions) {
      if (closed) throw new LoadCacheError('E_CACHE_CLOSED', 'loaders() called on a closed cache')
      const binding: Binding = { options: undefined }
      const loaders: Record<string, DataLoader<CacheId, unknown>> & { [BINDING]?: Binding } = {}
      for (const property in definitions) {
        const def = definitions[property]
        if (typeof def !== 'object' || def === null || typeof def.name !== 'string') {
          throw invalidArgument(
            'loaders(definitions)',
            `definitions.${property} must be a loader definition from defineLoader(), got ${describeValue(def)}`,
          )
        }
        const runtime = engine.runtime(def)
        const maxBatchSize = def.maxBatchSize ?? engine.options.maxBatchSize
        loaders[property] = new CacheLoader(engine, runtime, binding, maxBatchSize)
      }
      loaders[BINDING] = binding
      return loaders as Loaders<typeof definitions>
    },
    async invalidate(loader, ids) {
      if (!Array.isArray(ids)) throw invalidArgument('invalidate(loader, ids)', 'ids must be an array')
      let name: string
      if (typeof loader === 'string') {
        // A misspelt name would evict nothing, silently: only names this cache has seen are accepted.
        if (!engine.knowsLoader(loader)) {
          throw invalidArgument(
            'invalidate(loader, ids)',
            `this cache knows no loader named ${JSON.stringify(loader)}: pass the loader definition itself (cache.invalidate(user, ids)), or register it first with cache.loaders({ user })`,
          )
        }
        name = loader
      } else if (isDefinition(loader)) {
        name = engine.runtime(loader).def.name
      } else {
        throw invalidArgument('invalidate(loader, ids)', 'loader must be a loader definition or its name')
      }
      return engine.invalidate(engine.entryKeysOf(name, ids), [])
    },
    async prime(loader, entries, options) {
      if (!isDefinition(loader)) {
        throw invalidArgument(
          'prime(loader, entries)',
          'loader must be a loader definition (from defineLoader)',
        )
      }
      const list =
        entries === null || typeof entries !== 'object' ? undefined : [...(entries as Iterable<unknown>)]
      if (list === undefined || list.some((pair) => !Array.isArray(pair) || pair.length !== 2)) {
        throw invalidArgument(
          'prime(loader, entries)',
          'entries must be [id, value] pairs, e.g. [[id, row]] or a Map of id to value',
        )
      }
      if (options !== undefined) rejectUnknownOptions('prime', plainObject('options', options), ['since'])
      const since = options?.since
      if (since !== undefined && !engine.issuedTicket(since)) {
        throw invalidArgument('prime(…, { since })', "since must be a ticket from this cache's writeTicket()")
      }
      const runtime = engine.runtime(loader as AnyDefinition)
      return engine.prime(runtime, list as [CacheId, unknown][], since)
    },
    writeTicket: () => engine.writeTicket(),
    async invalidateTags(tags) {
      if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string')) {
        throw invalidArgument('invalidateTags(tags)', 'tags must be an array of strings')
      }
      return engine.invalidate([], tags)
    },
    async invalidateTypes(types) {
      if (!Array.isArray(types) || types.some((type) => typeof type !== 'string' || type === '')) {
        throw invalidArgument('invalidateTypes(types)', 'types must be an array of type names')
      }
      return engine.invalidate([], types.map(typeTag))
    },
    stats: () => engine.stats(),
    ready(timeoutMs = 5000) {
      if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
        throw invalidArgument(
          'ready(timeoutMs)',
          `timeoutMs must be a number of milliseconds ≥ 0, got ${describeValue(timeoutMs)}`,
        )
      }
      const stats = engine.stats()
      if (!stats.redis.enabled || stats.redis.busConnected) return Promise.resolve(true)
      return new Promise((resolve) => {
        const onBus = (state: 'up' | 'down') => {
          if (state === 'up') settle(true)
        }
        const timer = setTimeout(() => settle(false), timeoutMs)
        const settle = (up: boolean) => {
          clearTimeout(timer)
          engine.off('bus', onBus)
          resolve(up)
        }
        engine.on('bus', onBus)
      })
    },
    on(event, listener) {
      engine.on(event, listener as never)
      return cache
    },
    off(event, listener) {
      engine.off(event, listener as never)
      return cache
    },
    async close() {
      closed = true
      await engine.close()
    },
  }
  engines.set(cache, engine)
  return cache
}
