import type { Registry } from 'prom-client'

/** One scrape of a registry, parsed: the value of each series, looked up by name and labels (any order). */
export interface Scrape {
  readonly text: string
  /** The sample's value, or undefined when the scrape has no such series. */
  value(name: string, labels?: Record<string, string>): number | undefined
  /** The `# TYPE` of a metric family, or undefined. */
  type(name: string): string | undefined
}

/** Scrapes a prom-client registry, as Prometheus would. */
export async function scrape(registry: Registry): Promise<Scrape> {
  return parseMetrics(await registry.metrics())
}

/** Parses the Prometheus text exposition format (0.0.4). */
export function parseMetrics(text: string): Scrape {
  const values = new Map<string, number>()
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type) types.set(type[1]!, type[2]!)
    if (line === '' || line.startsWith('#')) continue
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!sample) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const match of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    }
    values.set(seriesKey(sample[1]!, labels), Number(sample[3]))
  }
  return {
    text,
    value: (name, labels = {}) => values.get(seriesKey(name, labels)),
    type: (name) => types.get(name),
  }
}

function seriesKey(name: string, labels: Record<string, string>): string {
  const sorted = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `${name}${JSON.stringify(sorted)}`
}
