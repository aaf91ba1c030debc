import type { Plugin } from 'graphql-yoga'
import type { CacheStats, LoadCache, LoaderStats } from '../../src/index.js'
import type { Database } from '../db/index.js'

/**
 * What each per-loader counter of `cache.stats()` means, as the `# HELP` line says it. `satisfies` makes
 * a counter added to `LoaderStats` a compile error here until it is described (and so exported).
 */
const LOADER_COUNTERS = {
  l1Hits: 'Ids answered by the in-process L1 cache, with no Redis round trip.',
  l2Hits: 'Ids answered by Redis (L2).',
  misses: 'Ids found in neither tier (each is fetched, joined or waited for).',
  joined: 'Ids that joined a fill already in flight in this process.',
  fetchCalls: "Calls of the loader's fetch (one per batch of misses).",
  idsFetched: 'Ids passed to fetch, summed over calls.',
  lockWaits: "Ids that waited for another process's fill (its lock was held).",
  staleWritesRefused: 'Fills not written because their key or a tag was invalidated during the fetch.',
  staleServed: 'Stale entries served within grace.',
  refreshes: 'Background refreshes started (grace or early refresh).',
  fetchErrors: 'Ids whose fetch failed.',
  corruptEntries: 'Redis entries that could not be decoded (treated as misses and removed).',
  uncacheableValues:
    'Values returned but not cached, because the serializer could not store them faithfully.',
} as const satisfies Record<keyof LoaderStats, string>

const BREAKER_STATES: ReadonlyArray<CacheStats['redis']['breaker']> = [
  'closed',
  'open',
  'half-open',
  'disabled',
]

/** The Prometheus text exposition format, version 0.0.4. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** Where `/metrics` reads its numbers. */
export interface MetricsSources {
  cache: Pick<LoadCache, 'stats'>
  db: Pick<Database, 'queryCounts'>
  /** The HTTP server's requests in flight; the gauge is left out without it. */
  http?: { requestsInFlight(): number }
}

/**
 * Renders the cache's and the database's counters in the Prometheus text format:
 * - `loadcache_<counter>_total{loader="…"}` for every counter of every loader in `cache.stats()` (loaders
 *   appear once first used; the server registers its own at startup so they are listed from zero);
 * - `loadcache_redis_*`, `loadcache_bus_connected`, `loadcache_pending_invalidations`,
 *   `loadcache_memory_entries`: the state of Redis, the circuit breaker, the bus and L1;
 * - `example_db_queries_total{table="users"|"posts"|"comments"}`: SQL statements issued per table;
 * - `example_http_requests_in_flight`: requests being answered, the scrape itself included.
 *
 * Never throws: both sources are in-memory snapshots.
 */
export function renderMetrics({ cache, db, http }: MetricsSources): string {
  const stats = cache.stats()
  const out: string[] = []
  const family = (
    name: string,
    type: 'counter' | 'gauge',
    help: string,
    samples: Array<[Labels, number]>,
  ) => {
    out.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`)
    for (const [labels, value] of samples) out.push(`${name}${formatLabels(labels)} ${formatValue(value)}`)
  }

  const loaders = Object.entries(stats.loaders).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  for (const [counter, help] of Object.entries(LOADER_COUNTERS) as Array<[keyof LoaderStats, string]>) {
    family(
      `loadcache_${snakeCase(counter)}_total`,
      'counter',
      help,
      loaders.map(([loader, counters]) => [{ loader }, counters[counter]]),
    )
  }

  const { redis } = stats
  family('loadcache_redis_enabled', 'gauge', 'Whether the cache uses Redis (1) or is memory-only (0).', [
    [{}, Number(redis.enabled)],
  ])
  family(
    'loadcache_redis_breaker_state',
    'gauge',
    'State of the Redis circuit breaker: 1 for the current state, 0 for the others.',
    BREAKER_STATES.map((state) => [{ state }, Number(redis.breaker === state)]),
  )
  family('loadcache_redis_errors_total', 'counter', 'Redis commands that failed or timed out.', [
    [{}, redis.errors],
  ])
  family(
    'loadcache_bus_connected',
    'gauge',
    'Whether the invalidation bus is subscribed (while it is not, L1 is bypassed).',
    [[{}, Number(redis.busConnected)]],
  )
  family(
    'loadcache_pending_invalidations',
    'gauge',
    'Invalidations queued while Redis is unreachable, replayed before Redis is read again.',
    [[{}, redis.pendingInvalidations]],
  )
  family('loadcache_memory_entries', 'gauge', 'Entries in the in-process L1 cache.', [
    [{}, stats.memory.entries],
  ])

  const counts = db.queryCounts()
  family(
    'example_db_queries_total',
    'counter',
    'SQL statements issued, per primary table.',
    (['users', 'posts', 'comments'] as const).map((table) => [{ table }, counts[table]]),
  )
  if (http !== undefined) {
    family(
      'example_http_requests_in_flight',
      'gauge',
      'HTTP requests received and not answered yet, this one included.',
      [[{}, http.requestsInFlight()]],
    )
  }
  return `${out.join('\n')}\n`
}

/**
 * Serves {@link renderMetrics} on `GET path` (default `/metrics`), ahead of GraphQL routing. A yoga
 * plugin rather than a separate HTTP route so it also answers `yoga.fetch`, which is how tests call it.
 */
export function useMetricsEndpoint(sources: MetricsSources, path = '/metrics'): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== path || (request.method !== 'GET' && request.method !== 'HEAD')) return
      endResponse(
        new fetchAPI.Response(renderMetrics(sources), {
          status: 200,
          headers: { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' },
        }),
      )
    },
  }
}

type Labels = Record<string, string>

function formatLabels(labels: Labels): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`)
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`
}

/** Label values escape backslash, double quote and newline (exposition format spec). */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** HELP text escapes backslash and newline only. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Number.POSITIVE_INFINITY) return '+Inf'
  if (value === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(value)
}

/** `staleWritesRefused` → `stale_writes_refused`, `l1Hits` → `l1_hits`. */
function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)
}
