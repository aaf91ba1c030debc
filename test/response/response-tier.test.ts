import { GraphQLScalarType } from 'graphql'
import type { Plugin } from 'graphql-yoga'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache, defineLoader } from '../../src/index.js'
import { writeScript } from '../../src/redis/scripts.js'
import { useLoadCache } from '../../src/yoga/index.js'
import { graphqlFixture } from '../graphql/schema-fixture.js'
import { busDelivered, waitFor } from '../helpers/cache.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'

/*
 * The response tier on one redis-server with two instances (A and B), as two processes: whole responses
 * stored and served as bytes, evicted by the same tags as entries, never stored across an invalidation,
 * executed once for a cold stampede, PRIVATE per viewer.
 */

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedisServer()
})
afterAll(() => redis.dispose())

type Post = { id: string; title: string; authorId: string }
type Author = { id: string; name: string; secret: string }

/** A gate a resolver can wait on, so a test can act while an execution is in flight. */
function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { opened, open }
}

function blog(
  options: {
    slowPosts?: { wait: Promise<void>; reached: () => void } | undefined
    slowPinned?: { wait: Promise<void>; reached: () => void } | undefined
    delayMs?: number
  } = {},
) {
  const posts = new Map<string, Post>([
    ['p1', { id: 'p1', title: 'First', authorId: 'a1' }],
    ['p2', { id: 'p2', title: 'Second', authorId: 'a2' }],
  ])
  const authors = new Map<string, Author>([
    ['a1', { id: 'a1', name: 'Ann', secret: 'ann-secret' }],
    ['a2', { id: 'a2', name: 'Bob', secret: 'bob-secret' }],
  ])
  const state = { posts, authors, slowPosts: options.slowPosts, slowPinned: options.slowPinned }
  const typeDefs = /* GraphQL */ `
    type Query {
      post(id: ID!): Post @cached(ttl: 60)
      "The post the editors pinned (p2); a field of its own, filled apart from post(id)."
      pinned: Post @cached(ttl: 60)
      posts: [Post!]! @cached(ttl: 30)
      me: Author @cached(ttl: 60, scope: PRIVATE)
      uncached: String
      failing: String @cached(ttl: 60)
    }
    type Post { id: ID! title: String! author: Author! @cached(ttl: 120) }
    type Author { id: ID! name: String! secret: String @cached(ttl: 60, scope: PRIVATE) }
    type Mutation { retitle(id: ID!, title: String!): Post }
  `
  const resolvers = (ran: (coordinate: string) => void) => ({
    Query: {
      post: async (_: unknown, { id }: { id: string }) => {
        ran('Query.post')
        if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs))
        const post = posts.get(id)
        return post ? { ...post } : null
      },
      pinned: async () => {
        ran('Query.pinned')
        const snapshot = { ...posts.get('p2')! }
        if (state.slowPinned) {
          state.slowPinned.reached()
          await state.slowPinned.wait
        }
        return snapshot
      },
      posts: async () => {
        ran('Query.posts')
        const snapshot = [...posts.values()].map((post) => ({ ...post }))
        if (state.slowPosts) {
          state.slowPosts.reached()
          await state.slowPosts.wait
        }
        return snapshot
      },
      me: (_: unknown, __: unknown, ctx: { viewerId: string | null }) => {
        ran('Query.me')
        const author = ctx.viewerId ? authors.get(ctx.viewerId) : undefined
        return author ? { ...author } : null
      },
      uncached: () => {
        ran('Query.uncached')
        return 'u'
      },
      failing: () => {
        ran('Query.failing')
        throw new Error('nope')
      },
    },
    Post: {
      author: (post: Post) => {
        ran('Post.author')
        return { ...authors.get(post.authorId)! }
      },
    },
    Author: {
      secret: (author: Author, _: unknown, ctx: { viewerId: string | null }) =>
        ctx.viewerId === author.id ? author.secret : null,
    },
    Mutation: {
      retitle: (_: unknown, { id, title }: { id: string; title: string }) => {
        const post = posts.get(id)
        if (!post) return null
        post.title = title
        return { ...post }
      },
    },
  })
  return { typeDefs, resolvers, state }
}

const FEED = '{ posts { title author { name } } }'

