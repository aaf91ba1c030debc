/**
 * The hot-path floor: a plain per-request DataLoader whose batch function answers from a process-wide Map
 * holding every row. No cache can serve a per-request DataLoader faster than this.
 */
import DataLoader from 'dataloader'
import type { Row } from '../lib/source.js'
import type { Layer, LayerContext, RowLoader } from './layer.js'

export class DataLoaderMapLayer implements Layer {
  readonly name = 'dataloader-map'
  readonly #context: LayerContext
  readonly #rows = new Map<string, Row | null>()

  constructor(context: LayerContext) {
    this.#context = context
  }

  async setup(): Promise<void> {}

  loader(): RowLoader {
    return new DataLoader(async (ids) => {
      const rows = this.#rows
      const out = new Array<Row | null>(ids.length)
      let missing: number[] | undefined
      for (let i = 0; i < ids.length; i++) {
        const row = rows.get(ids[i]!)
        if (row !== undefined) out[i] = row
        else if (missing === undefined) missing = [i]
        else missing.push(i)
      }
      if (missing !== undefined) {
        const loaded = await this.#context.db.load(missing.map((i) => ids[i]!))
        for (let j = 0; j < missing.length; j++) {
          const i = missing[j]!
          out[i] = loaded[j] ?? null
          rows.set(ids[i]!, out[i]!)
        }
      }
      return out
    })
  }

  async invalidate(id: string): Promise<void> {
    this.#rows.delete(id)
  }

  stats(): Record<string, unknown> {
    return { entries: this.#rows.size }
  }

  async close(): Promise<void> {}
}
