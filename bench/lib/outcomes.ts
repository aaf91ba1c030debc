/** A run's outcomes by scenario, and the formatting both report modules share. */
import type { Figures, Skipped } from './scenario.js'

export type Outcomes = Record<string, Figures[] | Skipped>

/** One target of an issue, checked against a run. `met` is undefined when the run did not measure it. */
export interface TargetCheck {
  workload: string
  target: string
  measured: string
  met: boolean | undefined
}

export function fmt(value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return '–'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** Two significant decimals for small values, fewer for big ones. */
export function fmtSmall(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–'
  if (value === 0) return '0'
  if (value < 0.01) return value.toFixed(4)
  if (value < 1) return value.toFixed(3)
  if (value < 100) return value.toFixed(2)
  return fmt(value)
}

/** A Markdown table; columns after the first `textColumns` are right-aligned (numbers). */
export function table(header: string[], rows: string[][], textColumns = 1): string {
  const align = header.map((_, i) => (i < textColumns ? '---' : '---:'))
  return [header, align, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n')
}

export function isSkipped(outcome: Figures[] | Skipped | undefined): outcome is Skipped {
  return outcome !== undefined && 'skipped' in outcome
}

export function byLayer(rows: Figures[] | Skipped | undefined, layer: string): Figures | undefined {
  if (rows === undefined || isSkipped(rows)) return undefined
  return rows.find((r) => r.layer === layer)
}
