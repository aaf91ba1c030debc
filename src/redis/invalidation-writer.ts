import { sleep, withDeadline } from '../core/deadline.js'
import type { KeySpace } from '../core/keys.js'
import type { Logger } from '../core/logger.js'
import { MAX_TAGS_PER_SCRIPT, pick, runLimited, runScripts, scriptGroups } from './chunks.js'
import { PendingInvalidations } from './pending-invalidations.js'
import type { RedisCommands } from './redis-commands.js'
import { clockBumpScript, invalidateScript, tagBumpScript, withLockKeys } from './scripts.js'

export interface InvalidationWriterOptions {
  readonly commands: RedisCommands
  readonly cluster: boolean
  readonly keys: KeySpace
  readonly instanceId: string
  /** TTL of a tag version that no stored entry carries yet (set by an invalidation for fills in flight). */
  readonly tagTtlMs: number
  readonly breakDurationMs: number
  /** How long close() waits for its last replay of the queue. */
  readonly closeDeadlineMs: number
  readonly maxPendingInvalidations: number
  readonly logger: Logger
  /**
   * Announces on the bus from the client, in bounded messages (Redis Cluster; standalone scripts publish
   * themselves): the tier's, which its fill notices and primes use too.
   */
  readonly announce: (head: readonly string[], lines: readonly string[]) => Promise<void>
}

/**
 * Applies invalidations to Redis and announces them on the bus. The invalidations of one event-loop turn
 * go out together (one script and one bus message per 200 keys or 500 tags, however many callers).
 * Invalidations that cannot reach Redis are never dropped silently: they are queued (bounded, newest
 * wins) and replayed, by a retry while the breaker is closed, by its probe once it is open.
 */
export class InvalidationWriter {
  readonly #o: InvalidationWriterOptions
  readonly #pending: PendingInvalidations
  #batch: { keys: Set<string>; tags: Set<string>; settle: ((applied: boolean) => void)[] } | undefined
  #replaying: Promise<void> | undefined
  /** Batches being applied (see #track). */
  readonly #flushing = new Set<Promise<void>>()
  /** Invalidations dropped from the full queue since it last emptied (see the constructor). */
  #dropped = 0
  #closed = false

