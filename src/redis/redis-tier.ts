import type { Cluster } from 'ioredis'
import { entryHeader } from '../core/entry.js'
import { LoadCacheError } from '../core/errors.js'
import type { KeySpace } from '../core/keys.js'
import type { Logger } from '../core/logger.js'
import { publishInMessages } from './bus-messages.js'
import {
  MAX_SCRIPTS_IN_FLIGHT,
  MAX_TAGS_PER_SCRIPT,
  pick,
  runLimited,
  runScripts,
  scriptGroups,
} from './chunks.js'
import type { BreakerState, CircuitBreaker } from './circuit-breaker.js'
import { InvalidationWriter } from './invalidation-writer.js'
import { groupByMaster } from './key-slot.js'
import {
  type CommandTracer,
  describeError,
  RedisCommands,
  type RedisCommandsOptions,
} from './redis-commands.js'
import {
  clockScript,
  primeScript,
  type RedisClient,
  readScript,
  tagScript,
  tagVersionsScript,
  withLockKeys,
  writeScript,
} from './scripts.js'

export type { CommandTracer } from './redis-commands.js'

export type ReadMode = 'lock' | 'refresh'

export type ReadStatus =
  | { readonly kind: 'hit'; readonly raw: string }
  | { readonly kind: 'locked' }
  | { readonly kind: 'busy'; readonly lockTtlMs: number }
  /** The entry was invalidated by a tag (found by the client on Redis Cluster) and removed: read again. */
  | { readonly kind: 'retry' }

export interface ReadResult {
  /** The tag clock read before the fetch (the smallest reading of the batch's scripts; see scripts.ts). */
  readonly clock: number
  readonly statuses: readonly ReadStatus[]
}

/**
 * What the write script did with one key:
 * - `written`: the entry was stored and the lock released;
 * - `released`: nothing to write (an error or an uncacheable value), the lock released;
 * - `tagMoved`: refused, a tag of the entry was invalidated after the clock reading taken before the fetch
 *   (or its version was lost);
 * - `lockLost`: refused, the lock was no longer ours (the key was invalidated, which deletes its lock, or the
 *   lock expired and someone else may be filling).
 */
export type WriteStatus = 'written' | 'released' | 'tagMoved' | 'lockLost'

const WRITE_STATUS: Readonly<Record<string, WriteStatus>> = {
  w: 'written',
  r: 'released',
  s: 'tagMoved',
  x: 'lockLost',
}

/** A refused write: its value may be stale, so it must not be kept anywhere. */
export function isRefusedWrite(status: WriteStatus | undefined): boolean {
  return status === 'tagMoved' || status === 'lockLost'
}

/**
 * An extra condition of a write (an entry built from other entries, a response): the tag must still have
 * the version the entry it came from recorded, or must not have been invalidated after a clock reading.
 */
export type WriteCheck =
  | { readonly tag: string; readonly version: string }
  | { readonly tag: string; readonly notAfter: number }

export interface WriteItem {
  readonly entryKey: string
  /** The encoded entry (bare tags), or `''` to release the lock without writing. */
  readonly encoded: string
  readonly ttlMs: number
  readonly checks?: readonly WriteCheck[]
}

/**
 * Tag versions a Cluster fill obtained while its fetch ran (see `RedisTier#ensureTagsEarly`), by encoded
 * tag: the version, and until when (epoch ms) it is sure to live.
 */
export type EarlyTags = ReadonlyMap<string, { readonly version: string; readonly liveUntil: number }>

/** Per item: what the write did, and (when written) the version each tag was stored with. */
export interface WriteResult {
  readonly statuses: WriteStatus[]
  readonly versions: (readonly string[] | undefined)[]
}

export interface PrimeItem {
  readonly entryKey: string
  /** The new entry with bare tags (its clock field is the ticket's reading), or `''` to only delete. */
  readonly encoded: string
  readonly ttlMs: number
  /** Encoded tags this prime invalidates: the key's own tag and its entity tag, with their buckets. */
  readonly bump: readonly string[]
}

/** Per item of a prime: whether the new entry was stored, and the version each of its tags was stored with. */
export interface PrimeResult {
  readonly stored: boolean[]
  readonly versions: (readonly string[] | undefined)[]
}

/** The round-trip runner's options (RedisCommands; the tier supplies the probe) and the tier's own. */
export interface RedisTierOptions extends Omit<RedisCommandsOptions, 'probe'> {
  readonly keys: KeySpace
  readonly instanceId: string
  readonly lockTtlMs: number
  /** TTL of a tag version that no stored entry carries yet (set by an invalidation for fills in flight). */
  readonly tagTtlMs: number
  /** How much longer than an entry its tags' versions live. */
  readonly tagMarginMs: number
  readonly maxPendingInvalidations: number
  readonly logger: Logger
  /**
   * Announces on the bus from the client (Redis Cluster: scripts cannot publish to the bus channel's
   * slot; classic or sharded pub/sub, as the bus subscribed). Standalone scripts publish themselves.
   */
  readonly publish: (message: string) => Promise<unknown>
}

