/**
 * One measurement of a fleet (a workload, or the invalidation-latency rounds) and what it records.
 */
import { loadavg } from 'node:os'
import type { Instance } from './pool.js'
import {
  type Counters,
  type Design,
  epochNow,
  type ProbeTimes,
  type RunResult,
  sumCounters,
  type WorkloadName,
  type WriteTimes,
} from './protocol.js'
import { type BusTap, delta, type RedisDelta, type RedisNodes, type TapCounts } from './redis-stats.js'

export interface WorkloadCell {
  readonly topology: string
  readonly design: Design
  readonly instances: number
  readonly workload: WorkloadName
  /** Nominal measured seconds (the open loop's schedule). */
  readonly seconds: number
  readonly requests: number
  readonly loads: number
  readonly wrong: number
  readonly writes: number
  readonly counters: Counters
  /** CPU of all instances during the run, ms. */
  readonly instanceCpuMs: number
  /** Median of the instances' p50 and largest of their p99 request latency, ms. */
  readonly requestP50Ms: number
  readonly requestP99Ms: number
  /** The largest of the instances' p99 event-loop delay, ms. */
  readonly loopDelayP99Ms: number
  readonly redis: RedisDelta
  readonly tap: TapCounts
  /** Subscribers of the bus channel during the run, the tap excluded. */
  readonly subscribers: number
  readonly loadAverage: readonly [number, number]
  readonly warnings: readonly string[]
}

/**
 * One other instance in one round, as a tuple (the results files hold thousands): ms from the start of
 * the invalidation (after the database write) until it was heard, read fresh, and polled fresh; ms from
 * the moment the invalidation calls resolved in the writer until it was heard; reads after hearing that
 * still returned the old version. `null`: it did not happen within 3 s.
 */
export type LatencySample = readonly [
  heardMs: number | null,
  freshMs: number | null,
  pollFreshMs: number | null,
  heardAfterResolvedMs: number | null,
  staleAfterHeard: number,
]

export interface LatencyCell {
  readonly topology: string
  readonly design: Design
  readonly instances: number
  readonly rounds: number
  /** One array per round (one write), one sample per other instance. */
  readonly samples: readonly (readonly LatencySample[])[]
  /** ms the invalidation calls took in the writing instance, per round. */
  readonly invalidateMs: readonly number[]
  /** Event-loop delay of the instances during the rounds: median and largest of their p99s, ms. */
  readonly loopDelayP99Ms: { readonly median: number; readonly max: number }
  readonly loadAverage: readonly [number, number]
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export interface RunSpec {
  readonly workload: WorkloadName
  readonly seconds: number
  readonly rate: number
  readonly loadsPerRequest: number
  readonly writeFraction: number
  readonly seed: number
}

/** Every instance runs the workload from the same instant; Redis and the tap are read around it. */
export async function measureWorkload(
  fleet: readonly Instance[],
  nodes: RedisNodes,
  tap: BusTap,
  context: { topology: string; design: Design; channel: string },
  spec: RunSpec,
): Promise<WorkloadCell> {
  const subscribers = (await nodes.subscribers(context.channel, tap.sharded)) - 1
  const loadBefore = loadavg()[0]!
  await tap.flush()
  tap.take()
  const before = await nodes.snapshot()
  const startAt = epochNow() + 200
  const results = await runAll(fleet, spec, startAt)
  const after = await nodes.snapshot()
  // Classic messages published on another Cluster node reach the tap's node over the cluster bus.
  await sleep(50)
  await tap.flush()
  const counts = tap.take()
  return {
    topology: context.topology,
    design: context.design,
    instances: fleet.length,
    workload: spec.workload,
    seconds: spec.seconds,
    requests: results.reduce((n, r) => n + r.requests, 0),
    loads: results.reduce((n, r) => n + r.loads, 0),
    wrong: results.reduce((n, r) => n + r.wrong, 0),
    writes: results.reduce((n, r) => n + r.writes, 0),
    counters: sumCounters(results.map((result) => result.counters)),
    instanceCpuMs: results.reduce((n, r) => n + r.cpuMs, 0),
    requestP50Ms: median(results.map((r) => r.latencyMs.p50)),
    requestP99Ms: Math.max(...results.map((r) => r.latencyMs.p99)),
    loopDelayP99Ms: Math.max(...results.map((r) => r.loopDelayMs.p99)),
    redis: delta(before, after),
    tap: counts,
    subscribers,
    loadAverage: [loadBefore, loadavg()[0]!],
    warnings: [...new Set(results.flatMap((r) => r.warnings))].slice(0, 10),
  }
}

/** Runs the workload on every instance without measuring (to reach a steady state). */
export async function settle(fleet: readonly Instance[], spec: RunSpec): Promise<void> {
  await runAll(fleet, spec, epochNow() + 200)
}

function runAll(fleet: readonly Instance[], spec: RunSpec, startAt: number): Promise<RunResult[]> {
  return Promise.all(
    fleet.map((instance, i) =>
      instance.call<RunResult>({
        op: 'run',
        durationMs: spec.seconds * 1000,
        rate: spec.rate,
        loadsPerRequest: spec.loadsPerRequest,
        writeFraction: spec.writeFraction,
        seed: spec.seed * 1_000 + i,
        startAt,
      }),
    ),
  )
}

/**
 * Invalidation latency: rounds of one write each, by each instance in turn, while every instance keeps
 * running the read workload in the background. Before each write every other instance reads the probe (so
 * its L1 holds the old version) and arms its watcher; see `arm` in worker.ts.
 */
export async function measureLatency(
  fleet: readonly Instance[],
  context: { topology: string; design: Design; label: string },
  options: { rounds: number; pollMs: number; background: RunSpec },
): Promise<LatencyCell> {
  const loadBefore = loadavg()[0]!
  const background = runAll(fleet, { ...options.background, seconds: 3_600 }, epochNow() + 50)
  await sleep(500)
  const samples: LatencySample[][] = []
  const invalidateMs: number[] = []
  for (let round = 0; round < options.rounds; round++) {
    const id = `${context.label}-${round}`
    const writer = fleet[round % fleet.length]!
    const watchers = fleet.filter((instance) => instance !== writer)
    await Promise.all(watchers.map((w) => w.call({ op: 'arm', id, version: 1, pollMs: options.pollMs })))
    const times = await writer.call<WriteTimes>({ op: 'write', id, version: 1 })
    const heard = await Promise.all(
      watchers.map((w) => w.call<ProbeTimes>({ op: 'collect', timeoutMs: 3_000 })),
    )
    invalidateMs.push(times.resolvedAt - times.startedAt)
    const since = (at: number | null, from: number) => (at === null ? null : at - from)
    samples.push(
      heard.map(
        (t): LatencySample => [
          since(t.heardAt, times.startedAt),
          since(t.freshAt, times.startedAt),
          since(t.pollFreshAt, times.startedAt),
          since(t.heardAt, times.resolvedAt),
          t.staleAfterHeard,
        ],
      ),
    )
    await sleep(20)
  }
  await Promise.all(fleet.map((instance) => instance.call({ op: 'stopRun' })))
  const loops = (await background).map((r) => r.loopDelayMs.p99)
  return {
    topology: context.topology,
    design: context.design,
    instances: fleet.length,
    rounds: options.rounds,
    samples,
    invalidateMs,
    loopDelayP99Ms: { median: median(loops), max: Math.max(...loops) },
    loadAverage: [loadBefore, loadavg()[0]!],
  }
}
