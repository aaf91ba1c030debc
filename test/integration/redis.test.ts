import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeSegment } from '../../src/core/keys.js'
import { createCache, defineLoader } from '../../src/index.js'
import { cacheFactory, countCommands, uniqueNamespace, waitFor } from '../helpers/cache.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { TestSource } from '../helpers/source.js'
import { describeLoaderBehaviour } from './loader-behaviour.js'

let server: RedisServer
beforeAll(async () => {
  server = await startRedisServer()
})
afterAll(() => server.dispose())

describeLoaderBehaviour('redis', () => server)

/**
 * Has a throwaway cache run every script once on this server, so the counts below are not an EVALSHA's
 * one-time NOSCRIPT fallback to EVAL (which a test run alone, before any other, would see).
 */
async function loadScripts(): Promise<void> {
  const client = server.client()
  const cache = createCache({ namespace: uniqueNamespace(), redis: client })
  const warm = defineLoader({ name: 'warm', fetch: (ids: readonly string[]) => ids.map((id) => ({ id })) })
  await cache.loaders({ warm }).warm.load('1')
  await cache.invalidate(warm, ['1'])
  await cache.close()
  client.disconnect()
}

describe('round trips per batch', () => {
  beforeAll(loadScripts)

  it('costs 2 round trips and 1 fetch for a batch of misses, 1 for L2 hits, 0 for L1 hits', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(100)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const ids = Array.from({ length: 50 }, (_, i) => String(i + 1))
    const admin = server.client()

    const client = server.client()
    const sent = countCommands(client)
    const cache = await makeCache({ redis: client })
    await admin.config('RESETSTAT')
    sent.reset()
    await cache.loaders({ user }).user.loadMany(ids)
    expect(sent.names).toEqual(['evalsha', 'evalsha'])
    expect(source.calls).toEqual([ids])
    expect(await serverCalls(admin, 'evalsha')).toBe(2)

    sent.reset()
    await cache.loaders({ user }).user.loadMany(ids)
    expect(sent.names).toEqual([])

    // A second process: empty L1, warm Redis.
    const otherClient = server.client()
    const otherSent = countCommands(otherClient)
    const other = await makeCache({ redis: otherClient })
    otherSent.reset()
    await admin.config('RESETSTAT')
    const rows = await other.loaders({ user }).user.loadMany(ids)
    expect(rows).toEqual(ids.map((id) => source.rows.get(id)))
    expect(otherSent.names).toEqual(['evalsha'])
    expect(await serverCalls(admin, 'evalsha')).toBe(1)
    expect(source.calls).toHaveLength(1)
    expect(other.stats().loaders.user).toMatchObject({ l2Hits: 50, fetchCalls: 0 })

    // ...and the L2 hits were copied into its L1.
    otherSent.reset()
    await other.loaders({ user }).user.loadMany(ids)
    expect(otherSent.names).toEqual([])
  })

  it('costs a caller that finds the batch locked by another process 1 read and 1 re-read on the fill notice, and no fetch', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(100)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const ids = Array.from({ length: 50 }, (_, i) => String(i + 1))
    const holder = await makeCache({ lockTtlMs: 10_000 })
    const client = server.client()
    const sent = countCommands(client)
    const waiter = await makeCache({ redis: client, lockTtlMs: 10_000 })
    const held = source.holdNextFetch()
    const filling = holder.loaders({ user }).user.loadMany(ids)
    await held.started
    sent.reset()
    let settled = false
    const waiting = waiter
      .loaders({ user })
      .user.loadMany(ids)
      .finally(() => {
        settled = true
      })
    await waitFor(() => waiter.stats().loaders.user?.lockWaits === 50, 'the waiter to find the locks')
    expect(sent.names).toEqual(['evalsha'])
    expect(settled).toBe(false)
    const releasedAt = performance.now()
    held.release()
    await filling
    // Woken by the notice, long before the 10 s lock TTL.
    expect(await waiting).toEqual(ids.map((id) => source.rows.get(id)))
    expect(performance.now() - releasedAt).toBeLessThan(2_000)
    expect(sent.names).toEqual(['evalsha', 'evalsha'])
    expect(source.calls).toEqual([ids])
    expect(waiter.stats().loaders.user).toMatchObject({ l2Hits: 50, fetchCalls: 0, lockWaits: 50 })
  })

  it('sends the invalidations of one event-loop turn as one script and one bus message', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(10)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const client = server.client()
    const sent = countCommands(client)
    const cache = await makeCache({ redis: client })
    await cache.loaders({ user }).user.loadMany(['1', '2', '3'])
    const subscriber = server.client()
    const messages: string[] = []
    subscriber.on('message', (_channel: string, message: string) => messages.push(message))
    await subscriber.subscribe(`${makeCache.namespace}:bus`)
    sent.reset()
    const results = await Promise.all([
      cache.invalidate(user, ['1']),
      cache.invalidate(user, ['2', '3']),
      cache.invalidateTags(['org:1', 'org:2']),
      cache.invalidateTypes(['User']),
    ])
    expect(results).toEqual([true, true, true, true])
    expect(sent.names).toEqual(['evalsha'])
    await waitFor(() => messages.length > 0, 'the bus message')
    // Nothing else was published meanwhile (a PING on the subscriber's own connection shows delivery done).
    await subscriber.call('PING')
    expect(messages).toHaveLength(1)
    const lines = messages[0]!.split('\n')
    for (const id of ['1', '2', '3']) expect(lines).toContain(`k${makeCache.namespace}:{user:${id}}`)
    for (const tag of ['org:1', 'org:2', 'User']) expect(lines).toContain(`t${encodeSegment(tag)}`)
  })
})

