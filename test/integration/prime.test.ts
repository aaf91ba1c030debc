import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache, defineLoader } from '../../src/index.js'
import { primeScript } from '../../src/redis/scripts.js'
import { cacheFactory, type Mode, uniqueNamespace } from '../helpers/cache.js'
import { startWorker, type Worker } from '../helpers/processes.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { type Row, TestSource } from '../helpers/source.js'

let server: RedisServer
beforeAll(async () => {
  server = await startRedisServer()
})
afterAll(() => server.dispose())

function userLoader(source: TestSource) {
  return defineLoader<string, Row>({
    name: 'user',
    fetch: source.fetch,
    entity: 'User',
    tags: (_id, row) => [`org:${row.orgId}`],
  })
}

/**
 * A value built from a user, tagged with its entity tag as GraphQL fields and tRPC procedures are;
 * `fetches()` counts its fetch calls.
 */
function profileLoader(source: TestSource) {
  let fetches = 0
  const profile = defineLoader<string, string>({
    name: 'profile',
    fetch: async (ids) => {
      fetches++
      return ids.map((id) => `${source.rows.get(id)!.name} (v${source.rows.get(id)!.version})`)
    },
    tags: (id) => [`User:${id}`],
  })
  return { profile, fetches: () => fetches }
}

describe.each<Mode>(['memory', 'redis'])('cache.prime (%s)', (mode) => {
  const caches = () => cacheFactory(mode, mode === 'redis' ? { client: () => server.client() } : undefined)

  it('stores the new value: the next read costs no fetch and shows it', async () => {
    const source = new TestSource(3)
    const user = userLoader(source)
    const cache = await caches()()
    expect(await cache.loaders({ user }).user.load('1')).toMatchObject({ version: 1 })
    const ticket = await cache.writeTicket()
    const updated = source.update('1', { name: 'Ada' })
    expect(await cache.prime(user, [['1', updated]], { since: ticket })).toEqual({
      stored: ['1'],
      evicted: ['1'],
    })
    const calls = source.calls.length
    expect(await cache.loaders({ user }).user.load('1')).toEqual(updated)
    expect(source.calls.length).toBe(calls)
  })

  it('evicts what was derived from the entity (its entity tag), everywhere', async () => {
    const source = new TestSource(3)
    const user = userLoader(source)
    const { profile, fetches } = profileLoader(source)
    const cache = await caches()()
    expect(await cache.loaders({ profile }).profile.load('1')).toBe('user 1 (v1)')
    const ticket = await cache.writeTicket()
    const updated = source.update('1', { name: 'Ada' })
    await cache.prime(user, [['1', updated]], { since: ticket })
    expect(await cache.loaders({ profile }).profile.load('1')).toBe('Ada (v2)')
    expect(fetches()).toBe(2)
  })

  it('does not store a value when its key was invalidated after the ticket (a newer write), and still evicts', async () => {
    const source = new TestSource(3)
    const user = userLoader(source)
    const cache = await caches()()
    await cache.loaders({ user }).user.load('1')
    const ticket = await cache.writeTicket()
    const ours = source.update('1', { name: 'ours' })
    // Another writer commits a newer row and invalidates it between our write and our prime.
    const theirs = source.update('1', { name: 'theirs' })
    await cache.invalidate(user, ['1'])
    expect(await cache.prime(user, [['1', ours]], { since: ticket })).toEqual({ stored: [], evicted: ['1'] })
    expect(await cache.loaders({ user }).user.load('1')).toEqual(theirs)
  })

  it('does not store a value when one of its tags was invalidated after the ticket', async () => {
    const source = new TestSource(3)
    const user = userLoader(source)
    const cache = await caches()()
    const ticket = await cache.writeTicket()
    const ours = source.update('1', { name: 'ours' })
    await cache.invalidateTags([`org:${ours.orgId}`])
    expect((await cache.prime(user, [['1', ours]], { since: ticket })).stored).toEqual([])
    const calls = source.calls.length
    await cache.loaders({ user }).user.load('1')
    expect(source.calls.length).toBe(calls + 1)
  })

  it('stores several entries at once, and without a ticket trusts the values', async () => {
    const source = new TestSource(5)
    const user = userLoader(source)
    const cache = await caches()()
    const rows = ['1', '2', '3'].map((id) => [id, source.update(id, { name: `n${id}` })] as const)
    expect((await cache.prime(user, new Map(rows))).stored).toEqual(['1', '2', '3'])
    const loaded = await cache.loaders({ user }).user.loadMany(['1', '2', '3'])
    expect(loaded).toEqual(rows.map(([, row]) => row))
    expect(source.calls).toEqual([])
  })

  it('refuses what is not a prime: no pairs, an undefined value, a foreign ticket, an unknown option', async () => {
    const source = new TestSource(1)
    const user = userLoader(source)
    const cache = await caches()()
    const other = createCache({ namespace: uniqueNamespace() })
    await expect(cache.prime(user, [['1']] as never)).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      message: expect.stringContaining('[id, value] pairs'),
    })
    await expect(cache.prime(user, [['1', undefined]] as never)).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      message: expect.stringContaining('use invalidate()'),
    })
    await expect(
      cache.prime(user, [['1', source.rows.get('1')!]], { since: await other.writeTicket() }),
    ).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', message: expect.stringContaining('writeTicket') })
    await expect(
      cache.prime(user, [['1', source.rows.get('1')!]], { sinse: 1 } as never),
    ).rejects.toMatchObject({ code: 'E_INVALID_OPTION' })
    await other.close()
  })
})

