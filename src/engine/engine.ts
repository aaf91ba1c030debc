import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { type CacheEntry, decodeEntry, encodeEntry } from '../core/entry.js'
import { LoadCacheError } from '../core/errors.js'
import { type CacheId, encodeSegment, encodeTags, KeySpace, normalizeId } from '../core/keys.js'
import { entityTag } from '../core/tags.js'
import { Bus } from '../invalidation/bus.js'
import { alignFetchResult, type FetchOutcome, type LoaderDefinition } from '../loader/define-loader.js'
import { MemoryTier } from '../memory/memory-tier.js'
import type { BreakerState } from '../redis/circuit-breaker.js'
import { type ReadMode, RedisTier, type WriteItem, type WriteStatus } from '../redis/redis-tier.js'
import { FillNotices } from './fill-notices.js'
import { Flight } from './flight.js'
import { checkTtlBound, type ResolvedCacheOptions } from './options.js'
import { type CacheStats, emptyLoaderStats, type LoaderStats } from './stats.js'

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
}

/** A loader definition with the cache's defaults applied, resolved once per cache. */
export interface LoaderRuntime {
  readonly def: LoaderDefinition<CacheId, unknown>
  /** `<ns>:{<loader>:`: an entry key is this, the encoded id, and `}`. */
  readonly keyPrefix: string
  readonly ttlMs: number
  readonly negativeTtlMs: number
  readonly graceMs: number
  /** XFetch beta; 0 = no early refresh. */
  readonly earlyRefresh: number
  /** 0 = no limit. */
  readonly fetchTimeoutMs: number
  readonly stats: LoaderStats
}

