import type { Cluster } from 'ioredis'
import type { Logger } from '../core/logger.js'
import type { RedisClient } from '../redis/scripts.js'
import type { BusChannel, BusChannelEvents } from './bus-channel.js'
import { ClusterChannel } from './cluster-channel.js'
import { StandaloneChannel } from './standalone-channel.js'

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
 * A PING unanswered this long (at least; see `#unansweredLimitMs`) means the node is frozen or cut off:
 * the channel is asked to give up on the connection (on a Cluster it then finds the slot's owner again,
 * which after a failover is another node; a partitioned node's socket may stay open for minutes).
 */
const MIN_UNANSWERED_MS = 1000

/**
 * A move of the system clock against the monotonic one bigger than this between two clock checks is a step
 * or a suspend (Date.now() has 1 ms resolution; slewing moves the two together on Linux, and elsewhere by at
 * most 0.5 ms per second).
 */
const CLOCK_STEP_MS = 10

/**
 * The invalidation bus: one Redis pub/sub subscription per cache on `<ns>:bus`. It carries keys and tags,
 * never values. Messages are published by the Redis scripts themselves where they can (in the same round
 * trip as the write or invalidation they announce), else by the client right after.
 *
 * Topology (see the two `BusChannel`s): on a standalone Redis, classic pub/sub on a duplicate of the client.
 * On a Redis Cluster, sharded pub/sub (Redis 7+): the bus subscribes with SSUBSCRIBE on its own connection
 * to the master that owns the channel's slot, and publishes with SPUBLISH, so messages stay within that
 * shard instead of being relayed to every node; classic pub/sub on that node when the cluster is older.
 *
 * The L1 lease. A socket that looks connected proves nothing: a frozen Redis or a partition leaves it open
 * while invalidations go unheard. So the bus sends a PING on its subscribed connection every
 * `maxStalenessMs / 4`. Redis answers in order on that connection, after every message it pushed before, so
 * when the answer to a PING sent at time T arrives, every invalidation Redis applied before T has been
 * heard. L1 may be used only while the latest answered PING was sent less than `maxStalenessMs` ago: a
 * value invalidated elsewhere is served from L1 for at most `maxStalenessMs` after the invalidation
 * resolved, whatever happens to Redis or the network.
 *
 * The lease is measured on the monotonic clock (performance.now(): when each answered PING was sent) and
 * projected onto the system clock (Date.now()), which a hit reads anyway for its entry's TTL, so a hit
 * costs one clock reading. The projection is redone at every renewal tick and every answer, from the
 * current difference of the two clocks, so a step of the system clock moves it with the clock:
 * - backward: until the next tick runs, the lease looks younger by at most the step (ticks wait for the
 *   event loop: hits answered in one chain of promises do not let one run); a step back past the latest
 *   answered PING makes it look sent in the future, which voids it at once;
 * - forward, or a suspend (which the monotonic clock does not count): the lease is void until a PING sent
 *   after the jump is answered (what was heard before may not cover the time that passed); until the tick
 *   notices, the jump only ages it.
 *
 * Message format, one item per line:
 * - `f`, then entry keys: fill notices (only keys someone waits on; see the WRITE script).
 * - `i <origin>`, then `k<entryKey>` and `t<encodedTag>` lines: invalidations. The origin process has already
 *   evicted locally and skips its own message.
 */
export class Bus {
  readonly #channel: BusChannel
  readonly #o: BusOptions
  #connected = false
  #closed = false
  /** performance.now() when the latest answered PING (or the subscription) was sent. */
  #confirmedMono = Number.NEGATIVE_INFINITY
  /**
   * Date.now() − performance.now() at the latest clock check: `#confirmedMono` plus this is the lease's
   * instant on the system clock, what `leased` compares with.
   */
  #clockOffset = Date.now() - performance.now()
  /** performance.now() when a forward jump of the system clock was last noticed: older PINGs renew nothing. */
  #jumpedAt = Number.NEGATIVE_INFINITY
  /** Lease PINGs not answered yet, oldest first (Redis answers in order), by performance.now() sent. */
  #pings: { readonly sentAt: number }[] = []
  /** Bumped when the subscription goes up or down: answers to an earlier subscription's PINGs are ignored. */
  #epoch = 0
  readonly #timer: NodeJS.Timeout

  constructor(client: RedisClient, options: BusOptions) {
    this.#o = options
    const events: BusChannelEvents = {
      subscribed: (sentAt) => {
        this.#confirm(sentAt)
        this.#setConnected(true)
      },
      lost: (reason) => this.#setConnected(false, reason),
      message: (message) => this.#receive(message),
    }
    this.#channel = isCluster(client)
      ? new ClusterChannel(client, options.channel, events, options.logger)
      : new StandaloneChannel(client, options.channel, events, options.logger)
    this.#timer = setInterval(() => this.#renewLease(), Math.max(25, Math.floor(options.maxStalenessMs / 4)))
    this.#timer.unref()
  }

  /** True while the subscription is confirmed live. */
  get connected(): boolean {
    return this.#connected
  }

  /**
   * Whether L1 may be used at `now` (Date.now()): connected, with a lease younger than maxStalenessMs and
   * not from the future (a clock stepped back past it since the last check).
   */
  leased(now: number): boolean {
    const age = now - (this.#confirmedMono + this.#clockOffset)
    return this.#connected && age >= 0 && age < this.#o.maxStalenessMs
  }

  /**
   * Publishes a message on the bus channel from the client (Redis Cluster: scripts cannot): SPUBLISH on a
   * Cluster with sharded pub/sub, else PUBLISH. Rejects as the Redis command does.
   */
  publish(message: string): Promise<unknown> {
    return this.#channel.publish(message)
  }

  /** Stops renewing the lease and closes the bus's own connection; the client passed in stays open. */
  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    this.#setConnected(false)
    await this.#channel.close()
  }

  #renewLease(): void {
    this.#checkClock()
    if (!this.#connected || this.#closed) return
    const now = performance.now()
    const oldest = this.#pings[0]
    if (oldest !== undefined && now - oldest.sentAt > this.#unansweredLimitMs()) {
      // The verdict waits one setImmediate (after the poll phase): after the event loop was blocked, the
      // answer may be waiting in the socket, and a busy process must not drop a healthy connection.
      const epoch = this.#epoch
      setImmediate(() => {
        if (epoch !== this.#epoch || this.#pings[0] !== oldest) return
        this.#channel.resubscribe(
          `no answer to a PING for ${Math.round(performance.now() - oldest.sentAt)} ms`,
        )
      })
    }
    if (this.#pings.length >= MAX_PINGS_IN_FLIGHT) return
    const ping = { sentAt: now }
    const epoch = this.#epoch
    this.#pings.push(ping)
    const settle = (subscribed: boolean) => {
      if (epoch !== this.#epoch) return
      this.#pings.splice(this.#pings.indexOf(ping), 1)
      if (subscribed) this.#confirm(ping.sentAt)
    }
    this.#channel.ping().then(settle, () => settle(false))
  }

  /** Renews the lease from an answer to what was sent at `sentAt` (performance.now()); answers come in order. */
  #confirm(sentAt: number): void {
    this.#checkClock()
    if (sentAt <= this.#jumpedAt) return
    this.#confirmedMono = sentAt
  }

  /**
   * Compares the system clock with the monotonic one and projects the lease onto the system clock again.
   * A forward jump (a suspend, a step) voids the lease: PINGs sent before it renew nothing.
   */
  #checkClock(): void {
    const offset = Date.now() - performance.now()
    const moved = offset - this.#clockOffset
    this.#clockOffset = offset
    if (moved > CLOCK_STEP_MS) {
      this.#jumpedAt = performance.now()
      this.#confirmedMono = Number.NEGATIVE_INFINITY
      this.#o.logger.debug?.(
        `[loadcache] [bus] the system clock jumped ${Math.round(moved)} ms ahead of the monotonic one (a suspend or a step); L1 waits for the next answered PING`,
      )
    } else if (moved < -CLOCK_STEP_MS) {
      this.#o.logger.debug?.(
        `[loadcache] [bus] the system clock stepped back ${Math.round(-moved)} ms; the lease is measured again`,
      )
    }
  }

  #unansweredLimitMs(): number {
    return Math.max(MIN_UNANSWERED_MS, 2 * this.#o.maxStalenessMs)
  }

  #setConnected(connected: boolean, reason?: string): void {
    if (this.#connected === connected || (connected && this.#closed)) return
    this.#connected = connected
    this.#epoch++
    this.#pings = []
    if (connected) {
      this.#o.logger.info?.('[loadcache] [bus] subscribed; L1 is in use')
      this.#o.handlers.onUp()
    } else {
      if (!this.#closed)
        this.#o.logger.warn(
          `[loadcache] [bus] disconnected${reason ? ` (${reason})` : ''}; L1 is flushed and bypassed until it is back`,
        )
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

function isCluster(client: RedisClient): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true
}
