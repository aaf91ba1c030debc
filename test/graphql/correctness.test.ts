import { makeExecutableSchema } from '@graphql-tools/schema'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LoadCacheSchemaError, loadCacheDirectives } from '../../src/graphql/index.js'
import { busDelivered } from '../helpers/cache.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { graphqlFixture, recordingLogger } from './schema-fixture.js'

/*
 * The GraphQL layer's promise, "never stale, never leaked", in ordinary schemas. Each case runs on one
 * redis-server with two instances (A and B: separate caches and clients sharing a namespace, as two
 * processes would): what A writes, B must read fresh once the bus delivered A's invalidation (the one
 * window the README documents; busDelivered waits for it deterministically, not with a sleep).
 */

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedisServer()
})
afterAll(() => redis.dispose())

describe('scope never widens (a field inherits PRIVATE from its type)', () => {
  const typeDefs = /* GraphQL */ `
    type Query { hero: Droid @cached(ttl: 120) }
    type Droid @cached(ttl: 60, scope: PRIVATE) { id: ID! name: String! }
  `
  const resolvers = (ran: (c: string) => void) => ({
    Query: {
      hero: (_: unknown, __: unknown, ctx: { viewerId: string | null }) => {
        ran('Query.hero')
        return { id: `droid-of-${ctx.viewerId ?? 'nobody'}`, name: `Droid of ${ctx.viewerId ?? 'nobody'}` }
      },
    },
  })

  it('keys the field by viewer and says private, with the smaller of the two TTLs', async () => {
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const [a, b] = [await fixture.instance(), await fixture.instance()]
    const first = await a.query('{ hero { name } }', {}, '1')
    const second = await b.query('{ hero { name } }', {}, '2')
    expect(first.data).toEqual({ hero: { name: 'Droid of 1' } })
    expect(second.data).toEqual({ hero: { name: 'Droid of 2' } })
    expect(first.cacheControl).toBe('private, max-age=60')
    expect(fixture.runs['Query.hero']).toBe(2)
    // Viewer 1 on the other instance: their own entry, from Redis.
    expect((await b.query('{ hero { name } }', {}, '1')).data).toEqual({ hero: { name: 'Droid of 1' } })
    expect(fixture.runs['Query.hero']).toBe(2)
  })

  it('does not cache it for anonymous requests, and says no-store', async () => {
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const a = await fixture.instance()
    const anonymous = await a.query('{ hero { name } }')
    await a.query('{ hero { name } }')
    expect(anonymous.cacheControl).toBe('no-store')
    expect(fixture.runs['Query.hero']).toBe(2)
  })

  it('refuses scope: PUBLIC on a field whose type is PRIVATE, naming the field', () => {
    const { typeDefs: directives, transformer } = loadCacheDirectives()
    const schema = makeExecutableSchema({
      typeDefs: [
        directives,
        'type Query { hero: Droid @cached(ttl: 120, scope: PUBLIC) } type Droid @cached(ttl: 60, scope: PRIVATE) { id: ID! }',
      ],
    })
    expect(() => transformer(schema)).toThrow(LoadCacheSchemaError)
    expect(() => transformer(schema)).toThrow(
      '[loadcache] @cached on Query.hero: scope PUBLIC on a field whose type Droid is PRIVATE',
    )
  })
})

