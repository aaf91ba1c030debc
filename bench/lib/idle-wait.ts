/**
 * Waiting for a quiet machine before a measured run. The benchmark machine may be shared (other
 * engineers' test suites), which distorts every CPU-bound figure; the 1-minute load average is the
 * cheapest signal of it. What happened is recorded in the results, whether or not the wait succeeded.
 */
import os from 'node:os'
import { sleep } from './measure.js'

const POLL_MS = 30_000

export interface IdleWait {
  /** The threshold waited for (1-minute load average). */
  threshold: number
  /** Load average when the wait began. */
  loadAtStart: number
  /** Load average when it ended (below the threshold, unless it gave up). */
  loadAtEnd: number
  waitedSeconds: number
  /** True when the timeout passed first: the run went ahead on a busy machine. */
  gaveUp: boolean
}

/** Polls `os.loadavg()[0]` every 30 s until it is below `threshold`, for at most `timeoutMinutes`. */
export async function waitForIdle(
  threshold: number,
  timeoutMinutes: number,
  log: (message: string) => void,
): Promise<IdleWait> {
  const started = performance.now()
  const deadline = started + timeoutMinutes * 60_000
  const loadAtStart = os.loadavg()[0]!
  let load = loadAtStart
  while (load >= threshold && performance.now() < deadline) {
    log(
      `load average ${load.toFixed(2)} ≥ ${threshold}: waiting (polling every 30 s, up to ${timeoutMinutes} min)`,
    )
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - performance.now())))
    load = os.loadavg()[0]!
  }
  const waitedSeconds = Math.round((performance.now() - started) / 1000)
  const gaveUp = load >= threshold
  log(
    gaveUp
      ? `load average still ${load.toFixed(2)} after ${waitedSeconds} s: running anyway (recorded)`
      : `load average ${load.toFixed(2)} < ${threshold} after ${waitedSeconds} s`,
  )
  return { threshold, loadAtStart, loadAtEnd: load, waitedSeconds, gaveUp }
}
