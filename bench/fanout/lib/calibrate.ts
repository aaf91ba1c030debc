/**
 * What one bus message costs Redis per subscriber, at fleet sizes this machine cannot run as processes:
 * `subscribers` plain connections (in this process) subscribe to a channel, one publisher sends `messages`
 * messages of `payloadBytes` each, paced, and Redis's own counters give the CPU and output bytes per
 * delivery. Redis writes a message to its subscribers one after another on its single thread, so CPU per
 * delivery × subscribers is also how much later the last subscriber is sent a message than the first.
 *
 * The time until the last subscriber here has read each message is measured too, but all the subscribers
 * share this one Node process, which reads them one at a time: that figure is an upper bound, dominated
 * by this process at 1,000 subscribers, not a fleet's latency.
 */
import { Redis } from 'ioredis'
import { type Quantiles, quantiles } from './figures.js'
import { epochNow } from './protocol.js'
import { delta, type RedisNodes } from './redis-stats.js'

export type PubSubMode = 'classic' | 'sharded'

export interface Calibration {
  readonly topology: string
  readonly mode: PubSubMode
  readonly subscribers: number
  readonly messages: number
  readonly payloadBytes: number
  /** Redis CPU (all nodes, idle CPU subtracted) per message per subscriber, µs. */
  readonly cpuUsPerDelivery: number
  /** Redis output bytes (all nodes) per message per subscriber. */
  readonly outputBytesPerDelivery: number
  /** Messages relayed between Cluster nodes per message published. */
  readonly relaysPerMessage: number
  /** Publish → the last subscriber of this process read it, ms (an upper bound; see above). */
  readonly lastReadMs: Quantiles
  /** Messages some subscriber never received within 10 s. */
  readonly lost: number
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export async function calibrate(
  nodes: RedisNodes,
  options: {
    topology: string
    mode: PubSubMode
    subscribers: number
    messages: number
    payloadBytes: number
    idleCpuMsPerSecond: number
  },
): Promise<Calibration> {
  const { mode, subscribers: count, messages, payloadBytes } = options
  const channel = `fanout-calibration-${count}:bus`
  const owner = await nodes.slotOwner(channel)
  // Classic pub/sub on a Cluster: subscribers spread over every node, as each process's client picks one.
  const portOf = (i: number) =>
    mode === 'classic' && nodes.cluster ? nodes.ports[i % nodes.ports.length]! : owner
  const received = new Uint32Array(messages)
  const lastAt = new Float64Array(messages)
  const sentAt = new Float64Array(messages)
  const subscribers: Redis[] = []
  try {
    for (let start = 0; start < count; start += 100) {
      const batch = Array.from({ length: Math.min(100, count - start) }, (_, j) => {
        const client = new Redis({ host: '127.0.0.1', port: portOf(start + j), maxRetriesPerRequest: 1 })
        client.on('error', () => {})
        client.on(mode === 'sharded' ? 'smessage' : 'message', (_from: string, message: string) => {
          const id = Number(message.slice(0, message.indexOf(' ')))
          received[id]!++
          lastAt[id] = epochNow()
        })
        subscribers.push(client)
        return mode === 'sharded' ? client.ssubscribe(channel) : client.subscribe(channel)
      })
      await Promise.all(batch)
    }
    const publisher = new Redis({ host: '127.0.0.1', port: owner, maxRetriesPerRequest: 1 })
    publisher.on('error', () => {})
    subscribers.push(publisher)
    await sleep(200)
    const before = await nodes.snapshot()
    for (let id = 0; id < messages; id++) {
      const head = `${id} `
      const message = head + 'k'.repeat(Math.max(0, payloadBytes - head.length))
      sentAt[id] = epochNow()
      await (mode === 'sharded' ? publisher.spublish(channel, message) : publisher.publish(channel, message))
      await sleep(5)
    }
    const deadline = Date.now() + 10_000
    while (received.some((n) => n < count) && Date.now() < deadline) await sleep(20)
    const change = delta(before, await nodes.snapshot())
    const deliveries = messages * count
    const cpuMs = change.cpuMs - options.idleCpuMsPerSecond * change.seconds
    return {
      topology: options.topology,
      mode,
      subscribers: count,
      messages,
      payloadBytes,
      cpuUsPerDelivery: (cpuMs * 1000) / deliveries,
      outputBytesPerDelivery: change.outputBytes / deliveries,
      relaysPerMessage: change.clusterRelays / messages,
      lastReadMs: quantiles(
        Array.from(received.keys())
          .filter((id) => received[id] === count)
          .map((id) => lastAt[id]! - sentAt[id]!),
      ),
      lost: received.filter((n) => n < count).length,
    }
  } finally {
    for (const client of subscribers) client.disconnect()
  }
}
