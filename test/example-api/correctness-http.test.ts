import { describe, expect, it } from 'vitest'
import type { Database } from '../../example-api/db/index.js'
import type { ExampleServer } from '../../example-api/server.js'
import { busDelivered, uniqueNamespace } from '../helpers/cache.js'
import type { RedisServer } from '../helpers/redis-server.js'
import { countQueries, openForFile, startApi, unique } from './api-harness.js'

/*
 * The GraphQL correctness cases of the example API, over real HTTP: two servers on free loopback ports
 * sharing one Redis, written through A and read back through B once the bus delivered A's invalidations.
 */

let db: Database
let redisServer: RedisServer
openForFile((opened) => {
  ;({ db, redisServer } = opened)
})

interface Served {
  base: string
  server: ExampleServer
  post(query: string, viewer?: string): Promise<{ data?: Record<string, unknown>; headers: Headers }>
}

async function serve(server: ExampleServer): Promise<Served> {
  const { port } = await server.listen(0, '127.0.0.1')
  const base = `http://127.0.0.1:${port}`
  return {
    base,
    server,
    async post(query, viewer) {
      const response = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(viewer ? { authorization: `Bearer ${viewer}` } : {}),
        },
        body: JSON.stringify({ query }),
      })
      const body = (await response.json()) as { data?: Record<string, unknown>; errors?: unknown }
      expect(body.errors).toBeUndefined()
      return { data: body.data, headers: response.headers }
    },
  }
}

async function pair(): Promise<[Served, Served]> {
  const namespace = uniqueNamespace()
  const mode = { kind: 'redis', url: redisServer.url } as const
  return [await serve(await startApi(db, mode, namespace)), await serve(await startApi(db, mode, namespace))]
}

describe('the example API over HTTP, two servers on one Redis', () => {
  it('answers two updateUser mutations in one operation each with its own value, and keeps the last', async () => {
    const [a, b] = await pair()
    const read = '{ me { email } user(id: "7") { email } }'
    await b.post(read, '7')
    await a.post(read, '7')
    const x = `${unique('x').replace(/\W/g, '.')}@x.test`
    const y = `${unique('y').replace(/\W/g, '.')}@y.test`
    const written = await a.post(
      `mutation { a: updateUser(id: "7", input: {email: "${x}"}) { email }  b: updateUser(id: "7", input: {email: "${y}"}) { email } }`,
      '7',
    )
    expect(written.data).toEqual({ a: { email: x }, b: { email: y } })
    expect(written.headers.get('cache-control')).toBe('no-store')
    await busDelivered(a.server.cache, b.server.cache)
    for (const instance of [a, b]) {
      expect((await instance.post(read, '7')).data).toEqual({ me: { email: y }, user: { email: y } })
    }
    expect((await db.usersByIds(['7'])).get('7')?.email).toBe(y)
  })

  it('primes updateUser: the next read of that user costs no SQL on A or B, and shows the new name', async () => {
    const [a, b] = await pair()
    const read = '{ user(id: "8") { name } }'
    await a.post(read)
    await b.post(read)
    const name = unique('Grace')
    await a.post(`mutation { updateUser(id: "8", input: {name: "${name}"}) { name } }`, '8')
    await busDelivered(a.server.cache, b.server.cache)
    // B first: it executes the query (no stored response yet) and finds the primed row in Redis.
    const counts = await countQueries(db, async () => {
      for (const instance of [b, a]) expect((await instance.post(read)).data).toEqual({ user: { name } })
    })
    expect(counts).toEqual({ users: 0, posts: 0, comments: 0 })
    expect(b.server.cache.stats().loaders.user).toMatchObject({ l2Hits: 1, fetchCalls: 0 })
  })

  it('shows the post of a comment added on A with its new commentCount on B', async () => {
    const [a, b] = await pair()
    const read = '{ post(id: "4003") { commentCount } }'
    const before = (await b.post(read)).data as { post: { commentCount: number } }
    const added = await a.post(
      `mutation { addComment(input: {postId: "4003", authorId: "8", body: "${unique('hello')}"}) { id post { id commentCount } } }`,
      '8',
    )
    const shown = (added.data as { addComment: { post: { commentCount: number } } }).addComment.post
    expect(shown.commentCount).toBe(before.post.commentCount + 1)
    await busDelivered(a.server.cache, b.server.cache)
    expect((await b.post(read)).data).toEqual({ post: { commentCount: shown.commentCount } })
    // B served it from the cache again right after: one fill, then hits.
    const again = await countQueries(db, () => b.post(read))
    expect(again).toEqual({ users: 0, posts: 0, comments: 0 })
  })
})
