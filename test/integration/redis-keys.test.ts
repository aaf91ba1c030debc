import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeSegment } from '../../src/core/keys.js'
import { createCache, defineLoader } from '../../src/index.js'
import { cacheFactory, countCommands, uniqueNamespace, waitFor } from '../helpers/cache.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { type Row, TestSource } from '../helpers/source.js'

/*
 * What loadcache leaves in Redis and what it needs from it (README, "Redis settings"), on a redis-server
 * this file starts: every key it writes expires except the tag clock, tag versions outlive their entries,
 * and the minimal ACL user the README gives is enough, while a user missing a permission costs loads
 * nothing but the cache.
 */

let server: RedisServer
beforeAll(async () => {
  server = await startRedisServer({ args: ['--maxmemory', '1gb'] })
})
afterAll(() => server.dispose())

const LOCK_TTL_MS = 3000
/** What the README promises tag versions outlive their entries by: `lockTtlMs` + 10 s. */
const TAG_MARGIN_MS = LOCK_TTL_MS + 10_000

function userLoader(source: TestSource) {
  return defineLoader<string, Row>({
    name: 'user',
    ttl: 60,
    entity: 'User',
    tags: (_id, row) => [`org:${row.orgId}`],
    fetch: source.fetch,
  })
}

async function keysOf(namespace: string): Promise<string[]> {
  const client = server.client()
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 1000)
    cursor = next
    keys.push(...batch)
  } while (cursor !== '0')
  return keys.sort()
}

/** Creates (or replaces) an ACL user limited to the namespace's keys and bus channel. */
async function setUser(username: string, password: string, namespace: string, permissions: string[]) {
  await server
    .client()
    .call(
      'ACL',
      'SETUSER',
      username,
      'on',
      `>${password}`,
      `~${namespace}:*`,
      `&${namespace}:bus`,
      ...permissions,
    )
}

describe('the keys loadcache writes to Redis', () => {
  it('all expire except the tag clock, tag versions outlive their entries, and a held lock expires too', async () => {
    const source = new TestSource(6)
    source.put({ ...source.rows.get('1')!, id: 'held' })
    const user = userLoader(source)
    const makeCache = cacheFactory('redis', server)
    const a = await makeCache({ lockTtlMs: LOCK_TTL_MS })
    const b = await makeCache({ lockTtlMs: LOCK_TTL_MS })
    // Fills, an L2 hit, invalidations by key and by tag, a refill, a prime, and a fill still holding its lock.
    await a.loaders({ user }).user.loadMany(['1', '2', '3', '4'])
    await b.loaders({ user }).user.load('2')
    await a.invalidate(user, ['1'])
    await b.invalidateTags([`org:${source.rows.get('3')!.orgId}`])
    await b.loaders({ user }).user.loadMany(['1', '3'])
    const ticket = await a.writeTicket()
    await a.prime(user, [['5', source.update('5', { name: 'Eve' })]], { since: ticket })
    const held = source.holdNextFetch()
    const inFlight = a.loaders({ user }).user.load('held')
    const client = server.client()
    const lockKey = `${makeCache.namespace}:{user:held}:l`
    await held.started
    expect(await client.exists(lockKey)).toBe(1)

    const keys = await keysOf(makeCache.namespace)
    const clockKey = `${makeCache.namespace}:clock`
    expect(keys).toContain(clockKey)
    expect(keys).toContain(lockKey)
    expect(keys.filter((key) => key.includes(':t:')).length).toBeGreaterThan(0)
    for (const key of keys) {
      const pttl = await client.pttl(key)
      if (key === clockKey) expect(pttl, key).toBe(-1)
      else expect(pttl, key).toBeGreaterThan(0)
    }
    expect(await client.pttl(lockKey)).toBeLessThanOrEqual(LOCK_TTL_MS)
    // Each entry's tag versions (its entity tag and its org tag) live at least the margin longer than it.
    for (const id of ['2', '5']) {
      const entryTtl = await client.pttl(`${makeCache.namespace}:{user:${id}}`)
      expect(entryTtl).toBeGreaterThan(50_000)
      for (const tag of [`User:${id}`, `org:${source.rows.get(id)!.orgId}`]) {
        const tagTtl = await client.pttl(`${makeCache.namespace}:t:${encodeSegment(tag)}`)
        expect(tagTtl, tag).toBeGreaterThanOrEqual(entryTtl + TAG_MARGIN_MS - 1000)
      }
    }
    held.release()
    expect(await inFlight).toMatchObject({ id: 'held' })
  })
})