  constructor(options: InvalidationWriterOptions) {
    this.#o = options
    // Logged once per outage, not per drop: an outage under write load would otherwise log every write.
    this.#pending = new PendingInvalidations(options.maxPendingInvalidations, (what) => {
      if (this.#dropped++ > 0) return
      options.logger.error(
        `[loadcache] [redis] pending invalidation queue is full (${options.maxPendingInvalidations}); the oldest ${what} was dropped, and the oldest go on being dropped until Redis takes the queue: what they evict may be served stale until its TTL. Raise "maxPendingInvalidations" or restore Redis.`,
      )
    })
  }

  /** Keys and tags waiting for replay. */
  get pending(): number {
    return this.#pending.size
  }

  /**
   * Deletes entries and bumps tags in Redis and announces it on the bus. Resolves `true` when Redis has
   * applied it, `false` when it was queued for replay (Redis unreachable). Never rejects. Invalidations of
   * one event-loop turn are applied together.
   */
  invalidate(entryKeys: readonly string[], encodedTags: readonly string[]): Promise<boolean> {
    if (this.#batch === undefined) {
      this.#batch = { keys: new Set(), tags: new Set(), settle: [] }
      setImmediate(() => this.#track(this.#flushBatch()))
    }
    const batch = this.#batch
    for (const key of entryKeys) batch.keys.add(key)
    for (const tag of encodedTags) batch.tags.add(tag)
    return new Promise((resolve) => batch.settle.push(resolve))
  }

  /** Replays queued invalidations, in chunks; single-flight. Rejects if Redis fails again. */
  replay(): Promise<void> {
    this.#replaying ??= (async () => {
      try {
        // Once closed, a replay still running (past close's deadline) stops after the chunk it is on.
        while (this.#pending.size > 0 && !this.#closed) {
          const taken = this.#pending.take(500)
          await this.#apply(
            taken.keys.map(([key]) => key),
            taken.tags.map(([tag]) => tag),
          )
          this.#pending.applied(taken)
        }
        if (this.#dropped > 0 && this.#pending.size === 0) {
          this.#o.logger.warn(
            `[loadcache] [redis] queued invalidations replayed; ${this.#dropped} older keys or tags were dropped from the full queue before Redis took it (what they evict may be served stale until its TTL)`,
          )
          this.#dropped = 0
        }
      } finally {
        this.#replaying = undefined
      }
    })()
    return this.#replaying
  }

  /**
   * Stops the retries, after a last try: this turn's invalidations are sent at once, those in flight are
   * waited for, and the queue is replayed again and again until it is empty or `closeDeadlineMs` has
   * passed, whatever the breaker's state. What Redis did not confirm is lost with the process, and said
   * so: other processes may serve what it evicts until its TTL. (A script sent before the deadline may
   * still land after it; an invalidation landing late only costs a miss.)
   */
  async close(): Promise<void> {
    if (this.#closed) return
    if (this.#batch !== undefined) this.#track(this.#flushBatch())
    while (this.#flushing.size > 0) await Promise.all(this.#flushing)
    const deadline = performance.now() + this.#o.closeDeadlineMs
    while (this.#pending.size > 0 && performance.now() < deadline) {
      const replayed = await withDeadline(
        this.replay(),
        deadline - performance.now(),
        () => new Error(),
      ).then(
        () => true,
        () => false,
      )
      // A refused connection fails at once: do not spin on it.
      if (!replayed) await sleep(Math.min(50, Math.max(0, deadline - performance.now())))
    }
    this.#closed = true
    if (this.#pending.size > 0) {
      const dropped =
        this.#dropped > 0 ? ` (and ${this.#dropped} older ones were dropped from the full queue)` : ''
      this.#o.logger.error(
        `[loadcache] [redis] cache closed with ${this.#pending.size} invalidated keys or tags that Redis did not confirm${dropped}: other processes may serve what they evict until its TTL`,
      )
    }
  }

  /** Remembers a flush until it settles (close waits for those in flight). Flushes never reject. */
  #track(flush: Promise<void>): void {
    this.#flushing.add(flush)
    void flush.finally(() => this.#flushing.delete(flush))
  }

  async #flushBatch(): Promise<void> {
    const batch = this.#batch
    this.#batch = undefined
    if (batch === undefined) return
    const keys = [...batch.keys]
    const tags = [...batch.tags]
    let applied = false
    if (this.#o.commands.breaker.isClosed && this.#pending.size === 0) {
      try {
        await this.#apply(keys, tags)
        applied = true
      } catch {
        // Queued below: the error was already counted and reported by RedisCommands.run.
      }
    }
    if (!applied) this.#enqueue(keys, tags)
    for (const settle of batch.settle) settle(applied)
  }

  async #apply(entryKeys: readonly string[], encodedTags: readonly string[]): Promise<void> {
    const { keys, tagTtlMs, instanceId, commands, cluster } = this.#o
    const client = commands.client
    const invalidateScriptRun = (slotKeys: readonly string[], tags: readonly string[], channel: string) =>
      invalidateScript.run(client, withLockKeys(slotKeys), [
        keys.clockKey,
        keys.tagPrefix,
        tagTtlMs,
        channel,
        instanceId,
        ...tags,
      ])
    const keyGroups = scriptGroups(entryKeys, cluster)
    if (!cluster) {
      // Each script announces what it applied: one bus message per script, bounded in size.
      const tagGroups: string[][] = []
      for (let start = 0; start < encodedTags.length; start += MAX_TAGS_PER_SCRIPT) {
        tagGroups.push(encodedTags.slice(start, start + MAX_TAGS_PER_SCRIPT))
      }
      const scripts = Math.max(keyGroups.length, tagGroups.length)
      await runLimited(
        Array.from({ length: scripts }, (_, i) => i),
        (i) =>
          commands.run('invalidate', () =>
            invalidateScriptRun(pick(entryKeys, keyGroups[i] ?? []), tagGroups[i] ?? [], keys.channel),
          ),
      )
      return
    }
    // The keys (their own slots) and the tags (the clock, then each tag in its slot) are independent: both
    // go at once, and the announcement waits for both, since a process that hears it must already find
    // the entries gone and the new versions, or it could copy the old entry back into L1.
    const deleting = runScripts(keyGroups, (indices) =>
      commands.run('invalidate', () => invalidateScriptRun(pick(entryKeys, indices), [], '')),
    )
    const bumping = (async () => {
      if (encodedTags.length === 0) return
      const version = String(
        await commands.run('invalidate', () => clockBumpScript.run(client, [keys.clockKey], ['bump'])),
      )
      // One script per slot's tags (at most MAX_TAGS_PER_SCRIPT): 100,000 tags over 16,384 slots are about
      // 16,000 scripts, not 100,000 single-tag ones.
      const tagKeys = encodedTags.map((tag) => keys.tagPrefix + tag)
      await commands.runEach('invalidate', scriptGroups(tagKeys, true, MAX_TAGS_PER_SCRIPT), (indices) =>
        tagBumpScript.run(client, pick(tagKeys, indices), ['bump', version, tagTtlMs]),
      )
    })()
    const [deleted, bumped] = await Promise.allSettled([deleting, bumping])
    if (deleted.status === 'rejected') throw deleted.reason
    if (bumped.status === 'rejected') throw bumped.reason
    await this.#o.announce(
      [`i ${instanceId}`],
      [...entryKeys.map((key) => `k${key}`), ...encodedTags.map((tag) => `t${tag}`)],
    )
  }

  #enqueue(entryKeys: readonly string[], encodedTags: readonly string[]): void {
    const first = this.#pending.size === 0
    this.#pending.add(entryKeys, encodedTags)
    if (first) {
      this.#o.logger.warn(
        '[loadcache] [redis] invalidation queued for replay; L2 reads are paused until the queue is applied (invalidations queued meanwhile are not logged one by one)',
      )
    }
    this.#replaySoon()
  }

  /**
   * With the breaker closed (a single failed call), replay now and retry until it lands; once the breaker
   * is open, its probe replays instead.
   */
  #replaySoon(): void {
    if (this.#closed || !this.#o.commands.breaker.isClosed) return
    this.replay().catch(() => {
      const timer = setTimeout(() => this.#replaySoon(), Math.min(this.#o.breakDurationMs, 1000))
      timer.unref()
    })
  }
}
