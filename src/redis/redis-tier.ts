import { entryClockAndTags } from '../core/entry.js'
import { LoadCacheError } from '../core/errors.js'
import { KeySpace } from '../core/keys.js'
import type { Logger } from '../core/logger.js'
import { type BreakerState, CircuitBreaker } from './circuit-breaker.js'
import { groupBySlot } from './key-slot.js'
import { clockScript, invalidateScript, type RedisClient, readScript, writeScript } from './scripts.js'

export type ReadMode = 'lock' | 'refresh'

export type ReadStatus =
  | { readonly kind: 'hit'; readonly raw: string }
  | { readonly kind: 'locked' }
  | { readonly kind: 'busy'; readonly lockTtlMs: number }
  /** The entry was invalidated by a tag (found by the client on Redis Cluster) and removed: read again. */
  | { readonly kind: 'retry' }

export interface ReadResult {
  /** The tag clock read in the same step (see scripts.ts). */
  readonly clock: number
  readonly statuses: readonly ReadStatus[]
}

/**
 * What the write script did with one key:
 * - `written`: the entry was stored and the lock released;
 * - `released`: nothing to write (an error or an uncacheable value), the lock released;
 * - `tagMoved`: refused, a tag of the entry was invalidated after the clock reading taken before the fetch;
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

export interface WriteItem {
  readonly entryKey: string
  /** The encoded entry, or `''` to release the lock without writing. */
  readonly encoded: string
  readonly ttlMs: number
}

export interface RedisTierOptions {
  readonly client: RedisClient
  readonly keys: KeySpace
  readonly instanceId: string
  readonly timeoutMs: number
  readonly lockTtlMs: number
  readonly tagTtlMs: number
  readonly failureThreshold: number
  readonly breakDurationMs: number
  readonly maxPendingInvalidations: number
  readonly logger: Logger
  readonly onBreakerChange: (state: BreakerState, previous: BreakerState) => void
  readonly onError: (error: unknown, operation: string) => void
  /** Every operation's outcome and duration (for metrics and traces). */
  readonly onCommand?: (operation: string, durationMs: number, error?: unknown) => void
}

/**
 * Runs one Redis round trip on a tracer's behalf (a span that is active while the command is in flight):
 * must call `run` once and return what it returns, rejections included.
 */
export type CommandTracer = <T>(operation: string, run: () => Promise<T>) => Promise<T>

/** Raised when L2 is skipped (breaker open or invalidations waiting to be replayed). Never reaches users. */
export class RedisUnavailableError extends Error {
  constructor(reason: string) {
    super(`[loadcache] [redis] skipped: ${reason}`)
    this.name = 'RedisUnavailableError'
  }
}

class RedisTimeoutError extends Error {
  constructor(operation: string, timeoutMs: number) {
    super(`[loadcache] [redis] ${operation} timed out after ${timeoutMs} ms`)
    this.name = 'RedisTimeoutError'
  }
}

/**
 * L2: every Redis operation loadcache performs, each bounded by a timeout and guarded by the circuit
 * breaker. Callers treat any rejection as "L2 unavailable" and carry on without it.
 *
 * Invalidations that cannot reach Redis are never dropped: they are queued (bounded, newest wins) and
 * replayed before L2 is read again, so an entry invalidated during an outage is not served after it.
 *
 * Standalone Redis: each operation is one script, one round trip. Redis Cluster: a script may only touch
 * one slot, so a batch becomes one script per slot, sent together (ioredis routes each to its node: one
 * round trip per node, in parallel); the tag clock is read by its own script in the same step; tag
 * versions live in their own slots and are checked by the client after the read (a second round trip,
 * only when a hit carries tags). Writes skip the tag check there: the read-time check is what guarantees
 * that an entry written across a tag invalidation is never served.
 */
