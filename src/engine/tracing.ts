import type { FetchOutcome } from '../loader/define-loader.js'
import type { CommandTracer } from '../redis/redis-tier.js'

/**
 * Wraps the two kinds of work a tracer wants as spans, so that each span is active while the work runs:
 * what a loader's `fetch` (or a cached field's resolvers) does, a database query or an HTTP call, and what
 * ioredis does, then nest under it when those are instrumented too. Events (`fetch`, `redis`) only arrive
 * after the fact, which is enough for metrics but not for parentage. Internal: see `loadcache/otel`.
 */
export interface EngineTracing {
  /**
   * Runs one fetch call of `loader` for `ids` ids: must call `run` once and return what it returns (the
   * aligned outcomes, or an Error that fails them all), rejections included.
   */
  readonly fetch: (
    loader: string,
    ids: number,
    run: () => Promise<FetchOutcome[] | Error>,
  ) => Promise<FetchOutcome[] | Error>
  readonly redis: CommandTracer
}
