import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { CacheEntry } from '../core/entry.js'
import { LoadCacheError } from '../core/errors.js'
import {
  type CacheId,
  decodeSegment,
  encodeSegment,
  encodeTags,
  KeySpace,
  keyTag,
  normalizeId,
} from '../core/keys.js'
import { withBuckets } from '../core/tags.js'
import { Bus } from '../invalidation/bus.js'
import { InvalidationLedger } from '../invalidation/ledger.js'
import { alignFetchResult, type LoaderDefinition } from '../loader/define-loader.js'
import { type MemoryHit, type MemoryShelf, MemoryTier } from '../memory/memory-tier.js'
import type { BreakerState } from '../redis/circuit-breaker.js'
import { RedisTier } from '../redis/redis-tier.js'
import { FetchRunner } from './fetch-runner.js'
import { FillLoop } from './fill.js'
import { FillNotices } from './fill-notices.js'
import { Flight, NOT_SHARED } from './flight.js'
import { checkOneMeaning } from './loader-names.js'
import { checkTtlBound, type ResolvedCacheOptions } from './options.js'
import type { BatchOptions, BatchSource, EngineParts, LoaderRuntime } from './runtime.js'
import {
  type CacheStats,
  emptyLoaderStats,
  emptyResponseStats,
  type LoaderStats,
  type ResponseStats,
} from './stats.js'
import type { EngineTracing } from './tracing.js'
import { type PrimeOutcome, WriteThrough, type WriteTicket } from './write-through.js'

export type { BatchOptions, BatchSource, LoaderRuntime } from './runtime.js'

/** What `CacheEngine#hitNow` returns when the id is not a fresh L1 hit (undefined and null are values). */
export const NO_HIT: unique symbol = Symbol('loadcache.noHit')

/** Events a cache emits; each state change is also logged. */
export interface CacheEvents {
  /** The Redis circuit breaker changed state. */
  breaker: [state: BreakerState, previous: BreakerState]
  /** The invalidation bus subscription went up or down. */
  bus: [state: 'up' | 'down']
  /** A Redis operation failed or timed out (the load carried on without Redis). */
  redisError: [error: unknown, operation: string]
  /** A fetch failed for some ids (they were not cached). */
  fetchError: [loader: string, error: Error]
  /**
   * Entries were evicted from this process: by an invalidation made here (`local`, once Redis applied it,
   * or queued it), or one heard on the bus from another process (`remote`). `keys` are entry keys; `tags`
   * are the tags as given to `invalidateTags`.
   */
  evict: [event: EvictEvent]
  /** A loader's (or cached field's) `fetch` ran: how many ids, how long, how many failed. */
  fetch: [event: FetchEvent]
  /** A Redis round trip finished (or failed, or timed out: then `error` is set). */
  redis: [event: RedisEvent]
  /** Ids answered from L1 or Redis. Emitted only while someone listens (it costs a call per id). */
  hit: [event: { readonly loader: string; readonly key: string; readonly tier: 'l1' | 'l2' }]
  /** Ids found in neither tier (each is then fetched, joined or waited for). Emitted only while listened to. */
  miss: [event: { readonly loader: string; readonly key: string }]
}

export interface FetchEvent {
  readonly loader: string
  readonly ids: number
  readonly durationMs: number
  /** Ids the fetch failed for (an Error slot, or all of them when it threw or timed out). */
  readonly failed: number
}

export interface RedisEvent {
  /** `read`, `write`, `invalidate`, `read-tags`, `discard`, `probe`… */
  readonly operation: string
  readonly durationMs: number
  readonly error?: unknown
}

export interface EvictEvent {
  readonly source: 'local' | 'remote'
  readonly keys: readonly string[]
  readonly tags: readonly string[]
}

/** Ids filled together at most: the largest batch whose read, fetch and write fit well within a lock TTL. */
const MAX_FILL = 10_000

/** Operation names the response counters are kept for; the rest are counted under OTHER_OPERATIONS. */
const MAX_OPERATIONS = 1000
const OTHER_OPERATIONS = '(other)'