describe('two mutations in one operation', () => {
  const typeDefs = /* GraphQL */ `
    type Query { user(id: ID!): User @cached(ttl: 60) me: User @cached(ttl: 60, scope: PRIVATE) }
    type User { id: ID! name: String! email: String @cached(ttl: 60, scope: PRIVATE) }
    input UpdateUserInput { email: String }
    type Mutation { updateUser(id: ID!, input: UpdateUserInput!): User }
  `
  const resolvers = (ran: (c: string) => void) => {
    const users = new Map([['7', { id: '7', name: 'Seven', email: 'old@x.test' }]])
    return {
      Query: {
        user: (_: unknown, { id }: { id: string }) => ({ ...users.get(id)! }),
        me: (_: unknown, __: unknown, ctx: { viewerId: string | null }) =>
          ctx.viewerId ? { ...users.get(ctx.viewerId)! } : null,
      },
      User: {
        email: (user: { id: string; email: string }, _: unknown, ctx: { viewerId: string | null }) => {
          ran('User.email')
          return user.id === ctx.viewerId ? user.email : null
        },
      },
      Mutation: {
        updateUser: (_: unknown, { id, input }: { id: string; input: { email?: string } }) => {
          const user = users.get(id)!
          if (input.email) user.email = input.email
          return { ...user }
        },
      },
    }
  }

  it('answers each with its own value and leaves the last one in every instance', async () => {
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const [a, b] = [await fixture.instance(), await fixture.instance()]
    const read = '{ me { email } user(id: "7") { email } }'
    expect((await b.query(read, {}, '7')).data).toEqual({
      me: { email: 'old@x.test' },
      user: { email: 'old@x.test' },
    })
    const written = await a.query(
      'mutation { a: updateUser(id: "7", input: {email: "x@x.test"}) { email }  b: updateUser(id: "7", input: {email: "y@y.test"}) { email } }',
      {},
      '7',
    )
    expect(written.data).toEqual({ a: { email: 'x@x.test' }, b: { email: 'y@y.test' } })
    expect(written.cacheControl).toBe('no-store')
    await busDelivered(a.cache, b.cache)
    for (const instance of [a, b]) {
      expect((await instance.query(read, {}, '7')).data).toEqual({
        me: { email: 'y@y.test' },
        user: { email: 'y@y.test' },
      })
    }
  })
})

describe('eviction by what the operation produced', () => {
  const typeDefs = /* GraphQL */ `
    type Query { post(id: ID!): Post @cached(ttl: 60) }
    type Post { id: ID! title: String! commentCount: Int! @cached(ttl: 60) }
    type Comment { id: ID! body: String! post: Post! }
    input AddCommentInput { postId: ID! body: String! }
    type Mutation { addComment(input: AddCommentInput!): Comment! }
  `
  const resolvers = (ran: (c: string) => void) => {
    const posts = new Map([['p1', { id: 'p1', title: 'First' }]])
    const comments = [{ id: 'c1', postId: 'p1', body: 'one' }]
    return {
      Query: { post: (_: unknown, { id }: { id: string }) => posts.get(id) ?? null },
      Post: {
        commentCount: (post: { id: string }) => {
          ran('Post.commentCount')
          return comments.filter((comment) => comment.postId === post.id).length
        },
      },
      // A child resolver produces the post: it is not in the value addComment returned.
      Comment: { post: (comment: { postId: string }) => posts.get(comment.postId) },
      Mutation: {
        addComment: (_: unknown, { input }: { input: { postId: string; body: string } }) => {
          const comment = { id: `c${comments.length + 1}`, ...input }
          comments.push(comment)
          return comment
        },
      },
    }
  }

  it.each([
    [
      'selecting ids',
      'mutation { addComment(input: {postId: "p1", body: "b"}) { id post { id commentCount } } }',
    ],
    [
      'selecting no id at all',
      'mutation { addComment(input: {postId: "p1", body: "b"}) { post { commentCount } } }',
    ],
  ])('evicts an entity a child resolver of the mutation produced (%s)', async (_what, mutation) => {
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const [a, b] = [await fixture.instance(), await fixture.instance()]
    expect((await b.query('{ post(id: "p1") { commentCount } }')).data).toEqual({ post: { commentCount: 1 } })
    const added = await a.query(mutation)
    expect((added.data!.addComment as { post: { commentCount: number } }).post.commentCount).toBe(2)
    await busDelivered(a.cache, b.cache)
    expect((await b.query('{ post(id: "p1") { commentCount } }')).data).toEqual({ post: { commentCount: 2 } })
  })
})

