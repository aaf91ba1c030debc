/**
 * Conformance with Apollo Server's cacheControl rules (the IDs are those of /work/notes/peer-rules.md §1;
 * sources: apollo-server `packages/server/src/plugin/cacheControl/index.ts`, its tests, and
 * docs/source/performance/caching.md). loadcache's `@cached(ttl, tags, scope)` plays the part of
 * `@cacheControl(maxAge, scope)`. Where loadcache deliberately differs, the test asserts loadcache's
 * behaviour and says why.
 *
 * Every test counts resolver runs (`runs['Type.field']`) to prove what was served from the cache.
 */
import { makeExecutableSchema } from '@graphql-tools/schema'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  LoadCacheSchemaError,
  loadCacheDirectives,
  loadCacheDirectiveTypeDefs,
} from '../../src/graphql/index.js'
import { conformanceFixture, type ViewerContext } from './harness.js'

const typeDefs = /* GraphQL */ `
  type Query {
    cooks: [Cook]
    strictCooks: [Cook!]!
    droid(id: ID!): Droid @cached(ttl: 120)
    quickDroid(id: ID!): Droid @cached(ttl: 30)
    privateDroid(id: ID!): Droid @cached(scope: PRIVATE)
    vault(id: ID!): Vault @cached(ttl: 120)
    vaults: [Vault!]!
    pooks: [Pook]
    cachedBook(id: ID!): Book @cached(ttl: 60)
    book(id: ID!): Book
    brokenBook: Book @cached(ttl: 60)
    name: String
    failing: String @cached(ttl: 60)
    ten: String @cached(ttl: 10, scope: PRIVATE)
    twenty: String @cached(ttl: 20)
    uncached: String
    named(id: ID!): Named
    robot(id: ID!): Robot
    thing(id: ID!): Thing
    profile(id: ID!): Profile
  }
  type Cook @cached(ttl: 200) {
    id: ID!
    title: String!
    author: String!
  }
  type Droid @cached(ttl: 60) {
    id: ID!
    name: String!
  }
  type Vault @cached(ttl: 60, scope: PRIVATE) {
    id: ID!
    contents: String!
  }
  type Pook @cached(ttl: 200) {
    id: ID!
    title: String!
    books: [Book] @cached(ttl: 20, scope: PRIVATE)
  }
  type Book {
    id: ID!
    title: String!
    cachedTitle: String @cached(ttl: 30)
    strictTitle: String! @cached(ttl: 60)
    note: String @cached(ttl: 10, scope: PRIVATE)
    author: Person
  }
  type Person {
    name: String!
  }
  interface Named @cached(ttl: 60) {
    id: ID!
    name: String!
  }
  type Robot implements Named @cached(ttl: 30) {
    id: ID!
    name: String!
    model: String!
  }
  type Alien implements Named {
    id: ID!
    name: String!
    planet: String!
  }
  union Thing @cached(ttl: 45) = Robot | Ghost
  type Ghost @cached(ttl: 90, scope: PRIVATE) {
    id: ID!
    haunts: String!
  }
  interface Profile @cached(ttl: 40) {
    id: ID!
    handle: String!
  }
  type PublicProfile implements Profile {
    id: ID!
    handle: String!
  }
  type PrivateProfile implements Profile @cached(ttl: 40, scope: PRIVATE) {
    id: ID!
    handle: String!
  }
  type Mutation {
    renameBook(id: ID!, title: String!): Book
  }
`

type BookRow = { id: string; title: string | null; author?: { name: string } }

