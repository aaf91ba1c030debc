import { withDeadline } from '../core/deadline.js'
import type { CacheEntry } from '../core/entry.js'
import { encodeEntryForRedis } from '../core/entry.js'
import { describeValue, LoadCacheError, LoadCacheTypeError } from '../core/errors.js'
import { type CacheId, encodeTags, normalizeId } from '../core/keys.js'
import { entityTag } from '../core/tags.js'
import type { FetchOutcome } from '../loader/define-loader.js'
import {
  type EarlyTags,
  isRefusedWrite,
  type RedisTier,
  type WriteItem,
  type WriteResult,
} from '../redis/redis-tier.js'
import type { Flight } from './flight.js'
import type { BatchSource, EngineParts, LoaderRuntime } from './runtime.js'

/** The clock reading and lock token of a fill that holds the Redis locks of its keys. */
export interface FillLock {
  readonly token: string
  readonly clock: number
}

/**
 * Runs a loader's `fetch` for a set of flights and stores what it returned: in Redis only when the fill
 * holds the locks (the write script refuses values that raced an invalidation), in L1 only when Redis took
 * the value (or there is no Redis) and nothing invalidated it meanwhile. Errors are never stored.
 */
export class FetchRunner {
  readonly #parts: EngineParts
  readonly #redis: RedisTier | undefined
  /** Loaders already warned about a value that could not be stored. */
  readonly #warned = new Set<string>()

  constructor(parts: EngineParts, redis: RedisTier | undefined) {
    this.#parts = parts
    this.#redis = redis
  }

  /**
   * Calls the source's `fetch` once for these flights, writes what it returned to Redis (only when we hold
   * the locks) and to L1 (only when nothing invalidated it meanwhile), and settles the flights. Never rejects.
   */
  async fetchAndStore(
    rt: LoaderRuntime,
    flights: Flight[],
    lock: FillLock | undefined,
    source: BatchSource,
  ): Promise<void> {
    try {
      await this.#fetchAndStoreUnguarded(rt, flights, lock, source)
    } catch (error) {
      // Only a bug (ours, or a throwing listener or logger) lands here; callers must not hang on it.
      for (const flight of flights) flight.settle(error)
    }
  }

