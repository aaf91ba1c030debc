/**
 * Combines several runs (bench/results/*.json) for bench/RESULTS.md: writes one chart with a bar per run
 * (bench/results/chart.svg) and prints a side-by-side headline table and every run's target checks.
 *
 *   npx tsx bench/summarize.ts [--chart=<name>.svg] bench/results/<run 1>.json bench/results/<run 2>.json
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { renderChart } from './lib/chart.js'
import type { Outcomes, TargetCheck } from './lib/report.js'
import type { Figures } from './lib/scenario.js'
import { repoRoot } from './lib/workers.js'

interface RunFile {
  finishedAt: string
  machine: { nproc: number; cpuModel: string; node: string; redis: string }
  targets: TargetCheck[]
  outcomes: Outcomes
}

// `--chart=<name>.svg` writes the chart under another name in bench/results (default chart.svg), so
// that one section of RESULTS.md can have its own.
const chartName =
  process.argv.find((arg) => arg.startsWith('--chart='))?.slice('--chart='.length) ?? 'chart.svg'
const files = process.argv.slice(2).filter((arg) => !arg.startsWith('--chart='))
if (files.length === 0) {
  console.error('usage: npx tsx bench/summarize.ts [--chart=<name>.svg] <run.json> [<run.json> …]')
  process.exit(2)
}
const runs = files.map((file, i) => ({
  file: basename(file),
  label: `run ${i + 1}`,
  data: JSON.parse(readFileSync(file, 'utf8')) as RunFile,
}))
const first = runs[0]!.data.machine
const subtitle = `${first.nproc} × ${first.cpuModel}, Node ${first.node}, Redis ${first.redis} on loopback; ${runs.map((r) => `${r.label} = ${r.file}`).join(', ')}`
const chartPath = join(repoRoot, 'bench', 'results', basename(chartName))
writeFileSync(
  chartPath,
  renderChart(
    runs.map((r) => ({ label: r.label, outcomes: r.data.outcomes })),
    subtitle,
  ),
)

const fmt = (v: number | undefined) =>
  v === undefined || !Number.isFinite(v)
    ? '–'
    : v < 100
      ? v.toFixed(1)
      : Math.round(v).toLocaleString('en-US')

/** Requests/s per layer, mean over stampede rounds. */
function rps(rows: Figures[], layer: string): number | undefined {
  const mine = rows.filter((r) => r.layer === layer)
  return mine.length === 0 ? undefined : mine.reduce((a, r) => a + r.requestsPerSecond, 0) / mine.length
}

const lines: string[] = []
const scenarios = [...new Set(runs.flatMap((r) => Object.keys(r.data.outcomes)))]
lines.push(`| workload | layer | ${runs.map((r) => `req/s ${r.label}`).join(' | ')} |`)
lines.push(`| --- | --- | ${runs.map(() => '---:').join(' | ')} |`)
for (const scenario of scenarios) {
  const layers = [
    ...new Set(
      runs.flatMap((r) => {
        const o = r.data.outcomes[scenario]
        return o && !('skipped' in o) ? o.map((f) => f.layer) : []
      }),
    ),
  ]
  for (const layer of layers) {
    const cells = runs.map((r) => {
      const o = r.data.outcomes[scenario]
      return o && !('skipped' in o) ? fmt(rps(o, layer)) : '–'
    })
    lines.push(`| ${scenario} | ${layer} | ${cells.join(' | ')} |`)
  }
}
lines.push('')
lines.push(`| workload | target | ${runs.map((r) => r.label).join(' | ')} |`)
lines.push(`| --- | --- | ${runs.map(() => '---').join(' | ')} |`)
const targets = runs[0]!.data.targets
for (let i = 0; i < targets.length; i++) {
  const t = targets[i]!
  const cells = runs.map((r) => {
    const c = r.data.targets.find((x) => x.workload === t.workload && x.target === t.target)
    if (c === undefined) return '–'
    return `${c.measured} ${c.met === undefined ? '' : c.met ? '(met)' : '(**missed**)'}`
  })
  lines.push(`| ${t.workload} | ${t.target} | ${cells.join(' | ')} |`)
}
console.log(lines.join('\n'))
console.error(`wrote ${chartPath}`)