function apolloFixture() {
  const books = new Map<string, BookRow>([
    ['1', { id: '1', title: 'Dune', author: { name: 'Herbert' } }],
    ['2', { id: '2', title: 'Emma', author: { name: 'Austen' } }],
  ])
  const who = (context: ViewerContext) => context.viewerId ?? 'nobody'
  // Named and Profile resolve their runtime type with __resolveType, Thing (a union) with isTypeOf: no value
  // carries __typename.
  const robots = new Map([
    ['r1', { id: 'r1', name: 'R2-D2', model: 'astromech' }],
    ['a1', { id: 'a1', name: 'ALF', planet: 'Melmac' }],
  ])
  const fixture = conformanceFixture({
    typeDefs,
    resolvers: {
      Query: {
        cooks: () => [
          { id: 'c1', title: 'Soup', author: 'Ann' },
          { id: 'c2', title: 'Stew', author: 'Bob' },
        ],
        strictCooks: () => [{ id: 'c1', title: 'Soup', author: 'Ann' }],
        droid: (_: unknown, { id }: { id: string }) => ({ id, name: `Droid ${id}` }),
        quickDroid: (_: unknown, { id }: { id: string }) => ({ id, name: `Droid ${id}` }),
        privateDroid: (_: unknown, { id }: { id: string }, context: ViewerContext) => ({
          id,
          name: `Droid ${id} for ${who(context)}`,
        }),
        vault: (_: unknown, { id }: { id: string }, context: ViewerContext) => ({
          id,
          contents: `vault ${id} of ${who(context)}`,
        }),
        vaults: (_: unknown, __: unknown, context: ViewerContext) => [
          { id: 'v1', contents: `vault v1 of ${who(context)}` },
          { id: 'v2', contents: `vault v2 of ${who(context)}` },
        ],
        pooks: () => [{ id: 'p1', title: 'Pook 1' }],
        cachedBook: (_: unknown, { id }: { id: string }) => books.get(id) ?? null,
        book: (_: unknown, { id }: { id: string }) => books.get(id) ?? null,
        // Its title is null, but Book.title is String!: the error surfaces only below the cached field.
        brokenBook: () => ({ id: '99', title: null }),
        name: () => 'Apollo',
        failing: () => {
          throw new Error('failing resolver')
        },
        ten: (_: unknown, __: unknown, context: ViewerContext) => `ten for ${who(context)}`,
        twenty: () => 'twenty',
        uncached: () => 'uncached',
        named: (_: unknown, { id }: { id: string }) => robots.get(id) ?? null,
        robot: (_: unknown, { id }: { id: string }) => robots.get(id) ?? null,
        thing: (_: unknown, { id }: { id: string }, context: ViewerContext) =>
          id.startsWith('g') ? { id, haunts: `the attic of ${who(context)}` } : (robots.get(id) ?? null),
        profile: (_: unknown, { id }: { id: string }, context: ViewerContext) =>
          id.startsWith('private')
            ? { id, handle: `@${who(context)}`, visibility: 'private' }
            : { id, handle: '@everyone', visibility: 'public' },
      },
      Pook: {
        books: () => [...books.values()],
      },
      Book: {
        cachedTitle: (book: BookRow) => book.title?.toUpperCase() ?? null,
        // Book 2 breaks the non-null contract of strictTitle.
        strictTitle: (book: BookRow) => (book.id === '2' ? null : book.title),
        note: (book: BookRow, _: unknown, context: ViewerContext) => `note on ${book.id} by ${who(context)}`,
      },
      Named: {
        __resolveType: (value: Record<string, unknown>) => ('planet' in value ? 'Alien' : 'Robot'),
      },
      Profile: {
        __resolveType: (value: { visibility: string }) =>
          value.visibility === 'private' ? 'PrivateProfile' : 'PublicProfile',
      },
      Robot: { __isTypeOf: (value: Record<string, unknown>) => 'model' in value },
      Ghost: { __isTypeOf: (value: Record<string, unknown>) => 'haunts' in value },
      Mutation: {
        renameBook: (_: unknown, { id, title }: { id: string; title: string }) => {
          const book = books.get(id)
          if (!book) return null
          book.title = title
          return { ...book }
        },
      },
    },
  })
  return { ...fixture, books }
}

let fixture: ReturnType<typeof apolloFixture>
afterEach(async () => {
  vi.useRealTimers()
  await fixture?.close()
})

function setup() {
  fixture = apolloFixture()
  return { runs: fixture.runs, ...fixture.server() }
}

