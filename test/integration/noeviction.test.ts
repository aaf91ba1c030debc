import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineLoader } from '../../src/index.js'
import { EvictionScript } from '../../src/redis/scripts.js'
import { busDelivered, cacheFactory } from '../helpers/cache.js'
import { startRedisCluster } from '../helpers/redis-cluster.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { TestSource } from '../helpers/source.js'

/*
 * Redis out of memory under `noeviction` (README, "Redis settings"), on a redis-server of this file's own:
 * most writes are refused, so little is stored; invalidations must still land whole, or every other process
 * goes on serving what they evict. By tag alone, an invalidation's first write is a version bump, which a
 * full Redis refuses unless the script is flagged allow-oom.
 */

let server: RedisServer
beforeAll(async () => {
  server = await startRedisServer()
})
afterAll(() => server.dispose())

describe('Redis out of memory under noeviction', () => {
  it('still applies invalidations, by key, by tag and from a refused prime: every process serves the new value', async () => {
    const source = new TestSource(3)
    const user = defineLoader({ name: 'user', entity: 'User', fetch: source.fetch })
    const makeCache = cacheFactory('redis', server)
    const logger = { warn: () => {}, error: () => {} }
    const [a, b] = [await makeCache({ logger }), await makeCache({ logger })]
    await a.loaders({ user }).user.loadMany(['1', '2'])
    await b.loaders({ user }).user.loadMany(['1', '2'])
    const admin = server.client()
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    await admin.config('SET', 'maxmemory', '1')
    try {
      // Every write is refused now.
      await expect(admin.set('probe', 'x')).rejects.toThrow(/OOM/)
      const renamed = source.update('1', { name: 'Ann' })
      const retitled = source.update('2', { name: 'Bob' })
      expect(await a.invalidate(user, ['1'])).toBe(true)
      expect(await a.invalidateTags(['User:2'])).toBe(true)
      expect(a.stats().redis.pendingInvalidations).toBe(0)
      await busDelivered(a, b)
      expect(await b.loaders({ user }).user.loadMany(['1', '2'])).toEqual([renamed, retitled])
      const c = await makeCache({ logger })
      expect(await c.loaders({ user }).user.loadMany(['1', '2'])).toEqual([renamed, retitled])
      // A write-through cannot store on a full Redis, but still evicts everywhere (as an invalidation).
      const ticket = await a.writeTicket()
      const again = source.update('1', { name: 'Ada' })
      expect(await a.prime(user, [['1', again]], { since: ticket })).toEqual({ stored: [], evicted: ['1'] })
      expect(a.stats().redis.pendingInvalidations).toBe(0)
      await busDelivered(a, b)
      expect(await b.loaders({ user }).user.load('1')).toEqual(again)
      expect(await c.loaders({ user }).user.load('1')).toEqual(again)
    } finally {
      await admin.config('SET', 'maxmemory', '0')
    }
  })
})

describe('a cluster-enabled Redis of one node, reached by a plain client (a single-shard managed service)', () => {
  it('applies invalidations by tag: the flagged script may touch keys of other slots, as a plain one does', async () => {
    const cluster = await startRedisCluster({ masters: 1 })
    try {
      const source = new TestSource(2)
      const user = defineLoader({ name: 'user', entity: 'User', fetch: source.fetch })
      const target = {
        client: () => {
          const client = new Redis({ host: '127.0.0.1', port: cluster.ports[0]!, maxRetriesPerRequest: 1 })
          // Its reconnection errors once the cluster is gone, after the test, are not the test's.
          client.on('error', () => {})
          return client
        },
      }
      const makeCache = cacheFactory('redis', target)
      const [a, b] = [await makeCache(), await makeCache()]
      await b.loaders({ user }).user.load('1')
      const renamed = source.update('1', { name: 'Ann' })
      expect(await a.invalidateTags(['User:1'])).toBe(true)
      expect(a.stats().redis.pendingInvalidations).toBe(0)
      await busDelivered(a, b)
      expect(await b.loaders({ user }).user.load('1')).toEqual(renamed)
      await Promise.all([a.close(), b.close()])
    } finally {
      await cluster.dispose()
    }
  })
})

describe('EvictionScript', () => {
  it('falls back to the plain script, once per client, on a server that cannot compile the flag (Redis 6)', async () => {
    // The one fault no redis-server here can produce: Redis 6's answer to a flagged script.
    const sent: string[] = []
    const script = new EvictionScript('return 1')
    const client = {
      evalsha: async (sha: string) => {
        sent.push(sha === script.flagged.sha ? 'evalsha flagged' : 'evalsha plain')
        throw new Error('NOSCRIPT No matching script. Please use EVAL.')
      },
      eval: async (source: string) => {
        const flagged = source.startsWith('#!lua')
        sent.push(flagged ? 'eval flagged' : 'eval plain')
        if (flagged)
          throw new Error(
            "ERR Error compiling script (new function): user_script:1: unexpected symbol near '#'",
          )
        return 1
      },
    }
    const run = () => script.run(client as never, [], [])
    expect(await run()).toBe(1)
    expect(await run()).toBe(1)
    expect(sent).toEqual([
      'evalsha flagged',
      'eval flagged',
      'evalsha plain',
      'eval plain',
      'evalsha plain',
      'eval plain',
    ])
    // Any other error is the caller's.
    const failing = new EvictionScript('return 1')
    const broken = {
      evalsha: async () => {
        throw new Error('OOM command not allowed')
      },
      eval: async () => 1,
    }
    await expect(failing.run(broken as never, [], [])).rejects.toThrow('OOM')
  })
})