describe('cache.prime with Redis', () => {
  it('makes a fill that was running when it landed write nothing (its lock is gone)', async () => {
    const source = new TestSource(2)
    const user = userLoader(source)
    const makeCache = cacheFactory('redis', { client: () => server.client() })
    const [a, b] = [await makeCache(), await makeCache()]
    const held = source.holdNextFetch()
    const stale = b.loaders({ user }).user.load('1')
    await held.started
    const updated = source.update('1', { name: 'Ada' })
    expect((await a.prime(user, [['1', updated]], { since: undefined })).stored).toEqual(['1'])
    held.release()
    // The old fill answers its own caller with what it read, but stores nothing over the prime.
    expect(await stale).toMatchObject({ version: 1 })
    expect(b.stats().loaders.user!.staleWritesRefused).toBe(1)
    const calls = source.calls.length
    expect(await b.loaders({ user }).user.load('1')).toEqual(updated)
    expect(await a.loaders({ user }).user.load('1')).toEqual(updated)
    expect(source.calls.length).toBe(calls)
  })

  it('leaves nothing in L1 that was read from Redis while the prime was on its way there (forced)', async () => {
    const source = new TestSource(2)
    const user = userLoader(source)
    const { profile, fetches } = profileLoader(source)
    // The fault a real Redis cannot produce on cue: the prime script held on its way, so that this
    // process evicts locally, then reads before Redis has applied the prime.
    const client = server.client()
    let releasePrime!: () => void
    const primeHeld = new Promise<void>((resolve) => {
      releasePrime = resolve
    })
    let primeSent!: () => void
    const primeReached = new Promise<void>((resolve) => {
      primeSent = resolve
    })
    const evalsha = client.evalsha.bind(client) as (...args: unknown[]) => Promise<unknown>
    ;(client as unknown as { evalsha: unknown }).evalsha = async (...args: unknown[]) => {
      if (args[0] === primeScript.sha) {
        primeSent()
        await primeHeld
      }
      return evalsha(...args)
    }
    const cache = await cacheFactory('redis')({ redis: client })
    expect(await cache.loaders({ profile }).profile.load('1')).toBe('user 1 (v1)')
    expect(await cache.loaders({ user }).user.load('1')).toMatchObject({ version: 1 })

    const updated = source.update('1', { name: 'Ada' })
    const priming = cache.prime(user, [['1', updated]])
    await primeReached
    // Redis still holds the old entries, valid: a read now may see them (the prime has not resolved).
    expect(await cache.loaders({ profile }).profile.load('1')).toBe('user 1 (v1)')
    expect(await cache.loaders({ user }).user.load('1')).toMatchObject({ version: 1 })
    releasePrime()
    expect((await priming).stored).toEqual(['1'])

    // Once it resolved, no read of this process may show the old values.
    expect(await cache.loaders({ profile }).profile.load('1')).toBe('Ada (v2)')
    expect(fetches()).toBe(2)
    const calls = source.calls.length
    expect(await cache.loaders({ user }).user.load('1')).toEqual(updated)
    expect(source.calls.length).toBe(calls)
  })

  it('never rejects when Redis is down: the eviction is queued and nothing is stored', async () => {
    const dead = await startRedisServer()
    const client = dead.client()
    const source = new TestSource(1)
    const user = userLoader(source)
    const cache = createCache({ namespace: uniqueNamespace(), redis: client, redisTimeoutMs: 200 })
    await cache.loaders({ user }).user.load('1')
    const ticket = await cache.writeTicket()
    await dead.dispose()
    const updated = source.update('1', { name: 'Ada' })
    expect(await cache.prime(user, [['1', updated]], { since: ticket })).toEqual({
      stored: [],
      evicted: ['1'],
    })
    expect(cache.stats().redis.pendingInvalidations).toBeGreaterThan(0)
    // Served by the source meanwhile, never by the old L1 copy.
    expect(await cache.loaders({ user }).user.load('1')).toEqual(updated)
    await cache.close()
    client.disconnect()
  })

  it('stores nothing with a ticket taken while Redis was unreachable, even once Redis is back', async () => {
    const source = new TestSource(1)
    const user = userLoader(source)
    const makeCache = cacheFactory('redis', { client: () => server.client() })
    // The breaker stays closed: the ticket's read times out, and nothing else is refused.
    const cache = await makeCache({
      redisTimeoutMs: 500,
      breaker: { failureThreshold: 100, breakDurationMs: 200 },
    })
    await cache.loaders({ user }).user.load('1')
    server.signal('SIGSTOP')
    let ticket: Awaited<ReturnType<typeof cache.writeTicket>>
    try {
      // The clock cannot be read: an invalidation made meanwhile (by any process) could not be ruled out.
      ticket = await cache.writeTicket()
    } finally {
      server.signal('SIGCONT')
    }
    expect(await server.client().ping()).toBe('PONG')
    const updated = source.update('1', { name: 'Ada' })
    expect(await cache.prime(user, [['1', updated]], { since: ticket })).toEqual({
      stored: [],
      evicted: ['1'],
    })
    // Redis took the eviction: it is the ticket, not a fault, that kept the value out.
    expect(cache.stats().redis.pendingInvalidations).toBe(0)
    const calls = source.calls.length
    const other = await makeCache()
    expect(await other.loaders({ user }).user.load('1')).toEqual(updated)
    expect(source.calls.length).toBe(calls + 1)
  })
})

