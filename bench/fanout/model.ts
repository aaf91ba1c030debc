/**
 * The model of issue 14: the fan-out figures at 100 and 1,000 instances, for today's design and the current
 * one, from the per-instance and per-request costs measured by run.ts.
 *
 *   npx tsx bench/fanout/model.ts <run>.json [<run>.json …]
 *
 * prints the model as Markdown (the parameters of each run, then the model on their mean). How each figure
 * is built is said in the output itself, next to it; in short:
 *
 * - Fills. Under the benchmark's read mix (Zipf(s) over K ids, every entry living T·(1 + jitter/2) s on
 *   average), key k is read by the fleet at λ_k = N·r·L·p_k per second and filled once per renewal period
 *   T + 1/λ_k, so the fleet fills Σ λ_k/(1 + λ_k·T) ids per second, and fills per request fall as the fleet
 *   grows (its members share Redis): the `shared` key space. Checked against the fills measured at 1–16
 *   instances. The `growing` key space keeps fills per request at what 16 instances measured.
 * - Contention (the current design announces only fills somebody waits on): a fill of key k is waited on
 *   when another instance reads k during the fill, with probability 1 − exp(−λ_k·(N−1)/N·τ). τ, the time a
 *   fill holds its lock, is fitted to the keys announced at 2–16 instances (Poisson likelihood).
 * - Messages: today's design sends one notice per request that filled anything on one Redis (a request's
 *   misses are one batch), one per slot written on a Cluster; the current one, one per waited-on key; both,
 *   the measured invalidation messages per write.
 * - Bus bytes: every message is written to every subscriber (N of them), so bytes per request are N times
 *   the bytes of one request's messages (framing per message + bytes per key, as measured).
 * - Redis CPU per request: the part that does not depend on N (scripts, reads, PINGs), measured at 16
 *   instances, plus the deliveries times the CPU per delivery measured with 1,000 subscribers
 *   (lib/calibrate.ts). Invalidation latency: the p99 measured at 16 instances plus (N − 16) deliveries,
 *   since Redis writes a message to its subscribers one after another.
 */
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { figures, latencyFigures } from './lib/figures.js'
import type { WorkloadCell } from './lib/measure.js'
import type { Design } from './lib/protocol.js'
import { figure, number } from './lib/report.js'
import type { FanoutResults } from './run.js'

/** Redis 7.0's cluster-bus message header (clusterMsg without its data union), in bytes: approximate. */
const CLUSTER_HEADER_BYTES = 2256
const MODEL_SIZES = [16, 100, 1_000] as const

interface Zipfian {
  readonly p: Float64Array
}

function zipfian(keys: number, s: number): Zipfian {
  const p = new Float64Array(keys)
  let sum = 0
  for (let k = 1; k <= keys; k++) {
    p[k - 1] = 1 / k ** s
    sum += p[k - 1]!
  }
  for (let i = 0; i < keys; i++) p[i] = p[i]! / sum
  return { p }
}

/** Fills per request, and the share of fills another instance waits on, at fleet size n. */
function fillModel(
  zipf: Zipfian,
  n: number,
  loadsPerSecondPerInstance: number,
  ttlSeconds: number,
  lockSeconds: number,
): { fillsPerRequestFactor: number; contended: number } {
  let fills = 0
  let contendedFills = 0
  let reads = 0
  for (const p of zipf.p) {
    const lambda = n * loadsPerSecondPerInstance * p
    const rate = lambda / (1 + lambda * ttlSeconds)
    fills += rate
    reads += lambda
    contendedFills += rate * (1 - Math.exp((-lambda * (n - 1) * lockSeconds) / n))
  }
  // Fills per load; the caller multiplies by loads per request.
  return { fillsPerRequestFactor: fills / reads, contended: fills === 0 ? 0 : contendedFills / fills }
}

