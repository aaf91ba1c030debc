import { describe, expect, it } from 'vitest'
import { encodeSegment, KeySpace, normalizeId } from '../../src/core/keys.js'
import { LoadCacheTypeError } from '../../src/index.js'

const tricky = [
  '',
  'a',
  'a:b',
  'a}',
  '{a}',
  'a b',
  'a\nb',
  '%',
  '%0025',
  '#',
  'é',
  '😀',
  '\ud800',
  '\udc00',
  'x'.repeat(200),
  'x'.repeat(201),
  'x'.repeat(100_000),
  `${'x'.repeat(99_999)}y`,
]

describe('encodeSegment', () => {
  it('maps distinct strings to distinct segments', () => {
    const encoded = tricky.map(encodeSegment)
    expect(new Set(encoded).size).toBe(tricky.length)
  })

  it('produces only characters with no meaning in keys, headers or bus messages', () => {
    for (const raw of tricky) expect(encodeSegment(raw)).toMatch(/^[A-Za-z0-9_.%#-]*$/)
  })

  it('leaves plain ids readable and bounds long ones', () => {
    expect(encodeSegment('user_42-a.b')).toBe('user_42-a.b')
    expect(encodeSegment('a:b')).toBe('a%003ab')
    expect(encodeSegment('x'.repeat(100_000)).length).toBeLessThanOrEqual(64)
  })
})

describe('KeySpace', () => {
  it('puts each entity in its own hash tag, which no id can close early', () => {
    const keys = new KeySpace('app')
    expect(keys.entryKey('user', '42')).toBe('app:{user:42}')
    expect(keys.entryKey('user', '1}:l')).toBe('app:{user:1%007d%003al}')
    expect(KeySpace.lockKey(keys.entryKey('user', '1'))).toBe('app:{user:1}:l')
  })
})

describe('normalizeId', () => {
  it('keys numbers by their decimal string', () => {
    expect(normalizeId(7, 'user')).toBe('7')
    expect(normalizeId('7', 'user')).toBe('7')
  })

  it.each([
    [{}, 'an empty object'],
    [{ id: 1, token: 'secret' }, 'an object with id, token'],
    [new Date(0), 'a Date'],
    [null, 'null'],
    [undefined, 'undefined'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [true, 'true'],
  ])('refuses %s with a TypeError naming it', (id, shown) => {
    expect(() => normalizeId(id, 'user')).toThrow(LoadCacheTypeError)
    expect(() => normalizeId(id, 'user')).toThrow(
      `[loadcache] loader "user" got the id ${shown}; ids must be strings or finite numbers`,
    )
  })
})
