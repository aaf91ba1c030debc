/**
 * One instance of the fleet (spawned by run.ts as `node --import tsx bench/fanout/worker.ts`, with Node
 * IPC). Modelled on test/helpers/worker.ts: it runs one cache at a time, of either design, against the
 * standalone Redis or the Cluster the orchestrator started, and answers commands (lib/protocol.ts).
 *
 * The source of truth is simulated: a fetch waits 2 ms and returns ~250-byte rows. Item rows are always at
 * version 0 (the workloads measure traffic, not freshness); probe rows (the invalidation-latency rounds)
 * read their version from a file per id in a directory every instance shares, so a write by one instance
 * is what the others' fetches return.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { Cluster, Redis } from 'ioredis'
import { answerParent } from '../../test/helpers/child-process.js'
import { prng, Zipf } from '../lib/zipf.js'
import type { CacheLike, EvictEventLike, LibraryLike } from './lib/design.js'
import {
  type Command,
  type Counters,
  epochNow,
  type ProbeTimes,
  type RunResult,
  sumCounters,
  type WorkloadShape,
  type WriteTimes,
} from './lib/protocol.js'

const FETCH_MS = 2
const BIO = 'Writes about caching, batching and the N+1 problem. '.repeat(3)
/** Probes outlive every run: only invalidations make them change. */
const PROBE_TTL_SECONDS = 3600

interface Row {
  id: string
  version: number
  name: string
  email: string
  bio: string
}

function row(id: string, version: number): Row {
  return { id, version, name: `User ${id}`, email: `user${id}@example.com`, bio: BIO }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

interface Open {
  readonly cache: CacheLike
  readonly client: Redis | Cluster
  readonly item: unknown
  readonly probe: unknown
  readonly shape: WorkloadShape
  readonly dbDir: string
  readonly warnings: string[]
}

/**
 * Event-loop delay, sampled every LOOP_MS: how CPU-starved this process is. The histogram records the
 * time between samples, so LOOP_MS is taken off what is reported.
 */
const LOOP_MS = 5
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_MS })
loopDelay.enable()

let open: Open | undefined
/** Set by `stopRun`: the running `run` starts no more requests. */
let stopRequested = false
const libraries = new Map<string, LibraryLike>()

interface Watch {
  readonly times: {
    heardAt: number | null
    freshAt: number | null
    pollFreshAt: number | null
    stale: number
  }
  readonly done: Promise<void>
  readonly stop: () => void
}

/** The armed probe: what this instance watches for in the invalidation-latency rounds. */
let armed: Watch | undefined

function probeVersion(dbDir: string, id: string): number {
  try {
    return Number(readFileSync(join(dbDir, id), 'utf8'))
  } catch {
    return 0
  }
}

