/**
 * `npm run bench`: measures loadcache and its peers on the workloads of issue 6, in one run, on this
 * machine, against a redis-server this run starts itself on a free loopback port (never one already
 * running). Prints the tables, and writes bench/results/<timestamp>.json (every figure), .md (the tables)
 * and .svg (the requests/s chart).
 *
 * Environment: see bench/lib/config.ts (BENCH_SECONDS, BENCH_HOT_SECONDS, BENCH_STAMPEDE_ROUNDS,
 * BENCH_ONLY, BENCH_LAYERS, BENCH_IDLE_LOAD, …) and bench/README.md.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { startRedisServer } from '../test/helpers/redis-server.js'
import { isLayerName, LAYERS, type LayerName } from './adapters/layer.js'
import { renderChart } from './lib/chart.js'
import { config } from './lib/config.js'
import { waitForIdle } from './lib/idle-wait.js'
import { checkTargets, type Outcomes, renderMarkdown } from './lib/report.js'
import type { ScenarioContext } from './lib/scenario.js'
import { repoRoot } from './lib/workers.js'
import { SCENARIOS } from './scenarios/index.js'

function log(message: string): void {
  const t = ((performance.now() - t0) / 1000).toFixed(1).padStart(6)
  process.stderr.write(`[bench ${t}s] ${message}\n`)
}

/**
 * The installed version of a package, looked up where a bench process resolves it: bench/'s own
 * node_modules (the peers, autocannon) first, then the repository root's (loadcache's dependencies, yoga,
 * graphql). `@envelop/response-cache` is the copy @graphql-yoga/plugin-response-cache runs on.
 */
function packageVersion(name: string): string {
  const places = [
    join(repoRoot, 'bench', 'node_modules', '@graphql-yoga', 'plugin-response-cache', 'node_modules', name),
    join(repoRoot, 'bench', 'node_modules', name),
    join(repoRoot, 'node_modules', name),
  ]
  for (const place of places) {
    try {
      return (JSON.parse(readFileSync(join(place, 'package.json'), 'utf8')) as { version: string }).version
    } catch {}
  }
  return 'not installed'
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim()
  } catch {
    return ''
  }
}

const t0 = performance.now()
const layers: LayerName[] = (config.layers ?? [...LAYERS]).filter((name): name is LayerName => {
  if (!isLayerName(name)) throw new Error(`BENCH_LAYERS: unknown layer ${name}; known: ${LAYERS.join(', ')}`)
  return true
})
// A smoke run leaves out the HTTP workloads unless asked for: their servers each embed PGlite, whose start
// alone takes ~40 s for four on 2 cores.
const scenarios = SCENARIOS.filter((s) =>
  config.only === undefined ? !(config.smoke && s.http) : config.only.includes(s.name),
)
if (config.only) {
  for (const name of config.only) {
    if (!SCENARIOS.some((s) => s.name === name)) {
      throw new Error(
        `BENCH_ONLY: unknown scenario ${name}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`,
      )
    }
  }
}

// Before anything of ours runs, so that our own processes do not count in the load we wait out.
const idleWait =
  config.idleLoad === undefined
    ? undefined
    : await waitForIdle(config.idleLoad, config.idleTimeoutMinutes, log)
const loadAtRunStart = os.loadavg()[0]!
const runStarted = performance.now()
const redis = await startRedisServer()
const admin = redis.client()
let interrupted = false
process.once('SIGINT', () => {
  interrupted = true
  log('interrupted; stopping redis-server')
  void redis.dispose().finally(() => process.exit(130))
})

