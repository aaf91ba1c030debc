import type { Cluster, Redis } from 'ioredis'
import type { Logger } from '../core/logger.js'
import { keySlot } from '../redis/key-slot.js'
import { slotOwner } from '../redis/slot-owner.js'
import { type BusChannel, type BusChannelEvents, isSubscribedPong } from './bus-channel.js'

/** First pause before subscribing again after a failure; doubled per failure, with jitter, up to the max. */
const RETRY_MIN_MS = 50
const RETRY_MAX_MS = 2000
/** How long the owner lookup waits for a Cluster client that is still connecting. */
const READY_TIMEOUT_MS = 10_000
/** How long connecting or SSUBSCRIBE may go unanswered before the node is given up on (it may be frozen). */
const CONNECT_TIMEOUT_MS = 5000

/** The connection being set up or subscribed, the node it goes to, and how to end its subscription. */
interface Subscription {
  readonly connection: Redis
  readonly node: string
  /** Resolves with the reason once the subscription is over (or the connection never came up). */
  readonly ended: Promise<string>
  end(reason: string): void
}

/**
 * The bus channel on a Redis Cluster: subscribed on a connection of our own to the master that owns the
 * channel's slot, with sharded pub/sub (SSUBSCRIBE; the client publishes with SPUBLISH, which Redis routes
 * to that shard and delivers there only, instead of relaying a classic PUBLISH to every node).
 *
 * Why not ioredis's own `shardedSubscribers`: it hides the subscribed connections, and the L1 lease needs
 * to PING on the very connection the messages arrive on. So this class finds the slot's owner in the
 * Cluster client's slot map and opens its own connection there (a `duplicate()` of the client's connection
 * to that node: same password, TLS and other redisOptions).
 *
 * The subscription ends when the connection closes (the node died), when Redis unsubscribes it (the slot
 * migrated: Redis pushes SUNSUBSCRIBE), when SSUBSCRIBE is redirected (MOVED), or when the bus gives up on
 * a node whose PINGs go unanswered. Each time it reports `lost`, refreshes the slot map, finds the owner
 * again and subscribes there, with exponential backoff while that fails.
 *
 * A cluster without sharded pub/sub (Redis < 7: SSUBSCRIBE or SPUBLISH is an unknown command) gets classic
 * SUBSCRIBE on the same node and classic PUBLISH, and one warning.
 */
export class ClusterChannel implements BusChannel {
  readonly #cluster: Cluster
  readonly #channel: string
  readonly #slot: number
  readonly #events: BusChannelEvents
  readonly #logger: Logger
  /** True until the cluster proves it has no sharded pub/sub. */
  #sharded = true
  #current: Subscription | undefined
  #subscribed = false
  #closed = false
  #wake: (() => void) | undefined

  constructor(cluster: Cluster, channel: string, events: BusChannelEvents, logger: Logger) {
    this.#cluster = cluster
    this.#channel = channel
    this.#slot = keySlot(channel)
    this.#events = events
    this.#logger = logger
    void this.#maintain()
  }

  /**
   * PINGs the subscribed connection. An answer from a connection that is no longer subscribed (Redis
   * unsubscribed it) or from a node that no longer owns the slot (as far as the client's slot map knows)
   * ends the subscription: it is renewed at the owner.
   */
  ping(): Promise<boolean> {
    const current = this.#current
    if (current === undefined || !this.#subscribed) return Promise.resolve(false)
    return current.connection.ping().then((reply) => {
      if (!isSubscribedPong(reply)) {
        current.end('Redis ended the subscription (the slot moved)')
        return false
      }
      const owner = this.#cluster.slots[this.#slot]?.[0]
      if (owner !== undefined && owner !== current.node) {
        current.end(`slot ${this.#slot} is now owned by ${owner}`)
        return false
      }
      return true
    })
  }

  async publish(message: string): Promise<unknown> {
    if (this.#sharded) {
      try {
        return await this.#cluster.spublish(this.#channel, message)
      } catch (error) {
        if (!isUnknownCommand(error)) throw error
        this.#shardingUnsupported(error)
      }
    }
    return this.#cluster.publish(this.#channel, message)
  }

  resubscribe(reason: string): void {
    this.#current?.end(reason)
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#wake?.()
    // Also a connection still connecting: nothing else would stop it.
    this.#current?.connection.disconnect()
  }

  /** Subscribes, waits until the subscription ends, and subscribes again, until closed. */
  async #maintain(): Promise<void> {
    let attempts = 0
    let failures = 0
    while (!this.#closed) {
      // The first attempt trusts the slot map the client just fetched; later ones fetch it again (the
      // subscription ended or failed because the owner changed, or may have).
      const outcome = await this.#subscribeOnce(attempts++ > 0)
      if (this.#closed) return
      if (outcome === 'retry now') continue
      if (outcome.wasUp) {
        failures = 0
      } else {
        // Said once per run of failures (a failover takes a few), then only in the debug log.
        const message = `[loadcache] [bus] cannot subscribe: ${outcome.reason}; retrying`
        if (failures === 0) this.#logger.warn(message)
        else this.#logger.debug?.(message)
        failures++
      }
      const backoff = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** failures)
      // Jitter: after a failover every process of the fleet comes back to the same node at once.
      await this.#pause(backoff * (0.5 + Math.random() / 2))
    }
  }