/** Raised when L2 is skipped (breaker open or invalidations waiting to be replayed). Never reaches users. */
export class RedisUnavailableError extends Error {
  constructor(reason: string) {
    super(`[loadcache] [redis] skipped: ${reason}`)
    this.name = 'RedisUnavailableError'
  }
}

/**
 * L2: every Redis operation loadcache performs, each bounded by a timeout and guarded by the circuit
 * breaker. Callers treat any rejection as "L2 unavailable" and carry on without it.
 *
 * Any batch size works: a batch is split into scripts of at most 200 entries (500 tags), a few in flight at
 * once, each with its own timeout, so no script holds Redis for more than a few milliseconds and other
 * clients' commands run in between. A failed write releases every lock of its batch.
 *
 * Invalidations that cannot reach Redis are queued (bounded, newest wins) and replayed before L2 is read
 * again, so an entry invalidated during an outage is not served after it. The invalidations of one
 * event-loop turn go out together (one script and one bus message per 200 keys or 500 tags, however many
 * callers): see InvalidationWriter. How each round trip runs (timeout, breaker, probe): RedisCommands.
 *
 * Redis Cluster: a script may only touch one slot, so a batch becomes scripts per slot, sent together
 * (ioredis routes each to its node); the tag clock is read by its own script in the same step; tag versions
 * live in their own slots and are checked by the client after a read (a second round trip, only when a hit
 * carries tags) and before a write (where missing versions are created); the client announces on the bus.
 */
export class RedisTier {
  readonly #o: RedisTierOptions
  readonly #commands: RedisCommands
  readonly #breaker: CircuitBreaker
  readonly #cluster: boolean
  readonly #invalidations: InvalidationWriter
  /** Whether the Cluster runs TAG_VERSIONS (script flags: Redis 7+); false after it failed to compile. */
  #crossSlotReads = true

