import type { Logger } from '../core/logger.js'
import type { RedisClient } from '../redis/scripts.js'

export interface BusHandlers {
  /** Another process invalidated these entry keys and (encoded) tags. */
  onInvalidate(entryKeys: string[], encodedTags: string[]): void
  /** A fill of these entry keys finished (written or not), or they were invalidated: waiters should re-read. */
  onFillNotice(entryKeys: string[]): void
  /** The subscription is live again; what was missed while down is unknown. */
  onUp(): void
  /** The subscription is gone: invalidations from other processes can no longer be heard. */
  onDown(): void
}

export interface BusOptions {
  readonly channel: string
  readonly instanceId: string
  /**
   * How stale L1 may be, at most, in ms: the process may serve from L1 only while it holds a lease, proof
   * that it has heard every invalidation Redis applied up to `maxStalenessMs` ago (see `leased`).
   */
  readonly maxStalenessMs: number
  readonly handlers: BusHandlers
  readonly logger: Logger
}

/** Lease renewals (PINGs) in flight at most: a frozen Redis must not pile them up. */
const MAX_PINGS_IN_FLIGHT = 4

/**
 * The invalidation bus: one Redis pub/sub subscription per cache on `<ns>:bus`. It carries keys and tags,
 * never values. Messages are published by the Redis scripts themselves where they can (in the same round
 * trip as the write or invalidation they announce), else by the client right after.
 *
 * The L1 lease. A socket that looks connected proves nothing: a frozen Redis or a partition leaves it open
 * while invalidations go unheard. So the bus sends a PING on its subscribed connection every
 * `maxStalenessMs / 4`. Redis answers in order on that connection, after every message it pushed before, so
 * when the answer to a PING sent at time T arrives, every invalidation Redis applied before T has been
 * heard. L1 may be used only while the latest answered PING was sent less than `maxStalenessMs` ago: a
 * value invalidated elsewhere is served from L1 for at most `maxStalenessMs` after the invalidation
 * resolved, whatever happens to Redis or the network.
 *
 * Message format, one item per line:
 * - `f`, then entry keys: fill notices (only keys someone waits on; see the WRITE script).
 * - `i <origin>`, then `k<entryKey>` and `t<encodedTag>` lines: invalidations. The origin process has already
 *   evicted locally and skips its own message.
 */
export class Bus {
  readonly #client: RedisClient
  readonly #subscriber: RedisClient
  readonly #o: BusOptions
  #connected = false
  #closed = false
  /** performance.now() when the latest answered PING (or the subscription) was sent. */
  #confirmedAt = Number.NEGATIVE_INFINITY
  #pingsInFlight = 0
  readonly #timer: NodeJS.Timeout

  constructor(client: RedisClient, options: BusOptions) {
    this.#client = client
    this.#o = options
    // A subscribed connection cannot run other commands, so the bus has its own.
    this.#subscriber = client.duplicate()
    this.#subscriber.on('error', (error: Error) => {
      this.#o.logger.debug?.(`[loadcache] [bus] connection error: ${error.message}`)
    })
    this.#subscriber.on('ready', () => this.#subscribe())
    for (const event of ['close', 'end', 'reconnecting']) {
      this.#subscriber.on(event, () => this.#setConnected(false))
    }
    this.#subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.#o.channel) this.#receive(message)
    })
    this.#timer = setInterval(() => this.#renewLease(), Math.max(25, Math.floor(options.maxStalenessMs / 4)))
    this.#timer.unref()
    // Subscribing now also connects a client made with `lazyConnect` (its duplicate is lazy too, and would
    // otherwise never connect); on a client that is still connecting, ioredis queues it.
    this.#subscribe()
  }

  /** True while the subscription is confirmed live. */
  get connected(): boolean {
    return this.#connected
  }

  /** Whether L1 may be used at `now` (performance.now()): connected, with a lease younger than maxStalenessMs. */
  leased(now: number): boolean {
    return this.#connected && now - this.#confirmedAt < this.#o.maxStalenessMs
  }

  /** Publishes a message on the bus channel from the client (Redis Cluster: scripts cannot). */
  publish(message: string): Promise<unknown> {
    return this.#client.publish(this.#o.channel, message)
  }

  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    this.#setConnected(false)
    try {
      await this.#subscriber.quit()
    } catch {
      this.#subscriber.disconnect()
    }
  }

  #subscribe(): void {
    if (this.#closed) return
    const sentAt = performance.now()
    this.#subscriber.subscribe(this.#o.channel).then(
      () => {
        this.#confirmedAt = Math.max(this.#confirmedAt, sentAt)
        this.#setConnected(true)
      },
      (error: Error) => this.#o.logger.warn(`[loadcache] [bus] subscribe failed: ${error.message}`),
    )
  }

  #renewLease(): void {
    if (!this.#connected || this.#closed || this.#pingsInFlight >= MAX_PINGS_IN_FLIGHT) return
    const sentAt = performance.now()
    this.#pingsInFlight++
    this.#subscriber.ping().then(
      () => {
        this.#pingsInFlight--
        this.#confirmedAt = Math.max(this.#confirmedAt, sentAt)
      },
      () => {
        this.#pingsInFlight--
      },
    )
  }

  #setConnected(connected: boolean): void {
    if (this.#connected === connected || (connected && this.#closed)) return
    this.#connected = connected
    if (connected) {
      this.#o.logger.info?.('[loadcache] [bus] subscribed; L1 is in use')
      this.#o.handlers.onUp()
    } else {
      this.#pingsInFlight = 0
      if (!this.#closed)
        this.#o.logger.warn('[loadcache] [bus] disconnected; L1 is flushed and bypassed until it is back')
      this.#o.handlers.onDown()
    }
  }

  #receive(message: string): void {
    const lines = message.split('\n')
    const head = lines[0] ?? ''
    if (head === 'f') {
      this.#o.handlers.onFillNotice(lines.slice(1))
      return
    }
    if (!head.startsWith('i ')) return
    const keys: string[] = []
    const tags: string[] = []
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!
      if (line.startsWith('k')) keys.push(line.slice(1))
      else if (line.startsWith('t')) tags.push(line.slice(1))
    }
    if (keys.length > 0) this.#o.handlers.onFillNotice(keys)
    if (head.slice(2) !== this.#o.instanceId) this.#o.handlers.onInvalidate(keys, tags)
  }
}
