import { makeExecutableSchema } from '@graphql-tools/schema'
import { createYoga } from 'graphql-yoga'
import { Counter, Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { loadCacheDirectiveTypeDefs } from '../../src/graphql/index.js'
import { type CacheStats, createCache, defineLoader, type LoadCache } from '../../src/index.js'
import { registerLoadCacheMetrics } from '../../src/prometheus/index.js'
import { LOADER_COUNTERS } from '../../src/prometheus/loader-counters.js'
import { useLoadCache } from '../../src/yoga/index.js'
import { cacheFactory, waitFor } from '../helpers/cache.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { scrape } from '../helpers/scrape.js'
import { TestSource } from '../helpers/source.js'

function registered(cache: LoadCache, options: Parameters<typeof registerLoadCacheMetrics>[1] = {}) {
  const registry = new Registry()
  registerLoadCacheMetrics(cache, { registry, ...options })
  return registry
}

describe('registerLoadCacheMetrics (memory)', () => {
  it('counts hits by tier, misses, fetches and ids fetched per loader, as stats() says at scrape time', async () => {
    const cache = await cacheFactory('memory')()
    const source = new TestSource(10)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const registry = registered(cache)

    await cache.loaders({ user }).user.loadMany(['1', '2'])
    await cache.loaders({ user }).user.loadMany(['1', '2', '3'])

    const metrics = await scrape(registry)
    expect(metrics.value('loadcache_hits_total', { loader: 'user', tier: 'l1' })).toBe(2)
    expect(metrics.value('loadcache_hits_total', { loader: 'user', tier: 'l2' })).toBe(0)
    expect(metrics.value('loadcache_misses_total', { loader: 'user' })).toBe(3)
    expect(metrics.value('loadcache_fetches_total', { loader: 'user' })).toBe(2)
    expect(metrics.value('loadcache_ids_fetched_total', { loader: 'user' })).toBe(3)
    expect(metrics.value('loadcache_l1_entries')).toBe(3)
    expect(metrics.value('loadcache_redis_enabled')).toBe(0)
    expect(metrics.value('loadcache_redis_breaker_state', { state: 'disabled' })).toBe(1)
    expect(metrics.value('loadcache_redis_breaker_state', { state: 'closed' })).toBe(0)
    // Two fetch calls, of 2 ids and 1 id.
    const ok = { loader: 'user', outcome: 'ok' }
    expect(metrics.value('loadcache_fetch_duration_seconds_count', ok)).toBe(2)
    expect(metrics.value('loadcache_fetch_batch_size_count', ok)).toBe(2)
    expect(metrics.value('loadcache_fetch_batch_size_sum', ok)).toBe(3)
    expect(metrics.value('loadcache_fetch_batch_size_bucket', { ...ok, le: '1' })).toBe(1)
    expect(metrics.value('loadcache_fetch_batch_size_bucket', { ...ok, le: '2' })).toBe(2)

    // Counters are totals: the next scrape sees the loads made since, not a stale snapshot.
    await cache.loaders({ user }).user.load('4')
    expect((await scrape(registry)).value('loadcache_misses_total', { loader: 'user' })).toBe(4)
  })

  it('exports every LoaderStats counter as a counter family with a series per loader, zero until it moves', async () => {
    const cache = await cacheFactory('memory')()
    const user = defineLoader({ name: 'user', fetch: new TestSource(1).fetch })
    cache.loaders({ user })
    const metrics = await scrape(registered(cache, { prefix: 'app_cache_' }))
    for (const counter of Object.values(LOADER_COUNTERS)) {
      expect(metrics.type(`app_cache_${counter.name}`)).toBe('counter')
      const labels = { loader: 'user', ...('labels' in counter ? counter.labels : {}) }
      expect(metrics.value(`app_cache_${counter.name}`, labels)).toBe(0)
    }
    expect(metrics.type('app_cache_fetch_duration_seconds')).toBe('histogram')
    expect(metrics.type('app_cache_redis_duration_seconds')).toBe('histogram')
    expect(metrics.type('app_cache_l1_entries')).toBe('gauge')
  })

  it('counts failed ids (fetch histograms labelled outcome="error") and values returned but not cached', async () => {
    const cache = await cacheFactory('memory')()
    const source = new TestSource(3)
    source.failingIds.add('2')
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    class Session {}
    const session = defineLoader({
      name: 'session',
      fetch: (ids: readonly string[]) => ids.map(() => new Session()),
    })
    const registry = registered(cache)

    const loaders = cache.loaders({ user, session })
    await loaders.user.loadMany(['1', '2'])
    await loaders.session.load('s1')

    const metrics = await scrape(registry)
    expect(metrics.value('loadcache_fetch_errors_total', { loader: 'user' })).toBe(1)
    expect(
      metrics.value('loadcache_fetch_duration_seconds_count', { loader: 'user', outcome: 'error' }),
    ).toBe(1)
    expect(metrics.value('loadcache_fetch_duration_seconds_count', { loader: 'user', outcome: 'ok' })).toBe(
      undefined,
    )
    expect(metrics.value('loadcache_uncacheable_values_total', { loader: 'session' })).toBe(1)
  })

  it('counts stale entries served within grace', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const cache = await cacheFactory('memory')({ jitter: 0 })
      const source = new TestSource(1)
      const user = defineLoader({ name: 'user', fetch: source.fetch, ttl: 1, grace: 60 })
      const registry = registered(cache)
      await cache.loaders({ user }).user.load('1')
      vi.setSystemTime(Date.now() + 2000)
      await cache.loaders({ user }).user.load('1')
      const metrics = await scrape(registry)
      expect(metrics.value('loadcache_stale_served_total', { loader: 'user' })).toBe(1)
      expect(metrics.value('loadcache_refreshes_total', { loader: 'user' })).toBe(1)
    } finally {
      vi.useRealTimers()
    }
  })

  it('counts cached GraphQL fields by coordinate and the response tier by operation name', async () => {
    const cache = await cacheFactory('memory')()
    let runs = 0
    const schema = makeExecutableSchema({
      typeDefs: [
        loadCacheDirectiveTypeDefs(),
        'type Query { greeting(name: String!): String @cached(ttl: 60) }',
      ],
      resolvers: {
        Query: {
          greeting: (_: unknown, { name }: { name: string }) => {
            runs++
            return `hello ${name}`
          },
        },
      },
    })
    const yoga = createYoga({ schema, logging: false, plugins: [useLoadCache({ cache, responses: true })] })
    const registry = registered(cache)
    const ask = (query: string) =>
      yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ query }),
      })
    await ask('query Greeting { greeting(name: "ann") }')
    await ask('query Greeting { greeting(name: "ann") }')
    await ask('query Other { greeting(name: "ann") }')
    await ask('{ greeting(name: "ann") }')
    expect(runs).toBe(1)

    const metrics = await scrape(registry)
    expect(metrics.value('loadcache_misses_total', { loader: 'Query.greeting' })).toBe(1)
    expect(metrics.value('loadcache_hits_total', { loader: 'Query.greeting', tier: 'l1' })).toBe(2)
    expect(metrics.value('loadcache_misses_total', { loader: '_response' })).toBe(3)
    expect(metrics.value('loadcache_response_hits_total', { operation: 'Greeting' })).toBe(1)
    expect(metrics.value('loadcache_response_fills_total', { operation: 'Greeting' })).toBe(1)
    expect(metrics.value('loadcache_response_misses_total', { operation: 'Other' })).toBe(1)
    expect(metrics.value('loadcache_response_misses_total', { operation: '(anonymous)' })).toBe(1)
  })

  it('labels at most maxOperations operation names, and sums the rest as (other)', async () => {
    const response = (hits: number) => ({ hits, misses: 1, fills: 1, uncacheable: 0, evictions: 0 })
    const stats: CacheStats = {
      loaders: {},
      responses: { Busy: response(50), Medium: response(10), Rare: response(1), Rarer: response(0) },
      redis: { enabled: false, breaker: 'disabled', errors: 0, busConnected: false, pendingInvalidations: 0 },
      memory: { entries: 0, bypassed: 0 },
    }
    const cache = { stats: () => stats, on: () => cache, off: () => cache } as unknown as LoadCache
    const metrics = await scrape(registered(cache, { maxOperations: 2 }))
    expect(metrics.value('loadcache_response_hits_total', { operation: 'Busy' })).toBe(50)
    expect(metrics.value('loadcache_response_hits_total', { operation: 'Medium' })).toBe(10)
    expect(metrics.value('loadcache_response_hits_total', { operation: 'Rare' })).toBeUndefined()
    expect(metrics.value('loadcache_response_hits_total', { operation: '(other)' })).toBe(1)
    expect(metrics.value('loadcache_response_misses_total', { operation: '(other)' })).toBe(2)
  })
})

