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

/**
 * The invalidation bus: one Redis pub/sub subscription per cache on `<ns>:bus`. It carries keys and tags,
 * never values. Messages are published by the Redis scripts themselves (in the same round trip as the
 * write or invalidation they announce), so there is no window where Redis changed and nobody was told.
 *
 * Message format, one item per line:
 * - `f`, then entry keys: fill notices.
 * - `i <origin>`, then `k<entryKey>` and `t<encodedTag>` lines: invalidations. The origin process has already
 *   evicted locally and skips its own message.
 */
export class Bus {
  readonly #subscriber: RedisClient
  readonly #channel: string
  readonly #instanceId: string
  readonly #handlers: BusHandlers
  readonly #logger: Logger
  #connected = false
  #closed = false

  constructor(
    client: RedisClient,
    channel: string,
    instanceId: string,
    handlers: BusHandlers,
    logger: Logger,
  ) {
    this.#channel = channel
    this.#instanceId = instanceId
    this.#handlers = handlers
    this.#logger = logger
    // A subscribed connection cannot run other commands, so the bus has its own.
    this.#subscriber = client.duplicate()
    this.#subscriber.on('error', (error: Error) => {
      this.#logger.debug?.(`[loadcache] [bus] connection error: ${error.message}`)
    })
    this.#subscriber.on('ready', () => this.#subscribe())
    for (const event of ['close', 'end', 'reconnecting']) {
      this.#subscriber.on(event, () => this.#setConnected(false))
    }
    this.#subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.#channel) this.#receive(message)
    })
    // Subscribing now also connects a client made with `lazyConnect` (its duplicate is lazy too, and would
    // otherwise never connect); on a client that is still connecting, ioredis queues it.
    this.#subscribe()
  }

  /** True while the subscription is confirmed live. */
  get connected(): boolean {
    return this.#connected
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#setConnected(false)
    try {
      await this.#subscriber.quit()
    } catch {
      this.#subscriber.disconnect()
    }
  }

  #subscribe(): void {
    if (this.#closed) return
    this.#subscriber.subscribe(this.#channel).then(
      () => this.#setConnected(true),
      (error: Error) => this.#logger.warn(`[loadcache] [bus] subscribe failed: ${error.message}`),
    )
  }

  #setConnected(connected: boolean): void {
    if (this.#connected === connected || (connected && this.#closed)) return
    this.#connected = connected
    if (connected) {
      this.#logger.info?.('[loadcache] [bus] subscribed; L1 is in use')
      this.#handlers.onUp()
    } else {
      if (!this.#closed)
        this.#logger.warn('[loadcache] [bus] disconnected; L1 is flushed and bypassed until it is back')
      this.#handlers.onDown()
    }
  }

  #receive(message: string): void {
    const lines = message.split('\n')
    const head = lines[0] ?? ''
    if (head === 'f') {
      this.#handlers.onFillNotice(lines.slice(1))
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
    if (keys.length > 0) this.#handlers.onFillNotice(keys)
    if (head.slice(2) !== this.#instanceId) this.#handlers.onInvalidate(keys, tags)
  }
}
