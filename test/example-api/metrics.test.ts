import { describe, expect, it } from 'vitest'
import { renderMetrics } from '../../example-api/http/metrics.js'
import { emptyLoaderStats } from '../../src/engine/stats.js'
import type { CacheStats, LoaderStats } from '../../src/index.js'

function loaderStats(overrides: Partial<LoaderStats> = {}): LoaderStats {
  return { ...emptyLoaderStats(), ...overrides }
}

const stats: CacheStats = {
  loaders: { user: loaderStats({ l1Hits: 5, staleWritesRefused: 2 }), 'we"ird\\name': loaderStats() },
  responses: {},
  redis: { enabled: true, breaker: 'half-open', errors: 3, busConnected: false, pendingInvalidations: 4 },
  memory: { entries: 9 },
}

const text = renderMetrics({
  cache: { stats: () => stats },
  db: { queryCounts: () => ({ users: 1, posts: 2, comments: 3 }) },
})
const lines = text.split('\n')

describe('renderMetrics', () => {
  it('exports every loader counter as loadcache_<counter>_total{loader="…"}', () => {
    expect(lines).toContain('loadcache_l1_hits_total{loader="user"} 5')
    expect(lines).toContain('loadcache_stale_writes_refused_total{loader="user"} 2')
    expect(lines).toContain('loadcache_corrupt_entries_total{loader="user"} 0')
    for (const counter of Object.keys(loaderStats())) {
      const name = `loadcache_${counter.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_total`
      expect(lines).toContain(`# TYPE ${name} counter`)
    }
  })

  it('exports the state of Redis, the breaker, the bus and L1, and SQL statements per table', () => {
    expect(lines).toEqual(
      expect.arrayContaining([
        'loadcache_redis_enabled 1',
        'loadcache_redis_breaker_state{state="closed"} 0',
        'loadcache_redis_breaker_state{state="half-open"} 1',
        'loadcache_redis_errors_total 3',
        'loadcache_bus_connected 0',
        'loadcache_pending_invalidations 4',
        'loadcache_memory_entries 9',
        'example_db_queries_total{table="users"} 1',
        'example_db_queries_total{table="posts"} 2',
        'example_db_queries_total{table="comments"} 3',
      ]),
    )
  })

  it('exports the HTTP requests in flight as a gauge when the server gives them, and nothing otherwise', () => {
    const withHttp = renderMetrics({
      cache: { stats: () => stats },
      db: { queryCounts: () => ({ users: 0, posts: 0, comments: 0 }) },
      http: { requestsInFlight: () => 7 },
    }).split('\n')
    expect(withHttp).toContain('# TYPE example_http_requests_in_flight gauge')
    expect(withHttp).toContain('example_http_requests_in_flight 7')
    expect(text).not.toContain('example_http_requests_in_flight')
  })

  it('escapes label values and ends with a newline, as the text format requires', () => {
    expect(lines).toContain('loadcache_l1_hits_total{loader="we\\"ird\\\\name"} 0')
    expect(text.endsWith('\n')).toBe(true)
    // Each family is introduced by HELP then TYPE, exactly once.
    const types = lines.filter((line) => line.startsWith('# TYPE '))
    expect(new Set(types).size).toBe(types.length)
  })
})
