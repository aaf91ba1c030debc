/**
 * cacheable 2.5 as its README sets up layered caching: the default in-memory primary (L1, @cacheable/memory,
 * here bounded to the same capacity as every other L1) and a Redis secondary through Keyv (`@keyv/redis`,
 * which uses node-redis). The DataLoader batch function calls `getMany` for the batch, fetches the misses in
 * one call, and writes them back with `setMany`. cacheable has no lock for `getMany` (its stampede
 * protection covers `getOrSet`/`wrap` within one process), and no bus is configured (its `sync` needs a
 * Qified message provider, not part of the default setup).
 * Blocking mode (the default): a read that misses memory waits for Redis.
 */
import KeyvRedis from '@keyv/redis'
import { Cacheable, createKeyv } from 'cacheable'
import DataLoader from 'dataloader'
import type { Row } from '../lib/source.js'
import type { Layer, LayerContext, RowLoader } from './layer.js'

export class CacheableLayer implements Layer {
  readonly name = 'cacheable'
  readonly #context: LayerContext
  readonly #cache: Cacheable
  readonly #counters = { memoryOrRedisHits: 0, misses: 0, fetchCalls: 0 }

  constructor(context: LayerContext) {
    this.#context = context
    this.#cache = new Cacheable({
      namespace: context.namespace,
      ttl: context.ttlSeconds * 1000,
      primary: createKeyv({ lruSize: context.l1Entries }),
      secondary: new KeyvRedis(`redis://127.0.0.1:${context.redisPort}`),
    })
  }

  async setup(): Promise<void> {
    // Connects the secondary.
    await this.#cache.get('__ready__')
  }

  loader(): RowLoader {
    return new DataLoader((ids) => this.#batch(ids))
  }

  async invalidate(id: string): Promise<void> {
    await this.#cache.delete(`item:${id}`)
  }

  stats(): Record<string, unknown> {
    return { ...this.#counters }
  }

  async close(): Promise<void> {
    await this.#cache.disconnect()
  }

  async #batch(ids: readonly string[]): Promise<(Row | null)[]> {
    const keys = ids.map((id) => `item:${id}`)
    const cached = await this.#cache.getMany<Row>(keys)
    const out = new Array<Row | null>(ids.length)
    const missing: number[] = []
    for (let i = 0; i < ids.length; i++) {
      const row = cached[i]
      if (row === undefined) missing.push(i)
      else {
        this.#counters.memoryOrRedisHits++
        out[i] = row
      }
    }
    if (missing.length > 0) {
      this.#counters.misses += missing.length
      this.#counters.fetchCalls++
      const rows = await this.#context.db.load(missing.map((i) => ids[i]!))
      const items: { key: string; value: Row }[] = []
      for (let j = 0; j < missing.length; j++) {
        const i = missing[j]!
        const row = rows[j] ?? null
        out[i] = row
        if (row !== null) items.push({ key: keys[i]!, value: row })
      }
      if (items.length > 0) await this.#cache.setMany(items)
    }
    return out
  }
}
