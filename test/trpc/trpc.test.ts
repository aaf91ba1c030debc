import type { AddressInfo } from 'node:net'
import { createTRPCClient, httpBatchLink, httpLink } from '@trpc/client'
import { initTRPC, TRPCError } from '@trpc/server'
import { createHTTPServer } from '@trpc/server/adapters/standalone'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { z } from 'zod'
import { createCache, defineLoader, type LoadCache, type Logger } from '../../src/index.js'
import { createLoadCacheTRPC } from '../../src/trpc/index.js'
import { busDelivered, uniqueNamespace } from '../helpers/cache.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { TestSource } from '../helpers/source.js'

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedisServer()
})
afterAll(() => redis.dispose())

/** A "database" shared by every instance of one test: users (TestSource, counting fetches) and posts. */
function database() {
  const users = new TestSource(100)
  const posts = [{ id: '1', title: 'first' }]
  let procedureRuns = 0
  /** When set, post.list waits for it after reading the posts (to let an invalidation overtake it). */
  let hold: { reached: () => void; wait: Promise<void> } | undefined
  return {
    users,
    posts,
    runs: () => procedureRuns,
    ran: () => procedureRuns++,
    hold: (next: typeof hold) => {
      hold = next
    },
    held: () => hold,
  }
}

type Db = ReturnType<typeof database>