describe('the ACL the README gives', () => {
  /** The README's minimal user for namespace `app`, with the test's namespace and a password of its own. */
  async function aclUser(
    namespace: string,
    without?: string,
  ): Promise<{ username: string; password: string }> {
    const username = `user-${namespace}`
    const password = `secret-${namespace}`
    const permissions = [
      '+evalsha',
      '+eval',
      '+get',
      '+set',
      '+del',
      '+pttl',
      '+pexpire',
      '+time',
      '+publish',
      '+subscribe',
      '+ping',
      '+unlink',
      '+info',
      '+config|get',
    ].filter((permission) => permission !== without)
    await setUser(username, password, namespace, permissions)
    return { username, password }
  }

  it('is enough: fills, hits across processes, invalidations heard on the bus, primes', async () => {
    const namespace = uniqueNamespace()
    const { username, password } = await aclUser(namespace)
    const source = new TestSource(4)
    const user = userLoader(source)
    const warnings: string[] = []
    const open = async () => {
      const cache = createCache({
        namespace,
        redis: server.client({ username, password }),
        lockTtlMs: LOCK_TTL_MS,
        logger: { warn: (message) => warnings.push(message), error: (message) => warnings.push(message) },
      })
      expect(await cache.ready()).toBe(true)
      return cache
    }
    const [a, b] = [await open(), await open()]
    try {
      expect(await a.loaders({ user }).user.loadMany(['1', '2'])).toEqual([
        source.rows.get('1'),
        source.rows.get('2'),
      ])
      expect(await b.loaders({ user }).user.load('1')).toEqual(source.rows.get('1'))
      expect(b.stats().loaders.user).toMatchObject({ l2Hits: 1, misses: 0 })
      const renamed = source.update('1', { name: 'Ann' })
      expect(await a.invalidate(user, ['1'])).toBe(true)
      await waitFor(() => b.stats().memory.entries === 0, 'b to hear the invalidation')
      expect(await b.loaders({ user }).user.load('1')).toEqual(renamed)
      const ticket = await a.writeTicket()
      const primed = source.update('2', { name: 'Bea' })
      expect(await a.prime(user, [['2', primed]], { since: ticket })).toEqual({
        stored: ['2'],
        evicted: ['2'],
      })
      const calls = source.calls.length
      expect(await b.loaders({ user }).user.load('2')).toEqual(primed)
      expect(source.calls.length).toBe(calls)
      expect(a.stats().redis).toMatchObject({ breaker: 'closed', errors: 0 })
      expect(b.stats().redis).toMatchObject({ breaker: 'closed', errors: 0 })
      // Only the test server's eviction policy is warned about (which shows `+config|get` is enough).
      expect(warnings.length).toBeGreaterThan(0)
      for (const warning of warnings) expect(warning).toContain('maxmemory-policy is noeviction')
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('without +evalsha, scripts fail as a Redis fault: loads come from the source, none fails', async () => {
    const namespace = uniqueNamespace()
    const { username, password } = await aclUser(namespace, '+evalsha')
    const source = new TestSource(3)
    const user = userLoader(source)
    const cache = createCache({
      namespace,
      redis: server.client({ username, password }),
      logger: { warn: () => {}, error: () => {} },
    })
    try {
      for (let round = 0; round < 3; round++) {
        expect(await cache.loaders({ user }).user.loadMany(['1', '2', '3'])).toEqual([
          source.rows.get('1'),
          source.rows.get('2'),
          source.rows.get('3'),
        ])
      }
      expect(cache.stats().redis.errors).toBeGreaterThan(0)
      expect(await server.client().exists(`${namespace}:{user:1}`)).toBe(0)
    } finally {
      await cache.close()
    }
  })
})

describe('the eviction-policy check at startup', () => {
  it('warns about noeviction with a memory limit, and says nothing without one (Redis never evicts then)', async () => {
    const admin = server.client()
    try {
      for (const maxmemory of ['1gb', '0']) {
        await admin.config('SET', 'maxmemory', maxmemory)
        const warnings: string[] = []
        const debug: string[] = []
        const cache = createCache({
          namespace: uniqueNamespace(),
          redis: server.client(),
          logger: {
            warn: (message) => warnings.push(message),
            error: () => {},
            debug: (message) => debug.push(message),
          },
        })
        try {
          // Either way the check ends in one message: a warning, or (no limit) a debug line.
          const said = () => [...warnings, ...debug].filter((line) => line.includes('maxmemory-policy is'))
          await waitFor(() => said().length > 0, 'the policy check')
          if (maxmemory === '0') {
            expect(warnings).toEqual([])
            expect(said()).toEqual([expect.stringContaining('with no maxmemory: Redis never evicts')])
          } else {
            expect(warnings).toEqual([expect.stringContaining('maxmemory-policy is noeviction')])
          }
        } finally {
          await cache.close()
        }
      }
    } finally {
      await admin.config('SET', 'maxmemory', '1gb')
    }
  })
})

describe('a cache whose bus cannot subscribe', () => {
  it('bypasses L1, and has a waiter poll every 50 ms instead of waiting out the lock', async () => {
    // A user without +subscribe: every command works but the bus never comes up.
    const namespace = uniqueNamespace()
    const username = `nobus-${namespace}`
    await setUser(username, 'pw', namespace, ['+@all', '-subscribe'])
    const source = new TestSource(3)
    const user = userLoader(source)
    const holder = createCache({ namespace, redis: server.client(), lockTtlMs: 10_000 })
    const client = server.client({ username, password: 'pw' })
    const sent = countCommands(client)
    const waiter = createCache({
      namespace,
      redis: client,
      lockTtlMs: 10_000,
      logger: { warn: () => {}, error: () => {} },
    })
    try {
      expect(await holder.ready()).toBe(true)
      expect(await waiter.ready(300)).toBe(false)
      expect(waiter.stats().redis.busConnected).toBe(false)
      const held = source.holdNextFetch()
      const filling = holder.loaders({ user }).user.load('1')
      await held.started
      sent.reset()
      const waiting = waiter.loaders({ user }).user.load('1')
      // It re-reads while it waits (no notice can reach it): several reads within a few hundred ms.
      await waitFor(() => sent.names.filter((name) => name === 'evalsha').length >= 3, 'the waiter to poll')
      held.release()
      await filling
      const startedAt = performance.now()
      expect(await waiting).toEqual(source.rows.get('1'))
      expect(performance.now() - startedAt).toBeLessThan(5_000)
      expect(waiter.stats().loaders.user).toMatchObject({ l2Hits: 1, fetchCalls: 0 })
      // Nothing goes to L1 while the bus is down: the next load reads Redis again.
      sent.reset()
      expect(await waiter.loaders({ user }).user.load('1')).toEqual(source.rows.get('1'))
      expect(sent.names).toEqual(['evalsha'])
      expect(waiter.stats().memory.bypassed).toBeGreaterThan(0)
    } finally {
      await Promise.all([holder.close(), waiter.close()])
    }
  })
})
