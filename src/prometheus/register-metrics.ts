import { Counter, Gauge, register as globalRegistry, Histogram, type Registry } from 'prom-client'
import type { LoadCache } from '../cache/create-cache.js'
import { invalidOption, LoadCacheTypeError } from '../core/errors.js'
import type { FetchEvent, RedisEvent } from '../engine/engine.js'
import type { CacheStats, LoaderStats, ResponseStats } from '../engine/stats.js'
import { LOADER_COUNTERS } from './loader-counters.js'
import { scrapeSnapshot } from './stats-snapshot.js'

/** Options of {@link registerLoadCacheMetrics}. */
export interface LoadCacheMetricsOptions {
  /** The registry to add the metrics to. Default: prom-client's global `register`. */
  registry?: Registry
  /**
   * Prefix of every metric name. Default `'loadcache_'`. Give each cache its own prefix (or registry) when
   * one process exports several.
   */
  prefix?: string
  /** Buckets of `<prefix>fetch_duration_seconds`, in seconds. Default {@link DEFAULT_FETCH_DURATION_BUCKETS}. */
  fetchDurationBuckets?: readonly number[]
  /** Buckets of `<prefix>fetch_batch_size`, in ids. Default {@link DEFAULT_BATCH_SIZE_BUCKETS}. */
  batchSizeBuckets?: readonly number[]
  /** Buckets of `<prefix>redis_duration_seconds`, in seconds. Default {@link DEFAULT_REDIS_DURATION_BUCKETS}. */
  redisDurationBuckets?: readonly number[]
  /**
   * Most operation names the response-tier counters are labelled with. Operation names come from clients,
   * so they are unbounded: the busiest `maxOperations` (by hits + misses) get their own series, the rest are
   * summed under `operation="(other)"`. Default 100.
   */
  maxOperations?: number
}

/** Fetches run against your database or service: 1 ms to 10 s. */
export const DEFAULT_FETCH_DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]
/** Ids per fetch call: from a single id to a page of a thousand. */
export const DEFAULT_BATCH_SIZE_BUCKETS: readonly number[] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000]
/**
 * Redis round trips take tens of microseconds on loopback and are cut off at `redisTimeoutMs` (250 ms by
 * default): prom-client's default buckets (5 ms to 10 s) would put nearly all of them in the first one.
 */
export const DEFAULT_REDIS_DURATION_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
]

const DEFAULT_MAX_OPERATIONS = 100
/** Label values that no GraphQL operation name can take (a Name is `[_A-Za-z][_0-9A-Za-z]*`). */
const ANONYMOUS_OPERATION = '(anonymous)'
const OTHER_OPERATIONS = '(other)'
const BREAKER_STATES: readonly CacheStats['redis']['breaker'][] = ['closed', 'open', 'half-open', 'disabled']

const RESPONSE_COUNTERS = {
  hits: { name: 'response_hits_total', help: 'Requests answered with a stored response (nothing executed).' },
  misses: { name: 'response_misses_total', help: 'Requests that executed the operation.' },
  fills: { name: 'response_fills_total', help: 'Responses executed and stored.' },
  uncacheable: {
    name: 'response_uncacheable_total',
    help: 'Responses executed and not stored (errors, uncached fields, PRIVATE without a viewer...).',
  },
  evictions: {
    name: 'response_evictions_total',
    help: "Stored responses dropped from this process's memory by an invalidation.",
  },
} as const satisfies Record<keyof ResponseStats, { name: string; help: string }>

interface Registration {
  readonly cache: LoadCache
  readonly unregister: () => void
}

/** What has been registered where, so a second call is idempotent (same cache) or refused (another one). */
const registrations = new WeakMap<Registry, Map<string, Registration>>()

