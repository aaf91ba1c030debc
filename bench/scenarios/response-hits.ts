/**
 * Response tier, hits: the feed query (lib/graphql-http.ts, 66 KB, ~4,000 objects) served over HTTP from a
 * warm cache by four servers of the same example API (lib/example-servers.ts): loadcache's response tier
 * with Redis (the example API as it ships), @graphql-yoga/plugin-response-cache in memory and with its
 * Redis store, and no cache.
 *
 * The four start together (PGlite's start takes ~12 s of CPU each) and are measured one at a time while
 * the others sit idle. Per server: empty Redis; one request to store the response; a 2 s warm-up
 * (autocannon, not measured); then autocannon for BENCH_RT_SECONDS with BENCH_RT_CONNECTIONS connections.
 * Server CPU, SQL statements, executions and Redis commands are the server process's own (its counters
 * before and after); Redis bytes read are Redis's `total_net_output_bytes` over the measurement.
 */
import { createHash } from 'node:crypto'
import { FEED_QUERY, loadWith, postGraphql, redisNetBytes } from '../lib/graphql-http.js'
import { commandFigures, parseCommandStats } from '../lib/redis-commands.js'
import { responseTierVariants } from '../lib/response-tier-variants.js'
import { type Figures, type Scenario, type ScenarioContext, withRatioToNoCache } from '../lib/scenario.js'
import {
  countersBetween,
  countersWhenIdle,
  measureEachServer,
  type ServerHandle,
  serveVariant,
} from '../lib/server-worker.js'

const NAME = 'response-hits'
const WARMUP_SECONDS = 2

async function measure(context: ScenarioContext, server: ServerHandle): Promise<Figures> {
  await context.admin.flushall()
  const first = await postGraphql(server.url, FEED_QUERY)
  // The second read is the first that can be a hit; its Cache-Status (loadcache) says whether it was.
  const second = await postGraphql(server.url, FEED_QUERY)
  await loadWith(server.url, FEED_QUERY, {
    seconds: WARMUP_SECONDS,
    connections: context.config.rtConnections,
  })

  const before = await countersWhenIdle(server)
  // RESETSTAT also zeroes the byte counters: read them after it.
  await context.admin.config('RESETSTAT')
  const bytesBefore = await redisNetBytes(context.admin)
  const result = await loadWith(server.url, FEED_QUERY, {
    seconds: context.config.rtSeconds,
    connections: context.config.rtConnections,
  })
  const used = countersBetween(before, await countersWhenIdle(server))
  const bytesAfter = await redisNetBytes(context.admin)
  const redis = commandFigures(parseCommandStats(await context.admin.info('commandstats')), used.sentCommands)

  const requests = result.requests.total
  // Server-side figures are per response the server finished: it also finished the requests autocannon
  // abandoned when it stopped (at most one per connection), and spent their CPU.
  const perRequest = (value: number) => (used.responses === 0 ? 0 : value / used.responses)
  const errors = result.errors + result.timeouts + result.non2xx
  context.log(
    `${NAME} ${server.variant}: ${Math.round(requests / result.duration)} req/s, p99 ${result.latency.p99} ms, ${perRequest(used.cpuMs).toFixed(3)} ms CPU/req`,
  )
  return {
    scenario: NAME,
    layer: server.variant,
    requests,
    errors,
    firstError:
      errors > 0
        ? `autocannon: ${result.errors} errors (${result.timeouts} timeouts), ${result.non2xx} non-2xx responses`
        : undefined,
    elapsedMs: result.duration * 1000,
    requestsPerSecond: requests / result.duration,
    latency: {
      count: requests,
      meanMs: result.latency.mean,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      maxMs: result.latency.max,
    },
    source: { calls: used.statements, rows: Number.NaN, updates: 0, meanCallMs: 0 },
    redis: { ...redis, topLevelPerRequest: perRequest(redis.topLevel) },
    cpuMs: used.cpuMs,
    cpuMsPerRequest: perRequest(used.cpuMs),
    peakRssMb: used.peakRssMb,
    processes: 1,
    extra: {
      statementsPerRequest: perRequest(used.statements),
      executionsPerRequest: perRequest(used.executions),
      bodyBytes: Buffer.byteLength(first.text),
      /** Every server must send the same body; the first 12 characters of its SHA-256 show it. */
      bodySha256: createHash('sha256').update(first.text).digest('hex').slice(0, 12),
      wireBytesPerResponse: requests === 0 ? 0 : result.throughput.total / requests,
      serverResponses: used.responses,
      cacheRedisErrors: used.cacheRedisErrors,
      redisBytesReadPerRequest: perRequest(bytesAfter.output - bytesBefore.output),
      redisBytesWrittenPerRequest: perRequest(bytesAfter.input - bytesBefore.input),
      secondReadCacheStatus: second.headers.get('cache-status') ?? undefined,
      connections: context.config.rtConnections,
    },
  }
}

export const responseHits: Scenario = {
  name: NAME,
  title: 'Response tier, hits: the feed query from a warm cache over HTTP (autocannon)',
  http: true,

  async run(context) {
    return withRatioToNoCache(
      await measureEachServer(context, NAME, responseTierVariants(context.config), (server) =>
        measure(context, server),
      ),
    )
  },

  async worker(task, ipc) {
    return (await serveVariant(task, ipc)) as unknown as Record<string, unknown>
  },
}
