import { describe, expect, it } from 'vitest'
import type { Database } from '../../example-api/db/index.js'
import type { ExampleServer } from '../../example-api/server.js'
import { busDelivered, uniqueNamespace } from '../helpers/cache.js'
import type { RedisServer } from '../helpers/redis-server.js'
import { countQueries, openForFile, startApi, unique } from './api-harness.js'

/*
 * The example API's response tier over real HTTP: two servers on free loopback ports sharing one Redis.
 * Every write (GraphQL mutations, and a tRPC write) must make the next read of an affected operation fresh
 * in both, and a cold operation requested 64 times at once must execute once in total.
 */

let db: Database
let redisServer: RedisServer
openForFile((opened) => {
  ;({ db, redisServer } = opened)
})

interface Instance {
  readonly server: ExampleServer
  readonly base: string
  graphql(query: string, options?: { viewer?: string; headers?: Record<string, string> }): Promise<Response>
}

async function instance(server: ExampleServer): Promise<Instance> {
  const { port } = await server.listen(0, '127.0.0.1')
  const base = `http://127.0.0.1:${port}`
  return {
    server,
    base,
    graphql: (query, options = {}) =>
      fetch(`${base}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(options.viewer ? { authorization: `Bearer ${options.viewer}` } : {}),
          ...options.headers,
        },
        body: JSON.stringify({ query }),
      }),
  }
}

async function pair(): Promise<[Instance, Instance]> {
  const namespace = uniqueNamespace()
  const mode = { kind: 'redis', url: redisServer.url } as const
  return [
    await instance(await startApi(db, mode, namespace)),
    await instance(await startApi(db, mode, namespace)),
  ]
}

const FEED = '{ posts(first: 50) { title author { name } comments { author { name } } } }'

async function data(response: Response): Promise<Record<string, unknown>> {
  const body = (await response.json()) as { data?: Record<string, unknown>; errors?: unknown }
  expect(body.errors).toBeUndefined()
  return body.data!
}

describe('the example API response tier, two servers on one Redis', () => {
  it('answers a hit with the bytes the miss sent, from either server', async () => {
    const [a, b] = await pair()
    const miss = await a.graphql(FEED)
    const bytes = await miss.text()
    expect(miss.headers.get('cache-status')).toBe('loadcache; fwd=miss; stored')
    const hit = await b.graphql(FEED)
    expect(hit.headers.get('cache-status')).toBe('loadcache; hit')
    expect(await hit.text()).toBe(bytes)
    expect(hit.headers.get('etag')).toBe(miss.headers.get('etag'))
  })

  it('executes a cold operation once for 2 servers x 32 concurrent identical requests', async () => {
    const query =
      '{ posts(first: 20, after: "4500") { title author { name } comments { body author { name } } } }'
    const [alone] = await pair()
    const once = await countQueries(db, async () => expect((await alone.graphql(query)).status).toBe(200))
    expect(once.posts).toBeGreaterThan(0)

    const [a, b] = await pair()
    const bodies: string[] = []
    const stampede = await countQueries(db, async () => {
      const responses = await Promise.all(
        Array.from({ length: 64 }, (_, i) => (i % 2 === 0 ? a : b).graphql(query)),
      )
      for (const response of responses) bodies.push(await response.text())
    })
    expect(new Set(bodies).size).toBe(1)
    // Every SQL statement of the operation ran once in total, as for a single request.
    expect(stampede).toEqual(once)
  })

  it('shows every kind of write in the next read on both servers', async () => {
    const [a, b] = await pair()
    const viewer = '21'
    const read = `{ user(id: "21") { name postCount posts { id title } } post(id: "4100") { commentCount comments { body } } posts(first: 3) { id title } }`
    const readBoth = async () => {
      const fromA = await data(await a.graphql(read, { viewer }))
      const fromB = await data(await b.graphql(read, { viewer }))
      expect(fromB).toEqual(fromA)
      return fromA as {
        user: { name: string; postCount: number; posts: { id: string; title: string }[] }
        post: { commentCount: number; comments: { body: string }[] }
        posts: { id: string; title: string }[]
      }
    }
    const before = await readBoth()
    expect((await a.graphql(read, { viewer })).headers.get('cache-status')).toBe('loadcache; hit')

    const name = unique('Renamed')
    await data(
      await a.graphql(`mutation { updateUser(id: "21", input: { name: "${name}" }) { id } }`, { viewer }),
    )
    await busDelivered(a.server.cache, b.server.cache)
    expect((await readBoth()).user.name).toBe(name)

    const title = unique('Post')
    const created = (await data(
      await a.graphql(
        `mutation { createPost(input: { authorId: "21", title: "${title}", body: "b" }) { id } }`,
        {
          viewer,
        },
      ),
    )) as { createPost: { id: string } }
    await busDelivered(a.server.cache, b.server.cache)
    const afterCreate = await readBoth()
    expect(afterCreate.user.postCount).toBe(before.user.postCount + 1)
    expect(afterCreate.posts[0]).toEqual({ id: created.createPost.id, title })

    const body = unique('Comment')
    await data(
      await a.graphql(
        `mutation { addComment(input: { postId: "4100", authorId: "21", body: "${body}" }) { id } }`,
        {
          viewer,
        },
      ),
    )
    await busDelivered(a.server.cache, b.server.cache)
    const afterComment = await readBoth()
    expect(afterComment.post.commentCount).toBe(before.post.commentCount + 1)
    expect(afterComment.post.comments.at(-1)).toEqual({ body })

    await data(await a.graphql(`mutation { deletePost(id: "${created.createPost.id}") }`, { viewer }))
    await busDelivered(a.server.cache, b.server.cache)
    const afterDelete = await readBoth()
    expect(afterDelete.user.postCount).toBe(before.user.postCount)
    expect(afterDelete.posts.map((post) => post.id)).not.toContain(created.createPost.id)

    // A tRPC write goes through the same writes, and evicts the GraphQL responses too.
    const renamed = unique('Via tRPC')
    const trpc = await fetch(`${a.base}/trpc/user.update`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${viewer}` },
      body: JSON.stringify({ id: '21', name: renamed }),
    })
    expect(trpc.status).toBe(200)
    await busDelivered(a.server.cache, b.server.cache)
    expect((await readBoth()).user.name).toBe(renamed)
  })

  it('answers 304 to a client that holds the current response, and 200 once a mutation changed it', async () => {
    const [a, b] = await pair()
    const read = '{ user(id: "22") { name } }'
    const first = await a.graphql(read)
    const etag = first.headers.get('etag')!
    expect((await b.graphql(read, { headers: { 'if-none-match': etag } })).status).toBe(304)
    await data(
      await a.graphql(`mutation { updateUser(id: "22", input: { name: "${unique('N')}" }) { id } }`, {
        viewer: '22',
      }),
    )
    await busDelivered(a.server.cache, b.server.cache)
    for (const server of [a, b]) {
      const changed = await server.graphql(read, { headers: { 'if-none-match': etag } })
      expect(changed.status).toBe(200)
      expect(changed.headers.get('etag')).not.toBe(etag)
    }
  })
})
