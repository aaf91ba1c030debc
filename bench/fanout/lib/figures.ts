/** The figures derived from one measurement, as the tables and the model use them. */
import type { LatencyCell, WorkloadCell } from './measure.js'

export interface Figures {
  readonly requestsPerSecond: number
  readonly fillsPerRequest: number
  readonly fillBatchesPerRequest: number
  readonly l2ReadsPerRequest: number
  /** Bus messages published (notices + invalidations), per second and per request. */
  readonly busMessagesPerSecond: number
  readonly busMessagesPerRequest: number
  readonly noticesPerRequest: number
  readonly invalidationMessagesPerRequest: number
  /** Bytes Redis wrote to the bus's subscribers (every message × every subscriber), per request and second. */
  readonly busBytesPerRequest: number
  readonly busBytesPerSecond: number
  /** Mean bytes of one message as written to one subscriber. */
  readonly wireBytesPerMessage: number
  /** Redis output bytes (all nodes, the tap excluded), per second and per request. */
  readonly outputBytesPerSecond: number
  readonly outputBytesPerRequest: number
  readonly redisCpuMsPer1000: number
  readonly scriptsPerRequest: number
  readonly pingsPerSecond: number
  readonly clusterRelaysPerRequest: number
  readonly instanceCpuMsPerRequest: number
}

export function figures(cell: WorkloadCell): Figures {
  const { requests, redis, tap } = cell
  const perRequest = (n: number) => (requests === 0 ? 0 : n / requests)
  const messages = tap.notices + tap.invalidations
  const busBytes = tap.wireBytes * cell.subscribers
  const output = redis.outputBytes - tap.wireBytes
  const calls = (name: string) => redis.calls[name] ?? 0
  return {
    requestsPerSecond: requests / cell.seconds,
    fillsPerRequest: perRequest(cell.counters.idsFetched),
    fillBatchesPerRequest: perRequest(cell.counters.fetchCalls),
    l2ReadsPerRequest: perRequest(cell.counters.l2Hits),
    busMessagesPerSecond: messages / redis.seconds,
    busMessagesPerRequest: perRequest(messages),
    noticesPerRequest: perRequest(tap.notices),
    invalidationMessagesPerRequest: perRequest(tap.invalidations),
    busBytesPerRequest: perRequest(busBytes),
    busBytesPerSecond: busBytes / redis.seconds,
    wireBytesPerMessage: messages + tap.other === 0 ? 0 : tap.wireBytes / (messages + tap.other),
    outputBytesPerSecond: output / redis.seconds,
    outputBytesPerRequest: perRequest(output),
    redisCpuMsPer1000: perRequest(redis.cpuMs) * 1000,
    scriptsPerRequest: perRequest(calls('evalsha') + calls('eval')),
    pingsPerSecond: calls('ping') / redis.seconds,
    clusterRelaysPerRequest: perRequest(redis.clusterRelays),
    instanceCpuMsPerRequest: perRequest(cell.instanceCpuMs),
  }
}

export interface LatencyFigures {
  /** Over every (write, other instance) pair. */
  readonly heard: Quantiles
  readonly fresh: Quantiles
  readonly pollFresh: Quantiles
  /** Per write, the last of the other instances: "every other instance fresh". */
  readonly allHeard: Quantiles
  readonly allFresh: Quantiles
  /** Pairs where the invalidation was never heard, or no read came back fresh, within 3 s. */
  readonly missed: number
  readonly staleAfterHeard: number
  readonly invalidateCall: Quantiles
}

export interface Quantiles {
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly n: number
}

export function quantiles(values: readonly number[]): Quantiles {
  const sorted = [...values].sort((a, b) => a - b)
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  const at = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? Number.NaN, n: sorted.length }
}

export function latencyFigures(cell: LatencyCell): LatencyFigures {
  const pairs = cell.samples.flat()
  const present = (values: (number | null)[]) => values.filter((v): v is number => v !== null)
  const lastOf = (pick: (s: (typeof pairs)[number]) => number | null) =>
    cell.samples.map((round) => {
      const values = round.map(pick)
      return values.includes(null) ? Number.POSITIVE_INFINITY : Math.max(...(values as number[]))
    })
  return {
    heard: quantiles(present(pairs.map((s) => s[0]))),
    fresh: quantiles(present(pairs.map((s) => s[1]))),
    pollFresh: quantiles(present(pairs.map((s) => s[2]))),
    allHeard: quantiles(lastOf((s) => s[0])),
    allFresh: quantiles(lastOf((s) => s[1])),
    missed: pairs.filter((s) => s[0] === null || s[1] === null).length,
    staleAfterHeard: pairs.reduce((n, s) => n + s[4], 0),
    invalidateCall: quantiles(cell.invalidateMs),
  }
}
