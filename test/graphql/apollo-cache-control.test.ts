/**
 * Apollo Server's `@cacheControl` hints read by loadcache (`apolloCacheControl`). The rule IDs are those of
 * /work/notes/peer-rules.md §1 (Apollo's own tests and docs). Resolver runs prove what was cached; the
 * `Cache-Control` header is what Apollo would send, except where loadcache's stricter rules apply (said so).
 */
import { makeExecutableSchema } from '@graphql-tools/schema'
import type { GraphQLSchema } from 'graphql'
import { describe, expect, it } from 'vitest'
import {
  type ApolloCacheControlOptions,
  LoadCacheSchemaError,
  loadCacheDirectives,
  loadCacheDirectiveTypeDefs,
} from '../../src/graphql/index.js'
import { runCounter, serve } from './serve.js'

/** Apollo's own definitions, as an Apollo Server schema has them. */
const APOLLO_SDL = /* GraphQL */ `
  enum CacheControlScope { PUBLIC PRIVATE }
  directive @cacheControl(maxAge: Int, scope: CacheControlScope, inheritMaxAge: Boolean)
    on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
`

/** The same API twice: hinted for Apollo, and with the equivalent loadcache directives. */
const apolloTypeDefs = /* GraphQL */ `
  type Query {
    book(id: ID!): Book @cacheControl(maxAge: 60)
    books: [Book!]!
    me: Reader @cacheControl(maxAge: 30, scope: PRIVATE)
    uncached: String
  }
  type Book @cacheControl(maxAge: 120) {
    id: ID!
    title: String!
    reviews: [Review!]!
  }
  type Review @cacheControl(maxAge: 10) {
    id: ID!
    text: String!
  }
  type Reader {
    id: ID!
    name: String!
  }
`
const cachedTypeDefs = /* GraphQL */ `
  type Query {
    book(id: ID!): Book @cached(ttl: 60)
    books: [Book!]!
    me: Reader @cached(ttl: 30, scope: PRIVATE)
    uncached: String
  }
  type Book @cached(ttl: 120) {
    id: ID!
    title: String!
    reviews: [Review!]!
  }
  type Review @cached(ttl: 10) {
    id: ID!
    text: String!
  }
  type Reader {
    id: ID!
    name: String!
  }
`

function library(ran: (coordinate: string) => void) {
  const books = new Map([
    ['1', { id: '1', title: 'Dune' }],
    ['2', { id: '2', title: 'Emma' }],
  ])
  const counted =
    <A extends unknown[], R>(coordinate: string, resolve: (...args: A) => R) =>
    (...args: A): R => {
      ran(coordinate)
      return resolve(...args)
    }
  return {
    Query: {
      book: counted('Query.book', (_: unknown, { id }: { id: string }) => books.get(id) ?? null),
      books: counted('Query.books', () => [...books.values()]),
      me: counted('Query.me', (_: unknown, __: unknown, context: { viewerId: string | null }) => ({
        id: context.viewerId ?? 'nobody',
        name: `Reader ${context.viewerId}`,
      })),
      uncached: counted('Query.uncached', () => 'fresh'),
    },
    Book: {
      reviews: counted('Book.reviews', (book: { id: string }) => [{ id: `r${book.id}`, text: 'Great' }]),
    },
  }
}

function apolloServer(typeDefs: string, resolvers: object, apollo: ApolloCacheControlOptions = {}) {
  const schema = makeExecutableSchema({ typeDefs: [APOLLO_SDL, typeDefs], resolvers: resolvers as never })
  return serve(schema, { directives: { apolloCacheControl: apollo } })
}

const script: { query: string; viewer?: string }[] = [
  { query: '{ book(id: "1") { title } }' },
  { query: '{ book(id: "1") { title } }' },
  { query: '{ books { title } }' },
  { query: '{ books { id title } }' },
  { query: '{ book(id: "2") { title reviews { text } } }' },
  { query: '{ book(id: "2") { reviews { text } } }' },
  { query: '{ me { name } }', viewer: 'ann' },
  { query: '{ me { name } }', viewer: 'ann' },
  { query: '{ me { name } }', viewer: 'bob' },
  { query: '{ me { name } }' },
  { query: '{ uncached }' },
  { query: '{ book(id: "1") { title } uncached }' },
]

