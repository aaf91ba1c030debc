import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client'
import { describe, expect, it, vi } from 'vitest'
import type { Database } from '../../example-api/db/index.js'
import { isTrpcRequest } from '../../example-api/trpc/handler.js'
import type { AppRouter } from '../../example-api/trpc/router.js'
import { uniqueNamespace } from '../helpers/cache.js'
import type { RedisServer } from '../helpers/redis-server.js'
import { countQueries, type GraphQLResponse, openForFile, startApi, unique } from './api-harness.js'

/*
 * The example API's tRPC router at /trpc, through the real @trpc/client (httpBatchLink) over real HTTP,
 * next to GraphQL at /graphql on the same port, database and cache. One PGlite for the file; every test
 * starts its own servers on a new Redis namespace, so every test starts with a cold cache, and servers
 * started with the same namespace share Redis entries and the invalidation bus like separate processes.
 */

let db: Database
let redisServer: RedisServer
openForFile((opened) => {
  ;({ db, redisServer } = opened)
})

/** One HTTP response as the client saw it. */
interface Exchange {
  cacheControl: string | null
}

/** A listening example server, with tRPC clients, the HTTP exchanges they made, and GraphQL over HTTP. */
async function start(namespace = uniqueNamespace(), database: Database = db) {
  const api = await startApi(database, { kind: 'redis', url: redisServer.url }, namespace)
  const { url: graphqlUrl, trpcUrl } = await api.listen(0, '127.0.0.1')
  const exchanges: Exchange[] = []
  const client = (viewer?: string) =>
    createTRPCClient<AppRouter>({
      links: [
        httpBatchLink({
          url: trpcUrl,
          headers: viewer === undefined ? {} : { authorization: `Bearer ${viewer}` },
          fetch: async (url, init) => {
            const response = await fetch(url, init as RequestInit)
            exchanges.push({ cacheControl: response.headers.get('cache-control') })
            return response
          },
        }),
      ],
    })
  /** A GraphQL request to /graphql over HTTP, as `viewer` if given; fails the test on any GraphQL error. */
  const graphql = async <Data>(
    query: string,
    variables?: Record<string, unknown>,
    viewer?: string,
  ): Promise<Data> => {
    const response = await fetch(graphqlUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(viewer === undefined ? {} : { authorization: `Bearer ${viewer}` }),
      },
      body: JSON.stringify({ query, variables }),
    })
    const result = (await response.json()) as GraphQLResponse<Data>
    expect(result.errors).toBeUndefined()
    return result.data as Data
  }
  return { api, client, exchanges, graphql }
}

/** Two servers on one Redis namespace and the one database: two processes of one deployment. */
async function startPair() {
  const namespace = uniqueNamespace()
  return [await start(namespace), await start(namespace)] as const
}

/**
 * Another server hears an invalidation on the bus a few milliseconds after the write returned (README,
 * "Guarantees"); until then its L1 may answer with the old value, so its reads are retried for up to 1 s.
 */
const eventually = (assertion: () => Promise<void>) => vi.waitFor(assertion, { timeout: 1000, interval: 10 })

/** The error a call failed with, as the client reports it. */
async function failure(call: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  const error = await call.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error).toBeInstanceOf(TRPCClientError)
  return error as TRPCClientError<AppRouter>
}

