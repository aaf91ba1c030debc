import { Redis } from 'ioredis'
import { onTestFinished } from 'vitest'
import type { RedisCluster } from './redis-cluster.js'
import type { RedisServer } from './redis-server.js'

/**
 * A subscriber of the test's own on a cache's bus channel, attached as an operator would attach one: it
 * sees exactly what loadcache publishes. On a Redis Cluster it subscribes with SSUBSCRIBE on the master
 * owning the channel's slot (found with CLUSTER KEYSLOT / CLUSTER SLOTS, not with loadcache's code), so it
 * hears only sharded messages.
 */
export interface BusTap {
  /** The keys of each fill notice (`f` message) heard. */
  readonly notices: string[][]
  /** Invalidation messages (`i …`) heard. */
  readonly invalidations: number
  /** Size of the largest message heard, in bytes. */
  readonly largestMessageBytes: number
  /**
   * Resolves once every message published on the channel before this call has been heard: publishes a
   * marker on the same node (pub/sub keeps order per channel and node) and waits for it. The bus ignores
   * messages it does not know.
   */
  flush(): Promise<void>
}

let markers = 0

export async function tapBus(target: RedisServer | RedisCluster, namespace: string): Promise<BusTap> {
  const channel = `${namespace}:bus`
  const port = 'ports' in target ? await slotOwnerPort(target, channel) : target.port
  const sharded = 'ports' in target
  const subscriber = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 })
  const publisher = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 })
  subscriber.on('error', () => {})
  publisher.on('error', () => {})
  onTestFinished(() => {
    subscriber.disconnect()
    publisher.disconnect()
  })
  const waiters = new Map<string, () => void>()
  const tap = { notices: [] as string[][], invalidations: 0, largestMessageBytes: 0 }
  subscriber.on(sharded ? 'smessage' : 'message', (from: string, message: string) => {
    if (from !== channel) return
    const waiter = waiters.get(message)
    if (waiter !== undefined) {
      waiters.delete(message)
      waiter()
      return
    }
    tap.largestMessageBytes = Math.max(tap.largestMessageBytes, Buffer.byteLength(message))
    const lines = message.split('\n')
    if (lines[0] === 'f') tap.notices.push(lines.slice(1))
    else if (lines[0]?.startsWith('i ')) tap.invalidations++
  })
  await (sharded ? subscriber.ssubscribe(channel) : subscriber.subscribe(channel))
  return {
    get notices() {
      return tap.notices
    },
    get invalidations() {
      return tap.invalidations
    },
    get largestMessageBytes() {
      return tap.largestMessageBytes
    },
    async flush() {
      const marker = `tap-marker ${process.pid} ${++markers}`
      const heard = new Promise<void>((resolve) => waiters.set(marker, resolve))
      await (sharded ? publisher.spublish(channel, marker) : publisher.publish(channel, marker))
      await heard
    },
  }
}

/**
 * The port of the master that owns a key's slot, as the cluster itself says: asks each node in turn, so a
 * node the test killed or froze (SIGSTOP: it accepts connections and never answers) is skipped.
 */
export async function slotOwnerPort(cluster: RedisCluster, key: string): Promise<number> {
  let lastError: unknown
  for (const port of cluster.ports) {
    const node = new Redis({
      host: '127.0.0.1',
      port,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      commandTimeout: 2000,
    })
    node.on('error', () => {})
    try {
      const slot = Number(await node.cluster('KEYSLOT', key))
      const ranges = (await node.cluster('SLOTS')) as unknown as [number, number, [string, number]][]
      const range = ranges.find(([from, to]) => slot >= from && slot <= to)
      if (range !== undefined) return range[2][1]
      lastError = new Error(`node ${port}: no master owns slot ${slot}`)
    } catch (error) {
      lastError = error // a node the test killed or froze: ask the next one
    } finally {
      node.disconnect()
    }
  }
  throw lastError
}
