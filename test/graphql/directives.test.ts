import { makeExecutableSchema } from '@graphql-tools/schema'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  createLoadCacheContext,
  LoadCacheSchemaError,
  loadCacheDirectives,
  loadCacheDirectiveTypeDefs,
} from '../../src/graphql/index.js'
import { countCommands, uniqueNamespace } from '../helpers/cache.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { libraryFixture } from './library-schema.js'

let fixture: ReturnType<typeof libraryFixture>
afterEach(() => fixture?.close())

describe('request state', () => {
  it('refuses a viewer that is not a string or number, which would merge viewers', async () => {
    const { createCache } = await import('../../src/index.js')
    const cache = createCache()
    expect(() => createLoadCacheContext(cache, { viewer: { id: 1 } as never })).toThrow(
      '[loadcache] the viewer must be a string, a finite number or null, got an object with id',
    )
    expect(() => createLoadCacheContext(cache, { viewer: 7 })).not.toThrow()
    await cache.close()
  })
})

describe('@cached fields (memory)', () => {
  it('runs a cached root field resolver once for repeated queries', async () => {
    fixture = libraryFixture()
    const { query } = fixture.server()
    const first = await query('{ author(id: "7") { name } }')
    const second = await query('{ author(id: "7") { name } }')
    expect(first.data).toEqual({ author: { name: 'Author 7' } })
    expect(second.data).toEqual(first.data)
    expect(fixture.runs['Query.author']).toBe(1)
  })

  it('keys by a stable hash of the arguments: their order does not matter, their values do', async () => {
    fixture = libraryFixture()
    const { query } = fixture.server()
    await query('{ books(genre: "crime", limit: 2) { id } }')
    await query('{ books(limit: 2, genre: "crime") { id } }')
    expect(fixture.runs['Query.books']).toBe(1)
    const other = await query('{ books(genre: "crime", limit: 3) { id } }')
    expect(other.data?.books).toHaveLength(3)
    expect(fixture.runs['Query.books']).toBe(2)
  })

  it('batches a cached field on 100 parents and runs its resolver only for misses', async () => {
    fixture = libraryFixture()
    const { query } = fixture.server()
    const ids = Array.from({ length: 100 }, (_, i) => String(i + 1))
    const first = await query('query($ids: [ID!]!) { authors(ids: $ids) { id bookCount } }', { ids })
    expect((first.data!.authors as { bookCount: number }[]).every((a) => a.bookCount === 3)).toBe(true)
    expect(fixture.runs['Author.bookCount']).toBe(100)
    await query('query($ids: [ID!]!) { authors(ids: $ids) { id bookCount } }', { ids })
    expect(fixture.runs['Author.bookCount']).toBe(100)
  })

  it('never caches errors: a failing resolver runs again on the next request', async () => {
    fixture = libraryFixture()
    const { query } = fixture.server()
    fixture.failNextAuthor()
    const failed = await query('{ author(id: "3") { name } }')
    expect(failed.errors?.[0]?.message).toBe('author lookup failed')
    expect(failed.cacheControl).toBe('no-store')
    const ok = await query('{ author(id: "3") { name } }')
    expect(ok.data).toEqual({ author: { name: 'Author 3' } })
    expect(fixture.runs['Query.author']).toBe(2)
  })

  it('keeps PRIVATE fields apart per viewer and shares PUBLIC ones', async () => {
    fixture = libraryFixture()
    const { query } = fixture.server()
    const alice = await query('{ me { id secret } author(id: "2") { secret bookCount } }', {}, '1')
    const bob = await query('{ me { id secret } author(id: "2") { secret bookCount } }', {}, '2')
    expect(alice.data).toEqual({
      me: { id: '1', secret: 'secret of 1' },
      author: { secret: null, bookCount: 3 },
    })
    expect(bob.data).toEqual({
      me: { id: '2', secret: 'secret of 2' },
      author: { secret: 'secret of 2', bookCount: 3 },
    })
    // Again, the other way round: each still sees only their own.
    expect((await query('{ me { id secret } }', {}, '2')).data).toEqual(bob.data && { me: bob.data.me })
    expect((await query('{ me { id secret } }', {}, '1')).data).toEqual({ me: alice.data?.me })
    expect(fixture.runs['Query.me']).toBe(2)
    // PUBLIC: one run of author(id: "2") and of its bookCount, shared by both viewers.
    expect(fixture.runs['Query.author']).toBe(1)
    expect(fixture.runs['Author.bookCount']).toBe(1)
  })

  it('does not cache PRIVATE fields without a viewer', async () => {
    fixture = libraryFixture()
    const { query } = fixture.server()
    await query('{ me { id } }')
    await query('{ me { id } }')
    expect(fixture.runs['Query.me']).toBe(2)
  })
})

