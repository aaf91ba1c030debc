import { LRUCache } from 'lru-cache'
import type { CacheEntry } from '../core/entry.js'

export interface MemoryTierOptions {
  /** Most entries held. */
  max: number
  /** Most bytes held (approximate: the encoded size of each entry). */
  maxBytes: number
}

/**
 * L1: a bounded in-process LRU of decoded entries, plus an index from tag to the keys that carry it, so a
 * tag invalidation evicts exactly those entries (the index shrinks as entries leave, so it is bounded by
 * the LRU itself).
 */
export class MemoryTier {
  readonly #lru: LRUCache<string, CacheEntry>
  readonly #keysByTag = new Map<string, Set<string>>()

  constructor(options: MemoryTierOptions) {
    this.#lru = new LRUCache<string, CacheEntry>({
      max: options.max,
      maxSize: options.maxBytes,
      sizeCalculation: (entry) => Math.max(1, entry.size),
      // No lru-cache TTLs: every entry carries its own expiresAt, checked in get(), which is cheaper on the
      // hot path than lru-cache's per-entry TTL bookkeeping. Expired entries leave when read or evicted.
      // An entry bigger than the whole byte budget is simply not kept, instead of throwing.
      maxEntrySize: options.maxBytes,
      dispose: (entry, key) => this.#unindex(key, entry),
    })
  }

  get size(): number {
    return this.#lru.size
  }

  /** The entry if present and not past `expiresAt` (epoch ms). Stale-but-in-grace entries are returned too. */
  get(key: string, now: number): CacheEntry | undefined {
    const entry = this.#lru.get(key)
    if (entry === undefined || entry.expiresAt > now) return entry
    this.#lru.delete(key)
    return undefined
  }

  set(key: string, entry: CacheEntry, now: number): void {
    if (entry.expiresAt <= now) return
    // Delete first so the old entry's index records go before the new ones are added (a shared tag would
    // otherwise be unindexed by the old entry's dispose after the new entry indexed it).
    this.#lru.delete(key)
    this.#lru.set(key, entry)
    if (!this.#lru.has(key)) return
    for (const tag of entry.tags) {
      let keys = this.#keysByTag.get(tag)
      if (keys === undefined) {
        keys = new Set()
        this.#keysByTag.set(tag, keys)
      }
      keys.add(key)
    }
  }

  delete(key: string): void {
    this.#lru.delete(key)
  }

  /** Evicts every entry carrying one of these (encoded) tags; returns the keys it evicted. */
  deleteTagged(tags: Iterable<string>): string[] {
    const evicted: string[] = []
    for (const tag of tags) {
      const keys = this.#keysByTag.get(tag)
      if (keys === undefined) continue
      for (const key of [...keys]) {
        if (this.#lru.delete(key)) evicted.push(key)
      }
      this.#keysByTag.delete(tag)
    }
    return evicted
  }

  clear(): void {
    this.#lru.clear()
    this.#keysByTag.clear()
  }

  #unindex(key: string, entry: CacheEntry): void {
    for (const tag of entry.tags) {
      const keys = this.#keysByTag.get(tag)
      if (keys === undefined) continue
      keys.delete(key)
      if (keys.size === 0) this.#keysByTag.delete(tag)
    }
  }
}
