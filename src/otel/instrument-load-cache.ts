import { type MeterProvider, metrics, type TracerProvider, trace } from '@opentelemetry/api'
import { engineOf, type LoadCache } from '../cache/create-cache.js'
import { invalidOption, LoadCacheError } from '../core/errors.js'
import { observeCache } from './instruments.js'
import { spanTracing } from './spans.js'

/** Options of {@link instrumentLoadCache}. */
export interface InstrumentLoadCacheOptions {
  /** Where spans go. Default: the global tracer provider (a no-op until an SDK registers one). */
  tracerProvider?: TracerProvider
  /** Where metrics go. Default: the global meter provider (a no-op until an SDK registers one). */
  meterProvider?: MeterProvider
  /** Make spans of fetches and Redis round trips. Default true. */
  traces?: boolean
  /** Report counters, gauges and histograms. Default true. */
  metrics?: boolean
}

/** The instrumentation scope of every span and instrument. */
const SCOPE = 'loadcache'

/** Caches instrumented now: a second instrumentation would double every span and measurement. */
const instrumented = new WeakSet<LoadCache>()

/**
 * OpenTelemetry for a cache, through `@opentelemetry/api` (an optional peer dependency, ^1.3):
 *
 * - spans `loadcache.fetch` around every fetch call (attributes `loadcache.loader`, `loadcache.ids`,
 *   `loadcache.failed`) and `loadcache.redis <operation>` around every Redis round trip, children of the
 *   span active when the load was made and active while they run, so the queries your `fetch` makes nest
 *   under them (see `spanTracing`). Loads answered from L1 make no span: a span per memory hit would cost
 *   more than the hit;
 * - metrics: hits by loader and tier, misses and every other `stats()` counter as observable counters, the
 *   state of Redis, the bus and L1 as gauges, fetch and Redis durations as histograms (see `observeCache`).
 *
 * With neither provider given and no SDK registered, everything is a no-op.
 *
 * @returns a function that removes the instrumentation (spans stop at once; instruments stop reporting).
 * @throws LoadCacheError (E_MISUSE) when the cache is already instrumented: call the function the first
 *   call returned before instrumenting it again.
 */
export function instrumentLoadCache(cache: LoadCache, options: InstrumentLoadCacheOptions = {}): () => void {
  const engine = engineOf(cache)
  for (const option of ['traces', 'metrics'] as const) {
    const value = options[option]
    if (value !== undefined && typeof value !== 'boolean') throw invalidOption(option, value, 'a boolean')
  }
  if (instrumented.has(cache)) {
    throw new LoadCacheError(
      'E_MISUSE',
      'instrumentLoadCache: this cache is already instrumented; call the function the first call returned before instrumenting it again',
    )
  }
  instrumented.add(cache)
  const removers: (() => void)[] = [() => instrumented.delete(cache)]
  if (options.traces !== false) {
    const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE)
    const tracing = spanTracing(tracer, engine.options.namespace)
    engine.tracing = tracing
    removers.push(() => {
      if (engine.tracing === tracing) engine.tracing = undefined
    })
  }
  if (options.metrics !== false) {
    const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE)
    removers.push(observeCache(meter, cache))
  }
  let removed = false
  return () => {
    if (removed) return
    removed = true
    for (const remove of removers) remove()
  }
}
