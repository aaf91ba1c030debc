import { describe, expect, it } from 'vitest'
import { stableJson } from '../../src/core/stable-json.js'

describe('stableJson', () => {
  it('ignores key order at every depth and drops undefined members', () => {
    expect(stableJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } })).toBe(
      stableJson({ a: { d: [1, { x: 1, y: 2 }] }, b: 1 }),
    )
  })

  it('keeps distinct values distinct', () => {
    expect(stableJson(['1'])).not.toBe(stableJson([1]))
    expect(stableJson({ a: null })).not.toBe(stableJson({}))
    expect(stableJson({ x: -0 })).not.toBe(stableJson({ x: 0 }))
  })

  it.each([
    ['a Map', new Map([[1, 2]]), 'Map'],
    ['a Set', new Set([1]), 'Set'],
    ['a RegExp', /x/, 'RegExp'],
    ['a bigint', 1n, 'bigint'],
  ])('refuses %s, which would collapse to one key', (_what, value, name) => {
    expect(() => stableJson({ input: value })).toThrow(`cannot build a cache key from a ${name}`)
  })

  it.each([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN])(
    'refuses the number %s, which JSON writes as null (the key of null)',
    (value) => {
      expect(() => stableJson({ max: value })).toThrow(`cannot build a cache key from the number ${value}`)
    },
  )

  it('accepts Dates through toJSON', () => {
    expect(stableJson({ at: new Date(0) })).toBe('{"at":"1970-01-01T00:00:00.000Z"}')
  })
})