export interface ModelParameters {
  readonly topology: string
  readonly maxMeasured: number
  /** Wire bytes of a message to one subscriber besides its lines (RESP framing, channel, `f`/`i …` head). */
  readonly messageOverheadBytes: number
  /** Bytes one entry key adds to a fill notice (the key and its newline). */
  readonly noticeKeyBytes: number
  /** Today's design on a Cluster: notices per fill (one per slot written, so about one per key). */
  readonly oldNoticesPerFill: number
  /** The current design: messages per announced (waited-on) key. */
  readonly newNoticesPerKey: number
  /** Per write (one entity, by id and by tag): invalidation messages, and their wire bytes to one subscriber. */
  readonly invalidationMessagesPerWrite: Record<Design, number>
  readonly invalidationBytesPerWrite: Record<Design, number>
  /** Redis output per request other than the bus, at the largest fleet measured (warm with misses). */
  readonly otherOutputBytesPerRequest: Record<Design, number>
  /** Redis CPU per request net of the idle server and of bus deliveries (µs). */
  readonly baseCpuUsPerRequest: Record<Design, number>
  /** Redis CPU per delivered message (µs), from the calibration with the most subscribers. */
  readonly cpuUsPerDelivery: Record<Design, number>
  /** The fitted time a fill holds its lock (s), and measured vs modelled fills and contention per N. */
  readonly lockSeconds: number
  readonly checks: readonly {
    n: number
    fillsMeasured: number
    fillsModel: number
    contendedMeasured: number
    contendedModel: number
  }[]
  /** At the largest fleet measured (current design): fills per request, and the share of them waited on. */
  readonly fillsPerRequestAtMax: number
  readonly contendedAtMax: number
  /** Invalidation latency measured at the largest fleet: p99 until every other instance read fresh. */
  readonly latencyP99Ms: Record<Design, number>
}

function cell(
  run: FanoutResults,
  topology: string,
  workload: WorkloadCell['workload'],
  design: Design,
  n: number,
): WorkloadCell {
  const found = run.workloads.find(
    (c) => c.topology === topology && c.workload === workload && c.design === design && c.instances === n,
  )
  if (found === undefined) throw new Error(`no ${topology}/${workload}/${design}/${n} cell in the run`)
  return found
}

/** Wire bytes of framing per message (everything but the payload). */
function framing(c: WorkloadCell): number {
  const { tap } = c
  const messages = tap.notices + tap.invalidations + tap.other
  return messages === 0 ? 0 : (tap.wireBytes - tap.noticeBytes - tap.invalidationBytes) / messages
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0)
}

