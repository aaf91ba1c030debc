import { describe, expect, it } from 'vitest'
import { decodeEntry, encodeEntry, jsonSerializer } from '../../src/core/entry.js'

const fields = { clock: 1700000000000000, freshUntil: 2000, expiresAt: 3000, fetchMs: 4, tags: ['org%003a7'] }

describe('entry encoding', () => {
  it('round-trips a value, null and absent distinctly', () => {
    const value = decodeEntry(
      encodeEntry({ ...fields, absent: false, value: { a: 1 } }, '{"a":1}'),
      jsonSerializer,
    )
    expect(value).toMatchObject({ absent: false, value: { a: 1 }, ...fields })
    const nullValue = decodeEntry(
      encodeEntry({ ...fields, absent: false, value: null }, 'null'),
      jsonSerializer,
    )
    expect(nullValue).toMatchObject({ absent: false, value: null })
    const absent = decodeEntry(encodeEntry({ ...fields, absent: true, value: null }, ''), jsonSerializer)
    expect(absent).toMatchObject({ absent: true, value: null })
  })

  it.each([
    ['no header', '{"a":1}'],
    ['unknown format version', '2 v 1 2 3 4\n{}'],
    ['unknown kind', '1 q 1 2 3 4\n{}'],
    ['non-numeric clock', '1 v x 2 3 4\n{}'],
    ['too few fields', '1 v 1 2\n{}'],
    ['bad payload', '1 v 1 2 3 4\n{not json'],
    ['absent with a payload', '1 a 1 2 3 4\nnull'],
    ['empty', ''],
  ])('decodes a corrupt entry (%s) as undefined instead of throwing', (_what, raw) => {
    expect(decodeEntry(raw, jsonSerializer)).toBeUndefined()
  })

  it('refuses to serialize what JSON cannot represent', () => {
    expect(() => jsonSerializer.serialize(() => 1)).toThrow('value is not JSON-serializable')
  })
})
