import type { Redis } from 'ioredis'
import { withDeadline } from '../core/deadline.js'
import type { Logger } from '../core/logger.js'
import type { BusChannel, BusChannelEvents } from './bus-channel.js'

/** How long close() waits for Redis to answer the subscriber's QUIT before dropping the connection. */
const QUIT_WAIT_MS = 1000

/**
 * The bus channel on a standalone Redis (or one behind Sentinel): classic SUBSCRIBE on a duplicate of the
 * client, which ioredis reconnects and resubscribes. Messages are published by the Redis scripts themselves,
 * in the same round trip as the write or invalidation they announce; `publish` is the client's PUBLISH.
 *
 * Sharded pub/sub would gain nothing here: with one node, a classic PUBLISH is relayed nowhere.
 */
export class StandaloneChannel implements BusChannel {
  readonly #client: Redis
  readonly #subscriber: Redis
  readonly #channel: string
  readonly #events: BusChannelEvents
  readonly #logger: Logger
  #closed = false

  constructor(client: Redis, channel: string, events: BusChannelEvents, logger: Logger) {
    this.#client = client
    this.#channel = channel
    this.#events = events
    this.#logger = logger
    // A subscribed connection cannot run other commands, so the bus has its own.
    this.#subscriber = client.duplicate()
    this.#subscriber.on('error', (error: Error) => {
      logger.debug?.(`[loadcache] [bus] connection error: ${error.message}`)
    })
    this.#subscriber.on('ready', () => this.#subscribe())
    for (const event of ['close', 'end', 'reconnecting']) {
      this.#subscriber.on(event, () => events.lost(`connection ${event}`))
    }
    this.#subscriber.on('message', (from: string, message: string) => {
      if (from === channel) events.message(message)
    })
    // Subscribing now also connects a client made with `lazyConnect` (its duplicate is lazy too, and would
    // otherwise never connect); on a client that is still connecting, ioredis queues it.
    this.#subscribe()
  }

  /**
   * Any answer counts: a standalone Redis never ends a classic subscription on its own, and a lost
   * connection is reported by its `close` event.
   */
  ping(): Promise<boolean> {
    return this.#subscriber.ping().then(() => true)
  }

  publish(message: string): Promise<unknown> {
    return this.#client.publish(this.#channel, message)
  }

  /** Nothing to do: there is no other node, and ioredis reconnects a connection that closes. */
  resubscribe(): void {}

  async close(): Promise<void> {
    this.#closed = true
    // QUIT lets Redis close the connection cleanly; a frozen Redis never answers it, and close() must not
    // hang on it. Without a connection (Redis down: ioredis reconnecting) there is nobody to tell.
    if (this.#subscriber.status === 'ready') {
      await withDeadline(this.#subscriber.quit(), QUIT_WAIT_MS, () => new Error('QUIT unanswered')).catch(
        () => {},
      )
    }
    this.#subscriber.disconnect()
  }

  #subscribe(): void {
    if (this.#closed) return
    const sentAt = performance.now()
    this.#subscriber.subscribe(this.#channel).then(
      () => {
        if (!this.#closed) this.#events.subscribed(sentAt)
      },
      (error: Error) => this.#logger.warn(`[loadcache] [bus] subscribe failed: ${error.message}`),
    )
  }
}
