import { describe, expect, it } from 'vitest'
import { formatId, parseId, parseIds } from '../../example-api/db/ids.js'

describe('parseId', () => {
  it('accepts canonical positive integers within the int4 range', () => {
    expect(parseId('1')).toBe(1)
    expect(parseId('5000')).toBe(5000)
    expect(parseId('2147483647')).toBe(2_147_483_647)
  })

  it.each([
    '',
    '0',
    '-1',
    '007',
    '1.5',
    '1e3',
    ' 1',
    '1 ',
    '0x10',
    'abc',
    '1; DROP TABLE users',
    '2147483648',
    '99999999999',
  ])('rejects %j', (id) => {
    expect(parseId(id)).toBeNull()
  })

  it('rejects values that are not strings at runtime', () => {
    expect(parseId(null)).toBeNull()
    expect(parseId(undefined)).toBeNull()
    expect(parseId(7 as unknown as string)).toBeNull()
  })
})

describe('parseIds', () => {
  it('drops invalid ids and duplicates, keeping first-seen order', () => {
    expect(parseIds(['3', 'x', '1', '3', '007', '2'])).toEqual([3, 1, 2])
  })
})

describe('formatId', () => {
  it('round-trips with parseId', () => {
    expect(formatId(42)).toBe('42')
    expect(parseId(formatId(42))).toBe(42)
  })
})