/** Refresh attempts remembered before that memory is reset. */
const MAX_REMEMBERED = 10_000
/** Least time between two background refresh attempts of one key in one process. */
const REFRESH_BACKOFF_MS = 1000

/**
 * The cache behind every per-request loader: L1 (memory) in front of L2 (Redis), the process-wide in-flight
 * map, the fill protocol with Redis locks, and local + remote invalidation.
 *
 * A batch of N ids costs 0 Redis round trips when L1 has them all, 1 when Redis has the rest, and 2 plus one
 * `fetch` call for misses (read-or-lock, then write-and-unlock). Redis faults turn into misses.
 */
export class CacheEngine extends EventEmitter<CacheEvents> {
  readonly options: ResolvedCacheOptions
  readonly keys: KeySpace
  readonly instanceId = randomBytes(9).toString('base64url')
  readonly #memory: MemoryTier | undefined
  readonly #redis: RedisTier | undefined
  readonly #bus: Bus | undefined
  readonly #notices = new FillNotices()
  readonly #inFlight = new Map<string, Flight>()
  readonly #runtimes = new WeakMap<LoaderDefinition<CacheId, unknown>, LoaderRuntime>()
  readonly #runtimesByName = new Map<string, LoaderRuntime>()
  readonly #ledger = new InvalidationLedger()
  readonly #refreshNotBefore = new Map<string, number>()
  readonly #responseStats = new Map<string, ResponseStats>()
  readonly #responseKeys = new Map<string, string>()
  readonly #fills: FillLoop
  readonly #writeThrough: WriteThrough
  #tokens = 0
  #redisErrors = 0
  #l1Bypassed = 0
  /** Set by close(): from then on the cache is closed (loads fail). */
  #closing: Promise<void> | undefined
  /** Set by close() once the writes in flight have settled: invalidations and primes are refused. */
  #writesRefused = false
  /** Invalidations and primes in flight (see #tracked). */
  readonly #writes = new Set<Promise<unknown>>()
  /**
   * Set by the response tier: a request's responses depend on what its loaders serve, observed through
   * the options its request state binds to them. A loader not bound yet (made by a context factory that
   * loads before the integration adopts it) then sends its hits through the batch, which reads the
   * binding at dispatch, instead of answering them in `load()` unobserved.
   */
  loadersObserved = false
  #tracing: EngineTracing | undefined

