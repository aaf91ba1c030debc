import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type BreakerState, defineLoader } from '../../src/index.js'
import { busDelivered, cacheFactory, countCommands, waitFor } from '../helpers/cache.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { TestSource } from '../helpers/source.js'

// Each test gets its own redis-server: they kill, freeze and restart it.
let server: RedisServer
beforeEach(async () => {
  server = await startRedisServer()
})
afterEach(() => server.dispose())

const faultOptions = { redisTimeoutMs: 100, breaker: { failureThreshold: 3, breakDurationMs: 200 } }

describe('Redis faults', () => {
  it('keeps serving from the source while Redis is down, and uses Redis again once it is back', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(100)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const cache = await makeCache(faultOptions)
    const states: BreakerState[] = []
    cache.on('breaker', (state) => states.push(state))
    await cache.loaders({ user }).user.loadMany(['1', '2'])

    await server.stop('SIGKILL')
    for (let i = 0; i < 10; i++) {
      const rows = await cache.loaders({ user }).user.loadMany(['1', '2', String(10 + i)])
      expect(rows).toEqual([source.rows.get('1'), source.rows.get('2'), source.rows.get(String(10 + i))])
    }
    expect(states).toEqual(['open'])
    expect(cache.stats().redis.errors).toBeGreaterThanOrEqual(3)

    await server.restart()
    await waitFor(
      () => cache.stats().redis.breaker === 'closed' && cache.stats().redis.busConnected,
      'breaker closed and bus back',
    )
    // Only a probe closes it; probes sent before Redis was back (the restart can outlast breakDurationMs on
    // a busy machine) failed and opened it again.
    expect(states.join(' ')).toMatch(/^open( half-open open)* half-open closed$/)
    const before = source.calls.length
    await cache.loaders({ user }).user.loadMany(['50', '51'])
    expect(source.calls.length).toBe(before + 1)
    // The restarted (empty) Redis now holds them: another instance reads them with no fetch.
    const other = await makeCache(faultOptions)
    expect(await other.loaders({ user }).user.loadMany(['50', '51'])).toEqual([
      source.rows.get('50'),
      source.rows.get('51'),
    ])
    expect(source.calls.length).toBe(before + 1)
    expect(other.stats().loaders.user?.l2Hits).toBe(2)
  })

  it('bounds every load by the command timeout while Redis is frozen', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(10)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const cache = await makeCache(faultOptions)
    server.signal('SIGSTOP')
    try {
      for (let i = 0; i < 5; i++) {
        const started = Date.now()
        expect(await cache.loaders({ user }).user.load('1')).toEqual(source.rows.get('1'))
        expect(Date.now() - started).toBeLessThan(100 + 400)
      }
      expect(cache.stats().redis.breaker).toBe('open')
    } finally {
      server.signal('SIGCONT')
    }
  })

  it('bounds loads by the command timeout while a slow command blocks Redis (DEBUG SLEEP)', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(10)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const cache = await makeCache(faultOptions)
    const blocker = server.client()
    const sleeping = blocker.call('DEBUG', 'SLEEP', '1').catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, 20))
    const started = Date.now()
    expect(await cache.loaders({ user }).user.loadMany(['1', '2'])).toEqual([
      source.rows.get('1'),
      source.rows.get('2'),
    ])
    expect(Date.now() - started).toBeLessThan(100 + 400)
    await sleeping
  })

  it('releases the locks of a read that timed out, so other processes do not wait out the lock TTL', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(10)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const a = await makeCache({ redisTimeoutMs: 100, lockTtlMs: 5000 })
    const b = await makeCache({ redisTimeoutMs: 2000, lockTtlMs: 5000 })
    const blocker = server.client()
    const sleeping = blocker.call('DEBUG', 'SLEEP', '0.4').catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, 20))
    // A's read times out; its script still runs when Redis wakes up and takes the lock.
    expect(await a.loaders({ user }).user.load('1')).toEqual(source.rows.get('1'))
    await sleeping
    const started = Date.now()
    expect(await b.loaders({ user }).user.load('1')).toEqual(source.rows.get('1'))
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it('queues an invalidation Redis cannot take, and replays it before Redis is read again', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(10)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const a = await makeCache(faultOptions)
    const b = await makeCache(faultOptions)
    await a.loaders({ user }).user.load('1')
    expect(await b.loaders({ user }).user.load('1')).toEqual(source.rows.get('1'))

    server.signal('SIGSTOP')
    try {
      source.update('1', { name: 'changed during the outage' })
      const started = Date.now()
      // It tells the caller Redis did not take it: other processes may serve the old row until it lands.
      expect(await a.invalidate(user, ['1'])).toBe(false)
      expect(Date.now() - started).toBeLessThan(300)
      // The key, its key tag (which evicts responses built from the entry) and that tag's bucket.
      expect(a.stats().redis.pendingInvalidations).toBe(3)
      // While its invalidation is pending, `a` does not trust L2 (which still holds the old row).
      expect((await a.loaders({ user }).user.load('1'))?.name).toBe('changed during the outage')
    } finally {
      server.signal('SIGCONT')
    }
    await waitFor(() => a.stats().redis.pendingInvalidations === 0, 'replay')
    expect(await a.invalidateTags(['unrelated'])).toBe(true)
    // The replay deleted the entry in Redis and told `b` on the bus.
    await waitFor(() => b.stats().redis.busConnected && b.stats().redis.breaker === 'closed', 'b recovered')
    expect((await b.loaders({ user }).user.load('1'))?.name).toBe('changed during the outage')
    const fresh = await makeCache(faultOptions)
    expect((await fresh.loaders({ user }).user.load('1'))?.name).toBe('changed during the outage')
  })

  it('bounds the queue (keys and tags apart), drops the oldest, logs once per outage, and replays the newest', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(6)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const logged: { level: string; message: string }[] = []
    const a = await makeCache({
      ...faultOptions,
      maxPendingInvalidations: 4,
      logger: {
        warn: (message) => logged.push({ level: 'warn', message }),
        error: (message) => logged.push({ level: 'error', message }),
      },
    })
    const b = await makeCache(faultOptions)
    const ids = ['1', '2', '3', '4', '5', '6']
    await a.loaders({ user }).user.loadMany(ids)
    await b.loaders({ user }).user.loadMany(ids)

    server.signal('SIGSTOP')
    try {
      // Open a's breaker first (three reads time out), so the invalidations below send nothing: a command
      // sent to a stopped Redis still runs when it resumes, which would apply a "dropped" one after all.
      for (const id of ['x1', 'x2', 'x3']) await a.loaders({ user }).user.load(id)
      expect(a.stats().redis.breaker).toBe('open')
      for (const id of ids) source.update(id, { name: `renamed ${id}` })
      // One turn of the event loop: queued before the breaker's probe can take any of them.
      expect(await Promise.all(ids.map((id) => a.invalidate(user, [id])))).toEqual(ids.map(() => false))
      // Each invalidation queues its key and two tags (its key tag and that tag's bucket): at most 4 of each.
      expect(a.stats().redis.pendingInvalidations).toBe(8)
    } finally {
      server.signal('SIGCONT')
    }
    await waitFor(() => a.stats().redis.pendingInvalidations === 0, 'replay')
    await waitFor(() => b.stats().redis.busConnected && b.stats().redis.breaker === 'closed', 'b recovered')
    // The bus delivers in order: once a's probe reaches b, so has the replay before it.
    await busDelivered(a, b)
    // The newest four reached Redis and every process; the two oldest were dropped, as the log said.
    for (const id of ['3', '4', '5', '6']) {
      expect((await b.loaders({ user }).user.load(id))?.name).toBe(`renamed ${id}`)
    }
    const fresh = await makeCache(faultOptions)
    for (const id of ['1', '2']) {
      expect((await fresh.loaders({ user }).user.load(id))?.name).toBe(`user ${id}`)
    }
    const queued = logged.filter(({ message }) => message.includes('queued for replay'))
    const full = logged.filter(({ message }) => message.includes('queue is full'))
    const replayed = logged.filter(({ message }) => message.includes('replayed'))
    expect(queued).toHaveLength(1)
    expect(full).toEqual([{ level: 'error', message: expect.stringContaining('maxPendingInvalidations') }])
    // 2 keys and 8 tags (12 queued, 4 kept) dropped.
    expect(replayed).toEqual([{ level: 'warn', message: expect.stringContaining('; 10 older keys or tags') }])
  })

  it('closes within its deadline while Redis is frozen, and says how many invalidations Redis did not confirm', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(3)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const errors: string[] = []
    const a = await makeCache({
      redisTimeoutMs: 100,
      // The breaker stays closed: the invalidation is sent, times out and is queued while close() runs.
      breaker: { failureThreshold: 100, breakDurationMs: 60_000 },
      logger: { warn: () => {}, error: (message) => errors.push(message) },
    })
    await a.loaders({ user }).user.load('1')
    server.signal('SIGSTOP')
    try {
      // Neither awaited: close() must wait for this turn's invalidation and for the prime, whose Redis steps
      // time out and whose eviction then goes to the queue, after close() has begun.
      const invalidated = a.invalidate(user, ['1'])
      const primed = a.prime(user, [['2', source.update('2', { name: 'primed' })]])
      const started = performance.now()
      const closing = a.close()
      // Taken, not refused: close() is still waiting for the writes in flight (a mutation finishing during
      // a shutdown must not fail after its write to the source).
      const late = a.invalidate(user, ['3'])
      await closing
      // Bounded: the writes in flight (100 ms timeouts each), the last replay's deadline (max(1 s,
      // 10 x 100 ms)), then 1 s for the bus's QUIT.
      expect(performance.now() - started).toBeLessThan(10_000)
      expect(await invalidated).toBe(false)
      expect(await late).toBe(false)
      expect((await primed).stored).toEqual([])
      // Each id's key, its key tag and that tag's bucket: the prime's and the late one's too.
      expect(a.stats().redis.pendingInvalidations).toBe(9)
      // Once close() has finished, an invalidation could never be replayed: refused.
      await expect(a.invalidate(user, ['4'])).rejects.toMatchObject({ code: 'E_CACHE_CLOSED' })
    } finally {
      server.signal('SIGCONT')
    }
    expect(errors.filter((message) => message.includes('cache closed'))).toEqual([
      expect.stringContaining('cache closed with 9 invalidated keys or tags that Redis did not confirm'),
    ])
  })

  it('replays queued invalidations at close, even with the breaker open', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(3)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const errors: string[] = []
    const a = await makeCache({
      ...faultOptions,
      // No probe (which would replay the queue) for a minute: only close() can replay it.
      breaker: { failureThreshold: 3, breakDurationMs: 60_000 },
      logger: { warn: () => {}, error: (message) => errors.push(message) },
    })
    const b = await makeCache()
    await a.loaders({ user }).user.load('1')
    server.signal('SIGSTOP')
    try {
      for (const id of ['x1', 'x2', 'x3']) await a.loaders({ user }).user.load(id)
      expect(a.stats().redis.breaker).toBe('open')
    } finally {
      server.signal('SIGCONT')
    }
    source.update('1', { name: 'renamed' })
    // With the breaker open nothing is sent: queued, and Redis still holds the old entry.
    expect(await a.invalidate(user, ['1'])).toBe(false)
    expect(a.stats().redis.pendingInvalidations).toBe(3)
    // A second close() resolves when the first has finished, not at once.
    const first = a.close()
    await a.close()
    expect(a.stats().redis.pendingInvalidations).toBe(0)
    await first
    expect(errors.filter((message) => message.includes('cache closed'))).toEqual([])
    // b has nothing in memory: it reads Redis, where only the replay at close removed the old entry.
    expect((await b.loaders({ user }).user.load('1'))?.name).toBe('renamed')
  })

  it('goes on replaying at close until Redis answers again, within the deadline', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(3)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const errors: string[] = []
    const a = await makeCache({
      // The last replay's deadline: max(1 s, 10 x 300 ms) = 3 s.
      redisTimeoutMs: 300,
      breaker: { failureThreshold: 3, breakDurationMs: 60_000 },
      logger: { warn: () => {}, error: (message) => errors.push(message) },
    })
    const b = await makeCache()
    await a.loaders({ user }).user.load('1')
    server.signal('SIGSTOP')
    let resumed: NodeJS.Timeout | undefined
    try {
      for (const id of ['x1', 'x2', 'x3']) await a.loaders({ user }).user.load(id)
      expect(a.stats().redis.breaker).toBe('open')
      source.update('1', { name: 'renamed' })
      expect(await a.invalidate(user, ['1'])).toBe(false)
      // Frozen when close() starts: its first replay times out (300 ms); Redis runs again 500 ms in, and
      // a later try, still within the 3 s deadline, lands.
      resumed = setTimeout(() => server.signal('SIGCONT'), 500)
      await a.close()
    } finally {
      clearTimeout(resumed)
      server.signal('SIGCONT')
    }
    expect(a.stats().redis.pendingInvalidations).toBe(0)
    expect(errors.filter((message) => message.includes('cache closed'))).toEqual([])
    expect((await b.loaders({ user }).user.load('1'))?.name).toBe('renamed')
  })

  it('bypasses L1 while the bus is disconnected, so a remote invalidation cannot be missed', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(10)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const client = server.client()
    const sent = countCommands(client)
    const a = await makeCache({ redis: client })
    const b = await makeCache()
    await a.loaders({ user }).user.load('1')
    const admin = server.client()
    const busStates: string[] = []
    a.on('bus', (state) => busStates.push(state))

    await admin.client('KILL', 'TYPE', 'pubsub')
    await waitFor(() => busStates.includes('down'), 'bus down')
    source.update('1', { name: 'changed while a was deaf' })
    await b.invalidate(user, ['1'])
    sent.reset()
    expect((await a.loaders({ user }).user.load('1'))?.name).toBe('changed while a was deaf')
    // L1 did not answer: the load went to Redis.
    expect(sent.names).toContain('evalsha')
    await waitFor(() => busStates.includes('up'), 'bus up')
    expect(busStates).toEqual(['down', 'up'])
  })
})
