/** Markdown tables of a run, and the check of every target (issue 6; the response tier's in their own file). */
import { byLayer, fmt, fmtSmall, isSkipped, type Outcomes, type TargetCheck, table } from './outcomes.js'
import { checkResponseTierTargets, responseTierTable } from './report-response-tier.js'
import type { Figures, Skipped } from './scenario.js'

export type { Outcomes }

const PEERS = ['cache-aside', 'bentocache', 'cacheable']

function n1Table(rows: Figures[], churn: boolean): string {
  const header = [
    'layer',
    'req/s',
    'p50 ms',
    'p99 ms',
    'source calls',
    'source rows',
    'Redis cmds/req',
    'in scripts/req',
    'CPU ms/req',
    'peak RSS MB',
    'errors',
  ]
  if (churn) header.push('stale reads', 'behind source', 'updates')
  return table(
    header,
    rows.map((r) => {
      const cells = [
        r.layer,
        fmt(r.requestsPerSecond),
        fmtSmall(r.latency.p50Ms),
        fmtSmall(r.latency.p99Ms),
        fmt(r.source.calls),
        fmt(r.source.rows),
        fmtSmall(r.redis.topLevelPerRequest),
        fmtSmall(r.requests ? r.redis.insideScripts / r.requests : 0),
        fmtSmall(r.cpuMsPerRequest),
        fmt(r.peakRssMb),
        fmt(r.errors),
      ]
      if (churn) cells.push(fmt(r.staleReads), fmt(r.behindSource), fmt(r.source.updates))
      return cells
    }),
  )
}

function stampedeTable(rows: Figures[]): string {
  return table(
    [
      'layer',
      'round',
      'source rows (ideal 100)',
      'source calls',
      'Redis cmds',
      'in scripts',
      'wall ms',
      'req/s',
      'p50 ms',
      'p99 ms',
      'CPU ms/req',
      'peak RSS MB',
      'errors',
    ],
    rows.map((r) => [
      r.layer,
      String(r.round ?? ''),
      fmt(r.source.rows),
      fmt(r.source.calls),
      fmt(r.redis.topLevel),
      fmt(r.redis.insideScripts),
      fmt(r.elapsedMs),
      fmt(r.requestsPerSecond),
      fmtSmall(r.latency.p50Ms),
      fmtSmall(r.latency.p99Ms),
      fmtSmall(r.cpuMsPerRequest),
      fmt(r.peakRssMb),
      fmt(r.errors),
    ]),
  )
}

function hotTable(rows: Figures[]): string {
  return table(
    [
      'layer',
      'req/s',
      'µs/req',
      'time × floor',
      'p50 ms',
      'p99 ms',
      'source calls',
      'Redis cmds/req',
      'CPU ms/req',
      'peak RSS MB',
    ],
    rows.map((r) => [
      r.layer,
      fmt(r.requestsPerSecond),
      fmtSmall(r.extra?.usPerRequest as number),
      fmtSmall(r.extra?.timeVsFloor as number),
      fmtSmall(r.latency.p50Ms),
      fmtSmall(r.latency.p99Ms),
      fmt(r.source.calls),
      fmtSmall(r.redis.topLevelPerRequest),
      fmtSmall(r.cpuMsPerRequest),
      fmt(r.peakRssMb),
    ]),
  )
}

function e2eTable(rows: Figures[]): string {
  return table(
    [
      'server',
      'req/s',
      '× no-cache',
      'p50 ms',
      'p99 ms',
      'SQL statements/req',
      'Redis cmds/req',
      'in scripts/req',
      'server CPU ms/req',
      'peak RSS MB',
      'mutations not visible',
      'errors',
    ],
    rows.map((r) => [
      r.layer,
      fmt(r.requestsPerSecond, r.requestsPerSecond < 100 ? 1 : 0),
      fmtSmall(r.extra?.vsNoCache as number),
      fmtSmall(r.latency.p50Ms),
      fmtSmall(r.latency.p99Ms),
      fmtSmall(r.extra?.statementsPerRequest as number),
      fmtSmall(r.redis.topLevelPerRequest),
      fmtSmall(r.requests ? r.redis.insideScripts / r.requests : 0),
      fmtSmall(r.cpuMsPerRequest),
      fmt(r.peakRssMb),
      `${fmt(r.extra?.mutationsNotVisible as number)} / ${fmt(r.extra?.mutationChecks as number)}`,
      fmt(r.errors),
    ]),
  )
}

