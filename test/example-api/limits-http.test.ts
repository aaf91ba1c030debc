import { getIntrospectionQuery } from 'graphql'
import { describe, expect, it } from 'vitest'
import type { Database } from '../../example-api/db/index.js'
import { DEFAULT_REQUEST_LIMITS } from '../../example-api/http/limits.js'
import { createExampleServer, type ExampleServer } from '../../example-api/server.js'
import { uniqueNamespace } from '../helpers/cache.js'
import type { RedisServer } from '../helpers/redis-server.js'
import { countQueries, openForFile, startApi } from './api-harness.js'

/*
 * One request must not knock the example API over: every limit of http/limits.ts is answered with a 4xx
 * and a message naming it, over real HTTP, before any resolver runs or the cache is read, and the server
 * answers the feed right after. Servers run on L1 + a real Redis, so "the cache was not touched" covers
 * the response tier's Redis lookups too.
 */

let db: Database
let redisServer: RedisServer
openForFile((opened) => {
  ;({ db, redisServer } = opened)
})

const FEED = '{ posts(first: 50) { title author { name } comments { author { name } } } }'

/** What the server answered: status, the parsed body and the headers. */
interface Answer {
  status: number
  body: {
    data?: unknown
    errors?: Array<{ message: string; extensions?: Record<string, unknown> }>
    error?: { message: string; data?: Record<string, unknown> }
  }
  headers: Headers
}

async function listening(server: ExampleServer) {
  const { url, trpcUrl } = await server.listen(0, '127.0.0.1')
  const answer = async (response: Response): Promise<Answer> => ({
    status: response.status,
    body: (await response.json()) as Answer['body'],
    headers: response.headers,
  })
  return {
    /** POST /graphql; `application/json` as most clients send it unless `accept` says otherwise. */
    graphql: async (
      query: string,
      options: { variables?: Record<string, unknown>; viewer?: string; accept?: string | null } = {},
    ) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      if (options.accept !== null) headers.accept = options.accept ?? 'application/json'
      if (options.viewer !== undefined) headers.authorization = `Bearer ${options.viewer}`
      const body = JSON.stringify({ query, variables: options.variables })
      return answer(await fetch(url, { method: 'POST', headers, body }))
    },
    /** A tRPC call by hand (no client), so that malformed input can be sent. */
    trpc: async (path: string, init?: RequestInit) => answer(await fetch(`${trpcUrl}/${path}`, init)),
  }
}

/** Refusals of every kind carry a message, a code, and nothing about the server's internals. */
function expectRefusal(answer: Answer, status: number, code: string, message: string | RegExp) {
  expect(answer.status).toBe(status)
  expect(answer.body.data).toBeUndefined()
  expect(answer.body.errors).toHaveLength(1)
  expect(answer.body.errors![0]!.message).toMatch(message)
  expect(answer.body.errors![0]!.extensions).toEqual({ code })
}

/**
 * The cache's counters (loaders, fields, the response tier, L1) and the database's statement counts: equal
 * before and after means untouched. Redis's error counter is left out: the bus's own commands may time out
 * on a busy machine whatever the request did.
 */
async function untouched(server: ExampleServer, action: () => Promise<void>) {
  const cacheCounters = () => {
    const { loaders, responses, memory } = server.cache.stats()
    return { loaders, responses, memory }
  }
  const before = cacheCounters()
  const counts = await countQueries(db, action)
  expect(counts).toEqual({ users: 0, posts: 0, comments: 0 })
  expect(cacheCounters()).toEqual(before)
}

/** The server still answers the feed, the heaviest query a legitimate client of the example sends. */
async function stillServes(api: Awaited<ReturnType<typeof listening>>) {
  const feed = await api.graphql(FEED)
  expect(feed.status).toBe(200)
  expect(feed.body.errors).toBeUndefined()
  expect(feed.body.data).toMatchObject({ posts: expect.any(Array) })
  expect((feed.body.data as { posts: unknown[] }).posts).toHaveLength(50)
}

const nested = (levels: number) => {
  let selection = 'title'
  for (let level = 0; level < levels; level++) selection = `posts { author { ${selection} } }`
  return `{ ${selection} }`
}

