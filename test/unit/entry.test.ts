import { describe, expect, it } from 'vitest'
import { decodeEntry, encodeEntry } from '../../src/core/entry.js'
import { jsonSerializer, structuredSerializer } from '../../src/core/serializers.js'

const fields = { clock: 1700000000000000, freshUntil: 2000, expiresAt: 3000, fetchMs: 4, tags: ['org%003a7'] }

describe('entry encoding', () => {
  it('round-trips a value, null and absent distinctly', () => {
    const value = decodeEntry(
      encodeEntry({ ...fields, absent: false, value: { a: 1 } }, '{"a":1}', 'j'),
      jsonSerializer,
    )
    expect(value).toMatchObject({ absent: false, value: { a: 1 }, ...fields })
    const nullValue = decodeEntry(
      encodeEntry({ ...fields, absent: false, value: null }, 'null', 'j'),
      jsonSerializer,
    )
    expect(nullValue).toMatchObject({ absent: false, value: null })
    const absent = decodeEntry(encodeEntry({ ...fields, absent: true, value: null }, '', 'j'), jsonSerializer)
    expect(absent).toMatchObject({ absent: true, value: null })
  })

  it('reads the version each tag was stored with (the write script adds them)', () => {
    const stored = '3 vj 1700000000000000 2000 3000 4 org%003a7=c1700000000000123 posts=1700000000000456\n1'
    expect(decodeEntry(stored, jsonSerializer)).toMatchObject({
      tags: ['org%003a7', 'posts'],
      versions: ['c1700000000000123', '1700000000000456'],
      value: 1,
    })
  })

  it.each([
    ['no header', '{"a":1}'],
    ['an older format version', '2 vj 1 2 3 4\n{}'],
    ['unknown kind', '3 q 1 2 3 4\n{}'],
    ['non-numeric clock', '3 vj x 2 3 4\n{}'],
    ['too few fields', '3 vj 1 2\n{}'],
    ['bad payload', '3 vj 1 2 3 4\n{not json'],
    ['absent with a payload', '3 a 1 2 3 4\nnull'],
    ['a value written by another serializer', '3 vd6 1 2 3 4\n[{"a":1},1]'],
    ['empty', ''],
  ])('decodes a corrupt entry (%s) as undefined instead of throwing', (_what, raw) => {
    expect(decodeEntry(raw, jsonSerializer)).toBeUndefined()
  })
})

describe('structuredSerializer (the default)', () => {
  it('round-trips what JSON would change: Date, Map, Set, BigInt, undefined, NaN, shared references', () => {
    const shared = { id: 's' }
    const value = {
      at: new Date('2026-01-02T03:04:05.678Z'),
      byId: new Map([['a', 1]]),
      set: new Set(['x']),
      big: 12345678901234567890n,
      missing: undefined,
      notANumber: Number.NaN,
      twice: [shared, shared],
    }
    const back = structuredSerializer.deserialize(structuredSerializer.serialize(value)) as typeof value
    expect(back).toEqual(value)
    expect(back.at).toBeInstanceOf(Date)
    expect(back.twice[0]).toBe(back.twice[1])
    expect('missing' in back).toBe(true)
  })

  it.each([
    ['a class instance', { user: new (class User {})() }],
    ['a function', { run: () => 1 }],
    ['an async generator', (async function* () {})()],
  ])('refuses %s with E_UNCACHEABLE_VALUE naming where it is', (_what, value) => {
    expect(() => structuredSerializer.serialize(value)).toThrow(
      expect.objectContaining({ code: 'E_UNCACHEABLE_VALUE' }),
    )
  })
})

describe('jsonSerializer', () => {
  it('round-trips plain JSON values', () => {
    const value = { a: [1, 'b', true, null, { c: 2 }] }
    expect(jsonSerializer.deserialize(jsonSerializer.serialize(value))).toEqual(value)
  })

  it.each([
    ['a Date (JSON would turn it into a string)', { at: new Date(0) }, 'a Date faithfully (at value.at)'],
    ['NaN (JSON would turn it into null)', [1, Number.NaN], 'NaN faithfully (at value[1])'],
    ['a function', { f: () => 1 }, 'a function faithfully (at value.f)'],
    ['undefined (JSON would drop it)', { u: undefined }, 'a undefined faithfully (at value.u)'],
  ])('refuses %s instead of changing it', (_what, value, message) => {
    expect(() => jsonSerializer.serialize(value)).toThrow(message)
  })
})