describe('interfaces and unions resolved by resolveType / isTypeOf (no __typename in values)', () => {
  const typeDefs = /* GraphQL */ `
    interface Character { id: ID! name: String! }
    type Human implements Character { id: ID! name: String! }
    type Droid implements Character { id: ID! name: String! primaryFunction: String }
    union SearchResult = Human | Droid
    type Query {
      hero: Character @cached(ttl: 60)
      search(text: String!): [SearchResult!]! @cached(ttl: 60)
    }
    type Mutation { renameCharacter(id: ID!, name: String!): Character }
  `
  type Being = { kind: 'human' | 'droid'; id: string; name: string }
  const beings = (): Map<string, Being> =>
    new Map<string, Being>([
      ['r2', { kind: 'droid', id: 'r2', name: 'R2-D2' }],
      ['luke', { kind: 'human', id: 'luke', name: 'Luke' }],
    ])
  const resolvers = (data: Map<string, Being>) => (ran: (c: string) => void) => ({
    Character: { __resolveType: (value: Being) => (value.kind === 'droid' ? 'Droid' : 'Human') },
    Human: { __isTypeOf: (value: Being) => value.kind === 'human' },
    Droid: { __isTypeOf: (value: Being) => value.kind === 'droid' },
    Query: {
      hero: () => {
        ran('Query.hero')
        return { ...data.get('r2')! }
      },
      search: (_: unknown, { text }: { text: string }) => {
        ran('Query.search')
        return [...data.values()].filter((being) => being.name.includes(text)).map((being) => ({ ...being }))
      },
    },
    Mutation: {
      renameCharacter: (_: unknown, { id, name }: { id: string; name: string }) => {
        const being = data.get(id)
        if (!being) return null
        being.name = name
        return { ...being }
      },
    },
  })

  it('evicts cached values holding an entity returned by a mutation, by its runtime type', async () => {
    const fixture = graphqlFixture({ typeDefs, resolvers: resolvers(beings()), redis })
    const [a, b] = [await fixture.instance(), await fixture.instance()]
    const read = '{ hero { name } search(text: "") { ... on Droid { name } ... on Human { name } } }'
    expect((await b.query(read)).data).toEqual({
      hero: { name: 'R2-D2' },
      search: [{ name: 'R2-D2' }, { name: 'Luke' }],
    })
    await a.query('mutation { renameCharacter(id: "r2", name: "Artoo") { name } }')
    await busDelivered(a.cache, b.cache)
    expect((await b.query(read)).data).toEqual({
      hero: { name: 'Artoo' },
      search: [{ name: 'Artoo' }, { name: 'Luke' }],
    })
  })

  it('tags the cached values, so invalidateTags reaches them', async () => {
    const data = beings()
    const fixture = graphqlFixture({ typeDefs, resolvers: resolvers(data), redis })
    const [a, b] = [await fixture.instance(), await fixture.instance()]
    const read = '{ search(text: "") { ... on Human { name } } }'
    await b.query(read)
    data.get('luke')!.name = 'Luke Skywalker'
    expect((await b.query(read)).data).toEqual({ search: [{}, { name: 'Luke' }] })
    await a.cache.invalidateTags(['Human:luke'])
    await busDelivered(a.cache, b.cache)
    expect((await b.query(read)).data).toEqual({ search: [{}, { name: 'Luke Skywalker' }] })
    expect(fixture.runs['Query.search']).toBe(2)
  })
})