describe('field policies (Apollo §1.2)', () => {
  it('A-FLD-3: a type hint applies through a nullable list (caching.md; test "applies cacheControl Headers")', async () => {
    // Apollo: `cooks: [Cook]`, `type Cook @cacheControl(maxAge: 200)`, `{ cooks { title author } }` → max-age=200.
    const { query, runs } = setup()
    const first = await query('{ cooks { title author } }')
    expect(first.data).toEqual({
      cooks: [
        { title: 'Soup', author: 'Ann' },
        { title: 'Stew', author: 'Bob' },
      ],
    })
    // loadcache writes scope first: `public, max-age=N` (Apollo: `max-age=200, public`), see A-HDR-1.
    expect(first.cacheControl).toBe('public, max-age=200')
    const second = await query('{ cooks { title author } }')
    expect(second.data).toEqual(first.data)
    expect(second.cacheControl).toBe('public, max-age=200')
    // The field inherited the type's policy, so it is cached: its resolver ran once.
    expect(runs['Query.cooks']).toBe(1)
  })

  it('A-FLD-3: a type hint applies through non-null and a non-null list ([Cook!]!)', async () => {
    const { query, runs } = setup()
    expect((await query('{ strictCooks { title } }')).cacheControl).toBe('public, max-age=200')
    expect((await query('{ strictCooks { title } }')).data).toEqual({ strictCooks: [{ title: 'Soup' }] })
    expect(runs['Query.strictCooks']).toBe(1)
  })

  it('A-FLD-3 + scope: a PRIVATE type hint applies through [Vault!]!: private, cached per viewer, not at all without one', async () => {
    const { query, runs } = setup()
    const alice = await query('{ vaults { id contents } }', { viewer: 'alice' })
    expect(alice.cacheControl).toBe('private, max-age=60')
    expect(alice.data).toEqual({
      vaults: [
        { id: 'v1', contents: 'vault v1 of alice' },
        { id: 'v2', contents: 'vault v2 of alice' },
      ],
    })
    expect((await query('{ vaults { id contents } }', { viewer: 'alice' })).data).toEqual(alice.data)
    expect(runs['Query.vaults']).toBe(1)
    const bob = await query('{ vaults { contents } }', { viewer: 'bob' })
    expect(bob.data).toEqual({ vaults: [{ contents: 'vault v1 of bob' }, { contents: 'vault v2 of bob' }] })
    expect(runs['Query.vaults']).toBe(2)
    // Differs from Apollo (which would say `private`): PRIVATE data resolved without a viewer cannot be keyed,
    // so it is not cached, and no HTTP cache may keep it either.
    const anonymous = await query('{ vaults { contents } }')
    expect(anonymous.cacheControl).toBe('no-store')
    await query('{ vaults { contents } }')
    expect(runs['Query.vaults']).toBe(4)
  })

  it('A-FLD-1 (differs): a field hint cannot raise its type ttl: droid @cached(ttl: 120) on a 60 s Droid is max-age=60', async () => {
    // Apollo test "should override the maxAge from the target type with that specified on a field" → 120.
    // loadcache takes min(field, type): advertising more than the type's author allowed would let HTTP caches
    // (and loadcache's own entry) keep the object longer than its type says it may be kept.
    const { query, runs } = setup()
    expect((await query('{ droid(id: "1") { name } }')).cacheControl).toBe('public, max-age=60')
    // A field hint may lower it (Apollo agrees: it replaces).
    expect((await query('{ quickDroid(id: "1") { name } }')).cacheControl).toBe('public, max-age=30')
    expect((await query('{ droid(id: "1") { name } }')).data).toEqual({ droid: { name: 'Droid 1' } })
    expect(runs['Query.droid']).toBe(1)
  })

  it('A-FLD-1 (differs): the entry of droid @cached(ttl: 120) on a 60 s Droid expires after 60 s, not 120 s', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const { query, runs } = setup()
    const start = Date.now()
    await query('{ droid(id: "7") { name } }')
    vi.setSystemTime(start + 59_000)
    await query('{ droid(id: "7") { name } }')
    expect(runs['Query.droid']).toBe(1)
    vi.setSystemTime(start + 61_000)
    await query('{ droid(id: "7") { name } }')
    expect(runs['Query.droid']).toBe(2)
  })

  it('A-FLD-2: a field hint with only ttl keeps the type scope PRIVATE (test "... keeping the scope")', async () => {
    // Apollo: type {60, PRIVATE}, field {maxAge: 120} → {120, PRIVATE}. loadcache: min ttl (A-FLD-1) → {60, PRIVATE}.
    const { query, runs } = setup()
    const alice = await query('{ vault(id: "9") { contents } }', { viewer: 'alice' })
    expect(alice.cacheControl).toBe('private, max-age=60')
    expect(alice.data).toEqual({ vault: { contents: 'vault 9 of alice' } })
    const bob = await query('{ vault(id: "9") { contents } }', { viewer: 'bob' })
    expect(bob.data).toEqual({ vault: { contents: 'vault 9 of bob' } })
    await query('{ vault(id: "9") { contents } }', { viewer: 'alice' })
    expect(runs['Query.vault']).toBe(2)
  })

  it('A-FLD-2: a field hint with only scope PRIVATE keeps the type ttl (test "should override the scope ...")', async () => {
    // Apollo: type {60, PUBLIC}, field {scope: PRIVATE} → {60, PRIVATE}. Same in loadcache.
    const { query, runs } = setup()
    const alice = await query('{ privateDroid(id: "3") { name } }', { viewer: 'alice' })
    expect(alice.cacheControl).toBe('private, max-age=60')
    expect(alice.data).toEqual({ privateDroid: { name: 'Droid 3 for alice' } })
    expect((await query('{ privateDroid(id: "3") { name } }', { viewer: 'bob' })).data).toEqual({
      privateDroid: { name: 'Droid 3 for bob' },
    })
    expect((await query('{ privateDroid(id: "3") { name } }', { viewer: 'alice' })).data).toEqual(alice.data)
    expect(runs['Query.privateDroid']).toBe(2)
  })

  describe('A-FLD-2 corollary (differs): scope PUBLIC on a field whose type is PRIVATE fails the schema build', () => {
    // Apollo lets the field hint replace the scope (A-ALG-1 replace), which would cache one viewer's data for
    // every viewer. loadcache refuses it with a LoadCacheSchemaError naming the field.
    const build = (sdl: string) => () => {
      const { typeDefs: directiveTypeDefs, transformer } = loadCacheDirectives()
      return transformer(makeExecutableSchema({ typeDefs: [directiveTypeDefs, sdl] }))
    }
    const secret = 'type Secret @cached(ttl: 10, scope: PRIVATE) { id: ID! value: String }'
    it.each([
      ['a root field', `${secret} type Query { s: Secret @cached(scope: PUBLIC) }`, 'Query.s'],
      [
        'through a list',
        `${secret} type Query { ss: [Secret!]! @cached(ttl: 5, scope: PUBLIC) }`,
        'Query.ss',
      ],
      [
        'a nested field',
        `${secret} type Query { o: Owner @cached(ttl: 5) } type Owner { id: ID! secret: Secret @cached(scope: PUBLIC) }`,
        'Owner.secret',
      ],
      [
        'an interface with a PRIVATE object type',
        `${secret} interface I @cached(ttl: 5) { id: ID! } type Pub implements I { id: ID! }
         type Priv implements I @cached(ttl: 5, scope: PRIVATE) { id: ID! }
         type Query { i: I @cached(scope: PUBLIC) }`,
        'Query.i',
      ],
      [
        'a union with a PRIVATE member',
        `${secret} type Pub { id: ID! } union U @cached(ttl: 5) = Pub | Secret
         type Query { u: U @cached(scope: PUBLIC) }`,
        'Query.u',
      ],
    ])('A-FLD-2 corollary: %s', (_what, sdl, coordinate) => {
      expect(build(sdl)).toThrow(LoadCacheSchemaError)
      expect(build(sdl)).toThrow(`@cached on ${coordinate}: scope PUBLIC on a field whose type`)
    })

    it('A-FLD-2 corollary: leaving scope out inherits PRIVATE instead (no error)', () => {
      expect(build(`${secret} type Query { s: Secret @cached(ttl: 5) }`)).not.toThrow()
    })
  })

  it('A-FLD-4: a non-root field returning an object without a hint makes the response no-store (test "contains no cacheControl Headers when uncacheable")', async () => {
    // Book.author: Person has no hint on the field nor on Person: Apollo gives it maxAge 0 (defaultMaxAge).
    const { query, runs } = setup()
    const withAuthor = await query('{ cachedBook(id: "1") { title author { name } } }')
    expect(withAuthor.data).toEqual({ cachedBook: { title: 'Dune', author: { name: 'Herbert' } } })
    expect(withAuthor.cacheControl).toBe('no-store')
    // The cached root field is still served from the cache: only the HTTP header is affected.
    expect((await query('{ cachedBook(id: "1") { title author { name } } }')).cacheControl).toBe('no-store')
    expect(runs['Query.cachedBook']).toBe(1)
    // Without the unhinted composite field the same root field is cacheable.
    expect((await query('{ cachedBook(id: "1") { title } }')).cacheControl).toBe('public, max-age=60')
  })

  it('A-FLD-5: a root field without a hint, even a scalar, makes the response no-store and is not cached (test "... top-level scalar field without cache hints")', async () => {
    const { query, runs } = setup()
    expect((await query('{ name }')).cacheControl).toBe('no-store')
    expect((await query('{ name }')).data).toEqual({ name: 'Apollo' })
    expect(runs['Query.name']).toBe(2)
    // Next to a cached root field it still makes the whole response no-store.
    expect((await query('{ name cachedBook(id: "1") { title } }')).cacheControl).toBe('no-store')
    // A root field returning an object without a hint: no-store, and it runs every time.
    expect((await query('{ book(id: "1") { title } }')).cacheControl).toBe('no-store')
    await query('{ book(id: "1") { title } }')
    expect(runs['Query.book']).toBe(2)
  })

  it('A-FLD-6: non-root scalars without a hint inherit their parent (test "inheritMaxAge docs examples": {cachedBook{title}} → 60)', async () => {
    const { query } = setup()
    const result = await query('{ cachedBook(id: "1") { id title } }')
    expect(result.data).toEqual({ cachedBook: { id: '1', title: 'Dune' } })
    expect(result.cacheControl).toBe('public, max-age=60')
  })

  it('A-FLD-7: a non-root scalar with its own hint lowers the max-age ({cachedBook{cachedTitle}} → 30; {book{cachedTitle}} → uncacheable)', async () => {
    const { query, runs } = setup()
    const first = await query('{ cachedBook(id: "1") { cachedTitle } }')
    expect(first.data).toEqual({ cachedBook: { cachedTitle: 'DUNE' } })
    expect(first.cacheControl).toBe('public, max-age=30')
    await query('{ cachedBook(id: "1") { cachedTitle } }')
    expect(runs['Book.cachedTitle']).toBe(1)
    // Under an unhinted root field the response is uncacheable, but the hinted field itself is still cached.
    expect((await query('{ book(id: "1") { cachedTitle } }')).cacheControl).toBe('no-store')
    expect(runs['Book.cachedTitle']).toBe(1)
  })

  it('A-FLD-11 (differs): an interface field takes the smallest ttl of the interface and its object types (test "interaction between type implementing interface ...")', async () => {
    // Apollo: named: Named (Named 60, Robot 30) → 60 even when a Robot is returned. loadcache: 30, whatever
    // object is returned: a field may never advertise more than any type it can return allows (the same
    // rule that makes a field PRIVATE when one of its object types is). robot: Robot → 30. The runtime type
    // comes from Named.__resolveType; the values carry no __typename.
    const { query, runs } = setup()
    const named = await query('{ named(id: "r1") { id name ... on Robot { model } } }')
    expect(named.data).toEqual({ named: { id: 'r1', name: 'R2-D2', model: 'astromech' } })
    expect(named.cacheControl).toBe('public, max-age=30')
    // Cached although Named is not a field hint: the interface's type hint applies to the field.
    const again = await query('{ named(id: "r1") { id name ... on Robot { model } } }')
    expect(again.data).toEqual(named.data)
    expect(runs['Query.named']).toBe(1)
    // The unhinted implementor Alien resolves through the cache as well (from the plain cached value).
    const alien = await query('{ named(id: "a1") { name ... on Alien { planet } } }')
    expect(alien.data).toEqual({ named: { name: 'ALF', planet: 'Melmac' } })
    expect((await query('{ named(id: "a1") { name ... on Alien { planet } } }')).data).toEqual(alien.data)
    expect(runs['Query.named']).toBe(2)
    expect((await query('{ robot(id: "r1") { name } }')).cacheControl).toBe('public, max-age=30')
  })

  it('A-FLD-11 (differs for scope): a union with a PRIVATE member makes the field PRIVATE, whatever object it returns (isTypeOf)', async () => {
    // Apollo reads only the declared union's hint (45, PUBLIC). loadcache also lets any possible object type make
    // the field PRIVATE: which object a field returns can depend on the viewer, so its entry must be keyed by viewer.
    // Its ttl is the smallest of the union's (45) and its object types' (Robot 30, Ghost 90): 30.
    const { query, runs } = setup()
    const robot = await query('{ thing(id: "r1") { ... on Robot { name } ... on Ghost { haunts } } }', {
      viewer: 'alice',
    })
    expect(robot.data).toEqual({ thing: { name: 'R2-D2' } })
    expect(robot.cacheControl).toBe('private, max-age=30')
    const ghost = await query('{ thing(id: "g1") { ... on Robot { name } ... on Ghost { haunts } } }', {
      viewer: 'alice',
    })
    expect(ghost.data).toEqual({ thing: { haunts: 'the attic of alice' } })
    // Keyed per viewer: bob gets his own entry, alice's second read is a hit.
    const bob = await query('{ thing(id: "g1") { ... on Ghost { haunts } } }', { viewer: 'bob' })
    expect(bob.data).toEqual({ thing: { haunts: 'the attic of bob' } })
    await query('{ thing(id: "g1") { ... on Ghost { haunts } } }', { viewer: 'alice' })
    expect(runs['Query.thing']).toBe(3)
  })

  it('A-FLD-11 (differs for scope): an interface with a PRIVATE implementor is PRIVATE; without a viewer no-store and uncached', async () => {
    const { query, runs } = setup()
    const pub = await query('{ profile(id: "public-1") { handle } }', { viewer: 'alice' })
    expect(pub.data).toEqual({ profile: { handle: '@everyone' } })
    expect(pub.cacheControl).toBe('private, max-age=40')
    const priv = await query('{ profile(id: "private-1") { id handle } }', { viewer: 'alice' })
    expect(priv.data).toEqual({ profile: { id: 'private-1', handle: '@alice' } })
    await query('{ profile(id: "private-1") { id handle } }', { viewer: 'alice' })
    expect(runs['Query.profile']).toBe(2)
    const anonymous = await query('{ profile(id: "private-1") { handle } }')
    expect(anonymous.data).toEqual({ profile: { handle: '@nobody' } })
    expect(anonymous.cacheControl).toBe('no-store')
    await query('{ profile(id: "private-1") { handle } }')
    expect(runs['Query.profile']).toBe(4)
  })

  it('A-FLD-12: only executed fields count: fields under a null parent and @skip-ped fields do not lower max-age', async () => {
    const { query } = setup()
    // Book "404" does not exist: cachedTitle (30) and note (PRIVATE, 10) never run.
    const missing = await query('{ cachedBook(id: "404") { cachedTitle note } }')
    expect(missing.data).toEqual({ cachedBook: null })
    expect(missing.cacheControl).toBe('public, max-age=60')
    const skipped = await query('{ cachedBook(id: "1") { title cachedTitle @skip(if: true) } }')
    expect(skipped.data).toEqual({ cachedBook: { title: 'Dune' } })
    expect(skipped.cacheControl).toBe('public, max-age=60')
    const included = await query('{ cachedBook(id: "1") { title cachedTitle @include(if: true) } }')
    expect(included.cacheControl).toBe('public, max-age=30')
    // A PRIVATE field that did run makes an anonymous response no-store (it could not be cached).
    expect((await query('{ cachedBook(id: "1") { note } }')).cacheControl).toBe('no-store')
  })

  it('A-FLD-13 / A-HDR-6: __typename contributes nothing; introspection is no-store', async () => {
    const { query } = setup()
    const typename = await query('{ cachedBook(id: "1") { __typename title } }')
    expect(typename.data).toEqual({ cachedBook: { __typename: 'Book', title: 'Dune' } })
    expect(typename.cacheControl).toBe('public, max-age=60')
    // Apollo: nothing contributed ⇒ empty policy ⇒ no-store.
    expect((await query('{ __typename }')).cacheControl).toBe('no-store')
    const schema = await query('{ __schema { queryType { name } } }')
    expect(schema.data).toEqual({ __schema: { queryType: { name: 'Query' } } })
    expect(schema.cacheControl).toBe('no-store')
    expect((await query('{ __type(name: "Book") { name } }')).cacheControl).toBe('no-store')
  })

  it('A-FLD-13 (differs): introspection next to a cached field makes the response no-store', async () => {
    // Apollo ignores __type here and would answer max-age=60. loadcache (like envelop, E-TTL-5) never lets an
    // HTTP cache keep introspection: it describes the deployed schema, not data with a ttl.
    const { query } = setup()
    const mixed = await query('{ __type(name: "Book") { name } cachedBook(id: "1") { title } }')
    expect(mixed.data).toEqual({ __type: { name: 'Book' }, cachedBook: { title: 'Dune' } })
    expect(mixed.cacheControl).toBe('no-store')
  })

  it('A-FLD-9/10 (not supported): the directive has no inheritMaxAge; an SDL using it is rejected', () => {
    // @cached has no inheritMaxAge: a composite field inherits only from its return type, or has its own hint.
    // (Apollo's own @cacheControl hints, inheritMaxAge included, are read with `apolloCacheControl`: see
    // test/graphql/apollo-cache-control.test.ts.)
    expect(loadCacheDirectiveTypeDefs()).not.toContain('inheritMaxAge')
    expect(() =>
      makeExecutableSchema({
        typeDefs: [
          loadCacheDirectiveTypeDefs(),
          'type Query { a: A @cached(inheritMaxAge: true) } type A { b: Int }',
        ],
      }),
    ).toThrow(/inheritMaxAge/)
  })

  it('A-ALG-2 (differs): ttl 0 is refused at build time instead of meaning "uncacheable"', () => {
    // Apollo: maxAge 0 ⇒ policyIfCacheable null. loadcache: leave the directive out for "not cached".
    const { typeDefs: directiveTypeDefs, transformer } = loadCacheDirectives()
    const schema = makeExecutableSchema({
      typeDefs: [directiveTypeDefs, 'type Query { a: Int @cached(ttl: 0) }'],
    })
    expect(() => transformer(schema)).toThrow(LoadCacheSchemaError)
  })
})

