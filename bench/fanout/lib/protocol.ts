/**
 * What the orchestrator (run.ts) and the instances (worker.ts) say to each other over Node IPC. Every
 * command carries a `seq`; the worker answers it once, with the same `seq`, either a result or an error.
 */

/** Which design an instance runs: today's (the tree before commit 1ba57b7) or the current one. */
export type Design = 'old' | 'new'

export type Topology =
  | { readonly kind: 'standalone'; readonly port: number }
  | { readonly kind: 'cluster'; readonly ports: readonly number[] }

export type WorkloadName = 'warm' | 'misses' | 'writes'

/** The shape of one workload; the same for every instance and both designs. */
export interface WorkloadShape {
  /** Ids 1..keys, drawn Zipf(zipfS). */
  readonly keys: number
  readonly zipfS: number
  /** Entry TTL in seconds (the loader's `ttl`). */
  readonly ttlSeconds: number
  /** L1 size in entries (`memory.max`). */
  readonly l1Max: number
}

export type Command =
  | {
      readonly op: 'open'
      readonly design: Design
      /** Absolute path of that design's `src/index.ts`. */
      readonly entry: string
      readonly topology: Topology
      readonly namespace: string
      readonly shape: WorkloadShape
      /** Directory of the probe rows' versions (one file per id), shared by every instance. */
      readonly dbDir: string
    }
  /** Loads ids 1..count through the cache (fills Redis, or L1 when Redis has them). */
  | { readonly op: 'preload'; readonly count: number }
  | {
      readonly op: 'run'
      readonly durationMs: number
      /** Requests per second this instance starts (open loop, evenly spaced). */
      readonly rate: number
      /** Loads per request (each on the request's own DataLoader). */
      readonly loadsPerRequest: number
      /** Share of requests that also invalidate one entity (by id and by tag) after their loads. */
      readonly writeFraction: number
      readonly seed: number
      /** Epoch ms at which every instance starts. */
      readonly startAt: number
    }
  /** Reads a probe id (so L1 holds its current version), then watches for its invalidation. */
  | { readonly op: 'arm'; readonly id: string; readonly version: number; readonly pollMs: number }
  /** The database write of a mutation, then its invalidation by id and by tag. */
  | { readonly op: 'write'; readonly id: string; readonly version: number }
  /** Ends a `run` early (its requests in flight still finish). */
  | { readonly op: 'stopRun' }
  /** Waits (at most timeoutMs) until the armed probe was heard and read fresh, and reports the times. */
  | { readonly op: 'collect'; readonly timeoutMs: number }
  | { readonly op: 'stats' }
  | { readonly op: 'close' }
  | { readonly op: 'exit' }

/** What one instance did during a `run`. */
export interface RunResult {
  readonly requests: number
  readonly loads: number
  /** Loads that returned an Error or a row of another id. */
  readonly wrong: number
  readonly writes: number
  /** Request latency (ms from the scheduled start to resolution). */
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number }
  /** Event-loop delay of this process during the run (ms): how long a ready callback waited for the CPU. */
  readonly loopDelayMs: { readonly p99: number; readonly max: number }
  /** This process's CPU (user + system) during the run, ms. */
  readonly cpuMs: number
  /** Loader counters during the run (summed over the loaders). */
  readonly counters: Counters
  /** Warnings the cache logged during the run (bus down, breaker…). */
  readonly warnings: readonly string[]
}

export interface Counters {
  l1Hits: number
  l2Hits: number
  misses: number
  joined: number
  fetchCalls: number
  idsFetched: number
  lockWaits: number
}

/**
 * Adds up loader counters (each design's `stats().loaders` values, or other runs' sums), counting a counter
 * a design lacks as 0.
 */
export function sumCounters(parts: Iterable<Partial<Counters>>): Counters {
  const sum: Counters = {
    l1Hits: 0,
    l2Hits: 0,
    misses: 0,
    joined: 0,
    fetchCalls: 0,
    idsFetched: 0,
    lockWaits: 0,
  }
  for (const part of parts) {
    for (const name of Object.keys(sum) as (keyof Counters)[]) sum[name] += part[name] ?? 0
  }
  return sum
}

/** Epoch ms at which the probe's invalidation was heard, read fresh, and seen fresh by the poller. */
export interface ProbeTimes {
  readonly heardAt: number | null
  /** A read started as soon as it was heard returned the new version. */
  readonly freshAt: number | null
  /** The first poll (an ordinary load every pollMs, from L1 when it holds the key) that returned it. */
  readonly pollFreshAt: number | null
  /** Reads after the invalidation was heard that still returned the old version (should be 0). */
  readonly staleAfterHeard: number
}

export interface WriteTimes {
  /** Epoch ms just before the invalidation calls (after the database write). */
  readonly startedAt: number
  /** Epoch ms when both invalidation calls had resolved. */
  readonly resolvedAt: number
}

/** A wall clock with sub-millisecond resolution, comparable between processes of one machine. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now()
}
