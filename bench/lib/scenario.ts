/**
 * What a scenario is (one file per scenario in bench/scenarios), the figures it reports, and the helpers
 * both sides share: the worker side builds a `WorkerReport`, the orchestrator side turns reports and Redis
 * statistics into `Figures`.
 */
import type { Redis } from 'ioredis'
import { createLayer, isLayerName, type Layer, type LayerName } from '../adapters/layer.js'
import type { BenchConfig } from './config.js'
import { cpuMsSince, type LatencySummary, peakRssMb, summarize } from './measure.js'
import {
  commandFigures,
  parseCommandStats,
  type RedisCommandFigures,
  resetSentCommands,
  sentCommands,
} from './redis-commands.js'
import { SimulatedDatabase } from './source.js'
import { type WorkerIpc, WorkerProcess, type WorkerTask } from './workers.js'

/** Everything measured for one layer in one workload (one round, for the stampede). */
export interface Figures {
  scenario: string
  layer: string
  round?: number
  requests: number
  errors: number
  firstError?: string
  elapsedMs: number
  requestsPerSecond: number
  latency: LatencySummary
  source: { calls: number; rows: number; updates: number; meanCallMs: number }
  redis: RedisCommandFigures & { topLevelPerRequest: number }
  cpuMs: number
  cpuMsPerRequest: number
  peakRssMb: number
  processes: number
  /** Churn: reads that returned a version older than one whose invalidation had resolved before the read began. */
  staleReads?: number
  /** Churn: reads that returned a version older than the database's at the time they resolved (includes legitimate races). */
  behindSource?: number
  layerStats?: Record<string, unknown>[]
  extra?: Record<string, unknown>
}

export interface Skipped {
  skipped: string
}

export interface ScenarioContext {
  config: BenchConfig
  redisPort: number
  /** The orchestrator's own Redis client (FLUSHALL, CONFIG RESETSTAT, INFO). */
  admin: Redis
  /** The layers selected for this run (BENCH_LAYERS), in table order. */
  layers: readonly LayerName[]
  log(message: string): void
}

export interface Scenario {
  readonly name: string
  readonly title: string
  /**
   * It serves the example API over HTTP: each server embeds PGlite, whose start alone takes ~12 s of CPU,
   * so a smoke run leaves it out unless BENCH_ONLY names it.
   */
  readonly http?: boolean
  /** Orchestrator side: runs every layer, returns their figures (or why the scenario was skipped). */
  run(context: ScenarioContext): Promise<Figures[] | Skipped>
  /** Worker side, in a measured process. */
  worker(task: WorkerTask, ipc: WorkerIpc): Promise<WorkerReport | Record<string, unknown>>
}

// ---------------------------------------------------------------------------------------------------------
// Worker side

/** What one measured process reports. */
export interface WorkerReport {
  requests: number
  errors: number
  firstError?: string
  elapsedMs: number
  latency: LatencySummary
  /** Raw latencies, when the orchestrator merges processes (stampede). */
  latencies?: number[]
  source: ReturnType<SimulatedDatabase['counters']>
  cpuMs: number
  peakRssMb: number
  sentCommands: Record<string, number>
  layerStats: Record<string, unknown>
  staleReads?: number
  behindSource?: number
  extra?: Record<string, unknown>
}

export interface WorkerSetup {
  layer: Layer
  db: SimulatedDatabase
}

/** Creates this process's database and layer, and connects the layer. */
export async function setUpLayer(task: WorkerTask, config: BenchConfig): Promise<WorkerSetup> {
  const db = new SimulatedDatabase(config.universe, config.dbCallMs, config.dbPerIdMs)
  if (!isLayerName(task.layer)) throw new Error(`unknown layer ${task.layer}`)
  const layer = await createLayer(task.layer, {
    db,
    redisPort: task.redisPort,
    namespace: task.namespace,
    ttlSeconds: config.ttlSeconds,
    l1Entries: config.l1Entries,
  })
  await layer.setup()
  return { layer, db }
}

/** Loads every id of the universe through the layer (100 distinct ids per request, 32 requests at a time). */
export async function loadUniverse(layer: Layer, universe: number): Promise<void> {
  const chunks: string[][] = []
  for (let start = 1; start <= universe; start += 100) {
    chunks.push(Array.from({ length: Math.min(100, universe - start + 1) }, (_, i) => String(start + i)))
  }
  let next = 0
  const worker = async () => {
    while (next < chunks.length) {
      const ids = chunks[next++]!
      const loader = layer.loader()
      await Promise.all(ids.map((id) => loader.load(id)))
    }
  }
  await Promise.all(Array.from({ length: 32 }, worker))
}

/** Marks the start of the measured phase: resets the database counters and the client command counter. */
export function startMeasuring(db: SimulatedDatabase): { cpu: NodeJS.CpuUsage } {
  db.resetCounters()
  resetSentCommands()
  return { cpu: process.cpuUsage() }
}