/** The database, except that `usersByIds` throws while `failing` is set. */
function withFailingUsers(database: Database) {
  const control = { failing: false }
  const failing = new Proxy(database, {
    get(target, property, receiver) {
      if (property === 'usersByIds' && control.failing) {
        return () => Promise.reject(new Error('connection reset by peer'))
      }
      const value: unknown = Reflect.get(target, property, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { db: failing, control }
}

type UserName = { user: { name: string } | null }

describe('the example API over tRPC', () => {
  it('answers a batched call of 50 user.byId with one SQL statement on users cold, and none warm', async () => {
    const { client, exchanges } = await start()
    const trpc = client()
    const ids = Array.from({ length: 50 }, (_, i) => String(101 + i))
    const rows = await db.usersByIds(ids)
    const batch = () => Promise.all(ids.map((id) => trpc.user.byId.query({ id })))
    const expected = ids.map((id) => ({ id, name: rows.get(id)!.name }))

    const cold = await countQueries(db, async () => expect(await batch()).toEqual(expected))
    expect(cold).toEqual({ users: 1, posts: 0, comments: 0 })
    const warm = await countQueries(db, async () => expect(await batch()).toEqual(expected))
    expect(warm).toEqual({ users: 0, posts: 0, comments: 0 })
    // Each batch was one HTTP request.
    expect(exchanges).toHaveLength(2)
  })

  it('shows a post created with post.create in post.list and post.byId, on this server and another', async () => {
    const [a, b] = await startPair()
    const [onA, onB] = [a.client('806'), b.client()]
    const before = await onA.post.list.query({ first: 3 })
    expect(await onB.post.list.query({ first: 3 })).toEqual(before)
    // The ids the next posts will get, looked up first: cached as "not found", which must not hide the
    // new post (ids come from a sequence, so the new one is among the next few).
    const nextIds = Array.from({ length: 10 }, (_, i) => String(Number(before[0]!.id) + 1 + i))
    const absent = await Promise.all(nextIds.map((id) => onA.post.byId.query({ id })))
    expect(absent.every((post) => post === null)).toBe(true)
    const warm = await countQueries(db, () =>
      Promise.all([onA.post.list.query({ first: 3 }), onB.post.list.query({ first: 3 })]),
    )
    expect(warm.posts).toBe(0)

    const created = await onA.post.create.mutate({
      authorId: '806',
      title: unique('From tRPC'),
      body: 'Body',
    })
    expect(nextIds).toContain(created.id)
    const expected = [created, ...before.slice(0, 2)]
    expect(await onA.post.list.query({ first: 3 })).toEqual(expected)
    expect(await onA.post.byId.query({ id: created.id })).toEqual(created)
    await eventually(async () => {
      expect(await onB.post.list.query({ first: 3 })).toEqual(expected)
      expect(await onB.post.byId.query({ id: created.id })).toEqual(created)
    })
    // GraphQL serves it too, from the same cache.
    const { posts } = await a.graphql<{ posts: Array<{ id: string }> }>('{ posts(first: 1) { id } }')
    expect(posts).toEqual([{ id: created.id }])
  })

  it('removes a post deleted with post.delete from post.list and post.byId', async () => {
    const { client } = await start()
    const trpc = client('807')
    const doomed = await db.createPost({ authorId: '807', title: unique('Doomed'), body: 'Body' })
    expect((await trpc.post.list.query()).map((post) => post.id)).toContain(doomed.id)
    expect(await trpc.post.byId.query({ id: doomed.id })).toMatchObject({ id: doomed.id })

    expect(await trpc.post.delete.mutate({ id: doomed.id })).toBe(true)
    expect((await trpc.post.list.query()).map((post) => post.id)).not.toContain(doomed.id)
    expect(await trpc.post.byId.query({ id: doomed.id })).toBeNull()
    expect(await trpc.post.delete.mutate({ id: doomed.id })).toBe(false)
  })

  it('evicts nothing when a mutation fails', async () => {
    const { client } = await start()
    const trpc = client('808')
    const read = () =>
      Promise.all([
        trpc.post.list.query({ first: 5 }),
        trpc.post.byId.query({ id: '4003' }),
        trpc.user.byId.query({ id: '808' }),
      ])
    const before = await read()

    const error = await failure(trpc.post.create.mutate({ authorId: '999999', title: 't', body: 'b' }))
    expect(error.message).toBe('user "999999" does not exist')
    expect(error.data?.code).toBe('BAD_REQUEST')
    // Writes that find nothing to change evict nothing either.
    expect(await trpc.user.update.mutate({ id: '999999', name: 'Nobody' })).toBeNull()
    expect(await trpc.post.delete.mutate({ id: '999999' })).toBe(false)

    const counts = await countQueries(db, async () => expect(await read()).toEqual(before))
    expect(counts).toEqual({ users: 0, posts: 0, comments: 0 })
  })

  it('never shows one viewer another viewer’s viewer.me, and caches it per viewer', async () => {
    const { client } = await start()
    const rows = await db.usersByIds(['11', '12'])
    const own = (id: string) => ({ id, name: rows.get(id)!.name, email: rows.get(id)!.email })
    const [eleven, twelve, anonymous] = [client('11'), client('12'), client()]

    for (const round of ['cold', 'warm']) {
      const counts = await countQueries(db, async () => {
        expect(await eleven.viewer.me.query()).toEqual(own('11'))
        expect(await twelve.viewer.me.query()).toEqual(own('12'))
        expect(await anonymous.viewer.me.query()).toBeNull()
      })
      if (round === 'warm') expect(counts.users).toBe(0)
    }
    // Both viewers' calls in one batch each: still their own.
    expect(await Promise.all([eleven.viewer.me.query(), eleven.user.byId.query({ id: '12' })])).toEqual([
      own('11'),
      { id: '12', name: rows.get('12')!.name },
    ])
  })

  it('rejects invalid input before any cache access', async () => {
    const { api, client } = await start()
    const trpc = client()
    const stats = () => api.cache.stats().loaders['trpc.user.byId']

    const invalid = () => failure(trpc.user.byId.query({ id: '1; DROP TABLE users' }))
    let counts = await countQueries(db, async () =>
      expect((await invalid()).data).toMatchObject({
        code: 'BAD_REQUEST',
        zodError: { fieldErrors: { id: ['must be a positive integer id'] } },
      }),
    )
    expect(stats()).toBeUndefined()
    expect(counts).toEqual({ users: 0, posts: 0, comments: 0 })

    await trpc.user.byId.query({ id: '809' })
    const known = stats()
    expect(known).toMatchObject({ misses: 1, fetchCalls: 1 })
    counts = await countQueries(db, async () => {
      expect((await invalid()).data?.code).toBe('BAD_REQUEST')
      expect((await failure(trpc.post.list.query({ first: 101 }))).data?.code).toBe('BAD_REQUEST')
    })
    expect(stats()).toEqual(known)
    expect(api.cache.stats().loaders['trpc.post.list']).toBeUndefined()
    expect(counts).toEqual({ users: 0, posts: 0, comments: 0 })
  })

  it('never caches a thrown error', async () => {
    const { db: failingDb, control } = withFailingUsers(db)
    const { client } = await start(uniqueNamespace(), failingDb)
    const trpc = client()

    control.failing = true
    const error = await failure(trpc.user.byId.query({ id: '810' }))
    // Unexpected errors are masked (and logged), as yoga masks them.
    expect(error.message).toBe('Unexpected error.')
    expect(error.data?.code).toBe('INTERNAL_SERVER_ERROR')

    control.failing = false
    const name = (await db.usersByIds(['810'])).get('810')!.name
    const retry = await countQueries(db, async () =>
      expect(await trpc.user.byId.query({ id: '810' })).toEqual({ id: '810', name }),
    )
    expect(retry.users).toBe(1)
    const warm = await countQueries(db, () => trpc.user.byId.query({ id: '810' }))
    expect(warm.users).toBe(0)
  })

  it('sets Cache-Control: public for an all-cached public batch, private for viewer.me, no-store for mutations', async () => {
    const { client, exchanges } = await start()
    const cacheControl = () => exchanges.at(-1)?.cacheControl
    const trpc = client()
    await Promise.all([
      trpc.user.byId.query({ id: '811' }),
      trpc.post.byId.query({ id: '4004' }),
      trpc.post.list.query({ first: 2 }),
    ])
    // The smallest TTL of the batch: post.list's 30 s.
    expect(cacheControl()).toBe('public, max-age=30')
    await trpc.user.byId.query({ id: '811' })
    expect(cacheControl()).toBe('public, max-age=60')

    const viewer = client('811')
    await Promise.all([viewer.viewer.me.query(), viewer.user.byId.query({ id: '811' })])
    expect(cacheControl()).toBe('private, max-age=60')

    await viewer.user.update.mutate({ id: '811', name: unique('Renamed') })
    expect(cacheControl()).toBe('no-store')
    await failure(viewer.post.create.mutate({ authorId: '999999', title: 't', body: 'b' }))
    expect(cacheControl()).toBe('no-store')
  })
})

describe('GraphQL and tRPC on one cache', () => {
  const USER_NAME = 'query ($id: ID!) { user(id: $id) { name } }'
  const UPDATE_USER =
    'mutation ($id: ID!, $name: String) { updateUser(id: $id, input: { name: $name }) { id } }'

  it('shows a user renamed through GraphQL in user.byId at once, and one renamed through tRPC in GraphQL', async () => {
    const { client, graphql } = await start()
    const trpc = client('62')

    // Cached first: the second read costs no SQL, so the new name below can only come from an eviction.
    await trpc.user.byId.query({ id: '62' })
    expect((await countQueries(db, () => trpc.user.byId.query({ id: '62' }))).users).toBe(0)
    const viaGraphQL = unique('Renamed via GraphQL')
    await graphql(UPDATE_USER, { id: '62', name: viaGraphQL }, '62')
    expect(await trpc.user.byId.query({ id: '62' })).toEqual({ id: '62', name: viaGraphQL })

    await graphql(USER_NAME, { id: '63' })
    expect((await countQueries(db, () => graphql(USER_NAME, { id: '63' }))).users).toBe(0)
    const viaTrpc = unique('Renamed via tRPC')
    expect(await trpc.user.update.mutate({ id: '63', name: viaTrpc })).toEqual({ id: '63', name: viaTrpc })
    expect(await graphql<UserName>(USER_NAME, { id: '63' })).toEqual({ user: { name: viaTrpc } })
  })

  it('shows a user renamed on server A, through either protocol, to the other protocol on server B', async () => {
    const [a, b] = await startPair()
    const onB = b.client()

    // B's L1 holds the old values: the case the bus is for.
    await onB.user.byId.query({ id: '64' })
    await b.graphql(USER_NAME, { id: '65' })

    const viaGraphQL = unique('Renamed via GraphQL on A')
    await a.graphql(UPDATE_USER, { id: '64', name: viaGraphQL }, '64')
    await eventually(async () =>
      expect(await onB.user.byId.query({ id: '64' })).toEqual({ id: '64', name: viaGraphQL }),
    )

    const viaTrpc = unique('Renamed via tRPC on A')
    await a.client('65').user.update.mutate({ id: '65', name: viaTrpc })
    await eventually(async () =>
      expect(await b.graphql<UserName>(USER_NAME, { id: '65' })).toEqual({ user: { name: viaTrpc } }),
    )
  })

  it('shows a post created through GraphQL in post.list, and one created through tRPC in GraphQL posts', async () => {
    const { client, graphql } = await start()
    const trpc = client('812')
    const POSTS = '{ posts(first: 1) { id } }'
    await trpc.post.list.query({ first: 1 })
    await graphql(POSTS)

    const { createPost } = await graphql<{ createPost: { id: string } }>(
      'mutation ($input: CreatePostInput!) { createPost(input: $input) { id } }',
      { input: { authorId: '812', title: unique('Via GraphQL'), body: 'Body' } },
      '812',
    )
    expect((await trpc.post.list.query({ first: 1 })).map((post) => post.id)).toEqual([createPost.id])

    const created = await trpc.post.create.mutate({
      authorId: '812',
      title: unique('Via tRPC'),
      body: 'Body',
    })
    expect(await graphql(POSTS)).toEqual({ posts: [{ id: created.id }] })
  })
})

describe('isTrpcRequest', () => {
  it('routes /trpc and paths under it to tRPC, and nothing else', () => {
    for (const url of ['/trpc', '/trpc/', '/trpc/user.byId?input=%7B%7D', '/trpc?batch=1']) {
      expect(isTrpcRequest(url)).toBe(true)
    }
    for (const url of [undefined, '/', '/graphql', '/trpcx', '/health?x=/trpc/', '/api/trpc/user.byId']) {
      expect(isTrpcRequest(url)).toBe(false)
    }
  })
})