  constructor(options: RedisTierOptions) {
    this.#o = options
    this.#cluster = (options.client as { isCluster?: boolean }).isCluster === true
    const commands: RedisCommands = new RedisCommands({
      ...options,
      probe: (): Promise<void> =>
        this.#invalidations.pending > 0
          ? this.#invalidations.replay()
          : commands.withTimeout('probe', options.client.ping()).then(() => {}),
    })
    this.#commands = commands
    this.#breaker = commands.breaker
    this.#invalidations = new InvalidationWriter({
      commands,
      cluster: this.#cluster,
      keys: options.keys,
      instanceId: options.instanceId,
      tagTtlMs: options.tagTtlMs,
      breakDurationMs: options.breakDurationMs,
      // Enough for a queue of thousands on a healthy Redis; a dead one fails the first script sooner.
      closeDeadlineMs: Math.max(1000, 10 * options.timeoutMs),
      maxPendingInvalidations: options.maxPendingInvalidations,
      logger: options.logger,
      announce: (head, lines) => this.#announce(head, lines),
    })
  }

  /** Set while a tracer (loadcache/otel) instruments the cache; undefined costs one check per command. */
  get tracer(): CommandTracer | undefined {
    return this.#commands.tracer
  }

  set tracer(tracer: CommandTracer | undefined) {
    this.#commands.tracer = tracer
  }

  /**
   * Reads `maxmemory-policy` (every master of a Cluster) and warns when it lets Redis evict tag versions
   * before the entries checked against them: those entries then count as misses (never served), which costs
   * hit rate. Managed Redis often refuses CONFIG: then nothing is said (debug log only).
   */
  async checkEvictionPolicy(): Promise<void> {
    const client = this.#o.client as RedisClient & { nodes?: (role: string) => RedisClient[] }
    const nodes = this.#cluster && client.nodes ? client.nodes('master') : [client]
    for (const node of nodes) {
      let policy: string | undefined
      let maxmemory: string | undefined
      try {
        // One pattern for both settings (Redis 6 takes one per CONFIG GET).
        const reply = (await this.#commands.withTimeout(
          'config',
          node.config('GET', 'maxmemory*'),
        )) as string[]
        for (let i = 0; i + 1 < reply.length; i += 2) {
          if (reply[i] === 'maxmemory-policy') policy = reply[i + 1]
          else if (reply[i] === 'maxmemory') maxmemory = reply[i + 1]
        }
      } catch (error) {
        this.#o.logger.debug?.(`[loadcache] [redis] cannot read maxmemory-policy: ${describeError(error)}`)
        return
      }
      if (policy === undefined || policy === 'volatile-ttl') continue
      if (maxmemory === '0') {
        // Without a memory limit Redis never evicts, whatever the policy.
        this.#o.logger.debug?.(
          `[loadcache] [redis] maxmemory-policy is ${policy}, with no maxmemory: Redis never evicts, so it does not matter`,
        )
        continue
      }
      this.#o.logger.warn(
        policy === 'noeviction'
          ? `[loadcache] [redis] maxmemory-policy is noeviction: once maxmemory is reached Redis refuses most of loadcache's writes, so little more is cached (invalidations still apply on Redis 7; on Redis 6 those by tag alone are refused too, queued and retried, and other processes serve the old values until one lands). Set maxmemory-policy to volatile-ttl: every loadcache key has a TTL, and entries (shorter-lived than the tag versions they are checked against) go first.`
          : `[loadcache] [redis] maxmemory-policy is ${policy}: under memory pressure Redis may evict the tag versions that entries are checked against. loadcache never serves an entry whose tag version is gone (it is a miss), so this costs hit rate, not correctness. Set maxmemory-policy to volatile-ttl (tag versions outlive the entries that need them, so entries go first).`,
      )
      return
    }
  }

  get breakerState(): BreakerState {
    return this.#breaker.state
  }

  /** Whether L2 may be read now: breaker closed and no invalidation waiting to be replayed. */
  get readable(): boolean {
    return this.#breaker.isClosed && this.#invalidations.pending === 0
  }

  get pendingInvalidations(): number {
    return this.#invalidations.pending
  }

  /**
   * Reads entries, locking misses. In `refresh` mode, `heldFreshUntil` is the freshness of the entry the
   * caller already has: a fresher one in Redis is returned as a hit instead of being refreshed again.
   * On a rejection, locks some of its scripts took may be held: call `releaseLocks`.
   */
  async read(
    entryKeys: readonly string[],
    token: string,
    mode: ReadMode,
    heldFreshUntil = 0,
  ): Promise<ReadResult> {
    if (!this.readable) throw new RedisUnavailableError(this.#unavailableReason())
    const statuses: ReadStatus[] = new Array(entryKeys.length)
    let clock = Number.POSITIVE_INFINITY
    const reads = runScripts(scriptGroups(entryKeys, this.#cluster), (indices) =>
      this.#run('read', async () => {
        const reply = (await this.#readScript(
          pick(entryKeys, indices),
          token,
          mode,
          !this.#cluster,
          heldFreshUntil,
        )) as string[]
        const parsed = parseReadReply(reply)
        if (parsed.length !== indices.length) {
          throw new LoadCacheError(
            'E_REDIS_REPLY',
            `[redis] read script answered ${parsed.length} statuses for ${indices.length} keys`,
          )
        }
        if (!this.#cluster) clock = Math.min(clock, Number(reply[0]))
        parsed.forEach((status, j) => {
          statuses[indices[j]!] = status
        })
      }),
    )
    if (!this.#cluster) {
      await reads
      return { clock, statuses }
    }
    const [reading] = await Promise.all([
      this.#run('read', () => clockScript.run(this.#o.client, [this.#o.keys.clockKey], ['read'])),
      reads,
    ])
    await this.#checkTagsOfHits(entryKeys, statuses)
    return { clock: Number(reading), statuses }
  }

  /**
   * Releases locks this token may hold (compare-and-delete, nothing written) and wakes their waiters. For a
   * read or write that failed or timed out: its scripts may still have run and taken them. Best effort,
   * never rejects.
   */
  releaseLocks(entryKeys: readonly string[], token: string): void {
    if (entryKeys.length === 0) return
    const items = entryKeys.map((entryKey) => ({ entryKey, encoded: '', ttlMs: 1 }))
    runScripts(scriptGroups(entryKeys, this.#cluster), (indices) =>
      this.#run('release', () => this.#writeScript(pick(items, indices), token, false)),
    ).catch(() => {})
  }

  async #readScript(
    entryKeys: readonly string[],
    token: string,
    mode: ReadMode,
    checkTags: boolean,
    heldFreshUntil: number,
  ): Promise<unknown> {
    const { keys, lockTtlMs, client } = this.#o
    return readScript.run(client, withLockKeys(entryKeys), [
      token,
      lockTtlMs,
      keys.tagPrefix,
      keys.clockKey,
      mode,
      checkTags ? '1' : '0',
      heldFreshUntil,
    ])
  }

  /** Cluster only: rejects (and removes) hits whose tags moved after the entry's clock reading (or were lost). */
  async #checkTagsOfHits(entryKeys: readonly string[], statuses: ReadStatus[]): Promise<void> {
    const moved = await this.#entriesWithMovedTags(
      statuses.map((status) => (status.kind === 'hit' ? status.raw : '')),
    )
    if (moved.size === 0) return
    for (const index of moved) statuses[index] = { kind: 'retry' }
    await this.#run('discard', () =>
      Promise.all([...moved].map((index) => this.#o.client.unlink(entryKeys[index]!))),
    )
  }

  /** Whether this is a Redis Cluster (tag versions live in their own slots, checked by the client). */
  get cluster(): boolean {
    return this.#cluster
  }

  /**
   * Redis Cluster: ensures the versions of tags a fill knows before its fetch (entity tags) while the fetch
   * runs, so its write needs no round trip of its own for them: a fill is then a read, the fetch and a
   * write, as on one Redis (../shared/DESIGN.md, lessons 1 and 3). `ttlMs`: the longest TTL an entry of the
   * fill can get; the versions live `lockTtlMs` longer than a write would make them, so a fetch shorter
   * than the lock TTL does not need them extended. Safe for the same reasons as the ensure after the
   * fetch: the write refuses a version that moved after the fill's clock reading, and a tag invalidated
   * after this read leaves an entry that records the old version, which every read rejects. Resolves
   * undefined (never rejects) when it fails or on one Redis; the write ensures the tags itself then.
   */
  async ensureTagsEarly(encodedTags: readonly string[], ttlMs: number): Promise<EarlyTags | undefined> {
    if (!this.#cluster || encodedTags.length === 0 || !this.#breaker.isClosed) return undefined
    const tags = [...new Set(encodedTags)]
    const ensureMs = Math.ceil(ttlMs) + this.#o.tagMarginMs + this.#o.lockTtlMs
    const sentAt = Date.now()
    try {
      const versions = await this.#runEach('write-tags', tags, (tag) => this.#ensureTag(tag, ensureMs))
      const early = new Map<string, { version: string; liveUntil: number }>()
      tags.forEach((tag, i) => {
        const version = versions[i]
        if (version !== null && version !== undefined)
          early.set(tag, { version: String(version), liveUntil: sentAt + ensureMs })
      })
      return early
    } catch {
      return undefined
    }
  }

  /**
   * Writes what a fill fetched and releases its locks (all of them, also when the write fails). Results are
   * in the order of `items`. `early`: tag versions the fill ensured while it fetched (Redis Cluster).
   */
  async write(items: readonly WriteItem[], token: string, early?: EarlyTags): Promise<WriteResult> {
    if (!this.#breaker.isClosed) throw new RedisUnavailableError(this.#unavailableReason())
    try {
      return this.#cluster
        ? await this.#writeCluster(items, token, early)
        : await this.#writeStandalone(items, token)
    } catch (error) {
      this.releaseLocks(
        items.map((item) => item.entryKey),
        token,
      )
      throw error
    }
  }

  async #writeStandalone(items: readonly WriteItem[], token: string): Promise<WriteResult> {
    const result: WriteResult = { statuses: new Array(items.length), versions: new Array(items.length) }
    await runScripts(
      scriptGroups(
        items.map((item) => item.entryKey),
        false,
      ),
      (indices) =>
        this.#run('write', async () => {
          const reply = parseWriteReply(
            await this.#writeScript(pick(items, indices), token, true),
            indices.length,
          )
          indices.forEach((index, j) => {
            result.statuses[index] = reply.statuses[j]!
            result.versions[index] = reply.versions[j]
          })
        }),
    )
    return result
  }

  /**
   * The scripts cannot see tag versions here (other slots): the client reads (and creates) them, refuses
   * entries whose tags moved or whose checks fail, and sends the rest with their versions; the script writes
   * and releases the locks. An invalidation landing between the check and the write changes a version, so
   * every read rejects the entry. The keys someone waits on are announced by the client.
   */
  async #writeCluster(items: readonly WriteItem[], token: string, early?: EarlyTags): Promise<WriteResult> {
    const prepared = await this.#prepareTags(items, early)
    const toWrite = items.map((item, i) => ({ ...item, encoded: prepared[i]?.encoded ?? '' }))
    const result: WriteResult = { statuses: new Array(items.length), versions: new Array(items.length) }
    const noticed: string[] = []
    await runScripts(
      scriptGroups(
        toWrite.map((item) => item.entryKey),
        true,
      ),
      (indices) =>
        this.#run('write', async () => {
          const reply = parseWriteReply(
            await this.#writeScript(pick(toWrite, indices), token, false),
            indices.length,
          )
          indices.forEach((index, j) => {
            const status = reply.statuses[j]!
            const refused = items[index]!.encoded !== '' && prepared[index] === undefined
            result.statuses[index] = refused && status === 'released' ? 'tagMoved' : status
            result.versions[index] = status === 'written' ? prepared[index]?.versions : undefined
          })
          noticed.push(...reply.noticed)
        }),
    )
    if (noticed.length > 0) await this.#announce(['f'], noticed)
    return result
  }

  /**
   * Cluster only, before a write: reads the version of every tag the entries carry (creating the missing
   * ones, extending them to outlive the entries) and of every tag their checks name. Returns, per item, the
   * entry with its tags' versions, or undefined when it must not be written (a tag moved, a check failed).
   * A tag ensured early that still lives long enough for its entry is not ensured again.
   */
  async #prepareTags(
    items: readonly WriteItem[],
    early: EarlyTags | undefined,
  ): Promise<({ encoded: string; versions: string[] } | undefined)[]> {
    const ensure = new Map<string, number>()
    const checked = new Set<string>()
    const headers = items.map((item) => {
      const header = item.encoded === '' ? undefined : entryHeader(item.encoded)
      if (header === undefined) return undefined
      for (const tag of header.tags) {
        ensure.set(tag, Math.max(ensure.get(tag) ?? 0, Math.round(item.ttlMs) + this.#o.tagMarginMs))
      }
      for (const check of item.checks ?? []) checked.add(check.tag)
      return header
    })
    const versionOf = new Map<string, string | null>()
    const now = Date.now()
    for (const [tag, needMs] of ensure) {
      // Not for a check: it must read the version now, not when the fetch began.
      const known = checked.has(tag) ? undefined : early?.get(tag)
      if (known !== undefined && known.liveUntil >= now + needMs) {
        versionOf.set(tag, known.version)
        ensure.delete(tag)
      }
    }
    const ensured = [...ensure]
    const others = [...checked].filter((tag) => !ensure.has(tag) && !versionOf.has(tag))
    const [ensuredVersions, otherVersions] = await Promise.all([
      this.#runEach('write-tags', ensured, ([tag, ttlMs]) => this.#ensureTag(tag, ttlMs)),
      this.#readTagKeys(
        'write-tags',
        others.map((tag) => this.#o.keys.tagPrefix + tag),
      ),
    ])
    ensured.forEach(([tag], i) => {
      versionOf.set(tag, ensuredVersions[i] === null ? null : String(ensuredVersions[i]))
    })
    others.forEach((tag, i) => {
      versionOf.set(tag, otherVersions[i] ?? null)
    })
    return items.map((item, index) => {
      const header = headers[index]
      if (header === undefined) return undefined
      const versions = header.tags.map((tag) => versionOf.get(tag) ?? null)
      if (versions.some((version) => version === null || movedSince(version, header.clock))) return undefined
      for (const check of item.checks ?? []) {
        const version = versionOf.get(check.tag) ?? null
        if (
          'version' in check
            ? version !== check.version
            : version !== null && movedSince(version, check.notAfter)
        ) {
          return undefined
        }
      }
      const fields = header.header.split(' ').slice(0, 6)
      header.tags.forEach((tag, k) => {
        fields.push(`${tag}=${versions[k]}`)
      })
      const encoded = `${fields.join(' ')}${item.encoded.slice(header.header.length)}`
      return { encoded, versions: versions as string[] }
    })
  }

  /**
   * Cluster only: the positions of encoded entries one of whose tags no longer has the version the entry
   * recorded (it was invalidated, or lost). One parallel round of GETs, and none when no entry has tags.
   */
  async #entriesWithMovedTags(encoded: readonly string[]): Promise<Set<number>> {
    const headers: { index: number; tags: string[]; versions: (string | undefined)[] }[] = []
    const tagKeys = new Set<string>()
    encoded.forEach((raw, index) => {
      const header = raw === '' ? undefined : entryHeader(raw)
      if (header === undefined || header.tags.length === 0) return
      headers.push({ index, tags: header.tags, versions: header.versions })
      for (const tag of header.tags) tagKeys.add(this.#o.keys.tagPrefix + tag)
    })
    const moved = new Set<number>()
    if (headers.length === 0) return moved
    const keys = [...tagKeys]
    const values = await this.#readTagKeys('read-tags', keys)
    const versions = new Map(keys.map((key, i) => [key, values[i] ?? null]))
    for (const { index, tags, versions: recorded } of headers) {
      if (
        tags.some(
          (tag, k) => recorded[k] === undefined || versions.get(this.#o.keys.tagPrefix + tag) !== recorded[k],
        )
      ) {
        moved.add(index)
      }
    }
    return moved
  }

  #writeScript(items: readonly WriteItem[], token: string, standalone: boolean): Promise<unknown> {
    const { keys, tagMarginMs, client } = this.#o
    const args: (string | number)[] = [
      token,
      keys.tagPrefix,
      standalone ? keys.channel : '',
      standalone ? '1' : '0',
      tagMarginMs,
    ]
    for (const item of items) {
      const checks = (item.checks ?? [])
        .map((check) =>
          'version' in check ? `${check.tag}=${check.version}` : `${check.tag}<${clockText(check.notAfter)}`,
        )
        .join(' ')
      args.push(item.encoded, Math.max(1, Math.round(item.ttlMs)), checks)
    }
    return writeScript.run(client, withLockKeys(items.map((item) => item.entryKey)), args)
  }

  /** The tag clock now (`max(clock, now_us)`): a write ticket; see `prime`. */
  async readClock(): Promise<number> {
    if (!this.#breaker.isClosed) throw new RedisUnavailableError(this.#unavailableReason())
    const { client, keys } = this.#o
    return Number(await this.#run('clock', () => clockScript.run(client, [keys.clockKey], ['read'])))
  }

  /**
   * A write-through (PRIME_SCRIPT): deletes each item's entry and lock everywhere, bumps the tags the items
   * invalidate, and stores each new entry unless one of its tags moved after `since` (the writer's ticket;
   * undefined: nothing is checked). Announced on the bus. Throws when Redis fails (then the caller must
   * still invalidate).
   */
  async prime(items: readonly PrimeItem[], since: number | undefined): Promise<PrimeResult> {
    if (!this.#breaker.isClosed) throw new RedisUnavailableError(this.#unavailableReason())
    return this.#cluster ? this.#primeCluster(items, since) : this.#primeStandalone(items, since)
  }

  async #primeStandalone(items: readonly PrimeItem[], since: number | undefined): Promise<PrimeResult> {
    const result: PrimeResult = { stored: new Array(items.length), versions: new Array(items.length) }
    await runScripts(
      scriptGroups(
        items.map((item) => item.entryKey),
        false,
      ),
      (indices) =>
        this.#run('prime', async () => {
          const group = pick(items, indices)
          // Only this group's own tags: a tag bumped by an earlier group would look like a race to a later one.
          const bump = [...new Set(group.flatMap((item) => item.bump))]
          const reply = await this.#primeScript(group, bump, since, true)
          indices.forEach((index, j) => {
            result.stored[index] = reply.stored[j]!
            result.versions[index] = reply.versions[j]
          })
        }),
    )
    return result
  }

  /**
   * Redis Cluster: the tags live in other slots, so the client checks and bumps them first (each in one
   * atomic step that also says whether it had moved after `since`), then writes the entries with their
   * versions. An invalidation between the two steps changes a version the entry recorded (the entries
   * carry their key's own tag too), so every read rejects the entry: equality, not order, keeps it safe.
   */
  async #primeCluster(items: readonly PrimeItem[], since: number | undefined): Promise<PrimeResult> {
    const { client, keys, tagTtlMs, tagMarginMs, instanceId } = this.#o
    const bumped = new Set(items.flatMap((item) => item.bump))
    const headers = items.map((item) => (item.encoded === '' ? undefined : entryHeader(item.encoded)))
    const ttlOf = new Map<string, number>()
    for (const tag of bumped) ttlOf.set(tag, tagTtlMs)
    headers.forEach((header, i) => {
      for (const tag of header?.tags ?? []) {
        const need = Math.round(items[i]!.ttlMs) + tagMarginMs
        ttlOf.set(tag, Math.max(ttlOf.get(tag) ?? 0, need))
      }
    })
    const version =
      bumped.size === 0
        ? ''
        : String(await this.#run('prime', () => clockScript.run(client, [keys.clockKey], ['bump'])))
    const tags = [...ttlOf]
    const replies = await this.#runEach('prime', tags, ([tag, ttlMs]) =>
      tagScript.run(
        client,
        [keys.tagPrefix + tag],
        ['prime', bumped.has(tag) ? version : '', ttlMs, since === undefined ? '' : clockText(since)],
      ),
    )
    const state = new Map<string, { moved: boolean; version: string }>()
    tags.forEach(([tag], i) => {
      const reply = replies[i]
      if (!Array.isArray(reply) || reply.length !== 2)
        throw new LoadCacheError('E_REDIS_REPLY', `[redis] tag script answered ${String(reply)}`)
      state.set(tag, { moved: String(reply[0]) === '1', version: String(reply[1]) })
    })
    const result: PrimeResult = { stored: new Array(items.length), versions: new Array(items.length) }
    const toWrite = items.map((item, i) => {
      const header = headers[i]
      if (header === undefined || header.tags.some((tag) => state.get(tag)!.moved))
        return { ...item, encoded: '' }
      const versions = header.tags.map((tag) => state.get(tag)!.version)
      const fields = header.header.split(' ').slice(0, 6)
      header.tags.forEach((tag, k) => {
        fields.push(`${tag}=${versions[k]}`)
      })
      result.versions[i] = versions
      return { ...item, encoded: `${fields.join(' ')}${item.encoded.slice(header.header.length)}` }
    })
    await runScripts(
      scriptGroups(
        toWrite.map((item) => item.entryKey),
        true,
      ),
      (indices) =>
        this.#run('prime', async () => {
          const reply = await this.#primeScript(pick(toWrite, indices), [], undefined, false)
          indices.forEach((index, j) => {
            result.stored[index] = reply.stored[j]!
            if (!reply.stored[j]) result.versions[index] = undefined
          })
        }),
    )
    await this.#announce(
      [`i ${instanceId}`],
      [...items.map((item) => `k${item.entryKey}`), ...[...bumped].map((tag) => `t${tag}`)],
    )
    return result
  }

  async #primeScript(
    items: readonly PrimeItem[],
    bump: readonly string[],
    since: number | undefined,
    standalone: boolean,
  ): Promise<PrimeResult> {
    const { keys, tagTtlMs, tagMarginMs, instanceId, client } = this.#o
    const args: (string | number)[] = [
      since === undefined ? '' : clockText(since),
      keys.clockKey,
      keys.tagPrefix,
      tagTtlMs,
      tagMarginMs,
      standalone ? keys.channel : '',
      instanceId,
      standalone ? '1' : '0',
      bump.length,
      ...bump,
    ]
    for (const item of items) args.push(item.encoded, Math.max(1, Math.round(item.ttlMs)))
    const reply = await primeScript.run(client, withLockKeys(items.map((item) => item.entryKey)), args)
    if (!Array.isArray(reply) || reply.length !== 1 + 2 * items.length) {
      throw new LoadCacheError(
        'E_REDIS_REPLY',
        `[redis] prime script answered ${String(reply)} for ${items.length} keys`,
      )
    }
    const stored = reply.slice(1, 1 + items.length).map((code) => String(code) === 'w')
    const versions = reply
      .slice(1 + items.length)
      .map((text, j) => (stored[j] ? (String(text) === '' ? [] : String(text).split(' ')) : undefined))
    return { stored, versions }
  }

  /**
   * Deletes entries and bumps tags in Redis and announces it on the bus. Resolves `true` when Redis has
   * applied it, `false` when it was queued for replay (Redis unreachable). Never rejects. Invalidations of
   * one event-loop turn are applied together.
   */
  invalidate(entryKeys: readonly string[], encodedTags: readonly string[]): Promise<boolean> {
    return this.#invalidations.invalidate(entryKeys, encodedTags)
  }

  /** Gives queued invalidations a last try (see InvalidationWriter.close), then stops the probe. */
  async close(): Promise<void> {
    await this.#invalidations.close()
    this.#commands.close()
  }

  /** Best-effort removal of entries the client could not decode; failures are only counted. */
  discard(entryKeys: readonly string[]): void {
    if (!this.#breaker.isClosed) return
    for (const key of entryKeys) {
      this.#run('discard', () => this.#o.client.unlink(key)).catch(() => {})
    }
  }

  /** Cluster: one tag's version, created when missing, its TTL extended to at least `ttlMs` (TAG `ensure`). */
  #ensureTag(encodedTag: string, ttlMs: number): Promise<unknown> {
    return tagScript.run(this.#o.client, [this.#o.keys.tagPrefix + encodedTag], ['ensure', '', ttlMs])
  }

  /**
   * Cluster: the values of tag keys, one TAG_VERSIONS script per master (by the client's slot map) and
   * MAX_TAGS_PER_SCRIPT keys, so a batch of hits carrying hundreds of tags costs a round of at most a few
   * scripts, not a GET per tag. Keys the script cannot take (a slot moved since the map was read, no known
   * owner, or a server without script flags: Redis 6, from then on) are read with a GET each.
   */
  async #readTagKeys(operation: string, keys: readonly string[]): Promise<(string | null)[]> {
    const values: (string | null)[] = new Array(keys.length).fill(null)
    const { groups, unowned } = this.#crossSlotReads
      ? groupByMaster((this.#o.client as Cluster).slots, keys, MAX_TAGS_PER_SCRIPT)
      : { groups: [], unowned: keys.map((_, i) => i) }
    const single = [...unowned]
    await runLimited(
      groups,
      async (indices) => {
        const read = await this.#run(operation, () => this.#tagVersions(pick(keys, indices)))
        if (read === undefined) single.push(...indices)
        else
          indices.forEach((index, j) => {
            // A nil is read again alone: when ioredis followed an ASK for the first key (its slot is being
            // migrated), the script ran on the importing node, whose ASKING flag covers the other keys of
            // that slot too, and those not migrated yet read as nil there. A value is always the current
            // one (a migrated key is deleted from its source).
            if (read[j] === null) single.push(index)
            else values[index] = read[j]!
          })
      },
      MAX_SCRIPTS_IN_FLIGHT,
    )
    if (single.length > 0) {
      const read = await this.#runEach(operation, single, (index) => this.#o.client.get(keys[index]!))
      single.forEach((index, j) => {
        values[index] = read[j] ?? null
      })
    }
    return values
  }

  /** One TAG_VERSIONS script; undefined when Redis cannot run it for these keys (see #readTagKeys). */
  async #tagVersions(keys: readonly string[]): Promise<(string | null)[] | undefined> {
    let reply: unknown
    try {
      reply = await tagVersionsScript.run(this.#o.client, [keys[0]!], keys.slice(1))
    } catch (error) {
      const message = error instanceof Error ? error.message : ''
      // Not a Redis fault: a slot map out of date (ioredis refreshes it when a command is redirected).
      if (message.includes('non local key')) return undefined
      if (message.includes('Error compiling script')) {
        this.#crossSlotReads = false
        return undefined
      }
      throw error
    }
    if (!Array.isArray(reply) || reply.length !== keys.length) {
      throw new LoadCacheError(
        'E_REDIS_REPLY',
        `[redis] tag versions script answered ${String(reply)} for ${keys.length} keys`,
      )
    }
    return reply.map((value) => (value === null ? null : String(value)))
  }

  #run<T>(operation: string, command: () => Promise<T>): Promise<T> {
    return this.#commands.run(operation, command)
  }

  /** Publishes from the client, in bounded messages, each one a Redis round trip of its own. */
  #announce(head: readonly string[], lines: readonly string[]): Promise<void> {
    return publishInMessages(head, lines, (message) => this.#run('publish', () => this.#o.publish(message)))
  }

  #runEach<T, R>(operation: string, items: readonly T[], command: (item: T) => Promise<R>): Promise<R[]> {
    return this.#commands.runEach(operation, items, command)
  }

  #unavailableReason(): string {
    if (!this.#breaker.isClosed) return `circuit breaker ${this.#breaker.state}`
    return `${this.#invalidations.pending} invalidation(s) waiting for replay`
  }
}

