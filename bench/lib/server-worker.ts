/**
 * Both sides of an HTTP workload's server process (response-hits, response-churn, response-stampede):
 * one example-API variant (lib/example-servers.ts) in a worker process of its own, so its CPU time, SQL
 * statements and Redis commands are its own.
 *
 * The server answers `counters` asks with cumulative figures (CPU, SQL statements, query executions,
 * Redis commands it sent); the orchestrator takes the difference across a measurement, so one server can
 * serve a warm-up, a measurement and several stampede rounds without restarting (PGlite's start alone
 * takes ~12 s of CPU).
 */
import { cpuMsSince, peakRssMb, sleep } from './measure.js'
import { sentCommands } from './redis-commands.js'
import type { Figures, ScenarioContext } from './scenario.js'
import { task } from './scenario.js'
import { type WorkerIpc, WorkerProcess, type WorkerTask } from './workers.js'

/** Every statement of the example API's database waits this long, as a database across a network. */
export const DB_DELAY_MS = 2

/** Cumulative figures of one server process since it started serving. */
export interface ServerCounters {
  cpuMs: number
  /** SQL statements, all tables. */
  statements: number
  /** Query operations graphql-js executed (see RunningServer.queryExecutions). */
  executions: number
  /** HTTP responses it finished (sent, or abandoned by the client); the denominator of per-request figures. */
  responses: number
  /** HTTP requests it is still working on. */
  inFlight: number
  /**
   * loadcache only: Redis failures its cache counted (timeouts included; each makes the cache fall back
   * to the source or to fetching without a lock) and the breaker's state.
   */
  cacheRedisErrors?: number
  cacheBreaker?: string
  /** Redis commands its ioredis clients sent, by name. */
  sentCommands: Record<string, number>
  peakRssMb: number
}

/** Worker side: starts the task's variant, answers `counters` until told to `stop`. */
export async function serveVariant(task: WorkerTask, ipc: WorkerIpc): Promise<ServerCounters> {
  const { startExampleServer } = await import('./example-servers.js')
  const server = await startExampleServer(task.layer as 'no-cache', {
    dbDelayMs: DB_DELAY_MS,
    redisUrl: `redis://127.0.0.1:${task.redisPort}`,
  })
  server.db.resetQueryCounts()
  // Counted at the HTTP server: a load generator stops with requests in flight, which the server still
  // works on (and spends CPU on) after the client went away.
  const http = { started: 0, finished: 0 }
  server.httpServer.on('request', (_request, response) => {
    http.started++
    response.once('close', () => http.finished++)
  })
  const cpu = process.cpuUsage()
  const counters = (): ServerCounters => {
    const sql = server.db.queryCounts()
    return {
      cpuMs: cpuMsSince(cpu),
      statements: sql.users + sql.posts + sql.comments,
      executions: server.queryExecutions(),
      responses: http.finished,
      inFlight: http.started - http.finished,
      cacheRedisErrors: server.cache?.stats().redis.errors,
      cacheBreaker: server.cache?.stats().redis.breaker,
      sentCommands: sentCommands(),
      peakRssMb: peakRssMb(),
    }
  }
  ipc.answer('counters', counters)
  ipc.ready({ url: server.url })
  await ipc.waitFor('stop')
  const final = counters()
  await server.close()
  return final
}

/** Orchestrator side: one running server process. */
export interface ServerHandle {
  variant: string
  url: string
  worker: WorkerProcess
  counters(): Promise<ServerCounters>
}

/**
 * Starts one server process per variant (`index` tells instances of one variant apart), all at once,
 * and resolves when every one listens.
 */
export async function startServers(
  context: ScenarioContext,
  scenario: string,
  servers: { variant: string; index?: number }[],
): Promise<ServerHandle[]> {
  const workers = servers.map(
    ({ variant, index }) => new WorkerProcess(task(context, scenario, 'serve', variant, 'bench', index ?? 0)),
  )
  try {
    const ready = (await Promise.all(workers.map((worker) => worker.ready))) as { url: string }[]
    return workers.map((worker, i) => ({
      variant: servers[i]!.variant,
      url: ready[i]!.url,
      worker,
      counters: () => worker.ask('counters') as Promise<ServerCounters>,
    }))
  } catch (error) {
    for (const worker of workers) worker.kill()
    throw error
  }
}

/**
 * Starts one server per variant, all at once, measures them one at a time in the given order, and stops
 * every one of them however the measurements end.
 */
export async function measureEachServer(
  context: ScenarioContext,
  scenario: string,
  variants: readonly string[],
  measure: (server: ServerHandle) => Promise<Figures>,
): Promise<Figures[]> {
  const servers = await startServers(
    context,
    scenario,
    variants.map((variant) => ({ variant })),
  )
  const figures: Figures[] = []
  try {
    for (const server of servers) figures.push(await measure(server))
  } finally {
    for (const server of servers) server.worker.kill()
  }
  return figures
}

/**
 * The server's counters once it has finished every request in flight (polled every 100 ms, for at most
 * 60 s): taken before and after a measurement, the difference is the work of exactly the requests in
 * between, including those the load generator abandoned when it stopped.
 */
export async function countersWhenIdle(server: ServerHandle): Promise<ServerCounters> {
  const deadline = performance.now() + 60_000
  for (;;) {
    const counters = await server.counters()
    if (counters.inFlight === 0 || performance.now() > deadline) return counters
    await sleep(100)
  }
}

/** The counters of a measurement: `after − before`, field by field (peak RSS and in flight: the later value). */
export function countersBetween(before: ServerCounters, after: ServerCounters): ServerCounters {
  const sent: Record<string, number> = {}
  for (const [name, count] of Object.entries(after.sentCommands)) {
    const delta = count - (before.sentCommands[name] ?? 0)
    if (delta > 0) sent[name] = delta
  }
  return {
    cpuMs: after.cpuMs - before.cpuMs,
    statements: after.statements - before.statements,
    executions: after.executions - before.executions,
    responses: after.responses - before.responses,
    inFlight: after.inFlight,
    cacheRedisErrors:
      after.cacheRedisErrors === undefined
        ? undefined
        : after.cacheRedisErrors - (before.cacheRedisErrors ?? 0),
    cacheBreaker: after.cacheBreaker,
    sentCommands: sent,
    peakRssMb: after.peakRssMb,
  }
}
