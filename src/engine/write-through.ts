import type { CacheEntry } from '../core/entry.js'
import { invalidArgument } from '../core/errors.js'
import { type CacheId, encodeTags, keyTag, normalizeId } from '../core/keys.js'
import { entityTag, withBuckets } from '../core/tags.js'
import type { MemoryTier } from '../memory/memory-tier.js'
import type { PrimeItem, PrimeResult, RedisTier } from '../redis/redis-tier.js'
import type { FetchRunner } from './fetch-runner.js'
import type { LoaderRuntime } from './runtime.js'

declare const ticketBrand: unique symbol

/**
 * The moment before a write to the source of truth (see `LoadCache.writeTicket`): a prime given it stores
 * its values only if nothing invalidated their keys or tags after it.
 */
export interface WriteTicket {
  /** The Redis tag clock then; `null` when Redis could not be read (a prime then stores nothing). */
  readonly clock: number | null | undefined
  /** This process's invalidation sequence number then. */
  readonly seq: number
  readonly [ticketBrand]: true
}

/** What a prime did: every id was evicted everywhere; `stored` holds the new value in the cache. */
export interface PrimeOutcome {
  readonly stored: CacheId[]
  readonly evicted: CacheId[]
}

/** What the write-through needs from the engine that owns the tiers and the ledger. */
export interface WriteThroughParts {
  readonly redis: RedisTier | undefined
  readonly runner: FetchRunner
  /** L1 when it may be used now (see CacheEngine). */
  memoryIfUsable(): MemoryTier | undefined
  seq(): number
  unchangedSince(seq: number, key: string, encodedTags: readonly string[]): boolean
  /** Evicts from L1 and records the invalidation in the ledger. */
  evictLocally(entryKeys: readonly string[], encodedTags: readonly string[]): void
  /** Emits the local `evict` event. */
  reportEviction(entryKeys: readonly string[], encodedTags: readonly string[]): void
  /** Invalidates in Redis (queued for replay when Redis is unreachable). */
  invalidateRemotely(entryKeys: readonly string[], encodedTags: readonly string[]): Promise<unknown>
}

interface Planned {
  readonly id: CacheId
  readonly normalizedId: string
  readonly key: string
  readonly made: { entry: CacheEntry; encoded: string } | undefined
  /** Encoded tags this prime invalidates for the id: its key's own tag and its entity tag, with buckets. */
  readonly bump: string[]
}

/**
 * Write-through priming: after a write to the source of truth, the new values go into both tiers, so the
 * next read anywhere costs no fetch. A prime is an invalidation of each id (its entry, its key's own tag,
 * its entity tag: every value derived from it, everywhere) that also stores the new entry, under the rules
 * of a fill: not when an invalidation of its key or tags came after the writer's ticket (the value may be
 * older than the write that invalidation announced), and into L1 only when nothing invalidated it while the
 * prime ran.
 */
export class WriteThrough {
  readonly #parts: WriteThroughParts
  readonly #issued = new WeakSet<object>()
  /** The values primes stored or evicted for (objects only): see `primed`. */
  readonly #primedValues = new WeakSet<object>()

  constructor(parts: WriteThroughParts) {
    this.#parts = parts
  }

  async ticket(): Promise<WriteTicket> {
    const seq = this.#parts.seq()
    const redis = this.#parts.redis
    let clock: number | null | undefined
    if (redis !== undefined) {
      try {
        clock = await redis.readClock()
      } catch {
        // Without the clock nothing can tell a later invalidation from an earlier one: store nothing.
        clock = null
      }
    }
    const ticket = Object.freeze({ clock, seq }) as WriteTicket
    this.#issued.add(ticket)
    return ticket
  }

  /**
   * Whether this very object was the value of a prime. A mutation that primed what it returns must not
   * then evict it again by its entity tag (the GraphQL directives' and tRPC's automatic eviction): the prime
   * already evicted everything derived from it, and that eviction would discard the primed value too.
   */
  primed(value: unknown): boolean {
    return typeof value === 'object' && value !== null && this.#primedValues.has(value)
  }

  issued(ticket: unknown): ticket is WriteTicket {
    return typeof ticket === 'object' && ticket !== null && this.#issued.has(ticket)
  }