/** Invalidations (keys, tags) and refresh attempts remembered before the memory is reset. */
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
  readonly #tagInvalidatedAt = new Map<string, number>()
  readonly #keyInvalidatedAt = new Map<string, number>()
  readonly #refreshNotBefore = new Map<string, number>()
  #seq = 0
  #invalidationFloor = 0
  #tokens = 0
  #redisErrors = 0
  #closed = false

  constructor(options: ResolvedCacheOptions) {
    super()
    this.options = options
    this.keys = new KeySpace(options.namespace)
    const { logger } = options
    if (options.memory) this.#memory = new MemoryTier(options.memory)
    const client = options.redis
    if (client) {
      this.#redis = new RedisTier({
        client,
        keys: this.keys,
        instanceId: this.instanceId,
        timeoutMs: options.redisTimeoutMs,
        lockTtlMs: options.lockTtlMs,
        // A tag version must outlive every entry written before it and every fill that read the clock
        // before it (fills write within lockTtlMs of reading), or an old entry would pass the check.
        tagTtlMs: Math.ceil(options.maxTtl * (1 + options.jitter) * 1000) + options.lockTtlMs + 60_000,
        failureThreshold: options.failureThreshold,
        breakDurationMs: options.breakDurationMs,
        maxPendingInvalidations: options.maxPendingInvalidations,
        logger,
        onBreakerChange: (state, previous) => {
          // L1 cannot hear invalidations while Redis is unreachable, and entries may have been invalidated
          // during the outage: start clean on both edges.
          this.#memory?.clear()
          const log = state === 'closed' ? logger.info : logger.warn
          log?.(`[loadcache] [redis] circuit breaker ${previous} -> ${state}`)
          this.#emitSafely('breaker', state, previous)
        },
        onError: (error, operation) => {
          this.#redisErrors++
          logger.debug?.(`[loadcache] [redis] ${operation} failed: ${(error as Error)?.message ?? error}`)
          this.#emitSafely('redisError', error, operation)
        },
      })
      this.#bus = new Bus(
        client,
        this.keys.channel,
        this.instanceId,
        {
          onInvalidate: (keys, tags) => this.#evictLocally(keys, tags),
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
        logger,
      )
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Loading

  /** Resolves a definition against this cache's defaults, once. */
  runtime(def: LoaderDefinition<CacheId, unknown>): LoaderRuntime {
    let runtime = this.#runtimes.get(def)
    if (runtime !== undefined) return runtime
    const o = this.options
    const ttl = def.ttl ?? o.ttl
    const grace = def.grace ?? o.grace
    checkTtlBound(`loader "${def.name}": ttl`, ttl + grace, o.maxTtl)
    const existing = this.#runtimesByName.get(def.name)
    const earlyRefresh = def.earlyRefresh ?? o.earlyRefresh
    runtime = {
      def,
      keyPrefix: this.keys.entryKeyPrefix(def.name),
      ttlMs: ttl * 1000,
      negativeTtlMs: (def.negativeTtl ?? o.negativeTtl) * 1000,
      graceMs: grace * 1000,
      earlyRefresh: earlyRefresh === false ? 0 : earlyRefresh,
      fetchTimeoutMs: def.fetchTimeoutMs ?? o.fetchTimeoutMs,
      // Two definitions with one name share cache keys, so they share stats too.
      stats: existing?.stats ?? emptyLoaderStats(),
    }
    this.#runtimes.set(def, runtime)
    this.#runtimesByName.set(def.name, runtime)
    return runtime
  }

  /** The batch function behind every per-request DataLoader. Never rejects: failures are per-id `Error`s. */
  async loadBatch(rt: LoaderRuntime, ids: readonly CacheId[]): Promise<unknown[]> {
    if (this.#closed) throw new LoadCacheError('E_CACHE_CLOSED', 'the cache was closed; create a new one')
    const now = Date.now()
    const results: unknown[] = new Array(ids.length)
    const memory = this.#memoryIfUsable()
    let own: Flight[] | undefined
    let joined: Promise<void>[] | undefined
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!
      let key: string
      try {
        key = `${rt.keyPrefix}${encodeSegment(normalizeId(id, rt.def.name))}}`
      } catch (error) {
        results[i] = error
        continue
      }
      const entry = memory?.get(key, now)
      if (entry !== undefined) {
        rt.stats.l1Hits++
        // The common case inline: fresh, and no early refresh to draw for.
        results[i] =
          now < entry.freshUntil && rt.earlyRefresh === 0 ? entry.value : this.#serve(rt, key, id, entry, now)
        continue
      }
      let flight = this.#inFlight.get(key)
      // A fill older than the lock TTL is presumed stuck (a fetch that never resolves): new callers start
      // their own instead of hanging with it.
      if (flight === undefined || now - flight.startedAt > this.options.lockTtlMs) {
        flight = this.#startFlight(key, id)
        own ??= []
        own.push(flight)
      } else {
        rt.stats.joined++
      }
      joined ??= []
      joined.push(
        flight.promise.then((value) => {
          results[i] = value
        }),
      )
    }
    if (own !== undefined) await this.#fill(rt, own, 'lock')
    if (joined !== undefined) await Promise.all(joined)
    return results
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
    if (this.#inFlight.has(key) || this.#closed) return
    // One attempt per key per second: while another process holds the refresh lock, every stale hit here
    // would otherwise cost a Redis round trip.
    if ((this.#refreshNotBefore.get(key) ?? 0) > now) return
    if (this.#refreshNotBefore.size >= MAX_REMEMBERED) this.#refreshNotBefore.clear()
    this.#refreshNotBefore.set(key, now + REFRESH_BACKOFF_MS)
    rt.stats.refreshes++
    const flight = this.#startFlight(key, id)
    flight.stale = entry
    void this.#fill(rt, [flight], 'refresh')
  }

  #startFlight(key: string, id: CacheId): Flight {
    const flight = new Flight(key, id, this.#seq, Date.now(), (done) => {
      if (this.#inFlight.get(done.key) === done) this.#inFlight.delete(done.key)
    })
    this.#inFlight.set(key, flight)
    return flight
  }

  /**
   * Fills flights this process started: read (or lock) them in Redis in one round trip, fetch what we
   * locked in one call, wait for what others locked. Settles every flight; never rejects.
   */
  async #fill(rt: LoaderRuntime, flights: Flight[], mode: ReadMode): Promise<void> {
    const redis = this.#redis
    const fetches: Promise<void>[] = []
    try {
      if (redis === undefined || !redis.readable) {
        rt.stats.misses += flights.length
        await this.#fetchAndStore(rt, flights, undefined)
        return
      }
      const token = `${this.instanceId}.${++this.#tokens}`
      const deadline = Date.now() + this.options.lockWaitMs
      let pending = flights
      let pass: ReadMode = mode
      let firstPass = true
      while (pending.length > 0) {
        const since = this.#notices.seq
        let read: Awaited<ReturnType<RedisTier['read']>>
        try {
          read = await redis.read(
            pending.map((f) => f.key),
            token,
            pass,
            pass === 'refresh' ? (flights[0]?.stale?.freshUntil ?? 0) : 0,
          )
        } catch {
          // The script may still run after we gave up on it (a timeout), taking locks we will never
          // release: free them (compare-and-delete on our token) so others do not wait out the lock TTL.
          redis.releaseLocks(
            pending.map((f) => f.key),
            token,
          )
          fetches.push(this.#fetchAndStore(rt, pending, undefined))
          return
        }
        const now = Date.now()
        const locked: Flight[] = []
        const busy: Flight[] = []
        const retry: Flight[] = []
        let shortestLockMs = Number.POSITIVE_INFINITY
        for (let j = 0; j < pending.length; j++) {
          const flight = pending[j]!
          const status = read.statuses[j]
          if (status?.kind === 'hit') {
            const entry = decodeEntry(status.raw, rt.def.serializer)
            if (entry !== undefined) {
              rt.stats.l2Hits++
              const memory = this.#memoryIfUsable()
              if (memory !== undefined && this.#mayKeepInMemory(flight, entry))
                memory.set(flight.key, entry, now)
              // Settle first: it leaves the in-flight map, so a refresh that #serve starts is not mistaken
              // for one already running.
              flight.settle(entry.value)
              this.#serve(rt, flight.key, flight.id, entry, now)
              continue
            }
            // Undecodable: remove it, then read it again at once, which takes its lock like any miss.
            rt.stats.corruptEntries++
            redis.discard([flight.key])
            retry.push(flight)
          } else if (status?.kind === 'locked') {
            locked.push(flight)
          } else if (status?.kind === 'busy') {
            busy.push(flight)
            shortestLockMs = Math.min(shortestLockMs, status.lockTtlMs)
          } else if (status?.kind === 'retry') {
            retry.push(flight)
          } else {
            throw new Error(
              `[loadcache] [redis] read script answered ${read.statuses.length} statuses for ${pending.length} keys`,
            )
          }
          if (firstPass && mode !== 'refresh') rt.stats.misses++
        }
        if (locked.length > 0) fetches.push(this.#fetchAndStore(rt, locked, { token, clock: read.clock }))
        if (pass === 'refresh') {
          // Someone else is refreshing: keep serving what we have.
          for (const flight of busy) flight.settle(flight.stale?.value ?? null)
          return
        }
        pass = 'lock'
        firstPass = false
        if (busy.length === 0 && retry.length === 0) return
        rt.stats.lockWaits += busy.length
        const remaining = deadline - Date.now()
        if (remaining <= 0) {
          // Waited long enough: load it ourselves, without writing (the lock is not ours).
          fetches.push(this.#fetchAndStore(rt, [...busy, ...retry], undefined))
          return
        }
        if (retry.length === 0) {
          // Wake on the fill notice; otherwise when the holder's lock expires (it may have died). Without
          // the bus there are no notices, so poll.
          let timeoutMs = Math.min(remaining, shortestLockMs + 5)
          if (this.#bus?.connected !== true) timeoutMs = Math.min(timeoutMs, 50)
          await this.#notices.waitForAny(
            busy.map((f) => f.key),
            since,
            timeoutMs,
          )
        }
        pending = [...busy, ...retry]
      }
    } catch (error) {
      for (const flight of flights) flight.settle(error)
    } finally {
      await Promise.all(fetches)
    }
  }

  /**
   * Calls `fetch` once for these flights, writes what it returned to Redis (only when we hold the locks)
   * and to L1 (only when nothing invalidated it meanwhile), and settles the flights. Never rejects.
   */
  async #fetchAndStore(
    rt: LoaderRuntime,
    flights: Flight[],
    lock: { token: string; clock: number } | undefined,
  ): Promise<void> {
    try {
      await this.#fetchAndStoreUnguarded(rt, flights, lock)
    } catch (error) {
      // Only a bug (ours, or a throwing listener or logger) lands here; callers must not hang on it.
      for (const flight of flights) flight.settle(error)
    }
  }

  async #fetchAndStoreUnguarded(
    rt: LoaderRuntime,
    flights: Flight[],
    lock: { token: string; clock: number } | undefined,
  ): Promise<void> {
    const ids = flights.map((f) => f.id)
    rt.stats.fetchCalls++
    rt.stats.idsFetched += ids.length
    const started = performance.now()
    let outcomes: FetchOutcome[] | Error
    try {
      outcomes = alignFetchResult(rt.def.name, ids, await this.#fetchWithin(rt, ids))
    } catch (error) {
      outcomes = error instanceof Error ? error : new Error(String(error))
    }
    const now = Date.now()
    const fetchMs = Math.max(1, Math.round(performance.now() - started))
    const results: unknown[] = new Array(flights.length)
    const entries: (CacheEntry | undefined)[] = new Array(flights.length)
    const writes: WriteItem[] = []
    for (let j = 0; j < flights.length; j++) {
      const flight = flights[j]!
      const outcome: FetchOutcome = Array.isArray(outcomes)
        ? outcomes[j]!
        : { kind: 'error', error: outcomes as Error }
      let encoded = ''
      if (outcome.kind === 'error') {
        rt.stats.fetchErrors++
        this.#emitSafely('fetchError', rt.def.name, outcome.error)
        // Fail-safe: a stale entry within grace beats an error; errors are never cached.
        if (flight.stale !== undefined && now < flight.stale.expiresAt) {
          rt.stats.staleServed++
          results[j] = flight.stale.value
        } else {
          results[j] = outcome.error
        }
      } else {
        results[j] = outcome.kind === 'value' ? outcome.value : null
        const made = this.#makeEntry(rt, flight, outcome, lock?.clock ?? 0, now, fetchMs)
        if (made !== undefined) {
          entries[j] = made.entry
          encoded = made.encoded
        }
      }
      // Release the lock even when there is nothing to write, so waiters re-read at once.
      if (lock !== undefined) {
        const entry = entries[j]
        writes.push({ entryKey: flight.key, encoded, ttlMs: entry ? entry.expiresAt - now : 1 })
      }
    }

    let statuses: WriteStatus[] | undefined
    if (lock !== undefined && writes.length > 0 && this.#redis !== undefined) {
      try {
        statuses = await this.#redis.write(writes, lock.token)
      } catch {
        statuses = undefined
      }
    }

    const memory = this.#memoryIfUsable()
    const memoryOnly = this.#redis === undefined
    for (let j = 0; j < flights.length; j++) {
      const flight = flights[j]!
      const entry = entries[j]
      const status = statuses?.[j]
      if (status === 's' || status === 'x') rt.stats.staleWritesRefused++
      // In Redis mode, L1 keeps only what Redis accepted: a refused write means the value may be stale.
      const stored = memoryOnly || status === 'w'
      if (entry !== undefined && stored && memory !== undefined && this.#mayKeepInMemory(flight, entry)) {
        memory.set(flight.key, entry, Date.now())
      }
      flight.settle(results[j])
    }
  }

  /**
   * Calls `fetch`, bounded by `fetchTimeoutMs` when set: past it the ids fail with E_FETCH_TIMEOUT (or get
   * their stale value within grace) and the late result is dropped, so a hung source cannot hang callers.
   */
  #fetchWithin(rt: LoaderRuntime, ids: readonly CacheId[]): Promise<unknown> {
    const result = Promise.resolve().then(() => rt.def.fetch(ids))
    const timeoutMs = rt.fetchTimeoutMs
    if (timeoutMs <= 0) return result
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new LoadCacheError(
              'E_FETCH_TIMEOUT',
              `loader "${rt.def.name}": fetch of ${ids.length} id(s) took longer than ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      )
      result.then(
        (value) => {
          clearTimeout(timer)
          resolve(value)
        },
        (error: unknown) => {
          clearTimeout(timer)
          reject(error)
        },
      )
    })
  }

  #makeEntry(
    rt: LoaderRuntime,
    flight: Flight,
    outcome: FetchOutcome,
    clock: number,
    now: number,
    fetchMs: number,
  ): { entry: CacheEntry; encoded: string } | undefined {
    const absent = outcome.kind !== 'value'
    const baseTtlMs = absent ? rt.negativeTtlMs : rt.ttlMs
    if (baseTtlMs <= 0) return undefined
    const value = outcome.kind === 'value' ? outcome.value : null
    let tags: string[] = []
    let payload = ''
    try {
      // The entity tag goes on absent entries too, so creating the entity evicts its cached "not found".
      const raw = rt.def.entity === undefined ? [] : [entityTag(rt.def.entity, flight.id)]
      if (!absent) {
        if (rt.def.tags !== undefined) {
          const custom = rt.def.tags(flight.id, value)
          if (!Array.isArray(custom) || custom.some((tag) => typeof tag !== 'string')) {
            throw new TypeError(`tags() must return an array of strings, got ${JSON.stringify(custom)}`)
          }
          raw.push(...custom)
        }
        payload = rt.def.serializer.serialize(value)
      }
      tags = encodeTags([...new Set(raw)])
    } catch (error) {
      // The value is still returned to the caller; it just is not cached.
      this.options.logger.error(
        `[loadcache] loader "${rt.def.name}": value for id ${JSON.stringify(flight.id)} not cached: ${(error as Error).message}`,
      )
      return undefined
    }
    const freshUntil = now + Math.round(baseTtlMs * (1 + this.options.jitter * Math.random()))
    const fields = {
      absent,
      value,
      clock,
      freshUntil,
      expiresAt: freshUntil + (absent ? 0 : rt.graceMs),
      fetchMs,
      tags,
    }
    const encoded = encodeEntry(fields, payload)
    return { entry: { ...fields, size: encoded.length * 2 }, encoded }
  }

  /**
   * Whether a value this flight obtained may go into L1. Not if its key was invalidated while the flight
   * ran, nor if one of its tags was (tags are known only after the fetch, so this compares the sequence
   * number of each tag's last invalidation with the flight's start).
   */
  #mayKeepInMemory(flight: Flight, entry: CacheEntry): boolean {
    if (flight.dirty || flight.startSeq < this.#invalidationFloor) return false
    // Also by key: a tag invalidation drops every flight from the in-flight map, after which a key
    // invalidation can no longer mark this flight dirty.
    if ((this.#keyInvalidatedAt.get(flight.key) ?? 0) > flight.startSeq) return false
    for (const tag of entry.tags) {
      if ((this.#tagInvalidatedAt.get(tag) ?? 0) > flight.startSeq) return false
    }
    return true
  }

  /** L1, when it may be used: always without Redis; with Redis only while the bus can tell us about changes. */
  #memoryIfUsable(): MemoryTier | undefined {
    if (this.#redis === undefined) return this.#memory
    if (this.#bus?.connected !== true || this.#redis.breakerState !== 'closed') return undefined
    return this.#memory
  }

  // ---------------------------------------------------------------------------------------------------
  // Invalidation

  /** Evicts entity keys and tags everywhere: here, in Redis, and (through the bus) in every other process. */
  async invalidate(entryKeys: readonly string[], tags: readonly string[]): Promise<void> {
    const encodedTags = encodeTags(tags)
    this.#evictLocally(entryKeys, encodedTags)
    if (this.#redis === undefined) return
    await this.#redis.invalidate(entryKeys, encodedTags)
    // Again, now that Redis has applied it: a load that read Redis between the first eviction and the
    // invalidation may have put the old value back into L1.
    this.#evictLocally(entryKeys, encodedTags)
  }

  entryKeysOf(loaderName: string, ids: readonly CacheId[]): string[] {
    return ids.map((id) => this.keys.entryKey(loaderName, normalizeId(id, loaderName)))
  }

  #evictLocally(entryKeys: readonly string[], encodedTags: readonly string[]): void {
    const seq = ++this.#seq
    if (
      this.#keyInvalidatedAt.size + entryKeys.length > MAX_REMEMBERED ||
      this.#tagInvalidatedAt.size + encodedTags.length > MAX_REMEMBERED
    ) {
      // Forget, and treat every flight started before now as invalidated instead (bounded memory).
      this.#keyInvalidatedAt.clear()
      this.#tagInvalidatedAt.clear()
      this.#invalidationFloor = seq
    }
    for (const key of entryKeys) {
      this.#memory?.delete(key)
      this.#keyInvalidatedAt.set(key, seq)
      this.#refreshNotBefore.delete(key)
      const flight = this.#inFlight.get(key)
      if (flight !== undefined) {
        flight.dirty = true
        this.#inFlight.delete(key)
      }
    }
    if (encodedTags.length === 0) return
    for (const tag of encodedTags) this.#tagInvalidatedAt.set(tag, seq)
    this.#memory?.deleteTagged(encodedTags)
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

  stats(): CacheStats {
    const loaders: Record<string, LoaderStats> = {}
    for (const [name, runtime] of this.#runtimesByName) loaders[name] = { ...runtime.stats }
    return {
      loaders,
      redis: {
        enabled: this.#redis !== undefined,
        breaker: this.#redis?.breakerState ?? 'disabled',
        errors: this.#redisErrors,
        busConnected: this.#bus?.connected ?? false,
        pendingInvalidations: this.#redis?.pendingInvalidations ?? 0,
      },
      memory: { entries: this.#memory?.size ?? 0 },
    }
  }

  /** Whether L1 is in use right now (false while the bus is down or the breaker open). */
  get memoryInUse(): boolean {
    return this.#memoryIfUsable() !== undefined
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#redis?.close()
    await this.#bus?.close()
  }
}