describe('creations reach cached lists and lookups that found nothing', () => {
  const typeDefs = /* GraphQL */ `
    type Query {
      posts(first: Int = 20): [Post!]! @cached(ttl: 60)
      postsTitled(title: String!): [Post!]! @cached(ttl: 60)
      postBySlug(slug: String!): Post @cached(ttl: 60)
    }
    type Post { id: ID! title: String! slug: String! }
    type Mutation {
      createPost(title: String!, slug: String!): Post!
      "An edit cannot change which posts a list holds: it narrows the lists it evicts to none."
      retitlePost(id: ID!, title: String!): Post @invalidates(types: [])
    }
  `
  type Row = { id: string; title: string; slug: string }
  const resolvers = (posts: Row[]) => (ran: (c: string) => void) => ({
    Query: {
      posts: (_: unknown, { first }: { first: number }) => {
        ran('Query.posts')
        return posts.slice(0, first)
      },
      postsTitled: (_: unknown, { title }: { title: string }) => {
        ran('Query.postsTitled')
        return posts.filter((post) => post.title === title)
      },
      postBySlug: (_: unknown, { slug }: { slug: string }) => {
        ran('Query.postBySlug')
        return posts.find((post) => post.slug === slug) ?? null
      },
    },
    Mutation: {
      createPost: (_: unknown, args: { title: string; slug: string }) => {
        const post = { id: `p${posts.length + 1}`, ...args }
        posts.push(post)
        return post
      },
      retitlePost: (_: unknown, { id, title }: { id: string; title: string }) => {
        const post = posts.find((candidate) => candidate.id === id)
        if (post) post.title = title
        return post ?? null
      },
    },
  })
  const read = '{ posts { slug } postsTitled(title: "New") { slug } postBySlug(slug: "new") { slug } }'

  it('shows a created entity in a list, an empty list and a null lookup, in every instance', async () => {
    const fixture = graphqlFixture({
      typeDefs,
      resolvers: resolvers([{ id: 'p1', title: 'Old', slug: 'old' }]),
      redis,
    })
    const [a, b] = [await fixture.instance(), await fixture.instance()]
    expect((await b.query(read)).data).toEqual({
      posts: [{ slug: 'old' }],
      postsTitled: [],
      postBySlug: null,
    })
    await a.query('mutation { createPost(title: "New", slug: "new") { id } }')
    await busDelivered(a.cache, b.cache)
    expect((await b.query(read)).data).toEqual({
      posts: [{ slug: 'old' }, { slug: 'new' }],
      postsTitled: [{ slug: 'new' }],
      postBySlug: { slug: 'new' },
    })
  })

  it('evicts by type on request (invalidateTypes), for writes made behind the API', async () => {
    const posts = [{ id: 'p1', title: 'Old', slug: 'old' }]
    const fixture = graphqlFixture({ typeDefs, resolvers: resolvers(posts), redis })
    const [a, b] = [await fixture.instance(), await fixture.instance()]
    await b.query(read)
    posts.push({ id: 'p2', title: 'New', slug: 'new' })
    expect((await b.query(read)).data?.postsTitled).toEqual([])
    await a.cache.invalidateTypes(['Post'])
    await busDelivered(a.cache, b.cache)
    expect((await b.query(read)).data).toEqual({
      posts: [{ slug: 'old' }, { slug: 'new' }],
      postsTitled: [{ slug: 'new' }],
      postBySlug: { slug: 'new' },
    })
  })

  it('evicts no list a narrowed mutation cannot change, only those holding its entity', async () => {
    const fixture = graphqlFixture({
      typeDefs,
      resolvers: resolvers([{ id: 'p1', title: 'Old', slug: 'old' }]),
      redis,
    })
    const [a, b] = [await fixture.instance(), await fixture.instance()]
    await b.query(read)
    await a.query('mutation { retitlePost(id: "p1", title: "Older") { id } }')
    await busDelivered(a.cache, b.cache)
    await b.query(read)
    // posts holds p1 (its Post:p1 tag evicts it); the empty list and the null lookup do not.
    expect(fixture.runs).toMatchObject({ 'Query.posts': 2, 'Query.postsTitled': 1, 'Query.postBySlug': 1 })
  })
})

