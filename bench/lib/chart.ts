/**
 * The requests/s chart: one panel per workload, one horizontal bar per layer, each panel on its own
 * linear scale (the workloads differ by orders of magnitude). Plain SVG, no dependencies. With several runs,
 * each layer gets one bar per run (run 1 solid, run 2 lighter), so run-to-run noise is visible.
 */
import type { Figures, Skipped } from './scenario.js'

const COLORS: Record<string, string> = {
  'no-cache': '#8c8c8c',
  'cache-aside': '#e69f00',
  bentocache: '#56b4e9',
  cacheable: '#009e73',
  loadcache: '#d55e00',
  'loadcache-memory': '#cc79a7',
  'dataloader-map': '#0072b2',
  'response-cache': '#f0e442',
  'response-cache-redis': '#b8a000',
}

const PANELS: { scenario: string; title: string }[] = [
  { scenario: 'n1-warm', title: 'N+1 warm (req/s)' },
  {
    scenario: 'n1-cold-stampede',
    title: 'Cold stampede, 500 requests over 4 processes (req/s, mean of rounds)',
  },
  { scenario: 'n1-churn', title: 'N+1 churn (req/s)' },
  { scenario: 'hot-path', title: 'Hot path, all in L1 (req/s)' },
  { scenario: 'end-to-end', title: 'End to end over HTTP, example API feed query (req/s)' },
  { scenario: 'response-hits', title: 'Response tier: feed query hits over HTTP (req/s)' },
  { scenario: 'response-churn', title: 'Response tier: feed reads under writes (reads/s)' },
]

function label(value: number): string {
  return value < 100 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US')
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** Requests/s per layer of one scenario (mean over stampede rounds), in table order. */
function series(outcome: Figures[] | Skipped | undefined): Map<string, number> {
  const out = new Map<string, number>()
  if (outcome === undefined || 'skipped' in outcome) return out
  const sums = new Map<string, { total: number; n: number }>()
  for (const row of outcome) {
    const s = sums.get(row.layer) ?? { total: 0, n: 0 }
    s.total += row.requestsPerSecond
    s.n++
    sums.set(row.layer, s)
  }
  for (const [layer, s] of sums) out.set(layer, s.total / s.n)
  return out
}

export function renderChart(
  runs: { label: string; outcomes: Record<string, Figures[] | Skipped> }[],
  subtitle: string,
): string {
  const width = 960
  const labelWidth = 150
  const valueWidth = 90
  const barHeight = 14
  const barGap = 3
  const layerGap = 8
  const panelGap = 26
  const plotWidth = width - labelWidth - valueWidth - 30
  const elements: string[] = []
  let y = 56
  elements.push(
    `<text x="20" y="26" font-size="18" font-weight="bold">Requests per second, per layer and workload (higher is better)</text>`,
    `<text x="20" y="44" font-size="12" fill="#555">${escapeXml(subtitle)}</text>`,
  )
  for (const panel of PANELS) {
    const perRun = runs.map((run) => series(run.outcomes[panel.scenario]))
    const layers = [...new Set(perRun.flatMap((s) => [...s.keys()]))]
    if (layers.length === 0) continue
    const max = Math.max(...perRun.flatMap((s) => [...s.values()]), 1)
    y += 18
    elements.push(`<text x="20" y="${y}" font-size="14" font-weight="bold">${escapeXml(panel.title)}</text>`)
    y += 8
    for (const layer of layers) {
      const groupTop = y
      perRun.forEach((s, runIndex) => {
        const value = s.get(layer)
        if (value === undefined) return
        const w = Math.max(1, (value / max) * plotWidth)
        const opacity = runIndex === 0 ? 1 : 0.55
        elements.push(
          `<rect x="${labelWidth + 20}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${COLORS[layer] ?? '#444'}" fill-opacity="${opacity}"><title>${escapeXml(`${layer} ${runs[runIndex]?.label}: ${label(value)} req/s`)}</title></rect>`,
          `<text x="${(labelWidth + 26 + w).toFixed(1)}" y="${y + barHeight - 3}" font-size="11">${label(value)}${runs.length > 1 ? ` (${escapeXml(runs[runIndex]?.label ?? '')})` : ''}</text>`,
        )
        y += barHeight + barGap
      })
      const groupMiddle = (groupTop + y - barGap) / 2
      elements.push(
        `<text x="${labelWidth + 12}" y="${(groupMiddle + 4).toFixed(1)}" font-size="12" text-anchor="end">${escapeXml(layer)}</text>`,
      )
      y += layerGap - barGap
    }
    y += panelGap - layerGap
  }
  const height = y + 10
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" role="img">`,
    `<title>Requests per second per layer and workload; ${escapeXml(subtitle)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...elements,
    '</svg>',
    '',
  ].join('\n')
}
