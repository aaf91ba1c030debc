import { LRUCache } from 'lru-cache'
import type { CacheEntry } from '../core/entry.js'

export interface MemoryTierOptions {
  /** Most entries held. */
  max: number
  /** Most bytes held (approximate: the encoded size of each entry). */
  maxBytes: number
}

/** Inserts per recency epoch: a hit refreshes its entry's place in the LRU at most once per epoch. */
const INSERTS_PER_EPOCH = 64

/**
 * An entry held in L1, with the key it is stored under. The fields a hit needs are copied out of the entry,
 * so that a hit reads one object (an L1 hit is bound by memory latency, not by instructions).
 */
export interface MemoryHit {
  readonly key: string
  readonly entry: CacheEntry
  readonly value: unknown
  readonly freshUntil: number
}

/**
 * One loader's entries in L1, by id (the id as a string, as `normalizeId` gives it). The hot path looks an
 * id up here directly: one Map lookup on the id the caller already has, no key to build or hash.
 */
export type MemoryShelf = ReadonlyMap<string, MemoryHit>

class Slot implements MemoryHit {
  readonly value: unknown
  readonly freshUntil: number
  readonly expiresAt: number

  constructor(
    readonly key: string,
    readonly entry: CacheEntry,
    /** The shelf and id it is filed under; absent for entries stored by key only. */
    readonly shelf: Map<string, Slot> | undefined,
    readonly id: string,
    /** The epoch in which its LRU place was last refreshed. */
    public epoch: number,
  ) {
    this.value = entry.value
    this.freshUntil = entry.freshUntil
    this.expiresAt = entry.expiresAt
  }
}

/**
 * L1: a bounded in-process LRU of decoded entries, plus an index from tag to the keys that carry it, so a
 * tag invalidation evicts exactly those entries (the index shrinks as entries leave, so it is bounded by
 * the LRU itself).
 *
 * Reads do not go through lru-cache's `get`: its move in the recency list costs most of an L1 hit when the
 * ids vary. Recency matters only when something is evicted, and eviction happens only on insert; so a hit
 * refreshes its entry's LRU place once per epoch of INSERTS_PER_EPOCH inserts. With no inserts (every read
 * a hit) no hit touches the LRU; under churn the order is exact to within one epoch.
 */
export class MemoryTier {
  readonly #lru: LRUCache<string, Slot>
  readonly #shelves = new Map<string, Map<string, Slot>>()
  readonly #keysByTag = new Map<string, Set<string>>()
  #inserts = 0
  #epoch = 0

  constructor(options: MemoryTierOptions) {
    this.#lru = new LRUCache<string, Slot>({
      max: options.max,
      maxSize: options.maxBytes,
      sizeCalculation: (slot) => Math.max(1, slot.entry.size),
      // No lru-cache TTLs: every entry carries its own expiresAt, checked on read, which is cheaper on the
      // hot path than lru-cache's per-entry TTL bookkeeping. Expired entries leave when read or evicted.
      // An entry bigger than the whole byte budget is simply not kept, instead of throwing.
      maxEntrySize: options.maxBytes,
      dispose: (slot, key) => {
        if (slot.shelf?.get(slot.id) === slot) slot.shelf.delete(slot.id)
        this.#unindex(key, slot.entry)
      },
    })
  }

  get size(): number {
    return this.#lru.size
  }

  /** The shelf of the loader whose keys start with `keyPrefix` (one per prefix, kept for the tier's life). */
  shelf(keyPrefix: string): MemoryShelf {
    let shelf = this.#shelves.get(keyPrefix)
    if (shelf === undefined) {
      shelf = new Map()
      this.#shelves.set(keyPrefix, shelf)
    }
    return shelf
  }

  /** The entry of `id` on `shelf` if present and not past `expiresAt` (stale-but-in-grace ones too). */
  lookup(shelf: MemoryShelf, id: string, now: number): MemoryHit | undefined {
    const slot = shelf.get(id) as Slot | undefined
    if (slot === undefined) return undefined
    if (slot.expiresAt <= now) {
      this.#lru.delete(slot.key)
      return undefined
    }
    if (slot.epoch !== this.#epoch) {
      slot.epoch = this.#epoch
      this.#lru.get(slot.key)
    }
    return slot
  }

  /**
   * Stores an entry under `key`, and files it on `shelf` under `id` when given (the entries of loaders; the
   * `id` is the normalized id that `key` encodes).
   */
  set(key: string, entry: CacheEntry, now: number, shelf?: MemoryShelf, id = ''): void {
    if (entry.expiresAt <= now) return
    // Delete first so the old entry's index records go before the new ones are added (a shared tag would
    // otherwise be unindexed by the old entry's dispose after the new entry indexed it).
    this.#lru.delete(key)
    if (++this.#inserts % INSERTS_PER_EPOCH === 0) this.#epoch++
    const slot = new Slot(key, entry, shelf as Map<string, Slot> | undefined, id, this.#epoch)
    this.#lru.set(key, slot)
    if (!this.#lru.has(key)) return
    slot.shelf?.set(id, slot)
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
    for (const shelf of this.#shelves.values()) shelf.clear()
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