export function modelParameters(run: FanoutResults, topology: string): ModelParameters {
  const { config } = run
  const sizes = config.instances
  const max = Math.max(...sizes)
  const idleCpuMsPerSecond = run.idle[topology]?.cpuMsPerSecond ?? 0
  const misses = (design: Design, n = max) => cell(run, topology, 'misses', design, n)
  const writes = (design: Design, n = max) => cell(run, topology, 'writes', design, n)

  const oldCells = sizes.map((n) => misses('old', n))
  const oldNotices = sum(oldCells.map((c) => c.tap.notices))
  const oldKeys = sum(oldCells.map((c) => c.tap.noticeKeys))
  const oldFills = sum(oldCells.map((c) => c.counters.idsFetched))
  const noticeKeyBytes =
    oldKeys === 0 ? 0 : (sum(oldCells.map((c) => c.tap.noticeBytes)) - oldNotices) / oldKeys
  const newCells = sizes.filter((n) => n > 1).map((n) => misses('new', n))
  const newKeys = sum(newCells.map((c) => c.tap.noticeKeys))
  const newNotices = sum(newCells.map((c) => c.tap.notices))

  const perWrite = (design: Design) => {
    const c = writes(design)
    // The fills and notices of the writes cell are those of its reads; its invalidations are the writes'.
    return {
      messages: c.writes === 0 ? 0 : c.tap.invalidations / c.writes,
      bytes: c.writes === 0 ? 0 : (c.tap.invalidationBytes + framing(c) * c.tap.invalidations) / c.writes,
    }
  }

  // Redis CPU per delivery: the calibration with the most subscribers, in the pub/sub the design uses.
  const mode = (design: Design) => (topology === 'cluster' && design === 'new' ? 'sharded' : 'classic')
  const perDelivery = (design: Design) => {
    const runs = run.calibrations.filter((c) => c.topology === topology && c.mode === mode(design))
    const widest = runs.reduce((a, b) => (b.subscribers > a.subscribers ? b : a), runs[0]!)
    return widest?.cpuUsPerDelivery ?? 0
  }
  // Redis CPU per request is noisy on a shared 2-core machine (and read with the kernel's accounting
  // granularity): the base is the mean over the misses and writes cells of the three largest fleets.
  const baseCpu = (design: Design) => {
    const large = [...sizes].sort((a, b) => b - a).slice(0, 3)
    const bases = large.flatMap((n) =>
      [misses(design, n), writes(design, n)].map((c) => {
        const deliveries = figures(c).busMessagesPerRequest * c.subscribers
        const cpuUs = ((c.redis.cpuMs - idleCpuMsPerSecond * c.redis.seconds) / c.requests) * 1000
        return cpuUs - perDelivery(design) * deliveries
      }),
    )
    return Math.max(0, sum(bases) / bases.length)
  }

  // τ: the lock time under which the fill model best explains the keys the current design announced at
  // 2..max instances (Poisson likelihood of the announced keys, given the fills measured).
  const zipf = zipfian(config.misses.keys, config.misses.zipfS)
  const loadsPerSecond = config.rate * config.loadsPerRequest
  const ttl = config.misses.ttlSeconds * 1.05
  const measured = sizes.map((n) => {
    const c = misses('new', n)
    return { n, requests: c.requests, fills: c.counters.idsFetched, announced: c.tap.noticeKeys }
  })
  let lockSeconds = 0.005
  let best = Number.POSITIVE_INFINITY
  for (let exponent = -5; exponent <= 0; exponent += 0.01) {
    const tau = 10 ** exponent
    let cost = 0
    for (const m of measured) {
      if (m.n === 1) continue
      const expected = Math.max(1e-9, fillModel(zipf, m.n, loadsPerSecond, ttl, tau).contended * m.fills)
      cost += expected - m.announced * Math.log(expected)
    }
    if (cost < best) {
      best = cost
      lockSeconds = tau
    }
  }
  const checks = measured.map((m) => {
    const modelled = fillModel(zipf, m.n, loadsPerSecond, ttl, lockSeconds)
    return {
      n: m.n,
      fillsMeasured: m.fills / m.requests,
      fillsModel: modelled.fillsPerRequestFactor * config.loadsPerRequest,
      contendedMeasured: m.fills === 0 ? 0 : m.announced / m.fills,
      contendedModel: modelled.contended,
    }
  })
  const latency = (design: Design) => {
    const l = run.latency.find((c) => c.topology === topology && c.design === design && c.instances === max)
    return l === undefined ? Number.NaN : latencyFigures(l).allFresh.p99
  }
  const otherOutput = (design: Design) => {
    const f = figures(misses(design))
    return f.outputBytesPerRequest - f.busBytesPerRequest
  }
  const atMax = misses('new')
  return {
    topology,
    maxMeasured: max,
    messageOverheadBytes: framing(misses('old')) + 1,
    noticeKeyBytes,
    oldNoticesPerFill: oldFills === 0 ? 0 : oldNotices / oldFills,
    newNoticesPerKey: newKeys === 0 ? 1 : newNotices / newKeys,
    invalidationMessagesPerWrite: { old: perWrite('old').messages, new: perWrite('new').messages },
    invalidationBytesPerWrite: { old: perWrite('old').bytes, new: perWrite('new').bytes },
    otherOutputBytesPerRequest: { old: otherOutput('old'), new: otherOutput('new') },
    baseCpuUsPerRequest: { old: baseCpu('old'), new: baseCpu('new') },
    cpuUsPerDelivery: { old: perDelivery('old'), new: perDelivery('new') },
    lockSeconds,
    checks,
    fillsPerRequestAtMax: atMax.counters.idsFetched / atMax.requests,
    contendedAtMax: atMax.counters.idsFetched === 0 ? 0 : atMax.tap.noticeKeys / atMax.counters.idsFetched,
    latencyP99Ms: { old: latency('old'), new: latency('new') },
  }
}