/**
 * Exports a cache's numbers to Prometheus through prom-client (an optional peer dependency, ^15):
 *
 * - counters per loader (`loader` label: your loaders, cached GraphQL fields as `Type.field`, tRPC
 *   procedures as `trpc.<path>`, the response tier as `_response`): `hits_total{tier="l1"|"l2"}`,
 *   `misses_total`, `fetches_total`, `ids_fetched_total`, `lock_waits_total`, `stale_served_total`,
 *   `stale_writes_refused_total`, `fetch_errors_total`, `uncacheable_values_total`… (every `LoaderStats`
 *   counter);
 * - histograms of fetch latency and ids per fetch (`loader`, `outcome`), and of Redis round trips
 *   (`operation`, `outcome`), fed by the cache's `fetch` and `redis` events;
 * - gauges of Redis, the circuit breaker, the bus, pending invalidations and L1 entries;
 * - the response tier's counters per operation name.
 *
 * Counters and gauges are read from `cache.stats()` when the registry is scraped, so loads pay nothing for
 * them; the histograms cost one `observe` per fetch and per Redis round trip.
 *
 * Calling it again with the same cache, registry and prefix returns the first call's function.
 *
 * @returns a function that removes the metrics from the registry and stops listening to the cache.
 * @throws LoadCacheTypeError (E_INVALID_OPTION) for a bad option, or when the registry already has a
 *   metric of one of these names (another cache's, or your own): pass another `prefix` or `registry`.
 */
export function registerLoadCacheMetrics(
  cache: LoadCache,
  options: LoadCacheMetricsOptions = {},
): () => void {
  const registry = options.registry ?? globalRegistry
  if (typeof (registry as Partial<Registry> | null)?.registerMetric !== 'function') {
    throw invalidOption('registry', registry, 'a prom-client Registry')
  }
  const prefix = options.prefix ?? 'loadcache_'
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) {
    throw invalidOption(
      'prefix',
      prefix,
      'a metric name prefix such as "loadcache_" ([a-zA-Z_:][a-zA-Z0-9_:]*)',
    )
  }
  const maxOperations = options.maxOperations ?? DEFAULT_MAX_OPERATIONS
  if (!Number.isInteger(maxOperations) || maxOperations < 1) {
    throw invalidOption('maxOperations', maxOperations, 'a positive integer')
  }
  const fetchBuckets = buckets(
    'fetchDurationBuckets',
    options.fetchDurationBuckets,
    DEFAULT_FETCH_DURATION_BUCKETS,
  )
  const batchBuckets = buckets('batchSizeBuckets', options.batchSizeBuckets, DEFAULT_BATCH_SIZE_BUCKETS)
  const redisBuckets = buckets(
    'redisDurationBuckets',
    options.redisDurationBuckets,
    DEFAULT_REDIS_DURATION_BUCKETS,
  )

  let byPrefix = registrations.get(registry)
  const existing = byPrefix?.get(prefix)
  if (existing !== undefined) {
    if (existing.cache === cache) return existing.unregister
    throw new LoadCacheTypeError(
      'E_INVALID_OPTION',
      `registerLoadCacheMetrics: this registry already has the metrics of another cache under the prefix "${prefix}"; give each cache its own prefix (e.g. prefix: "${prefix}orders_") or registry`,
    )
  }

  const snapshot = scrapeSnapshot(() => cache.stats())
  const metrics = [
    ...loaderCounters(prefix, snapshot),
    ...stateMetrics(prefix, snapshot),
    ...responseCounters(prefix, snapshot, maxOperations),
  ]
  const fetchDuration = new Histogram({
    name: `${prefix}fetch_duration_seconds`,
    help: "Duration of a loader's fetch (or a cached field's resolvers for one batch), by outcome: error when some ids failed.",
    labelNames: ['loader', 'outcome'],
    buckets: [...fetchBuckets],
    registers: [],
  })
  const batchSize = new Histogram({
    name: `${prefix}fetch_batch_size`,
    help: 'Ids passed to one fetch call.',
    labelNames: ['loader', 'outcome'],
    buckets: [...batchBuckets],
    registers: [],
  })
  const redisDuration = new Histogram({
    name: `${prefix}redis_duration_seconds`,
    help: 'Duration of a Redis round trip, by operation (read, write, invalidate, read-tags...) and outcome (error: failed or timed out).',
    labelNames: ['operation', 'outcome'],
    buckets: [...redisBuckets],
    registers: [],
  })
  metrics.push(fetchDuration, batchSize, redisDuration)

  // All or nothing: refuse before registering anything, so a failed call leaves the registry as it was.
  for (const metric of metrics) {
    const name = (metric as unknown as { name: string }).name
    if (registry.getSingleMetric(name) !== undefined) {
      throw new LoadCacheTypeError(
        'E_INVALID_OPTION',
        `registerLoadCacheMetrics: the registry already has a metric named "${name}"; pass another prefix (option "prefix", now "${prefix}") or registry`,
      )
    }
  }
  for (const metric of metrics) registry.registerMetric(metric)

  const onFetch = (event: FetchEvent) => {
    const labels = { loader: event.loader, outcome: event.failed === 0 ? 'ok' : 'error' }
    fetchDuration.observe(labels, event.durationMs / 1000)
    batchSize.observe(labels, event.ids)
  }
  const onRedis = (event: RedisEvent) => {
    const outcome = event.error === undefined ? 'ok' : 'error'
    redisDuration.observe({ operation: event.operation, outcome }, event.durationMs / 1000)
  }
  cache.on('fetch', onFetch)
  cache.on('redis', onRedis)

  let removed = false
  const unregister = () => {
    if (removed) return
    removed = true
    cache.off('fetch', onFetch)
    cache.off('redis', onRedis)
    for (const metric of metrics) {
      const name = (metric as unknown as { name: string }).name
      if (registry.getSingleMetric(name) === metric) registry.removeSingleMetric(name)
    }
    byPrefix?.delete(prefix)
  }
  if (byPrefix === undefined) {
    byPrefix = new Map()
    registrations.set(registry, byPrefix)
  }
  byPrefix.set(prefix, { cache, unregister })
  return unregister
}

