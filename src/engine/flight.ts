import type { CacheEntry } from '../core/entry.js'
import type { CacheId } from '../core/keys.js'

/**
 * What a caller that joined another request's fill gets when the value may be consumed only once (an async
 * iterable): it must resolve the value itself.
 */
export const NOT_SHARED: unique symbol = Symbol('loadcache.notShared')

/**
 * One fill of one key in this process. Every caller of the process that wants the key while the fill runs
 * joins it instead of starting another (the process-wide level of deduplication, between the per-request
 * DataLoader and the Redis lock).
 *
 * The promise resolves to the value, or to an `Error` for that id: it never rejects, so a flight nobody
 * awaits cannot become an unhandled rejection, and DataLoader turns an `Error` result into a rejection of
 * just that load.
 */
export class Flight {
  readonly key: string
  readonly id: CacheId
  /** The engine's invalidation sequence when the flight started; see CacheEngine#mayKeepInMemory. */
  readonly startSeq: number
  /** Epoch ms when the flight started; an old one is not joined (see CacheEngine#loadBatch). */
  readonly startedAt: number
  readonly promise: Promise<unknown>
  /** Set when the key was invalidated while the flight ran: its result must not be kept in L1. */
  dirty = false
  settled = false
  /** An expired entry still within grace, served if the fetch fails (fail-safe). */
  stale: CacheEntry | undefined
  /** The entry the value came from (a hit, or this fill's stored entry); undefined when it has none. */
  entry: CacheEntry | undefined
  /**
   * Set when an invalidation of the key or of one of the value's tags overtook this fill (its write was
   * refused, or this process heard the invalidation while it ran; a write refused because the fill outlived
   * its lock counts too, as it cannot tell): the value may be older than data an invalidation already
   * announced, so nothing downstream may keep it (see BatchOptions.observe).
   */
  overtaken = false
  /**
   * Set when the value may only go to the callers that started the fill (see `NOT_SHARED`); callers that
   * joined it get `NOT_SHARED` instead.
   */
  ownerResult: unknown
  #resolve!: (value: unknown) => void
  readonly #onSettle: (flight: Flight) => void

  constructor(
    key: string,
    id: CacheId,
    startSeq: number,
    startedAt: number,
    onSettle: (flight: Flight) => void,
  ) {
    this.key = key
    this.id = id
    this.startSeq = startSeq
    this.startedAt = startedAt
    this.#onSettle = onSettle
    this.promise = new Promise((resolve) => {
      this.#resolve = resolve
    })
  }

  /** Settles every caller with `result`; with `shareable: false`, joiners get `NOT_SHARED` instead. */
  settle(result: unknown, shareable = true): void {
    if (this.settled) return
    this.settled = true
    this.#onSettle(this)
    if (!shareable) this.ownerResult = result
    this.#resolve(shareable ? result : NOT_SHARED)
  }
}
