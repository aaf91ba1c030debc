/** The tables of one run, old and new side by side, and the targets of issue 14. */
import type { FanoutResults } from '../run.js'
import { type Figures, figures, type LatencyFigures, latencyFigures } from './figures.js'
import type { LatencyCell, WorkloadCell } from './measure.js'
import type { Design, WorkloadName } from './protocol.js'

const WORKLOAD_TITLES: Record<WorkloadName, string> = {
  warm: 'warm (every load an L1 hit)',
  misses: 'warm with misses (Zipf reads, 4 s TTL, L1 smaller than the working set)',
  writes: 'with writes (the same, and 2% of requests invalidate one entity by id and by tag)',
}

export function number(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return value === Number.POSITIVE_INFINITY ? '∞' : '–'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** A figure with enough significant digits to compare, whatever its size. */
export function figure(value: number): string {
  if (!Number.isFinite(value)) return number(value)
  const size = Math.abs(value)
  if (size === 0) return '0'
  if (size >= 100) return number(value)
  if (size >= 10) return number(value, 1)
  if (size >= 1) return number(value, 2)
  if (size >= 0.01) return number(value, 3)
  return value.toExponential(1)
}

function pair(old: number | undefined, now: number | undefined, format = figure): string {
  return `${old === undefined ? '–' : format(old)} / ${now === undefined ? '–' : format(now)}`
}

export function cellOf(
  results: FanoutResults,
  topology: string,
  workload: WorkloadName,
  design: Design,
  instances: number,
): WorkloadCell | undefined {
  return results.workloads.find(
    (c) =>
      c.topology === topology && c.workload === workload && c.design === design && c.instances === instances,
  )
}

export function latencyOf(
  results: FanoutResults,
  topology: string,
  design: Design,
  instances: number,
): LatencyCell | undefined {
  return results.latency.find(
    (c) => c.topology === topology && c.design === design && c.instances === instances,
  )
}

function workloadTable(results: FanoutResults, topology: string, workload: WorkloadName): string {
  const cluster = topology === 'cluster'
  const rows: string[] = [
    `| instances | fleet req/s | fills/req | bus msg/s | bus msg/req | bus bytes/req | Redis out KB/s | Redis CPU ms/1k req | scripts/req | PING/s |${cluster ? ' relays/req |' : ''} instance CPU ms/req | req p99 ms | load avg |`,
    `| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${cluster ? ' ---: |' : ''} ---: | ---: | ---: |`,
  ]
  for (const n of results.config.instances) {
    const o = cellOf(results, topology, workload, 'old', n)
    const c = cellOf(results, topology, workload, 'new', n)
    if (o === undefined && c === undefined) continue
    const fo = o && figures(o)
    const fc = c && figures(c)
    const get = (f: Figures | undefined, key: keyof Figures) => f?.[key]
    rows.push(
      `| ${n} | ${pair(get(fo, 'requestsPerSecond'), get(fc, 'requestsPerSecond'), (v) => number(v))} | ${pair(
        get(fo, 'fillsPerRequest'),
        get(fc, 'fillsPerRequest'),
      )} | ${pair(get(fo, 'busMessagesPerSecond'), get(fc, 'busMessagesPerSecond'))} | ${pair(
        get(fo, 'busMessagesPerRequest'),
        get(fc, 'busMessagesPerRequest'),
      )} | ${pair(get(fo, 'busBytesPerRequest'), get(fc, 'busBytesPerRequest'))} | ${pair(
        fo && fo.outputBytesPerSecond / 1000,
        fc && fc.outputBytesPerSecond / 1000,
      )} | ${pair(get(fo, 'redisCpuMsPer1000'), get(fc, 'redisCpuMsPer1000'))} | ${pair(
        get(fo, 'scriptsPerRequest'),
        get(fc, 'scriptsPerRequest'),
      )} | ${pair(get(fo, 'pingsPerSecond'), get(fc, 'pingsPerSecond'))} |${
        cluster ? ` ${pair(get(fo, 'clusterRelaysPerRequest'), get(fc, 'clusterRelaysPerRequest'))} |` : ''
      } ${pair(
        get(fo, 'instanceCpuMsPerRequest'),
        get(fc, 'instanceCpuMsPerRequest'),
      )} | ${pair(o?.requestP99Ms, c?.requestP99Ms)} | ${pair(o?.loadAverage[1], c?.loadAverage[1], (v) => number(v, 1))} |`,
    )
  }
  return rows.join('\n')
}

function loop(cell: LatencyCell | undefined): string {
  return cell === undefined
    ? '–'
    : `${number(cell.loopDelayP99Ms.median, 1)}, ${number(cell.loopDelayP99Ms.max, 1)}`
}

function latencyTable(results: FanoutResults, topology: string): string {
  const rows: string[] = [
    '| instances | writes × others | heard p50 | heard p99 | all heard p99 | fresh p50 | fresh p99 | **all fresh p99** | poll fresh p99 | invalidate() p50 | missed | stale after heard | event-loop delay p99 ms (median, max) | load avg |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const n of results.config.instances) {
    const o = latencyOf(results, topology, 'old', n)
    const c = latencyOf(results, topology, 'new', n)
    if (o === undefined && c === undefined) continue
    const lo = o && latencyFigures(o)
    const lc = c && latencyFigures(c)
    const q = (
      f: LatencyFigures | undefined,
      key: 'heard' | 'fresh' | 'pollFresh' | 'allHeard' | 'allFresh' | 'invalidateCall',
      p: 'p50' | 'p99',
    ) => f?.[key][p]
    const ms = (v: number) => number(v, 1)
    rows.push(
      `| ${n} | ${(o ?? c)!.rounds} × ${n - 1} | ${pair(q(lo, 'heard', 'p50'), q(lc, 'heard', 'p50'), ms)} | ${pair(
        q(lo, 'heard', 'p99'),
        q(lc, 'heard', 'p99'),
        ms,
      )} | ${pair(q(lo, 'allHeard', 'p99'), q(lc, 'allHeard', 'p99'), ms)} | ${pair(
        q(lo, 'fresh', 'p50'),
        q(lc, 'fresh', 'p50'),
        ms,
      )} | ${pair(q(lo, 'fresh', 'p99'), q(lc, 'fresh', 'p99'), ms)} | ${pair(
        q(lo, 'allFresh', 'p99'),
        q(lc, 'allFresh', 'p99'),
        ms,
      )} | ${pair(q(lo, 'pollFresh', 'p99'), q(lc, 'pollFresh', 'p99'), ms)} | ${pair(
        q(lo, 'invalidateCall', 'p50'),
        q(lc, 'invalidateCall', 'p50'),
        ms,
      )} | ${pair(lo?.missed, lc?.missed, (v) => number(v))} | ${pair(lo?.staleAfterHeard, lc?.staleAfterHeard, (v) => number(v))} | ${loop(o)} / ${loop(c)} | ${pair(
        o?.loadAverage[1],
        c?.loadAverage[1],
        (v) => number(v, 1),
      )} |`,
    )
  }
  return rows.join('\n')
}

export interface TargetCheck {
  readonly target: string
  readonly topology: string
  readonly value: string
  readonly met: boolean | undefined
}

/** Issue 14's two targets, on each topology. */
export function targetChecks(results: FanoutResults): TargetCheck[] {
  const checks: TargetCheck[] = []
  for (const topology of results.config.topologies) {
    const o = cellOf(results, topology, 'misses', 'old', 8)
    const c = cellOf(results, topology, 'misses', 'new', 8)
    if (o && c) {
      const old = figures(o).busBytesPerRequest
      const now = figures(c).busBytesPerRequest
      const ratio = old === 0 ? Number.NaN : now / old
      checks.push({
        target: 'bus bytes/request ≤ 1/20 of today’s, warm with misses, 8 instances',
        topology,
        value: `${figure(now)} vs ${figure(old)} bytes/req: ${ratio === 0 ? '0' : `1/${figure(1 / ratio)}`}`,
        met: Number.isFinite(ratio) ? ratio <= 1 / 20 : undefined,
      })
    }
    const l = latencyOf(results, topology, 'new', 16)
    if (l) {
      const f = latencyFigures(l)
      checks.push({
        target: 'invalidation latency p99 ≤ 50 ms at 16 instances (write → every other instance read fresh)',
        topology,
        value: `${number(f.allFresh.p99, 1)} ms (each instance: p99 ${number(f.fresh.p99, 1)} ms; heard p99 ${number(f.heard.p99, 1)} ms; ${f.missed} missed)`,
        met: f.allFresh.p99 <= 50 && f.missed === 0,
      })
    }
  }
  return checks
}

export function renderReport(results: FanoutResults): string {
  const out: string[] = [
    `# Fan-out run ${results.startedAt}`,
    '',
    `${results.config.quick ? 'Quick run' : 'Full run'} in ${results.durationSeconds} s. Each cell is **today's design / the current design**.`,
    `Today's: ${results.designs.old.commit}. Current: ${results.designs.new.commit}.`,
    `Machine: ${results.machine.cpus} × ${results.machine.cpuModel}, ${results.machine.os}, Node ${results.machine.node}, ${results.machine.redis}.`,
    `Each instance starts ${results.config.rate} requests/s of ${results.config.loadsPerRequest} loads (open loop).`,
    '',
  ]
  for (const topology of results.config.topologies) {
    out.push(`## ${topology === 'cluster' ? 'Redis Cluster, 3 masters' : 'One Redis'}`, '')
    for (const workload of ['warm', 'misses', 'writes'] as const) {
      out.push(`### ${WORKLOAD_TITLES[workload]}`, '', workloadTable(results, topology, workload), '')
    }
    out.push('### Invalidation latency (ms from the write)', '', latencyTable(results, topology), '')
  }
  out.push(
    '## What one message costs per subscriber (calibration)',
    '',
    `${results.config.calibrationMessages} messages of ${results.config.calibrationPayloadBytes} bytes to plain subscriber connections (see lib/calibrate.ts); the last column is an upper bound (every subscriber reads in one process).`,
    '',
    '| topology | pub/sub | subscribers | Redis CPU µs per delivery | output bytes per delivery | cluster relays per message | publish → last read p50 / p99 ms | lost |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  )
  for (const c of results.calibrations) {
    out.push(
      `| ${c.topology} | ${c.mode} | ${number(c.subscribers)} | ${figure(c.cpuUsPerDelivery)} | ${figure(c.outputBytesPerDelivery)} | ${figure(c.relaysPerMessage)} | ${number(c.lastReadMs.p50, 1)} / ${number(c.lastReadMs.p99, 1)} | ${c.lost} |`,
    )
  }
  out.push('')
  out.push('## Targets', '', '| target | topology | measured | met |', '| --- | --- | --- | --- |')
  for (const check of targetChecks(results)) {
    out.push(
      `| ${check.target} | ${check.topology} | ${check.value} | ${check.met === undefined ? '–' : check.met ? 'met' : '**missed**'} |`,
    )
  }
  out.push('')
  return `${out.join('\n')}\n`
}