function buildRouter(db: Db, cache: LoadCache) {
  const user = defineLoader({ name: 'user', fetch: db.users.fetch, tags: (id) => [`User:${id}`] })
  const t = initTRPC.context<{ viewer: string | null }>().create()
  const lc = createLoadCacheTRPC(t, { cache, loaders: { user } })
  type Ctx = ReturnType<typeof lc.createContext> & { viewer: string | null }
  const procedure = t.procedure
  const userShape = z.object({ id: z.string(), name: z.string() })
  const router = t.router({
    user: t.router({
      byId: procedure
        .input(z.object({ id: z.string().regex(/^\d+$/, 'id must be numeric') }))
        .output(userShape.nullable())
        .use(lc.cached({ ttl: 60, entity: 'User' }))
        .query(async ({ ctx, input }) => {
          db.ran()
          const row = await (ctx as Ctx).loaders.user.load(input.id)
          return row ? { id: row.id, name: row.name } : null
        }),
      shout: procedure
        .input(z.object({ id: z.string() }))
        .output(z.object({ name: z.string().transform((name) => name.toUpperCase()) }))
        .use(lc.cached({ ttl: 60 }))
        .query(async ({ ctx, input }) => {
          db.ran()
          return { name: (await (ctx as Ctx).loaders.user.load(input.id))!.name }
        }),
      update: procedure
        .input(z.object({ id: z.string(), name: z.string() }))
        .use(lc.invalidates({ entity: 'User' }))
        .mutation(({ input }) => {
          const row = db.users.update(input.id, { name: input.name })
          return { id: row.id, name: row.name }
        }),
    }),
    post: t.router({
      list: procedure.use(lc.cached({ ttl: 30, tags: () => ['posts'] })).query(async () => {
        db.ran()
        const posts = db.posts.map((post) => ({ ...post }))
        const hold = db.held()
        if (hold !== undefined) {
          hold.reached()
          await hold.wait
        }
        return posts
      }),
      create: procedure
        .input(z.object({ title: z.string() }))
        .use(lc.invalidates({ tags: () => ['posts'], entity: 'Post' }))
        .mutation(({ input }) => {
          const post = { id: String(db.posts.length + 1), title: input.title }
          db.posts.push(post)
          return post
        }),
      /** The same list keyed by its entity alone: no declared tag, only what `entity` adds. */
      byEntity: procedure.use(lc.cached({ ttl: 30, entity: 'Post' })).query(() => {
        db.ran()
        return db.posts.map((post) => ({ ...post }))
      }),
      find: procedure
        .input(z.object({ id: z.string() }))
        .use(lc.cached({ ttl: 30, entity: 'Post' }))
        .query(({ input }) => {
          db.ran()
          const post = db.posts.find((candidate) => candidate.id === input.id)
          return post ? { ...post } : null
        }),
      add: procedure
        .input(z.object({ title: z.string() }))
        .use(lc.invalidates({ entity: 'Post' }))
        .mutation(({ input }) => {
          const post = { id: String(db.posts.length + 1), title: input.title }
          db.posts.push(post)
          return post
        }),
      addQuietly: procedure
        .input(z.object({ title: z.string() }))
        .use(lc.invalidates({ entity: 'Post', lists: false }))
        .mutation(({ input }) => {
          const post = { id: String(db.posts.length + 1), title: input.title }
          db.posts.push(post)
          return post
        }),
      createFailing: procedure
        .input(z.object({ title: z.string() }))
        .use(lc.invalidates({ tags: () => ['posts'] }))
        .mutation(() => {
          throw new TRPCError({ code: 'CONFLICT', message: 'title taken' })
        }),
    }),
    viewer: t.router({
      me: procedure.use(lc.cached({ ttl: 30, scope: 'PRIVATE' })).query(({ ctx }) => {
        db.ran()
        return { viewer: ctx.viewer }
      }),
    }),
    /** A base procedure cached on its own input, extended by another .input() (tRPC merges both). */
    orgPost: procedure
      .input(z.object({ orgId: z.string() }))
      .use(lc.cached({ ttl: 30 }))
      .input(z.object({ postId: z.string() }))
      .query(({ input }) => {
        db.ran()
        return `${input.orgId}/${input.postId}`
      }),
    /** The same, where the later .input() replaces a nested object (tRPC merges top-level members). */
    orgFilter: procedure
      .input(z.object({ filter: z.object({ orgId: z.string() }) }))
      .use(lc.cached({ ttl: 30 }))
      .input(z.object({ filter: z.object({ postId: z.string() }) }))
      .query(({ input }) => {
        db.ran()
        return input.filter.postId
      }),
    /** The same, where the later .input() parses a member again, without the first one's transform. */
    trimmed: procedure
      .input(z.object({ q: z.string().trim() }))
      .use(lc.cached({ ttl: 30 }))
      .input(z.object({ q: z.string() }))
      .query(({ input }) => {
        db.ran()
        return `[${input.q}]`
      }),
    misordered: procedure
      .use(lc.cached({ ttl: 30 }))
      .input(z.object({ id: z.string() }))
      .query(({ input }) => `secret of ${input.id}`),
    flaky: procedure.use(lc.cached({ ttl: 30 })).query(() => {
      db.ran()
      if (db.runs() === 1) throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'first call fails' })
      return 'ok'
    }),
    uncached: procedure.query(() => 'fresh'),
    distinct: procedure
      .input(z.string().transform((list) => new Set(list.split(','))))
      .use(lc.cached({ ttl: 30 }))
      .query(({ input }) => {
        db.ran()
        return input.size
      }),
    noInput: procedure.use(lc.cached({ ttl: 30 })).query(() => {
      db.ran()
      return 'constant'
    }),
    /** Misused middleware: cached() on a mutation, invalidates() on a query. */
    cachedMutation: procedure.use(lc.cached({ ttl: 30 })).mutation(() => {
      db.ran()
      return db.runs()
    }),
    invalidatingQuery: procedure.use(lc.invalidates({ tags: () => ['posts'] })).query(() => {
      db.ran()
      return db.runs()
    }),
  })
  return { router, lc }
}

type AppRouter = ReturnType<typeof buildRouter>['router']

