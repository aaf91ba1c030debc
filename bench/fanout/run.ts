/**
 * The fan-out benchmark (issue 14): 1, 2, 4, 8 and 16 instances on one Redis and on a 3-master Cluster,
 * today's design and the current one back to back, warm, warm with misses, and with writes; Redis output
 * bytes, bus messages and bytes, Redis CPU per 1,000 requests, and invalidation latency. Then the model at
 * 100 and 1,000 instances (model.ts).
 *
 *   npx tsx bench/fanout/run.ts [--quick] [--old <path of today's src/index.ts>]
 *     [--instances 1,2,4] [--topologies standalone,cluster] [--rate <req/s per instance>]
 *
 * It starts its own redis-server and Redis Cluster on loopback (the test suite's helpers) and stops them by
 * their pids; results go to bench/fanout/results/<timestamp>.{json,md}. See README.md beside it.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { type RedisCluster, startRedisCluster } from '../../test/helpers/redis-cluster.js'
import { type RedisServer, startRedisServer } from '../../test/helpers/redis-server.js'
import { type Calibration, calibrate, type PubSubMode } from './lib/calibrate.js'
import { type FanoutConfig, fanoutConfig, type TopologyName } from './lib/config.js'
import { NEW_DESIGN_COMMIT, prepareOldTree } from './lib/design.js'
import {
  type LatencyCell,
  measureLatency,
  measureWorkload,
  settle,
  type WorkloadCell,
} from './lib/measure.js'
import { type Instance, repoRoot, startInstances } from './lib/pool.js'
import type { Design, Topology } from './lib/protocol.js'
import { BusTap, delta, RedisNodes } from './lib/redis-stats.js'
import { renderReport } from './lib/report.js'

export interface FanoutResults {
  readonly startedAt: string
  readonly durationSeconds: number
  readonly machine: Record<string, string | number>
  readonly designs: Record<Design, { readonly commit: string; readonly entry: string; readonly note: string }>
  readonly config: FanoutConfig
  /** Redis with no client but the bench's own, per topology: its background CPU and output. */
  readonly idle: Record<string, { readonly cpuMsPerSecond: number; readonly outputBytesPerSecond: number }>
  readonly calibrations: Calibration[]
  readonly workloads: WorkloadCell[]
  readonly latency: LatencyCell[]
}

const fanoutDir = dirname(fileURLToPath(import.meta.url))

