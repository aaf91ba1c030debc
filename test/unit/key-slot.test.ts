import { describe, expect, it } from 'vitest'
import { groupBySlot, keySlot } from '../../src/redis/key-slot.js'

describe('keySlot', () => {
  it('matches the slots Redis documents', () => {
    // From the Redis Cluster specification and `CLUSTER KEYSLOT` on a real server.
    expect(keySlot('foo')).toBe(12182)
    expect(keySlot('bar')).toBe(5061)
    expect(keySlot('hello')).toBe(866)
  })

  it('hashes only the first non-empty {hash tag}', () => {
    expect(keySlot('app:{user:42}')).toBe(keySlot('user:42'))
    expect(keySlot('app:{user:42}:l')).toBe(keySlot('app:{user:42}'))
    expect(keySlot('a{b}c{d}')).toBe(keySlot('b'))
    expect(keySlot('{}x')).not.toBe(keySlot('x'))
  })

  it('groups keys by slot, keeping their positions', () => {
    const groups = groupBySlot(['a{1}', 'b{2}', 'c{1}'])
    expect([...groups.values()].sort()).toEqual([[0, 2], [1]])
  })
})