describe('cache.prime across processes', () => {
  function database(versions: Record<string, number>): { file: string } {
    const file = join(mkdtempSync(join(tmpdir(), 'loadcache-db-')), 'db.json')
    writeFileSync(file, JSON.stringify(versions))
    return { file }
  }

  async function twoProcesses(): Promise<[Worker, Worker]> {
    const db = database({ '1': 1, '2': 1 })
    const env = { REDIS_PORT: String(server.port), NAMESPACE: uniqueNamespace(), DB_FILE: db.file }
    return [await startWorker(env), await startWorker(env)]
  }

  const fetchCount = async (worker: Worker) =>
    (await worker.call<{ fetches: string[][] }>({ op: 'fetches' })).fetches.flat().length

  it('a write that primes costs zero fetches in both processes, which show the new value', async () => {
    const [a, b] = await twoProcesses()
    await a.call({ op: 'load', ids: ['1'] })
    await b.call({ op: 'load', ids: ['1'] })
    const before = [await fetchCount(a), await fetchCount(b)]
    await a.call({ op: 'ticket', name: 't' })
    await a.call({ op: 'write', id: '1', version: 2 })
    const heard = b.call({ op: 'awaitEvictedTag', tag: '@item:1' })
    await b.nextEvent('listening')
    expect(await a.call({ op: 'prime', ids: ['1'], ticket: 't' })).toMatchObject({ stored: ['1'] })
    // b drops its L1 copy when the prime's announcement arrives; it then reads the primed entry.
    await heard
    expect(await b.call({ op: 'load', ids: ['1'] })).toMatchObject({ versions: [2] })
    expect(await a.call({ op: 'load', ids: ['1'] })).toMatchObject({ versions: [2] })
    expect([await fetchCount(a), await fetchCount(b)]).toEqual(before)
  })

  it('a prime racing another process’s newer write and invalidation (forced) never lands', async () => {
    const [a, b] = await twoProcesses()
    await a.call({ op: 'load', ids: ['1'] })
    await a.call({ op: 'ticket', name: 't' })
    await a.call({ op: 'write', id: '1', version: 2 })
    // b writes a newer row and invalidates it after a's write, before a's prime.
    await b.call({ op: 'write', id: '1', version: 3 })
    await b.call({ op: 'invalidate', ids: ['1'] })
    expect(await a.call({ op: 'prime', ids: ['1'], ticket: 't' })).toMatchObject({ stored: [] })
    // Version 2 would be stale: every process reads 3.
    expect(await a.call({ op: 'load', ids: ['1'] })).toMatchObject({ versions: [3] })
    expect(await b.call({ op: 'load', ids: ['1'] })).toMatchObject({ versions: [3] })
  })

  it('a prime racing a tag invalidation in another process (forced) never lands', async () => {
    const [a, b] = await twoProcesses()
    await a.call({ op: 'ticket', name: 't' })
    await a.call({ op: 'write', id: '1', version: 2 })
    await b.call({ op: 'write', id: '1', version: 3 })
    // The worker's loader tags id 1 with group:1.
    await b.call({ op: 'invalidateTags', tags: ['group:1'] })
    expect(await a.call({ op: 'prime', ids: ['1'], ticket: 't' })).toMatchObject({ stored: [] })
    expect(await b.call({ op: 'load', ids: ['1'] })).toMatchObject({ versions: [3] })
  })
})