describe('command timeouts', () => {
  it('does not count a reply that arrived while the event loop was blocked as a timeout', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(10)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const writer = await makeCache()
    await writer.loaders({ user }).user.load('1')
    const client = server.client()
    const reader = await makeCache({ redisTimeoutMs: 100, redis: client })
    // Block the loop past the timeout right after the read is sent, while Redis answers: like a large
    // JSON.parse or a CPU-heavy resolver running at the wrong moment.
    const send = client.sendCommand.bind(client)
    let block = true
    client.sendCommand = ((command: { name: string }, ...rest: never[]) => {
      const result = send(command as never, ...rest)
      if (block && command.name === 'evalsha') {
        block = false
        // After the caller has armed its timeout (a microtask later), not before.
        queueMicrotask(() => {
          const until = Date.now() + 250
          while (Date.now() < until) {
            // busy
          }
        })
      }
      return result
    }) as typeof client.sendCommand
    // Continue from an I/O callback (a reply), as a request handler does: then the timers phase, not the
    // poll phase that reads the reply, comes first after the stall.
    await client.ping()
    const loading = reader.loaders({ user }).user.load('1')
    expect(await loading).toEqual(source.rows.get('1'))
    expect(reader.stats().redis.errors).toBe(0)
    expect(reader.stats().loaders.user).toMatchObject({ l2Hits: 1, fetchCalls: 0 })
  })
})

describe('bus connection', () => {
  it('connects the bus of a client made with lazyConnect, so L1 is used', async () => {
    const makeCache = cacheFactory('redis', server)
    const cache = await makeCache({ redis: server.client({ lazyConnect: true }) })
    expect(cache.stats().redis.busConnected).toBe(true)
  })
})

describe('TTL jitter', () => {
  it('spreads the expiry of entries written together', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(50)
    const user = defineLoader({ name: 'user', fetch: source.fetch, ttl: 1000 })
    const cache = await makeCache({ jitter: 0.5 })
    const ids = Array.from({ length: 50 }, (_, i) => String(i + 1))
    await cache.loaders({ user }).user.loadMany(ids)
    const admin = server.client()
    const ttls = await Promise.all(ids.map((id) => admin.pttl(`${makeCache.namespace}:{user:${id}}`)))
    for (const ttl of ttls) {
      expect(ttl).toBeGreaterThan(990_000)
      expect(ttl).toBeLessThanOrEqual(1_500_000)
    }
    // 50 draws from +0..50%: spread over far more than a second.
    expect(Math.max(...ttls) - Math.min(...ttls)).toBeGreaterThan(60_000)
  })
})