describe('eviction by mutations (memory)', () => {
  it('evicts the entities a mutation returns (Type:id), including fields cached on them', async () => {
    fixture = libraryFixture()
    const { query } = fixture.server()
    await query('{ author(id: "5") { name bookCount } books(genre: "crime", limit: 1) { id } }')
    const renamed = await query(
      'mutation { renamed: renameAuthor(id: "5", name: "Renamed") { alias: id name } }',
    )
    expect(renamed.data).toEqual({ renamed: { alias: '5', name: 'Renamed' } })
    expect(renamed.cacheControl).toBe('no-store')
    const after = await query('{ author(id: "5") { name bookCount } books(genre: "crime", limit: 1) { id } }')
    expect(after.data?.author).toEqual({ name: 'Renamed', bookCount: 3 })
    expect(fixture.runs['Query.author']).toBe(2)
    expect(fixture.runs['Author.bookCount']).toBe(2)
    // Unrelated entries stay cached.
    expect(fixture.runs['Query.books']).toBe(1)
  })

  it('evicts a cached "not found" of a lookup by id when a mutation returns that entity', async () => {
    fixture = libraryFixture()
    const { query } = fixture.server()
    expect((await query('{ author(id: "500") { name } }')).data).toEqual({ author: null })
    expect((await query('{ author(id: "500") { name } }')).data).toEqual({ author: null })
    expect(fixture.runs['Query.author']).toBe(1)
    await query('mutation { addAuthor(id: "500", name: "Newcomer") { id } }')
    expect((await query('{ author(id: "500") { name } }')).data).toEqual({ author: { name: 'Newcomer' } })
  })

  it('evicts the tags @invalidates declares, rendered from the arguments', async () => {
    fixture = libraryFixture()
    const { query } = fixture.server()
    await query('{ crime: books(genre: "crime") { id } fantasy: books(genre: "fantasy") { id } }')
    expect(fixture.runs['Query.books']).toBe(2)
    await query('mutation { addBook(authorId: "1", title: "New", genre: "crime") { id } }')
    const after = await query('{ crime: books(genre: "crime") { id title } }')
    expect((after.data!.crime as { title: string }[]).at(-1)?.title).toBe('New')
    expect(fixture.runs['Query.books']).toBe(3)
  })

  it('shows the rest of a request what an earlier mutation field changed', async () => {
    fixture = libraryFixture()
    const { query } = fixture.server()
    const result = await query(`mutation {
      first: addBook(authorId: "1", title: "t1", genre: "crime") { author { bookCount } }
      second: addBook(authorId: "1", title: "t2", genre: "crime") { author { bookCount } }
    }`)
    expect(result.data).toEqual({ first: { author: { bookCount: 4 } }, second: { author: { bookCount: 5 } } })
  })

  it('evicts nothing when the mutation fails', async () => {
    fixture = libraryFixture()
    const { query } = fixture.server({ debug: true })
    await query('{ books { id } author(id: "1") { name } }')
    const failed = await query('mutation { failingRename(id: "1") { id } }')
    expect(failed.errors?.[0]?.message).toBe('rename refused')
    expect(failed.extensions?.loadcache).toEqual({ hits: 0, misses: 0, evictedTags: [], fields: {} })
    await query('{ books { id } author(id: "1") { name } }')
    expect(fixture.runs['Query.books']).toBe(1)
    expect(fixture.runs['Query.author']).toBe(1)
  })
})