/** The mean of several runs' parameters (each figure averaged; the checks are the first run's). */
function meanParameters(all: readonly ModelParameters[]): ModelParameters {
  const first = all[0]!
  const avg = (pick: (p: ModelParameters) => number) => sum(all.map(pick)) / all.length
  const both = (pick: (p: ModelParameters) => Record<Design, number>) => ({
    old: avg((p) => pick(p).old),
    new: avg((p) => pick(p).new),
  })
  return {
    ...first,
    messageOverheadBytes: avg((p) => p.messageOverheadBytes),
    noticeKeyBytes: avg((p) => p.noticeKeyBytes),
    oldNoticesPerFill: avg((p) => p.oldNoticesPerFill),
    newNoticesPerKey: avg((p) => p.newNoticesPerKey),
    invalidationMessagesPerWrite: both((p) => p.invalidationMessagesPerWrite),
    invalidationBytesPerWrite: both((p) => p.invalidationBytesPerWrite),
    otherOutputBytesPerRequest: both((p) => p.otherOutputBytesPerRequest),
    baseCpuUsPerRequest: both((p) => p.baseCpuUsPerRequest),
    cpuUsPerDelivery: both((p) => p.cpuUsPerDelivery),
    lockSeconds: Math.exp(avg((p) => Math.log(p.lockSeconds))),
    fillsPerRequestAtMax: avg((p) => p.fillsPerRequestAtMax),
    contendedAtMax: avg((p) => p.contendedAtMax),
    latencyP99Ms: both((p) => p.latencyP99Ms),
  }
}

/**
 * How fills grow with the fleet: `shared`, the benchmark's own key space (fixed: the fleet shares its
 * fills, so fills per request fall as it grows); `growing`, a key space that grows with the fleet (each
 * instance's share of the data stays the same, e.g. per-user data), where fills per request and the share
 * waited on stay at what the largest fleet measured.
 */
export type Scenario = 'shared' | 'growing'

export interface ModelRow {
  readonly scenario: Scenario
  readonly n: number
  readonly design: Design
  readonly requestsPerSecond: number
  readonly fillsPerRequest: number
  readonly messagesPerRequest: number
  readonly messagesPerSecond: number
  readonly deliveriesPerSecond: number
  readonly busBytesPerRequest: number
  readonly outputBytesPerSecond: number
  readonly redisCpuMsPer1000: number
  /** Redis CPU, all nodes, in cores (1 = one core busy). */
  readonly redisCores: number
  /** The part of it spent writing bus messages to subscribers. */
  readonly busCores: number
  readonly clusterRelayBytesPerSecond: number
  readonly latencyP99Ms: number
}

