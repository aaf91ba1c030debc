import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineLoader } from '../../src/index.js'
import { cacheFactory, eventually, waitFor } from '../helpers/cache.js'
import { type RedisCluster, startRedisCluster } from '../helpers/redis-cluster.js'
import { TestSource } from '../helpers/source.js'

// 3 masters with one replica each, so killing a master triggers a real failover.
let cluster: RedisCluster
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicas: 1 })
}, 60_000)
afterAll(() => cluster.dispose())

describe('Redis Cluster failover', () => {
  it('keeps loads succeeding while a master is killed and its replica takes over, then uses the cache again', async () => {
    const makeCache = cacheFactory('redis', cluster)
    const source = new TestSource(200)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const cache = await makeCache({
      redisTimeoutMs: 500,
      breaker: { failureThreshold: 3, breakDurationMs: 300 },
    })
    const ids = Array.from({ length: 60 }, (_, i) => String(i + 1))
    await cache.loaders({ user }).user.loadMany(ids)

    // Kill the master that owns the first id's slot.
    const client = cluster.client()
    const slot = Number(await client.cluster('KEYSLOT', `${makeCache.namespace}:{user:1}`))
    const slots = (await client.cluster('SLOTS')) as unknown as [number, number, [string, number]][]
    const owner = slots.find(([from, to]) => slot >= from && slot <= to)![2][1]
    const index = cluster.ports.indexOf(owner)
    cluster.nodes[index]!.kill('SIGKILL')

    // Every load answers correctly through the failover (from Redis, or from the source while it is down),
    // until a replica owns the slot and the cluster is whole again.
    const survivor = cluster.ports.find((port) => port !== owner)!
    const deadline = Date.now() + 30_000
    let promoted = false
    while (Date.now() < deadline) {
      const rows = await cache.loaders({ user }).user.loadMany(ids)
      expect(rows).toEqual(ids.map((id) => source.rows.get(id)))
      promoted = await slotServedByAnotherNode(survivor, slot, owner)
      if (promoted) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(promoted).toBe(true)
    await waitFor(() => cache.stats().redis.breaker === 'closed', 'breaker closed', 10_000)

    // After the failover the cache is written and read through the new master again.
    await waitFor(() => cache.stats().redis.busConnected, 'bus back', 10_000)
    const fresh = Array.from({ length: 20 }, (_, i) => String(100 + i))
    // Until every entry is in Redis: right after a failover a write can still time out while the client
    // settles its slot map (a refused write leaves nothing in L1 either, so the next load writes it again).
    const keys = fresh.map((id) => `${makeCache.namespace}:{user:${id}}`)
    await eventually(async () => {
      await cache.loaders({ user }).user.loadMany(fresh)
      expect(await Promise.all(keys.map((key) => client.exists(key)))).toEqual(keys.map(() => 1))
    }, 10_000)
    // A reader of its own, after the failover: a generous timeout, so a slow moment of a loaded machine is
    // not taken for a Redis fault (which the loader would answer from the source, failing the count below).
    const other = await makeCache({ redisTimeoutMs: 5_000 })
    const before = source.calls.length
    expect(await other.loaders({ user }).user.loadMany(fresh)).toEqual(fresh.map((id) => source.rows.get(id)))
    expect(source.calls.length).toBe(before)
  }, 60_000)
})

async function slotServedByAnotherNode(port: number, slot: number, deadPort: number): Promise<boolean> {
  const node = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 })
  node.on('error', () => {})
  try {
    const info = String(await node.cluster('INFO'))
    if (!info.includes('cluster_state:ok')) return false
    const ranges = (await node.cluster('SLOTS')) as unknown as [number, number, [string, number]][]
    const range = ranges.find(([from, to]) => slot >= from && slot <= to)
    return range !== undefined && range[2][1] !== deadPort
  } finally {
    node.disconnect()
  }
}

describe('Redis Cluster resharding', () => {
  it('keeps loads succeeding while slots move between masters (MOVED/ASK redirects)', async () => {
    const resharded = await startRedisCluster({ masters: 3 })
    try {
      const makeCache = cacheFactory('redis', resharded)
      const source = new TestSource(300)
      const user = defineLoader({ name: 'user', fetch: source.fetch })
      const cache = await makeCache({ redisTimeoutMs: 1000 })
      const ids = Array.from({ length: 200 }, (_, i) => String(i + 1))
      await cache.loaders({ user }).user.loadMany(ids)

      const node = new Redis({ host: '127.0.0.1', port: resharded.ports[0]!, maxRetriesPerRequest: 1 })
      const nodes = String(await node.cluster('NODES'))
        .trim()
        .split('\n')
        .map((line) => line.split(' '))
      node.disconnect()
      const from = nodes.find((fields) => fields[2]!.includes('myself'))![0]!
      const to = nodes.find((fields) => !fields[2]!.includes('myself'))![0]!
      const reshard = promisify(execFile)('redis-cli', [
        '--cluster',
        'reshard',
        `127.0.0.1:${resharded.ports[0]}`,
        '--cluster-from',
        from,
        '--cluster-to',
        to,
        '--cluster-slots',
        '2000',
        '--cluster-yes',
      ])
      let done = false
      void reshard.finally(() => {
        done = true
      })
      let rounds = 0
      while (!done || rounds < 3) {
        const other = await makeCache({ redisTimeoutMs: 1000 })
        const rows = await other.loaders({ user }).user.loadMany(ids)
        expect(rows).toEqual(ids.map((id) => source.rows.get(id)))
        rounds++
      }
      await reshard
      // After the move, a new instance reads everything from Redis again.
      const after = await makeCache({ redisTimeoutMs: 1000 })
      const before = source.idsFetched.length
      await after.loaders({ user }).user.loadMany(ids)
      expect(source.idsFetched.length - before).toBeLessThan(ids.length)
      expect(after.stats().loaders.user?.l2Hits).toBeGreaterThan(0)
    } finally {
      await resharded.dispose()
    }
  }, 90_000)
})
