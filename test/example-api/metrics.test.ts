import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { createMetricsRegistry } from '../../example-api/http/metrics.js'
import { defineLoader } from '../../src/index.js'
import { cacheFactory } from '../helpers/cache.js'
import { scrape } from '../helpers/scrape.js'

describe("the example API's metrics registry", () => {
  it("exports the SQL statements per table next to loadcache's metrics, as totals read at scrape time", async () => {
    const cache = await cacheFactory('memory')()
    const counts = { users: 1, posts: 2, comments: 3 }
    const registry = createMetricsRegistry({ cache, db: { queryCounts: () => counts } })
    const user = defineLoader({ name: 'user', fetch: (ids: readonly string[]) => ids.map((id) => ({ id })) })
    await cache.loaders({ user }).user.load('1')

    let metrics = await scrape(registry)
    expect(metrics.type('example_db_queries_total')).toBe('counter')
    expect(metrics.value('example_db_queries_total', { table: 'users' })).toBe(1)
    expect(metrics.value('example_db_queries_total', { table: 'posts' })).toBe(2)
    expect(metrics.value('example_db_queries_total', { table: 'comments' })).toBe(3)
    expect(metrics.value('loadcache_misses_total', { loader: 'user' })).toBe(1)

    counts.users = 10
    metrics = await scrape(registry)
    expect(metrics.value('example_db_queries_total', { table: 'users' })).toBe(10)
  })

  it('exports the HTTP requests in flight as a gauge when the server gives them, and nothing otherwise', async () => {
    const cache = await cacheFactory('memory')()
    const db = { queryCounts: () => ({ users: 0, posts: 0, comments: 0 }) }
    let inFlight = 7
    const withHttp = createMetricsRegistry({ cache, db, http: { requestsInFlight: () => inFlight } })
    expect((await scrape(withHttp)).type('example_http_requests_in_flight')).toBe('gauge')
    expect((await scrape(withHttp)).value('example_http_requests_in_flight')).toBe(7)
    inFlight = 2
    expect((await scrape(withHttp)).value('example_http_requests_in_flight')).toBe(2)
    const without = createMetricsRegistry({ cache, db })
    expect((await without.metrics()).includes('example_http_requests_in_flight')).toBe(false)
  })

  it('is a registry of its own: two servers in one process do not collide', async () => {
    const makeCache = cacheFactory('memory')
    const db = { queryCounts: () => ({ users: 0, posts: 0, comments: 0 }) }
    const first = createMetricsRegistry({ cache: await makeCache(), db })
    const second = createMetricsRegistry({ cache: await makeCache(), db })
    expect(first).not.toBe(second)
    expect(first).toBeInstanceOf(Registry)
    expect((await scrape(second)).value('loadcache_redis_enabled')).toBe(0)
  })
})