try {
  const serverInfo = await admin.info('server')
  const redisVersion = /redis_version:(\S+)/.exec(serverInfo)?.[1] ?? 'unknown'
  const machine = {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    redis: redisVersion,
  }
  const versions = Object.fromEntries(
    [
      'bentocache',
      'cacheable',
      '@cacheable/memory',
      '@keyv/redis',
      'keyv',
      'dataloader',
      'lru-cache',
      'ioredis',
      'tsx',
      'autocannon',
      'graphql',
      'graphql-yoga',
      '@graphql-yoga/plugin-response-cache',
      '@envelop/response-cache',
      '@envelop/response-cache-redis',
      '@electric-sql/pglite',
    ].map((name) => [name, packageVersion(name)]),
  )
  const loadcacheRevision = {
    commit: git(['rev-parse', '--short', 'HEAD']),
    srcUncommittedChanges: git(['status', '--porcelain', '--', 'src']) !== '',
  }
  log(
    `redis-server ${redisVersion} on 127.0.0.1:${redis.port}; ${machine.nproc} × ${machine.cpuModel}; node ${process.version}`,
  )
  log(`scenarios: ${scenarios.map((s) => s.name).join(', ')}; layers: ${layers.join(', ')}`)

  const context: ScenarioContext = { config, redisPort: redis.port, admin, layers, log }
  const outcomes: Outcomes = {}
  const durations: Record<string, number> = {}
  /** 1-minute load average before and after each scenario: this machine may be shared, and this shows it. */
  const loadAverages: Record<string, { before: number; after: number }> = {}
  for (const scenario of scenarios) {
    if (interrupted) break
    const started = performance.now()
    const before = os.loadavg()[0]!
    log(`${scenario.name}: ${scenario.title} (load average ${before.toFixed(2)})`)
    outcomes[scenario.name] = await scenario.run(context)
    durations[scenario.name] = Math.round((performance.now() - started) / 100) / 10
    loadAverages[scenario.name] = { before, after: os.loadavg()[0]! }
    log(
      `${scenario.name}: done in ${durations[scenario.name]} s (load average ${os.loadavg()[0]!.toFixed(2)})`,
    )
  }

  const finishedAt = new Date()
  const stamp = finishedAt.toISOString().replace(/[:.]/g, '-')
  const titles = Object.fromEntries(SCENARIOS.map((s) => [s.name, s.title]))
  const markdown = renderMarkdown(outcomes, titles)
  const resultsDir = join(repoRoot, 'bench', 'results')
  mkdirSync(resultsDir, { recursive: true })
  // The run itself, without the idle wait (recorded apart).
  const totalSeconds = Math.round((performance.now() - runStarted) / 1000)
  // Every BENCH_* variable set, so that the command can be run again as it was.
  const settings = Object.entries(process.env)
    .filter(([name, value]) => name.startsWith('BENCH_') && value !== undefined && value !== '')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `${name}=${value}`)
  const command = [...settings, 'npm run bench'].join(' ')
  const subtitle = `${machine.nproc} × ${machine.cpuModel}, Node ${machine.node}, Redis ${machine.redis} on loopback; ${finishedAt.toISOString()}`
  writeFileSync(
    join(resultsDir, `${stamp}.json`),
    `${JSON.stringify(
      {
        finishedAt: finishedAt.toISOString(),
        totalSeconds,
        command,
        machine,
        versions,
        loadcache: loadcacheRevision,
        config,
        durations,
        idleWait: idleWait ?? null,
        /** 1-minute load average when the run started (after any idle wait) and when it ended. */
        runLoadAverage: { before: loadAtRunStart, after: os.loadavg()[0]! },
        loadAverages,
        targets: checkTargets(outcomes),
        outcomes,
      },
      null,
      2,
    )}\n`,
  )
  writeFileSync(join(resultsDir, `${stamp}.md`), `${markdown}\n`)
  writeFileSync(join(resultsDir, `${stamp}.svg`), renderChart([{ label: stamp, outcomes }], subtitle))
  process.stdout.write(`\n${markdown}\n`)
  log(`wrote bench/results/${stamp}.{json,md,svg}; total ${totalSeconds} s`)
} finally {
  await redis.dispose()
}