export function workerReport(
  started: { cpu: NodeJS.CpuUsage },
  setup: WorkerSetup,
  loop: { requests: number; errors: number; elapsedMs: number; latencies: number[]; firstError?: string },
  options: {
    rawLatencies?: boolean
    staleReads?: number
    behindSource?: number
    extra?: Record<string, unknown>
  } = {},
): WorkerReport {
  return {
    requests: loop.requests,
    errors: loop.errors,
    firstError: loop.firstError,
    elapsedMs: loop.elapsedMs,
    latency: summarize(loop.latencies),
    latencies: options.rawLatencies ? loop.latencies : undefined,
    source: setup.db.counters(),
    cpuMs: cpuMsSince(started.cpu),
    peakRssMb: peakRssMb(),
    sentCommands: sentCommands(),
    layerStats: setup.layer.stats(),
    staleReads: options.staleReads,
    behindSource: options.behindSource,
    extra: options.extra,
  }
}

// ---------------------------------------------------------------------------------------------------------
// Orchestrator side

/**
 * Starts the workers of one measurement, waits until every one is ready, resets Redis statistics, starts
 * them together, and collects their reports and the Redis command counts.
 */
export async function measureWorkers(
  context: ScenarioContext,
  tasks: WorkerTask[],
): Promise<{ reports: WorkerReport[]; redis: RedisCommandFigures }> {
  const workers = tasks.map((task) => new WorkerProcess(task))
  try {
    await Promise.all(workers.map((worker) => worker.ready))
    await context.admin.config('RESETSTAT')
    const at = Date.now() + 100
    for (const worker of workers) worker.go({ at })
    const reports = (await Promise.all(workers.map((worker) => worker.result))) as WorkerReport[]
    const server = parseCommandStats(await context.admin.info('commandstats'))
    const sent: Record<string, number> = {}
    for (const report of reports) {
      for (const [name, count] of Object.entries(report.sentCommands)) sent[name] = (sent[name] ?? 0) + count
    }
    return { reports, redis: commandFigures(server, sent) }
  } finally {
    for (const worker of workers) worker.kill()
  }
}

/** Runs one worker to completion without measuring it (e.g. the process that pre-fills Redis). */
export async function runUnmeasured(task: WorkerTask): Promise<unknown> {
  const worker = new WorkerProcess(task)
  try {
    await worker.ready
    worker.go()
    return await worker.result
  } finally {
    worker.kill()
  }
}

/** Adds each row's throughput relative to the `no-cache` row's (`extra.vsNoCache`), when there is one. */
export function withRatioToNoCache(figures: Figures[]): Figures[] {
  const none = figures.find((row) => row.layer === 'no-cache')
  for (const row of figures) {
    row.extra = {
      ...row.extra,
      vsNoCache: none ? row.requestsPerSecond / none.requestsPerSecond : undefined,
    }
  }
  return figures
}

/** Combines the reports of the processes of one measurement into the figures of a table row. */
export function toFigures(
  scenario: string,
  layer: string,
  reports: WorkerReport[],
  redis: RedisCommandFigures,
  options: { round?: number; elapsedMs?: number; extra?: Record<string, unknown> } = {},
): Figures {
  const requests = sum(reports.map((r) => r.requests))
  const elapsedMs = options.elapsedMs ?? Math.max(...reports.map((r) => r.elapsedMs))
  const cpuMs = sum(reports.map((r) => r.cpuMs))
  const calls = sum(reports.map((r) => r.source.calls))
  const latency = reports.every((r) => r.latencies !== undefined)
    ? summarize(reports.flatMap((r) => r.latencies ?? []))
    : reports[0]!.latency
  const stale = reports.map((r) => r.staleReads).filter((v): v is number => v !== undefined)
  const behind = reports.map((r) => r.behindSource).filter((v): v is number => v !== undefined)
  return {
    scenario,
    layer,
    round: options.round,
    requests,
    errors: sum(reports.map((r) => r.errors)),
    firstError: reports.find((r) => r.firstError)?.firstError,
    elapsedMs,
    requestsPerSecond: requests / (elapsedMs / 1000),
    latency,
    source: {
      calls,
      rows: sum(reports.map((r) => r.source.rows)),
      updates: sum(reports.map((r) => r.source.updates)),
      meanCallMs: calls === 0 ? 0 : sum(reports.map((r) => r.source.meanCallMs * r.source.calls)) / calls,
    },
    redis: { ...redis, topLevelPerRequest: requests === 0 ? 0 : redis.topLevel / requests },
    cpuMs,
    cpuMsPerRequest: requests === 0 ? 0 : cpuMs / requests,
    peakRssMb: Math.max(...reports.map((r) => r.peakRssMb)),
    processes: reports.length,
    staleReads: stale.length > 0 ? sum(stale) : undefined,
    behindSource: behind.length > 0 ? sum(behind) : undefined,
    layerStats: reports.map((r) => r.layerStats),
    extra: { ...options.extra, ...reports[0]?.extra },
  }
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0)
}

export function task(
  context: ScenarioContext,
  scenario: string,
  role: string,
  layer: LayerName | string,
  namespace: string,
  index = 0,
  params: Record<string, unknown> = {},
): WorkerTask {
  return { scenario, role, layer, redisPort: context.redisPort, namespace, index, params }
}
