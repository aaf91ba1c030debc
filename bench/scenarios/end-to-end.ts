/**
 * End to end over HTTP: the example API (example-api/, embedded PGlite, every SQL statement delayed by
 * DB_DELAY_MS = 2 ms) serving one GraphQL feed query, driven by autocannon (32 connections) from the
 * orchestrator process, in four configurations (see lib/example-servers.ts): no cache, the whole-response
 * cache (@graphql-yoga/plugin-response-cache), loadcache memory-only, loadcache memory + Redis.
 *
 * Each variant is a server in its own process (all four are started together, since each embeds PGlite
 * whose start takes ~12 s, and measured one at a time while the others are idle). Per variant: empty
 * Redis; warm up for 2 s (not measured); check that every mutation's effect is visible on the next read
 * (rename a user who appears in the feed, read the feed, look for the new name; 10 times); then measure
 * for BENCH_E2E_SECONDS. The query's 50 posts carry ~2,000 comments: a 66 KB response of ~4,000 objects.
 */
import type autocannon from 'autocannon'
import { cpuMsSince, peakRssMb } from '../lib/measure.js'
import { commandFigures, parseCommandStats, resetSentCommands, sentCommands } from '../lib/redis-commands.js'
import {
  type Figures,
  type Scenario,
  type ScenarioContext,
  task,
  withRatioToNoCache,
} from '../lib/scenario.js'
import { WorkerProcess } from '../lib/workers.js'

const NAME = 'end-to-end'
const ALL_VARIANTS = ['no-cache', 'response-cache', 'loadcache-memory', 'loadcache']
/** BENCH_E2E_VARIANTS (comma-separated) narrows the run to some of them. */
const VARIANTS = ALL_VARIANTS.filter(
  (variant) => !process.env.BENCH_E2E_VARIANTS || process.env.BENCH_E2E_VARIANTS.split(',').includes(variant),
)
const DB_DELAY_MS = 2
const CONNECTIONS = 32
const WARMUP_SECONDS = 2
const MUTATION_CHECKS = 10

export const FEED_QUERY = '{ posts(first: 50) { title author { name } comments { author { name } } } }'

interface ServeReport {
  statements: number
  cpuMs: number
  peakRssMb: number
  sentCommands: Record<string, number>
  layerStats: Record<string, unknown>
}

async function graphql(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  viewer?: string,
): Promise<string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  // The example API accepts mutations from a signed-in viewer only.
  if (viewer !== undefined) headers.authorization = `Bearer ${viewer}`
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
  })
  const text = await response.text()
  if (!response.ok || text.includes('"errors"')) throw new Error(`${response.status} ${text.slice(0, 300)}`)
  return text
}

async function load(url: string, seconds: number): Promise<autocannon.Result> {
  // Loaded here, not at the top: every worker process imports this module, and only the orchestrator runs it.
  const { default: autocannon } = await import('autocannon')
  return autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: FEED_QUERY }),
    connections: CONNECTIONS,
    duration: seconds,
  })
}

/** Renames a user of the feed and reads the feed right after, MUTATION_CHECKS times; returns the misses. */
async function checkMutationsVisible(url: string): Promise<number> {
  const first = JSON.parse(await graphql(url, '{ posts(first: 1) { author { id } } }')) as {
    data: { posts: { author: { id: string } }[] }
  }
  const userId = first.data.posts[0]?.author.id
  if (userId === undefined) throw new Error('the feed is empty')
  let invisible = 0
  for (let i = 1; i <= MUTATION_CHECKS; i++) {
    await graphql(url, FEED_QUERY)
    const name = `bench-${Date.now()}-${i}`
    await graphql(
      url,
      'mutation ($id: ID!, $name: String!) { updateUser(id: $id, input: { name: $name }) { id name } }',
      { id: userId, name },
      userId,
    )
    if (!(await graphql(url, FEED_QUERY)).includes(`"${name}"`)) invisible++
  }
  return invisible
}