  async #fetchAndStoreUnguarded(
    rt: LoaderRuntime,
    flights: Flight[],
    lock: FillLock | undefined,
    source: BatchSource,
  ): Promise<void> {
    const ids = flights.map((f) => f.id)
    rt.stats.fetchCalls++
    rt.stats.idsFetched += ids.length
    const early = lock !== undefined ? this.#ensureTagsEarly(rt, flights) : undefined
    const started = performance.now()
    let outcomes: FetchOutcome[] | Error
    const tracing = this.#parts.tracing()
    try {
      outcomes = await (tracing === undefined
        ? this.#fetchWithin(rt, ids, source)
        : tracing.fetch(rt.def.name, ids.length, () => this.#fetchWithin(rt, ids, source)))
    } catch (error) {
      outcomes = error instanceof Error ? error : new Error(String(error))
    }
    const now = Date.now()
    const fetchMs = Math.max(1, Math.round(performance.now() - started))
    const results: unknown[] = new Array(flights.length)
    const shareable: boolean[] = new Array(flights.length).fill(true)
    /** Ids answered with their fetch's error: no data was read, so no invalidation can have overtaken it. */
    const failed: boolean[] = new Array(flights.length).fill(false)
    const entries: (CacheEntry | undefined)[] = new Array(flights.length)
    const writes: WriteItem[] = []
    for (let j = 0; j < flights.length; j++) {
      const flight = flights[j]!
      const outcome: FetchOutcome = Array.isArray(outcomes)
        ? (outcomes[j] ?? { kind: 'error', error: misaligned(rt, ids.length, outcomes.length) })
        : { kind: 'error', error: outcomes as Error }
      let encoded = ''
      if (outcome.kind === 'error') {
        rt.stats.fetchErrors++
        this.#parts.reportFetchError(rt.def.name, outcome.error)
        // Fail-safe: a stale entry within grace beats an error; errors are never cached.
        if (flight.stale !== undefined && now < flight.stale.expiresAt) {
          rt.stats.staleServed++
          results[j] = flight.stale.value
        } else {
          results[j] = outcome.error
          failed[j] = true
        }
      } else if (outcome.kind === 'uncached') {
        results[j] = outcome.value
        shareable[j] = outcome.shareable
      } else {
        results[j] = outcome.kind === 'value' ? outcome.value : null
        const made = this.makeEntry(rt, flight.id, outcome, lock, now, fetchMs, source)
        if (made !== undefined) {
          entries[j] = made.entry
          encoded = made.encoded
        }
      }
      // Release the lock even when there is nothing to write, so waiters re-read at once.
      if (lock !== undefined) {
        const entry = entries[j]
        const checks = entry !== undefined ? source.checks?.(flight.id) : undefined
        writes.push({ entryKey: flight.key, encoded, ttlMs: entry ? entry.expiresAt - now : 1, checks })
      }
    }

    let written: WriteResult | undefined
    /** Positions not written because this process heard an invalidation that overtook their fill. */
    let withheld: ReadonlySet<number> = NONE_WITHHELD
    if (lock !== undefined && writes.length > 0 && this.#redis !== undefined) {
      // Waited for only when something is to be written: releasing the locks must not wait on them.
      const earlyVersions =
        early !== undefined && writes.some((write) => write.encoded !== '') ? await early.versions : undefined
      if (earlyVersions !== undefined)
        withheld = this.#withholdOvertaken(writes, entries, early!.seq, earlyVersions)
      try {
        written = await this.#redis.write(writes, lock.token, earlyVersions)
      } catch {
        written = undefined
      }
    }

    this.#parts.reportFetch({
      loader: rt.def.name,
      ids: ids.length,
      durationMs: fetchMs,
      failed: Array.isArray(outcomes)
        ? outcomes.filter((outcome) => outcome.kind === 'error').length
        : ids.length,
    })
    const memory = this.#parts.memoryIfUsable()
    const memoryOnly = this.#redis === undefined
    for (let j = 0; j < flights.length; j++) {
      const flight = flights[j]!
      const status = written !== undefined && withheld.has(j) ? 'tagMoved' : written?.statuses[j]
      const versions = written?.versions[j]
      // The versions its tags were stored with: a response built from this entry is checked against them.
      const entry = entries[j] && versions ? { ...entries[j]!, versions } : entries[j]
      const refused = isRefusedWrite(status)
      if (refused) rt.stats.staleWritesRefused++
      // In Redis mode, L1 keeps only what Redis accepted: a refused write means the value may be stale.
      const stored = entry !== undefined && (memoryOnly || status === 'written')
      const current = entry !== undefined && this.#parts.mayKeepInMemory(flight, entry)
      if (stored && memory !== undefined && current) {
        memory.set(flight.key, entry, Date.now(), rt.shelf, normalizeId(flight.id, rt.def.name))
      }
      // A value with no entry (one that cannot be stored, an absent id with negativeTtl 0, a TTL of 0) has
      // no tags to check: any invalidation heard while it was fetched may be about it. Conservative: under
      // steady writes elsewhere in the fleet, such values make their responses no-store.
      flight.overtaken =
        refused || (entry !== undefined ? !current : !failed[j] && this.#parts.invalidatedSince(flight))
      flight.entry = stored ? entry : undefined
      flight.settle(results[j], shareable[j])
    }
  }

  /**
   * A tag version read during the fetch (Cluster, see #ensureTagsEarly) cannot show an invalidation this
   * process heard after it was sent (`seq`): it may have moved the tag after the read, and Redis would then
   * store an entry every read rejects. Such writes become releases; returns their positions, which count
   * as refused writes.
   */
  #withholdOvertaken(
    writes: WriteItem[],
    entries: readonly (CacheEntry | undefined)[],
    seq: number,
    earlyVersions: EarlyTags,
  ): Set<number> {
    const withheld = new Set<number>()
    writes.forEach((write, j) => {
      const taken = entries[j]?.tags.filter((tag) => earlyVersions.has(tag)) ?? []
      if (write.encoded === '' || taken.length === 0) return
      if (this.#parts.unchangedSince(seq, write.entryKey, taken)) return
      withheld.add(j)
      writes[j] = { entryKey: write.entryKey, encoded: '', ttlMs: 1 }
    })
    return withheld
  }

  /**
   * Redis Cluster: the entity tags of a fill holding its locks are known before its fetch, so their versions
   * are ensured while it runs instead of in a round trip between the fetch and the write. Their TTL covers
   * the longest entry this loader writes without a `ttl` function (one that returns more gets them extended
   * by the write). `seq`: the invalidations this process had heard when they were sent. Never rejects.
   */
  #ensureTagsEarly(
    rt: LoaderRuntime,
    flights: readonly Flight[],
  ): { versions: Promise<EarlyTags | undefined>; seq: number } | undefined {
    const redis = this.#redis
    const entity = rt.def.entity
    if (redis === undefined || !redis.cluster || entity === undefined) return undefined
    const longestMs = Math.max(rt.ttlMs + rt.graceMs, rt.negativeTtlMs) * (1 + this.#parts.options.jitter)
    const seq = this.#parts.seq()
    const versions = redis.ensureTagsEarly(
      encodeTags(flights.map((flight) => entityTag(entity, flight.id))),
      longestMs,
    )
    return { versions, seq }
  }

  /**
   * Calls `fetch`, bounded by `fetchTimeoutMs` when set: past it the ids fail with E_FETCH_TIMEOUT (or get
   * their stale value within grace) and the late result is dropped, so a hung source cannot hang callers.
   */
  #fetchWithin(
    rt: LoaderRuntime,
    ids: readonly CacheId[],
    source: BatchSource,
  ): Promise<FetchOutcome[] | Error> {
    const result = Promise.resolve().then(() => source.fetch(ids))
    const timeoutMs = rt.fetchTimeoutMs
    if (timeoutMs <= 0) return result
    return withDeadline(
      result,
      timeoutMs,
      () =>
        new LoadCacheError(
          'E_FETCH_TIMEOUT',
          `loader "${rt.def.name}": fetch of ${ids.length} id(s) took longer than ${timeoutMs} ms`,
        ),
    )
  }

  /**
   * The entry of a value (or of an absent id) as L1 holds it and as Redis stores it (bare tags: the write
   * script records their versions). `redisWrite`: the clock reading of a write to Redis (compressed above
   * the threshold), or undefined for an entry that stays in L1. `extraTags` (encoded) are carried besides
   * the entity tag and the source's tags. Undefined when it is not to be cached (a TTL of 0, a value the serializer refuses: then
   * one warning per loader).
   */
  makeEntry(
    rt: LoaderRuntime,
    id: CacheId,
    outcome: FetchOutcome,
    redisWrite: { readonly clock: number } | undefined,
    now: number,
    fetchMs: number,
    source: BatchSource,
    extraTags: readonly string[] = [],
  ): { entry: CacheEntry; encoded: string } | undefined {
    const absent = outcome.kind !== 'value'
    const value = outcome.kind === 'value' ? outcome.value : null
    const exactTtlMs = absent || source.ttlMs === undefined ? undefined : source.ttlMs(id, value)
    const baseTtlMs = exactTtlMs ?? (absent ? rt.negativeTtlMs : rt.ttlMs)
    if (baseTtlMs <= 0) return undefined
    let tags: string[] = []
    let payload = ''
    try {
      // The entity tag goes on absent entries too, so creating the entity evicts its cached "not found".
      const raw = rt.def.entity === undefined ? [] : [entityTag(rt.def.entity, id)]
      if (!absent) {
        const custom = source.tags(id, value)
        if (!Array.isArray(custom) || custom.some((tag) => typeof tag !== 'string')) {
          throw new LoadCacheTypeError(
            'E_INVALID_OPTION',
            `tags() must return an array of strings, got ${describeValue(custom)}`,
          )
        }
        raw.push(...custom)
        payload = rt.def.serializer.serialize(value)
      }
      tags = source.encodedTags ? [...new Set(raw)] : encodeTags([...new Set(raw)])
      for (const tag of extraTags) if (!tags.includes(tag)) tags.push(tag)
    } catch (error) {
      // The value is still returned to the caller; it just is not cached. Once per loader: a loader whose
      // values cannot be stored would otherwise log on every load.
      rt.stats.uncacheableValues++
      if (!this.#warned.has(rt.def.name)) {
        this.#warned.add(rt.def.name)
        this.#parts.options.logger.warn(
          `[loadcache] loader "${rt.def.name}": a value (id ${JSON.stringify(id)}) is returned but not cached: ${(error as Error).message.replace('[loadcache] ', '')}. Return plain data, or give the loader a serializer that stores it (this warning is shown once per loader).`,
        )
      }
      return undefined
    }
    const jitter = exactTtlMs === undefined ? this.#parts.options.jitter * Math.random() : 0
    const freshUntil = now + Math.round(baseTtlMs * (1 + jitter))
    const fields = {
      absent,
      value,
      clock: redisWrite?.clock ?? 0,
      freshUntil,
      expiresAt: freshUntil + (absent ? 0 : rt.graceMs),
      fetchMs,
      tags,
    }
    // Compressed only when it goes to Redis (a fill holding the locks, a prime): a memory-only entry or one
    // that is not written never pays for it, and L1 holds the decoded entry either way.
    const { encoded, size } = encodeEntryForRedis(
      fields,
      payload,
      rt.def.serializer.id ?? 'c',
      redisWrite === undefined ? false : this.#parts.options.compressAbove,
    )
    return { entry: { ...fields, size }, encoded }
  }
}

const NONE_WITHHELD: ReadonlySet<number> = new Set()

function misaligned(rt: LoaderRuntime, ids: number, outcomes: number): Error {
  return new LoadCacheError(
    'E_INVALID_FETCH_RESULT',
    `loader "${rt.def.name}": its source answered ${outcomes} outcome(s) for ${ids} id(s)`,
  )
}