  /**
   * One subscription, from finding the owner until it ends: whether it came up, and why it ended or never
   * did; or `retry now` when the cluster turned out to have no sharded pub/sub (classic is tried at once).
   */
  async #subscribeOnce(refresh: boolean): Promise<{ wasUp: boolean; reason: string } | 'retry now'> {
    let subscription: Subscription | undefined
    let wasUp = false
    let reason = 'closed'
    try {
      const owner = await slotOwner(this.#cluster, this.#slot, { refresh, readyTimeoutMs: READY_TIMEOUT_MS })
      if (this.#closed) return { wasUp, reason }
      subscription = this.#open(owner)
      const { connection, node, ended } = subscription
      // Connecting includes ioredis's ready check (INFO): a frozen node completes the TCP handshake (the
      // kernel does) and then never answers, and no timeout of ioredis covers that.
      const notReady = await untilFirst(connection.connect(), ended, CONNECT_TIMEOUT_MS)
      if (notReady !== undefined || this.#closed) return { wasUp, reason: `${node}: ${notReady ?? reason}` }
      const sharded = this.#sharded
      const sentAt = performance.now()
      const refused = await untilFirst(
        sharded ? connection.ssubscribe(this.#channel) : connection.subscribe(this.#channel),
        ended,
        CONNECT_TIMEOUT_MS,
      )
      if (refused !== undefined || this.#closed)
        return { wasUp, reason: `${sharded ? 'SSUBSCRIBE' : 'SUBSCRIBE'} at ${node}: ${refused ?? reason}` }
      wasUp = true
      this.#subscribed = true
      this.#logger.debug?.(
        `[loadcache] [bus] ${sharded ? 'sharded' : 'classic'} subscription at ${node} (slot ${this.#slot})`,
      )
      this.#events.subscribed(sentAt)
      reason = await ended
      return { wasUp, reason }
    } catch (error) {
      if (this.#sharded && isUnknownCommand(error)) {
        this.#shardingUnsupported(error)
        return 'retry now'
      }
      reason = `${subscription ? `${subscription.node}: ` : ''}${(error as Error)?.message ?? error}`
      return { wasUp, reason }
    } finally {
      this.#subscribed = false
      if (this.#current === subscription) this.#current = undefined
      subscription?.connection.disconnect()
      // Also when something above threw after the bus was told it is up: it must hear that it is down.
      if (wasUp) this.#events.lost(reason)
    }
  }

  /** A connection of our own to `owner` (not connected yet), with every way its subscription can end wired. */
  #open(owner: Redis): Subscription {
    const node = `${owner.options.host}:${owner.options.port}`
    const connection = owner.duplicate({
      lazyConnect: true,
      // Reconnecting to the same node is wrong after a failover: the loop finds the owner again instead.
      retryStrategy: () => null,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
      enableOfflineQueue: false,
      readOnly: false,
    })
    let end!: (reason: string) => void
    const ended = new Promise<string>((resolve) => {
      end = resolve
    })
    connection.on('error', (error: Error) => {
      this.#logger.debug?.(`[loadcache] [bus] connection error: ${error.message}`)
      // ioredis has no event for the SUNSUBSCRIBE Redis pushes when the slot migrates away: it reports the
      // reply it did not expect as an error. (The PING check in `ping` catches it too, a little later.)
      if (error.message.includes('sunsubscribe')) end('Redis ended the subscription (the slot moved)')
    })
    connection.once('close', () => end(`connection to ${node} closed`))
    // ioredis swallows a MOVED answer to SSUBSCRIBE (its promise never settles) and emits this instead.
    connection.on('moved', () => end(`slot ${this.#slot} moved away from ${node}`))
    for (const event of ['smessage', 'message']) {
      connection.on(event, (from: string, message: string) => {
        if (from === this.#channel) this.#events.message(message)
      })
    }
    const subscription = { connection, node, ended, end }
    this.#current = subscription
    return subscription
  }

  #shardingUnsupported(error: unknown): void {
    if (!this.#sharded) return
    this.#sharded = false
    this.#logger.warn(
      `[loadcache] [bus] this Redis Cluster has no sharded pub/sub (${(error as Error)?.message ?? error}): the bus falls back to classic PUBLISH, which every node relays to every other node, and its L1 lease no longer covers that relay. Upgrade every node to Redis 7 or newer to keep the bus within one shard.`,
    )
    // A subscription made while SSUBSCRIBE still worked would no longer hear classic messages.
    this.#current?.end('falling back to classic pub/sub')
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      timer.unref()
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.#wake = done
    })
  }
}

/** Whether Redis refused a command it does not have (or has renamed away), as Redis < 7 does SSUBSCRIBE. */
function isUnknownCommand(error: unknown): boolean {
  return error instanceof Error && /unknown command/i.test(error.message)
}

/**
 * Waits for `command` to succeed. Resolves undefined when it did, or the reason it did not: the
 * subscription ended first, or `timeoutMs` passed. Rejects when the command does.
 */
function untilFirst(
  command: Promise<unknown>,
  ended: Promise<string>,
  timeoutMs: number,
): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer in ${timeoutMs} ms`), timeoutMs)
    timer.unref()
  })
  return Promise.race([command.then(() => undefined), ended, timedOut]).finally(() => clearTimeout(timer))
}
