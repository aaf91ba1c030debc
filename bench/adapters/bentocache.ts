/**
 * bentocache 1.6 as its docs set up a multi-tier cache: memory L1 + Redis L2 + Redis bus
 * (https://bentocache.dev/docs/multi-tier). It has no multi-key get-or-set (bentocache #78), so the DataLoader
 * batch function calls `getOrSet` once per key, and each factory loads its one id. Its stampede lock is
 * in-process (per key), and the factory's result is written to L1 + L2 and announced on the bus.
 * Defaults otherwise (JSON serializer, serialized L1, no grace, no timeouts); L1 capacity and TTL as every
 * other layer.
 */
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis'
import DataLoader from 'dataloader'
import { Redis } from 'ioredis'
import { sleep } from '../lib/measure.js'
import type { Layer, LayerContext, RowLoader } from './layer.js'

export class BentoCacheLayer implements Layer {
  readonly name = 'bentocache'
  readonly #context: LayerContext
  readonly #bento: BentoCache<{ cache: ReturnType<typeof bentostore> }>
  #factoryCalls = 0

  constructor(context: LayerContext) {
    this.#context = context
    const connection = new Redis({ host: '127.0.0.1', port: context.redisPort })
    this.#bento = new BentoCache({
      default: 'cache',
      prefix: context.namespace,
      ttl: context.ttlSeconds * 1000,
      stores: {
        cache: bentostore()
          .useL1Layer(memoryDriver({ maxItems: context.l1Entries }))
          .useL2Layer(redisDriver({ connection }))
          .useBus(redisBusDriver({ connection: { host: '127.0.0.1', port: context.redisPort } })),
      },
    })
  }

  async setup(): Promise<void> {
    // The store (and its bus subscription) is created on first use.
    await this.#bento.has({ key: '__ready__' })
    await sleep(200)
  }

  loader(): RowLoader {
    const db = this.#context.db
    return new DataLoader((ids) =>
      Promise.all(
        ids.map((id) =>
          this.#bento.getOrSet({
            key: `item:${id}`,
            factory: async () => {
              this.#factoryCalls++
              const [row] = await db.load([id])
              return row ?? null
            },
          }),
        ),
      ),
    ) as RowLoader
  }

  async invalidate(id: string): Promise<void> {
    await this.#bento.delete({ key: `item:${id}` })
  }

  stats(): Record<string, unknown> {
    return { factoryCalls: this.#factoryCalls }
  }

  async close(): Promise<void> {
    await this.#bento.disconnect()
  }
}