  constructor(options: ResolvedCacheOptions) {
    super()
    this.options = options
    this.keys = new KeySpace(options.namespace)
    const { logger } = options
    if (options.memory) this.#memory = new MemoryTier(options.memory)
    const client = options.redis
    if (client) {
      // The bus first: the Redis tier publishes through it on Redis Cluster.
      const bus = new Bus(client, {
        channel: this.keys.channel,
        instanceId: this.instanceId,
        maxStalenessMs: options.maxStalenessMs,
        logger,
        handlers: {
          onInvalidate: (keys, tags) => {
            this.#evictLocally(keys, tags)
            this.#reportEviction('remote', keys, tags)
          },
          onFillNotice: (keys) => this.#notices.notify(keys),
          onUp: () => {
            this.#memory?.clear()
            this.#emitSafely('bus', 'up')
          },
          onDown: () => {
            this.#memory?.clear()
            this.#emitSafely('bus', 'down')
          },
        },
      })
      this.#bus = bus
      this.#redis = new RedisTier({
        client,
        keys: this.keys,
        instanceId: this.instanceId,
        timeoutMs: options.redisTimeoutMs,
        lockTtlMs: options.lockTtlMs,
        // A version set by an invalidation that no stored entry carries must outlive the fills in flight
        // that read the clock before it (they write within lockTtlMs). Versions that entries carry get
        // their TTL from those entries' writes (tagMarginMs longer than each).
        tagTtlMs: options.lockTtlMs + 60_000,
        tagMarginMs: options.lockTtlMs + 10_000,
        failureThreshold: options.failureThreshold,
        breakDurationMs: options.breakDurationMs,
        maxPendingInvalidations: options.maxPendingInvalidations,
        logger,
        publish: (message) => bus.publish(message),
        onBreakerChange: (state, previous, cause) => {
          // L1 cannot hear invalidations while Redis is unreachable, and entries may have been invalidated
          // during the outage: start clean on both edges.
          this.#memory?.clear()
          if (state === 'closed') logger.info?.(`[loadcache] [redis] circuit breaker ${previous} -> closed`)
          else
            logger.warn(
              `[loadcache] [redis] circuit breaker ${previous} -> ${state}${cause ? ` (last failure: ${cause})` : ''}; loads go to the source until a probe succeeds`,
            )
          this.#emitSafely('breaker', state, previous)
        },
        onCommand: (operation, durationMs, error) => {
          if (this.listenerCount('redis') > 0) this.#emitSafely('redis', { operation, durationMs, error })
        },
        onError: (error, operation) => {
          this.#redisErrors++
          logger.debug?.(`[loadcache] [redis] ${operation} failed: ${(error as Error)?.message ?? error}`)
          this.#emitSafely('redisError', error, operation)
        },
      })
    }
    void this.#redis?.checkEvictionPolicy()
    const parts: EngineParts = {
      options,
      memoryIfUsable: () => this.#memoryIfUsable(),
      mayKeepInMemory: (flight, entry) => this.#mayKeepInMemory(flight, entry),
      seq: () => this.#ledger.seq,
      unchangedSince: (seq, key, tags) => this.#ledger.unchangedSince(seq, key, tags),
      invalidatedSince: (flight) => flight.dirty || this.#ledger.seq > flight.startSeq,
      serve: (rt, key, id, entry, now) => this.#serve(rt, key, id, entry, now),
      reportFetchError: (loader, error) => this.#emitSafely('fetchError', loader, error),
      reportFetch: (event) => {
        if (this.listenerCount('fetch') > 0) this.#emitSafely('fetch', event)
      },
      reportHit: (loader, key, tier) => {
        if (this.listenerCount('hit') > 0) this.#emitSafely('hit', { loader, key, tier })
      },
      reportMiss: (loader, key) => {
        if (this.listenerCount('miss') > 0) this.#emitSafely('miss', { loader, key })
      },
      tracing: () => this.#tracing,
    }
    const runner = new FetchRunner(parts, this.#redis)
    this.#writeThrough = new WriteThrough({
      redis: this.#redis,
      runner,
      memoryIfUsable: () => this.#memoryIfUsable(),
      seq: parts.seq,
      unchangedSince: parts.unchangedSince,
      evictLocally: (keys, tags) => this.#evictLocally(keys, tags),
      reportEviction: (keys, tags) => this.#reportEviction('local', keys, tags),
      invalidateRemotely: (keys, tags) => this.#redis!.invalidate(keys, tags),
    })
    this.#fills = new FillLoop({
      parts,
      redis: this.#redis,
      runner,
      notices: this.#notices,
      busConnected: () => this.#bus?.connected === true,
      nextToken: () => `${this.instanceId}.${++this.#tokens}`,
    })
  }

  // ---------------------------------------------------------------------------------------------------
  // Loading

  /**
   * Resolves a definition against this cache's defaults, once, and registers its name.
   *
   * @throws LoadCacheTypeError (`E_INVALID_OPTION`) when its ttl exceeds `maxTtl`, or when the name already
   *   stands for something else in this cache (see checkOneMeaning).
   */
  runtime(def: LoaderDefinition<CacheId, unknown>): LoaderRuntime {
    let runtime = this.#runtimes.get(def)
    if (runtime !== undefined) return runtime
    const o = this.options
    const ttl = def.ttl ?? o.ttl
    const grace = def.grace ?? o.grace
    checkTtlBound(`loader "${def.name}": ttl`, ttl + grace, o.maxTtl)
    const existing = this.#runtimesByName.get(def.name)
    if (existing !== undefined) checkOneMeaning(existing.def, def)
    const earlyRefresh = def.earlyRefresh ?? o.earlyRefresh
    const keyPrefix = this.keys.entryKeyPrefix(def.name)
    runtime = {
      def,
      keyPrefix,
      keyOf: entryKeyCache(keyPrefix, def.name),
      shelf: this.#memory?.shelf(keyPrefix),
      ttlMs: ttl * 1000,
      negativeTtlMs: (def.negativeTtl ?? o.negativeTtl) * 1000,
      graceMs: grace * 1000,
      earlyRefresh,
      fetchTimeoutMs: def.fetchTimeoutMs ?? o.fetchTimeoutMs,
      // Definitions allowed to share a name share cache keys, so they share stats too.
      stats: existing?.stats ?? emptyLoaderStats(),
      source: loaderSource(def),
    }
    this.#runtimes.set(def, runtime)
    this.#runtimesByName.set(def.name, runtime)
    return runtime
  }

  /**
   * The batch function behind every per-request DataLoader, and the per-request entry point of the
   * integrations (which pass their request's `source` and an `observe` callback). Never rejects: failures
   * are per-id `Error`s.
   */
  async loadBatch(rt: LoaderRuntime, ids: readonly CacheId[], options?: BatchOptions): Promise<unknown[]> {
    if (this.#closing !== undefined)
      throw new LoadCacheError('E_CACHE_CLOSED', 'the cache was closed; create a new one')
    const now = Date.now()
    const results: unknown[] = new Array(ids.length)
    const memory = this.#memoryIfUsable(now)
    if (memory === undefined && this.#memory !== undefined) this.#l1Bypassed++
    const observe = options?.observe
    const hitListeners = this.listenerCount('hit') > 0
    let own: Flight[] | undefined
    let joined: Promise<void>[] | undefined
    const shelf = memory === undefined ? undefined : rt.shelf
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!
      // L1 is looked up by id, before any key is built: the common case costs one Map lookup.
      const hit = shelf === undefined ? undefined : lookupId(memory!, shelf, id, now)
      let key: string
      if (hit !== undefined) {
        key = hit.key
      } else {
        try {
          key = rt.keyOf(id)
        } catch (error) {
          results[i] = error
          continue
        }
      }
      if (hit !== undefined) {
        this.#recordHit(rt, hit, hitListeners, observe)
        // The common case inline: fresh, and no early refresh to draw for.
        results[i] =
          now < hit.freshUntil && rt.earlyRefresh === 0 ? hit.value : this.#serve(rt, key, id, hit.entry, now)
        continue
      }
      let flight = this.#inFlight.get(key)
      // A fill older than the lock TTL is presumed stuck (a fetch that never resolves): new callers start
      // their own instead of hanging with it.
      const mine = flight === undefined || now - flight.startedAt > this.options.lockTtlMs
      if (mine) {
        flight = this.#startFlight(key, id, options?.startSeq)
        own ??= []
        own.push(flight)
      } else {
        rt.stats.joined++
      }
      const settled = flight!
      joined ??= []
      joined.push(
        settled.promise.then((value) => {
          results[i] = value === NOT_SHARED && mine ? settled.ownerResult : value
          observe?.(settled.entry, key, settled.overtaken)
        }),
      )
    }
    if (own !== undefined) {
      // A fill's locks must not expire before it writes; a batch of 100,000 ids would take longer than
      // lockTtlMs to read, fetch and write. So huge batches fill in waves, each with its own fetch.
      const source = options?.source ?? rt.source
      for (let start = 0; start < own.length; start += MAX_FILL) {
        await this.#fills.fill(rt, own.slice(start, start + MAX_FILL), 'lock', source)
      }
    }
    if (joined !== undefined) await Promise.all(joined)
    return results
  }

  /**
   * The value of `id` if L1 holds a fresh entry for it that needs nothing else (no early refresh to draw
   * for, L1 usable, the cache open): loadBatch's hit path for one id, taken by a per-request loader before
   * it queues the id for a batch. Otherwise NO_HIT, and the id goes through loadBatch as before.
   *
   * Why not leave hits to the batch: every id a DataLoader queues allocates a callback record that lives
   * until the batch resolves. Once misses have kept those records alive across Redis round trips, V8
   * allocates them in the old generation from then on (allocation-site pretenuring), and every hit after
   * that pays for them in scavenges and full collections: 2.5x a plain DataLoader over a Map on pure hits
   * with Redis configured, against 1.5x memory-only (bench/RESULTS.md, "Hot path in the suite").
   */
  hitNow(rt: LoaderRuntime, id: CacheId, options?: BatchOptions): unknown {
    if (this.#closing !== undefined || rt.earlyRefresh !== 0) return NO_HIT
    // One clock reading for the bus lease and the entry's freshness, and one per hit, never shared between
    // hits: user code may run for any time between two loads.
    const now = Date.now()
    const memory = this.#memoryIfUsable(now)
    const shelf = rt.shelf
    if (memory === undefined || shelf === undefined) return NO_HIT
    const hit = lookupId(memory, shelf, id, now)
    if (hit === undefined || now >= hit.freshUntil) return NO_HIT
    this.#recordHit(rt, hit, this.listenerCount('hit') > 0, options?.observe)
    return hit.value
  }

  #recordHit(
    rt: LoaderRuntime,
    hit: MemoryHit,
    hitListeners: boolean,
    observe: BatchOptions['observe'],
  ): void {
    rt.stats.l1Hits++
    if (hitListeners) this.#emitSafely('hit', { loader: rt.def.name, key: hit.key, tier: 'l1' })
    observe?.(hit.entry, hit.key)
  }

  /** Returns an entry's value, starting a background refresh when it is stale (grace) or due early (XFetch). */
  #serve(rt: LoaderRuntime, key: string, id: CacheId, entry: CacheEntry, now: number): unknown {
    if (now >= entry.freshUntil) {
      rt.stats.staleServed++
      this.#refreshInBackground(rt, key, id, entry, now)
    } else if (rt.earlyRefresh > 0) {
      // XFetch (Vattani et al., VLDB 2015): refresh with a probability that rises as expiry nears, scaled
      // by how long the last fetch took, so one caller refreshes before the entry expires for everyone.
      // -ln(Math.random()) never exceeds ~37, so far from expiry the draw cannot fire: skip it.
      const scale = entry.fetchMs * rt.earlyRefresh
      if (entry.freshUntil - now < 40 * scale && now - scale * Math.log(Math.random()) >= entry.freshUntil) {
        this.#refreshInBackground(rt, key, id, entry, now)
      }
    }
    return entry.value
  }

  #refreshInBackground(rt: LoaderRuntime, key: string, id: CacheId, entry: CacheEntry, now: number): void {
    // Without grace or early refresh an entry is past freshUntil only in the moment before it expires:
    // refreshing it then gains nothing (and a request's source must not run after its request).
    if ((rt.graceMs === 0 && rt.earlyRefresh === 0) || this.#inFlight.has(key) || this.#closing !== undefined)
      return
    // One attempt per key per second: while another process holds the refresh lock, every stale hit here
    // would otherwise cost a Redis round trip.
    if ((this.#refreshNotBefore.get(key) ?? 0) > now) return
    if (this.#refreshNotBefore.size >= MAX_REMEMBERED) this.#refreshNotBefore.clear()
    this.#refreshNotBefore.set(key, now + REFRESH_BACKOFF_MS)
    rt.stats.refreshes++
    const flight = this.#startFlight(key, id)
    flight.stale = entry
    void this.#fills.fill(rt, [flight], 'refresh', rt.source)
  }

  #startFlight(key: string, id: CacheId, startSeq = this.#ledger.seq): Flight {
    const flight = new Flight(key, id, Math.min(startSeq, this.#ledger.seq), Date.now(), (done) => {
      if (this.#inFlight.get(done.key) === done) this.#inFlight.delete(done.key)
    })
    this.#inFlight.set(key, flight)
    return flight
  }

  /**
   * Whether a value this flight obtained may go into L1. Not if its key was invalidated while the flight
   * ran, nor if one of its tags was (tags are known only after the fetch, so the ledger compares the
   * sequence number of each tag's last invalidation with the flight's start). By key too: a tag
   * invalidation drops every flight from the in-flight map, after which a key invalidation can no longer
   * mark this flight dirty.
   */
  #mayKeepInMemory(
    flight: { readonly key: string; readonly startSeq: number; dirty: boolean },
    entry: CacheEntry,
  ): boolean {
    return !flight.dirty && this.#ledger.unchangedSince(flight.startSeq, flight.key, entry.tags)
  }

  /**
   * L1, when it may be used: always without Redis; with Redis only while the bus holds its lease (it has
   * heard every invalidation up to maxStalenessMs ago) and the breaker is closed.
   */
  #memoryIfUsable(now = Date.now()): MemoryTier | undefined {
    if (this.#redis === undefined) return this.#memory
    if (this.#redis.breakerState !== 'closed' || this.#bus?.leased(now) !== true) return undefined
    return this.#memory
  }

  // ---------------------------------------------------------------------------------------------------
  // Invalidation

  /**
   * Evicts entity keys and tags everywhere: here, in Redis, and (through the bus) in every other process.
   * Each key's own tag (`keyTag`) is bumped with it, so whatever was built from the entry (a cached
   * response) goes too. Resolves `false` when Redis could not apply it (queued for replay).
   *
   * @throws LoadCacheError (E_CACHE_CLOSED) once close() has stopped taking writes: one queued then could
   *   no longer be replayed, so it is refused rather than lost silently. (While close() waits for the
   *   writes in flight, new ones are still taken: a mutation finishing during a shutdown must not fail
   *   after its write to the source.)
   */
  invalidate(entryKeys: readonly string[], tags: readonly string[]): Promise<boolean> {
    if (this.#writesRefused) return Promise.reject(closedError('invalidate'))
    return this.#tracked(this.#invalidate(entryKeys, tags))
  }

  async #invalidate(entryKeys: readonly string[], tags: readonly string[]): Promise<boolean> {
    // Each tag's bucket moves with it (see bucketTag): a response too big to carry every tag carries those.
    const encodedTags = encodeTags(
      withBuckets(entryKeys.length === 0 ? tags : [...tags, ...entryKeys.map(keyTag)]),
    )
    this.#evictLocally(entryKeys, encodedTags)
    if (this.#redis === undefined) {
      this.#reportEviction('local', entryKeys, encodedTags)
      return true
    }
    const applied = await this.#redis.invalidate(entryKeys, encodedTags)
    // Again, now that Redis has applied it: a load that read Redis between the first eviction and the
    // invalidation may have put the old value back into L1.
    this.#evictLocally(entryKeys, encodedTags)
    this.#reportEviction('local', entryKeys, encodedTags)
    return applied
  }

  /** A write ticket: the moment before a write to the source of truth (see WriteThrough). */
  writeTicket(): Promise<WriteTicket> {
    if (this.#closing !== undefined)
      throw new LoadCacheError('E_CACHE_CLOSED', 'the cache was closed; create a new one')
    return this.#writeThrough.ticket()
  }

  /** Whether this object was the value of a prime of this cache (see WriteThrough#primed). */
  wasPrimed(value: unknown): boolean {
    return this.#writeThrough.primed(value)
  }

  /** Whether this cache issued the ticket (a ticket of another cache reads another clock). */
  issuedTicket(ticket: unknown): ticket is WriteTicket {
    return this.#writeThrough.issued(ticket)
  }

  /** Write-through: evicts these ids everywhere and stores their new values (see WriteThrough). */
  prime(
    rt: LoaderRuntime,
    entries: readonly (readonly [CacheId, unknown])[],
    since: WriteTicket | undefined,
  ): Promise<PrimeOutcome> {
    if (this.#writesRefused) throw closedError('prime')
    return this.#tracked(this.#writeThrough.prime(rt, entries, since))
  }

  /** Remembers a write (an invalidation or a prime) until it settles: close() waits for those in flight. */
  #tracked<T>(write: Promise<T>): Promise<T> {
    this.#writes.add(write)
    const forget = () => this.#writes.delete(write)
    write.then(forget, forget)
    return write
  }

  #reportEviction(source: 'local' | 'remote', keys: readonly string[], encodedTags: readonly string[]): void {
    if (this.listenerCount('evict') === 0) return
    this.#emitSafely('evict', { source, keys, tags: encodedTags.map(decodeSegment) })
  }

  /** The loader definitions this cache knows whose `entity` is this type (for priming what a mutation returned). */
  loadersOfEntity(type: string): LoaderDefinition<CacheId, unknown>[] {
    return [...this.#runtimesByName.values()].filter((rt) => rt.def.entity === type).map((rt) => rt.def)
  }

  /** Whether a loader (or cached field, procedure) of this name was used or registered in this cache. */
  knowsLoader(name: string): boolean {
    return this.#runtimesByName.has(name)
  }

  entryKeysOf(loaderName: string, ids: readonly CacheId[]): string[] {
    return ids.map((id) => this.keys.entryKey(loaderName, normalizeId(id, loaderName)))
  }

  #evictLocally(entryKeys: readonly string[], encodedTags: readonly string[]): void {
    this.#ledger.record(entryKeys, encodedTags)
    for (const key of entryKeys) {
      this.#memory?.delete(key)
      this.#refreshNotBefore.delete(key)
      const flight = this.#inFlight.get(key)
      if (flight !== undefined) {
        flight.dirty = true
        this.#inFlight.delete(key)
      }
    }
    if (encodedTags.length === 0) return
    const evicted = this.#memory?.deleteTagged(encodedTags) ?? []
    for (const key of evicted) {
      const operationName = this.#responseKeys.get(key)
      if (operationName === undefined) continue
      this.#responseKeys.delete(key)
      this.responseStats(operationName).evictions++
    }
    // Any running fill may turn out to carry one of these tags (tags are known only after the fetch), so no
    // new caller may join one: they start fresh fills. The running ones still settle their own callers.
    this.#inFlight.clear()
  }

  /** Emits an event; a throwing listener is reported to the logger and does not fail the load. */
  #emitSafely<E extends keyof CacheEvents>(event: E, ...args: CacheEvents[E]): void {
    try {
      ;(this.emit as (event: string, ...rest: unknown[]) => boolean)(event, ...args)
    } catch (error) {
      this.options.logger.error(
        `[loadcache] a "${event}" listener threw: ${(error as Error)?.message ?? error}`,
      )
    }
  }

  // ---------------------------------------------------------------------------------------------------

  /** The invalidation sequence number now: a fill that passes it as `startSeq` is checked against every later invalidation. */
  get seq(): number {
    return this.#ledger.seq
  }

  /** The response tier's counters of one operation name, created on first use. */
  responseStats(operationName: string): ResponseStats {
    // Clients choose operation names: past MAX_OPERATIONS names, the rest are counted together.
    const name =
      this.#responseStats.has(operationName) || this.#responseStats.size < MAX_OPERATIONS
        ? operationName
        : OTHER_OPERATIONS
    let stats = this.#responseStats.get(name)
    if (stats === undefined) {
      stats = emptyResponseStats()
      this.#responseStats.set(name, stats)
    }
    return stats
  }

  /** Remembers which operation a response entry in L1 belongs to, so its eviction is counted for it. */
  trackResponse(entryKey: string, operationName: string): void {
    if (this.#responseKeys.size >= MAX_REMEMBERED) this.#responseKeys.clear()
    this.#responseKeys.set(entryKey, operationName)
  }

  stats(): CacheStats {
    const loaders: Record<string, LoaderStats> = {}
    for (const [name, runtime] of this.#runtimesByName) loaders[name] = { ...runtime.stats }
    const responses: Record<string, ResponseStats> = {}
    for (const [name, stats] of this.#responseStats) responses[name] = { ...stats }
    return {
      loaders,
      responses,
      redis: {
        enabled: this.#redis !== undefined,
        breaker: this.#redis?.breakerState ?? 'disabled',
        errors: this.#redisErrors,
        busConnected: this.#bus?.connected ?? false,
        pendingInvalidations: this.#redis?.pendingInvalidations ?? 0,
      },
      memory: { entries: this.#memory?.size ?? 0, bypassed: this.#l1Bypassed },
    }
  }

  /** The tracer wrapping fetches and Redis round trips (loadcache/otel), if any. */
  get tracing(): EngineTracing | undefined {
    return this.#tracing
  }

  /**
   * Installs (or, with undefined, removes) the tracer that wraps every fetch and Redis round trip. One at a
   * time: the integration that installs it checks that none is installed.
   */
  set tracing(tracing: EngineTracing | undefined) {
    this.#tracing = tracing
    if (this.#redis !== undefined) this.#redis.tracer = tracing?.redis
  }

  /** Whether L1 is in use right now (false while the bus is down or the breaker open). */
  get memoryInUse(): boolean {
    return this.#memoryIfUsable() !== undefined
  }

  /**
   * Waits for the invalidations and primes in flight (and those that start meanwhile), then refuses new
   * ones, gives what Redis has not taken a last try (see InvalidationWriter.close), and closes the bus.
   * Every call gets the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      while (this.#writes.size > 0) await Promise.allSettled(this.#writes)
      // In the same turn as the check above: no write can start between them.
      this.#writesRefused = true
      await this.#redis?.close()
      await this.#bus?.close()
    })()
    return this.#closing
  }
}

function closedError(operation: string): LoadCacheError {
  return new LoadCacheError(
    'E_CACHE_CLOSED',
    `${operation} on a closed cache: Redis would not get it, so it is refused. Call it before cache.close()`,
  )
}

/** A loader's own source: its definition's `fetch` (result aligned with the ids) and `tags`. */
function loaderSource(def: LoaderDefinition<CacheId, unknown>): BatchSource {
  const tags = def.tags
  return {
    fetch: async (ids) => alignFetchResult(def.name, ids, await def.fetch(ids)),
    tags: tags === undefined ? () => [] : (id, value) => tags(id, value),
  }
}

/** Entry keys remembered per loader (the hot path would otherwise escape and concatenate every id anew). */
const MAX_REMEMBERED_KEYS = 50_000

/**
 * The entry key of an id, remembered: building it (normalize, escape, concatenate) costs more than the L1
 * lookup it serves. Bounded: past MAX_REMEMBERED_KEYS ids the memory is reset.
 *
 * @throws LoadCacheTypeError (E_INVALID_ID) for an id that is not a string or a finite number.
 */
function entryKeyCache(keyPrefix: string, loaderName: string): (id: CacheId) => string {
  const keys = new Map<string, string>()
  return (id) => {
    const normalized = typeof id === 'string' ? id : normalizeId(id, loaderName)
    let key = keys.get(normalized)
    if (key === undefined) {
      key = `${keyPrefix}${encodeSegment(normalizeId(normalized, loaderName))}}`
      if (keys.size >= MAX_REMEMBERED_KEYS) keys.clear()
      keys.set(normalized, key)
    }
    return key
  }
}

/**
 * An id's L1 entry on its loader's shelf (filed under the id as a string, as `normalizeId` gives it):
 * none for an id that is neither a string nor a finite number (the batch rejects those).
 */
function lookupId(memory: MemoryTier, shelf: MemoryShelf, id: CacheId, now: number): MemoryHit | undefined {
  if (typeof id === 'string') return memory.lookup(shelf, id, now)
  return typeof id === 'number' && Number.isFinite(id) ? memory.lookup(shelf, String(id), now) : undefined
}
