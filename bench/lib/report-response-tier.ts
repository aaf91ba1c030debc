/**
 * Tables and target checks of the response-tier workloads (response-hits, response-churn,
 * response-stampede). The targets are the "What must be shown": on the feed query's hits, at
 * least 1.5× the in-memory response cache's req/s, 2× its Redis store's and 20× no cache, with a p99 no
 * higher than the response cache's; no read that misses a resolved write; one execution per cold stampede.
 */
import { byLayer, fmt, fmtSmall, isSkipped, type Outcomes, type TargetCheck, table } from './outcomes.js'
import type { Figures } from './scenario.js'

function hitsTable(rows: Figures[]): string {
  return table(
    [
      'server',
      'req/s',
      '× no-cache',
      'p50 ms',
      'p99 ms',
      'server CPU ms/req',
      'executions/req',
      'SQL/req',
      'body bytes',
      'bytes/response (wire)',
      'Redis cmds/req',
      'Redis bytes read/req',
      'errors',
    ],
    rows.map((r) => [
      r.layer,
      fmt(r.requestsPerSecond),
      fmtSmall(r.extra?.vsNoCache as number),
      fmtSmall(r.latency.p50Ms),
      fmtSmall(r.latency.p99Ms),
      fmtSmall(r.cpuMsPerRequest),
      fmtSmall(r.extra?.executionsPerRequest as number),
      fmtSmall(r.extra?.statementsPerRequest as number),
      fmt(r.extra?.bodyBytes as number),
      fmt(r.extra?.wireBytesPerResponse as number),
      fmtSmall(r.redis.topLevelPerRequest),
      fmt(r.extra?.redisBytesReadPerRequest as number),
      fmt(r.errors),
    ]),
  )
}

function churnTable(rows: Figures[]): string {
  return table(
    [
      'server',
      'reads/s',
      'p50 ms',
      'p99 ms',
      'writes (renames + comments)',
      'reads checked',
      'not visible',
      'of which renames',
      'of which comments',
      'executions/read',
      'server CPU ms/read',
      'errors',
    ],
    rows.map((r) => [
      r.layer,
      fmt(r.requestsPerSecond),
      fmtSmall(r.latency.p50Ms),
      fmtSmall(r.latency.p99Ms),
      `${fmt(r.source.updates)} (${fmt(r.extra?.renames as number)} + ${fmt(r.extra?.comments as number)})`,
      fmt(r.extra?.readsChecked as number),
      fmt(r.extra?.notVisible as number),
      fmt(r.extra?.renamesNotVisible as number),
      fmt(r.extra?.commentsNotVisible as number),
      fmtSmall(r.extra?.executionsPerRead as number),
      fmtSmall(r.cpuMsPerRequest),
      fmt(r.errors),
    ]),
  )
}

function stampedeTable(rows: Figures[]): string {
  return table(
    [
      'server',
      'round',
      'requests',
      'executions',
      'per instance',
      'SQL statements',
      'Redis cmds',
      'wall ms',
      'p50 ms',
      'p99 ms',
      'distinct bodies',
      'errors',
    ],
    rows.map((r) => [
      r.layer,
      String(r.round ?? ''),
      `${fmt(r.extra?.instances as number)} × ${fmt(r.extra?.requestsPerInstance as number)}`,
      fmt(r.extra?.executions as number),
      ((r.extra?.executionsPerInstance as number[] | undefined) ?? []).join(', '),
      fmt(r.source.calls),
      fmt(r.redis.topLevel),
      fmt(r.elapsedMs),
      fmtSmall(r.latency.p50Ms),
      fmtSmall(r.latency.p99Ms),
      fmt(r.extra?.distinctBodies as number),
      fmt(r.errors),
    ]),
  )
}

export function responseTierTable(name: string, rows: Figures[]): string {
  if (name === 'response-hits') return hitsTable(rows)
  if (name === 'response-churn') return churnTable(rows)
  return stampedeTable(rows)
}

function ratioCheck(
  workload: string,
  lc: Figures,
  other: Figures | undefined,
  times: number,
): TargetCheck | undefined {
  if (other === undefined) return undefined
  const ratio = lc.requestsPerSecond / other.requestsPerSecond
  return {
    workload,
    target: `req/s ≥ ${times}× ${other.layer}`,
    measured: `${fmtSmall(ratio)}× (${fmt(lc.requestsPerSecond)} vs ${fmt(other.requestsPerSecond)})`,
    met: ratio >= times,
  }
}

export function checkResponseTierTargets(outcomes: Outcomes): TargetCheck[] {
  const checks: (TargetCheck | undefined)[] = []
  const hits = outcomes['response-hits']
  const lcHits = byLayer(hits, 'loadcache')
  if (lcHits !== undefined) {
    const workload = 'response tier, hits'
    const memory = byLayer(hits, 'response-cache')
    checks.push(
      ratioCheck(workload, lcHits, memory, 1.5),
      ratioCheck(workload, lcHits, byLayer(hits, 'response-cache-redis'), 2),
      ratioCheck(workload, lcHits, byLayer(hits, 'no-cache'), 20),
    )
    if (memory !== undefined) {
      checks.push({
        workload,
        target: 'p99 ≤ response-cache p99',
        measured: `${fmtSmall(lcHits.latency.p99Ms)} ms vs ${fmtSmall(memory.latency.p99Ms)} ms`,
        met: lcHits.latency.p99Ms <= memory.latency.p99Ms,
      })
    }
  }

  const churn = outcomes['response-churn']
  const lcChurn = byLayer(churn, 'loadcache')
  if (lcChurn !== undefined && churn !== undefined && !isSkipped(churn)) {
    const peers = churn
      .filter((r) => r.layer !== 'loadcache')
      .map((r) => `${r.layer} ${fmt(r.extra?.notVisible as number)}`)
      .join(', ')
    checks.push({
      workload: 'response tier, churn',
      target: '0 reads missing a resolved write',
      measured: `${fmt(lcChurn.extra?.notVisible as number)} of ${fmt(lcChurn.extra?.readsChecked as number)} (peers: ${peers})`,
      met: lcChurn.extra?.notVisible === 0 && lcChurn.errors === 0,
    })
  }

  const stampede = outcomes['response-stampede']
  if (stampede !== undefined && !isSkipped(stampede)) {
    const rounds = stampede.filter((r) => r.layer === 'loadcache')
    if (rounds.length > 0) {
      const peers = [...new Set(stampede.map((r) => r.layer))]
        .filter((layer) => layer !== 'loadcache')
        .map(
          (layer) =>
            `${layer} ${stampede
              .filter((r) => r.layer === layer)
              .map((r) => fmt(r.extra?.executions as number))
              .join(', ')}`,
        )
        .join('; ')
      checks.push({
        workload: 'response tier, cold stampede',
        target: '1 execution per round, fleet-wide',
        measured: `${rounds.map((r) => fmt(r.extra?.executions as number)).join(', ')} (peers: ${peers})`,
        met: rounds.every(
          (r) => r.extra?.executions === 1 && r.errors === 0 && r.extra?.distinctBodies === 1,
        ),
      })
    }
  }
  return checks.filter((check): check is TargetCheck => check !== undefined)
}