export class RedisTier {
  readonly #o: RedisTierOptions
  readonly #breaker: CircuitBreaker
  readonly #cluster: boolean
  /** Queued invalidations, each with the generation it was queued at (see #replay). */
  readonly #pendingKeys = new Map<string, number>()
  readonly #pendingTags = new Map<string, number>()
  #generation = 0
  #replaying: Promise<void> | undefined
  #probeTimer: NodeJS.Timeout | undefined
  #closed = false
  /** Set while a tracer (loadcache/otel) instruments the cache; undefined costs one check per command. */
  tracer: CommandTracer | undefined

  constructor(options: RedisTierOptions) {
    this.#o = options
    this.#cluster = (options.client as { isCluster?: boolean }).isCluster === true
    this.#breaker = new CircuitBreaker({
      failureThreshold: options.failureThreshold,
      breakDurationMs: options.breakDurationMs,
      onStateChange: (state, previous) => {
        options.onBreakerChange(state, previous)
        if (state === 'open') this.#scheduleProbe()
      },
    })
  }

  get breakerState(): BreakerState {
    return this.#breaker.state
  }

  /** Whether L2 may be read now: breaker closed and no invalidation waiting to be replayed. */
  get readable(): boolean {
    return this.#breaker.isClosed && this.#pendingKeys.size === 0 && this.#pendingTags.size === 0
  }

  get pendingInvalidations(): number {
    return this.#pendingKeys.size + this.#pendingTags.size
  }

  /**
   * Reads entries, locking misses. In `refresh` mode, `heldFreshUntil` is the freshness of the entry the
   * caller already has: a fresher one in Redis is returned as a hit instead of being refreshed again.
   */
  async read(
    entryKeys: readonly string[],
    token: string,
    mode: ReadMode,
    heldFreshUntil = 0,
  ): Promise<ReadResult> {
    if (!this.readable) throw new RedisUnavailableError(this.#unavailableReason())
    if (this.#cluster) return this.#readCluster(entryKeys, token, mode, heldFreshUntil)
    const reply = (await this.#run('read', () =>
      this.#readScript(entryKeys, token, mode, true, heldFreshUntil),
    )) as string[]
    return { clock: Number(reply[0]), statuses: parseReadReply(reply) }
  }

  /**
   * Releases locks this token may hold (compare-and-delete, nothing written) and wakes their waiters. For a
   * read that timed out: its script may still have run and taken them. Best effort, never rejects.
   */
  releaseLocks(entryKeys: readonly string[], token: string): void {
    const items = entryKeys.map((entryKey) => ({ entryKey, encoded: '', ttlMs: 1 }))
    this.#perSlot(entryKeys, (indices) => this.#writeScript(pick(items, indices), token, false)).catch(
      () => {},
    )
  }

  /**
   * Runs `run` once per slot (once for all keys on a standalone Redis), all at once, and returns the
   * per-key results of the replies in the order of `keys`: a script may only touch keys of one slot.
   */
  async #perSlot<R>(keys: readonly string[], run: (indices: number[]) => Promise<unknown>): Promise<R[]> {
    const groups = this.#cluster ? [...groupBySlot(keys).values()] : [keys.map((_, i) => i)]
    const replies = await Promise.all(groups.map((indices) => run(indices)))
    const results: R[] = new Array(keys.length)
    groups.forEach((indices, g) => {
      const reply = replies[g] as R[] | undefined
      indices.forEach((index, j) => {
        results[index] = reply?.[j] as R
      })
    })
    return results
  }

  #readScript(
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

  async #readCluster(
    entryKeys: readonly string[],
    token: string,
    mode: ReadMode,
    heldFreshUntil: number,
  ): Promise<ReadResult> {
    const [clock, statuses] = await this.#run('read', () =>
      Promise.all([
        clockScript.run(this.#o.client, [this.#o.keys.clockKey], ['read']),
        this.#perSlot<ReadStatus>(entryKeys, async (indices) =>
          parseReadReply(
            (await this.#readScript(
              pick(entryKeys, indices),
              token,
              mode,
              false,
              heldFreshUntil,
            )) as string[],
          ),
        ),
      ]),
    )
    await this.#checkTagsOfHits(entryKeys, statuses)
    return { clock: Number(clock), statuses }
  }

  /** Cluster only: rejects (and removes) hits whose tags were invalidated after the entry's clock reading. */
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

  async write(items: readonly WriteItem[], token: string): Promise<WriteStatus[]> {
    if (!this.#breaker.isClosed) throw new RedisUnavailableError(this.#unavailableReason())
    if (!this.#cluster)
      return parseWriteReply(await this.#run('write', () => this.#writeScript(items, token, true)))
    // The script cannot see tag versions here (other slots): check them first, and only release the locks
    // of entries whose tags moved since the clock reading. An invalidation landing between this check and
    // the write is still caught, by the read-time check.
    const refused = await this.#entriesWithMovedTags(items.map((item) => item.encoded))
    const toWrite = items.map((item, i) => (refused.has(i) ? { ...item, encoded: '' } : item))
    const written = await this.#run('write', () =>
      this.#perSlot<string>(
        toWrite.map((item) => item.entryKey),
        (indices) => this.#writeScript(pick(toWrite, indices), token, false),
      ),
    )
    return parseWriteReply(written).map((status, index) =>
      refused.has(index) && status === 'released' ? 'tagMoved' : status,
    )
  }

  /**
   * Cluster only: the positions of encoded entries one of whose tags has a version above the entry's clock.
   * One parallel round of GETs, and none when no entry has tags.
   */
  async #entriesWithMovedTags(encoded: readonly string[]): Promise<Set<number>> {
    const headers: { index: number; clock: number; tags: string[] }[] = []
    const tagKeys = new Set<string>()
    encoded.forEach((raw, index) => {
      const header = raw === '' ? undefined : entryClockAndTags(raw)
      if (header === undefined || header.tags.length === 0) return
      headers.push({ index, ...header })
      for (const tag of header.tags) tagKeys.add(this.#o.keys.tagPrefix + tag)
    })
    const moved = new Set<number>()
    if (headers.length === 0) return moved
    const keys = [...tagKeys]
    const values = await this.#run('read-tags', () => Promise.all(keys.map((key) => this.#o.client.get(key))))
    const versions = new Map(keys.map((key, i) => [key, Number(values[i] ?? 0)]))
    for (const { index, clock, tags } of headers) {
      if (tags.some((tag) => (versions.get(this.#o.keys.tagPrefix + tag) ?? 0) > clock)) moved.add(index)
    }
    return moved
  }

  #writeScript(items: readonly WriteItem[], token: string, checkTags: boolean): Promise<unknown> {
    const args: (string | number)[] = [
      token,
      this.#o.keys.tagPrefix,
      this.#o.keys.channel,
      checkTags ? '1' : '0',
    ]
    for (const item of items) args.push(item.encoded, Math.max(1, Math.round(item.ttlMs)))
    return writeScript.run(this.#o.client, withLockKeys(items.map((item) => item.entryKey)), args)
  }

  /**
   * Deletes entries and bumps tags in Redis and announces it on the bus. Resolves `true` when Redis has
   * applied it, `false` when it was queued for replay (Redis unreachable). Never rejects.
   */
  async invalidate(entryKeys: readonly string[], encodedTags: readonly string[]): Promise<boolean> {
    if (this.#breaker.isClosed && this.pendingInvalidations === 0) {
      try {
        await this.#applyInvalidation(entryKeys, encodedTags)
        return true
      } catch {
        // Fall through to the queue: the error was already counted and reported by #run.
      }
    }
    this.#enqueue(entryKeys, encodedTags)
    return false
  }

  /** Best-effort removal of entries the client could not decode; failures are only counted. */
  discard(entryKeys: readonly string[]): void {
    if (!this.#breaker.isClosed) return
    for (const key of entryKeys) {
      this.#run('discard', () => this.#o.client.unlink(key)).catch(() => {})
    }
  }

  close(): void {
    this.#closed = true
    if (this.#probeTimer) clearTimeout(this.#probeTimer)
  }

  async #applyInvalidation(entryKeys: readonly string[], encodedTags: readonly string[]): Promise<void> {
    const { keys, tagTtlMs, instanceId, client } = this.#o
    const invalidateKeys = (slotKeys: readonly string[], tags: readonly string[]) =>
      invalidateScript.run(client, withLockKeys(slotKeys), [
        keys.clockKey,
        keys.tagPrefix,
        tagTtlMs,
        keys.channel,
        instanceId,
        ...tags,
      ])
    if (!this.#cluster) {
      await this.#run('invalidate', () => invalidateKeys(entryKeys, encodedTags))
      return
    }
    await this.#run('invalidate', async () => {
      await this.#perSlot(entryKeys, (indices) => invalidateKeys(pick(entryKeys, indices), []))
      if (encodedTags.length === 0) return
      // Bump the clock, then every tag (each in its own slot), then announce: a process that hears the
      // announcement must already find the new versions, or it could copy the old entry back into L1.
      const version = String(await clockScript.run(client, [keys.clockKey], ['bump']))
      await Promise.all(encodedTags.map((tag) => client.set(keys.tagPrefix + tag, version, 'PX', tagTtlMs)))
      await client.publish(
        keys.channel,
        [`i ${instanceId}`, ...encodedTags.map((tag) => `t${tag}`)].join('\n'),
      )
    })
  }

  #enqueue(entryKeys: readonly string[], encodedTags: readonly string[]): void {
    const max = this.#o.maxPendingInvalidations
    const generation = ++this.#generation
    for (const key of entryKeys) requeue(this.#pendingKeys, key, generation, max, () => this.#dropped('key'))
    for (const tag of encodedTags)
      requeue(this.#pendingTags, tag, generation, max, () => this.#dropped('tag'))
    this.#o.logger.warn(
      `[loadcache] [redis] invalidation queued for replay (${this.pendingInvalidations} pending); L2 reads are paused until it is applied`,
    )
    this.#replaySoon()
  }

  /**
   * With the breaker closed (a single failed call), replay now and retry until it lands; once the breaker
   * is open, its probe replays instead.
   */
  #replaySoon(): void {
    if (this.#closed || !this.#breaker.isClosed) return
    this.#replay().catch(() => {
      const timer = setTimeout(() => this.#replaySoon(), Math.min(this.#o.breakDurationMs, 1000))
      timer.unref()
    })
  }

  #dropped(what: string): void {
    this.#o.logger.error(
      `[loadcache] [redis] pending invalidation queue is full (${this.#o.maxPendingInvalidations}); the oldest ${what} was dropped and may be served stale until its TTL. Raise "redis.maxPendingInvalidations" or restore Redis.`,
    )
  }

  /** Replays queued invalidations, in chunks; single-flight. Rejects if Redis fails again. */
  #replay(): Promise<void> {
    this.#replaying ??= (async () => {
      try {
        while (this.#pendingKeys.size > 0 || this.#pendingTags.size > 0) {
          const keys = [...this.#pendingKeys].slice(0, 500)
          const tags = [...this.#pendingTags].slice(0, 500)
          await this.#applyInvalidation(
            keys.map(([key]) => key),
            tags.map(([tag]) => tag),
          )
          // Only what was applied: an item queued again while this chunk was in flight is newer and stays.
          for (const [key, generation] of keys) {
            if (this.#pendingKeys.get(key) === generation) this.#pendingKeys.delete(key)
          }
          for (const [tag, generation] of tags) {
            if (this.#pendingTags.get(tag) === generation) this.#pendingTags.delete(tag)
          }
        }
      } finally {
        this.#replaying = undefined
      }
    })()
    return this.#replaying
  }

  #scheduleProbe(): void {
    if (this.#closed || this.#probeTimer) return
    this.#probeTimer = setTimeout(
      () => {
        this.#probeTimer = undefined
        void this.#probe()
      },
      Math.max(1, this.#breaker.msUntilProbe(performance.now())),
    )
    this.#probeTimer.unref()
  }

  /** Half-open: replay what is queued (or PING), and close the breaker only if that succeeded. */
  async #probe(): Promise<void> {
    if (this.#closed) return
    // Timers may fire a little early; never drop the probe, or the breaker would stay open for good.
    if (!this.#breaker.probeDue(performance.now())) {
      this.#scheduleProbe()
      return
    }
    this.#breaker.beginProbe()
    try {
      if (this.pendingInvalidations > 0) await this.#replay()
      else await this.#withTimeout('probe', this.#o.client.ping())
      this.#breaker.probeSucceeded()
    } catch (error) {
      this.#o.onError(error, 'probe')
      this.#breaker.probeFailed(performance.now())
    }
  }

  async #run<T>(operation: string, command: () => Promise<T>): Promise<T> {
    const started = performance.now()
    const tracer = this.tracer
    try {
      const result = await (tracer === undefined
        ? this.#withTimeout(operation, command())
        : tracer(operation, () => this.#withTimeout(operation, command())))
      this.#breaker.recordSuccess()
      this.#o.onCommand?.(operation, performance.now() - started)
      return result
    } catch (error) {
      this.#o.onCommand?.(operation, performance.now() - started, error)
      this.#o.onError(error, operation)
      // During a half-open probe the probe itself decides; counting here too would double-open.
      if (this.#breaker.state === 'closed') this.#breaker.recordFailure(performance.now())
      throw error
    }
  }

  #withTimeout<T>(operation: string, promise: Promise<T>): Promise<T> {
    const timeoutMs = this.#o.timeoutMs
    return new Promise<T>((resolve, reject) => {
      // When the event loop was blocked past the deadline, the timers phase runs before the poll phase
      // reads a reply that already arrived. Giving the verdict one setImmediate (after the poll phase)
      // lets such a reply win, so a busy process does not mistake a healthy Redis for a slow one (and
      // open its breaker, flushing L1).
      const timer = setTimeout(
        () => setImmediate(() => reject(new RedisTimeoutError(operation, timeoutMs))),
        timeoutMs,
      )
      promise.then(
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

  #unavailableReason(): string {
    if (!this.#breaker.isClosed) return `circuit breaker ${this.#breaker.state}`
    return `${this.pendingInvalidations} invalidation(s) waiting for replay`
  }
}

function pick<T>(items: readonly T[], indices: readonly number[]): T[] {
  return indices.map((index) => items[index]!)
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

function parseWriteReply(reply: unknown): WriteStatus[] {
  if (!Array.isArray(reply))
    throw new LoadCacheError('E_REDIS_REPLY', `[redis] write script answered ${String(reply)}`)
  return reply.map((code) => {
    const status = WRITE_STATUS[String(code)]
    if (status === undefined)
      throw new LoadCacheError('E_REDIS_REPLY', `[redis] write script answered the status ${code}`)
    return status
  })
}

function withLockKeys(entryKeys: readonly string[]): string[] {
  const keys: string[] = []
  for (const key of entryKeys) keys.push(key, KeySpace.lockKey(key))
  return keys
}

/** Adds `value` as the newest member, dropping the oldest when over `max`. */
function requeue(
  queue: Map<string, number>,
  value: string,
  generation: number,
  max: number,
  onDrop: () => void,
): void {
  queue.delete(value)
  queue.set(value, generation)
  if (queue.size > max) {
    const oldest = queue.keys().next().value
    if (oldest !== undefined) queue.delete(oldest)
    onDrop()
  }
}
