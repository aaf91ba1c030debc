import type { BatchObservableResult, Meter, Observable } from '@opentelemetry/api'
import type { LoadCache } from '../cache/create-cache.js'
import type { FetchEvent, RedisEvent } from '../engine/engine.js'
import type { CacheStats, LoaderStats } from '../engine/stats.js'

/** Seconds: fetches run against a database or a service. */
const FETCH_BOUNDARIES = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** Seconds: Redis round trips take tens of microseconds on loopback and are cut off at `redisTimeoutMs`. */
const REDIS_BOUNDARIES = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5]

const HITS = { name: 'loadcache.hits', unit: '{id}', description: 'Ids answered from the cache, by tier.' }

/**
 * Where each per-loader counter of `cache.stats()` is observed; `satisfies` makes a counter added to
 * `LoaderStats` a compile error here until it has an instrument.
 */
const LOADER_INSTRUMENTS = {
  l1Hits: { ...HITS, attributes: { 'loadcache.tier': 'l1' } },
  l2Hits: { ...HITS, attributes: { 'loadcache.tier': 'l2' } },
  misses: { name: 'loadcache.misses', unit: '{id}', description: 'Ids found in neither tier.' },
  joined: { name: 'loadcache.joined', unit: '{id}', description: 'Ids that joined a fill in flight here.' },
  fetchCalls: { name: 'loadcache.fetches', unit: '{call}', description: "Calls of the loader's fetch." },
  idsFetched: { name: 'loadcache.fetched_ids', unit: '{id}', description: 'Ids passed to fetch.' },
  lockWaits: {
    name: 'loadcache.lock_waits',
    unit: '{id}',
    description: "Ids that waited for another process's fill.",
  },
  staleWritesRefused: {
    name: 'loadcache.stale_writes_refused',
    unit: '{id}',
    description: 'Fills not written because their key or a tag was invalidated during the fetch.',
  },
  staleServed: {
    name: 'loadcache.stale_served',
    unit: '{id}',
    description: 'Stale entries served within grace.',
  },
  refreshes: { name: 'loadcache.refreshes', unit: '{id}', description: 'Background refreshes started.' },
  fetchErrors: { name: 'loadcache.fetch_errors', unit: '{id}', description: 'Ids whose fetch failed.' },
  corruptEntries: {
    name: 'loadcache.corrupt_entries',
    unit: '{entry}',
    description: 'Redis entries that could not be decoded.',
  },
  uncacheableValues: {
    name: 'loadcache.uncacheable_values',
    unit: '{value}',
    description: 'Values returned but not cached (the serializer could not store them).',
  },
} as const satisfies Record<
  keyof LoaderStats,
  { name: string; unit: string; description: string; attributes?: Record<string, string> }
>

const BREAKER_STATES: readonly CacheStats['redis']['breaker'][] = ['closed', 'open', 'half-open', 'disabled']

/**
 * A cache's numbers as OpenTelemetry instruments of `meter`:
 *
 * - observable counters per loader (`loadcache.loader`), read from one `cache.stats()` per collection:
 *   `loadcache.hits` (`loadcache.tier`: l1, l2), `loadcache.misses`, `loadcache.fetches`,
 *   `loadcache.fetched_ids`, `loadcache.lock_waits`, `loadcache.stale_served`… (every `LoaderStats`
 *   counter);
 * - observable gauges `loadcache.l1.entries`, `loadcache.redis.pending_invalidations`,
 *   `loadcache.bus.connected`, `loadcache.redis.breaker` (1 for the current `loadcache.breaker.state`);
 * - histograms `loadcache.fetch.duration` (`loadcache.loader`, `loadcache.outcome`) and
 *   `loadcache.redis.duration` (`loadcache.redis.operation`, `loadcache.outcome`), in seconds, from the
 *   cache's `fetch` and `redis` events.
 *
 * @returns a function that removes the callback and the listeners (OpenTelemetry cannot delete instruments).
 */
export function observeCache(meter: Meter, cache: LoadCache): () => void {
  const counters = new Map<string, Observable>()
  for (const { name, unit, description } of Object.values(LOADER_INSTRUMENTS)) {
    if (!counters.has(name)) counters.set(name, meter.createObservableCounter(name, { unit, description }))
  }
  const fields = (
    Object.entries(LOADER_INSTRUMENTS) as [
      keyof LoaderStats,
      (typeof LOADER_INSTRUMENTS)[keyof LoaderStats],
    ][]
  ).map(([field, instrument]) => ({
    field,
    counter: counters.get(instrument.name)!,
    attributes: 'attributes' in instrument ? instrument.attributes : {},
  }))
  const entries = meter.createObservableGauge('loadcache.l1.entries', {
    unit: '{entry}',
    description: 'Entries in the in-process L1 cache.',
  })
  const pending = meter.createObservableGauge('loadcache.redis.pending_invalidations', {
    unit: '{invalidation}',
    description: 'Invalidations queued while Redis is unreachable.',
  })
  const bus = meter.createObservableGauge('loadcache.bus.connected', {
    description: 'Whether the invalidation bus is subscribed (1) or not (0; L1 is bypassed meanwhile).',
  })
  const breaker = meter.createObservableGauge('loadcache.redis.breaker', {
    description:
      'State of the Redis circuit breaker: 1 for the current loadcache.breaker.state, 0 for the others.',
  })
  const observables = [...counters.values(), entries, pending, bus, breaker]
  const callback = (result: BatchObservableResult) => {
    const stats = cache.stats()
    for (const [loader, counts] of Object.entries(stats.loaders)) {
      for (const { field, counter, attributes } of fields) {
        result.observe(counter, counts[field], { 'loadcache.loader': loader, ...attributes })
      }
    }
    result.observe(entries, stats.memory.entries)
    result.observe(pending, stats.redis.pendingInvalidations)
    result.observe(bus, Number(stats.redis.busConnected))
    for (const state of BREAKER_STATES) {
      result.observe(breaker, Number(stats.redis.breaker === state), { 'loadcache.breaker.state': state })
    }
  }
  meter.addBatchObservableCallback(callback, observables)

  const fetchDuration = meter.createHistogram('loadcache.fetch.duration', {
    unit: 's',
    description: "Duration of a loader's fetch (or of a cached field's resolvers for one batch).",
    advice: { explicitBucketBoundaries: FETCH_BOUNDARIES },
  })
  const redisDuration = meter.createHistogram('loadcache.redis.duration', {
    unit: 's',
    description: 'Duration of a Redis round trip (error: it failed or timed out).',
    advice: { explicitBucketBoundaries: REDIS_BOUNDARIES },
  })
  const onFetch = (event: FetchEvent) =>
    fetchDuration.record(event.durationMs / 1000, {
      'loadcache.loader': event.loader,
      'loadcache.outcome': event.failed === 0 ? 'ok' : 'error',
    })
  const onRedis = (event: RedisEvent) =>
    redisDuration.record(event.durationMs / 1000, {
      'loadcache.redis.operation': event.operation,
      'loadcache.outcome': event.error === undefined ? 'ok' : 'error',
    })
  cache.on('fetch', onFetch)
  cache.on('redis', onRedis)
  return () => {
    meter.removeBatchObservableCallback(callback, observables)
    cache.off('fetch', onFetch)
    cache.off('redis', onRedis)
  }
}
