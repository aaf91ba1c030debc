import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineLoader } from '../../src/index.js'
import { cacheFactory, countCommands, eventually, waitFor } from '../helpers/cache.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { type Row, TestSource } from '../helpers/source.js'

/*
 * The timing options of the fill lock and the breaker, each on a redis-server this file starts with two
 * cache instances standing for two processes (README, guarantees 5 and 7): a fill that outlives its lock
 * is returned and not written; a waiter gives up after `lockWaitMs` and fetches without writing; an open
 * breaker sends nothing to Redis and keeps L1 out of use although the bus is up.
 */

let server: RedisServer
beforeAll(async () => {
  server = await startRedisServer()
})
afterAll(() => server.dispose())

function userLoader(source: TestSource) {
  return defineLoader<string, Row>({ name: 'user', ttl: 60, fetch: source.fetch })
}

describe('the fill lock', () => {
  it('returns a fill that outlived lockTtlMs without writing it: the next caller fetches, and its newer value stays', async () => {
    const source = new TestSource(2)
    const user = userLoader(source)
    const makeCache = cacheFactory('redis', server)
    // b's own fill must write within its lock TTL too: not so short that a loaded machine misses it.
    const [a, b] = [await makeCache({ lockTtlMs: 1000 }), await makeCache({ lockTtlMs: 1000 })]
    const client = server.client()
    const lockKey = `${makeCache.namespace}:{user:1}:l`
    const held = source.holdNextFetch()
    const slow = a.loaders({ user }).user.load('1')
    await held.started
    const old = source.rows.get('1')!
    // The lock's TTL runs out while a's fetch is still open (its snapshot is the old row).
    await eventually(async () => expect(await client.exists(lockKey)).toBe(0), 5000)
    const renamed = source.update('1', { name: 'Ann' })
    expect(await b.loaders({ user }).user.load('1')).toEqual(renamed)
    held.release()
    // Its caller gets what it fetched; Redis keeps b's newer value.
    expect(await slow).toEqual(old)
    expect(source.calls).toEqual([['1'], ['1']])
    const c = await makeCache()
    expect(await c.loaders({ user }).user.load('1')).toEqual(renamed)
    expect(c.stats().loaders.user).toMatchObject({ l2Hits: 1, fetchCalls: 0 })
    // Nor did a keep its value in L1: its next read is Redis's.
    expect(await a.loaders({ user }).user.load('1')).toEqual(renamed)
    expect(source.calls).toHaveLength(2)
  })

  it('has a waiter fetch on its own after lockWaitMs, without writing, while the holder keeps its lock', async () => {
    const source = new TestSource(2)
    const user = userLoader(source)
    const makeCache = cacheFactory('redis', server)
    const options = { lockTtlMs: 10_000, lockWaitMs: 150 }
    const [a, b] = [await makeCache(options), await makeCache(options)]
    const client = server.client()
    const entryKey = `${makeCache.namespace}:{user:1}`
    const lockKey = `${entryKey}:l`
    const held = source.holdNextFetch()
    const holder = a.loaders({ user }).user.load('1')
    await held.started
    const startedAt = performance.now()
    expect(await b.loaders({ user }).user.load('1')).toEqual(source.rows.get('1'))
    const waitedMs = performance.now() - startedAt
    // It waited for the holder's notice until lockWaitMs, not until the lock's TTL, then fetched itself.
    expect(waitedMs).toBeGreaterThanOrEqual(140)
    expect(waitedMs).toBeLessThan(5000)
    expect(b.stats().loaders.user).toMatchObject({ lockWaits: 1, fetchCalls: 1 })
    expect(source.calls).toEqual([['1'], ['1']])
    // Not written: the lock is a's, and Redis has no entry until a's fill lands.
    expect(await client.exists(entryKey)).toBe(0)
    expect(await client.exists(lockKey)).toBe(1)
    held.release()
    expect(await holder).toEqual(source.rows.get('1'))
    expect(await client.exists(entryKey)).toBe(1)
    expect(await client.exists(lockKey)).toBe(0)
  })
})

describe('an open breaker', () => {
  it('sends nothing to Redis and bypasses L1, although the bus is up; loads go to the source', async () => {
    const source = new TestSource(4)
    const user = userLoader(source)
    const makeCache = cacheFactory('redis', server)
    const client: Redis = server.client()
    const cache = await makeCache({
      redis: client,
      breaker: { failureThreshold: 2, breakDurationMs: 60_000 },
      logger: { warn: () => {}, error: () => {} },
    })
    expect(await cache.loaders({ user }).user.loadMany(['1', '2'])).toEqual([
      source.rows.get('1'),
      source.rows.get('2'),
    ])
    expect(cache.stats().memory.entries).toBe(2)
    // The one injected fault: this client's scripts fail (the bus's own connection is untouched).
    const send = client.sendCommand.bind(client)
    client.sendCommand = ((command: Parameters<typeof send>[0]) => {
      if (command.name === 'evalsha' || command.name === 'eval') {
        command.reject(new Error('injected: script failed'))
        return command.promise
      }
      return send(command)
    }) as typeof client.sendCommand
    await cache.loaders({ user }).user.load('3')
    await cache.loaders({ user }).user.load('4')
    await waitFor(() => cache.stats().redis.breaker === 'open', 'the breaker to open')
    expect(cache.stats().redis.busConnected).toBe(true)
    expect(cache.stats().memory.entries).toBe(0)
    client.sendCommand = send
    const sent = countCommands(client)
    const before = cache.stats()
    const calls = source.calls.length
    for (let request = 0; request < 3; request++) {
      expect(await cache.loaders({ user }).user.loadMany(['1', '2'])).toEqual([
        source.rows.get('1'),
        source.rows.get('2'),
      ])
    }
    // Every request fetched (one batch each), none was an L1 hit, and not one command went to Redis.
    expect(source.calls.length - calls).toBe(3)
    expect(cache.stats().loaders.user!.l1Hits).toBe(before.loaders.user!.l1Hits)
    expect(cache.stats().memory.bypassed - before.memory.bypassed).toBe(3)
    expect(cache.stats().memory.entries).toBe(0)
    expect(sent.names).toEqual([])
  })
})
