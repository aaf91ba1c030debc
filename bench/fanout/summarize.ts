/**
 * Puts runs side by side for RESULTS.md: the targets of each run, the main figures of each run (old / new),
 * then the model on their mean (model.ts).
 *
 *   npx tsx bench/fanout/summarize.ts <run1>.json <run2>.json
 */
import { readFileSync } from 'node:fs'
import { figures, latencyFigures } from './lib/figures.js'
import { cellOf, figure, latencyOf, number, targetChecks } from './lib/report.js'
import { renderModel } from './model.js'
import type { FanoutResults } from './run.js'

const paths = process.argv.slice(2)
if (paths.length === 0) {
  process.stderr.write('usage: npx tsx bench/fanout/summarize.ts <run>.json [<run>.json …]\n')
  process.exit(2)
}
const runs = paths.map((path) => JSON.parse(readFileSync(path, 'utf8')) as FanoutResults)
const first = runs[0]!
const out: string[] = []
const runNames = runs.map((_, i) => `run ${i + 1}`)

out.push(
  '## Targets',
  '',
  `| target | topology | ${runNames.join(' | ')} |`,
  `| --- | --- | ${runs.map(() => '---').join(' | ')} |`,
)
const checks = runs.map(targetChecks)
checks[0]!.forEach((check, i) => {
  const cells = checks.map((c) => {
    const x = c[i]
    return x === undefined
      ? '–'
      : `${x.value}: ${x.met === undefined ? '–' : x.met ? '**met**' : '**missed**'}`
  })
  out.push(`| ${check.target} | ${check.topology} | ${cells.join(' | ')} |`)
})
out.push('')

const pair = (o: number | undefined, n: number | undefined, format = figure) =>
  `${o === undefined ? '–' : format(o)} / ${n === undefined ? '–' : format(n)}`

for (const topology of first.config.topologies) {
  const title = topology === 'cluster' ? 'Redis Cluster, 3 masters' : 'One Redis'
  for (const workload of ['warm', 'misses', 'writes'] as const) {
    out.push(
      `### ${title}, ${workload === 'misses' ? 'warm with misses' : workload === 'writes' ? 'with writes' : 'warm'}: today's / current, each run`,
      '',
      `| instances | run | bus msg/s | bus msg/req | bus bytes/req | Redis out KB/s | Redis CPU ms/1k req | fills/req | load avg |`,
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    )
    for (const n of first.config.instances) {
      runs.forEach((run, r) => {
        const o = cellOf(run, topology, workload, 'old', n)
        const c = cellOf(run, topology, workload, 'new', n)
        if (o === undefined || c === undefined) return
        const fo = figures(o)
        const fc = figures(c)
        out.push(
          `| ${n} | ${r + 1} | ${pair(fo.busMessagesPerSecond, fc.busMessagesPerSecond)} | ${pair(
            fo.busMessagesPerRequest,
            fc.busMessagesPerRequest,
          )} | ${pair(fo.busBytesPerRequest, fc.busBytesPerRequest)} | ${pair(
            fo.outputBytesPerSecond / 1000,
            fc.outputBytesPerSecond / 1000,
          )} | ${pair(fo.redisCpuMsPer1000, fc.redisCpuMsPer1000)} | ${pair(fo.fillsPerRequest, fc.fillsPerRequest)} | ${pair(
            o.loadAverage[1],
            c.loadAverage[1],
            (v) => number(v, 1),
          )} |`,
        )
      })
    }
    out.push('')
  }
  out.push(
    `### ${title}, invalidation latency (ms from the write): today's / current, each run`,
    '',
    '| instances | run | heard p50 | heard p99 | all heard p99 | fresh p50 | fresh p99 | all fresh p99 | event-loop delay p99 (max) | load avg |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  )
  for (const n of first.config.instances) {
    runs.forEach((run, r) => {
      const o = latencyOf(run, topology, 'old', n)
      const c = latencyOf(run, topology, 'new', n)
      if (o === undefined || c === undefined) return
      const lo = latencyFigures(o)
      const lc = latencyFigures(c)
      const ms = (v: number) => number(v, 1)
      out.push(
        `| ${n} | ${r + 1} | ${pair(lo.heard.p50, lc.heard.p50, ms)} | ${pair(lo.heard.p99, lc.heard.p99, ms)} | ${pair(
          lo.allHeard.p99,
          lc.allHeard.p99,
          ms,
        )} | ${pair(lo.fresh.p50, lc.fresh.p50, ms)} | ${pair(lo.fresh.p99, lc.fresh.p99, ms)} | ${pair(
          lo.allFresh.p99,
          lc.allFresh.p99,
          ms,
        )} | ${pair(o.loopDelayP99Ms.max, c.loopDelayP99Ms.max, ms)} | ${pair(
          o.loadAverage[1],
          c.loadAverage[1],
          (v) => number(v, 1),
        )} |`,
      )
    })
  }
  out.push('')
}

out.push(
  '### What one message costs per subscriber (calibration), each run',
  '',
  `${first.config.calibrationMessages} messages of ${first.config.calibrationPayloadBytes} bytes to plain subscriber connections of the bench process (lib/calibrate.ts); the last column is an upper bound (one process reads every subscriber).`,
  '',
  '| topology | pub/sub | subscribers | run | Redis CPU µs per delivery | output bytes per delivery | cluster relays per message | publish → last read p50 / p99 ms |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
)
first.calibrations.forEach((calibration, i) => {
  runs.forEach((run, r) => {
    const c = run.calibrations[i]
    if (c === undefined || c.subscribers !== calibration.subscribers || c.mode !== calibration.mode) return
    out.push(
      `| ${c.topology} | ${c.mode} | ${number(c.subscribers)} | ${r + 1} | ${figure(c.cpuUsPerDelivery)} | ${figure(
        c.outputBytesPerDelivery,
      )} | ${figure(c.relaysPerMessage)} | ${number(c.lastReadMs.p50, 1)} / ${number(c.lastReadMs.p99, 1)} |`,
    )
  })
})
out.push('')

out.push('## The model', '', renderModel(runs))
process.stdout.write(`${out.join('\n')}\n`)