describe('overall policy (Apollo §1.4)', () => {
  it('A-OVR-1: the smallest max-age across root fields wins', async () => {
    const { query } = setup()
    const result = await query('{ cachedBook(id: "1") { title } quickDroid(id: "1") { name } cooks { id } }')
    expect(result.cacheControl).toBe('public, max-age=30')
  })

  it('A-OVR-1: any PRIVATE field makes it private, with the smallest max-age (test "contains private cacheControl Headers when scoped")', async () => {
    // type Pook @cached(ttl: 200) { books: [Book] @cached(ttl: 20, scope: PRIVATE) } → private, 20.
    const { query, runs } = setup()
    const first = await query('{ pooks { title books { title } } }', { viewer: 'alice' })
    expect(first.data).toEqual({
      pooks: [{ title: 'Pook 1', books: [{ title: 'Dune' }, { title: 'Emma' }] }],
    })
    expect(first.cacheControl).toBe('private, max-age=20')
    await query('{ pooks { title books { title } } }', { viewer: 'alice' })
    expect(runs['Query.pooks']).toBe(1)
    expect(runs['Pook.books']).toBe(1)
    // Another viewer shares the PUBLIC pooks entry, and gets their own PRIVATE books entry.
    await query('{ pooks { title books { title } } }', { viewer: 'bob' })
    expect(runs['Query.pooks']).toBe(1)
    expect(runs['Pook.books']).toBe(2)
  })

  it('A-OVR-1: PRIVATE wins over PUBLIC fields of a longer ttl', async () => {
    const { query } = setup()
    const result = await query('{ cooks { id } privateDroid(id: "1") { name } }', { viewer: 'alice' })
    expect(result.cacheControl).toBe('private, max-age=60')
  })

  it('A-OVR-2: the operations of a batched HTTP request combine into one header, order-independent (test "... for batched operation")', async () => {
    // A yoga with batching on (over the same SDL, with the resolvers this test needs).
    const batching = conformanceFixture({
      typeDefs,
      resolvers: {
        Query: {
          ten: (_: unknown, __: unknown, context: ViewerContext) => `ten for ${context.viewerId}`,
          twenty: () => 'twenty',
          uncached: () => 'uncached',
        },
      },
      batching: true,
    })
    try {
      const { batch } = batching.server()
      const tenTwenty = await batch([{ query: '{ ten }' }, { query: '{ twenty }' }], 'alice')
      expect(tenTwenty.results.map((result) => result.data)).toEqual([
        { ten: 'ten for alice' },
        { twenty: 'twenty' },
      ])
      expect(tenTwenty.cacheControl).toBe('private, max-age=10')
      expect((await batch([{ query: '{ twenty }' }, { query: '{ ten }' }], 'alice')).cacheControl).toBe(
        'private, max-age=10',
      )
      expect((await batch([{ query: '{ uncached }' }, { query: '{ ten }' }], 'alice')).cacheControl).toBe(
        'no-store',
      )
      expect((await batch([{ query: '{ ten }' }, { query: '{ uncached }' }], 'alice')).cacheControl).toBe(
        'no-store',
      )
      expect((await batch([{ query: '{ twenty }' }, { query: '{ twenty }' }])).cacheControl).toBe(
        'public, max-age=20',
      )
      expect(batching.runs['Query.ten']).toBe(1)
      expect(batching.runs['Query.twenty']).toBe(1)
    } finally {
      await batching.close()
    }
  })
})