describe('Cache-Control', () => {
  it.each([
    [
      'every root field cached PUBLIC: public, smallest TTL',
      '{ author(id: "1") { name } books(limit: 1) { id } }',
      undefined,
      'public, max-age=30',
    ],
    ['a PRIVATE root field: private', '{ me { name } }', '4', 'private, max-age=45'],
    ['a PRIVATE nested field: private', '{ author(id: "1") { secret } }', '1', 'private, max-age=60'],
    [
      'an uncached root field: no-store',
      '{ author(id: "1") { name } authors(ids: ["1"]) { name } }',
      undefined,
      'no-store',
    ],
    ['PRIVATE without a viewer (not cached): no-store', '{ me { name } }', undefined, 'no-store'],
    ['introspection: no-store', '{ __schema { queryType { name } } }', undefined, 'no-store'],
    ['a mutation: no-store', 'mutation { renameAuthor(id: "1", name: "x") { id } }', undefined, 'no-store'],
  ])('%s', async (_what, source, viewer, expected) => {
    fixture = libraryFixture()
    const { query } = fixture.server()
    expect((await query(source, {}, viewer)).cacheControl).toBe(expected)
  })
})

describe('debug metadata', () => {
  it('reports hits and misses in all and per coordinate, and evicted tags, when enabled; nothing otherwise', async () => {
    fixture = libraryFixture()
    const { query } = fixture.server({ debug: true })
    const cold = await query('{ author(id: "9") { name bookCount } }')
    expect(cold.extensions?.loadcache).toEqual({
      hits: 0,
      misses: 2,
      evictedTags: [],
      fields: { 'Query.author': { hits: 0, misses: 1 }, 'Author.bookCount': { hits: 0, misses: 1 } },
    })
    const warm = await query('{ author(id: "9") { name bookCount } }')
    expect(warm.extensions?.loadcache).toEqual({
      hits: 2,
      misses: 0,
      evictedTags: [],
      fields: { 'Query.author': { hits: 1, misses: 0 }, 'Author.bookCount': { hits: 1, misses: 0 } },
    })
    const mutation = await query('mutation { renameAuthor(id: "9", name: "N") { id } }')
    // The entity it returned, and the lists of its type (a create must show in them).
    expect(mutation.extensions?.loadcache).toEqual({
      hits: 0,
      misses: 0,
      evictedTags: ['Author:9', 'Author'],
      fields: {},
    })
    const plain = libraryFixture().server()
    expect((await plain.query('{ author(id: "9") { name } }')).extensions).toBeUndefined()
    await plain.cache.close()
  })

  it('counts a field on many parents per coordinate: one miss per parent that ran its resolver', async () => {
    fixture = libraryFixture()
    const { query } = fixture.server({ debug: true })
    await query('{ author(id: "1") { bookCount } }')
    const result = await query('query($ids: [ID!]!) { authors(ids: $ids) { id bookCount } }', {
      ids: ['1', '2', '3'],
    })
    // Author 1's bookCount was cached by the first query; authors 2 and 3 ran the resolver.
    expect(result.extensions?.loadcache).toMatchObject({
      hits: 1,
      misses: 2,
      fields: { 'Author.bookCount': { hits: 1, misses: 2 } },
    })
    expect(fixture.runs['Author.bookCount']).toBe(3)
  })
})