/** One server instance: its own cache (its own Redis client), the shared database. */
async function instance(db: Db, namespace: string, logger?: Logger) {
  const cache = createCache({ namespace, redis: redis.client(), ...(logger ? { logger } : {}) })
  const { router, lc } = buildRouter(db, cache)
  const server = createHTTPServer({
    router,
    createContext: ({ req }) => {
      const viewer = req.headers.authorization?.replace('Bearer ', '') ?? null
      return { ...lc.createContext({ viewer }), viewer }
    },
    responseMeta: lc.responseMeta,
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  onTestFinished(async () => {
    server.close()
    await cache.close()
  })
  if (!(await cache.ready())) throw new Error('the bus did not connect in 5 s')
  const client = (viewer?: string, batch = true) =>
    createTRPCClient<AppRouter>({
      links: [
        (batch ? httpBatchLink : httpLink)({
          url,
          headers: viewer ? { authorization: `Bearer ${viewer}` } : {},
        }),
      ],
    })
  return { url, cache, client }
}

describe('tRPC procedures over HTTP', () => {
  it('answers a batched call of 50 user.byId with one source fetch cold, and none warm', async () => {
    const db = database()
    const a = await instance(db, uniqueNamespace())
    const ids = Array.from({ length: 50 }, (_, i) => String(i + 1))
    const client = a.client()
    const cold = await Promise.all(ids.map((id) => client.user.byId.query({ id })))
    expect(cold.map((user) => user?.name)).toEqual(ids.map((id) => `user ${id}`))
    expect(db.users.calls).toEqual([ids])
    const warm = await Promise.all(ids.map((id) => client.user.byId.query({ id })))
    expect(warm).toEqual(cold)
    expect(db.users.calls).toHaveLength(1)
    expect(db.runs()).toBe(50)
  })

  it('shows a created post on the next list, on this instance and another one', async () => {
    const db = database()
    const namespace = uniqueNamespace()
    const a = await instance(db, namespace)
    const b = await instance(db, namespace)
    expect(await a.client().post.list.query()).toEqual([{ id: '1', title: 'first' }])
    expect(await b.client().post.list.query()).toEqual([{ id: '1', title: 'first' }])
    expect(db.runs()).toBe(1)
    await a.client().post.create.mutate({ title: 'second' })
    expect((await a.client().post.list.query()).map((post) => post.title)).toEqual(['first', 'second'])
    expect((await b.client().post.list.query()).map((post) => post.title)).toEqual(['first', 'second'])
  })

  it('tags an entity list and a null result with the Type tag, which a mutation returning that type evicts unless lists: false', async () => {
    const db = database()
    const namespace = uniqueNamespace()
    const a = await instance(db, namespace)
    const b = await instance(db, namespace)
    expect(await a.client().post.byEntity.query()).toEqual([{ id: '1', title: 'first' }])
    expect(await a.client().post.find.query({ id: '2' })).toBe(null)
    expect(await b.client().post.find.query({ id: '2' })).toBe(null)
    expect(db.runs()).toBe(2)
    // No declared tag: the `Post` tag that `entity` put on the list and on the null is what moves.
    await a.client().post.add.mutate({ title: 'second' })
    await busDelivered(a.cache, b.cache)
    const both = [
      { id: '1', title: 'first' },
      { id: '2', title: 'second' },
    ]
    expect(await b.client().post.byEntity.query()).toEqual(both)
    expect(await b.client().post.find.query({ id: '2' })).toEqual({ id: '2', title: 'second' })
    expect(db.runs()).toBe(4)
    // lists: false evicts the returned entity's own tag only: the cached list stays as it was.
    await a.client().post.addQuietly.mutate({ title: 'third' })
    await busDelivered(a.cache, b.cache)
    expect(await b.client().post.byEntity.query()).toEqual(both)
    expect(await a.client().post.byEntity.query()).toEqual(both)
    expect(db.runs()).toBe(4)
  })

  it('evicts the entity a mutation returns, and nothing when a mutation fails', async () => {
    const db = database()
    const namespace = uniqueNamespace()
    const a = await instance(db, namespace)
    const b = await instance(db, namespace)
    await a.client().post.list.query()
    expect((await b.client().user.byId.query({ id: '7' }))?.name).toBe('user 7')
    await a.client().user.update.mutate({ id: '7', name: 'Seven' })
    expect((await b.client().user.byId.query({ id: '7' }))?.name).toBe('Seven')

    const runs = db.runs()
    await expect(a.client().post.createFailing.mutate({ title: 'x' })).rejects.toThrow('title taken')
    await a.client().post.list.query()
    expect(db.runs()).toBe(runs)
  })

  it('never shows one viewer another viewer’s PRIVATE result, and does not cache it without a viewer', async () => {
    const db = database()
    const a = await instance(db, uniqueNamespace())
    expect(await a.client('alice').viewer.me.query()).toEqual({ viewer: 'alice' })
    expect(await a.client('bob').viewer.me.query()).toEqual({ viewer: 'bob' })
    expect(await a.client('alice').viewer.me.query()).toEqual({ viewer: 'alice' })
    expect(db.runs()).toBe(2)
    await a.client().viewer.me.query()
    await a.client().viewer.me.query()
    expect(db.runs()).toBe(4)
  })

  it('rejects invalid input before any cache access, and never caches a thrown error', async () => {
    const db = database()
    const a = await instance(db, uniqueNamespace())
    await expect(a.client().user.byId.query({ id: '1; DROP' })).rejects.toThrow('id must be numeric')
    expect(a.cache.stats().loaders['trpc.user.byId']).toBeUndefined()
    expect(db.runs()).toBe(0)

    await expect(a.client().flaky.query()).rejects.toThrow('first call fails')
    expect(await a.client().flaky.query()).toBe('ok')
    expect(await a.client().flaky.query()).toBe('ok')
    expect(db.runs()).toBe(2)
  })

  it('keys a call by the input an .input() after cached() parses too: calls that differ there never share', async () => {
    const db = database()
    const warnings: string[] = []
    const a = await instance(db, uniqueNamespace(), {
      warn: (message: string) => warnings.push(message),
      error: () => {},
    })
    expect(await a.client().orgPost.query({ orgId: 'o1', postId: 'A' })).toBe('o1/A')
    expect(await a.client().orgPost.query({ orgId: 'o1', postId: 'B' })).toBe('o1/B')
    expect(await a.client().orgPost.query({ orgId: 'o1', postId: 'A' })).toBe('o1/A')
    expect(db.runs()).toBe(2)
    const filter = (postId: string) => ({ filter: { orgId: 'o1', postId } })
    expect(await a.client().orgFilter.query(filter('A') as never)).toBe('A')
    expect(await a.client().orgFilter.query(filter('B') as never)).toBe('B')
    expect(await a.client().orgFilter.query(filter('A') as never)).toBe('A')
    expect(db.runs()).toBe(4)
    expect(await a.client().trimmed.query({ q: 'abc' })).toBe('[abc]')
    expect(await a.client().trimmed.query({ q: ' abc ' })).toBe('[ abc ]')
    expect(await a.client().trimmed.query({ q: 'abc' })).toBe('[abc]')
    expect(db.runs()).toBe(6)
    // Missing members are said once per procedure; a transformed value is not.
    expect(warnings.filter((warning) => warning.includes('its parsed input lacks'))).toEqual([
      expect.stringContaining('"orgPost"'),
      expect.stringContaining('"orgFilter"'),
    ])
  })

  it('never caches a call whose input cached() cannot key (before .input()), and says so once', async () => {
    const db = database()
    const warnings: string[] = []
    const logger = { warn: (message: string) => warnings.push(message), error: () => {} }
    const a = await instance(db, uniqueNamespace(), logger)
    // Misplaced before .input(): every input would share one entry. Each call runs, inputs never mix.
    expect(await a.client().misordered.query({ id: 'alice' })).toBe('secret of alice')
    expect(await a.client().misordered.query({ id: 'bob' })).toBe('secret of bob')
    expect(a.cache.stats().loaders['trpc.misordered']).toBeUndefined()
    expect(warnings.filter((warning) => warning.includes('"misordered"'))).toEqual([
      expect.stringContaining('place .use(lc.cached(...)) after .input(...)'),
    ])
    // A client sending input to a procedure that takes none gets its answer, not a 500.
    expect(await a.client().noInput.query(undefined)).toBe('constant')
    expect(await a.client().noInput.query(undefined)).toBe('constant')
    expect(db.runs()).toBe(1)
    expect(await (a.client().noInput.query as (input: unknown) => Promise<string>)({ a: 1 })).toBe('constant')
  })

  it('says once that cached() on a mutation and invalidates() on a query do nothing, and runs them as if absent', async () => {
    const db = database()
    const warnings: string[] = []
    const logger = { warn: (message: string) => warnings.push(message), error: () => {} }
    const a = await instance(db, uniqueNamespace(), logger)
    // The mutation runs every time: nothing of it is cached.
    expect(await a.client().cachedMutation.mutate()).toBe(1)
    expect(await a.client().cachedMutation.mutate()).toBe(2)
    // The query evicts nothing: the cached post list keeps its entry.
    expect(await a.client().post.list.query()).toEqual([{ id: '1', title: 'first' }])
    expect(await a.client().invalidatingQuery.query()).toBe(4)
    expect(await a.client().invalidatingQuery.query()).toBe(5)
    expect(await a.client().post.list.query()).toEqual([{ id: '1', title: 'first' }])
    expect(db.runs()).toBe(5)
    expect(warnings.filter((warning) => warning.includes('"cachedMutation"'))).toEqual([
      expect.stringContaining('cached() on the mutation "cachedMutation" does nothing'),
    ])
    expect(warnings.filter((warning) => warning.includes('"invalidatingQuery"'))).toEqual([
      expect.stringContaining('invalidates() on the query "invalidatingQuery" does nothing'),
    ])
  })

  it('runs a call whose parsed input no key can represent (a Set) uncached, and says so once', async () => {
    const db = database()
    const warnings: string[] = []
    const logger = { warn: (message: string) => warnings.push(message), error: () => {} }
    const a = await instance(db, uniqueNamespace(), logger)
    expect(await a.client().distinct.query('x,y,x')).toBe(2)
    expect(await a.client().distinct.query('x,y,z')).toBe(3)
    expect(db.runs()).toBe(2)
    expect(warnings.filter((warning) => warning.includes('"distinct"'))).toEqual([
      expect.stringContaining('cannot build a cache key from a Set'),
    ])
  })

  it('runs the output validator on cached values too', async () => {
    const db = database()
    const a = await instance(db, uniqueNamespace())
    expect(await a.client().user.shout.query({ id: '3' })).toEqual({ name: 'USER 3' })
    expect(await a.client().user.shout.query({ id: '3' })).toEqual({ name: 'USER 3' })
    expect(db.runs()).toBe(1)
  })

  it.each([
    [
      'a cached PUBLIC query batch',
      ['post.list', 'user.byId?input={"id":"1"}'],
      undefined,
      'public, max-age=30',
    ],
    ['a PRIVATE query', ['viewer.me'], 'alice', 'private, max-age=30'],
    ['an uncached query in the batch', ['post.list', 'uncached'], undefined, 'no-store'],
    ['a query that fails', ['user.byId?input={"id":"x"}'], undefined, 'no-store'],
  ])('sets Cache-Control for %s', async (_what, calls, viewer, expected) => {
    const db = database()
    const a = await instance(db, uniqueNamespace())
    const paths = calls.map((call) => call.split('?')[0]).join(',')
    const inputs = Object.fromEntries(
      calls.map((call, i) => [i, call.includes('input=') ? JSON.parse(call.split('input=')[1]!) : undefined]),
    )
    const response = await fetch(
      `${a.url}/${paths}?batch=1&input=${encodeURIComponent(JSON.stringify(inputs))}`,
      {
        headers: viewer ? { authorization: `Bearer ${viewer}` } : {},
      },
    )
    expect(response.headers.get('cache-control')).toBe(expected)
  })

  it('sets no-store on a response whose cached call an invalidation overtook (forced)', async () => {
    const db = database()
    const namespace = uniqueNamespace()
    const [a, b] = [await instance(db, namespace), await instance(db, namespace)]
    let reached!: () => void
    const atHold = new Promise<void>((resolve) => (reached = resolve))
    let release!: () => void
    db.hold({ reached, wait: new Promise<void>((resolve) => (release = resolve)) })
    const inFlight = fetch(`${a.url}/post.list`)
    await atHold
    db.posts[0]!.title = 'first, edited'
    await b.cache.invalidateTags(['posts'])
    release()
    const raced = await inFlight
    expect(((await raced.json()) as { result: { data: { title: string }[] } }).result.data[0]!.title).toBe(
      'first',
    )
    expect(raced.headers.get('cache-control')).toBe('no-store')
    db.hold(undefined)
    await busDelivered(b.cache, a.cache)
    const after = await fetch(`${a.url}/post.list`)
    expect(((await after.json()) as { result: { data: { title: string }[] } }).result.data[0]!.title).toBe(
      'first, edited',
    )
    expect(after.headers.get('cache-control')).toBe('public, max-age=30')
  })

  it('sets no-store on mutations', async () => {
    const db = database()
    const a = await instance(db, uniqueNamespace())
    const response = await fetch(`${a.url}/post.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'via fetch' }),
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
  })
})