type Metric = Counter<string> | Gauge<string> | Histogram<string>

/** One counter family per `LOADER_COUNTERS` name; `hits_total` gathers l1Hits and l2Hits under `tier`. */
function loaderCounters(prefix: string, snapshot: () => CacheStats): Metric[] {
  const families = new Map<string, { help: string; fields: [keyof LoaderStats, Record<string, string>][] }>()
  for (const [field, counter] of Object.entries(LOADER_COUNTERS) as [
    keyof LoaderStats,
    (typeof LOADER_COUNTERS)[keyof LoaderStats],
  ][]) {
    let family = families.get(counter.name)
    if (family === undefined) {
      family = { help: counter.help, fields: [] }
      families.set(counter.name, family)
    }
    family.fields.push([field, 'labels' in counter ? counter.labels : {}])
  }
  return [...families].map(([name, { help, fields }]) => {
    const extra = Object.keys(fields[0]![1])
    const counter: Counter<string> = new Counter({
      name: `${prefix}${name}`,
      help,
      labelNames: ['loader', ...extra],
      registers: [],
      // Totals since the cache was created, set afresh on every scrape.
      collect() {
        counter.reset()
        for (const [loader, stats] of Object.entries(snapshot().loaders)) {
          for (const [field, labels] of fields) counter.inc({ loader, ...labels }, stats[field])
        }
      },
    })
    return counter
  })
}

