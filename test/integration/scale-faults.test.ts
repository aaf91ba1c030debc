import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createCache, defineLoader } from '../../src/index.js'
import { cacheFactory, uniqueNamespace, waitFor } from '../helpers/cache.js'
import { startWorker } from '../helpers/processes.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { TestSource } from '../helpers/source.js'

/*
 * The Redis tier under the faults and loads an SRE would try: any batch size, a Redis that goes silent, a
 * Redis that evicts tag versions. Each case asserts the guarantee the code enforces (a bound, a count), not
 * a timing the machine's load can stretch.
 */

let server: RedisServer
beforeAll(async () => {
  server = await startRedisServer()
})
afterAll(() => server.dispose())

async function scanCount(pattern: string): Promise<number> {
  const admin = server.client()
  let cursor = '0'
  let count = 0
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    count += keys.length
  } while (cursor !== '0')
  return count
}

describe('any batch size', () => {
  it('loads 100,000 ids in one batch in scripts short enough that another process is never starved', async () => {
    const admin = server.client()
    // Every script slower than 1 s is logged: unsplit, this batch held Redis for seconds (20,000 ids: 300–500 ms).
    // (The bound per script is structural, checked below; a loaded machine can stretch any one script's time.)
    await admin.config('SET', 'slowlog-log-slower-than', '1000000')
    await admin.slowlog('RESET')
    const namespace = uniqueNamespace()
    const source = new TestSource(0)
    const ids = Array.from({ length: 100_000 }, (_, i) => String(i + 1))
    for (const id of ids) source.put({ id, name: `user ${id}`, orgId: Number(id) % 7, version: 1 })
    const user = defineLoader({ name: 'user', fetch: source.fetch, tags: (_id, row) => [`org:${row.orgId}`] })
    const client = server.client()
    const keysPerScript: number[] = []
    const send = client.sendCommand.bind(client)
    client.sendCommand = ((command: { name: string; args: unknown[] }) => {
      if (command.name === 'evalsha' || command.name === 'eval') keysPerScript.push(Number(command.args[1]))
      return send(command as never)
    }) as typeof client.sendCommand
    const cache = createCache({ namespace, redis: client, redisTimeoutMs: 2000 })
    await waitFor(() => cache.stats().redis.busConnected, 'bus')
    // The other process: small loads of other ids while the big batch runs.
    const db = join(mkdtempSync(join(tmpdir(), 'loadcache-db-')), 'db.json')
    writeFileSync(db, '{}')
    const other = await startWorker({ REDIS_PORT: String(server.port), NAMESPACE: namespace, DB_FILE: db })

    const big = cache.loaders({ user }).user.loadMany(ids)
    const small = (async () => {
      for (let i = 0; i < 20; i++) await other.call({ op: 'load', ids: [`x${i}`] })
    })()
    const [rows] = await Promise.all([big, small])
    expect(rows).toHaveLength(100_000)
    expect(rows.every((row, i) => !(row instanceof Error) && row?.id === ids[i])).toBe(true)
    // Filled in waves of 10,000 (each with its own fetch), so no lock outlives its TTL before the write.
    expect(source.calls.map((call) => call.length)).toEqual(Array.from({ length: 10 }, () => 10_000))

    // Written, and no lock left behind: the next load of any of them is a hit with no wait.
    expect(await scanCount(`${namespace}:*:l`)).toBe(0)
    expect(await scanCount(`${namespace}:{user:*`)).toBe(100_000)
    expect(cache.stats().loaders.user).toMatchObject({ staleWritesRefused: 0, fetchErrors: 0 })
    expect(cache.stats().redis).toMatchObject({ errors: 0, breaker: 'closed' })
    const otherStats = await other.call<{ redis: { errors: number; breaker: string } }>({ op: 'stats' })
    expect(otherStats.redis).toMatchObject({ errors: 0, breaker: 'closed' })
    // No script touched more than 200 entries (400 keys with their locks): each runs in about a millisecond.
    expect(Math.max(...keysPerScript)).toBeLessThanOrEqual(400)
    expect(keysPerScript.length).toBeGreaterThanOrEqual(1000)
    const slow = (await admin.slowlog('GET', 1000)) as [number, number, number, string[]][]
    expect(slow.filter((entry) => String(entry[3]?.[0]).toLowerCase().startsWith('eval'))).toEqual([])

    // Invalidating all of them works too (chunked, and announced in bounded messages).
    await cache.invalidate(user, ids)
    expect(await scanCount(`${namespace}:{user:*`)).toBe(0)
    await cache.close()
  }, 120_000)
})