function log(message: string): void {
  process.stderr.write(`[fanout] ${message}\n`)
}

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim()
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      old: { type: 'string' },
      instances: { type: 'string' },
      topologies: { type: 'string' },
      rate: { type: 'string' },
    },
  })
  const config = fanoutConfig(values.quick === true, {
    ...(values.instances ? { instances: values.instances.split(',').map(Number) } : {}),
    ...(values.topologies ? { topologies: values.topologies.split(',') as TopologyName[] } : {}),
    ...(values.rate ? { rate: Number(values.rate) } : {}),
  })
  const started = Date.now()
  const loadAverageAtStart = loadavg()[0]!
  // The commit measured is the one checked out when the run starts (src/ is loaded then).
  const newCommit = `${git('rev-parse', 'HEAD')}${git('status', '--porcelain', '--', 'src') ? ' (src/ modified)' : ''}`
  const old = values.old
    ? { sha: 'given with --old', entry: resolve(values.old), mismatches: [] }
    : prepareOldTree(repoRoot)
  if (old.mismatches.length > 0)
    log(`today's design pins other dependency versions than installed: ${old.mismatches.join('; ')}`)
  const entries: Record<Design, string> = { old: old.entry, new: join(repoRoot, 'src', 'index.ts') }
  const dbRoot = mkdtempSync(join(tmpdir(), 'loadcache-fanout-db-'))
  const maxInstances = Math.max(...config.instances)

  let server: RedisServer | undefined
  let cluster: RedisCluster | undefined
  let fleet: Instance[] = []
  const cleanup = async () => {
    await Promise.all(fleet.map((instance) => instance.stop()))
    await server?.dispose()
    await cluster?.dispose()
    rmSync(dbRoot, { recursive: true, force: true })
  }
  process.once('SIGINT', () => {
    void cleanup().finally(() => process.exit(130))
  })

  try {
    log(`starting Redis (${config.topologies.join(', ')}) and ${maxInstances} instances`)
    ;[server, cluster, fleet] = await Promise.all([
      config.topologies.includes('standalone') ? startRedisServer() : undefined,
      config.topologies.includes('cluster') ? startRedisCluster({ masters: 3 }) : undefined,
      startInstances(maxInstances),
    ])
    const workloads: WorkloadCell[] = []
    const latency: LatencyCell[] = []
    const idle: FanoutResults['idle'] = {}
    const calibrations: Calibration[] = []
    let group = 0
    for (const topologyName of config.topologies) {
      const topology: Topology =
        topologyName === 'cluster'
          ? { kind: 'cluster', ports: cluster!.ports }
          : { kind: 'standalone', port: server!.port }
      const nodes = new RedisNodes(
        topology.kind === 'cluster' ? topology.ports : [topology.port],
        topology.kind === 'cluster',
      )
      try {
        const before = await nodes.snapshot()
        await new Promise((resolve) => setTimeout(resolve, 2000))
        const quiet = delta(before, await nodes.snapshot())
        idle[topologyName] = {
          cpuMsPerSecond: quiet.cpuMs / quiet.seconds,
          outputBytesPerSecond: quiet.outputBytes / quiet.seconds,
        }
        const modes: PubSubMode[] = topology.kind === 'cluster' ? ['classic', 'sharded'] : ['classic']
        for (const mode of modes) {
          for (const subscribers of config.calibrationSubscribers) {
            log(`${topologyName}: ${mode} pub/sub to ${subscribers} subscribers`)
            calibrations.push(
              await calibrate(nodes, {
                topology: topologyName,
                mode,
                subscribers,
                messages: config.calibrationMessages,
                payloadBytes: config.calibrationPayloadBytes,
                idleCpuMsPerSecond: idle[topologyName].cpuMsPerSecond,
              }),
            )
          }
        }
        for (const count of config.instances) {
          // Interleaved: which design goes first alternates from one instance count to the next.
          const order: Design[] = group % 2 === 0 ? ['old', 'new'] : ['new', 'old']
          for (const design of order) {
            const label = `${topologyName}-${design}-${count}`
            log(`${label}: load average ${loadavg()[0]!.toFixed(2)}`)
            const result = await measureGroup(config, fleet.slice(0, count), nodes, topology, {
              design,
              entry: entries[design],
              topologyName,
              label,
              dbDir: join(dbRoot, label),
              seed: config.seed + count,
            })
            workloads.push(...result.workloads)
            if (result.latency) latency.push(result.latency)
          }
          group++
        }
      } finally {
        nodes.close()
      }
    }
    const results: FanoutResults = {
      startedAt: new Date(started).toISOString(),
      durationSeconds: Math.round((Date.now() - started) / 1000),
      machine: { ...machine(server, cluster), loadAverageAtStart },
      designs: {
        old: {
          commit: old.sha,
          entry: old.entry,
          note: `today's design: the parent of ${NEW_DESIGN_COMMIT}, run from its own source`,
        },
        new: {
          commit: newCommit,
          entry: entries.new,
          note: 'the current design (this checkout)',
        },
      },
      config,
      idle,
      calibrations,
      workloads,
      latency,
    }
    const stamp = results.startedAt.replace(/[:.]/g, '-')
    const outDir = join(fanoutDir, 'results')
    mkdirSync(outDir, { recursive: true })
    const jsonPath = join(outDir, `${stamp}.json`)
    // Three decimals are more than the measurements can tell, and keep the file small.
    const rounded = (_: string, value: unknown) =>
      typeof value === 'number' && !Number.isInteger(value) ? Math.round(value * 1000) / 1000 : value
    writeFileSync(jsonPath, `${JSON.stringify(results, rounded)}\n`)
    formatJson(jsonPath)
    const report = renderReport(results)
    writeFileSync(join(outDir, `${stamp}.md`), report)
    process.stdout.write(report)
    log(`wrote results/${stamp}.json and .md in ${results.durationSeconds} s`)
  } finally {
    await cleanup()
  }
}