async function openCache(command: Extract<Command, { op: 'open' }>): Promise<object> {
  if (open !== undefined) throw new Error('a cache is already open here')
  let library = libraries.get(command.entry)
  if (library === undefined) {
    library = (await import(pathToFileURL(command.entry).href)) as LibraryLike
    libraries.set(command.entry, library)
  }
  const { topology, shape, dbDir } = command
  const client =
    topology.kind === 'cluster'
      ? new Cluster(
          topology.ports.map((port) => ({ host: '127.0.0.1', port })),
          { redisOptions: { maxRetriesPerRequest: 1 } },
        )
      : new Redis({ host: '127.0.0.1', port: topology.port, maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  const warnings: string[] = []
  const cache = library.createCache({
    namespace: command.namespace,
    redis: client,
    ttl: shape.ttlSeconds,
    memory: { max: shape.l1Max },
    // 16 instances and Redis share 2 cores: a slow moment must not be mistaken for a Redis fault.
    redisTimeoutMs: 2000,
    logger: {
      warn: (message: string) => warnings.push(message),
      error: (message: string) => warnings.push(message),
    },
  })
  const item = library.defineLoader({
    name: 'item',
    ttl: shape.ttlSeconds,
    fetch: async (ids) => {
      await sleep(FETCH_MS)
      return ids.map((id) => row(id, 0))
    },
    // Tagged `Item:<id>`, as an entity loader is (and, on a Cluster, its tag versions are read during the
    // fetch by the current design).
    entity: 'Item',
  })
  const probe = library.defineLoader({
    name: 'probe',
    ttl: PROBE_TTL_SECONDS,
    fetch: async (ids) => {
      await sleep(FETCH_MS)
      return ids.map((id) => row(id, probeVersion(dbDir, id)))
    },
    entity: 'Probe',
  })
  const up = new Promise<void>((resolve) => {
    cache.on('bus', (state) => {
      if (state === 'up') resolve()
    })
  })
  await Promise.race([
    up,
    sleep(20_000).then(() => {
      throw new Error('the bus did not come up within 20 s')
    }),
  ])
  open = { cache, client, item, probe, shape, dbDir, warnings }
  return {}
}

function counters(cache: CacheLike): Counters {
  return sumCounters(Object.values(cache.stats().loaders))
}

function minus(a: Counters, b: Counters): Counters {
  const out = { ...a }
  for (const name of Object.keys(out) as (keyof Counters)[]) out[name] = a[name] - b[name]
  return out
}

function current(): Open {
  if (open === undefined) throw new Error('no cache is open')
  return open
}

async function preload(count: number): Promise<object> {
  const { cache, item } = current()
  const chunk = 500
  for (let start = 1; start <= count; start += chunk) {
    const loader = cache.loaders({ item }).item!
    const ids = Array.from({ length: Math.min(chunk, count - start + 1) }, (_, i) => String(start + i))
    await Promise.all(ids.map((id) => loader.load(id)))
  }
  return {}
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

async function run(command: Extract<Command, { op: 'run' }>): Promise<RunResult> {
  const { cache, item, shape, warnings } = current()
  const random = prng(command.seed)
  const zipf = new Zipf(shape.keys, shape.zipfS)
  const interval = 1000 / command.rate
  // Each instance starts at its own phase within the first interval, so the fleet's requests interleave.
  let next = command.startAt + random() * interval
  const end = command.startAt + command.durationMs
  const latencies: number[] = []
  const inFlight = new Set<Promise<void>>()
  let requests = 0
  let loads = 0
  let wrong = 0
  let writes = 0
  const warningsBefore = warnings.length
  const before = counters(cache)
  const cpuBefore = process.cpuUsage()
  loopDelay.reset()
  const request = async (scheduled: number, ids: string[], write: string | undefined) => {
    const loader = cache.loaders({ item }).item!
    const rows = await Promise.all(ids.map((id) => loader.load(id).catch((error: unknown) => error)))
    rows.forEach((value, i) => {
      if (value instanceof Error || (value as Row | null)?.id !== ids[i]) wrong++
    })
    if (write !== undefined) {
      // A mutation of one entity: evict it by id and by its entity tag, as a resolver would.
      await Promise.all([cache.invalidate(item, [write]), cache.invalidateTags([`Item:${write}`])])
      writes++
    }
    requests++
    loads += ids.length
    latencies.push(epochNow() - scheduled)
  }
  stopRequested = false
  while (next < end && !stopRequested) {
    const wait = next - epochNow()
    if (wait > 0) await sleep(wait)
    const ids = Array.from({ length: command.loadsPerRequest }, () => String(zipf.sample(random)))
    const write = random() < command.writeFraction ? String(zipf.sample(random)) : undefined
    const promise: Promise<void> = request(next, ids, write).finally(() => inFlight.delete(promise))
    inFlight.add(promise)
    next += interval
  }
  await Promise.all(inFlight)
  const cpu = process.cpuUsage(cpuBefore)
  latencies.sort((a, b) => a - b)
  return {
    requests,
    loads,
    wrong,
    writes,
    latencyMs: {
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      max: latencies[latencies.length - 1] ?? 0,
    },
    loopDelayMs: {
      p99: Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_MS),
      max: Math.max(0, loopDelay.max / 1e6 - LOOP_MS),
    },
    cpuMs: (cpu.user + cpu.system) / 1000,
    counters: minus(counters(cache), before),
    warnings: warnings.slice(warningsBefore),
  }
}

async function readProbe(id: string): Promise<number> {
  const { cache, probe } = current()
  const value = (await cache.loaders({ probe }).probe!.load(id)) as Row
  return value.version
}

/**
 * Loads the probe (so L1 holds its current version, as it would for a hot entity), then watches: the first
 * `evict` event from another instance naming its key or tag is "heard"; a read started right then must
 * return the new version ("fresh"; re-read until it does, counting stale answers). Independently, a poller
 * loads it every `pollMs` as any request would, and notes the first poll that returned the new version.
 */
async function arm(command: Extract<Command, { op: 'arm' }>): Promise<object> {
  const { cache } = current()
  const { id, version, pollMs } = command
  const before = await readProbe(id)
  if (before >= version) throw new Error(`probe ${id} is already at version ${before}`)
  const times: Watch['times'] = { heardAt: null, freshAt: null, pollFreshAt: null, stale: 0 }
  let finish!: () => void
  const done = new Promise<void>((resolve) => (finish = resolve))
  const check = () => {
    if (times.freshAt !== null && times.pollFreshAt !== null) finish()
  }
  const keySuffix = `{probe:${id}}`
  const tag = `Probe:${id}`
  const onEvict = (event: EvictEventLike) => {
    if (event.source !== 'remote' || times.heardAt !== null) return
    if (!event.keys.some((key) => key.endsWith(keySuffix)) && !event.tags.includes(tag)) return
    times.heardAt = epochNow()
    void (async () => {
      for (let attempt = 0; attempt < 1000; attempt++) {
        if ((await readProbe(id)) >= version) {
          times.freshAt = epochNow()
          check()
          return
        }
        times.stale++
        await sleep(1)
      }
    })()
  }
  cache.on('evict', onEvict)
  let polling = true
  void (async () => {
    while (polling && times.pollFreshAt === null) {
      await sleep(pollMs)
      if (!polling) return
      if ((await readProbe(id)) >= version) {
        times.pollFreshAt = epochNow()
        check()
      }
    }
  })()
  armed = {
    times,
    done,
    stop: () => {
      polling = false
      cache.off('evict', onEvict)
    },
  }
  return { version: before }
}

async function write(command: Extract<Command, { op: 'write' }>): Promise<WriteTimes> {
  const { cache, probe, dbDir } = current()
  writeFileSync(join(dbDir, command.id), String(command.version))
  const startedAt = epochNow()
  await Promise.all([cache.invalidate(probe, [command.id]), cache.invalidateTags([`Probe:${command.id}`])])
  return { startedAt, resolvedAt: epochNow() }
}

async function collect(timeoutMs: number): Promise<ProbeTimes> {
  const watch = armed
  if (watch === undefined) throw new Error('no probe armed')
  await Promise.race([watch.done, sleep(timeoutMs)])
  watch.stop()
  armed = undefined
  const { heardAt, freshAt, pollFreshAt, stale } = watch.times
  return { heardAt, freshAt, pollFreshAt, staleAfterHeard: stale }
}

async function close(): Promise<object> {
  const state = open
  open = undefined
  armed?.stop()
  armed = undefined
  if (state === undefined) return {}
  await state.cache.close()
  state.client.disconnect()
  return {}
}

async function handle(command: Command): Promise<unknown> {
  switch (command.op) {
    case 'open':
      return openCache(command)
    case 'preload':
      return preload(command.count)
    case 'run':
      return run(command)
    case 'arm':
      return arm(command)
    case 'write':
      return write(command)
    case 'stopRun':
      stopRequested = true
      return {}
    case 'collect':
      return collect(command.timeoutMs)
    case 'stats':
      return counters(current().cache)
    case 'close':
      return close()
    case 'exit':
      await close()
      setImmediate(() => process.exit(0))
      return {}
  }
}

answerParent((command: Command) => handle(command)).ready()
