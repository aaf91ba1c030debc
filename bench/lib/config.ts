/**
 * Every knob of the benchmark, read from the environment once (by the orchestrator and, through the
 * inherited environment, by every worker). Defaults are the full run (about 5 minutes on 2 cores);
 * `BENCH_SMOKE=1` is a smoke run (under a minute).
 */

function num(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${raw}`)
  return value
}

function optionalNum(name: string): number | undefined {
  const raw = process.env[name]
  return raw === undefined || raw === '' ? undefined : num(name, 0)
}

function list(name: string): string[] | undefined {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return undefined
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
}

/** `BENCH_SMOKE=1`: short defaults for a quick check that everything runs (under a minute); not for results. */
const smoke = process.env.BENCH_SMOKE === '1'

export const config = {
  smoke,
  /** Measured seconds per layer in the closed-loop N+1 workloads (warm, churn). */
  seconds: num('BENCH_SECONDS', smoke ? 0.5 : 12),
  /** Measured seconds per layer in the hot-path workload (after a JIT warm-up of a fifth of it, at most 1 s). */
  hotSeconds: num('BENCH_HOT_SECONDS', smoke ? 0.5 : 4),
  /** Processes per layer in the hot-path workload (their turns are summed). */
  hotProcesses: num('BENCH_HOT_PROCESSES', smoke ? 1 : 2),
  /** Cold-stampede rounds per layer (each round: empty Redis, 4 fresh processes). */
  stampedeRounds: num('BENCH_STAMPEDE_ROUNDS', smoke ? 1 : 3),
  /** Measured seconds per layer in the end-to-end (HTTP) workload. */
  e2eSeconds: num('BENCH_E2E_SECONDS', smoke ? 2 : 8),
  /** Response tier, hits: measured seconds per server (after a 2 s warm-up). */
  rtSeconds: num('BENCH_RT_SECONDS', smoke ? 2 : 10),
  /** Response tier, hits: autocannon connections (a closed loop). */
  rtConnections: num('BENCH_RT_CONNECTIONS', 32),
  /** Response tier, churn: measured seconds per server. */
  rtChurnSeconds: num('BENCH_RT_CHURN_SECONDS', smoke ? 2 : 8),
  /** Response tier, churn: concurrent readers (each a closed loop of feed reads). */
  rtChurnReaders: num('BENCH_RT_CHURN_READERS', 8),
  /** Response tier, churn: pause between one write's response and the next write, ms. */
  rtChurnWriteGapMs: num('BENCH_RT_CHURN_WRITE_GAP_MS', 50),
  /** Response tier, cold stampede: server processes (instances) per server kind. */
  rtStampedeInstances: num('BENCH_RT_STAMPEDE_INSTANCES', smoke ? 2 : 4),
  /** Response tier, cold stampede: concurrent identical requests per instance. */
  rtStampedeRequests: num('BENCH_RT_STAMPEDE_REQUESTS', smoke ? 5 : 25),
  /** Response tier, cold stampede: rounds per server kind. */
  rtStampedeRounds: num('BENCH_RT_STAMPEDE_ROUNDS', smoke ? 1 : 3),
  /** Response tier: only these servers (loadcache, response-cache, response-cache-redis, no-cache). */
  rtVariants: list('BENCH_RT_VARIANTS'),
  /**
   * Before the run, wait until the 1-minute load average is below this (polled every 30 s, for at most
   * BENCH_IDLE_TIMEOUT_MIN minutes; the JSON records what happened). Off when unset.
   */
  idleLoad: optionalNum('BENCH_IDLE_LOAD'),
  /**
   * Node options for every worker process, space separated (BENCH_NODE_ARGS, e.g.
   * `--max-semi-space-size=32`: see RESULTS.md, hot path). Default none: Node's defaults, as users run.
   */
  nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
  idleTimeoutMinutes: num('BENCH_IDLE_TIMEOUT_MIN', 30),
  /** Closed-loop concurrency of the N+1 and hot-path workloads. */
  concurrency: num('BENCH_CONCURRENCY', 32),
  /** Ids per request (drawn Zipf(1.0), duplicates included). */
  idsPerRequest: 100,
  /** Number of entities ids are drawn from. */
  universe: 10_000,
  /** Zipf exponent. */
  zipfS: 1.0,
  /** Simulated database: fixed cost per call and cost per id, in ms. */
  dbCallMs: 2,
  dbPerIdMs: 0.01,
  /** Share of churn requests that update an entity, invalidate it and read it back. */
  churnUpdateRatio: num('BENCH_CHURN_RATIO', 0.05),
  stampedeProcesses: 4,
  stampedeRequestsPerProcess: num('BENCH_STAMPEDE_REQUESTS', smoke ? 25 : 125),
  /** Entry TTL of every layer, seconds (far longer than any run, so nothing expires mid-run). */
  ttlSeconds: 300,
  /** L1 capacity of every layer that has one, entries (the whole universe fits). */
  l1Entries: 10_000,
  /** Seed of every random sequence, so each layer sees the same requests. */
  seed: num('BENCH_SEED', 42),
  /** Only these scenarios (names as in bench/scenarios), comma-separated. */
  only: list('BENCH_ONLY'),
  /** Only these layers, comma-separated. */
  layers: list('BENCH_LAYERS'),
}

export type BenchConfig = typeof config
