/**
 * Measuring from Redis itself, on every node (the standalone server, or each master of the Cluster).
 *
 * - `INFO stats cpu commandstats` before and after a measurement; the figures are the deltas, summed over
 *   the nodes. Deltas, not `CONFIG RESETSTAT` (which would also reset what the next snapshot compares).
 *   The reply to the first INFO is written after that snapshot was taken, so it shows in the second one:
 *   its size is subtracted from the output bytes.
 * - `CLUSTER INFO` on a Cluster: how many pub/sub messages the nodes relayed to each other over the cluster
 *   bus (`cluster_stats_messages_publish_sent`: a classic PUBLISH goes to every node;
 *   `…_publishshard_sent`: a sharded one goes only to the shard's replicas, and there are none here). Those
 *   bytes are not in `total_net_output_bytes`, which counts client connections only.
 * - A tap: a subscriber of the bench's own on the bus channel (classic SUBSCRIBE, or SSUBSCRIBE on the
 *   master that owns the channel's slot for the new design on a Cluster). It counts the messages and their
 *   bytes, by kind. Every subscriber receives every message, so the bytes Redis delivers on the bus are the
 *   bytes one subscriber receives times the number of subscribers (`PUBSUB NUMSUB` / `SHARDNUMSUB`, the tap
 *   excluded). The tap's own deliveries are subtracted from the output bytes reported.
 */
import { Redis } from 'ioredis'

export interface NodeSnapshot {
  readonly port: number
  readonly outputBytes: number
  readonly inputBytes: number
  readonly cpuSeconds: number
  readonly calls: Readonly<Record<string, number>>
  /** Microseconds Redis spent in each command (`INFO commandstats`). */
  readonly usec: Readonly<Record<string, number>>
  readonly clusterPublishSent: number
  readonly clusterPublishShardSent: number
  /** Bytes of this INFO reply as sent (RESP bulk string): counted in the next snapshot's output. */
  readonly replyBytes: number
  readonly at: number
}

export interface RedisDelta {
  readonly seconds: number
  readonly outputBytes: number
  readonly inputBytes: number
  readonly cpuMs: number
  /** Calls per command (`INFO commandstats`, so commands run inside scripts are counted too). */
  readonly calls: Readonly<Record<string, number>>
  readonly usec: Readonly<Record<string, number>>
  /** Messages one node relayed to another over the cluster bus (classic + sharded); 0 standalone. */
  readonly clusterRelays: number
}

/** Connections of the bench's own to every node, for INFO and PUBSUB (never counted as the fleet's). */
export class RedisNodes {
  readonly ports: readonly number[]
  readonly cluster: boolean
  readonly #clients: Redis[]

  constructor(ports: readonly number[], cluster: boolean) {
    this.ports = ports
    this.cluster = cluster
    this.#clients = ports.map((port) => {
      const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 })
      client.on('error', () => {})
      return client
    })
  }

  async snapshot(): Promise<NodeSnapshot[]> {
    return Promise.all(
      this.#clients.map(async (client, i) => {
        const info = (await client.call('INFO', 'stats', 'cpu', 'commandstats')) as string
        const clusterInfo = this.cluster ? ((await client.call('CLUSTER', 'INFO')) as string) : ''
        const field = (text: string, name: string) =>
          Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? 0)
        const calls: Record<string, number> = {}
        const usec: Record<string, number> = {}
        for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
          calls[match[1]!] = Number(match[2])
          usec[match[1]!] = Number(match[3])
        }
        const length = Buffer.byteLength(info)
        return {
          port: this.ports[i]!,
          outputBytes: field(info, 'total_net_output_bytes'),
          inputBytes: field(info, 'total_net_input_bytes'),
          cpuSeconds: field(info, 'used_cpu_sys') + field(info, 'used_cpu_user'),
          calls,
          usec,
          clusterPublishSent: field(clusterInfo, 'cluster_stats_messages_publish_sent'),
          clusterPublishShardSent: field(clusterInfo, 'cluster_stats_messages_publishshard_sent'),
          replyBytes: `$${length}\r\n`.length + length + 2,
          at: performance.now(),
        }
      }),
    )
  }

  /** Removes every key from every master (a replica-less Cluster here: every node is a master). */
  async flush(): Promise<void> {
    await Promise.all(this.#clients.map((client) => client.flushall()))
  }

  /** Subscribers of a channel, all nodes together (classic) or on the nodes that have it (sharded). */
  async subscribers(channel: string, sharded: boolean): Promise<number> {
    const counts = await Promise.all(
      this.#clients.map(async (client) => {
        const reply = (await client.call('PUBSUB', sharded ? 'SHARDNUMSUB' : 'NUMSUB', channel)) as [
          string,
          number,
        ]
        return Number(reply[1] ?? 0)
      }),
    )
    return counts.reduce((a, b) => a + b, 0)
  }

  /** The port of the master owning a key's slot (the standalone server's port without a Cluster). */
  async slotOwner(key: string): Promise<number> {
    if (!this.cluster) return this.ports[0]!
    const client = this.#clients[0]!
    const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key))
    const ranges = (await client.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][]
    const range = ranges.find(([from, to]) => slot >= from && slot <= to)
    if (range === undefined) throw new Error(`no master owns slot ${slot}`)
    return Number(range[2][1])
  }

  close(): void {
    for (const client of this.#clients) client.disconnect()
  }
}