export function modelRows(run: FanoutResults, p: ModelParameters, scenario: Scenario): ModelRow[] {
  const { config } = run
  const zipf = zipfian(config.misses.keys, config.misses.zipfS)
  const loadsPerSecond = config.rate * config.loadsPerRequest
  const ttl = config.misses.ttlSeconds * 1.05
  const rows: ModelRow[] = []
  for (const n of MODEL_SIZES) {
    const fill = fillModel(zipf, n, loadsPerSecond, ttl, p.lockSeconds)
    const fills =
      scenario === 'shared' ? fill.fillsPerRequestFactor * config.loadsPerRequest : p.fillsPerRequestAtMax
    const contended = scenario === 'shared' ? fill.contended : p.contendedAtMax
    const writes = config.writeFraction
    for (const design of ['old', 'new'] as const) {
      // Today's design announces every fill: on one Redis one message per request that filled anything
      // (a request's misses are one batch; Poisson), on a Cluster one per slot written (about one per key).
      const notices =
        design === 'old'
          ? p.topology === 'cluster'
            ? fills * p.oldNoticesPerFill
            : 1 - Math.exp(-fills)
          : fills * contended * p.newNoticesPerKey
      const announcedKeys = design === 'old' ? fills : fills * contended
      const messages = notices + writes * p.invalidationMessagesPerWrite[design]
      const bytesOnce =
        notices * p.messageOverheadBytes +
        announcedKeys * p.noticeKeyBytes +
        writes * p.invalidationBytesPerWrite[design]
      const requestsPerSecond = n * config.rate
      const busBytes = bytesOnce * n
      const cpuUs = p.baseCpuUsPerRequest[design] + p.cpuUsPerDelivery[design] * messages * n
      // Redis writes each message to its subscribers one after another: the last is sent it
      // (N - 1) deliveries after the first.
      const latency = p.latencyP99Ms[design] + ((n - p.maxMeasured) * p.cpuUsPerDelivery[design]) / 1000
      rows.push({
        scenario,
        n,
        design,
        requestsPerSecond,
        fillsPerRequest: fills,
        messagesPerRequest: messages,
        messagesPerSecond: messages * requestsPerSecond,
        deliveriesPerSecond: messages * requestsPerSecond * n,
        busBytesPerRequest: busBytes,
        outputBytesPerSecond: (p.otherOutputBytesPerRequest[design] + busBytes) * requestsPerSecond,
        redisCpuMsPer1000: cpuUs,
        redisCores: (cpuUs * requestsPerSecond) / 1e6,
        busCores: (p.cpuUsPerDelivery[design] * messages * n * requestsPerSecond) / 1e6,
        clusterRelayBytesPerSecond:
          p.topology === 'cluster' && design === 'old'
            ? messages * requestsPerSecond * 2 * (CLUSTER_HEADER_BYTES + bytesOnce / Math.max(messages, 1e-9))
            : 0,
        latencyP99Ms: latency,
      })
    }
  }
  return rows
}

/**
 * Redis runs commands on one thread: a node cannot use more than one core. The rest of the load can be
 * spread over more masters; the bus cannot: with sharded pub/sub all of it is delivered by the one shard
 * that owns the channel, with classic pub/sub each master delivers to its own subscribers (a third each on
 * 3 masters) and every master receives every message. Where the bus alone needs more than one core of a
 * node, the fleet cannot run at that size as modelled: marked.
 */
function cores(row: ModelRow, topology: string): string {
  const nodes = topology === 'cluster' && row.design === 'old' ? 3 : 1
  const saturated = row.busCores / nodes > 1
  return `${figure(row.redisCores)} (${figure(row.busCores)})${saturated ? ' **bus saturates a node**' : ''}`
}

function bytes(value: number): string {
  if (value >= 1e9) return `${figure(value / 1e9)} GB`
  if (value >= 1e6) return `${figure(value / 1e6)} MB`
  if (value >= 1e3) return `${figure(value / 1e3)} KB`
  return `${figure(value)} B`
}