describe('the response tier', () => {
  it('serves a repeated query byte for byte, from another instance, without executing it again', async () => {
    const { typeDefs, resolvers } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const [a, b] = [await fixture.instance({ responses: true }), await fixture.instance({ responses: true })]
    const first = await a.send(FEED)
    const firstBody = await first.text()
    expect(first.headers.get('cache-status')).toBe('loadcache; fwd=miss; stored')
    expect(JSON.parse(firstBody)).toEqual({
      data: {
        posts: [
          { title: 'First', author: { name: 'Ann' } },
          { title: 'Second', author: { name: 'Bob' } },
        ],
      },
    })
    const runs = { ...fixture.runs }
    // Same operation, other whitespace and variable order: one key.
    const fromB = await b.send('{\n  posts {\n    title\n    author { name }\n  }\n}')
    expect(await fromB.text()).toBe(firstBody)
    expect(fromB.headers.get('cache-status')).toBe('loadcache; hit')
    expect(fromB.headers.get('etag')).toBe(first.headers.get('etag'))
    expect(fromB.headers.get('cache-control')).toBe('public, max-age=30')
    expect(Number(fromB.headers.get('age'))).toBeGreaterThanOrEqual(0)
    expect(fixture.runs).toEqual(runs)
    expect(b.cache.stats().responses['']).toMatchObject({ hits: 1, misses: 0 })
    expect(a.cache.stats().responses['']).toMatchObject({ hits: 0, misses: 1, fills: 1 })
    // A document longer than 50,000 characters (or 5,000 tokens) is left to yoga: executed, not stored.
    const padded = `${FEED}${' '.repeat(50_001 - FEED.length)}`
    for (let i = 0; i < 2; i++) {
      const long = await b.send(padded)
      expect(long.headers.get('cache-status')).toBe(null)
      expect(await long.text()).toBe(firstBody)
    }
    // 5,100 tokens in 22,100 characters: `x:__typename` is three.
    const tokens = `{ posts { title author { name } ${'x:__typename '.repeat(1_700)} } }`
    const manyTokens = await b.send(tokens)
    expect(manyTokens.headers.get('cache-status')).toBe(null)
    expect(manyTokens.status).toBe(200)
    expect(b.cache.stats().responses['']).toMatchObject({ hits: 1, misses: 0 })
    // A client's no-cache is not a bypass: what is stored is evicted when its data changes.
    const noCache = await b.send(FEED, {}, undefined, { 'cache-control': 'no-cache', pragma: 'no-cache' })
    expect(noCache.headers.get('cache-status')).toBe('loadcache; hit')
    expect(await noCache.text()).toBe(firstBody)
  })

  it('keys by variables whatever their order, and by operation name', async () => {
    const { typeDefs, resolvers } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const a = await fixture.instance({ responses: true })
    const source =
      'query One($id: ID!, $withTitle: Boolean!) { post(id: $id) { id title @include(if: $withTitle) } } query Two { posts { id } }'
    const send = (variables: Record<string, unknown>, operationName: string) =>
      a.yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: source, variables, operationName }),
      })
    await send({ id: 'p1', withTitle: true }, 'One')
    const again = await send({ withTitle: true, id: 'p1' }, 'One')
    expect(again.headers.get('cache-status')).toBe('loadcache; hit')
    const other = await send({ id: 'p2', withTitle: true }, 'One')
    expect(other.headers.get('cache-status')).toBe('loadcache; fwd=miss; stored')
    const two = await send({}, 'Two')
    expect(await two.json()).toEqual({ data: { posts: [{ id: 'p1' }, { id: 'p2' }] } })
    expect(a.cache.stats().responses).toMatchObject({ One: { hits: 1, fills: 2 }, Two: { fills: 1 } })
  })

  it('keys by the variables that run: a plugin after it that sets them (a post picked by header) never shares a response', async () => {
    const { typeDefs, resolvers } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    // Runs after useLoadCache's own onParams: it replaces the params the request sent.
    const postFromHeader: Plugin = {
      onParams({ params, request, setParams }) {
        setParams({ ...params, variables: { ...params.variables, id: request.headers.get('x-post') } })
      },
    }
    const a = await fixture.instance({ responses: true, plugins: [postFromHeader] })
    const ask = (post: string) =>
      a.yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-post': post },
        body: JSON.stringify({ query: 'query ($id: ID!) { post(id: $id) { id title } }' }),
      })
    const first = await ask('p1')
    expect(await first.json()).toEqual({ data: { post: { id: 'p1', title: 'First' } } })
    const second = await ask('p2')
    expect(await second.json()).toEqual({ data: { post: { id: 'p2', title: 'Second' } } })
    expect(second.headers.get('cache-status')).toBe('loadcache; fwd=miss; stored')
    const again = await ask('p1')
    expect(again.headers.get('cache-status')).toBe('loadcache; hit')
    expect(await again.json()).toEqual({ data: { post: { id: 'p1', title: 'First' } } })
  })

  /** Edits the params in place when the context is built (placed after useLoadCache). */
  const editsInContextBuilding: Plugin = {
    onContextBuilding({ context }) {
      const { params, request } = context as unknown as {
        params: { variables: Record<string, unknown> }
        request: Request
      }
      const post = request.headers.get('x-post')
      if (post !== null) params.variables.id = post
    },
  }

  it('sends no-store for a PRIVATE response that ran with params changed after keying', async () => {
    const fixture = graphqlFixture({
      typeDefs: 'type Query { post(id: ID!): Post @cached(ttl: 60, scope: PRIVATE) } type Post { id: ID! }',
      resolvers: () => ({ Query: { post: (_: unknown, { id }: { id: string }) => ({ id }) } }),
      redis,
    })
    const a = await fixture.instance({ responses: true, plugins: [editsInContextBuilding] })
    const ask = (viewer: string, headers: Record<string, string> = {}) =>
      a.yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer}`, ...headers },
        body: JSON.stringify({ query: 'query ($id: ID!) { post(id: $id) { id } }', variables: { id: 'p1' } }),
      })
    expect((await ask('alice')).headers.get('cache-status')).toBe('loadcache; fwd=miss; stored')
    const edited = await ask('bob', { 'x-post': 'p2' })
    expect(await edited.json()).toEqual({ data: { post: { id: 'p2' } } })
    expect(edited.headers.get('cache-control')).toBe('no-store')
  })

  it.each([
    [
      'a params handler of a plugin before it',
      {
        pluginsBefore: [
          {
            onParams({ paramsHandler, setParamsHandler }) {
              setParamsHandler((payload) => {
                const variables = payload.params.variables as Record<string, unknown>
                variables.id = payload.request.headers.get('x-post')
                return paramsHandler(payload)
              })
            },
          } satisfies Plugin,
        ],
      },
    ],
    [
      'a params handler of a plugin before it, replaced',
      {
        pluginsBefore: [
          {
            onParams({ paramsHandler, setParamsHandler }) {
              setParamsHandler((payload) =>
                paramsHandler({
                  ...payload,
                  params: { ...payload.params, variables: { id: payload.request.headers.get('x-post') } },
                }),
              )
            },
          } satisfies Plugin,
        ],
      },
    ],
    [
      'the context building of a plugin after it, with one before it that runs the execution itself',
      {
        pluginsBefore: [
          {
            onExecute({ args, executeFn, setResultAndStopExecution }) {
              setResultAndStopExecution(executeFn(args) as never)
            },
          } satisfies Plugin,
        ],
        plugins: [editsInContextBuilding],
      },
    ],
    [
      'the onExecute of a plugin after it',
      {
        plugins: [
          {
            onExecute({ args }) {
              const { request } = args.contextValue as { request: Request }
              const post = request.headers.get('x-post')
              if (post !== null) (args.variableValues as Record<string, unknown>).id = post
            },
          } satisfies Plugin,
        ],
      },
    ],
    [
      'the context building of a plugin after it',
      {
        plugins: [
          {
            onContextBuilding({ context }) {
              const { params, request } = context as unknown as {
                params: { variables: Record<string, unknown> }
                request: Request
              }
              params.variables.id = request.headers.get('x-post')
            },
          } satisfies Plugin,
        ],
      },
    ],
  ])(
    'never stores, nor lets HTTP caches store, what ran with params %s changed after keying',
    async (_by, plugins) => {
      const { typeDefs, resolvers } = blog()
      const fixture = graphqlFixture({ typeDefs, resolvers, redis })
      const a = await fixture.instance({ responses: true, ...plugins })
      const ask = (post: string) =>
        a.yoga.fetch('http://localhost/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-post': post },
          body: JSON.stringify({
            query: 'query ($id: ID!) { post(id: $id) { id } }',
            variables: { id: 'p1' },
          }),
        })
      // Keyed as p1 (what the request sent), run as p2: answered, stored under no key, and no-store.
      const edited = await ask('p2')
      expect(await edited.json()).toEqual({ data: { post: { id: 'p2' } } })
      expect(edited.headers.get('cache-status')).toBe(
        'loadcache; fwd=miss; detail="the params changed after the response key was built"',
      )
      expect(edited.headers.get('cache-control')).toBe('no-store')
      // A request whose params the plugin leaves as sent (or copies as they are) is stored.
      const plain = await ask('p1')
      expect(await plain.json()).toEqual({ data: { post: { id: 'p1' } } })
      expect(plain.headers.get('cache-status')).toBe('loadcache; fwd=miss; stored')
    },
  )

  it('sends no-store for what ran with changed params on its uncached paths too (an operation remembered as unstorable)', async () => {
    const { typeDefs, resolvers } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const editsInPlace: Plugin = {
      onParams({ paramsHandler, setParamsHandler }) {
        setParamsHandler((payload) => {
          ;(payload.params.variables as Record<string, unknown>).id = payload.request.headers.get('x-post')
          return paramsHandler(payload)
        })
      },
    }
    // One tag at most: the operation is unstorable by its shape, and then executed without the lock.
    const a = await fixture.instance({ responses: { maxTags: 1 }, pluginsBefore: [editsInPlace] })
    const ask = (post: string) =>
      a.yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-post': post },
        body: JSON.stringify({ query: 'query ($id: ID!) { post(id: $id) { id } }', variables: { id: 'p1' } }),
      })
    const first = await ask('p1')
    expect(first.headers.get('cache-status')).toBe('loadcache; fwd=miss; detail="more than 1 tags"')
    const edited = await ask('p2')
    expect(await edited.json()).toEqual({ data: { post: { id: 'p2' } } })
    expect(edited.headers.get('cache-control')).toBe('no-store')
  })

  it('does not store a response whose resolver edited its (JSON) argument in place, but stores the next', async () => {
    const fixture = graphqlFixture({
      typeDefs: `
        scalar Filter
        type Query { titles(filter: Filter): [String!]! @cached(ttl: 60) }
      `,
      resolvers: (ran) => ({
        Filter: new GraphQLScalarType({ name: 'Filter', parseValue: (value) => value }),
        Query: {
          titles: (_: unknown, { filter }: { filter: { limit?: number } }) => {
            ran('Query.titles')
            // The variables' own object: this edit cannot be told from another plugin's edit of them.
            filter.limit ??= 2
            return ['a', 'b', 'c'].slice(0, filter.limit)
          },
        },
      }),
      redis,
    })
    const a = await fixture.instance({ responses: true })
    const source = 'query ($filter: Filter) { titles(filter: $filter) }'
    const first = await a.send(source, { filter: {} })
    expect(await first.json()).toEqual({ data: { titles: ['a', 'b'] } })
    expect(first.headers.get('cache-control')).toBe('no-store')
    // The field is cached now: its resolver does not run, the params stay as sent, the response is stored.
    const second = await a.send(source, { filter: {} })
    expect(await second.json()).toEqual({ data: { titles: ['a', 'b'] } })
    expect(second.headers.get('cache-status')).toBe('loadcache; fwd=miss; stored')
    expect((await a.send(source, { filter: {} })).headers.get('cache-status')).toBe('loadcache; hit')
    expect(fixture.runs['Query.titles']).toBe(1)
  })

  it('makes the next read fresh in every instance after a mutation changes what a response holds', async () => {
    const { typeDefs, resolvers } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const [a, b] = [await fixture.instance({ responses: true }), await fixture.instance({ responses: true })]
    await a.send(FEED)
    await b.send(FEED)
    await a.query('mutation { retitle(id: "p2", title: "Second, edited") { id } }')
    await busDelivered(a.cache, b.cache)
    for (const instance of [a, b]) {
      const response = await instance.send(FEED)
      expect(((await response.json()) as { data: { posts: { title: string }[] } }).data.posts[1]!.title).toBe(
        'Second, edited',
      )
    }
    expect(b.cache.stats().responses['']!.evictions).toBeGreaterThanOrEqual(1)
  })

  /**
   * A cached root field (`writer(id)` or `me`) whose `name` comes from the request's `author` loader, not
   * from the field's value: `source.name` is what the loader fetches, `source.fetches` how often it did.
   */
  function writerByLoader(root: 'writer' | 'me') {
    const source = { name: 'Ann', fetches: 0 }
    const author = defineLoader({
      name: 'author',
      fetch: (ids: readonly string[]) => {
        source.fetches++
        return ids.map((id) => ({ id, name: source.name }))
      },
    })
    type AuthorLoaders = { author: { load(id: string): Promise<{ name: string } | null> } }
    const fixture = graphqlFixture({
      typeDefs: `type Query { ${root === 'writer' ? 'writer(id: ID!)' : 'me'}: Writer @cached(ttl: 60) } type Writer { id: ID! name: String! }`,
      resolvers: () => ({
        Query:
          root === 'writer'
            ? { writer: (_: unknown, { id }: { id: string }) => ({ id }) }
            : { me: () => ({ id: '1' }) },
        Writer: {
          name: async (writer: { id: string }, _: unknown, ctx: unknown) =>
            (await (ctx as { loaders: AuthorLoaders }).loaders.author.load(writer.id))!.name,
        },
      }),
      redis,
    })
    return { author, fixture, source }
  }

  it('evicts responses built from a loader entry when that entry is invalidated by key', async () => {
    const { author, fixture, source } = writerByLoader('writer')
    const a = await fixture.instance({ responses: true, loaders: { author } })
    expect(await (await a.send('{ writer(id: "1") { name } }')).json()).toEqual({
      data: { writer: { name: 'Ann' } },
    })
    source.name = 'Annie'
    await a.cache.invalidate(author, ['1'])
    expect(await (await a.send('{ writer(id: "1") { name } }')).json()).toEqual({
      data: { writer: { name: 'Annie' } },
    })
  })

  it('counts an entity a request’s loader served straight from L1 as a dependency of the response', async () => {
    // A loader answers a fresh L1 hit without a batch (CacheLoader); the response must still depend on it.
    const { author, fixture, source } = writerByLoader('writer')
    const a = await fixture.instance({ responses: true, loaders: { author } })
    // Author 1 is in L1 before the query runs, so the query's load of it is an L1 hit.
    expect(await a.cache.loaders({ author }).author.load('1')).toEqual({ id: '1', name: 'Ann' })
    const l1Hits = a.cache.stats().loaders.author!.l1Hits
    expect(await (await a.send('{ writer(id: "1") { name } }')).json()).toEqual({
      data: { writer: { name: 'Ann' } },
    })
    expect(a.cache.stats().loaders.author!.l1Hits).toBe(l1Hits + 1)
    expect(source.fetches).toBe(1)
    source.name = 'Annie'
    await a.cache.invalidate(author, ['1'])
    expect(await (await a.send('{ writer(id: "1") { name } }')).json()).toEqual({
      data: { writer: { name: 'Annie' } },
    })
  })

  it('counts an L1 hit of loaders a context factory made and loaded from before the plugin adopted them', async () => {
    const { author, fixture, source } = writerByLoader('me')
    const a = await fixture.instance({
      responses: true,
      // The app's context preloads the viewer without awaiting it, before useLoadCache adopts its loaders.
      context: (cache) => () => {
        const loaders = cache.loaders({ author })
        void loaders.author.load('1')
        return { loaders }
      },
    })
    expect(await a.cache.loaders({ author }).author.load('1')).toEqual({ id: '1', name: 'Ann' })
    expect(await (await a.send('{ me { name } }')).json()).toEqual({ data: { me: { name: 'Ann' } } })
    source.name = 'Annie'
    await a.cache.invalidate(author, ['1'])
    expect(await (await a.send('{ me { name } }')).json()).toEqual({ data: { me: { name: 'Annie' } } })
  })

  it('stores a response built from a primed loader entry, and refuses it when that key moved meanwhile (forced)', async () => {
    let name = 'Ann'
    let fetches = 0
    const author = defineLoader({
      name: 'author',
      entity: 'Author',
      fetch: (ids: readonly string[]) => {
        fetches++
        return ids.map((id) => ({ id, name }))
      },
    })
    let hold: { reached: () => void; wait: Promise<void> } | undefined
    const fixture = graphqlFixture({
      typeDefs:
        'type Query { writer(id: ID!): Writer @cached(ttl: 60) } type Writer { id: ID! name: String! }',
      resolvers: () => ({
        Query: { writer: (_: unknown, { id }: { id: string }) => ({ id }) },
        Writer: {
          name: async (writer: { id: string }, _: unknown, ctx: unknown) => {
            const loaded = await (
              ctx as { loaders: { author: { load(id: string): Promise<{ name: string } | null> } } }
            ).loaders.author.load(writer.id)
            if (hold) {
              hold.reached()
              await hold.wait
            }
            return loaded!.name
          },
        },
      }),
      redis,
    })
    const [a, b] = [
      await fixture.instance({ responses: true, loaders: { author } }),
      await fixture.instance({ responses: true, loaders: { author } }),
    ]
    const read = async (instance: typeof a) => {
      const response = await instance.send('{ writer(id: "1") { name } }')
      return { status: response.headers.get('cache-status'), body: await response.json() }
    }
    expect((await read(a)).status).toBe('loadcache; fwd=miss; stored')

    name = 'Annie'
    await a.cache.prime(author, [['1', { id: '1', name }]])
    await busDelivered(a.cache, b.cache)
    const annie = { data: { writer: { name: 'Annie' } } }
    // Built from the primed entry (no fetch), stored, then served whole by both instances.
    expect(await read(a)).toEqual({ status: 'loadcache; fwd=miss; stored', body: annie })
    expect(await read(a)).toEqual({ status: 'loadcache; hit', body: annie })
    expect(await read(b)).toEqual({ status: 'loadcache; hit', body: annie })
    expect(fetches).toBe(1)

    // Primed again; while a response is being built from that entry, another instance invalidates the key.
    name = 'Anna'
    await a.cache.prime(author, [['1', { id: '1', name }]])
    await busDelivered(a.cache, b.cache)
    const reached = gate()
    const release = gate()
    hold = { reached: reached.open, wait: release.opened }
    const refused = a.cache.stats().loaders._response!.staleWritesRefused
    const building = read(a)
    await reached.opened
    hold = undefined
    name = 'Anne'
    await b.cache.invalidate(author, ['1'])
    release.open()
    // It answers its own request with what it read, stores nothing, and says so.
    expect(await building).toEqual({
      status: 'loadcache; fwd=miss; detail="write refused or failed"',
      body: { data: { writer: { name: 'Anna' } } },
    })
    expect(a.cache.stats().loaders._response!.staleWritesRefused).toBe(refused + 1)
    await busDelivered(b.cache, a.cache)
    for (const instance of [a, b]) {
      expect((await read(instance)).body).toEqual({ data: { writer: { name: 'Anne' } } })
    }
  })

  it('never stores a response built from a field fill that raced an invalidation (forced)', async () => {
    const slow = gate()
    const reached = gate()
    const { typeDefs, resolvers, state } = blog({ slowPosts: { wait: slow.opened, reached: reached.open } })
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const [a, b] = [await fixture.instance({ responses: true }), await fixture.instance({ responses: true })]
    // posts takes its snapshot of the titles, then waits at the gate while p1 is edited and evicted.
    const inFlight = a.send('{ posts { title } }')
    await reached.opened
    state.posts.get('p1')!.title = 'First, edited'
    await b.cache.invalidateTags(['Post:p1'])
    slow.open()
    const raced = await inFlight
    expect(raced.headers.get('cache-status')).toBe(
      'loadcache; fwd=miss; detail="a value it was built from was overtaken by an invalidation"',
    )
    // It holds the title from before the invalidation: no HTTP cache may keep it (a CDN purged by
    // Post:p1 would otherwise store it after the purge).
    expect(raced.headers.get('cache-control')).toBe('no-store')
    expect(await raced.json()).toEqual({ data: { posts: [{ title: 'First' }, { title: 'Second' }] } })
    state.slowPosts = undefined
    await busDelivered(b.cache, a.cache)
    for (const instance of [a, b]) {
      expect(await (await instance.send('{ posts { title } }')).json()).toEqual({
        data: { posts: [{ title: 'First, edited' }, { title: 'Second' }] },
      })
    }
  })

  it('sends no-store for a response built from a field fill an invalidation overtook, without the response tier too (forced)', async () => {
    const slow = gate()
    const reached = gate()
    const { typeDefs, resolvers, state } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const [a, b] = [await fixture.instance(), await fixture.instance()]
    const plain = await a.send('{ posts { title } }')
    expect(plain.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/)
    await a.cache.invalidateTags(['Post:p1'])
    state.slowPosts = { wait: slow.opened, reached: reached.open }
    const inFlight = a.send('{ posts { title } }')
    await reached.opened
    state.posts.get('p1')!.title = 'First, edited'
    await b.cache.invalidateTags(['Post:p1'])
    slow.open()
    const raced = await inFlight
    expect(await raced.json()).toEqual({ data: { posts: [{ title: 'First' }, { title: 'Second' }] } })
    expect(raced.headers.get('cache-control')).toBe('no-store')
    state.slowPosts = undefined
    await busDelivered(b.cache, a.cache)
    const after = await a.send('{ posts { title } }')
    expect(await after.json()).toEqual({ data: { posts: [{ title: 'First, edited' }, { title: 'Second' }] } })
    expect(after.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/)
  })

  it('sends no-store for a response built from an L2 hit whose answer arrived after this process heard its invalidation, and keeps it out of L1 (forced)', async () => {
    const { typeDefs, resolvers, state } = blog()
    // Instance a's Redis client, kept to hold the answer to its read on the wire.
    const { server, clients } = recordingClients()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis: server })
    const b = await fixture.instance()
    expect(await (await b.send('{ posts { title } }')).json()).toEqual({
      data: { posts: [{ title: 'First' }, { title: 'Second' }] },
    })
    const a = await fixture.instance()
    const client = clients.at(-1)!
    const send = client.sendCommand.bind(client)
    const slow = gate()
    const onWire = gate()
    let held = false
    client.sendCommand = ((command: Parameters<typeof send>[0]) => {
      const sent = send(command)
      if (held || command.name !== 'evalsha') return sent
      // The first script a sends is the read of the posts field: Redis answers it with the current entry at
      // once; a sees that answer only after the gate opens, as with a slow network.
      held = true
      onWire.open()
      return (sent as Promise<unknown>).then(async (answer) => {
        await slow.opened
        return answer
      })
    }) as typeof client.sendCommand
    const inFlight = a.send('{ posts { title } }')
    await onWire.opened
    state.posts.get('p1')!.title = 'First, edited'
    await b.cache.invalidateTags(['Post:p1'])
    await busDelivered(b.cache, a.cache)
    slow.open()
    const raced = await inFlight
    client.sendCommand = send
    expect(a.cache.stats().loaders['Query.posts']).toMatchObject({ l2Hits: 1, misses: 0 })
    expect(await raced.json()).toEqual({ data: { posts: [{ title: 'First' }, { title: 'Second' }] } })
    expect(raced.headers.get('cache-control')).toBe('no-store')
    // Not kept in L1 (nothing else would evict it now): the next read is fresh.
    const after = await a.send('{ posts { title } }')
    expect(await after.json()).toEqual({ data: { posts: [{ title: 'First, edited' }, { title: 'Second' }] } })
    expect(after.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/)
    expect(fixture.runs['Query.posts']).toBe(2)
  })

  it('sends no-store for a response Redis stored when this process heard an invalidation of its tags after the request began (forced)', async () => {
    const { typeDefs, resolvers, state } = blog()
    const { server, clients } = recordingClients()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis: server })
    const b = await fixture.instance({ responses: true })
    const a = await fixture.instance({ responses: true })
    const client = clients.at(-1)!
    const send = client.sendCommand.bind(client)
    const release = gate()
    const reached = gate()
    let held = false
    client.sendCommand = ((command: Parameters<typeof send>[0]) => {
      if (held || command.name !== 'evalsha') return send(command)
      // The first script a sends is the read of the response key: it leaves only once the gate opens, so the
      // request has begun (its invalidation sequence is taken) before the invalidation below.
      held = true
      reached.open()
      return release.opened.then(() => send(command))
    }) as typeof client.sendCommand
    const source = '{ post(id: "p1") { title } }'
    const inFlight = a.send(source)
    await reached.opened
    state.posts.get('p1')!.title = 'First, edited'
    await b.cache.invalidateTags(['Post:p1'])
    await busDelivered(b.cache, a.cache)
    release.open()
    const raced = await inFlight
    client.sendCommand = send
    // Executed after the invalidation, so Redis's checks pass and it is stored; but this process heard an
    // invalidation of one of its tags after the request began, so it is treated as overtaken: no HTTP cache
    // may keep it (Redis refuses such a write whenever the invalidation lands after the write's checks).
    expect(await raced.json()).toEqual({ data: { post: { title: 'First, edited' } } })
    expect(a.cache.stats().loaders._response).toMatchObject({ staleWritesRefused: 0 })
    expect(raced.headers.get('cache-control')).toBe('no-store')
    expect(raced.headers.get('etag')).toBe(null)
    expect(raced.headers.get('cache-status')).toBe(
      'loadcache; fwd=miss; detail="a value it was built from was overtaken by an invalidation"',
    )
    expect(a.cache.stats().responses['']).toMatchObject({ misses: 1, fills: 0, uncacheable: 1 })
    // What Redis holds is current: the other instance serves it without executing.
    const fromB = await b.send(source)
    expect(await fromB.json()).toEqual({ data: { post: { title: 'First, edited' } } })
    expect(fromB.headers.get('cache-status')).toBe('loadcache; hit')
    expect(fromB.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/)
    expect(fixture.runs['Query.post']).toBe(1)
  })

  it('sends no-store for a response built from a field fill an invalidation overtook, memory-only (forced)', async () => {
    const slow = gate()
    const reached = gate()
    const { typeDefs, resolvers, state } = blog({ slowPosts: { wait: slow.opened, reached: reached.open } })
    const a = await graphqlFixture({ typeDefs, resolvers }).instance()
    const inFlight = a.send('{ posts { title } }')
    await reached.opened
    state.posts.get('p1')!.title = 'First, edited'
    // No Redis: the invalidation ledger is what knows the fill started before it.
    await a.cache.invalidateTags(['Post:p1'])
    slow.open()
    const raced = await inFlight
    expect(await raced.json()).toEqual({ data: { posts: [{ title: 'First' }, { title: 'Second' }] } })
    expect(raced.headers.get('cache-control')).toBe('no-store')
    state.slowPosts = undefined
    const after = await a.send('{ posts { title } }')
    expect(await after.json()).toEqual({ data: { posts: [{ title: 'First, edited' }, { title: 'Second' }] } })
    expect(after.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/)
  })

  it('refuses to store a response whose every entry was written, when one of them moved meanwhile (forced)', async () => {
    const { typeDefs, resolvers, state } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const [a, b] = [await fixture.instance({ responses: true }), await fixture.instance({ responses: true })]
    const source = '{ one: post(id: "p1") { title } two: pinned { title } }'
    // post(p1)'s entry is written first (by another operation); this one reads it, while pinned (p2, which
    // does not hold p1) waits at the gate.
    await a.send('{ post(id: "p1") { title } }')
    const raced = await overtaken(
      state,
      b,
      () => a.send(source),
      () => {
        state.posts.get('p1')!.title = 'First, edited'
      },
    )
    expect(await raced.json()).toEqual({ data: { one: { title: 'First' }, two: { title: 'Second' } } })
    // Its response was judged storable (every value from an entry), but post(p1)'s tag moved since that
    // entry recorded its version: the write is refused, and the response says it was not stored.
    expect(a.cache.stats().loaders._response).toMatchObject({ staleWritesRefused: 1 })
    expect(raced.headers.get('cache-status')).toBe('loadcache; fwd=miss; detail="write refused or failed"')
    expect(raced.headers.get('etag')).toBe(null)
    // Its fields' policies said public, but it holds p1's title from before the invalidation.
    expect(raced.headers.get('cache-control')).toBe('no-store')
    // (The one fill is the earlier `post(id: "p1")` operation's.)
    expect(a.cache.stats().responses['']).toMatchObject({ fills: 1, uncacheable: 1 })
    state.slowPinned = undefined
    await busDelivered(b.cache, a.cache)
    for (const instance of [a, b]) {
      expect(await (await instance.send(source)).json()).toEqual({
        data: { one: { title: 'First, edited' }, two: { title: 'Second' } },
      })
    }
  })

  it('answers the requests that joined an execution whose write was refused as collapsed and no-store, not as hits (forced)', async () => {
    const slow = gate()
    const reached = gate()
    const { typeDefs, resolvers, state } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const [a, b] = [await fixture.instance({ responses: true }), await fixture.instance({ responses: true })]
    const source = '{ one: post(id: "p1") { title } two: pinned { title } }'
    await a.send('{ post(id: "p1") { title } }')
    state.slowPinned = { wait: slow.opened, reached: reached.open }
    const first = a.send(source)
    await reached.opened
    const joined = Array.from({ length: 4 }, () => a.send(source))
    await waitFor(() => (a.cache.stats().loaders._response?.joined ?? 0) >= 4, 'requests joining the fill')
    state.posts.get('p1')!.title = 'First, edited'
    await b.cache.invalidateTags(['Post:p1'])
    slow.open()
    const [executed, ...collapsed] = await Promise.all([first, ...joined])
    expect(executed!.headers.get('cache-status')).toBe(
      'loadcache; fwd=miss; detail="write refused or failed"',
    )
    expect(executed!.headers.get('cache-control')).toBe('no-store')
    const body = await executed!.text()
    for (const answer of collapsed) {
      // The same result, not executed again; but nothing stored it, and it may predate the invalidation.
      expect(await answer.text()).toBe(body)
      expect(answer.headers.get('cache-status')).toBe(
        'loadcache; fwd=miss; collapsed; detail="write refused or failed"',
      )
      expect(answer.headers.get('cache-control')).toBe('no-store')
      expect(answer.headers.get('etag')).toBe(null)
    }
    expect(JSON.parse(body)).toEqual({ data: { one: { title: 'First' }, two: { title: 'Second' } } })
    expect(fixture.runs['Query.pinned']).toBe(1)
  })

  it('sends an execution Redis failed to store, and the requests that joined it, private when a CDN tag header is on: nothing could purge them (forced)', async () => {
    const slow = gate()
    const reached = gate()
    const { typeDefs, resolvers, state } = blog()
    const { server, clients } = recordingClients()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis: server })
    const a = await fixture.instance({ responses: { cacheTagHeader: 'Cache-Tag' } })
    const client = clients.at(-1)!
    const source = '{ one: post(id: "p1") { title } two: pinned { title } }'
    await a.send('{ post(id: "p1") { title } }')
    state.slowPinned = { wait: slow.opened, reached: reached.open }
    const first = a.send(source)
    await reached.opened
    const joined = Array.from({ length: 3 }, () => a.send(source))
    await waitFor(() => (a.cache.stats().loaders._response?.joined ?? 0) >= 3, 'requests joining the fill')
    // pinned's fill writes first (before the execution ends), then the response: fail that second write,
    // as a Redis fault would (not an invalidation: nothing overtook it).
    const send = client.sendCommand.bind(client)
    let writes = 0
    client.sendCommand = ((command: Parameters<typeof send>[0]) => {
      if (command.name === 'evalsha' && command.args[0] === writeScript.sha && ++writes === 2) {
        command.reject(new Error('injected: Redis failed the write'))
        return command.promise
      }
      return send(command)
    }) as typeof client.sendCommand
    slow.open()
    const [executed, ...collapsed] = await Promise.all([first, ...joined])
    client.sendCommand = send
    expect(writes).toBeGreaterThanOrEqual(2)
    expect(executed!.headers.get('cache-status')).toBe(
      'loadcache; fwd=miss; detail="write refused or failed"',
    )
    // Not stored, so not sent with its tags either: no CDN may keep it (its fields' policies said public).
    expect(executed!.headers.get('cache-tag')).toBe(null)
    expect(executed!.headers.get('cache-control')).toMatch(/^private, max-age=\d+$/)
    const body = await executed!.text()
    for (const answer of collapsed) {
      expect(await answer.text()).toBe(body)
      expect(answer.headers.get('cache-status')).toBe(
        'loadcache; fwd=miss; collapsed; detail="write refused or failed"',
      )
      // A joined request carries no tags (nothing stored them): no CDN could purge it, so none may keep it.
      expect(answer.headers.get('cache-tag')).toBe(null)
      expect(answer.headers.get('cache-control')).toMatch(/^private, max-age=\d+$/)
    }
    expect(JSON.parse(body)).toEqual({ data: { one: { title: 'First' }, two: { title: 'Second' } } })
    expect(fixture.runs['Query.pinned']).toBe(1)
  })

  it('leaves the Cache-Control of an overtaken response to the app when cacheControl is false', async () => {
    const { typeDefs, resolvers, state } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const a = await fixture.instance({ responses: true, cacheControl: false })
    const b = await fixture.instance({ responses: true })
    const source = '{ one: post(id: "p1") { title } two: pinned { title } }'
    await a.send('{ post(id: "p1") { title } }')
    const raced = await overtaken(state, b, () => a.send(source))
    expect(raced.headers.get('cache-status')).toBe('loadcache; fwd=miss; detail="write refused or failed"')
    expect(raced.headers.get('cache-control')).toBe(null)
  })

  it('leaves a Cache-Control header another plugin set alone: on a miss, a hit and an overtaken response', async () => {
    const { typeDefs, resolvers, state } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    // The app's own plugin, placed before useLoadCache: its onResponse runs first.
    const appHeader = 'max-age=7, must-revalidate'
    const appPlugin = {
      onResponse({ response }: { response: Response }) {
        response.headers.set('cache-control', appHeader)
      },
    }
    const a = await fixture.instance({ responses: true, pluginsBefore: [appPlugin] })
    const b = await fixture.instance({ responses: true })
    const miss = await a.send('{ post(id: "p1") { title } }')
    expect(miss.headers.get('cache-status')).toBe('loadcache; fwd=miss; stored')
    expect(miss.headers.get('cache-control')).toBe(appHeader)
    const hit = await a.send('{ post(id: "p1") { title } }')
    expect(hit.headers.get('cache-status')).toBe('loadcache; hit')
    expect(hit.headers.get('cache-control')).toBe(appHeader)
    // Without the app's plugin the same hit says what the fields' policies say.
    expect((await b.send('{ post(id: "p1") { title } }')).headers.get('cache-control')).toMatch(
      /^public, max-age=/,
    )
    const source = '{ one: post(id: "p1") { title } two: pinned { title } }'
    const raced = await overtaken(state, b, () => a.send(source))
    expect(raced.headers.get('cache-status')).toBe('loadcache; fwd=miss; detail="write refused or failed"')
    expect(raced.headers.get('cache-control')).toBe(appHeader)
  })

  it('refuses to store a PRIVATE response when an entry it was built from moved meanwhile, and sends it no-store (forced)', async () => {
    const { typeDefs, resolvers, state } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const [a, b] = [await fixture.instance({ responses: true }), await fixture.instance({ responses: true })]
    const source = '{ me { name } one: post(id: "p1") { title } two: pinned { title } }'
    await a.send('{ post(id: "p1") { title } }')
    const raced = await overtaken(
      state,
      b,
      () => a.send(source, {}, 'a1'),
      () => {
        state.posts.get('p1')!.title = 'First, edited'
      },
    )
    expect(await raced.json()).toEqual({
      data: { me: { name: 'Ann' }, one: { title: 'First' }, two: { title: 'Second' } },
    })
    expect(raced.headers.get('cache-status')).toBe('loadcache; fwd=miss; detail="write refused or failed"')
    expect(raced.headers.get('etag')).toBe(null)
    expect(raced.headers.get('cache-control')).toBe('no-store')
    expect(a.cache.stats().loaders._response).toMatchObject({ staleWritesRefused: 1 })
    state.slowPinned = undefined
    await busDelivered(b.cache, a.cache)
    const again = await a.send(source, {}, 'a1')
    expect(await again.json()).toEqual({
      data: { me: { name: 'Ann' }, one: { title: 'First, edited' }, two: { title: 'Second' } },
    })
    expect(again.headers.get('cache-status')).toBe('loadcache; fwd=miss; stored')
    expect(again.headers.get('cache-control')).toMatch(/^private, max-age=\d+$/)
  })

  it('refuses to store a response built from an L1 entry whose invalidation this process has not heard yet', async () => {
    const { typeDefs, resolvers, state } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const [a, b] = [await fixture.instance({ responses: true }), await fixture.instance({ responses: true })]
    await a.send('{ post(id: "p1") { title } }') // A's L1 now holds post(p1)'s field entry
    // An invalidation of Post:p1 whose bus message A has not received (the fault injected: a late bus):
    // the tag's version moves in Redis, and nothing is published.
    state.posts.get('p1')!.title = 'First, edited'
    const [seconds, micros] = (await redis.client().call('TIME')) as [string, string]
    await redis.client().set(`${fixture.namespace}:t:Post%003ap1`, `${seconds}${micros.padStart(6, '0')}`)
    const source = '{ one: post(id: "p1") { title } two: pinned { title } }'
    // A still serves p1 from its L1 (within the staleness bound), so this response holds the old title…
    const served = await a.send(source)
    expect(await served.json()).toEqual({
      data: { one: { title: 'First' }, two: { title: 'Second' } },
    })
    expect(served.headers.get('cache-control')).toBe('no-store')
    // …and is not stored: its clock is its oldest entry's, which predates the move.
    expect(a.cache.stats().loaders._response).toMatchObject({ staleWritesRefused: 1 })
    expect(await (await b.send(source)).json()).toEqual({
      data: { one: { title: 'First, edited' }, two: { title: 'Second' } },
    })
  })

  it('answers the requests that joined an execution whose PUBLIC response could not be stored, without executing again (forced)', async () => {
    const slow = gate()
    const reached = gate()
    const { typeDefs, resolvers, state } = blog({ slowPosts: { wait: slow.opened, reached: reached.open } })
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const [a, b] = [await fixture.instance({ responses: true }), await fixture.instance({ responses: true })]
    const first = a.send('{ posts { title } }')
    await reached.opened
    const joined = Array.from({ length: 8 }, () => a.send('{ posts { title } }'))
    await waitFor(() => (a.cache.stats().loaders._response?.joined ?? 0) >= 8, 'requests joining the fill')
    // The fill's field read races an invalidation, so its response cannot be stored.
    state.posts.get('p1')!.title = 'First, edited'
    await b.cache.invalidateTags(['Post:p1'])
    slow.open()
    const answers = await Promise.all([first, ...joined])
    for (const answer of answers) {
      expect(answer.headers.get('cache-status')).toBe(
        'loadcache; fwd=miss; detail="a value it was built from was overtaken by an invalidation"',
      )
      expect(answer.headers.get('cache-control')).toBe('no-store')
      expect(await answer.json()).toEqual({ data: { posts: [{ title: 'First' }, { title: 'Second' }] } })
    }
    expect(fixture.runs['Query.posts']).toBe(1)
  })

  it('executes a cold operation once for 2 instances x 32 concurrent identical requests', async () => {
    const { typeDefs, resolvers } = blog({ delayMs: 30 })
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const [a, b] = [await fixture.instance({ responses: true }), await fixture.instance({ responses: true })]
    const source = '{ post(id: "p1") { title author { name } } }'
    const responses = await Promise.all(
      Array.from({ length: 64 }, (_, i) => (i % 2 === 0 ? a : b).send(source).then((r) => r.text())),
    )
    expect(new Set(responses).size).toBe(1)
    expect(fixture.runs).toEqual({ 'Query.post': 1, 'Post.author': 1 })
  })

  it('keeps PRIVATE responses per viewer, never across, and stores none for anonymous requests', async () => {
    const { typeDefs, resolvers } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const [a, b] = [await fixture.instance({ responses: true }), await fixture.instance({ responses: true })]
    const source = '{ me { name secret } posts { title } }'
    const ann = await (await a.send(source, {}, 'a1')).json()
    const bob = await b.send(source, {}, 'a2')
    expect(bob.headers.get('cache-control')).toBe('private, max-age=30')
    expect(await bob.json()).toEqual({
      data: { me: { name: 'Bob', secret: 'bob-secret' }, posts: [{ title: 'First' }, { title: 'Second' }] },
    })
    const annFromB = await b.send(source, {}, 'a1')
    expect(annFromB.headers.get('cache-status')).toBe('loadcache; hit')
    expect(await annFromB.json()).toEqual(ann)
    const anonymous = await a.send(source)
    expect(anonymous.headers.get('cache-status')).toBe(
      'loadcache; fwd=miss; detail="PRIVATE data without a viewer"',
    )
    expect(anonymous.headers.get('cache-control')).toBe('no-store')
    expect(await anonymous.json()).toEqual({
      data: { me: null, posts: [{ title: 'First' }, { title: 'Second' }] },
    })
    expect(fixture.runs['Query.me']).toBe(3)
  })

  it('answers 304 only while the stored response is the one the client holds', async () => {
    const { typeDefs, resolvers } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const [a, b] = [await fixture.instance({ responses: true }), await fixture.instance({ responses: true })]
    const first = await a.send(FEED)
    const etag = first.headers.get('etag')!
    const revalidated = await b.send(FEED, {}, undefined, { 'if-none-match': etag })
    expect(revalidated.status).toBe(304)
    expect(await revalidated.text()).toBe('')
    expect(revalidated.headers.get('etag')).toBe(etag)
    await a.query('mutation { retitle(id: "p1", title: "Changed") { id } }')
    await busDelivered(a.cache, b.cache)
    const changed = await b.send(FEED, {}, undefined, { 'if-none-match': etag })
    expect(changed.status).toBe(200)
    expect(changed.headers.get('etag')).not.toBe(etag)
    expect(JSON.stringify(await changed.json())).toContain('Changed')
  })

  it.each([
    ['{ failing }', 'errors'],
    ['{ uncached posts { id } }', 'not cacheable (no-store)'],
    ['{ me { name } }', 'PRIVATE data without a viewer'],
  ])('stores nothing for %s, and says why in Cache-Status', async (source, reason) => {
    const { typeDefs, resolvers } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const a = await fixture.instance({ responses: true })
    const first = await a.send(source)
    const second = await a.send(source)
    expect(second.headers.get('cache-status')).toBe(`loadcache; fwd=miss; detail="${reason}"`)
    expect(await second.text()).toBe(await first.text())
    expect(a.cache.stats().responses['']).toMatchObject({ hits: 0, fills: 0, uncacheable: 2 })
  })

  it('executes an operation it could not store for its shape directly for rememberUnstorableMs, with no Redis round trip', async () => {
    const { typeDefs, resolvers } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const stats = redis.client()
    /** Scripts Redis ran since the last call: every read, lock and write of the cache is one. */
    const scriptsSince = async () => {
      const info = await stats.info('commandstats')
      await stats.config('RESETSTAT')
      return [...info.matchAll(/^cmdstat_(?:evalsha|eval|evalsha_ro|eval_ro):calls=(\d+)/gm)].reduce(
        (sum, match) => sum + Number(match[1]),
        0,
      )
    }
    const remembering = await fixture.instance({ responses: true })
    const forgetting = await fixture.instance({ responses: { rememberUnstorableMs: 0 } })
    const unstorable = '{ uncached posts { id } }'
    // Warm the posts entry in both L1s, so that a request's only Redis work is the response tier's.
    await remembering.send(unstorable)
    await forgetting.send(unstorable)
    await scriptsSince()

    const again = await remembering.send(unstorable)
    expect(again.headers.get('cache-status')).toBe('loadcache; fwd=miss; detail="not cacheable (no-store)"')
    expect(await scriptsSince()).toBe(0)
    const unremembered = await forgetting.send(unstorable)
    expect(unremembered.headers.get('cache-status')).toBe(
      'loadcache; fwd=miss; detail="not cacheable (no-store)"',
    )
    expect(await scriptsSince()).toBeGreaterThan(0)
    // Other operations are not affected: the feed is still stored and served.
    await remembering.send(FEED)
    expect((await remembering.send(FEED)).headers.get('cache-status')).toBe('loadcache; hit')
    // Errors may pass: a response with errors is not remembered; the tier looks its key up every time.
    const lookups = () => remembering.cache.stats().loaders._response!.misses
    const before = lookups()
    await remembering.send(unstorable)
    expect(lookups()).toBe(before)
    await remembering.send('{ failing }')
    await remembering.send('{ failing }')
    expect(lookups()).toBe(before + 2)
    expect(remembering.cache.stats().responses['']).toMatchObject({ uncacheable: 5 })
  })

  it('rejects invalid response tier options when the plugin is made', async () => {
    const cache = createCache({ namespace: 'options' })
    for (const responses of [{ rememberUnstorableMs: -1 }, { rememberUnstorableMs: 1.5 }, { maxTags: 0 }]) {
      expect(() => useLoadCache({ cache, responses })).toThrow(
        expect.objectContaining({ code: 'E_INVALID_OPTION' }),
      )
    }
    await cache.close()
  })

  it('leaves mutations, introspection and bypassed requests to yoga', async () => {
    const { typeDefs, resolvers } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const a = await fixture.instance({ responses: { bypass: (request) => request.headers.has('x-bypass') } })
    for (const source of [
      '{ __schema { queryType { name } } }',
      'mutation { retitle(id: "p1", title: "T") { id } }',
    ]) {
      expect((await a.send(source)).headers.get('cache-status')).toBe(null)
    }
    await a.send(FEED)
    const bypassed = await a.send(FEED, {}, undefined, { 'x-bypass': '1' })
    expect(bypassed.headers.get('cache-status')).toBe(null)
    // The bypass skips stored responses only: the fields still come from their entries.
    expect(a.cache.stats().responses['']).toMatchObject({ hits: 0, fills: 1 })
  })

  it('lists the response tags for a CDN when asked, and goes private when they do not fit', async () => {
    const { typeDefs, resolvers } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const a = await fixture.instance({ responses: { cacheTagHeader: 'Surrogate-Key' } })
    const response = await a.send('{ post(id: "p1") { title } }')
    const keys = response.headers.get('surrogate-key')!.split(' ')
    expect(keys).toEqual(expect.arrayContaining(['Post:p1']))
    const tiny = await fixture.instance({
      responses: { cacheTagHeader: 'Cache-Tag', maxCacheTagHeaderBytes: 5 },
    })
    const tooMany = await tiny.send('{ post(id: "p2") { title } }')
    expect(tooMany.headers.get('cache-tag')).toBe(null)
    expect(tooMany.headers.get('cache-control')).toBe('private, max-age=60')
    // A tag the header cannot carry as one (a space splits Surrogate-Key) is never half-listed.
    const spaced = await a.send('{ post(id: "p 1") { title } }')
    expect(spaced.headers.get('surrogate-key')).toBe(null)
    expect(spaced.headers.get('cache-control')).toMatch(/^private/)
  })

  it('carries a digested tag as it is when it compacts the others, so it still evicts the response', async () => {
    const { typeDefs, resolvers, state } = blog()
    // Non-ASCII ids: their encoded tags are too long to keep readable and become digests ('#…').
    const author = 'автор-'.repeat(10)
    state.authors.set(author, { id: author, name: 'Old name', secret: 's' })
    for (let i = 3; i <= 300; i++)
      state.posts.set(`p${i}`, { id: `p${i}`, title: `Post ${i}`, authorId: author })
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const a = await fixture.instance({ responses: true })
    const source = '{ posts { id author { name } } }'
    expect((await a.send(source)).headers.get('cache-status')).toBe('loadcache; fwd=miss; stored')
    expect((await a.send(source)).headers.get('cache-status')).toBe('loadcache; hit')
    state.authors.get(author)!.name = 'New name'
    await a.cache.invalidateTags([`Author:${author}`])
    const after = await a.send(source)
    expect(after.headers.get('cache-status')).toBe('loadcache; fwd=miss; stored')
    const body = (await after.json()) as { data: { posts: { author: { name: string } }[] } }
    expect(body.data.posts.at(-1)!.author.name).toBe('New name')
  })

  it('carries bucket tags for a response holding more than 256 entities, and is still evicted when one of them moves', async () => {
    const { typeDefs, resolvers, state } = blog()
    for (let i = 3; i <= 300; i++)
      state.posts.set(`p${i}`, { id: `p${i}`, title: `Post ${i}`, authorId: 'a1' })
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    const a = await fixture.instance({ responses: { cacheTagHeader: 'Cache-Tag' } })
    const b = await fixture.instance({ responses: true })
    const source = '{ posts { id title } }'
    const first = await a.send(source)
    expect(first.headers.get('cache-status')).toBe('loadcache; fwd=miss; stored')
    // 300 entity tags do not fit in 256: the `Post:` ones are carried as their (at most 64) buckets.
    const tags = first.headers.get('cache-tag')!.split(',')
    expect(tags.length).toBeLessThanOrEqual(256)
    expect(tags.filter((tag) => tag.startsWith('Post:'))).toEqual([])
    const buckets = tags.filter((tag) => /^Post#\d+$/.test(tag))
    expect(buckets.length).toBeGreaterThan(32)
    expect(buckets.length).toBeLessThanOrEqual(64)
    expect((await b.send(source)).headers.get('cache-status')).toBe('loadcache; hit')
    // One post's entity tag alone (no type tag, no key) moves its bucket, which the response carries.
    const events: { instance: string; source: string; tags: readonly string[] }[] = []
    a.cache.on('evict', ({ source, tags }) => events.push({ instance: 'a', source, tags }))
    b.cache.on('evict', ({ source, tags }) => events.push({ instance: 'b', source, tags }))
    state.posts.get('p150')!.title = 'Edited'
    await a.cache.invalidateTags(['Post:p150'])
    await busDelivered(a.cache, b.cache)
    // Reported `local` once, by the process that made it, with the bucket a CDN purge needs to name.
    // (busDelivered's own probe invalidation is reported too: only the events naming Post:p150 count.)
    const about = events.filter((event) => event.tags.includes('Post:p150'))
    expect(about.map(({ instance, source }) => `${instance} ${source}`).sort()).toEqual([
      'a local',
      'b remote',
    ])
    expect(
      about.find((event) => event.source === 'local')!.tags.filter((tag) => buckets.includes(tag)),
    ).toHaveLength(1)
    const after = await b.send(source)
    expect(after.headers.get('cache-status')).toBe('loadcache; fwd=miss; stored')
    const body = (await after.json()) as { data: { posts: Post[] } }
    expect(body.data.posts).toHaveLength(300)
    expect(body.data.posts[149]).toEqual({ id: 'p150', title: 'Edited' })
    expect(fixture.runs['Query.posts']).toBe(2)
  })

  it('sends the responses the tier does not handle private when a CDN tag header is on: a batched request, a non-JSON Accept', async () => {
    const { typeDefs, resolvers } = blog()
    const fixture = graphqlFixture({ typeDefs, resolvers, redis })
    type Instance = Awaited<ReturnType<typeof fixture.instance>>
    const batch = (instance: Instance) =>
      instance.yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ query: '{ post(id: "p1") { title } }' }, { query: '{ pinned { title } }' }]),
      })
    const multipart = (instance: Instance) =>
      instance.send('{ post(id: "p1") { title } }', {}, undefined, { accept: 'multipart/mixed' })
    // Without a tag header these are public: the tier does not store them, and nothing names them.
    const plain = await fixture.instance({ responses: true, batching: true })
    const plainBatch = await batch(plain)
    expect(await plainBatch.json()).toEqual([
      { data: { post: { title: 'First' } } },
      { data: { pinned: { title: 'Second' } } },
    ])
    expect(plainBatch.headers.get('cache-control')).toBe('public, max-age=60')
    expect(plainBatch.headers.get('cache-status')).toBe(null)
    const plainMultipart = await multipart(plain)
    expect(await plainMultipart.text()).toContain('"title":"First"')
    expect(plainMultipart.headers.get('cache-control')).toBe('public, max-age=60')
    // With one, a CDN would keep them and no purge could name them: private, with no tag header.
    const tagged = await fixture.instance({ responses: { cacheTagHeader: 'Cache-Tag' }, batching: true })
    const taggedBatch = await batch(tagged)
    expect(await taggedBatch.json()).toEqual([
      { data: { post: { title: 'First' } } },
      { data: { pinned: { title: 'Second' } } },
    ])
    expect(taggedBatch.headers.get('cache-control')).toBe('private, max-age=60')
    expect(taggedBatch.headers.get('cache-tag')).toBe(null)
    const taggedMultipart = await multipart(tagged)
    expect(await taggedMultipart.text()).toContain('"title":"First"')
    expect(taggedMultipart.headers.get('cache-control')).toBe('private, max-age=60')
    expect(taggedMultipart.headers.get('cache-tag')).toBe(null)
    // A single JSON request is the tier's: public, with its tags.
    const single = await tagged.send('{ post(id: "p1") { title } }')
    expect(single.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/)
    expect(single.headers.get('cache-tag')!.split(',')).toEqual(expect.arrayContaining(['Post:p1']))
  })
})

/** The test's redis-server, keeping every client the fixture makes from it (to inject a fault into one). */
function recordingClients(): { server: RedisServer; clients: Redis[] } {
  const clients: Redis[] = []
  const server = Object.create(redis) as RedisServer
  server.client = (options) => {
    const client = redis.client(options)
    clients.push(client)
    return client
  }
  return { server, clients }
}

/**
 * Sends a request whose `pinned` field waits at a gate and, while it waits (after `meanwhile`), has `b`
 * invalidate p1's tag: what it answers was built from a value that invalidation overtook.
 */
async function overtaken<T>(
  state: ReturnType<typeof blog>['state'],
  b: { cache: { invalidateTags(tags: string[]): Promise<boolean> } },
  send: () => Promise<T>,
  meanwhile?: () => void,
): Promise<T> {
  const slow = gate()
  const reached = gate()
  state.slowPinned = { wait: slow.opened, reached: reached.open }
  const inFlight = send()
  await reached.opened
  meanwhile?.()
  await b.cache.invalidateTags(['Post:p1'])
  slow.open()
  return inFlight
}