describe('a Redis that goes silent (the L1 lease)', () => {
  it('serves no invalidated value from L1 past maxStalenessMs after the invalidation resolved (SIGSTOP)', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(3)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const options = { maxStalenessMs: 1000, redisTimeoutMs: 200, breaker: { breakDurationMs: 60_000 } }
    const a = await makeCache(options)
    const b = await makeCache(options)
    expect((await a.loaders({ user }).user.load('1'))?.version).toBe(1)
    // Warm and healthy: A answers from L1 (its lease is renewed).
    await a.loaders({ user }).user.load('1')
    expect(a.stats().loaders.user!.l1Hits).toBeGreaterThanOrEqual(1)

    server.signal('SIGSTOP')
    try {
      source.update('1', { name: 'changed while Redis is frozen' })
      await b.invalidate(user, ['1']) // resolves: queued for replay
      const resolvedAt = performance.now()
      const stale: number[] = []
      // Load for 2.5 s: any load that starts maxStalenessMs after the invalidation resolved must be fresh.
      while (performance.now() - resolvedAt < 2500) {
        const startedAt = performance.now()
        const row = await a.loaders({ user }).user.load('1')
        if (row?.version === 1 && startedAt - resolvedAt >= options.maxStalenessMs)
          stale.push(startedAt - resolvedAt)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect(stale).toEqual([])
      expect((await a.loaders({ user }).user.load('1'))?.name).toBe('changed while Redis is frozen')
      // The lapsed lease is visible: batches that skipped L1 are counted (and exported as a metric).
      expect(a.stats().memory.bypassed).toBeGreaterThan(0)
    } finally {
      server.signal('SIGCONT')
    }
  }, 30_000)

  it('bypasses L1 at once when the system clock steps back past the lease, and uses it again from the next renewal', async () => {
    const { a, user, hits } = await servingFromL1({ maxStalenessMs: 1000 })
    // The system clock, stepped: Date.now() runs on from 60 s earlier (timers and the monotonic clock run on).
    const step = steppedClock()
    try {
      step(-60_000)
      expect((await loadSkippingL1({ a, user, hits }))?.version).toBe(1)
      // The next renewal measures the lease on the stepped clock: L1 is back.
      const deadline = performance.now() + 5000
      while (a.stats().loaders.user!.l1Hits === hits) {
        if (performance.now() > deadline) throw new Error('L1 not in use 5 s after the step')
        await new Promise((resolve) => setTimeout(resolve, 20))
        await a.loaders({ user }).user.load('1')
      }
    } finally {
      vi.restoreAllMocks()
    }
  })

  it('ends the lease of a frozen bus maxStalenessMs after its last answered PING, whatever the system clock did (SIGSTOP)', async () => {
    const options = { ...WHILE_FROZEN, maxStalenessMs: 1000 }
    const { a, user, hits, notes } = await servingFromL1(options)
    server.signal('SIGSTOP')
    const frozenAt = performance.now()
    const step = steppedClock()
    try {
      // The last answered PING was sent before the freeze. A step back of less than the time since leaves
      // "now" after it; measured on the system clock alone, the lease would last 600 ms longer.
      await new Promise((resolve) => setTimeout(resolve, 700))
      step(-600)
      await waitFor(
        () => notes.some((note) => note.includes('stepped back')),
        'a renewal tick to see the step',
      )
      const due = frozenAt + options.maxStalenessMs + 50 - performance.now()
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due))
      await loadSkippingL1({ a, user, hits })
    } finally {
      vi.restoreAllMocks()
      server.signal('SIGCONT')
    }
  }, 30_000)

  it('voids the lease when the system clock jumps ahead (a suspend), until a PING sent after the jump is answered (SIGSTOP)', async () => {
    // A long lease: only the jump can end it within this test.
    const { a, user, hits, notes } = await servingFromL1({ ...WHILE_FROZEN, maxStalenessMs: 5000 })
    server.signal('SIGSTOP')
    const step = steppedClock()
    try {
      // A suspend the monotonic clock does not count: 300 ms of system time gone, well inside the lease.
      step(300)
      await waitFor(() => notes.some((note) => note.includes('jumped')), 'a renewal tick to see the jump')
      await loadSkippingL1({ a, user, hits })
    } finally {
      vi.restoreAllMocks()
      server.signal('SIGCONT')
    }
    // Redis answers again: the first PING sent after the jump brings L1 back.
    const deadline = performance.now() + 10_000
    while (a.stats().loaders.user!.l1Hits === hits) {
      if (performance.now() > deadline) throw new Error('L1 not in use 10 s after Redis came back')
      await new Promise((resolve) => setTimeout(resolve, 20))
      await a.loaders({ user }).user.load('1')
    }
  }, 30_000)

  it('keeps serving L1 while a test freezes Date (fake timers on Date only): the lease follows the frozen clock', async () => {
    const { a, user } = await servingFromL1({ maxStalenessMs: 400 })
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      // Frozen for 5 leases: the lease is still renewed (each answer is measured on the monotonic clock).
      const until = performance.now() + 2000
      while (performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 50))
      const hits = a.stats().loaders.user!.l1Hits
      const deadline = performance.now() + 5000
      while (a.stats().loaders.user!.l1Hits === hits) {
        if (performance.now() > deadline) throw new Error('L1 not in use with Date frozen')
        await a.loaders({ user }).user.load('1')
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    } finally {
      vi.useRealTimers()
    }
  })

  it('stops using L1 at once when its bus connection is dropped, and uses it again once it is back', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(3)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const a = await makeCache({ maxStalenessMs: 1000 })
    await a.loaders({ user }).user.load('2')
    const admin = server.client()
    const states: string[] = []
    a.on('bus', (state) => states.push(state))
    await admin.client('KILL', 'TYPE', 'pubsub')
    await waitFor(() => states.includes('down'), 'bus down')
    const l1Before = a.stats().loaders.user!.l1Hits
    const bypassedBefore = a.stats().memory.bypassed
    await a.loaders({ user }).user.load('2')
    expect(a.stats().loaders.user!.l1Hits).toBe(l1Before)
    expect(a.stats().memory.bypassed).toBe(bypassedBefore + 1)
    await waitFor(() => states.includes('up'), 'bus back')
    await a.loaders({ user }).user.load('2')
    await a.loaders({ user }).user.load('2')
    expect(a.stats().loaders.user!.l1Hits).toBeGreaterThan(l1Before)
  })
})

