import { makeExecutableSchema } from '@graphql-tools/schema'
import { describe, expect, it } from 'vitest'
import { loadCacheDirectives, loadCacheDirectiveTypeDefs } from '../../src/graphql/index.js'
import { createCache, defineLoader, type LoadCache } from '../../src/index.js'
import { TestSource } from '../helpers/source.js'
import { serve } from './serve.js'

const typeDefs = (mutation: string) => /* GraphQL */ `
  ${loadCacheDirectiveTypeDefs()}
  type Query {
    user(id: ID!): User @cached(ttl: 60)
  }
  type User { id: ID! name: String! }
  type Mutation { ${mutation} }
`

type UserLoader = ReturnType<typeof userLoader>

function userLoader(source: TestSource) {
  return defineLoader({ name: 'user', fetch: source.fetch, entity: 'User' })
}

type Ctx = { loaders: { user: { load(id: string): Promise<unknown> } } }

/**
 * Users behind a loader, served by yoga with useLoadCache on a memory cache; `rename` writes the source and
 * returns the row, as a database write would.
 */
function users(
  mutation: string,
  rename: (source: TestSource, id: string, name: string, cache: LoadCache, user: UserLoader) => unknown,
) {
  const source = new TestSource(3)
  const user = userLoader(source)
  let cache!: LoadCache
  const schema = makeExecutableSchema({
    typeDefs: typeDefs(mutation),
    resolvers: {
      Query: { user: (_: unknown, { id }: { id: string }, ctx: Ctx) => ctx.loaders.user.load(id) },
      Mutation: {
        rename: (_: unknown, { id, name }: { id: string; name: string }) =>
          rename(source, id, name, cache, user),
      },
    },
  })
  const server = serve(schema, { loaders: { user } })
  cache = server.cache
  return { source, user, query: server.query }
}

describe('@invalidates(prime: true)', () => {
  it('stores what the mutation returned: the next read runs the resolver but costs no fetch', async () => {
    const { source, query } = users(
      'rename(id: ID!, name: String!): User @invalidates(prime: true)',
      (source, id, name) => source.update(id, { name }),
    )
    expect((await query('{ user(id: "1") { name } }')).data).toEqual({ user: { name: 'user 1' } })
    await query('mutation { rename(id: "1", name: "Ada") { name } }')
    const calls = source.calls.length
    expect((await query('{ user(id: "1") { name } }')).data).toEqual({ user: { name: 'Ada' } })
    expect(source.calls.length).toBe(calls)
  })

  it('primes, and answers, a list the mutation returned as a generator (read once, before GraphQL)', async () => {
    const { source, query } = users(
      'rename(id: ID!, name: String!): [User!]! @invalidates(prime: true)',
      (source, id, name) =>
        (function* () {
          yield source.update(id, { name })
        })(),
    )
    await query('{ user(id: "1") { name } }')
    const renamed = await query('mutation { rename(id: "1", name: "Ada") { id name } }')
    expect(renamed.data).toEqual({ rename: [{ id: '1', name: 'Ada' }] })
    const calls = source.calls.length
    expect((await query('{ user(id: "1") { name } }')).data).toEqual({ user: { name: 'Ada' } })
    expect(source.calls.length).toBe(calls)
  })

  it('still evicts what it declared when the list it returned throws while read (the write happened)', async () => {
    const { query } = users(
      'rename(id: ID!, name: String!): [User!]! @invalidates(tags: ["User:{args.id}"])',
      (source, id, name) =>
        (function* () {
          yield source.update(id, { name })
          throw new Error('the rest of the list broke')
        })(),
    )
    expect((await query('{ user(id: "1") { name } }')).data).toEqual({ user: { name: 'user 1' } })
    const renamed = await query('mutation { rename(id: "1", name: "Ada") { id name } }')
    expect(renamed.errors).toMatchObject([{ message: 'the rest of the list broke', path: ['rename'] }])
    expect((await query('{ user(id: "1") { name } }')).data).toEqual({ user: { name: 'Ada' } })
  })

  it('fails, as GraphQL does, when the list it returned throws undefined while read', async () => {
    const { query } = users(
      'rename(id: ID!, name: String!): [User!] @invalidates(tags: ["User:{args.id}"])',
      () => ({
        [Symbol.iterator]: () => ({
          next: () => {
            // What some code throws; GraphQL reports it as an error all the same.
            throw undefined
          },
        }),
      }),
    )
    const renamed = await query('mutation { rename(id: "1", name: "Ada") { id } }')
    expect(renamed.data).toEqual({ rename: null })
    expect(renamed.errors).toMatchObject([{ path: ['rename'] }])
  })

  it('stores nothing when another write invalidated the user after the mutation began (forced), and still evicts', async () => {
    const { source, query } = users(
      'rename(id: ID!, name: String!): User @invalidates(prime: true)',
      async (source, id, name, cache) => {
        const ours = source.update(id, { name })
        // Another request commits a newer row and evicts it before this mutation's prime.
        source.update(id, { name: `${name} (newer)` })
        await cache.invalidate('user', [id])
        return ours
      },
    )
    await query('{ user(id: "1") { name } }')
    await query('mutation { rename(id: "1", name: "Ada") { name } }')
    const calls = source.calls.length
    expect((await query('{ user(id: "1") { name } }')).data).toEqual({ user: { name: 'Ada (newer)' } })
    expect(source.calls.length).toBe(calls + 1)
  })

  it('keeps a value the resolver primed itself: the automatic eviction by returned entity spares it', async () => {
    const { source, query } = users(
      'rename(id: ID!, name: String!): User',
      async (source, id, name, cache, user) => {
        const ticket = await cache.writeTicket()
        const row = source.update(id, { name })
        await cache.prime(user, [[id, row]], { since: ticket })
        return row
      },
    )
    await query('{ user(id: "2") { name } }')
    await query('mutation { rename(id: "2", name: "Grace") { name } }')
    const calls = source.calls.length
    expect((await query('{ user(id: "2") { name } }')).data).toEqual({ user: { name: 'Grace' } })
    expect(source.calls.length).toBe(calls)
  })

  it('fails the schema build, naming the field, when there is nothing to prime', () => {
    const source = new TestSource(1)
    const cache = createCache()
    const build = (mutation: string) =>
      loadCacheDirectives({ cache }).transformer(
        makeExecutableSchema({ typeDefs: typeDefs(mutation), resolvers: {} }),
      )
    expect(() => build('rename(id: ID!, name: String!): User @invalidates(prime: true)')).toThrow(
      "@invalidates on Mutation.rename: prime needs a loader with entity: 'User' known to the cache",
    )
    cache.loaders({ user: defineLoader({ name: 'user', fetch: source.fetch, entity: 'User' }) })
    expect(() => build('rename(id: ID!, name: String!): Boolean @invalidates(prime: true)')).toThrow(
      '@invalidates on Mutation.rename: prime stores what the mutation returns as a loader',
    )
    expect(() => build('rename(id: ID!, name: String!): User @invalidates(prime: true)')).not.toThrow()
    expect(() =>
      loadCacheDirectives().transformer(
        makeExecutableSchema({
          typeDefs: typeDefs('rename(id: ID!, name: String!): User @invalidates(prime: true)'),
          resolvers: {},
        }),
      ),
    ).toThrow('prime needs the cache')
  })
})
