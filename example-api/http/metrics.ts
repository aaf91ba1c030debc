import type { Plugin } from 'graphql-yoga'
import type { LoadCache } from 'loadcache'
import { registerLoadCacheMetrics } from 'loadcache/prometheus'
import { Counter, Gauge, Registry } from 'prom-client'
import type { Database } from '../db/index.js'

/** Where `/metrics` reads its numbers. */
export interface MetricsSources {
  cache: LoadCache
  db: Pick<Database, 'queryCounts'>
  /** The HTTP server's requests in flight; the gauge is left out without it. */
  http?: { requestsInFlight(): number }
}

const TABLES = ['users', 'posts', 'comments'] as const

/**
 * The API's Prometheus registry: loadcache's metrics (`loadcache_*`, see `registerLoadCacheMetrics`: per
 * loader and per cached field, Redis, the bus, L1, the response tier) and the SQL statements issued per
 * table, `example_db_queries_total{table="users"|"posts"|"comments"}`, and (when the server gives them) the
 * HTTP requests being answered, `example_http_requests_in_flight`, the scrape itself included. A registry of its own rather than
 * prom-client's global one, so several servers in one process (the tests) do not share metrics.
 */
export function createMetricsRegistry({ cache, db, http }: MetricsSources): Registry {
  const registry = new Registry()
  registerLoadCacheMetrics(cache, { registry })
  const queries: Counter<'table'> = new Counter({
    name: 'example_db_queries_total',
    help: 'SQL statements issued, per primary table.',
    labelNames: ['table'],
    registers: [registry],
    // The database counts statements itself; read its totals at scrape time.
    collect() {
      const counts = db.queryCounts()
      queries.reset()
      for (const table of TABLES) queries.inc({ table }, counts[table])
    },
  })
  if (http !== undefined) {
    const inFlight: Gauge = new Gauge({
      name: 'example_http_requests_in_flight',
      help: 'HTTP requests received and not answered yet, this one included.',
      registers: [registry],
      collect() {
        inFlight.set(http.requestsInFlight())
      },
    })
  }
  return registry
}

/**
 * Serves a registry on `GET path` (default `/metrics`), ahead of GraphQL routing. A yoga plugin rather
 * than a separate HTTP route so it also answers `yoga.fetch`, which is how tests call it.
 */
export function useMetricsEndpoint(registry: Registry, path = '/metrics'): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== path || (request.method !== 'GET' && request.method !== 'HEAD')) return
      endResponse(
        new fetchAPI.Response(await registry.metrics(), {
          status: 200,
          headers: { 'content-type': registry.contentType, 'cache-control': 'no-store' },
        }),
      )
    },
  }
}
