import { describe, expect, it } from 'vitest'
import { type Database, openDatabase } from '../../example-api/db/index.js'
import type { ExampleServer } from '../../example-api/server.js'
import type { RedisServer } from '../helpers/redis-server.js'
import { parseMetrics as parse } from '../helpers/scrape.js'
import { OPEN_DB_TIMEOUT_MS, openForFile, startApi } from './api-harness.js'

/* The example API over real HTTP on a free loopback port: /graphql, /health, /metrics. */

let db: Database
let redisServer: RedisServer
openForFile((opened) => {
  ;({ db, redisServer } = opened)
})

async function listen(server: ExampleServer): Promise<string> {
  const { port, url } = await server.listen(0, '127.0.0.1')
  expect(url).toBe(`http://127.0.0.1:${port}/graphql`)
  return `http://127.0.0.1:${port}`
}

async function postGraphQL(base: string, query: string, viewer?: string): Promise<unknown> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (viewer) headers.authorization = `Bearer ${viewer}`
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query }),
  })
  expect(response.status).toBe(200)
  return response.json()
}

describe('the example API over HTTP', () => {
  it('serves GraphQL, a health report and Prometheus metrics (memory cache)', async () => {
    const server = await startApi(db, { kind: 'memory' })
    const base = await listen(server)

    const query = '{ me { id } posts(first: 10) { author { name } } }'
    expect(await postGraphQL(base, query, '5')).toMatchObject({ data: { me: { id: '5' } } })
    // Another selection of the same data: a response miss, every Post.author from L1.
    await postGraphQL(base, '{ me { id } posts(first: 10) { author { id name } } }', '5')

    const health = await fetch(`${base}/health`)
    expect(health.status).toBe(200)
    expect(health.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await health.json()).toEqual({
      status: 'ok',
      db: { status: 'up', driver: 'pglite' },
      redis: { status: 'disabled', breaker: 'disabled', busConnected: false, pendingInvalidations: 0 },
    })

    const metrics = await fetch(`${base}/metrics`)
    expect(metrics.status).toBe(200)
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    const text = parse(await metrics.text())
    const user = server.cache.stats().loaders.user!
    // The second query found every Post.author in the field cache (L1), without asking the user loader.
    const author = server.cache.stats().loaders['Post.author']!
    expect(author.l1Hits).toBeGreaterThan(0)
    expect(text.value('loadcache_hits_total', { loader: 'Post.author', tier: 'l1' })).toBe(author.l1Hits)
    expect(text.value('loadcache_hits_total', { loader: 'user', tier: 'l1' })).toBe(user.l1Hits)
    expect(text.value('loadcache_misses_total', { loader: 'user' })).toBe(user.misses)
    expect(text.value('loadcache_fetches_total', { loader: 'user' })).toBe(user.fetchCalls)
    // Every loader is listed from startup, used or not.
    expect(text.value('loadcache_fetches_total', { loader: 'commentIdsByPost' })).toBe(0)
    expect(text.value('loadcache_redis_enabled')).toBe(0)
    expect(text.value('loadcache_redis_breaker_state', { state: 'disabled' })).toBe(1)
    const counts = db.queryCounts()
    for (const table of ['users', 'posts', 'comments'] as const) {
      expect(text.value('example_db_queries_total', { table })).toBe(counts[table])
    }
    expect(text.type('loadcache_hits_total')).toBe('counter')
    expect(text.type('example_db_queries_total')).toBe('counter')
  })

  it('reports Redis as up, and as down with status "degraded" (still 200) while it is unreachable', async () => {
    const server = await startApi(db, { kind: 'redis', url: redisServer.url })
    const base = await listen(server)

    expect(await (await fetch(`${base}/health`)).json()).toEqual({
      status: 'ok',
      db: { status: 'up', driver: 'pglite' },
      redis: { status: 'up', breaker: 'closed', busConnected: true, pendingInvalidations: 0 },
    })
    const metrics = parse(await (await fetch(`${base}/metrics`)).text())
    expect(metrics.value('loadcache_redis_enabled')).toBe(1)
    expect(metrics.value('loadcache_bus_connected')).toBe(1)
    expect(metrics.value('loadcache_redis_breaker_state', { state: 'closed' })).toBe(1)

    await redisServer.stop()
    try {
      const health = await fetch(`${base}/health`)
      expect(health.status).toBe(200)
      expect(await health.json()).toMatchObject({ status: 'degraded', redis: { status: 'down' } })
      // The cache fails open: the API still answers, from the database.
      expect(await postGraphQL(base, '{ user(id: "3") { id } }')).toEqual({ data: { user: { id: '3' } } })
    } finally {
      await redisServer.restart()
    }
  })

  it(
    'answers /health with 503 and status "down" once the database does not answer',
    async () => {
      // A database of its own, closed under the running server: every statement then fails.
      const own = await openDatabase()
      try {
        const server = await startApi(own, { kind: 'memory' })
        const base = await listen(server)
        expect((await fetch(`${base}/health`)).status).toBe(200)
        await own.close()
        const health = await fetch(`${base}/health`)
        expect(health.status).toBe(503)
        expect(health.headers.get('cache-control')).toBe('no-store')
        expect(await health.json()).toEqual({
          status: 'down',
          db: { status: 'down', driver: 'pglite' },
          redis: { status: 'disabled', breaker: 'disabled', busConnected: false, pendingInvalidations: 0 },
        })
      } finally {
        await own.close().catch(() => {})
      }
    },
    OPEN_DB_TIMEOUT_MS,
  )

  it('answers 404 on other paths, and stops listening on close()', async () => {
    const server = await startApi(db, { kind: 'memory' })
    const base = await listen(server)
    expect((await fetch(`${base}/nowhere`)).status).toBe(404)
    expect((await fetch(`${base}/health/live`)).status).toBe(200)

    await server.close()
    await expect(fetch(`${base}/health`)).rejects.toThrow()
    await server.close() // idempotent
  })
})
