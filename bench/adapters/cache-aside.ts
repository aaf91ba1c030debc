/**
 * A faithful classic cache-aside, the pattern most hand-written caches follow:
 * - L1: lru-cache in front of Redis (same capacity and TTL as the other layers' L1);
 * - L2: Redis `GET` per key; on a miss, `SET lock NX EX 5` per key; the ids whose lock we took are fetched in
 *   one call (we are inside a DataLoader batch function, so the fetch is batched), written with `SETEX` per
 *   key, and the lock is released with `DEL`;
 * - ids locked by someone else are polled: sleep 100 ms, `GET` again, try the lock again; after the lock TTL
 *   (5 s) a waiter gives up and fetches on its own.
 * - invalidation: delete from L1, `DEL` in Redis. There is no bus: other processes' L1 copies stay until TTL.
 */
import { randomBytes } from 'node:crypto'
import DataLoader from 'dataloader'
import { Redis } from 'ioredis'
import { LRUCache } from 'lru-cache'
import { sleep } from '../lib/measure.js'
import type { Row } from '../lib/source.js'
import type { Layer, LayerContext, RowLoader } from './layer.js'

const LOCK_TTL_SECONDS = 5
const POLL_MS = 100

export class CacheAsideLayer implements Layer {
  readonly name = 'cache-aside'
  readonly #context: LayerContext
  readonly #redis: Redis
  readonly #lru: LRUCache<string, Row>
  readonly #counters = { l1Hits: 0, l2Hits: 0, misses: 0, lockWaits: 0, fetchCalls: 0, idsFetched: 0 }

  constructor(context: LayerContext) {
    this.#context = context
    this.#redis = new Redis({ host: '127.0.0.1', port: context.redisPort, lazyConnect: true })
    this.#lru = new LRUCache<string, Row>({ max: context.l1Entries, ttl: context.ttlSeconds * 1000 })
  }

  async setup(): Promise<void> {
    await this.#redis.connect()
  }

  loader(): RowLoader {
    return new DataLoader((ids) => this.#batch(ids))
  }

  async invalidate(id: string): Promise<void> {
    const key = this.#key(id)
    this.#lru.delete(key)
    await this.#redis.del(key)
  }

  stats(): Record<string, unknown> {
    return { ...this.#counters, l1Size: this.#lru.size }
  }

  async close(): Promise<void> {
    await this.#redis.quit()
  }

  #key(id: string): string {
    return `${this.#context.namespace}:item:${id}`
  }

  async #batch(ids: readonly string[]): Promise<(Row | null)[]> {
    const out = new Array<Row | null>(ids.length).fill(null)
    let pending: number[] = []
    for (let i = 0; i < ids.length; i++) {
      const row = this.#lru.get(this.#key(ids[i]!))
      if (row === undefined) pending.push(i)
      else {
        this.#counters.l1Hits++
        out[i] = row
      }
    }
    if (pending.length === 0) return out
    const fills: Promise<void>[] = []
    const token = randomBytes(8).toString('hex')
    const deadline = Date.now() + LOCK_TTL_SECONDS * 1000
    let firstPass = true
    while (pending.length > 0) {
      const values = await Promise.all(pending.map((i) => this.#redis.get(this.#key(ids[i]!))))
      const missing: number[] = []
      for (let j = 0; j < pending.length; j++) {
        const i = pending[j]!
        const raw = values[j]
        if (raw === null || raw === undefined) {
          missing.push(i)
          continue
        }
        const row = JSON.parse(raw) as Row
        this.#counters.l2Hits++
        this.#lru.set(this.#key(ids[i]!), row)
        out[i] = row
      }
      if (firstPass) this.#counters.misses += missing.length
      firstPass = false
      if (missing.length === 0) break
      if (Date.now() >= deadline) {
        // Waited a whole lock TTL: load without the lock (and without writing, the lock is not ours).
        fills.push(this.#fetch(ids, missing, out, false))
        break
      }
      const locks = await Promise.all(
        missing.map((i) =>
          this.#redis.set(`${this.#key(ids[i]!)}:lock`, token, 'EX', LOCK_TTL_SECONDS, 'NX'),
        ),
      )
      const mine = missing.filter((_, j) => locks[j] === 'OK')
      const theirs = missing.filter((_, j) => locks[j] !== 'OK')
      if (mine.length > 0) fills.push(this.#fetch(ids, mine, out, true))
      if (theirs.length === 0) break
      this.#counters.lockWaits += theirs.length
      await sleep(POLL_MS)
      pending = theirs
    }
    await Promise.all(fills)
    return out
  }

  /** Fetches `indexes` in one call; with `write`, stores each row (SETEX) and releases its lock (DEL). */
  async #fetch(
    ids: readonly string[],
    indexes: number[],
    out: (Row | null)[],
    write: boolean,
  ): Promise<void> {
    this.#counters.fetchCalls++
    this.#counters.idsFetched += indexes.length
    const rows = await this.#context.db.load(indexes.map((i) => ids[i]!))
    const writes: Promise<unknown>[] = []
    for (let j = 0; j < indexes.length; j++) {
      const i = indexes[j]!
      const key = this.#key(ids[i]!)
      const row = rows[j] ?? null
      out[i] = row
      if (!write) continue
      if (row !== null) {
        this.#lru.set(key, row)
        writes.push(this.#redis.setex(key, this.#context.ttlSeconds, JSON.stringify(row)))
      }
    }
    await Promise.all(writes)
    if (write) await Promise.all(indexes.map((i) => this.#redis.del(`${this.#key(ids[i]!)}:lock`)))
  }
}
