import { GraphQLList, GraphQLNonNull, GraphQLScalarType, GraphQLString } from 'graphql'
import { describe, expect, it } from 'vitest'
import { completionError, listsAsArrays } from '../../src/graphql/value-check.js'

/** A scalar whose serialize gives null for 'n' (graphql-js refuses null, as undefined, from serialize). */
const Nul = new GraphQLScalarType({ name: 'Nul', serialize: (value) => (value === 'n' ? null : value) })
const info = {} as never

describe('completionError', () => {
  it('refuses a scalar value serialize turns into null, as graphql-js does (never cached)', async () => {
    expect(await completionError(Nul, 'n', {}, info)).toBe(
      'a value Nul.serialize() turns into null or undefined',
    )
    expect(await completionError(new GraphQLList(Nul), ['a', 'n'], {}, info)).toContain('(in a list)')
    expect(await completionError(Nul, 'a', {}, info)).toBeUndefined()
  })
})

describe('listsAsArrays', () => {
  it('keeps a plain array of scalars as it is, and reads a generator as GraphQL would', () => {
    const plain = ['a', 'b']
    expect(listsAsArrays(new GraphQLList(GraphQLString), plain)).toBe(plain)
    function* letters() {
      yield 'a'
      yield 'b'
    }
    expect(listsAsArrays(new GraphQLNonNull(new GraphQLList(GraphQLString)), letters())).toEqual(['a', 'b'])
  })
})