async function measureVariant(
  context: ScenarioContext,
  variant: string,
  worker: WorkerProcess,
): Promise<Figures> {
  try {
    const { url } = (await worker.ready) as { url: string }
    await graphql(url, FEED_QUERY)
    const warmup = await load(url, WARMUP_SECONDS)
    const invisible = await checkMutationsVisible(url)
    await context.admin.config('RESETSTAT')
    worker.go()
    const result = await load(url, context.config.e2eSeconds)
    worker.send({ type: 'stop' })
    const report = (await worker.result) as ServeReport
    const redis = commandFigures(
      parseCommandStats(await context.admin.info('commandstats')),
      report.sentCommands,
    )
    const requests = result.requests.total
    const errors = result.errors + result.timeouts + result.non2xx
    const elapsedMs = result.duration * 1000
    context.log(
      `${NAME} ${variant}: ${Math.round(requests / result.duration)} req/s, ${invisible} mutations not visible`,
    )
    return {
      scenario: NAME,
      layer: variant,
      requests,
      errors,
      firstError:
        errors > 0
          ? `autocannon: ${result.errors} errors (${result.timeouts} of them timeouts after 10 s), ${result.non2xx} non-2xx responses`
          : undefined,
      elapsedMs,
      requestsPerSecond: requests / result.duration,
      latency: {
        count: requests,
        meanMs: result.latency.mean,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        maxMs: result.latency.max,
      },
      source: { calls: report.statements, rows: Number.NaN, updates: 0, meanCallMs: 0 },
      redis: { ...redis, topLevelPerRequest: requests === 0 ? 0 : redis.topLevel / requests },
      cpuMs: report.cpuMs,
      cpuMsPerRequest: requests === 0 ? 0 : report.cpuMs / requests,
      peakRssMb: report.peakRssMb,
      processes: 1,
      layerStats: [report.layerStats],
      extra: {
        mutationChecks: MUTATION_CHECKS,
        mutationsNotVisible: invisible,
        warmupRequestsPerSecond: warmup.requests.total / warmup.duration,
        statementsPerRequest: requests === 0 ? 0 : report.statements / requests,
      },
    }
  } finally {
    worker.kill()
  }
}

export const endToEnd: Scenario = {
  name: NAME,
  title: 'End to end over HTTP (example API, DB_DELAY_MS=2, autocannon, 32 connections)',
  http: true,

  async run(context) {
    // Every server embeds PGlite, whose start (initdb + seed, in WASM) takes ~12 s: start all four at once,
    // then measure them one at a time while the others sit idle.
    const workers = VARIANTS.map(
      (variant) => new WorkerProcess(task(context, NAME, 'serve', variant, 'bench')),
    )
    const figures: Figures[] = []
    try {
      await Promise.all(workers.map((worker) => worker.ready))
      for (const [i, variant] of VARIANTS.entries()) {
        await context.admin.flushall()
        figures.push(await measureVariant(context, variant, workers[i]!))
      }
    } finally {
      for (const worker of workers) worker.kill()
    }
    return withRatioToNoCache(figures)
  },

  async worker(task, ipc) {
    const { startExampleServer } = await import('../lib/example-servers.js')
    const server = await startExampleServer(task.layer as 'no-cache', {
      dbDelayMs: DB_DELAY_MS,
      redisUrl: `redis://127.0.0.1:${task.redisPort}`,
    })
    ipc.ready({ url: server.url })
    await ipc.go()
    server.db.resetQueryCounts()
    resetSentCommands()
    const cpu = process.cpuUsage()
    await ipc.waitFor('stop')
    const counts = server.db.queryCounts()
    const report: ServeReport = {
      statements: counts.users + counts.posts + counts.comments,
      cpuMs: cpuMsSince(cpu),
      peakRssMb: peakRssMb(),
      sentCommands: sentCommands(),
      layerStats: server.cache ? { ...server.cache.stats().loaders, redis: server.cache.stats().redis } : {},
    }
    await server.close()
    return report as unknown as Record<string, unknown>
  },
}
