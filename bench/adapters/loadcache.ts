/**
 * loadcache itself, as its README sets it up: `createCache({ namespace, redis })` (memory + Redis) and one
 * `defineLoader` whose fetch is the database's batched read. The `loadcache-memory` variant passes no Redis
 * (memory only; correct in one process), used by the hot-path workload.
 */
import { Redis } from 'ioredis'
import { createCache, defineLoader, type LoadCache } from '../../src/index.js'
import type { Layer, LayerContext, RowLoader } from './layer.js'

export class LoadCacheLayer implements Layer {
  readonly name: string
  readonly #redis: Redis | undefined
  readonly #cache: LoadCache
  readonly #item

  constructor(context: LayerContext, options: { redis: boolean }) {
    this.name = options.redis ? 'loadcache' : 'loadcache-memory'
    this.#redis = options.redis ? new Redis({ host: '127.0.0.1', port: context.redisPort }) : undefined
    this.#cache = createCache({
      namespace: context.namespace,
      redis: this.#redis,
      ttl: context.ttlSeconds,
      memory: { max: context.l1Entries },
    })
    this.#item = defineLoader({ name: 'item', fetch: (ids: readonly string[]) => context.db.load(ids) })
  }

  async setup(): Promise<void> {
    if (this.#redis === undefined) return
    // L1 is used only while the bus is subscribed.
    if (!(await this.#cache.ready(10_000))) throw new Error('loadcache: the bus did not connect in 10 s')
  }

  loader(): RowLoader {
    return this.#cache.loaders({ item: this.#item }).item as RowLoader
  }

  async invalidate(id: string): Promise<void> {
    await this.#cache.invalidate(this.#item, [id])
  }

  stats(): Record<string, unknown> {
    const stats = this.#cache.stats()
    return { ...stats.loaders.item, ...stats.redis, l1Entries: stats.memory.entries }
  }

  async close(): Promise<void> {
    await this.#cache.close()
    await this.#redis?.quit()
  }
}
