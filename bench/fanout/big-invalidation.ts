/**
 * How long one huge invalidation takes on a 3-master Redis Cluster, and how many scripts it sends: the
 * writer's `invalidate()` of N ids (each id moves its entry, its key tag and that tag's bucket), timed
 * until it resolves (applied and announced), and the EVALSHA/EVAL calls the masters counted.
 *
 *   npx tsx bench/fanout/big-invalidation.ts [--ids 100000] [--runs 3]
 *
 * It starts its own Cluster on loopback (the test suite's helper) and stops it by its pids. Prints one line
 * per run and a JSON summary on stdout.
 */
import { parseArgs } from 'node:util'
import { createCache, defineLoader } from '../../src/index.js'
import { startRedisCluster } from '../../test/helpers/redis-cluster.js'
import { scriptCalls } from './lib/redis-stats.js'

const { values } = parseArgs({
  options: { ids: { type: 'string', default: '100000' }, runs: { type: 'string', default: '3' } },
})
const idCount = Number(values.ids)
const runs = Number(values.runs)

const cluster = await startRedisCluster({ masters: 3 })
try {
  const item = defineLoader({ name: 'item', fetch: (ids: readonly string[]) => ids.map((id) => ({ id })) })
  const ids = Array.from({ length: idCount }, (_, i) => String(i + 1))
  const results: { seconds: number; scripts: number }[] = []
  for (let run = 0; run < runs; run++) {
    const client = cluster.client()
    const cache = createCache({ namespace: `big${run}`, redis: client, redisTimeoutMs: 10_000 })
    await cache.ready()
    cache.loaders({ item })
    const masters = (
      client as unknown as { nodes(role: string): { info(s: string): Promise<string> }[] }
    ).nodes('master')
    const before = await scriptCalls(masters)
    const started = performance.now()
    const applied = await cache.invalidate(item, ids)
    const seconds = (performance.now() - started) / 1000
    const scripts = (await scriptCalls(masters)) - before
    if (!applied) throw new Error('the invalidation was queued: Redis did not take it')
    results.push({ seconds, scripts })
    process.stderr.write(`run ${run + 1}: ${idCount} ids in ${seconds.toFixed(2)} s, ${scripts} scripts\n`)
    await cache.close()
  }
  process.stdout.write(`${JSON.stringify({ ids: idCount, results }, null, 2)}\n`)
} finally {
  await cluster.dispose()
}
