import { type GraphQLResolveInfo, GraphQLScalarType } from 'graphql'
import { describe, expect, it } from 'vitest'
import { graphqlFixture, recordingLogger } from './schema-fixture.js'

/*
 * GraphQL completes a list field from any iterable, not only an array. A generator can be read once: the
 * cache must not read it before GraphQL does (to check or tag the value), or GraphQL gets it used up and
 * answers an empty list. The lists a field's type declares are read once into arrays, as GraphQL reads
 * them (its own iterator, a Proxy's traps, stopping where GraphQL stops), before the value is judged;
 * lists deeper in the value that can be read once are left to GraphQL, and such a value is neither stored
 * nor shared.
 */

type Context = { viewerId: string | null }
type HintedInfo = GraphQLResolveInfo & {
  cacheControl: { setCacheHint(hint: { scope?: 'PUBLIC' | 'PRIVATE' }): void }
}

function* titles(names: readonly string[]) {
  for (const name of names) yield name
}

function* grid(rows: readonly (readonly number[])[]) {
  for (const row of rows) yield titles(row.map(String))
}

const typeDefs = /* GraphQL */ `
  scalar Nul
  type Query {
    shelf: Shelf
    names: [String!]! @cached(ttl: 60)
    cells: [[String!]!]! @cached(ttl: 60)
    "Its generator makes it PRIVATE while GraphQL would read it."
    mine: [String!]! @cached(ttl: 60)
    "An array that iterates itself, which makes it PRIVATE; its rows are Sets."
    ownIterator: [[String!]!]! @cached(ttl: 60)
    "The same through a Proxy's trap."
    proxied: [[String!]!]! @cached(ttl: 60)
    "Its second row throws while read."
    broken: [[String]] @cached(ttl: 60)
    "Its first item is missing, then many follow."
    firstMissing: [String!] @cached(ttl: 60)
    "Its second item serializes to null, which GraphQL refuses; then many follow."
    nulls: [Nul!] @cached(ttl: 60)
    "Its second item's then getter throws."
    thenThrows: [String!] @cached(ttl: 60)
    "Its first item is a promise, which GraphQL awaits before checking it."
    awaited: [String!] @cached(ttl: 60)
    "Its first item is missing, and closing it throws (GraphQL ignores that)."
    closeThrows: [String!] @cached(ttl: 60)
  }
  type Shelf {
    id: ID!
    titles: [String!]! @cached(ttl: 60)
    tags: [String!]! @cached(ttl: 60)
    section: Section @cached(ttl: 60)
  }
  type Section {
    name: String!
    titles: [String!]!
  }
`

function fixture() {
  const logger = recordingLogger()
  let readAfterMissing = 0
  const f = graphqlFixture({
    typeDefs,
    logger,
    resolvers: (ran) => ({
      Nul: new GraphQLScalarType({ name: 'Nul', serialize: (value) => (value === 'n' ? null : value) }),
      Query: {
        // The shelf's fields are resolved by the default resolver, from one-use generators and a Set.
        shelf: () => {
          ran('Query.shelf')
          return {
            id: '1',
            titles: titles(['Dune', 'Emma']),
            tags: new Set(['classic', 'novel']),
            section: { name: 'novels', titles: titles(['Dune', 'Emma']) },
          }
        },
        names: () => {
          ran('Query.names')
          return titles(['Ann', 'Bo'])
        },
        cells: () => {
          ran('Query.cells')
          return grid([
            [1, 2],
            [3, 4],
          ])
        },
        mine: (_: unknown, __: unknown, context: Context, info: HintedInfo) => {
          ran('Query.mine')
          return (function* () {
            info.cacheControl.setCacheHint({ scope: 'PRIVATE' })
            yield `${context.viewerId}'s`
          })()
        },
        ownIterator: (_: unknown, __: unknown, context: Context, info: HintedInfo) => {
          ran('Query.ownIterator')
          const rows: unknown[] = [new Set([`${context.viewerId}'s secret`])]
          Object.defineProperty(rows, Symbol.iterator, {
            value: function* (this: unknown[]) {
              info.cacheControl.setCacheHint({ scope: 'PRIVATE' })
              yield* Array.prototype.values.call(this)
            },
          })
          return rows
        },
        proxied: (_: unknown, __: unknown, context: Context, info: HintedInfo) => {
          ran('Query.proxied')
          const rows: unknown[] = [new Set([`${context.viewerId}'s secret`])]
          return new Proxy(rows, {
            get(target, property, receiver) {
              if (property === Symbol.iterator) info.cacheControl.setCacheHint({ scope: 'PRIVATE' })
              return Reflect.get(target, property, receiver)
            },
          })
        },
        broken: () => {
          ran('Query.broken')
          return (function* () {
            yield titles(['1a', '1b'])
            yield (function* () {
              yield '2a'
              throw new Error('row 2 broke')
            })()
            yield titles(['3a', '3b'])
          })()
        },
        nulls: () => {
          ran('Query.nulls')
          return (function* () {
            yield 'a'
            yield 'n'
            for (let i = 0; i < 1_000_000; i++) {
              readAfterMissing++
              yield 'b'
            }
          })()
        },
        thenThrows: () => {
          ran('Query.thenThrows')
          return (function* () {
            yield 'a'
            yield {
              // biome-ignore lint/suspicious/noThenProperty: a broken thenable, on purpose.
              get then() {
                throw new Error('then broke')
              },
            }
          })()
        },
        awaited: () => {
          ran('Query.awaited')
          return (function* () {
            yield Promise.resolve('p1')
            yield 'p2'
            yield 'p3'
          })()
        },
        closeThrows: () => {
          ran('Query.closeThrows')
          return (function* () {
            try {
              yield 'c1'
              yield null
              yield 'c3'
            } finally {
              // biome-ignore lint/correctness/noUnsafeFinally: a cursor whose close fails, on purpose.
              throw new Error('cursor close failed')
            }
          })()
        },
        firstMissing: () => {
          ran('Query.firstMissing')
          return (function* () {
            yield null
            for (let i = 0; i < 1_000_000; i++) {
              readAfterMissing++
              yield `row ${i}`
            }
          })()
        },
      },
    }),
  })
  return { ...f, logger, readAfterMissing: () => readAfterMissing }
}