describe('schema build errors name the field', () => {
  const build = (sdl: string, options = {}) => {
    const { typeDefs, transformer } = loadCacheDirectives(options)
    return () => transformer(makeExecutableSchema({ typeDefs: [typeDefs, sdl] }))
  }
  it.each([
    [
      'ttl 0',
      'type Query { a: Int @cached(ttl: 0) }',
      '[loadcache] @cached on Query.a: ttl must be a positive integer (seconds), got 0',
    ],
    [
      'an argument that does not exist',
      'type Query { a(id: ID): Int @cached(ttl: 5, tags: ["a:{args.userId}"]) }',
      '[loadcache] @cached on Query.a: tag template "a:{args.userId}" on Query.a: {args.userId} names argument "userId", but Query.a has only: id',
    ],
    [
      'an input field that does not exist',
      'input In { x: ID } type Query { a(in: In): Int @cached(ttl: 5, tags: ["a:{args.in.y}"]) }',
      '[loadcache] @cached on Query.a: tag template "a:{args.in.y}" on Query.a: {args.in.y}: In has no field "y"',
    ],
    [
      'a parent field that does not exist',
      'type Query { t: T } type T { id: ID! a: Int @cached(ttl: 5, tags: ["{parent.nope}"]) }',
      '[loadcache] @cached on T.a: tag template "{parent.nope}" on T.a: {parent.nope}: T has no field "nope"',
    ],
    [
      'a result field that does not exist',
      'type Query { t: T @cached(ttl: 5, tags: ["{result.nope}"]) } type T { id: ID! }',
      '[loadcache] @cached on Query.t: tag template "{result.nope}" on Query.t: {result.nope}: T has no field "nope"',
    ],
    [
      'an unknown template root',
      'type Query { a: Int @cached(ttl: 5, tags: ["{context.user}"]) }',
      '[loadcache] @cached on Query.a: tag template "{context.user}" on Query.a: "{context.user}" must start with args., parent. or result.',
    ],
    [
      '@invalidates outside Mutation',
      'type Query { a: Int @invalidates(tags: ["x"]) }',
      '[loadcache] @invalidates on Query.a: only Mutation fields can invalidate',
    ],
    [
      '@invalidates reading parent',
      'type Query { a: Int } type Mutation { m: Int @invalidates(tags: ["x:{parent.id}"]) }',
      '[loadcache] @invalidates on Mutation.m: tag template "x:{parent.id}" on Mutation.m: "{parent.id}" cannot use parent here (allowed: args, result)',
    ],
    [
      '@cached on a mutation',
      'type Query { a: Int } type Mutation { m: Int @cached(ttl: 5) }',
      '[loadcache] @cached on Mutation.m: Mutation fields are never cached',
    ],
    [
      'a type without id',
      'type Query { s: Stats } type Stats { views: Int @cached(ttl: 5) }',
      '[loadcache] @cached on Stats.views: Stats has no id field, so its fields cannot be keyed; pass identity: { Stats: (value) => … } to loadCacheDirectives',
    ],
    [
      'a bad ttl on a type',
      'type Query { t: T } type T @cached(ttl: -1) { id: ID! }',
      '[loadcache] @cached on T: ttl must be a positive integer (seconds), got -1',
    ],
  ])('%s', (_what, sdl, message) => {
    expect(build(sdl)).toThrow(LoadCacheSchemaError)
    expect(build(sdl)).toThrow(message)
  })

  it('refuses a ttl above the cache maxTtl when built for that cache', async () => {
    const { createCache } = await import('../../src/index.js')
    const cache = createCache({ maxTtl: 3600, ttl: 60 })
    const { typeDefs, transformer } = loadCacheDirectives({ cache })
    const schema = makeExecutableSchema({ typeDefs: [typeDefs, 'type Query { a: Int @cached(ttl: 7200) }'] })
    expect(() => transformer(schema)).toThrow(
      '[loadcache] @cached on Query.a: loader "Query.a": option "ttl" must be at most maxTtl (3600 s)',
    )
    await cache.close()
  })

  it('accepts renamed directives, and a type without id given an identity', () => {
    const options = {
      cachedDirectiveName: 'cacheFor',
      invalidatesDirectiveName: 'evicts',
      identity: { Stats: () => 'x' },
    }
    expect(loadCacheDirectiveTypeDefs(options)).toContain('directive @cacheFor(ttl: Int,')
    expect(
      build('type Query { s: Stats } type Stats { views: Int @cacheFor(ttl: 5) }', options),
    ).not.toThrow()
  })
})

describe('with Redis, across instances', () => {
  let server: RedisServer
  beforeAll(async () => {
    server = await startRedisServer()
  })
  afterAll(() => server.dispose())

  it('reads a cached field on 100 parents in one L2 round trip, and evicts across instances', async () => {
    const namespace = uniqueNamespace()
    const clientA = server.client()
    const clientB = server.client()
    fixture = libraryFixture({ namespace })
    const { createCache } = await import('../../src/index.js')
    const a = fixture.server({ cache: createCache({ namespace, redis: clientA }) })
    const b = fixture.server({ cache: createCache({ namespace, redis: clientB }) })
    await new Promise((resolve) => setTimeout(resolve, 100))
    const ids = Array.from({ length: 100 }, (_, i) => String(i + 1))
    const q = 'query($ids: [ID!]!) { authors(ids: $ids) { id bookCount } }'
    await a.query(q, { ids })
    expect(fixture.runs['Author.bookCount']).toBe(100)
    const sent = countCommands(clientB)
    const fromB = await b.query(q, { ids })
    expect((fromB.data!.authors as unknown[]).length).toBe(100)
    expect(fixture.runs['Author.bookCount']).toBe(100)
    expect(sent.names).toEqual(['evalsha'])

    await a.query('mutation { renameAuthor(id: "3", name: "Three") { id } }')
    const afterRename = await b.query('{ author(id: "3") { name bookCount } }')
    expect(afterRename.data?.author).toEqual({ name: 'Three', bookCount: 3 })
  })
})