describe('a Redis that evicts tag versions (allkeys-lru)', () => {
  it('serves no invalidated value when tag versions are evicted under memory pressure, and says so at startup', async () => {
    const lru = await startRedisServer({ args: ['--maxmemory', '1gb'] })
    try {
      const admin = lru.client()
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
      const warnings: string[] = []
      const namespace = uniqueNamespace()
      const source = new TestSource(0)
      const ids = Array.from({ length: 400 }, (_, i) => String(i + 1))
      for (const id of ids) source.put({ id, name: `user ${id}`, orgId: Number(id) % 50, version: 1 })
      const user = defineLoader({
        name: 'user',
        fetch: source.fetch,
        tags: (_id, row) => [`org:${row.orgId}`],
      })
      const logger = { warn: (message: string) => warnings.push(message), error: () => {} }
      const writer = createCache({ namespace, redis: lru.client(), logger })
      await waitFor(() => writer.stats().redis.busConnected, 'bus')
      await waitFor(() => warnings.some((w) => w.includes('allkeys-lru')), 'eviction policy warning')
      expect(warnings.find((w) => w.includes('allkeys-lru'))).toContain('volatile-ttl')

      await writer.loaders({ user }).user.loadMany(ids)
      // Every org changes, and is invalidated.
      for (const id of ids) source.update(id, {})
      await writer.invalidateTags(Array.from({ length: 50 }, (_, org) => `org:${org}`))
      // Memory pressure: unrelated keys push Redis past maxmemory, so it evicts (some tag versions too).
      const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1])
      await admin.config('SET', 'maxmemory', String(used + 2 * 1024 * 1024))
      const filler = 'x'.repeat(1024)
      for (let i = 0; i < 6000; i++) await admin.set(`filler:${i}`, filler)
      const stats = await admin.info('stats')
      expect(Number(/evicted_keys:(\d+)/.exec(stats)?.[1])).toBeGreaterThan(0)

      // A fresh reader (empty L1): nothing it gets may be the version from before the invalidation.
      const reader = createCache({ namespace, redis: lru.client() })
      await waitFor(() => reader.stats().redis.busConnected, 'bus')
      const rows = await reader.loaders({ user }).user.loadMany(ids)
      const stale = rows.filter((row) => !(row instanceof Error) && row?.version === 1)
      expect(stale).toEqual([])
      await writer.close()
      await reader.close()
    } finally {
      await lru.dispose()
    }
  }, 60_000)
})

