import { describe, expect, it } from 'vitest'
import type { CacheEntry } from '../../src/core/entry.js'
import { MemoryTier } from '../../src/memory/memory-tier.js'

const NOW = 1_000_000

function entry(value: unknown, tags: string[] = [], ttlMs = 60_000): CacheEntry {
  return {
    value,
    tags,
    versions: undefined,
    fetchMs: 1,
    freshUntil: NOW + ttlMs,
    expiresAt: NOW + ttlMs,
    size: 10,
  } as unknown as CacheEntry
}

describe('MemoryTier', () => {
  it('serves an entry by id from its loader shelf, with the key it is stored under', () => {
    const tier = new MemoryTier({ max: 10, maxBytes: 1_000_000 })
    const users = tier.shelf('ns:{user:')
    const posts = tier.shelf('ns:{post:')
    tier.set('ns:{user:1}', entry('ada'), NOW, users, '1')
    expect(tier.lookup(users, '1', NOW)).toMatchObject({ key: 'ns:{user:1}', value: 'ada' })
    expect(tier.lookup(posts, '1', NOW)).toBeUndefined()
    expect(tier.shelf('ns:{user:')).toBe(users)
  })

  it('drops an expired entry when it is read', () => {
    const tier = new MemoryTier({ max: 10, maxBytes: 1_000_000 })
    const users = tier.shelf('ns:{user:')
    tier.set('ns:{user:1}', entry('ada', [], 5), NOW, users, '1')
    expect(tier.lookup(users, '1', NOW + 5)).toBeUndefined()
    expect(tier.size).toBe(0)
  })

  it('takes an entry off its shelf when it is evicted, deleted, tag-invalidated or cleared', () => {
    const tier = new MemoryTier({ max: 2, maxBytes: 1_000_000 })
    const users = tier.shelf('ns:{user:')
    tier.set('ns:{user:1}', entry(1), NOW, users, '1')
    tier.set('ns:{user:2}', entry(2, ['org:1']), NOW, users, '2')
    tier.set('ns:{user:3}', entry(3), NOW, users, '3') // evicts 1 (least recently used)
    expect(tier.lookup(users, '1', NOW)).toBeUndefined()
    expect(tier.deleteTagged(['org:1'])).toEqual(['ns:{user:2}'])
    expect(tier.lookup(users, '2', NOW)).toBeUndefined()
    tier.delete('ns:{user:3}')
    expect(tier.lookup(users, '3', NOW)).toBeUndefined()
    tier.set('ns:{user:4}', entry(4), NOW, users, '4')
    tier.clear()
    expect(tier.lookup(users, '4', NOW)).toBeUndefined()
    expect(users.size).toBe(0)
  })

  it('replacing an entry leaves the new one on the shelf and in the tag index', () => {
    const tier = new MemoryTier({ max: 10, maxBytes: 1_000_000 })
    const users = tier.shelf('ns:{user:')
    tier.set('ns:{user:1}', entry('old', ['t']), NOW, users, '1')
    tier.set('ns:{user:1}', entry('new', ['t']), NOW, users, '1')
    expect(tier.lookup(users, '1', NOW)?.value).toBe('new')
    expect(tier.deleteTagged(['t'])).toEqual(['ns:{user:1}'])
    expect(users.size).toBe(0)
  })

  it('keeps what is read: a hit refreshes its place in the LRU once inserts have moved on', () => {
    const max = 100
    const tier = new MemoryTier({ max, maxBytes: 1_000_000 })
    const shelf = tier.shelf('p:')
    for (let i = 0; i < max; i++) tier.set(`p:${i}`, entry(i), NOW, shelf, String(i))
    // Entry 0 is the oldest. Read it after some inserts (a new epoch), then insert enough to evict half.
    for (let i = max; i < max + 64; i++) tier.set(`p:${i}`, entry(i), NOW, shelf, String(i))
    // Inserting 64 evicted 0..63: re-insert 0 and read it in a later epoch, then churn.
    tier.set('p:0', entry(0), NOW, shelf, '0')
    for (let i = 1000; i < 1064; i++) tier.set(`p:${i}`, entry(i), NOW, shelf, String(i))
    expect(tier.lookup(shelf, '0', NOW)?.value).toBe(0)
    for (let i = 2000; i < 2000 + max - 1; i++) tier.set(`p:${i}`, entry(i), NOW, shelf, String(i))
    // 0 was read after everything but the last max-1 inserts, so it is among the newest `max` entries.
    expect(tier.lookup(shelf, '0', NOW)?.value).toBe(0)
    expect(tier.lookup(shelf, '1000', NOW)).toBeUndefined()
  })

  it('does not keep an entry bigger than the whole byte budget', () => {
    const tier = new MemoryTier({ max: 10, maxBytes: 5 })
    const shelf = tier.shelf('p:')
    tier.set('p:1', entry('big'), NOW, shelf, '1')
    expect(tier.lookup(shelf, '1', NOW)).toBeUndefined()
    expect(shelf.size).toBe(0)
  })
})
