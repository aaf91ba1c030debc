import { withDeadline } from '../core/deadline.js'
import { LoadCacheError } from '../core/errors.js'
import { runLimited } from './chunks.js'
import { type BreakerState, CircuitBreaker } from './circuit-breaker.js'
import type { RedisClient } from './scripts.js'

/**
 * Runs one Redis round trip on a tracer's behalf (a span that is active while the command is in flight):
 * must call `run` once and return what it returns, rejections included.
 */
export type CommandTracer = <T>(operation: string, run: () => Promise<T>) => Promise<T>

export interface RedisCommandsOptions {
  readonly client: RedisClient
  readonly timeoutMs: number
  readonly failureThreshold: number
  readonly breakDurationMs: number
  readonly onBreakerChange: (state: BreakerState, previous: BreakerState, cause: string | undefined) => void
  readonly onError: (error: unknown, operation: string) => void
  /** Every operation's outcome and duration (for metrics and traces). */
  readonly onCommand?: (operation: string, durationMs: number, error?: unknown) => void
  /**
   * What a half-open probe sends (the invalidations waiting for replay, or a PING): its success closes the
   * breaker, its failure opens it again.
   */
  readonly probe: () => Promise<void>
}

/** Single-key commands (tag versions on Redis Cluster) in flight at once. */
const TAG_COMMANDS_IN_FLIGHT = 64

class RedisTimeoutError extends Error {
  constructor(operation: string, timeoutMs: number) {
    super(`[loadcache] [redis] ${operation} timed out after ${timeoutMs} ms`)
    this.name = 'RedisTimeoutError'
  }
}

/**
 * How every Redis round trip runs: bounded by `timeoutMs`, reported (`onCommand`, `onError`, the tracer),
 * and counted by the circuit breaker, whose half-open probe this class schedules and runs.
 */
export class RedisCommands {
  readonly client: RedisClient
  readonly breaker: CircuitBreaker
  readonly #o: RedisCommandsOptions
  #probeTimer: NodeJS.Timeout | undefined
  #lastFault: string | undefined
  #closed = false
  /** Set while a tracer (loadcache/otel) instruments the cache; undefined costs one check per command. */
  tracer: CommandTracer | undefined

  constructor(options: RedisCommandsOptions) {
    this.#o = options
    this.client = options.client
    this.breaker = new CircuitBreaker({
      failureThreshold: options.failureThreshold,
      breakDurationMs: options.breakDurationMs,
      onStateChange: (state, previous) => {
        options.onBreakerChange(state, previous, state === 'open' ? this.#lastFault : undefined)
        if (state === 'open') this.#scheduleProbe()
      },
    })
  }

  async run<T>(operation: string, command: () => Promise<T>): Promise<T> {
    const started = performance.now()
    const tracer = this.tracer
    try {
      const result = await (tracer === undefined
        ? this.withTimeout(operation, command())
        : tracer(operation, () => this.withTimeout(operation, command())))
      this.breaker.recordSuccess()
      this.#o.onCommand?.(operation, performance.now() - started)
      return result
    } catch (error) {
      this.#o.onCommand?.(operation, performance.now() - started, error)
      this.#o.onError(error, operation)
      // Only Redis's own faults count towards the breaker (a timeout, a lost connection, an error reply):
      // an error raised in this process before anything reached Redis says nothing about Redis. During a
      // half-open probe the probe itself decides; counting here too would double-open.
      if (isRedisFault(error) && this.breaker.state === 'closed') {
        this.#lastFault = `${operation}: ${describeError(error)}`
        this.breaker.recordFailure(performance.now())
      }
      throw error
    }
  }

  /**
   * Runs `command` for each item (a tag's command on Redis Cluster), TAG_COMMANDS_IN_FLIGHT at a time, each
   * bounded by a timeout of its own: 100,000 tags take longer than any round trip, and one timeout over the
   * lot failed a whole invalidation on a loaded machine (queued, past the queue's bound, dropped).
   */
  runEach<T, R>(operation: string, items: readonly T[], command: (item: T) => Promise<R>): Promise<R[]> {
    return runLimited(items, (item) => this.run(operation, () => command(item)), TAG_COMMANDS_IN_FLIGHT)
  }

  withTimeout<T>(operation: string, promise: Promise<T>): Promise<T> {
    const timeoutMs = this.#o.timeoutMs
    // A reply that arrived while the event loop was blocked past the deadline wins over the timer: a busy
    // process must not mistake a healthy Redis for a slow one (and open its breaker, flushing L1).
    return withDeadline(promise, timeoutMs, () => new RedisTimeoutError(operation, timeoutMs), true)
  }

  /** Stops the probe: once closed, an open breaker stays open. */
  close(): void {
    this.#closed = true
    if (this.#probeTimer) clearTimeout(this.#probeTimer)
  }

  #scheduleProbe(): void {
    if (this.#closed || this.#probeTimer) return
    this.#probeTimer = setTimeout(
      () => {
        this.#probeTimer = undefined
        void this.#probe()
      },
      Math.max(1, this.breaker.msUntilProbe(performance.now())),
    )
    this.#probeTimer.unref()
  }

  /** Half-open: replay what is queued (or PING), and close the breaker only if that succeeded. */
  async #probe(): Promise<void> {
    if (this.#closed) return
    // Timers may fire a little early; never drop the probe, or the breaker would stay open for good.
    if (!this.breaker.probeDue(performance.now())) {
      this.#scheduleProbe()
      return
    }
    this.breaker.beginProbe()
    try {
      await this.#o.probe()
      this.breaker.probeSucceeded()
    } catch (error) {
      this.#o.onError(error, 'probe')
      this.#lastFault = `probe: ${describeError(error)}`
      this.breaker.probeFailed(performance.now())
    }
  }
}

/**
 * Whether an error says something about Redis: a timeout, a connection that failed or closed, an error
 * reply. Errors this process raised before sending anything (a RangeError building a command, our own
 * reply checks) do not.
 */
function isRedisFault(error: unknown): boolean {
  if (error instanceof RedisTimeoutError) return true
  if (error instanceof RangeError || error instanceof TypeError || error instanceof SyntaxError) return false
  if (error instanceof LoadCacheError) return false
  return true
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