/** One design at one instance count on one topology: the three workloads and the latency rounds. */
async function measureGroup(
  config: FanoutConfig,
  fleet: readonly Instance[],
  nodes: RedisNodes,
  topology: Topology,
  group: {
    design: Design
    entry: string
    topologyName: string
    label: string
    dbDir: string
    seed: number
  },
): Promise<{ workloads: WorkloadCell[]; latency: LatencyCell | undefined }> {
  const { design } = group
  const channel = `${config.namespace}:bus`
  // The new design subscribes with SSUBSCRIBE on a Cluster; today's design uses classic pub/sub everywhere.
  const sharded = topology.kind === 'cluster' && design === 'new'
  mkdirSync(group.dbDir, { recursive: true })
  const context = { topology: group.topologyName, design, channel }
  const openAll = (shape: FanoutConfig['warm']) =>
    Promise.all(
      fleet.map((instance) =>
        instance.call({
          op: 'open',
          design,
          entry: group.entry,
          topology,
          namespace: config.namespace,
          shape,
          dbDir: group.dbDir,
        }),
      ),
    )
  const closeAll = () => Promise.all(fleet.map((instance) => instance.call({ op: 'close' })))
  const spec = (
    workload: WorkloadCell['workload'],
    seconds: number,
    writeFraction: number,
    seed: number,
  ) => ({
    workload,
    seconds,
    rate: config.rate,
    loadsPerRequest: config.loadsPerRequest,
    writeFraction,
    seed,
  })
  const workloads: WorkloadCell[] = []
  let latency: LatencyCell | undefined
  await nodes.flush()
  const tap = await BusTap.open(await nodes.slotOwner(channel), channel, sharded)
  try {
    // (a) warm: one instance fills Redis, every other one copies it into its L1, then every load hits L1.
    await openAll(config.warm)
    await fleet[0]!.call({ op: 'preload', count: config.warm.keys })
    await Promise.all(
      fleet.slice(1).map((instance) => instance.call({ op: 'preload', count: config.warm.keys })),
    )
    workloads.push(
      await measureWorkload(fleet, nodes, tap, context, spec('warm', config.warmSeconds, 0, group.seed)),
    )
    await closeAll()
    await nodes.flush()

    // (b) warm with misses, after settling; (c) the same with writes; then the latency rounds.
    await openAll(config.misses)
    await settle(fleet, spec('misses', config.settleSeconds, 0, group.seed + 1))
    workloads.push(
      await measureWorkload(
        fleet,
        nodes,
        tap,
        context,
        spec('misses', config.missesSeconds, 0, group.seed + 2),
      ),
    )
    workloads.push(
      await measureWorkload(
        fleet,
        nodes,
        tap,
        context,
        spec('writes', config.writesSeconds, config.writeFraction, group.seed + 3),
      ),
    )
    if (fleet.length > 1) {
      latency = await measureLatency(
        fleet,
        { ...context, label: group.label },
        {
          rounds: config.latencyRounds,
          pollMs: config.pollMs,
          background: { ...spec('misses', 0, 0, group.seed + 4), rate: config.latencyBackgroundRate },
        },
      )
    }
    await closeAll()
  } finally {
    tap.close()
  }
  return { workloads, latency }
}

/** Lays the JSON out as the repository's formatter (Biome) wants it, so `biome check` stays clean. */
function formatJson(path: string): void {
  try {
    execFileSync(join(repoRoot, 'node_modules', '.bin', 'biome'), ['format', '--write', path], {
      stdio: 'ignore',
    })
  } catch {
    log(`could not format ${path} with Biome; run \`npx biome format --write\` on it before committing`)
  }
}

function machine(
  server: RedisServer | undefined,
  cluster: RedisCluster | undefined,
): Record<string, string | number> {
  const cpu = cpus()
  let os = ''
  try {
    os = execFileSync('sh', ['-c', '. /etc/os-release && echo "$PRETTY_NAME"'], { encoding: 'utf8' }).trim()
  } catch {}
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? '',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os,
    kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
    node: process.version,
    redis: execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim(),
    standalonePort: server?.port ?? 0,
    clusterPorts: cluster?.ports.join(',') ?? '',
  }
}

await main()