function stateMetrics(prefix: string, snapshot: () => CacheStats): Metric[] {
  const gauge = (
    name: string,
    help: string,
    read: (stats: CacheStats) => number | boolean,
  ): Gauge<string> => {
    const metric: Gauge<string> = new Gauge({
      name: `${prefix}${name}`,
      help,
      registers: [],
      collect() {
        metric.set(Number(read(snapshot())))
      },
    })
    return metric
  }
  const breaker: Gauge<string> = new Gauge({
    name: `${prefix}redis_breaker_state`,
    help: 'State of the Redis circuit breaker: 1 for the current state, 0 for the others (disabled: no Redis).',
    labelNames: ['state'],
    registers: [],
    collect() {
      const current = snapshot().redis.breaker
      for (const state of BREAKER_STATES) breaker.set({ state }, Number(state === current))
    },
  })
  const errors: Counter<string> = new Counter({
    name: `${prefix}redis_errors_total`,
    help: 'Redis commands that failed or timed out (each load carried on without Redis).',
    registers: [],
    collect() {
      errors.reset()
      errors.inc(snapshot().redis.errors)
    },
  })
  const bypassed: Counter<string> = new Counter({
    name: `${prefix}l1_bypassed_total`,
    help: 'Batches that skipped L1 because it could not prove it hears invalidations (lease lapsed, bus down, breaker open).',
    registers: [],
    collect() {
      bypassed.reset()
      bypassed.inc(snapshot().memory.bypassed)
    },
  })
  return [
    gauge('redis_enabled', 'Whether the cache uses Redis (1) or is memory-only (0).', (s) => s.redis.enabled),
    bypassed,
    breaker,
    errors,
    gauge(
      'bus_connected',
      'Whether the invalidation bus is subscribed (while it is not, L1 is bypassed).',
      (s) => s.redis.busConnected,
    ),
    gauge(
      'pending_invalidations',
      'Invalidations queued while Redis is unreachable, replayed before Redis is read again.',
      (s) => s.redis.pendingInvalidations,
    ),
    gauge('l1_entries', 'Entries in the in-process L1 cache.', (s) => s.memory.entries),
  ]
}

function responseCounters(prefix: string, snapshot: () => CacheStats, maxOperations: number): Metric[] {
  return (Object.entries(RESPONSE_COUNTERS) as [keyof ResponseStats, { name: string; help: string }][]).map(
    ([field, { name, help }]) => {
      const counter: Counter<string> = new Counter({
        name: `${prefix}${name}`,
        help,
        labelNames: ['operation'],
        registers: [],
        collect() {
          counter.reset()
          for (const [operation, stats] of operationSeries(snapshot().responses, maxOperations)) {
            counter.inc({ operation }, stats[field])
          }
        },
      })
      return counter
    },
  )
}

/**
 * The response stats by label value: the busiest `max` operations by name, the rest summed as `(other)`.
 * Which operations are "busiest" may change between scrapes; their sums stay monotonic per operation only
 * while the set of operations stays under `max`, which is the case the cap exists to keep.
 */
function operationSeries(
  responses: Readonly<Record<string, Readonly<ResponseStats>>>,
  max: number,
): [string, Readonly<ResponseStats>][] {
  const entries = Object.entries(responses).map(([name, stats]): [string, Readonly<ResponseStats>] => [
    name === '' ? ANONYMOUS_OPERATION : name,
    stats,
  ])
  if (entries.length <= max) return entries
  entries.sort(([, a], [, b]) => b.hits + b.misses - (a.hits + a.misses))
  const other = { hits: 0, misses: 0, fills: 0, uncacheable: 0, evictions: 0 }
  for (const [, stats] of entries.slice(max)) {
    for (const field of Object.keys(other) as (keyof ResponseStats)[]) other[field] += stats[field]
  }
  return [...entries.slice(0, max), [OTHER_OPERATIONS, other]]
}

function buckets(
  option: string,
  value: readonly number[] | undefined,
  fallback: readonly number[],
): readonly number[] {
  if (value === undefined) return fallback
  const valid =
    Array.isArray(value) &&
    value.length > 0 &&
    value.every(
      (bound, i) => typeof bound === 'number' && Number.isFinite(bound) && (i === 0 || bound > value[i - 1]!),
    )
  if (!valid) throw invalidOption(option, value, 'a non-empty list of increasing finite numbers')
  return value
}
