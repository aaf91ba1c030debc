import type { GraphQLResolveInfo } from 'graphql'
import { describe, expect, it } from 'vitest'
import { graphqlFixture, recordingLogger } from './schema-fixture.js'

/*
 * GraphQL completes a list field from any iterable, not only an array. A generator can be read once: the
 * cache must not read it before GraphQL does (to check or tag the value), or GraphQL gets it used up and
 * answers an empty list. Such a list is read once into an array, which GraphQL completes, and the cache
 * stores, the same way.
 */

type HintedInfo = GraphQLResolveInfo & {
  cacheControl: { setCacheHint(hint: { scope?: 'PUBLIC' | 'PRIVATE' }): void }
}

function* titles(names: readonly string[]) {
  for (const name of names) yield name
}

function* grid(rows: readonly (readonly number[])[]) {
  for (const row of rows) yield titles(row.map(String))
}

describe('a cached list field whose value is an iterable other than an array', () => {
  const typeDefs = /* GraphQL */ `
    type Query {
      shelf: Shelf
      names: [String!]! @cached(ttl: 60)
      cells: [[String!]!]! @cached(ttl: 60)
      "Its generator makes it PRIVATE while GraphQL would read it."
      mine: [String!]! @cached(ttl: 60)
    }
    type Shelf {
      id: ID!
      titles: [String!]! @cached(ttl: 60)
      tags: [String!]! @cached(ttl: 60)
    }
  `

  function fixture() {
    return graphqlFixture({
      typeDefs,
      logger: recordingLogger(),
      resolvers: (ran) => ({
        Query: {
          // The shelf's lists are resolved by the default resolver, from a one-use generator and a Set.
          shelf: () => {
            ran('Query.shelf')
            return { id: '1', titles: titles(['Dune', 'Emma']), tags: new Set(['classic', 'novel']) }
          },
          names: () => {
            ran('Query.names')
            return titles(['Ann', 'Bo'])
          },
          mine: (_: unknown, __: unknown, context: { viewerId: string | null }, info: HintedInfo) => {
            ran('Query.mine')
            return (function* () {
              info.cacheControl.setCacheHint({ scope: 'PRIVATE' })
              yield `${context.viewerId}'s`
            })()
          },
          cells: () => {
            ran('Query.cells')
            return grid([
              [1, 2],
              [3, 4],
            ])
          },
        },
      }),
    })
  }

  it('answers the generator default-resolved from its parent, on the miss and on the hit', async () => {
    const app = await fixture().instance()
    for (let i = 0; i < 2; i++) {
      const result = await app.query('{ shelf { id titles tags } }')
      expect(result.errors).toBeUndefined()
      expect(result.data).toEqual({
        shelf: { id: '1', titles: ['Dune', 'Emma'], tags: ['classic', 'novel'] },
      })
    }
  })

  it('answers and caches a generator its own resolver returns, nested lists included', async () => {
    const f = fixture()
    const app = await f.instance()
    for (let i = 0; i < 2; i++) {
      const result = await app.query('{ names cells }')
      expect(result.errors).toBeUndefined()
      expect(result.data).toEqual({
        names: ['Ann', 'Bo'],
        cells: [
          ['1', '2'],
          ['3', '4'],
        ],
      })
      expect(result.cacheControl).toBe('public, max-age=60')
    }
    expect(f.runs['Query.names']).toBe(1)
    expect(f.runs['Query.cells']).toBe(1)
  })

  it('counts a hint its generator sets while it is read: PRIVATE, never stored under the shared key', async () => {
    const f = fixture()
    const app = await f.instance()
    const ann = await app.query('{ mine }', {}, 'ann')
    expect(ann.data).toEqual({ mine: ["ann's"] })
    expect(ann.cacheControl).toBe('private, max-age=60')
    const bob = await app.query('{ mine }', {}, 'bob')
    expect(bob.data).toEqual({ mine: ["bob's"] })
    expect(bob.cacheControl).toBe('private, max-age=60')
    expect(f.runs['Query.mine']).toBe(2)
  })
})
