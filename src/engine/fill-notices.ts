/**
 * Wakes callers waiting for another process's fill. Fill notices arrive on the bus (published by the write
 * script in the same step as the write), so waiters wake within one message delivery instead of polling.
 *
 * The notice and the "busy" reply that made a caller wait travel on different connections, so a notice can
 * be processed before the caller starts waiting. Each notice therefore bumps a sequence number and records
 * it per key; a caller passes the sequence it saw before its read, and a notice that arrived since then
 * wakes it at once.
 */
export class FillNotices {
  #seq = 0
  readonly #lastNotice = new Map<string, number>()
  readonly #waiters = new Map<string, Set<() => void>>()

  /** The sequence number of the latest notice; pass it to `waitForAny` after reading. */
  get seq(): number {
    return this.#seq
  }

  notify(entryKeys: readonly string[]): void {
    const seq = ++this.#seq
    // Bounded: a forgotten notice only costs a caller the wait until its timeout.
    if (this.#lastNotice.size > 10_000) this.#lastNotice.clear()
    for (const key of entryKeys) {
      this.#lastNotice.set(key, seq)
      const waiters = this.#waiters.get(key)
      if (waiters === undefined) continue
      this.#waiters.delete(key)
      for (const wake of waiters) wake()
    }
  }

  /** Resolves when any of the keys gets a notice after `since`, or after `timeoutMs`, whichever is first. */
  waitForAny(entryKeys: readonly string[], since: number, timeoutMs: number): Promise<void> {
    for (const key of entryKeys) {
      if ((this.#lastNotice.get(key) ?? 0) > since) return Promise.resolve()
    }
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        for (const key of entryKeys) {
          const waiters = this.#waiters.get(key)
          waiters?.delete(wake)
          if (waiters?.size === 0) this.#waiters.delete(key)
        }
        resolve()
      }
      const timer = setTimeout(wake, timeoutMs)
      for (const key of entryKeys) {
        let waiters = this.#waiters.get(key)
        if (waiters === undefined) {
          waiters = new Set()
          this.#waiters.set(key, waiters)
        }
        waiters.add(wake)
      }
    })
  }
}
