/**
 * Response tier, cold stampede: BENCH_RT_STAMPEDE_INSTANCES server processes of one kind (sharing one
 * Redis; each with its own PGlite, seeded alike), BENCH_RT_STAMPEDE_REQUESTS identical concurrent
 * requests to each, all sent at once, for a response no instance has: how many times was the query
 * executed in total, and how many SQL statements did that take? loadcache's response tier takes one
 * fleet-wide lock per response key: one execution. A response cache without one executes once per
 * request that arrives before the first store.
 *
 * Each round asks for an operation no instance has seen (the feed query under a new operation name, so
 * a new response key everywhere). Round 1 is cold everywhere: fresh processes, empty Redis. In later
 * rounds only the response is cold: loadcache's field and entity entries from round 1 are warm (in L1
 * and Redis), so it executes without SQL; the peers cache nothing below the response.
 */
import { postGraphql } from '../lib/graphql-http.js'
import { summarize } from '../lib/measure.js'
import { commandFigures, parseCommandStats } from '../lib/redis-commands.js'
import { responseTierVariants } from '../lib/response-tier-variants.js'
import type { Figures, Scenario, ScenarioContext } from '../lib/scenario.js'
import {
  countersBetween,
  type ServerCounters,
  type ServerHandle,
  serveVariant,
  startServers,
} from '../lib/server-worker.js'

const NAME = 'response-stampede'

function feedNamed(round: number): string {
  return `query FeedRound${round} { posts(first: 50) { title author { name } comments { author { name } } } }`
}

async function round(
  context: ScenarioContext,
  variant: string,
  instances: ServerHandle[],
  index: number,
): Promise<Figures> {
  const query = feedNamed(index)
  const before = await Promise.all(instances.map((instance) => instance.counters()))
  await context.admin.config('RESETSTAT')
  const latencies: number[] = []
  const bodies = new Set<string>()
  const statuses = new Map<string, number>()
  let errors = 0
  let firstError: string | undefined
  const started = performance.now()
  // Every request is sent before any answer can arrive: one tick, M × N fetches.
  await Promise.all(
    instances.flatMap((instance) =>
      Array.from({ length: context.config.rtStampedeRequests }, async () => {
        const t0 = performance.now()
        try {
          const response = await postGraphql(instance.url, query)
          latencies.push(performance.now() - t0)
          bodies.add(response.text)
          const status = response.headers.get('cache-status') ?? 'none'
          statuses.set(status, (statuses.get(status) ?? 0) + 1)
        } catch (error) {
          errors++
          firstError ??= error instanceof Error ? error.message : String(error)
        }
      }),
    ),
  )
  const elapsedMs = performance.now() - started
  const after = await Promise.all(instances.map((instance) => instance.counters()))
  const used: ServerCounters[] = after.map((counters, i) => countersBetween(before[i]!, counters))
  const total = (pick: (c: ServerCounters) => number) => used.reduce((sum, c) => sum + pick(c), 0)
  const sent: Record<string, number> = {}
  for (const counters of used) {
    for (const [name, count] of Object.entries(counters.sentCommands)) sent[name] = (sent[name] ?? 0) + count
  }
  const redis = commandFigures(parseCommandStats(await context.admin.info('commandstats')), sent)
  const requests = instances.length * context.config.rtStampedeRequests
  const executions = total((c) => c.executions)
  context.log(
    `${NAME} ${variant} round ${index}: ${executions} executions, ${total((c) => c.statements)} SQL statements for ${requests} requests`,
  )
  return {
    scenario: NAME,
    layer: variant,
    round: index,
    requests,
    errors,
    firstError,
    elapsedMs,
    requestsPerSecond: requests / (elapsedMs / 1000),
    latency: summarize(latencies),
    source: { calls: total((c) => c.statements), rows: Number.NaN, updates: 0, meanCallMs: 0 },
    redis: { ...redis, topLevelPerRequest: redis.topLevel / requests },
    cpuMs: total((c) => c.cpuMs),
    cpuMsPerRequest: total((c) => c.cpuMs) / requests,
    peakRssMb: Math.max(...used.map((c) => c.peakRssMb)),
    processes: instances.length,
    extra: {
      executions,
      executionsPerInstance: used.map((c) => c.executions),
      statementsPerInstance: used.map((c) => c.statements),
      /** loadcache: Redis failures (timeouts included) each instance's cache counted during the round. */
      cacheRedisErrorsPerInstance: used.map((c) => c.cacheRedisErrors),
      instances: instances.length,
      requestsPerInstance: context.config.rtStampedeRequests,
      /** Distinct response bodies among the successful responses: 1 when every request got the same. */
      distinctBodies: bodies.size,
      cacheStatus: Object.fromEntries(statuses),
    },
  }
}

export const responseStampede: Scenario = {
  name: NAME,
  title: 'Response tier, cold stampede: N instances × M identical concurrent cold requests',
  http: true,

  async run(context) {
    const figures: Figures[] = []
    for (const variant of responseTierVariants(context.config)) {
      await context.admin.flushall()
      const instances = await startServers(
        context,
        NAME,
        Array.from({ length: context.config.rtStampedeInstances }, (_, index) => ({ variant, index })),
      )
      try {
        for (let i = 1; i <= context.config.rtStampedeRounds; i++) {
          figures.push(await round(context, variant, instances, i))
        }
      } finally {
        for (const instance of instances) instance.worker.kill()
      }
    }
    return figures
  },

  async worker(task, ipc) {
    return (await serveVariant(task, ipc)) as unknown as Record<string, unknown>
  },
}
