import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { compressPayload, inflatePayload } from '../../src/core/compression.js'
import { decodeEntry, encodeEntry, encodeEntryForRedis, splitEntry } from '../../src/core/entry.js'
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

describe('entry compression', () => {
  const rows = Array.from({ length: 100 }, (_, i) => ({
    id: String(i),
    title: `Post ${i}: Notes on caching`,
  }))
  const payload = JSON.stringify(rows)
  const entry = { ...fields, absent: false, value: rows }

  it('stores a payload at or above the threshold compressed, under kind z<codec>, and decodes it as it was', () => {
    const { encoded, size } = encodeEntryForRedis(entry, payload, 'j', 1024)
    expect(encoded.startsWith('3 zj 1700000000000000 2000 3000 4 org%003a7\n')).toBe(true)
    expect(encoded.length).toBeLessThan(payload.length / 3)
    expect(decodeEntry(encoded, jsonSerializer)).toMatchObject({ absent: false, value: rows, ...fields })
    // The size L1 counts is the decoded one, on the write path and on the read path alike.
    const plain = encodeEntry(entry, payload, 'j')
    expect(size).toBe(plain.length * 2)
    expect(decodeEntry(encoded, jsonSerializer)?.size).toBe(plain.length * 2)
  })

  it('stores a payload below the threshold, or one compression does not shrink, as it is', () => {
    expect(encodeEntryForRedis(entry, payload, 'j', payload.length + 1).encoded).toBe(
      encodeEntry(entry, payload, 'j'),
    )
    const noise = JSON.stringify(randomBytes(4096).toString('base64'))
    expect(compressPayload(noise, 1)).toBeUndefined()
    expect(encodeEntryForRedis(entry, noise, 'j', 1).encoded).toBe(encodeEntry(entry, noise, 'j'))
    expect(encodeEntryForRedis(entry, payload, 'j', false).encoded).toBe(encodeEntry(entry, payload, 'j'))
  })

  it('counts the threshold in UTF-8 bytes, as Redis stores them', () => {
    const accented = JSON.stringify('é'.repeat(600))
    expect(Buffer.byteLength(accented)).toBeGreaterThan(1024)
    expect(accented.length).toBeLessThan(1024)
    expect(compressPayload(accented, 1024)).toBeDefined()
    expect(inflatePayload(compressPayload(accented, 1024)!)).toBe(accented)
  })

  it('never compresses an absent entry (its payload is empty)', () => {
    const absent = encodeEntryForRedis({ ...fields, absent: true, value: null }, '', 'j', 1)
    expect(absent.encoded).toBe(encodeEntry({ ...fields, absent: true, value: null }, '', 'j'))
  })

  it.each([
    ['garbage', '3 zj 1 2 3 4\nthis is not deflate at all'],
    ['truncated', `3 zj 1 2 3 4\n${compressPayload(payload, 1)!.slice(0, 40)}`],
    ['empty', '3 zj 1 2 3 4\n'],
    ['compressed by another serializer', `3 zd6 1 2 3 4\n${compressPayload(payload, 1)}`],
    [
      'valid deflate of a payload the serializer rejects',
      `3 zj 1 2 3 4\n${compressPayload('{'.repeat(2000), 1)}`,
    ],
  ])('decodes a corrupt compressed entry (%s) as undefined instead of throwing', (_what, raw) => {
    expect(decodeEntry(raw, jsonSerializer)).toBeUndefined()
  })

  it('lets tools read a compressed entry as the serializer wrote it (splitEntry inflates)', () => {
    const { encoded } = encodeEntryForRedis(entry, payload, 'j', 1024)
    expect(splitEntry(encoded)).toMatchObject({
      kind: 'vj',
      payload,
      compressedLength: encoded.length - encoded.indexOf('\n') - 1,
      tags: ['org%003a7'],
    })
    expect(splitEntry(encodeEntry(entry, payload, 'j'))).toMatchObject({ kind: 'vj', payload })
    expect(splitEntry(encodeEntry(entry, payload, 'j'))?.compressedLength).toBeUndefined()
    // One that does not inflate is shown as stored, under its z kind: the serializer then rejects it.
    expect(splitEntry('3 zj 1 2 3 4\nnot deflate')).toMatchObject({ kind: 'zj', payload: 'not deflate' })
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
