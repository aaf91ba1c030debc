export type BreakerState = 'closed' | 'open' | 'half-open'

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number
  /** How long the breaker stays open before a probe may close it, in ms. */
  breakDurationMs: number
  onStateChange: (state: BreakerState, previous: BreakerState) => void
}

/**
 * Counts consecutive Redis failures. While open, callers skip Redis entirely (no commands pile up in the
 * client's queue behind a dead server). After `breakDurationMs` the owner runs a probe (see RedisTier); only
 * the probe's success closes the breaker, so L2 is trusted again only after the probe has run.
 *
 * One failure does not open it (bentocache's breaker opens on the first error, which turns a single
 * timeout into seconds of cache misses).
 */
export class CircuitBreaker {
  #state: BreakerState = 'closed'
  #failures = 0
  #openedAt = 0
  readonly #options: CircuitBreakerOptions

  constructor(options: CircuitBreakerOptions) {
    this.#options = options
  }

  get state(): BreakerState {
    return this.#state
  }

  /** Whether normal operations may use Redis now. */
  get isClosed(): boolean {
    return this.#state === 'closed'
  }

  /** Whether the break duration has passed, so a probe should run. `now` is monotonic (performance.now()). */
  probeDue(now: number): boolean {
    return this.#state === 'open' && now - this.#openedAt >= this.#options.breakDurationMs
  }

  /** How long until a probe is due, in ms (0 when it is due now). */
  msUntilProbe(now: number): number {
    return Math.max(0, this.#openedAt + this.#options.breakDurationMs - now)
  }

  recordSuccess(): void {
    this.#failures = 0
  }

  recordFailure(now: number): void {
    this.#failures++
    if (this.#state === 'closed' && this.#failures >= this.#options.failureThreshold) this.#open(now)
  }

  beginProbe(): void {
    if (this.#state === 'open') this.#transition('half-open')
  }

  probeSucceeded(): void {
    this.#failures = 0
    if (this.#state !== 'closed') this.#transition('closed')
  }

  probeFailed(now: number): void {
    this.#open(now)
  }

  #open(now: number): void {
    this.#openedAt = now
    if (this.#state !== 'open') this.#transition('open')
  }

  #transition(next: BreakerState): void {
    const previous = this.#state
    this.#state = next
    this.#options.onStateChange(next, previous)
  }
}