describe('a cached list field whose value is an iterable other than an array', () => {
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

  it.each([
    ['mine', "ann's", "bob's"],
    ['ownIterator', ["ann's secret"], ["bob's secret"]],
    ['proxied', ["ann's secret"], ["bob's secret"]],
  ])(
    'counts a hint set while %s is read: PRIVATE, never served to another viewer',
    async (field, ann, bob) => {
      const f = fixture()
      const app = await f.instance()
      const first = await app.query(`{ ${field} }`, {}, 'ann')
      expect(first.data).toEqual({ [field]: [ann] })
      expect(first.cacheControl).toBe('private, max-age=60')
      const second = await app.query(`{ ${field} }`, {}, 'bob')
      expect(second.data).toEqual({ [field]: [bob] })
      expect(second.cacheControl).toBe('private, max-age=60')
      expect(f.runs[`Query.${field}`]).toBe(2)
    },
  )

  it('fails only the row that threw while read, at its path, as GraphQL does, and caches nothing', async () => {
    const f = fixture()
    const app = await f.instance()
    for (let i = 0; i < 2; i++) {
      const result = await app.query('{ broken }')
      expect(result.data).toEqual({ broken: [['1a', '1b'], null, ['3a', '3b']] })
      expect(result.errors).toMatchObject([{ message: 'row 2 broke', path: ['broken', 1] }])
    }
    expect(f.runs['Query.broken']).toBe(2)
  })

  it('stops reading where GraphQL stops: at a missing item of a non-null item type', async () => {
    const f = fixture()
    const app = await f.instance()
    const result = await app.query('{ firstMissing }')
    expect(result.data).toEqual({ firstMissing: null })
    expect(result.errors).toMatchObject([{ path: ['firstMissing', 0] }])
    expect(f.readAfterMissing()).toBe(0)
  })

  it('stops reading where GraphQL stops: at an item its scalar serializes to null', async () => {
    const f = fixture()
    const app = await f.instance()
    for (let i = 0; i < 2; i++) {
      const result = await app.query('{ nulls }')
      expect(result.data).toEqual({ nulls: null })
      expect(result.errors).toMatchObject([{ path: ['nulls', 1] }])
    }
    expect(f.readAfterMissing()).toBe(0)
    expect(f.runs['Query.nulls']).toBe(2)
  })

  it('fails an item whose then getter throws at that item, as GraphQL does', async () => {
    const app = await fixture().instance()
    const result = await app.query('{ thenThrows }')
    expect(result.data).toEqual({ thenThrows: null })
    expect(result.errors).toMatchObject([{ message: 'then broke', path: ['thenThrows', 1] }])
  })

  it('reads past a promise item, which GraphQL awaits before checking it', async () => {
    const f = fixture()
    const app = await f.instance()
    const result = await app.query('{ awaited }')
    expect(result.errors).toBeUndefined()
    expect(result.data).toEqual({ awaited: ['p1', 'p2', 'p3'] })
  })

  it('reports the missing item, not what closing the generator threw, as GraphQL does', async () => {
    const app = await fixture().instance()
    const result = await app.query('{ closeThrows }')
    expect(result.data).toEqual({ closeThrows: null })
    expect(result.errors).toMatchObject([
      { message: 'Cannot return null for non-nullable field Query.closeThrows.', path: ['closeThrows', 1] },
    ])
  })

  it('leaves a generator inside the value to GraphQL: answered whole, neither stored nor shared', async () => {
    const f = fixture()
    const app = await f.instance()
    const whole = { data: { shelf: { section: { name: 'novels', titles: ['Dune', 'Emma'] } } } }
    // Two at once: a request that joined the other's fill would get its generator used up.
    const [a, b] = await Promise.all([
      app.query('{ shelf { section { name titles } } }'),
      app.query('{ shelf { section { name titles } } }'),
    ])
    expect(a).toMatchObject(whole)
    expect(b).toMatchObject(whole)
    expect(await app.query('{ shelf { section { name titles } } }')).toMatchObject(whole)
    expect(f.logger.warnings.filter((message) => message.includes('Shelf.section'))).toEqual([
      expect.stringContaining('holding a generator for a list: it is never cached'),
    ])
  })
})