describe('registering', () => {
  it('is idempotent for one cache, registry and prefix: the same metrics, once', async () => {
    const cache = await cacheFactory('memory')()
    const user = defineLoader({ name: 'user', fetch: new TestSource(2).fetch })
    const registry = new Registry()
    const first = registerLoadCacheMetrics(cache, { registry })
    const second = registerLoadCacheMetrics(cache, { registry })
    expect(second).toBe(first)
    await cache.loaders({ user }).user.loadMany(['1', '2'])
    const metrics = await scrape(registry)
    // One listener: each fetch observed once.
    expect(metrics.value('loadcache_fetch_duration_seconds_count', { loader: 'user', outcome: 'ok' })).toBe(1)
    expect(metrics.text.match(/^# TYPE loadcache_hits_total /gm)).toHaveLength(1)
  })

  it("refuses another cache's metrics under the same prefix, and takes them under another", async () => {
    const makeCache = cacheFactory('memory')
    const [orders, users] = [await makeCache(), await makeCache()]
    const registry = new Registry()
    registerLoadCacheMetrics(orders, { registry })
    expect(() => registerLoadCacheMetrics(users, { registry })).toThrow(
      '[loadcache] registerLoadCacheMetrics: this registry already has the metrics of another cache under the prefix "loadcache_"; give each cache its own prefix (e.g. prefix: "loadcache_orders_") or registry',
    )
    expect(() => registerLoadCacheMetrics(users, { registry, prefix: 'loadcache_users_' })).not.toThrow()
    expect((await scrape(registry)).type('loadcache_users_hits_total')).toBe('counter')
  })

  it('refuses a name the registry already has, and then registers nothing', async () => {
    const cache = await cacheFactory('memory')()
    const registry = new Registry()
    new Counter({ name: 'loadcache_misses_total', help: 'mine', registers: [registry] })
    expect(() => registerLoadCacheMetrics(cache, { registry })).toThrow(
      expect.objectContaining({
        code: 'E_INVALID_OPTION',
        message: expect.stringContaining('the registry already has a metric named "loadcache_misses_total"'),
      }),
    )
    expect(registry.getMetricsAsArray()).toHaveLength(1)
  })

  it('removes its metrics and stops observing when the returned function is called', async () => {
    const cache = await cacheFactory('memory')()
    const user = defineLoader({ name: 'user', fetch: new TestSource(2).fetch })
    const registry = new Registry()
    const unregister = registerLoadCacheMetrics(cache, { registry })
    unregister()
    expect(registry.getMetricsAsArray()).toEqual([])
    await cache.loaders({ user }).user.load('1')
    // Registering again starts histograms from zero: the removed listener observed nothing.
    registerLoadCacheMetrics(cache, { registry })
    const metrics = await scrape(registry)
    expect(metrics.value('loadcache_fetch_duration_seconds_count', { loader: 'user', outcome: 'ok' })).toBe(
      undefined,
    )
    expect(metrics.value('loadcache_misses_total', { loader: 'user' })).toBe(1)
  })

  it.each([
    [{ prefix: 'load-cache' }, 'option "prefix" must be a metric name prefix'],
    [{ maxOperations: 0 }, 'option "maxOperations" must be a positive integer, got 0'],
    [{ redisDurationBuckets: [0.1, 0.01] }, 'option "redisDurationBuckets" must be a non-empty list'],
    [{ registry: {} as Registry }, 'option "registry" must be a prom-client Registry'],
  ])('refuses the bad option %o', async (options, message) => {
    const cache = await cacheFactory('memory')()
    expect(() => registerLoadCacheMetrics(cache, options)).toThrow(message)
  })
})

describe('registerLoadCacheMetrics (Redis)', () => {
  let server: RedisServer
  beforeAll(async () => {
    server = await startRedisServer()
  })
  afterAll(() => server.dispose())

  it('counts L2 hits, times Redis round trips by operation, and reports the bus and breaker as up', async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(10)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const writer = await makeCache()
    await writer.loaders({ user }).user.loadMany(['1', '2'])

    const reader = await makeCache()
    const registry = registered(reader)
    await reader.loaders({ user }).user.loadMany(['1', '2'])

    const metrics = await scrape(registry)
    expect(metrics.value('loadcache_hits_total', { loader: 'user', tier: 'l2' })).toBe(2)
    expect(metrics.value('loadcache_fetches_total', { loader: 'user' })).toBe(0)
    // Both ids in one script: one read round trip.
    expect(
      metrics.value('loadcache_redis_duration_seconds_count', { operation: 'read', outcome: 'ok' }),
    ).toBe(1)
    expect(metrics.value('loadcache_redis_enabled')).toBe(1)
    expect(metrics.value('loadcache_bus_connected')).toBe(1)
    expect(metrics.value('loadcache_redis_breaker_state', { state: 'closed' })).toBe(1)
    expect(metrics.value('loadcache_pending_invalidations')).toBe(0)
    expect(metrics.value('loadcache_l1_entries')).toBe(2)
  })

  it("counts a caller that waits for another process's fill as a lock wait", async () => {
    const makeCache = cacheFactory('redis', server)
    const source = new TestSource(1)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const [filler, waiter] = [await makeCache(), await makeCache()]
    const registry = registered(waiter)
    const hold = source.holdNextFetch()
    const filling = filler.loaders({ user }).user.load('1')
    await hold.started
    const waiting = waiter.loaders({ user }).user.load('1')
    await waitFor(() => waiter.stats().loaders.user?.lockWaits === 1, 'the lock wait')
    hold.release()
    expect(await Promise.all([filling, waiting])).toEqual([source.rows.get('1'), source.rows.get('1')])
    expect(source.calls).toHaveLength(1)
    const metrics = await scrape(registry)
    expect(metrics.value('loadcache_lock_waits_total', { loader: 'user' })).toBe(1)
    expect(metrics.value('loadcache_hits_total', { loader: 'user', tier: 'l2' })).toBe(1)
  })

  it('counts a fill whose key was invalidated during its fetch as a stale write refused', async () => {
    const source = new TestSource(1)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const cache = await cacheFactory('redis', server)()
    const registry = registered(cache)
    const hold = source.holdNextFetch()
    const loading = cache.loaders({ user }).user.load('1')
    await hold.started
    await cache.invalidate(user, ['1'])
    hold.release()
    await loading
    expect((await scrape(registry)).value('loadcache_stale_writes_refused_total', { loader: 'user' })).toBe(1)
  })

  it('counts Redis errors, and times failed round trips under outcome="error"', async () => {
    const own = await startRedisServer()
    try {
      const source = new TestSource(1)
      const user = defineLoader({ name: 'user', fetch: source.fetch })
      const cache = await cacheFactory('redis', own)({ redisTimeoutMs: 100 })
      const registry = registered(cache)
      await own.stop()
      // Redis is gone: the load is answered by fetch.
      expect(await cache.loaders({ user }).user.load('1')).toEqual(source.rows.get('1'))
      const metrics = await scrape(registry)
      expect(metrics.value('loadcache_redis_errors_total')).toBeGreaterThanOrEqual(1)
      expect(
        metrics.value('loadcache_redis_duration_seconds_count', { operation: 'read', outcome: 'error' }),
      ).toBe(1)
      expect(metrics.value('loadcache_bus_connected')).toBe(0)
    } finally {
      await own.dispose()
    }
  })
})

it('needs nothing from the cache but stats(), on() and off()', () => {
  // The collector reads the public API only, so it works with any cache createCache() made.
  const cache = createCache()
  expect(() => registerLoadCacheMetrics(cache, { registry: new Registry() })).not.toThrow()
  return cache.close()
})