function parseReadReply(reply: readonly string[]): ReadStatus[] {
  const statuses: ReadStatus[] = []
  for (let i = 1; i < reply.length; i += 2) {
    const status = reply[i]
    const value = reply[i + 1] ?? ''
    if (status === 'h') statuses.push({ kind: 'hit', raw: value })
    else if (status === 'l') statuses.push({ kind: 'locked' })
    else statuses.push({ kind: 'busy', lockTtlMs: Math.max(0, Number(value) || 0) })
  }
  return statuses
}

/** The write script's reply: one status per key, one version list per key, then the keys that had waiters. */
function parseWriteReply(
  reply: unknown,
  keys: number,
): { statuses: WriteStatus[]; versions: (string[] | undefined)[]; noticed: string[] } {
  if (!Array.isArray(reply) || reply.length < 2 * keys) {
    throw new LoadCacheError(
      'E_REDIS_REPLY',
      `[redis] write script answered ${String(reply)} for ${keys} keys`,
    )
  }
  const statuses = reply.slice(0, keys).map((code) => {
    const status = WRITE_STATUS[String(code)]
    if (status === undefined)
      throw new LoadCacheError('E_REDIS_REPLY', `[redis] write script answered the status ${code}`)
    return status
  })
  const versions = reply
    .slice(keys, 2 * keys)
    .map((text, j) =>
      statuses[j] === 'written' ? (String(text) === '' ? [] : String(text).split(' ')) : undefined,
    )
  return { statuses, versions, noticed: reply.slice(2 * keys).map(String) }
}

/** Whether a tag with this version was invalidated after a clock reading (created versions never were). */
function movedSince(version: string, clock: number): boolean {
  if (version.startsWith('c')) return false
  const number = Number(version)
  return !(number <= clock)
}

/** A clock reading as Redis stores it: an integer, never in exponent notation. */
function clockText(clock: number): string {
  return clock.toFixed(0)
}
