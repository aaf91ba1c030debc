/** The N+1 request shared by the warm, churn and hot-path workloads. */
import type { Layer, RowLoader } from '../adapters/layer.js'
import type { BenchConfig } from './config.js'
import type { Row } from './source.js'
import { prng, Zipf } from './zipf.js'

/** A generator of request id lists: 100 ids drawn Zipf(1.0) from 10,000, same seeded sequence in every process. */
export function requestIds(config: BenchConfig, seedOffset = 0): () => string[] {
  const zipf = new Zipf(config.universe, config.zipfS)
  const random = prng(config.seed + seedOffset)
  return () => zipf.ids(random, config.idsPerRequest)
}

/**
 * One request: a fresh per-request DataLoader, one `load(id)` per id (as N+1 resolvers do; the DataLoader
 * batches them into one call of the layer's batch function), every row checked to be the one asked for.
 */
export async function n1Request(layer: Layer, ids: readonly string[]): Promise<Row[]> {
  const loader: RowLoader = layer.loader()
  const rows = await Promise.all(ids.map((id) => loader.load(id)))
  for (let i = 0; i < ids.length; i++) {
    const row = rows[i]
    if (row === null || row === undefined || row.id !== ids[i]) {
      throw new Error(`asked for ${ids[i]}, got ${JSON.stringify(row)?.slice(0, 80)}`)
    }
  }
  return rows as Row[]
}