describe('the example API refuses what one request must not ask for', () => {
  const start = () => startApi(db, { kind: 'redis', url: redisServer.url }, uniqueNamespace())

  it('answers the feed and the test suites’ heaviest queries within the limits', async () => {
    const api = await listening(await start())
    await stillServes(api)
    const twentyLookups = Array.from({ length: 20 }, (_, i) => `p${i}: post(id: "${4000 + i}") { id }`)
    expect((await api.graphql(`{ ${twentyLookups.join(' ')} }`)).status).toBe(200)
    const ids = Array.from({ length: DEFAULT_REQUEST_LIMITS.maxListLength }, (_, i) => String(i + 1))
    const users = await api.graphql('query ($ids: [ID!]!) { users(ids: $ids) { id } }', {
      variables: { ids },
    })
    expect(users.status).toBe(200)
    expect(users.body.data).toEqual({ users: ids.map((id) => ({ id })) })
    // GraphiQL's and codegen's introspection query.
    const introspection = await api.graphql(getIntrospectionQuery({ descriptions: true }))
    expect(introspection.status).toBe(200)
    expect(introspection.body.errors).toBeUndefined()
  })

  it('refuses a query nested 300 deep with a 400 before touching the cache, and serves the feed after', async () => {
    const server = await start()
    const api = await listening(server)
    const query = nested(150)
    expect(query.length).toBeGreaterThan(3000)
    await untouched(server, async () =>
      expectRefusal(
        await api.graphql(query),
        400,
        'GRAPHQL_VALIDATION_FAILED',
        'Query depth limit of 6 exceeded, found 301.',
      ),
    )
    await stillServes(api)
  })

  it('answers 400 whatever the Accept header: application/json, graphql-response+json or none', async () => {
    const api = await listening(await start())
    for (const accept of ['application/json', 'application/graphql-response+json', null]) {
      expectRefusal(
        await api.graphql(nested(4), { accept }),
        400,
        'GRAPHQL_VALIDATION_FAILED',
        'Query depth limit of 6 exceeded, found 9.',
      )
    }
  })

  it('refuses list fan-out by its estimated cost, not by its depth: 9 million values 5 deep', async () => {
    const server = await start()
    const api = await listening(server)
    await untouched(server, async () =>
      expectRefusal(
        await api.graphql('{ posts(first: 100) { comments { post { comments { body } } } } }'),
        400,
        'GRAPHQL_VALIDATION_FAILED',
        /^Query cost limit of 50000 exceeded, estimated 9060101: /,
      ),
    )
    // Variables count as their values: the same query costs what $first asks for.
    const query = 'query ($first: Int) { posts(first: $first) { comments { body author { name } } } }'
    expect((await api.graphql(query, { variables: { first: 100 } })).body.errors?.[0]?.message).toMatch(
      /^Query cost limit of 50000 exceeded, estimated 90101: /,
    )
    expect((await api.graphql(query, { variables: { first: 2 } })).status).toBe(200)
    // Introspection too: its lists count by what this schema holds, so nesting them is refused.
    const fields =
      '{ __schema { types { fields { type { fields { type { fields { type { fields { name } } } } } } } } } }'
    expect((await api.graphql(fields)).body.errors?.[0]?.message).toMatch(
      /^Query cost limit of 50000 exceeded/,
    )
    await stillServes(api)
  })

  it('answers users(ids) with 80,000 ids with 413, 1,000 ids with 400, both before any resolver or cache', async () => {
    const server = await start()
    const api = await listening(server)
    const ids = (count: number) => Array.from({ length: count }, (_, i) => String(i + 1))
    const query = 'query ($ids: [ID!]!) { users(ids: $ids) { id name } }'
    await untouched(server, async () => {
      expectRefusal(
        await api.graphql(query, { variables: { ids: ids(80_000) } }),
        413,
        'REQUEST_ENTITY_TOO_LARGE',
        'Request body too large',
      )
      expectRefusal(
        await api.graphql(query, { variables: { ids: ids(1000) } }),
        400,
        'BAD_USER_INPUT',
        'List too long: $ids has 1000 items; at most 100 are allowed.',
      )
      const inline = `{ users(ids: [${ids(101).join(', ')}]) { id } }`
      expectRefusal(
        await api.graphql(inline),
        400,
        'BAD_USER_INPUT',
        'List too long: argument "ids" has 101 items; at most 100 are allowed.',
      )
    })
    await stillServes(api)
  })

  it('refuses too many aliases, directives, tokens and characters, each with its own message', async () => {
    const server = await start()
    const api = await listening(server)
    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: post(id: "${4000 + i}") { id }`).join(' ')
    const long = `{ user(id: "${'1'.repeat(10_000)}") { id } }`
    const cases: Array<[string, string]> = [
      [`{ ${aliases} }`, 'Aliases limit of 30 exceeded, found 31.'],
      [`{ me ${'@include(if: true) '.repeat(21)}{ id } }`, 'Directives limit of 20 exceeded, found 21.'],
      [`{ ${'a '.repeat(1000)}}`, 'Token limit of 1000 exceeded.'],
      [
        long,
        `Query too long: ${long.length} characters; at most 10000 are allowed. Send long values as variables.`,
      ],
    ]
    await untouched(server, async () => {
      for (const [query, message] of cases) {
        expectRefusal(await api.graphql(query), 400, 'GRAPHQL_VALIDATION_FAILED', message)
      }
    })
    await stillServes(api)
  })

  it('answers 401 UNAUTHENTICATED to an anonymous mutation, writes nothing, and accepts it from a viewer', async () => {
    const server = await start()
    const api = await listening(server)
    const doomed = await db.createPost({ authorId: '813', title: 'Doomed', body: 'Body' })
    const remove = `mutation { deletePost(id: "${doomed.id}") }`

    const anonymous = await api.graphql(remove)
    expectRefusal(
      anonymous,
      401,
      'UNAUTHENTICATED',
      'Mutations need a signed-in viewer: send `authorization: Bearer <userId>`.',
    )
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer')
    expect((await db.postsByIds([doomed.id])).get(doomed.id)).toBeDefined()

    expect(await api.graphql(remove, { viewer: '813' })).toMatchObject({
      status: 200,
      body: { data: { deletePost: true } },
    })
  })

  it('hides field suggestions in production mode only', async () => {
    const suggestion = async (production: boolean) => {
      const server = await createExampleServer({ db, production })
      try {
        const answer = await (await listening(server)).graphql('{ me { nam } }')
        return answer.body.errors?.[0]?.message
      } finally {
        await server.close()
      }
    }
    expect(await suggestion(false)).toBe('Cannot query field "nam" on type "User". Did you mean "name"?')
    expect(await suggestion(true)).toBe('Cannot query field "nam" on type "User". [Suggestion hidden]')
  })
})

describe('the example API over tRPC refuses bad calls with a 4xx and no stack', () => {
  const start = () => startApi(db, { kind: 'redis', url: redisServer.url }, uniqueNamespace())
  const noStack = (answer: Answer) => expect(JSON.stringify(answer.body)).not.toMatch(/stack|\.ts:\d+/)

  it('answers malformed input with 400 BAD_REQUEST, and still serves viewer.me after', async () => {
    const api = await listening(await start())
    const input = (value: string) => `input=${encodeURIComponent(value)}`

    const unexpected = await api.trpc(`viewer.me?${input('{"a":1}')}`)
    expect(unexpected.status).toBe(400)
    expect(unexpected.body.error).toMatchObject({
      message: 'Invalid input: Expected void, received object',
      data: { code: 'BAD_REQUEST', httpStatus: 400, path: 'viewer.me' },
    })
    noStack(unexpected)

    const invalid = await api.trpc(`user.byId?${input('{"id":"1; DROP TABLE users"}')}`)
    expect(invalid.status).toBe(400)
    expect(invalid.body.error?.message).toBe('Invalid input: id: must be a positive integer id')
    noStack(invalid)

    const notJson = await api.trpc(`user.byId?${input('{"id":')}`)
    expect(notJson.status).toBe(400)
    expect(notJson.body.error?.data).toMatchObject({ code: 'BAD_REQUEST' })
    noStack(notJson)

    const me = await api.trpc('viewer.me', { headers: { authorization: 'Bearer 14' } })
    expect(me.status).toBe(200)
    expect(me.body).toMatchObject({ result: { data: { id: '14' } } })
  })

  it('answers an anonymous mutation with 401 UNAUTHORIZED and writes nothing', async () => {
    const api = await listening(await start())
    const doomed = await db.createPost({ authorId: '814', title: 'Doomed', body: 'Body' })
    const remove = (headers: Record<string, string>) =>
      api.trpc('post.delete', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ id: doomed.id }),
      })

    const anonymous = await remove({})
    expect(anonymous.status).toBe(401)
    expect(anonymous.body.error).toMatchObject({
      message: 'Mutations need a signed-in viewer: send `authorization: Bearer <userId>`.',
      data: { code: 'UNAUTHORIZED', httpStatus: 401 },
    })
    noStack(anonymous)
    expect((await db.postsByIds([doomed.id])).get(doomed.id)).toBeDefined()

    expect(await remove({ authorization: 'Bearer 814' })).toMatchObject({
      status: 200,
      body: { result: { data: true } },
    })
  })

  it('answers a body over 100 KB with 413 and a batch of 101 calls with 400', async () => {
    const api = await listening(await start())
    const big = await api.trpc('user.update', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer 15' },
      body: JSON.stringify({ id: '15', name: 'x'.repeat(200_000) }),
    })
    expect(big.status).toBe(413)
    expect(big.body.error?.data).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' })

    const paths = Array.from({ length: 101 }, () => 'user.byId').join(',')
    const batch = await api.trpc(`${paths}?batch=1`)
    expect(batch.status).toBe(400)
    expect(batch.body.error?.message).toBe('Batch call exceeds maximum size')
    noStack(batch)

    const fine = await api.trpc(`user.byId?input=${encodeURIComponent('{"id":"15"}')}`)
    expect(fine.status).toBe(200)
  })
})
