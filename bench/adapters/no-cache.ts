/** No shared cache: a per-request DataLoader straight to the database (it still dedupes and batches a request). */
import DataLoader from 'dataloader'
import type { Layer, LayerContext, RowLoader } from './layer.js'

export class NoCacheLayer implements Layer {
  readonly name = 'no-cache'
  readonly #context: LayerContext

  constructor(context: LayerContext) {
    this.#context = context
  }

  async setup(): Promise<void> {}

  loader(): RowLoader {
    return new DataLoader((ids) => this.#context.db.load(ids))
  }

  async invalidate(): Promise<void> {}

  stats(): Record<string, unknown> {
    return {}
  }

  async close(): Promise<void> {}
}
