/**
 * The one interface every contender implements, so each scenario drives them all with the same code.
 *
 * A layer is created once per process, given that process's simulated database, and asked for a fresh
 * per-request DataLoader for every request (the N+1 pattern: resolvers call `load(id)` one id at a time; the
 * DataLoader batches one tick's ids into one call of the layer's batch function).
 */
import type DataLoader from 'dataloader'
import type { Row, SimulatedDatabase } from '../lib/source.js'

export type RowLoader = DataLoader<string, Row | null>

export interface Layer {
  readonly name: string
  /** Connects, and resolves once the layer is ready to serve (bus subscribed, if it has one). */
  setup(): Promise<void>
  /** A fresh DataLoader for one request. */
  loader(): RowLoader
  /** Evicts an entity after its write committed; resolves when the layer says it is done. */
  invalidate(id: string): Promise<void>
  /** Layer-specific counters (hits, misses, …), reported as they are. */
  stats(): Record<string, unknown>
  close(): Promise<void>
}

export interface LayerContext {
  readonly db: SimulatedDatabase
  readonly redisPort: number
  /** Key prefix / namespace for this run. */
  readonly namespace: string
  readonly ttlSeconds: number
  readonly l1Entries: number
}

/** Every layer, in the order tables list them. `dataloader-map` is the hot-path floor only. */
export const LAYERS = [
  'no-cache',
  'cache-aside',
  'bentocache',
  'cacheable',
  'loadcache',
  'loadcache-memory',
  'dataloader-map',
] as const
export type LayerName = (typeof LAYERS)[number]

/** The peers and loadcache as the N+1 workloads run them (memory + Redis, one process model). */
export const N1_LAYERS: readonly LayerName[] = [
  'no-cache',
  'cache-aside',
  'bentocache',
  'cacheable',
  'loadcache',
]

/** Loads the adapter module of `name` (lazily, so a process only loads the library it benchmarks). */
export async function createLayer(name: LayerName, context: LayerContext): Promise<Layer> {
  switch (name) {
    case 'no-cache':
      return new (await import('./no-cache.js')).NoCacheLayer(context)
    case 'cache-aside':
      return new (await import('./cache-aside.js')).CacheAsideLayer(context)
    case 'bentocache':
      return new (await import('./bentocache.js')).BentoCacheLayer(context)
    case 'cacheable':
      return new (await import('./cacheable.js')).CacheableLayer(context)
    case 'loadcache':
      return new (await import('./loadcache.js')).LoadCacheLayer(context, { redis: true })
    case 'loadcache-memory':
      return new (await import('./loadcache.js')).LoadCacheLayer(context, { redis: false })
    case 'dataloader-map':
      return new (await import('./dataloader-map.js')).DataLoaderMapLayer(context)
  }
}

export function isLayerName(name: string): name is LayerName {
  return (LAYERS as readonly string[]).includes(name)
}
