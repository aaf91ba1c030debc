/** Closed-loop load generation and the per-process figures every scenario reports. */

export interface LatencySummary {
  count: number
  meanMs: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

export function summarize(latencies: readonly number[]): LatencySummary {
  if (latencies.length === 0) return { count: 0, meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 }
  const sorted = Float64Array.from(latencies).sort()
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  let sum = 0
  for (const value of sorted) sum += value
  return {
    count: sorted.length,
    meanMs: sum / sorted.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: sorted[sorted.length - 1]!,
  }
}

export interface LoopResult {
  requests: number
  errors: number
  elapsedMs: number
  latencies: number[]
  firstError: string | undefined
}

/**
 * Runs `request` on `concurrency` workers, each starting its next request as soon as the previous one
 * finished (a closed loop), until `durationMs` have passed. Requests in flight at the deadline finish and
 * count; the elapsed time runs until the last of them.
 *
 * Each request starts on a fresh macrotask (`setImmediate`), as a request arriving over HTTP would. Without
 * it, requests served entirely from memory chain through microtasks only, and the loop could run for
 * hundreds of milliseconds without ever reading a socket or firing a timer, which no server does.
 * Latency runs from the moment a worker wants to start a request (so it includes waiting for the event
 * loop, as a closed-loop client would see it) to the moment the request resolved.
 */
export async function closedLoop(options: {
  concurrency: number
  durationMs: number
  request: (index: number) => Promise<void>
}): Promise<LoopResult> {
  const latencies: number[] = []
  let requests = 0
  let errors = 0
  let firstError: string | undefined
  let next = 0
  const started = performance.now()
  const deadline = started + options.durationMs
  const worker = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now()
      await yieldToEventLoop()
      const index = next++
      try {
        await options.request(index)
      } catch (error) {
        errors++
        firstError ??= error instanceof Error ? (error.stack ?? error.message) : String(error)
      }
      latencies.push(performance.now() - t0)
      requests++
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker))
  return { requests, errors, elapsedMs: performance.now() - started, latencies, firstError }
}

/** CPU time of this process since `from` (user + system), ms. */
export function cpuMsSince(from: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(from)
  return (used.user + used.system) / 1000
}

/** Peak resident set size of this process so far, MB. */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024
}

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
