import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineLoader, type LoadCache } from '../../src/index.js'
import { slotOwnerPort } from '../helpers/bus-tap.js'
import { busDelivered, cacheFactory, eventually, uniqueNamespace, waitFor } from '../helpers/cache.js'
import { startWorker } from '../helpers/processes.js'
import { type RedisCluster, startRedisCluster } from '../helpers/redis-cluster.js'
import { TestSource } from '../helpers/source.js'
import { describeBusAtScale } from './bus-scale.js'

// 3 masters with one replica each: the failover at the end kills the master owning the bus channel's slot.
let cluster: RedisCluster
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicas: 1 })
}, 60_000)
afterAll(() => cluster.dispose())

describeBusAtScale('Redis Cluster, sharded pub/sub', () => cluster)

/** A connection to one node, for PUBSUB and CLUSTER commands; closed after the test. */
async function onNode<T>(port: number, run: (node: Redis) => Promise<T>): Promise<T> {
  const node = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => null })
  node.on('error', () => {})
  try {
    return await run(node)
  } finally {
    node.disconnect()
  }
}

/** How many sharded subscribers a node has on a channel (PUBSUB SHARDNUMSUB). */
function shardSubscribers(port: number, channel: string): Promise<number> {
  return onNode(port, async (node) => {
    const reply = (await node.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number]
    return Number(reply[1])
  })
}

function busStates(cache: LoadCache): string[] {
  const states: string[] = []
  cache.on('bus', (state) => states.push(state))
  return states
}

describe('the bus on a Redis Cluster (sharded pub/sub)', () => {
  it('subscribes as a shard channel on the master owning its slot, never as a classic channel on any node', async () => {
    const makeCache = cacheFactory('redis', cluster)
    await makeCache()
    await makeCache()
    const channel = `${makeCache.namespace}:bus`
    const owner = await slotOwnerPort(cluster, channel)
    expect(await onNode(owner, (node) => node.call('PUBSUB', 'SHARDCHANNELS', channel))).toEqual([channel])
    expect(await shardSubscribers(owner, channel)).toBe(2)
    for (const port of cluster.ports) {
      expect(await onNode(port, (node) => node.call('PUBSUB', 'CHANNELS', channel))).toEqual([])
    }
  })

  it('connects the bus of a Cluster client made with lazyConnect', async () => {
    const makeCache = cacheFactory('redis', cluster)
    const cache = await makeCache({ redis: cluster.client({ lazyConnect: true }) })
    expect(cache.stats().redis.busConnected).toBe(true)
  })

  it('follows the channel when its slot migrates to another master, and hears invalidations there', async () => {
    const makeCache = cacheFactory('redis', cluster)
    const source = new TestSource(3)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const a = await makeCache()
    const b = await makeCache()
    const statesOfA = busStates(a)
    const channel = `${makeCache.namespace}:bus`
    const from = await slotOwnerPort(cluster, channel)
    const to = await migrateSlotOf(channel, from)

    // Redis pushes SUNSUBSCRIBE to the old owner's subscribers; each bus subscribes again at the new owner.
    await waitFor(
      () => statesOfA.includes('down') && statesOfA.at(-1) === 'up',
      'the bus of a, down then up',
      20_000,
    )
    await eventually(async () => expect(await shardSubscribers(to, channel)).toBe(2), 20_000)
    expect(await shardSubscribers(from, channel)).toBe(0)
    await busDelivered(b, a)
    await busDelivered(a, b)
    // The lease is back: a repeated load is answered from L1.
    await a.loaders({ user }).user.load('1')
    await eventually(async () => {
      const before = a.stats().loaders.user!.l1Hits
      await a.loaders({ user }).user.load('1')
      expect(a.stats().loaders.user!.l1Hits).toBe(before + 1)
    }, 5000)
  }, 60_000)

  it('gives up on a frozen master owning the channel, and follows its replica once it is promoted', async () => {
    const makeCache = cacheFactory('redis', cluster)
    const a = await makeCache()
    const b = await makeCache()
    const statesOfA = busStates(a)
    const channel = `${makeCache.namespace}:bus`
    const frozen = await slotOwnerPort(cluster, channel)
    const node = cluster.nodes[cluster.ports.indexOf(frozen)]!
    // A frozen node keeps its sockets open: only the unanswered PINGs tell the bus to look elsewhere.
    node.kill('SIGSTOP')
    try {
      await waitFor(
        () => statesOfA.includes('down') && statesOfA.at(-1) === 'up',
        'the bus of a, down then up',
        30_000,
      )
      const promoted = await slotOwnerPort(cluster, channel)
      expect(promoted).not.toBe(frozen)
      await eventually(async () => expect(await shardSubscribers(promoted, channel)).toBe(2), 20_000)
      await busDelivered(b, a)
      await busDelivered(a, b)
    } finally {
      // It wakes up as a replica of the promoted one: the cluster keeps a replica per master.
      node.kill('SIGCONT')
    }
  }, 60_000)

  it('reaches every process after a failover of the master owning the channel, and uses L1 again', async () => {
    const namespace = uniqueNamespace()
    const env = {
      REDIS_CLUSTER_PORTS: cluster.ports.join(','),
      NAMESPACE: namespace,
      DB_FILE: '/nonexistent',
    }
    const workers = await Promise.all([0, 1, 2].map(() => startWorker(env)))
    const channel = `${namespace}:bus`
    const owner = await slotOwnerPort(cluster, channel)
    const l1Hits = async () =>
      Promise.all(
        workers.map(
          async (worker) =>
            (await worker.call<{ loaders: { item?: { l1Hits: number } } }>({ op: 'stats' })).loaders.item
              ?.l1Hits ?? 0,
        ),
      )

    const upsBefore = await Promise.all(
      workers.map(async (worker) => {
        const { states } = await worker.call<{ states: string[] }>({ op: 'awaitBus', ups: 1 })
        return states.filter((state) => state === 'up').length
      }),
    )
    cluster.nodes[cluster.ports.indexOf(owner)]!.kill('SIGKILL')
    // Each process's subscription closes with the node; it finds the promoted replica and subscribes there.
    await Promise.all(workers.map((worker, i) => worker.call({ op: 'awaitBus', ups: upsBefore[i]! + 1 })))
    const promoted = await slotOwnerPort(cluster, channel)
    expect(promoted).not.toBe(owner)
    expect(await shardSubscribers(promoted, channel)).toBe(3)

    const [origin, ...others] = workers
    await Promise.all(others.map((worker) => worker.call({ op: 'recordEvictions' })))
    const heard = others.map((worker) =>
      worker.call({ op: 'awaitEvictions', ids: ['1', '2'], tags: ['after-failover'] }),
    )
    await origin!.call({ op: 'invalidate', ids: ['1', '2'] })
    await origin!.call({ op: 'invalidateTags', tags: ['after-failover'] })
    await Promise.all(heard)

    // The lease is back in every process: a repeated load is answered from L1.
    const before = await l1Hits()
    await eventually(async () => {
      for (const worker of workers) {
        await worker.call({ op: 'load', ids: ['1', '2', '3'] })
        await worker.call({ op: 'load', ids: ['1', '2', '3'] })
      }
      const after = await l1Hits()
      after.forEach((hits, i) => {
        expect(hits).toBeGreaterThan(before[i]!)
      })
    }, 10_000)
  }, 90_000)
})