describe('errors are never cached', () => {
  const typeDefs = /* GraphQL */ `
    type Query { flaky: Post! @cached(ttl: 60) broken: Post @cached(ttl: 60) }
    type Post { id: ID! title: String! }
  `
  const resolvers = (ran: (c: string) => void) => {
    let flakyCalls = 0
    let brokenCalls = 0
    return {
      Query: {
        flaky: () => {
          ran('Query.flaky')
          return ++flakyCalls === 1 ? null : { id: 'f', title: 'Fine' }
        },
        // The first value has a null title: GraphQL raises at broken.title, under the cached field.
        broken: () => {
          ran('Query.broken')
          return ++brokenCalls === 1 ? { id: 'b', title: null } : { id: 'b', title: 'Mended' }
        },
      },
    }
  }

  it('does not cache null returned for a non-null field', async () => {
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const [a, b] = [await fixture.instance(), await fixture.instance()]
    const failed = await a.query('{ flaky { title } }')
    expect(failed.errors?.[0]?.message).toBe('Cannot return null for non-nullable field Query.flaky.')
    expect(failed.cacheControl).toBe('no-store')
    expect((await b.query('{ flaky { title } }')).data).toEqual({ flaky: { title: 'Fine' } })
    expect((await a.query('{ flaky { title } }')).data).toEqual({ flaky: { title: 'Fine' } })
    expect(fixture.runs['Query.flaky']).toBe(2)
  })

  it('evicts a value that made GraphQL raise deeper, under the field', async () => {
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const [a, b] = [await fixture.instance(), await fixture.instance()]
    const failed = await a.query('{ broken { title } }')
    expect(failed.errors?.[0]?.message).toBe('Cannot return null for non-nullable field Post.title.')
    expect((await b.query('{ broken { title } }')).data).toEqual({ broken: { title: 'Mended' } })
    expect(fixture.runs['Query.broken']).toBe(2)
  })
})

describe('values that cannot be stored faithfully are not cached', () => {
  it('resolves a class instance every time and names the field in one warning', async () => {
    class Temperature {
      constructor(readonly celsius: number) {}
      get fahrenheit(): number {
        return this.celsius * 1.8 + 32
      }
    }
    const logger = recordingLogger()
    const fixture = graphqlFixture({
      typeDefs: 'type Query { weather: Weather @cached(ttl: 60) } type Weather { fahrenheit: Float! }',
      resolvers: (ran) => ({
        Query: {
          weather: () => {
            ran('Query.weather')
            return new Temperature(20)
          },
        },
      }),
      redis,
      logger,
    })
    const a = await fixture.instance()
    for (let i = 0; i < 3; i++) {
      expect((await a.query('{ weather { fahrenheit } }')).data).toEqual({ weather: { fahrenheit: 68 } })
    }
    expect(fixture.runs['Query.weather']).toBe(3)
    expect(logger.warnings.filter((warning) => warning.includes('"Query.weather"'))).toHaveLength(1)
  })
})

describe('Cache-Control never promises more than what was cached', () => {
  const typeDefs = /* GraphQL */ `
    type Query { feed: Feed @cached(ttl: 200) }
    type Feed { id: ID! title: String! mine: String @cached(ttl: 20, scope: PRIVATE) }
  `
  const resolvers = () => ({
    Query: { feed: () => ({ id: 'f', title: 'Feed' }) },
    Feed: { mine: (_: unknown, __: unknown, ctx: { viewerId: string | null }) => `for ${ctx.viewerId}` },
  })

  it.each([
    ['anonymous, with PRIVATE data it could not cache', '{ feed { title mine } }', undefined, 'no-store'],
    ['a viewer, with PRIVATE data', '{ feed { title mine } }', '5', 'private, max-age=20'],
    ['public data only', '{ feed { title } }', undefined, 'public, max-age=200'],
  ])('%s', async (_what, source, viewer, expected) => {
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const a = await fixture.instance()
    expect((await a.query(source, {}, viewer)).cacheControl).toBe(expected)
  })
})