export type { TargetCheck }

function bestPeer(rows: Figures[] | Skipped | undefined): Figures | undefined {
  if (rows === undefined || isSkipped(rows)) return undefined
  return rows
    .filter((r) => PEERS.includes(r.layer))
    .sort((a, b) => b.requestsPerSecond - a.requestsPerSecond)[0]
}

export function checkTargets(outcomes: Outcomes): TargetCheck[] {
  const checks: TargetCheck[] = []
  const ratio = (a: Figures | undefined, b: Figures | undefined) =>
    a && b ? a.requestsPerSecond / b.requestsPerSecond : undefined

  const warm = outcomes['n1-warm']
  if (warm !== undefined && !isSkipped(warm)) {
    const lc = byLayer(warm, 'loadcache')
    const peer = bestPeer(warm)
    const none = byLayer(warm, 'no-cache')
    const vsPeer = ratio(lc, peer)
    const vsNone = ratio(lc, none)
    checks.push(
      {
        workload: 'warm',
        target: 'req/s ≥ 4× the best peer',
        measured: `${fmtSmall(vsPeer)}× ${peer?.layer ?? ''} (${fmt(lc?.requestsPerSecond)} vs ${fmt(peer?.requestsPerSecond)})`,
        met: vsPeer === undefined ? undefined : vsPeer >= 4,
      },
      {
        workload: 'warm',
        target: 'req/s ≥ no cache at all',
        measured: `${fmtSmall(vsNone)}× no-cache (${fmt(lc?.requestsPerSecond)} vs ${fmt(none?.requestsPerSecond)})`,
        met: vsNone === undefined ? undefined : vsNone >= 1,
      },
      {
        workload: 'warm',
        target: '≤ 1 Redis command per request',
        measured: fmtSmall(lc?.redis.topLevelPerRequest),
        met: lc === undefined ? undefined : lc.redis.topLevelPerRequest <= 1,
      },
      {
        workload: 'warm',
        target: '≤ 0.25 ms Node CPU per request',
        measured: `${fmtSmall(lc?.cpuMsPerRequest)} ms`,
        met: lc === undefined ? undefined : lc.cpuMsPerRequest <= 0.25,
      },
    )
  }

  const stampede = outcomes['n1-cold-stampede']
  if (stampede !== undefined && !isSkipped(stampede)) {
    const rounds = stampede.filter((r) => r.layer === 'loadcache')
    if (rounds.length > 0) {
      checks.push(
        {
          workload: 'cold-stampede',
          target: 'source rows exactly 100 in every round',
          measured: rounds.map((r) => fmt(r.source.rows)).join(', '),
          met: rounds.every((r) => r.source.rows === 100),
        },
        {
          workload: 'cold-stampede',
          target: '< 2,000 Redis commands',
          measured: `${rounds.map((r) => fmt(r.redis.topLevel)).join(', ')} top-level (${rounds.map((r) => fmt(r.redis.serverCalls)).join(', ')} counting those inside scripts)`,
          met: rounds.every((r) => r.redis.topLevel < 2000),
        },
      )
    }
  }

  const churn = outcomes['n1-churn']
  if (churn !== undefined && !isSkipped(churn)) {
    const lc = byLayer(churn, 'loadcache')
    const peer = bestPeer(churn)
    const vsPeer = ratio(lc, peer)
    checks.push(
      {
        workload: 'churn',
        target: '0 stale reads after invalidate resolved',
        measured: fmt(lc?.staleReads),
        met: lc === undefined ? undefined : lc.staleReads === 0,
      },
      {
        workload: 'churn',
        target: 'req/s ≥ 4× the best peer',
        measured: `${fmtSmall(vsPeer)}× ${peer?.layer ?? ''} (${fmt(lc?.requestsPerSecond)} vs ${fmt(peer?.requestsPerSecond)})`,
        met: vsPeer === undefined ? undefined : vsPeer >= 4,
      },
    )
  }

  const hot = outcomes['hot-path']
  if (hot !== undefined && !isSkipped(hot)) {
    const lc = byLayer(hot, 'loadcache')
    const times = lc?.extra?.timeVsFloor as number | undefined
    checks.push({
      workload: 'hot path',
      target: '≤ 1.5× the time of DataLoader over a Map',
      measured: `${fmtSmall(times)}× (${fmtSmall(lc?.extra?.usPerRequest as number)} µs vs ${fmtSmall(byLayer(hot, 'dataloader-map')?.extra?.usPerRequest as number)} µs per request)`,
      met: times === undefined ? undefined : times <= 1.5,
    })
  }

  const e2e = outcomes['end-to-end']
  if (e2e !== undefined && isSkipped(e2e)) {
    checks.push({
      workload: 'end to end',
      target: '≥ 5× uncached, ≥ response cache',
      measured: `not measured: ${e2e.skipped}`,
      met: undefined,
    })
  } else if (e2e !== undefined) {
    const none = byLayer(e2e, 'no-cache')
    const whole = byLayer(e2e, 'response-cache')
    for (const variant of ['loadcache', 'loadcache-memory']) {
      const lc = byLayer(e2e, variant)
      if (lc === undefined) continue
      const vsNone = ratio(lc, none)
      const vsWhole = ratio(lc, whole)
      checks.push(
        {
          workload: `end to end (${variant})`,
          target: 'req/s ≥ 5× the uncached server',
          measured: `${fmtSmall(vsNone)}× (${fmt(lc.requestsPerSecond, 1)} vs ${fmt(none?.requestsPerSecond, 1)})`,
          met: vsNone === undefined ? undefined : vsNone >= 5,
        },
        {
          workload: `end to end (${variant})`,
          target: 'req/s ≥ the whole-response cache',
          measured: `${fmtSmall(vsWhole)}× (${fmt(lc.requestsPerSecond, 1)} vs ${fmt(whole?.requestsPerSecond, 1)})`,
          met: vsWhole === undefined ? undefined : vsWhole >= 1,
        },
        {
          workload: `end to end (${variant})`,
          target: "every mutation's effect visible on the next read",
          measured: `${fmt(lc.extra?.mutationsNotVisible as number)} of ${fmt(lc.extra?.mutationChecks as number)} not visible`,
          met: lc.extra?.mutationsNotVisible === 0,
        },
      )
    }
  }
  checks.push(...checkResponseTierTargets(outcomes))
  return checks
}