describe('the bus on a Redis Cluster without sharded pub/sub (Redis < 7)', () => {
  it('falls back to classic pub/sub on the slot owner, says so once per cache, and still delivers', async () => {
    // Redis 7 with SSUBSCRIBE and SPUBLISH renamed away answers them as Redis 6 does: unknown command.
    const old = await startRedisCluster({
      masters: 3,
      serverArgs: ['--rename-command', 'SSUBSCRIBE', '', '--rename-command', 'SPUBLISH', ''],
    })
    try {
      const makeCache = cacheFactory('redis', old)
      const warnings: string[] = []
      const logger = { warn: (message: string) => warnings.push(message), error: () => {} }
      const a = await makeCache({ logger })
      const b = await makeCache({ logger })
      await busDelivered(a, b)
      await busDelivered(b, a)
      const channel = `${makeCache.namespace}:bus`
      const owner = await slotOwnerPort(old, channel)
      expect(await onNode(owner, (node) => node.call('PUBSUB', 'CHANNELS', channel))).toEqual([channel])
      expect(warnings.filter((warning) => warning.includes('no sharded pub/sub'))).toHaveLength(2)
      expect(warnings.filter((warning) => !warning.includes('no sharded pub/sub'))).toEqual([])
    } finally {
      await old.dispose()
    }
  }, 60_000)
})

/**
 * Moves the slot of `key` from the master on `fromPort` to another master, as `redis-cli --cluster
 * reshard` does (IMPORTING / MIGRATING, MIGRATE each key, SETSLOT NODE on every master). Returns the new
 * owner's port.
 */
async function migrateSlotOf(key: string, fromPort: number): Promise<number> {
  return onNode(fromPort, async (source) => {
    const slot = Number(await source.cluster('KEYSLOT', key))
    const nodes = String(await source.cluster('NODES'))
      .trim()
      .split('\n')
      .map((line) => line.split(' '))
    const masters = nodes.filter((fields) => fields[2]!.includes('master') && !fields[2]!.includes('fail'))
    const from = masters.find((fields) => fields[2]!.includes('myself'))!
    const to = masters.find((fields) => !fields[2]!.includes('myself'))!
    const toPort = Number(to[1]!.split('@')[0]!.split(':')[1])
    await onNode(toPort, (target) => target.cluster('SETSLOT', slot, 'IMPORTING', from[0]!))
    await source.cluster('SETSLOT', slot, 'MIGRATING', to[0]!)
    for (;;) {
      const keys = (await source.cluster('GETKEYSINSLOT', slot, 100)) as string[]
      if (keys.length === 0) break
      await source.migrate('127.0.0.1', toPort, '', 0, 5000, 'KEYS', ...keys)
    }
    // The new owner first, then the old one, then the others (they would learn it by gossip too).
    for (const master of [to, from, ...masters.filter((m) => m !== to && m !== from)]) {
      const port = Number(master[1]!.split('@')[0]!.split(':')[1])
      await onNode(port, (node) => node.cluster('SETSLOT', slot, 'NODE', to[0]!))
    }
    return toPort
  })
}