  async prime(
    rt: LoaderRuntime,
    entries: readonly (readonly [CacheId, unknown])[],
    since: WriteTicket | undefined,
  ): Promise<PrimeOutcome> {
    const parts = this.#parts
    const now = Date.now()
    const redis = parts.redis
    const clock = since?.clock ?? 0
    const plans: Planned[] = entries.map(([id, value]) => {
      const normalizedId = normalizeId(id, rt.def.name)
      const key = rt.keyOf(normalizedId)
      const own = keyTag(key)
      const bump = encodeTags(
        withBuckets(rt.def.entity === undefined ? [own] : [own, entityTag(rt.def.entity, normalizedId)]),
      )
      // The entry carries its key's own tag: on Redis Cluster a key invalidation between the tag step and
      // the write changes that version, so every read rejects the entry (see RedisTier#primeCluster).
      const made = runnerEntry(
        parts.runner,
        rt,
        id,
        value,
        redis === undefined ? undefined : { clock },
        now,
        [...encodeTags([own])],
      )
      return { id, normalizedId, key, made, bump }
    })
    for (const [, value] of entries)
      if (typeof value === 'object' && value !== null) this.#primedValues.add(value)
    const keys = plans.map((plan) => plan.key)
    const bumped = [...new Set(plans.flatMap((plan) => plan.bump))]
    // Raced locally: an invalidation this process saw (its own included) after the ticket.
    const racedLocally = plans.map(
      (plan) =>
        since !== undefined &&
        (since.clock === null ||
          (plan.made !== undefined && !parts.unchangedSince(since.seq, plan.key, plan.made.entry.tags))),
    )
    parts.evictLocally(keys, bumped)
    const startSeq = parts.seq()
    const stored = new Array<boolean>(plans.length).fill(false)
    let versions: PrimeResult['versions'] = []
    if (redis === undefined) {
      plans.forEach((plan, i) => {
        stored[i] = plan.made !== undefined && !racedLocally[i]
      })
    } else {
      const items: PrimeItem[] = plans.map((plan, i) => ({
        entryKey: plan.key,
        encoded: plan.made === undefined || racedLocally[i] ? '' : plan.made.encoded,
        ttlMs: plan.made === undefined ? 1 : plan.made.entry.expiresAt - now,
        bump: plan.bump,
      }))
      try {
        const result = await redis.prime(items, since === undefined ? undefined : clock)
        result.stored.forEach((written, i) => {
          stored[i] = written
        })
        versions = result.versions
      } catch {
        // Redis failed (and said so through the tier's error events): the eviction must still happen, so
        // it goes the way of every invalidation (queued and replayed when Redis is unreachable).
        await parts.invalidateRemotely(keys, bumped)
      }
    }
    const primedEntries = plans.map((plan, i) => {
      if (!stored[i] || plan.made === undefined) return undefined
      const entry =
        versions[i] === undefined ? plan.made.entry : { ...plan.made.entry, versions: versions[i] }
      // Into L1 only if nothing invalidated it while the prime ran (an invalidation heard on the bus):
      // decided now, before the second eviction below records its own.
      return parts.unchangedSince(startSeq, plan.key, entry.tags) ? entry : undefined
    })
    if (redis !== undefined) {
      // As after every invalidation, evicted again now that Redis has applied it, keys and tags: until
      // then Redis still held the old values, and a load of this process that read them (this id, or a
      // value derived from it) may have put them back into L1, or still be in flight for later callers
      // to join. The ledger then also keeps such a flight's result out of L1 when it settles.
      parts.evictLocally(keys, bumped)
    }
    const memory = parts.memoryIfUsable()
    plans.forEach((plan, i) => {
      const entry = primedEntries[i]
      if (entry !== undefined && memory !== undefined) {
        memory.set(plan.key, entry, Date.now(), rt.shelf, plan.normalizedId)
      }
    })
    parts.reportEviction(keys, bumped)
    return {
      stored: plans.filter((_, i) => stored[i]).map((plan) => plan.id),
      evicted: plans.map((plan) => plan.id),
    }
  }
}

function runnerEntry(
  runner: FetchRunner,
  rt: LoaderRuntime,
  id: CacheId,
  value: unknown,
  redisWrite: { readonly clock: number } | undefined,
  now: number,
  extraTags: readonly string[],
): { entry: CacheEntry; encoded: string } | undefined {
  if (value === undefined) {
    throw invalidArgument(
      'prime(loader, entries)',
      `the value of id ${JSON.stringify(id)} is undefined: prime values the loader's fetch would return (use invalidate() for an id that no longer exists)`,
    )
  }
  return runner.makeEntry(rt, id, { kind: 'value', value }, redisWrite, now, 1, rt.source, extraTags)
}