export function renderMarkdown(outcomes: Outcomes, titles: Record<string, string>): string {
  const parts: string[] = []
  for (const [name, outcome] of Object.entries(outcomes)) {
    parts.push(`### ${titles[name] ?? name}\n`)
    if (isSkipped(outcome)) {
      parts.push(`Not measured: ${outcome.skipped}.\n`)
      continue
    }
    if (name === 'n1-cold-stampede') parts.push(stampedeTable(outcome))
    else if (name === 'hot-path') parts.push(hotTable(outcome))
    else if (name === 'end-to-end') parts.push(e2eTable(outcome))
    else if (name.startsWith('response-')) parts.push(responseTierTable(name, outcome))
    else parts.push(n1Table(outcome, name === 'n1-churn'))
    const failed = outcome.filter((r) => r.errors > 0)
    for (const r of failed)
      parts.push(`\n${r.layer}: ${r.errors} failed requests; first: \`${r.firstError?.split('\n')[0]}\``)
    parts.push('')
  }
  const checks = checkTargets(outcomes)
  if (checks.length > 0) {
    parts.push("### Targets, loadcache (issue 6, and the response tier's)\n")
    parts.push(
      table(
        ['workload', 'target', 'measured', 'met'],
        checks.map((c) => [
          c.workload,
          c.target,
          c.measured,
          c.met === undefined ? '–' : c.met ? 'yes' : '**no**',
        ]),
        4,
      ),
    )
    parts.push('')
  }
  return parts.join('\n')
}
