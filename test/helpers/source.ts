/**
 * A stand-in for the database behind a loader: rows in a Map, every call recorded, and hooks to hold a
 * fetch open or make it fail on cue (the faults a real database cannot produce deterministically).
 */
export interface Row {
  id: string
  name: string
  orgId: number
  version: number
}

export class TestSource {
  readonly rows = new Map<string, Row>()
  /** The ids of every fetch call, in call order. */
  readonly calls: string[][] = []
  /** Ids whose slot is an Error. */
  readonly failingIds = new Set<string>()
  /** When set, every fetch throws it. */
  failure: Error | undefined
  #holds: Array<{ started: () => void; release: Promise<void> }> = []

  constructor(count = 0) {
    for (let i = 1; i <= count; i++) this.put({ id: String(i), name: `user ${i}`, orgId: i % 3, version: 1 })
  }

  put(row: Row): void {
    this.rows.set(row.id, row)
  }

  update(id: string, change: Partial<Row>): Row {
    const row = this.rows.get(id)
    if (!row) throw new Error(`no row ${id}`)
    const next = { ...row, ...change, version: row.version + 1 }
    this.rows.set(id, next)
    return next
  }

  get idsFetched(): string[] {
    return this.calls.flat()
  }

  /**
   * Holds the next fetch open after it has read the rows (so it returns what was there when it started).
   * `started` resolves once that fetch has begun; `release()` lets it return.
   */
  holdNextFetch(): { started: Promise<void>; release: () => void } {
    let release!: () => void
    let started!: () => void
    const startedPromise = new Promise<void>((resolve) => {
      started = resolve
    })
    this.#holds.push({ started, release: new Promise<void>((resolve) => (release = resolve)) })
    return { started: startedPromise, release }
  }

  readonly fetch = async (ids: readonly (string | number)[]): Promise<(Row | null | Error)[]> => {
    this.calls.push(ids.map(String))
    const snapshot = ids.map((id) => {
      if (this.failingIds.has(String(id))) return new Error(`row ${id} failed`)
      return this.rows.get(String(id)) ?? null
    })
    const hold = this.#holds.shift()
    if (hold) {
      hold.started()
      await hold.release
    }
    if (this.failure) throw this.failure
    return snapshot
  }
}