describe('corrupt entries', () => {
  it('treats an undecodable entry as a miss, removes it, and caches the fresh value', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(10)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const writer = await makeCache()
    await writer.loaders({ user }).user.loadMany(['1', '2', '3'])
    const admin = server.client()
    const keys = (await admin.keys(`${makeCache.namespace}:{user:*`))
      .filter((key) => !key.endsWith(':l'))
      .sort()
    expect(keys).toHaveLength(3)
    await admin.set(keys[0]!, 'garbage without a header')
    await admin.set(keys[1]!, '1 v 0 0 9999999999999 1\n{not json')
    await admin.set(keys[2]!, '7 future format\n{}')

    const reader = await makeCache()
    const rows = await reader.loaders({ user }).user.loadMany(['1', '2', '3'])
    expect(rows).toEqual([source.rows.get('1'), source.rows.get('2'), source.rows.get('3')])
    expect(source.calls.slice(1).flat().sort()).toEqual(['1', '2', '3'])
    const third = await makeCache()
    expect(await third.loaders({ user }).user.loadMany(['1', '2', '3'])).toEqual(rows)
    expect(third.stats().loaders.user?.l2Hits).toBe(3)
  })
})

describe('across cache instances on one Redis', () => {
  it('evicts the L1 copies of other instances through the bus', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(10)
    const user = defineLoader({ name: 'user', fetch: source.fetch, tags: (_id, row) => [`org:${row.orgId}`] })
    const a = await makeCache()
    const b = await makeCache()
    await b.loaders({ user }).user.loadMany(['1', '2'])
    await b.loaders({ user }).user.loadMany(['1', '2'])
    expect(b.stats().loaders.user?.l1Hits).toBe(2)

    source.update('1', { name: 'by id' })
    await a.invalidate(user, ['1'])
    const started = Date.now()
    let row = await b.loaders({ user }).user.load('1')
    while (row?.name !== 'by id' && Date.now() - started < 100) {
      await new Promise((resolve) => setTimeout(resolve, 5))
      row = await b.loaders({ user }).user.load('1')
    }
    expect(row?.name).toBe('by id')

    source.update('2', { name: 'by tag' })
    await a.invalidateTags(['org:2'])
    const tagStarted = Date.now()
    let two = await b.loaders({ user }).user.load('2')
    while (two?.name !== 'by tag' && Date.now() - tagStarted < 100) {
      await new Promise((resolve) => setTimeout(resolve, 5))
      two = await b.loaders({ user }).user.load('2')
    }
    expect(two?.name).toBe('by tag')
  })
})

async function serverCalls(admin: ReturnType<RedisServer['client']>, command: string): Promise<number> {
  const info = await admin.info('commandstats')
  const match = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)
  return match ? Number(match[1]) : 0
}

describe('events for metrics and traces', () => {
  it('reports hits by tier, misses, fetches and Redis round trips to listeners', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(10)
    source.failingIds.add('3')
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const a = await makeCache()
    const b = await makeCache()
    const seen: string[] = []
    for (const cache of [a, b]) {
      const name = cache === a ? 'a' : 'b'
      cache.on('hit', (event) => seen.push(`${name} hit ${event.tier} ${event.key.split(':').at(-1)}`))
      cache.on('miss', (event) => seen.push(`${name} miss ${event.key.split(':').at(-1)}`))
      cache.on('fetch', (event) =>
        seen.push(`${name} fetch ${event.loader} ${event.ids} ids, ${event.failed} failed`),
      )
    }
    const operations: string[] = []
    a.on('redis', (event) => {
      expect(event.durationMs).toBeGreaterThanOrEqual(0)
      operations.push(`${event.operation}${event.error ? ' failed' : ''}`)
    })
    await a.loaders({ user }).user.loadMany(['1', '3'])
    await a.loaders({ user }).user.load('1')
    await b.loaders({ user }).user.load('1')
    expect(seen).toEqual([
      'a miss 1}',
      'a miss 3}',
      'a fetch user 2 ids, 1 failed',
      'a hit l1 1}',
      'b hit l2 1}',
    ])
    expect(operations).toEqual(['read', 'write'])
  })
})