describe('an Apollo-annotated schema', () => {
  it('is cached like the equivalent @cached schema: the same resolver runs and the same headers', async () => {
    const results: Record<string, { runs: Record<string, number>; headers: (string | null)[] }> = {}
    for (const [name, server] of [
      ['apollo', (ran: (c: string) => void) => apolloServer(apolloTypeDefs, library(ran))],
      [
        'cached',
        (ran: (c: string) => void) =>
          serve(
            makeExecutableSchema({
              typeDefs: [loadCacheDirectiveTypeDefs(), cachedTypeDefs],
              resolvers: library(ran) as never,
            }),
          ),
      ],
    ] as const) {
      const { runs, ran } = runCounter()
      const { query } = server(ran)
      const headers: (string | null)[] = []
      for (const step of script) headers.push((await query(step.query, { viewer: step.viewer })).cacheControl)
      results[name] = { runs, headers }
    }
    expect(results.apollo).toEqual(results.cached)
    // What that is (Apollo would send the same values, written `max-age=60, public`):
    expect(results.apollo!.headers).toEqual([
      'public, max-age=60',
      'public, max-age=60',
      'public, max-age=120', // A-FLD-3: Book's hint through [Book!]!
      'public, max-age=120',
      'public, max-age=10', // A-OVR-1: the smallest, from Review through Book.reviews
      'public, max-age=10',
      'private, max-age=30',
      'private, max-age=30',
      'private, max-age=30',
      'no-store', // differs: PRIVATE without a viewer is not cached, and no HTTP cache may keep it
      'no-store', // A-FLD-5: a root field without hints (defaultMaxAge 0)
      'no-store',
    ])
    expect(results.apollo!.runs).toEqual({
      'Query.book': 2,
      'Query.books': 1,
      'Book.reviews': 1,
      'Query.me': 3,
      'Query.uncached': 2,
    })
  })

  it('A-FLD-9: a field with inheritMaxAge is not cached itself and keeps the max-age of the fields above it', async () => {
    const typeDefs = /* GraphQL */ `
      type Query { book(id: ID!): Book @cacheControl(maxAge: 60) }
      type Book { id: ID! author: Author @cacheControl(inheritMaxAge: true) owner: Reader @cacheControl(inheritMaxAge: true, scope: PRIVATE) plain: Author }
      type Author { name: String! }
      type Reader { name: String! }
    `
    const { runs, ran } = runCounter()
    const { query } = apolloServer(typeDefs, {
      Query: { book: (_: unknown, { id }: { id: string }) => ({ id }) },
      Book: {
        author: () => {
          ran('Book.author')
          return { name: 'Herbert' }
        },
        owner: (_: unknown, __: unknown, context: { viewerId: string | null }) => {
          ran('Book.owner')
          return { name: `owner ${context.viewerId}` }
        },
        plain: () => ({ name: 'Herbert' }),
      },
    })
    expect((await query('{ book(id: "1") { author { name } } }')).cacheControl).toBe('public, max-age=60')
    await query('{ book(id: "1") { author { name } } }')
    expect(runs['Book.author']).toBe(2)
    // With a scope, it applies: private with a viewer, no-store without one.
    const owned = await query('{ book(id: "1") { owner { name } } }', { viewer: 'ann' })
    expect(owned.data).toEqual({ book: { owner: { name: 'owner ann' } } })
    expect(owned.cacheControl).toBe('private, max-age=60')
    expect((await query('{ book(id: "1") { owner { name } } }')).cacheControl).toBe('no-store')
    // A-FLD-4: the same field without inheritMaxAge gets defaultMaxAge 0.
    expect((await query('{ book(id: "1") { plain { name } } }')).cacheControl).toBe('no-store')
  })

  it('A-FLD-10: every field returning a type with inheritMaxAge inherits; a maxAge on the type wins over the field (A-FLD-9)', async () => {
    const typeDefs = /* GraphQL */ `
      type Query { shelf: Shelf @cacheControl(maxAge: 500) }
      type Shelf { id: ID! label: Label keeper: Keeper @cacheControl(inheritMaxAge: true) }
      type Label @cacheControl(inheritMaxAge: true) { text: String! }
      type Keeper @cacheControl(maxAge: 20) { id: ID! name: String! }
    `
    const { runs, ran } = runCounter()
    const { query } = apolloServer(typeDefs, {
      Query: { shelf: () => ({ id: 's1' }) },
      Shelf: {
        label: () => ({ text: 'Fiction' }),
        keeper: () => {
          ran('Shelf.keeper')
          return { id: 'k1', name: 'Kim' }
        },
      },
    })
    expect((await query('{ shelf { label { text } } }')).cacheControl).toBe('public, max-age=500')
    // Keeper's own maxAge applies to Shelf.keeper despite inheritMaxAge, and so the field is cached.
    expect((await query('{ shelf { keeper { name } } }')).cacheControl).toBe('public, max-age=20')
    await query('{ shelf { keeper { name } } }')
    expect(runs['Shelf.keeper']).toBe(1)
  })

  it('A-ALG-2: maxAge 0 on a field or its type means not cached, and the response is no-store', async () => {
    const typeDefs = /* GraphQL */ `
      type Query { clock: String @cacheControl(maxAge: 0) book: Book @cacheControl(maxAge: 60) live: Live @cacheControl(maxAge: 30) }
      type Book { id: ID! stock: Int @cacheControl(maxAge: 0) }
      type Live @cacheControl(maxAge: 0) { id: ID! }
    `
    const { runs, ran } = runCounter()
    const { query } = apolloServer(typeDefs, {
      Query: {
        clock: () => {
          ran('Query.clock')
          return 'now'
        },
        book: () => ({ id: 'b1' }),
        live: () => {
          ran('Query.live')
          return { id: 'l1' }
        },
      },
      Book: {
        stock: () => {
          ran('Book.stock')
          return 3
        },
      },
    })
    for (let i = 0; i < 2; i++) {
      expect((await query('{ clock }')).cacheControl).toBe('no-store')
      expect((await query('{ book { stock } }')).cacheControl).toBe('no-store')
      // Differs from Apollo (the field's 30 replaces the type's 0 there): a field cannot raise its type's TTL.
      expect((await query('{ live { id } }')).cacheControl).toBe('no-store')
    }
    expect(runs).toEqual({ 'Query.clock': 2, 'Book.stock': 2, 'Query.live': 2 })
    expect((await query('{ book { id } }')).cacheControl).toBe('public, max-age=60')
  })

  it('A-FLD-8: defaultMaxAge caches root and object fields without hints; scalars inherit; fields of id-less types count for the header only', async () => {
    const typeDefs = /* GraphQL */ `
      type Query { stats: Stats counter: Int }
      type Stats { views: Int! detail: Detail }
      type Detail { note: String! }
    `
    const { runs, ran } = runCounter()
    const resolvers = {
      Query: {
        stats: () => {
          ran('Query.stats')
          return { views: 7 }
        },
        counter: () => {
          ran('Query.counter')
          return 1
        },
      },
      Stats: {
        detail: () => {
          ran('Stats.detail')
          return { note: 'ok' }
        },
      },
    }
    const { query } = apolloServer(typeDefs, resolvers, { defaultMaxAge: 5 })
    for (let i = 0; i < 2; i++) {
      expect((await query('{ stats { views detail { note } } counter }')).cacheControl).toBe(
        'public, max-age=5',
      )
    }
    expect(runs['Query.stats']).toBe(1)
    expect(runs['Query.counter']).toBe(1)
    // Stats has no id: its detail cannot be keyed, so it runs each time (pass identity to cache it).
    expect(runs['Stats.detail']).toBe(2)

    const strict = runCounter()
    const { query: queryDefault } = apolloServer(typeDefs, {
      ...resolvers,
      Query: {
        ...resolvers.Query,
        stats: () => {
          strict.ran('Query.stats')
          return { views: 7 }
        },
      },
    })
    expect((await queryDefault('{ stats { views } }')).cacheControl).toBe('no-store')
    await queryDefault('{ stats { views } }')
    expect(strict.runs['Query.stats']).toBe(2)
  })

  it('keeps loadcache stricter rules: a field cannot raise its type ttl (A-FLD-1), nor say PUBLIC on a PRIVATE type (A-FLD-2)', async () => {
    const typeDefs = /* GraphQL */ `
      type Query { droid: Droid @cacheControl(maxAge: 300) }
      type Droid @cacheControl(maxAge: 60) { id: ID! }
    `
    const { query } = apolloServer(typeDefs, { Query: { droid: () => ({ id: 'd1' }) } })
    // Apollo: 300 (the field replaces the type's hint).
    expect((await query('{ droid { id } }')).cacheControl).toBe('public, max-age=60')

    const schema = makeExecutableSchema({
      typeDefs: [
        APOLLO_SDL,
        'type Query { vault: Vault @cacheControl(scope: PUBLIC) } type Vault @cacheControl(maxAge: 60, scope: PRIVATE) { id: ID! }',
      ],
    })
    expect(() => loadCacheDirectives({ apolloCacheControl: true }).transformer(schema)).toThrow(
      '@cacheControl on Query.vault: scope PUBLIC on a field whose type Vault is PRIVATE',
    )
  })

  it('ignores hints on mutations, which still evict what they return', async () => {
    const typeDefs = /* GraphQL */ `
      type Query { book(id: ID!): Book }
      type Book @cacheControl(maxAge: 60) { id: ID! title: String! }
      type Mutation { retitle(id: ID!, title: String!): Book @cacheControl(maxAge: 10) }
    `
    const titles = new Map([['1', 'Dune']])
    const { runs, ran } = runCounter()
    const { query } = apolloServer(typeDefs, {
      Query: {
        book: (_: unknown, { id }: { id: string }) => {
          ran('Query.book')
          return { id, title: titles.get(id) }
        },
      },
      Mutation: {
        retitle: (_: unknown, { id, title }: { id: string; title: string }) => {
          titles.set(id, title)
          return { id, title }
        },
      },
    })
    await query('{ book(id: "1") { title } }')
    expect((await query('mutation { retitle(id: "1", title: "Dune II") { id } }')).cacheControl).toBe(
      'no-store',
    )
    expect((await query('{ book(id: "1") { title } }')).data).toEqual({ book: { title: 'Dune II' } })
    expect(runs['Query.book']).toBe(2)
  })

  describe('build errors', () => {
    const build =
      (sdl: string, options: ApolloCacheControlOptions | true = true, cached = false) =>
      () =>
        loadCacheDirectives({ apolloCacheControl: options }).transformer(
          makeExecutableSchema({
            typeDefs: [APOLLO_SDL, ...(cached ? [loadCacheDirectiveTypeDefs()] : []), sdl],
          }) as GraphQLSchema,
        )

    it('refuses a negative maxAge, naming the field', () => {
      expect(build('type Query { a: Int @cacheControl(maxAge: -1) }')).toThrow(LoadCacheSchemaError)
      expect(build('type Query { a: Int @cacheControl(maxAge: -1) }')).toThrow(
        '@cacheControl on Query.a: maxAge must be a non-negative integer (seconds), got -1',
      )
    })

    it('refuses a negative defaultMaxAge', () => {
      expect(build('type Query { a: Int }', { defaultMaxAge: -5 })).toThrow(
        'option "apolloCacheControl.defaultMaxAge" must be a non-negative integer (seconds), got -5',
      )
    })

    it('refuses a field hinted by both @cached and @cacheControl, naming it', () => {
      expect(build('type Query { a: Int @cached(ttl: 5) @cacheControl(maxAge: 5) }', true, true)).toThrow(
        'Query.a has a cache hint from two sources (@cached on Query.a and @cacheControl on Query.a); keep one',
      )
    })
  })
})
