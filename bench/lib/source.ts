/**
 * The simulated database behind every layer: each call awaits `callMs + perIdMs * ids` (2 ms + 0.01 ms per
 * id by default), and counts calls and rows. Rows carry a version, bumped by `update`, so the churn workload
 * can tell a stale read from a fresh one.
 *
 * Timing model: a read takes its snapshot when the call arrives and returns it when the delay is over (the
 * reply travels back), and an update commits at the end of its delay. So a read that overlaps an update
 * returns the old version, which is exactly the race a cache must not store after an invalidation.
 *
 * Node timers have 1 ms resolution, so a call really takes 2–3 ms; the mean measured call time is reported.
 */

export interface Row {
  id: string
  version: number
  name: string
  orgId: number
  email: string
  bio: string
}

const BIO = 'Writes about caching, batching and the N+1 problem. '.repeat(3)

/** The row of `id` at `version`: deterministic, so a pre-filling process and the measured one agree. */
export function makeRow(id: string, version: number): Row {
  const n = Number(id)
  return { id, version, name: `User ${id}`, orgId: n % 97, email: `user${id}@example.com`, bio: BIO }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export class SimulatedDatabase {
  calls = 0
  rows = 0
  updates = 0
  /** Sum of the measured duration of every read call, ms. */
  callMs = 0
  readonly #versions = new Map<string, number>()
  readonly #universe: number

  constructor(
    universe: number,
    readonly perCallMs: number,
    readonly perIdMs: number,
  ) {
    this.#universe = universe
  }

  /** The committed version of a row (1 until updated). */
  version(id: string): number {
    return this.#versions.get(id) ?? 1
  }

  /** `SELECT … WHERE id IN (ids)`: one row (or null) per id, in order. */
  readonly load = async (ids: readonly string[]): Promise<(Row | null)[]> => {
    const started = performance.now()
    this.calls++
    this.rows += ids.length
    const snapshot = ids.map((id) => (this.#exists(id) ? makeRow(id, this.version(id)) : null))
    await sleep(this.perCallMs + this.perIdMs * ids.length)
    this.callMs += performance.now() - started
    return snapshot
  }

  /** `UPDATE … SET version = version + 1 WHERE id = ?`; resolves with the new version once committed. */
  async update(id: string): Promise<number> {
    await sleep(this.perCallMs)
    const version = this.version(id) + 1
    this.#versions.set(id, version)
    this.updates++
    return version
  }

  counters(): { calls: number; rows: number; updates: number; meanCallMs: number } {
    return {
      calls: this.calls,
      rows: this.rows,
      updates: this.updates,
      meanCallMs: this.calls === 0 ? 0 : this.callMs / this.calls,
    }
  }

  resetCounters(): void {
    this.calls = 0
    this.rows = 0
    this.updates = 0
    this.callMs = 0
  }

  #exists(id: string): boolean {
    const n = Number(id)
    return Number.isInteger(n) && n >= 1 && n <= this.#universe
  }
}