export function delta(before: readonly NodeSnapshot[], after: readonly NodeSnapshot[]): RedisDelta {
  let outputBytes = 0
  let inputBytes = 0
  let cpuSeconds = 0
  let clusterRelays = 0
  const calls: Record<string, number> = {}
  const usec: Record<string, number> = {}
  before.forEach((b, i) => {
    const a = after[i]!
    outputBytes += a.outputBytes - b.outputBytes - b.replyBytes
    inputBytes += a.inputBytes - b.inputBytes
    cpuSeconds += a.cpuSeconds - b.cpuSeconds
    clusterRelays +=
      a.clusterPublishSent - b.clusterPublishSent + (a.clusterPublishShardSent - b.clusterPublishShardSent)
    for (const [name, count] of Object.entries(a.calls)) {
      const diff = count - (b.calls[name] ?? 0)
      if (diff <= 0 || name === 'info' || name === 'cluster|info') continue
      calls[name] = (calls[name] ?? 0) + diff
      usec[name] = (usec[name] ?? 0) + (a.usec[name] ?? 0) - (b.usec[name] ?? 0)
    }
  })
  const seconds = (Math.max(...after.map((s) => s.at)) - Math.min(...before.map((s) => s.at))) / 1000
  return { seconds, outputBytes, inputBytes, cpuMs: cpuSeconds * 1000, calls, usec, clusterRelays }
}

export interface TapCounts {
  /** Messages heard, and their payload bytes, by kind: `f` fill notices, `i` invalidations. */
  readonly notices: number
  readonly noticeBytes: number
  readonly invalidations: number
  readonly invalidationBytes: number
  readonly other: number
  /** Every message as Redis writes it to one subscriber (RESP push: kind, channel, payload). */
  readonly wireBytes: number
  /** Keys named by fill notices. */
  readonly noticeKeys: number
}

/** The bench's own subscriber on the bus channel; see the module comment. */
export class BusTap {
  readonly sharded: boolean
  readonly #channel: string
  readonly #subscriber: Redis
  readonly #publisher: Redis
  readonly #markers = new Map<string, () => void>()
  #counts = emptyCounts()

  private constructor(port: number, channel: string, sharded: boolean) {
    this.#subscriber = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 })
    this.#publisher = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 })
    this.#subscriber.on('error', () => {})
    this.#publisher.on('error', () => {})
    this.#channel = channel
    this.sharded = sharded
  }

  static async open(port: number, channel: string, sharded: boolean): Promise<BusTap> {
    const tap = new BusTap(port, channel, sharded)
    const subscriber = tap.#subscriber
    // RESP2 push: *3, the kind ("message" / "smessage"), the channel, the payload.
    const head = (kind: string) =>
      `*3\r\n$${kind.length}\r\n${kind}\r\n$${Buffer.byteLength(channel)}\r\n${channel}\r\n`.length
    const overhead = head(sharded ? 'smessage' : 'message')
    subscriber.on(sharded ? 'smessage' : 'message', (from: string, message: string) => {
      if (from !== channel) return
      const marker = tap.#markers.get(message)
      if (marker !== undefined) {
        tap.#markers.delete(message)
        return marker()
      }
      const bytes = Buffer.byteLength(message)
      const c = tap.#counts
      c.wireBytes += overhead + `$${bytes}\r\n`.length + bytes + 2
      if (message.startsWith('f\n') || message === 'f') {
        c.notices++
        c.noticeBytes += bytes
        c.noticeKeys += message.split('\n').length - 1
      } else if (message.startsWith('i ')) {
        c.invalidations++
        c.invalidationBytes += bytes
      } else {
        c.other++
      }
    })
    await (sharded ? subscriber.ssubscribe(channel) : subscriber.subscribe(channel))
    return tap
  }

  /**
   * Resolves once every message published on the tap's node before this call has been heard: publishes a
   * marker there (pub/sub keeps order per channel and node) and waits for it. The bus of both designs
   * ignores messages it does not know. Classic messages published on another node of a Cluster reach this
   * one over the cluster bus, so the caller waits a moment first.
   */
  async flush(): Promise<void> {
    const marker = `fanout-tap-marker ${process.pid} ${Math.random()}`
    const heard = new Promise<void>((resolve) => this.#markers.set(marker, resolve))
    await (this.sharded
      ? this.#publisher.spublish(this.#channel, marker)
      : this.#publisher.publish(this.#channel, marker))
    await heard
  }

  /** What was heard since the last call (and starts counting afresh). */
  take(): TapCounts {
    const counts = this.#counts
    this.#counts = emptyCounts()
    return counts
  }

  close(): void {
    this.#subscriber.disconnect()
    this.#publisher.disconnect()
  }
}

function emptyCounts(): {
  -readonly [K in keyof TapCounts]: TapCounts[K]
} {
  return {
    notices: 0,
    noticeBytes: 0,
    invalidations: 0,
    invalidationBytes: 0,
    other: 0,
    wireBytes: 0,
    noticeKeys: 0,
  }
}

/** EVALSHA + EVAL calls so far, summed over these nodes (`INFO commandstats`): scripts run, counted by Redis. */
export async function scriptCalls(
  nodes: readonly { info(section: string): Promise<string> }[],
): Promise<number> {
  let calls = 0
  for (const node of nodes) {
    const info = await node.info('commandstats')
    for (const name of ['evalsha', 'eval']) {
      const match = info.match(new RegExp(`cmdstat_${name}:calls=(\\d+)`))
      if (match) calls += Number(match[1])
    }
  }
  return calls
}