export function renderModel(runs: readonly FanoutResults[]): string {
  const run = runs[0]!
  const { config } = run
  const out: string[] = []
  for (const topology of config.topologies) {
    const each = runs.map((r) => modelParameters(r, topology))
    const p = meanParameters(each)
    const title = topology === 'cluster' ? 'Redis Cluster (3 masters)' : 'One Redis'
    out.push(`### ${title}: parameters measured`, '')
    out.push(
      `| parameter | ${each.map((_, i) => `run ${i + 1}`).join(' | ')} | used |`,
      `| --- | ${each.map(() => '---:').join(' | ')} | ---: |`,
    )
    const line = (name: string, pick: (q: ModelParameters) => number, format = figure) =>
      out.push(`| ${name} | ${each.map((q) => format(pick(q))).join(' | ')} | ${format(pick(p))} |`)
    line('bytes of a bus message to one subscriber, besides its lines', (q) => q.messageOverheadBytes)
    line('bytes per key in a fill notice', (q) => q.noticeKeyBytes)
    if (topology === 'cluster') line("today's: notices per fill", (q) => q.oldNoticesPerFill)
    line('current: messages per announced (waited-on) key', (q) => q.newNoticesPerKey)
    line("today's: invalidation messages per write", (q) => q.invalidationMessagesPerWrite.old)
    line('current: invalidation messages per write', (q) => q.invalidationMessagesPerWrite.new)
    line("today's: invalidation bytes per write (to one subscriber)", (q) => q.invalidationBytesPerWrite.old)
    line('current: invalidation bytes per write (to one subscriber)', (q) => q.invalidationBytesPerWrite.new)
    line("today's: other Redis output bytes per request", (q) => q.otherOutputBytesPerRequest.old)
    line('current: other Redis output bytes per request', (q) => q.otherOutputBytesPerRequest.new)
    line(
      "today's: Redis CPU µs per request, bus deliveries and idle excluded",
      (q) => q.baseCpuUsPerRequest.old,
    )
    line(
      'current: Redis CPU µs per request, bus deliveries and idle excluded',
      (q) => q.baseCpuUsPerRequest.new,
    )
    line("today's: Redis CPU µs per delivery (calibration)", (q) => q.cpuUsPerDelivery.old)
    line('current: Redis CPU µs per delivery (calibration)', (q) => q.cpuUsPerDelivery.new)
    line('τ, time a fill holds its lock, ms (fitted)', (q) => q.lockSeconds * 1000)
    line(`fills per request at ${p.maxMeasured} (current)`, (q) => q.fillsPerRequestAtMax)
    line(`share of fills waited on at ${p.maxMeasured} (current)`, (q) => q.contendedAtMax)
    line(`today's: invalidation latency p99 at ${p.maxMeasured}, ms`, (q) => q.latencyP99Ms.old)
    line(`current: invalidation latency p99 at ${p.maxMeasured}, ms`, (q) => q.latencyP99Ms.new)
    out.push('')
    out.push(
      'The fill model against run 1 (fills per request; share of fills another instance waited on, current design):',
      '',
      '| instances | fills/req measured | fills/req model | waited-on share measured | model |',
      '| ---: | ---: | ---: | ---: | ---: |',
    )
    for (const c of p.checks) {
      out.push(
        `| ${c.n} | ${figure(c.fillsMeasured)} | ${figure(c.fillsModel)} | ${figure(c.contendedMeasured)} | ${figure(c.contendedModel)} |`,
      )
    }
    out.push('', `### ${title}: the model, warm with misses and ${config.writeFraction * 100}% writes`, '')
    const cluster = topology === 'cluster'
    out.push(
      `| key space | instances | design | fleet req/s | fills/req | bus msg/req | bus msg/s published | deliveries/s | bus bytes/req | Redis output/s | Redis CPU ms/1k req | Redis cores (bus) | invalidation p99 ms |${cluster ? ' cluster-bus relay/s |' : ''}`,
      `| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${cluster ? ' ---: |' : ''}`,
    )
    for (const scenario of ['shared', 'growing'] as const) {
      for (const row of modelRows(run, p, scenario)) {
        out.push(
          `| ${scenario} | ${number(row.n)} | ${row.design === 'old' ? "today's" : 'current'} | ${number(row.requestsPerSecond)} | ${figure(
            row.fillsPerRequest,
          )} | ${figure(row.messagesPerRequest)} | ${figure(row.messagesPerSecond)} | ${figure(row.deliveriesPerSecond)} | ${bytes(
            row.busBytesPerRequest,
          )} | ${bytes(row.outputBytesPerSecond)} | ${figure(row.redisCpuMsPer1000)} | ${cores(row, topology)} | ${figure(
            row.latencyP99Ms,
          )} |${cluster ? ` ${row.clusterRelayBytesPerSecond === 0 ? '0' : bytes(row.clusterRelayBytesPerSecond)} |` : ''}`,
        )
      }
    }
    out.push('')
  }
  return `${out.join('\n')}\n`
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const paths = process.argv.slice(2)
  if (paths.length === 0) {
    process.stderr.write('usage: npx tsx bench/fanout/model.ts <run>.json [<run>.json …]\n')
    process.exit(2)
  }
  const runs = paths.map((path) => JSON.parse(readFileSync(path, 'utf8')) as FanoutResults)
  process.stdout.write(renderModel(runs))
}
