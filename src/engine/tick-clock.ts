/**
 * One reading of the wall clock and the monotonic clock for everything that runs before the next microtask
 * checkpoint: a request's resolvers call `load(id)` a hundred times in one synchronous run, and reading both
 * clocks for each cost more than the L1 lookup itself (~110 ns a pair on the benchmark machine).
 *
 * A reading is as old as the synchronous run that took it (and the microtasks already queued then), the
 * same as the one reading `loadBatch` takes for a whole batch: checking an entry or the bus lease against it
 * is checking them at that instant.
 */
export class TickClock {
  #wall = 0
  #monotonic = 0
  #current = false
  readonly #expire = (): void => {
    this.#current = false
  }

  /** Takes a reading unless this run already has one. */
  read(): this {
    if (!this.#current) {
      this.#wall = Date.now()
      this.#monotonic = performance.now()
      this.#current = true
      queueMicrotask(this.#expire)
    }
    return this
  }

  /** `Date.now()` at the reading (entries' freshness and expiry are wall-clock: they travel through Redis). */
  get wall(): number {
    return this.#wall
  }

  /** `performance.now()` at the reading (the bus lease). */
  get monotonic(): number {
    return this.#monotonic
  }
}
