/**
 * Cold fills on a 3-master Redis Cluster, this checkout against an earlier commit (default: the parent of
 * efc488a, whose fills ensured their tag versions after the fetch instead of during it): the time one
 * request takes to load ids that nothing holds (read-and-lock with the clock, a 2 ms fetch, the tag
 * versions, the write), and the scripts the masters ran for it. Both run in this process against the same
 * Cluster, alternating which goes first from one round to the next.
 *
 *   npx tsx bench/fanout/fill-latency.ts [--before efc488a^] [--rounds 300] [--ids 1] [--hogs 0]
 *
 * `--hogs N` runs N busy-looping processes beside it, for a machine whose cores are taken (as the fan-out
 * benchmark's 16 instances take them): every sequential round trip then waits for a core. It starts its
 * own Cluster on loopback (the test suite's helper) and stops it and the hogs by their pids. Prints a
 * Markdown table on stdout.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { startRedisCluster } from '../../test/helpers/redis-cluster.js'
import type { CacheLike, LibraryLike } from './lib/design.js'
import { prepareOldTree } from './lib/design.js'
import { scriptCalls } from './lib/redis-stats.js'

const { values } = parseArgs({
  options: {
    before: { type: 'string', default: 'efc488a^' },
    rounds: { type: 'string', default: '300' },
    ids: { type: 'string', default: '1' },
    hogs: { type: 'string', default: '0' },
  },
})
const rounds = Number(values.rounds)
const idsPerLoad = Number(values.ids)
const FETCH_MS = 2

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const before = prepareOldTree(repoRoot, values.before)
const designs = [
  { name: `before (${before.sha.slice(0, 7)})`, entry: before.entry },
  { name: 'this checkout', entry: join(repoRoot, 'src', 'index.ts') },
]

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

const hogs: ChildProcess[] = []
for (let i = 0; i < Number(values.hogs); i++) {
  hogs.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }))
}
const cluster = await startRedisCluster({ masters: 3 })
try {
  const loadAverageAtStart = loadavg()[0]!
  const runs = await Promise.all(
    designs.map(async (design, d) => {
      const library = (await import(pathToFileURL(design.entry).href)) as LibraryLike
      const client = cluster.client()
      const cache = library.createCache({ namespace: `fill${d}`, redis: client }) as unknown as CacheLike & {
        ready(): Promise<boolean>
      }
      await cache.ready()
      const user = library.defineLoader({
        name: 'user',
        entity: 'User',
        fetch: async (ids: readonly string[]) => {
          await new Promise((resolve) => setTimeout(resolve, FETCH_MS))
          return ids.map((id) => ({ id, name: `user ${id}` }))
        },
      })
      return { design, cache, user, client, times: [] as number[] }
    }),
  )
  const masters = (
    runs[0]!.client as unknown as { nodes(role: string): { info(s: string): Promise<string> }[] }
  ).nodes('master')
  const scripts = runs.map(() => 0)
  let next = 1
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? runs : [...runs].reverse()
    for (const run of order) {
      const ids = Array.from({ length: idsPerLoad }, () => String(next++))
      const scriptsBefore = await scriptCalls(masters)
      const started = performance.now()
      const loaders = run.cache.loaders({ user: run.user })
      const got = await Promise.all(ids.map((id) => loaders.user!.load(id)))
      run.times.push(performance.now() - started)
      if (got.some((value) => value === null)) throw new Error(`${run.design.name}: a load found nothing`)
      scripts[runs.indexOf(run)]! += (await scriptCalls(masters)) - scriptsBefore
    }
  }
  const lines = [
    `Cold fills on a 3-master Redis Cluster: ${rounds} rounds, ${idsPerLoad} id(s) per load, a ${FETCH_MS} ms fetch, ${values.hogs} busy-looping process(es) beside it; ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, load average ${loadAverageAtStart.toFixed(1)} at the start and ${loadavg()[0]!.toFixed(1)} at the end.`,
    '',
    '| design | load p50 ms | load p90 ms | load p99 ms | scripts per load |',
    '| --- | ---: | ---: | ---: | ---: |',
  ]
  runs.forEach((run, d) => {
    const sorted = [...run.times].sort((a, b) => a - b)
    lines.push(
      `| ${run.design.name} | ${percentile(sorted, 50).toFixed(2)} | ${percentile(sorted, 90).toFixed(2)} | ${percentile(sorted, 99).toFixed(2)} | ${(scripts[d]! / rounds).toFixed(1)} |`,
    )
  })
  process.stdout.write(`${lines.join('\n')}\n`)
  for (const run of runs) await run.cache.close()
} finally {
  for (const hog of hogs) hog.kill()
  await cluster.dispose()
}