/** Makes Date.now() run `shift` ms off the real clock from the call of the returned function on. */
function steppedClock(): (shift: number) => void {
  const real = Date.now.bind(Date)
  let shift = 0
  vi.spyOn(Date, 'now').mockImplementation(() => real() + shift)
  return (by) => {
    shift += by
  }
}

/** For tests that freeze Redis: a load that bypasses L1 gives up on Redis fast, and the breaker stays open. */
const WHILE_FROZEN = { redisTimeoutMs: 200, breaker: { breakDurationMs: 60_000 } }

/**
 * A Redis-configured cache with one user in L1 and its lease live: the cache, the loader, its L1 hits so
 * far, and the debug notes its logger received (the bus notes clock steps there).
 */
async function servingFromL1(options: { maxStalenessMs: number; redisTimeoutMs?: number; breaker?: object }) {
  const notes: string[] = []
  const logger = { warn: () => {}, error: () => {}, debug: (message: string) => notes.push(message) }
  const source = new TestSource(3)
  const user = defineLoader({ name: 'user', fetch: source.fetch })
  const a = await cacheFactory('redis', server)({ ...options, logger })
  await a.loaders({ user }).user.load('1')
  await a.loaders({ user }).user.load('1')
  const hits = a.stats().loaders.user!.l1Hits
  expect(hits).toBeGreaterThanOrEqual(1)
  return { a, user, hits, notes }
}

/** Loads user 1 from `servingFromL1`'s cache, and checks the load skipped L1 (counted as bypassed). */
async function loadSkippingL1({
  a,
  user,
  hits,
}: Pick<Awaited<ReturnType<typeof servingFromL1>>, 'a' | 'user' | 'hits'>) {
  const bypassed = a.stats().memory.bypassed
  const row = await a.loaders({ user }).user.load('1')
  expect(a.stats().loaders.user!.l1Hits).toBe(hits)
  expect(a.stats().memory.bypassed).toBe(bypassed + 1)
  return row
}