describe('HTTP header (Apollo §1.5)', () => {
  it('A-HDR-1 (differs): the format is "public, max-age=N" / "private, max-age=N", scope first', async () => {
    // Apollo writes `max-age=N, public`; both forms are valid RFC 9111 directive lists. loadcache puts the
    // scope first; the value is the same directive set.
    const { query } = setup()
    const pub = (await query('{ cooks { id } }')).cacheControl
    const priv = (await query('{ vaults { id } }', { viewer: 'alice' })).cacheControl
    expect(pub).toMatch(/^public, max-age=\d+$/)
    expect(priv).toMatch(/^private, max-age=\d+$/)
    expect(pub).not.toMatch(/^max-age=\d+, (public|private)$/)
  })

  it('A-HDR-2: uncacheable ⇒ no-store (test "cache-control set to no-store without any hints")', async () => {
    const { query } = setup()
    expect((await query('{ uncached }')).cacheControl).toBe('no-store')
  })

  it('A-HDR-3: any error ⇒ no-store, even with partial data; the failing cached field is not cached', async () => {
    const { query, runs } = setup()
    const partial = await query('{ cachedBook(id: "1") { title } failing }')
    expect(partial.data).toEqual({ cachedBook: { title: 'Dune' }, failing: null })
    expect(partial.errors?.[0]?.message).toBe('failing resolver')
    expect(partial.cacheControl).toBe('no-store')
    await query('{ failing }')
    expect(runs['Query.failing']).toBe(2)
    // The healthy sibling was cached as usual.
    expect((await query('{ cachedBook(id: "1") { title } }')).cacheControl).toBe('public, max-age=60')
    expect(runs['Query.cachedBook']).toBe(1)
  })

  it('A-HDR-3: a cached field whose value makes GraphQL raise (null for String!) is not cached: it runs again', async () => {
    const { query, runs } = setup()
    const first = await query('{ cachedBook(id: "2") { title strictTitle } }')
    expect(first.data).toEqual({ cachedBook: null })
    expect(first.errors?.[0]?.message).toContain('Cannot return null for non-nullable field Book.strictTitle')
    expect(first.cacheControl).toBe('no-store')
    await query('{ cachedBook(id: "2") { strictTitle } }')
    expect(runs['Book.strictTitle']).toBe(2)
    // Book 1 is fine and cached.
    await query('{ cachedBook(id: "1") { strictTitle } }')
    await query('{ cachedBook(id: "1") { strictTitle } }')
    expect(runs['Book.strictTitle']).toBe(3)
  })

  it('A-HDR-3: a cached value whose own fields raise (title null for String!) is evicted, not replayed', async () => {
    // The error is raised below the cached field (brokenBook.title), after its value was stored.
    const { query, runs } = setup()
    const first = await query('{ brokenBook { id title } }')
    expect(first.data).toEqual({ brokenBook: null })
    expect(first.errors?.[0]?.path).toEqual(['brokenBook', 'title'])
    expect(first.cacheControl).toBe('no-store')
    await query('{ brokenBook { id title } }')
    expect(runs['Query.brokenBook']).toBe(2)
  })

  it('A-HDR-4: the header is set for GET as for POST, and GET reads the same entries', async () => {
    const { query, runs } = setup()
    const post = await query('{ cachedBook(id: "1") { title } }')
    const get = await query('{ cachedBook(id: "1") { title } }', { method: 'GET' })
    expect(get.status).toBe(200)
    expect(get.data).toEqual(post.data)
    expect(get.cacheControl).toBe('public, max-age=60')
    expect(runs['Query.cachedBook']).toBe(1)
  })

  it('A-HDR-4: a mutation over GET is refused with 405 and runs nothing', async () => {
    const { query, runs } = setup()
    const get = await query('mutation { renameBook(id: "1", title: "No") { id } }', { method: 'GET' })
    expect(get.status).toBe(405)
    expect(runs['Mutation.renameBook']).toBeUndefined()
  })

  it('A-HDR-5 (differs): a mutation is always no-store and never cached, even when its type is @cached', async () => {
    // Apollo does not special-case mutations (an annotated one could be public). loadcache never caches a
    // mutation: its response is the result of a write.
    const { query, runs } = setup()
    await query('{ cachedBook(id: "1") { title cachedTitle } }')
    const first = await query(
      'mutation { renameBook(id: "1", title: "Dune Messiah") { id title cachedTitle } }',
    )
    // The mutation's own selection shows the new state (cachedTitle is not read from the cache in a mutation).
    expect(first.data).toEqual({
      renameBook: { id: '1', title: 'Dune Messiah', cachedTitle: 'DUNE MESSIAH' },
    })
    expect(first.cacheControl).toBe('no-store')
    const second = await query(
      'mutation { renameBook(id: "1", title: "Dune Messiah") { id title cachedTitle } }',
    )
    expect(second.cacheControl).toBe('no-store')
    expect(runs['Mutation.renameBook']).toBe(2)
    // And the next read sees it too: the mutation evicted Book:1.
    expect((await query('{ cachedBook(id: "1") { title cachedTitle } }')).data).toEqual({
      cachedBook: { title: 'Dune Messiah', cachedTitle: 'DUNE MESSIAH' },
    })
  })

  it('A-HDR-5 (differs): @cached on a Mutation field fails the schema build', () => {
    const { typeDefs: directiveTypeDefs, transformer } = loadCacheDirectives()
    const schema = makeExecutableSchema({
      typeDefs: [directiveTypeDefs, 'type Query { a: Int } type Mutation { m: Int @cached(ttl: 60) }'],
    })
    expect(() => transformer(schema)).toThrow(LoadCacheSchemaError)
    expect(() => transformer(schema)).toThrow('@cached on Mutation.m: Mutation fields are never cached')
  })

  it('A-HDR-8: no Age header, on a miss or on a hit', async () => {
    const { query } = setup()
    expect((await query('{ cooks { id } }')).age).toBeNull()
    expect((await query('{ cooks { id } }')).age).toBeNull()
  })
})
