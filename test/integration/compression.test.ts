import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineLoader, structuredSerializer } from '../../src/index.js'
import { graphqlFixture } from '../graphql/schema-fixture.js'
import { cacheFactory, countCommands } from '../helpers/cache.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'

/*
 * Compression of large values in Redis (`createCache({ compression })`), on a redis-server this file starts,
 * with two cache instances standing for two processes: what Redis holds, what the other process reads back,
 * what a corrupt compressed entry costs, and what L1 holds.
 */

let server: RedisServer
beforeAll(async () => {
  server = await startRedisServer()
})
afterAll(() => server.dispose())

interface Feed {
  id: string
  updatedAt: Date
  authors: Map<string, { name: string; joined: Date }>
  posts: { id: string; title: string; tags: Set<string>; score: bigint }[]
}

/** A feed of `count` posts: about 120 bytes of devalue per post, with what JSON would lose. */
function feed(id: string, count: number): Feed {
  return {
    id,
    updatedAt: new Date('2026-01-02T03:04:05.678Z'),
    authors: new Map([
      ['a1', { name: 'Ann', joined: new Date(0) }],
      ['a2', { name: 'Bob', joined: new Date(86_400_000) }],
    ]),
    posts: Array.from({ length: count }, (_, i) => ({
      id: `${id}-${i}`,
      title: `Post ${i}: notes on caching, batching and invalidation`,
      tags: new Set(['caching', i % 2 ? 'redis' : 'graphql']),
      score: BigInt(i) * 1_000_000_007n,
    })),
  }
}

function feedLoader(count: number) {
  const calls: string[][] = []
  const loader = defineLoader({
    name: 'feed',
    fetch: (ids: readonly string[]) => {
      calls.push([...ids])
      return ids.map((id) => feed(id, count))
    },
  })
  return { loader, calls }
}

describe('compression of large values in Redis', () => {
  it('stores a large value compressed, and another process reads it back identical (Date, Map, Set, BigInt)', async () => {
    const makeCache = cacheFactory('redis', server)
    const { loader, calls } = feedLoader(200)
    const writer = await makeCache({ compression: { threshold: 1024 } })
    const written = await writer.loaders({ feed: loader }).feed.load('home')

    const raw = await server.client().get(`${makeCache.namespace}:{feed:home}`)
    expect(raw).toMatch(/^3 zd6 \d+ \d+ \d+ \d+\n[A-Za-z0-9+/]+=*$/)
    const payloadLength = raw!.length - raw!.indexOf('\n') - 1
    expect(payloadLength).toBeLessThan(structuredSerializer.serialize(feed('home', 200)).length / 3)

    const client = server.client()
    const reader = await makeCache({ redis: client })
    const read = (await reader.loaders({ feed: loader }).feed.load('home')) as Feed
    expect(read).toEqual(written)
    expect(read.updatedAt).toBeInstanceOf(Date)
    expect(read.authors).toBeInstanceOf(Map)
    expect(read.authors.get('a2')?.joined).toEqual(new Date(86_400_000))
    expect(read.posts[3]?.tags).toEqual(new Set(['caching', 'redis']))
    expect(read.posts[199]?.score).toBe(199n * 1_000_000_007n)
    expect(calls).toEqual([['home']])
    expect(reader.stats().loaders.feed).toMatchObject({ l2Hits: 1, fetchCalls: 0, corruptEntries: 0 })

    // L1 holds the decoded value: the next load is the same object, with no round trip and nothing inflated.
    const sent = countCommands(client)
    const again = await reader.loaders({ feed: loader }).feed.load('home')
    expect(again).toBe(read)
    expect(sent.names).toEqual([])
    expect(reader.stats().loaders.feed).toMatchObject({ l1Hits: 1, l2Hits: 1 })
  })

  it('stores a value below the threshold as it is (readable by a version without compression)', async () => {
    const makeCache = cacheFactory('redis', server)
    const { loader } = feedLoader(2)
    const cache = await makeCache({ compression: { threshold: 4096 } })
    await cache.loaders({ feed: loader }).feed.load('small')
    const raw = await server.client().get(`${makeCache.namespace}:{feed:small}`)
    expect(raw).toMatch(/^3 vd6 \d+ \d+ \d+ \d+\n\[\{"id":/)
    expect(raw).toContain('"Post 1: notes on caching, batching and invalidation"')
  })

  it('stores every value as it is with compression: false', async () => {
    const makeCache = cacheFactory('redis', server)
    const { loader } = feedLoader(200)
    const cache = await makeCache({ compression: false })
    await cache.loaders({ feed: loader }).feed.load('home')
    const raw = await server.client().get(`${makeCache.namespace}:{feed:home}`)
    expect(raw).toMatch(/^3 vd6 /)
  })

  it('reads entries written uncompressed (by an older version, or with compression off) as before', async () => {
    const makeCache = cacheFactory('redis', server)
    const { loader, calls } = feedLoader(200)
    const old = await makeCache({ compression: false })
    const written = await old.loaders({ feed: loader }).feed.load('home')
    const current = await makeCache({ compression: { threshold: 1024 } })
    expect(await current.loaders({ feed: loader }).feed.load('home')).toEqual(written)
    expect(calls).toHaveLength(1)
    expect(current.stats().loaders.feed).toMatchObject({ l2Hits: 1, corruptEntries: 0 })
  })

  it('takes a corrupt compressed entry for a miss: counted in corruptEntries, fetched again, stored anew', async () => {
    const makeCache = cacheFactory('redis', server)
    const { loader, calls } = feedLoader(200)
    const cache = await makeCache()
    const key = `${makeCache.namespace}:{feed:home}`
    const now = Date.now()
    // A well-formed header (the read script accepts it) over a payload that does not inflate.
    await server
      .client()
      .set(key, `3 zd6 1 ${now + 60_000} ${now + 60_000} 3\nbm90IGRlZmxhdGUgYXQgYWxs`, 'PX', 60_000)

    const value = (await cache.loaders({ feed: loader }).feed.load('home')) as Feed
    expect(value.posts).toHaveLength(200)
    expect(calls).toEqual([['home']])
    expect(cache.stats().loaders.feed).toMatchObject({ corruptEntries: 1, l2Hits: 0, fetchCalls: 1 })
    expect(await server.client().get(key)).toMatch(/^3 zd6 \d+ /)
    const other = await makeCache()
    expect(await other.loaders({ feed: loader }).feed.load('home')).toEqual(value)
    expect(other.stats().loaders.feed).toMatchObject({ l2Hits: 1, corruptEntries: 0 })
  })

  it("counts a compressed entry's decoded size against memory.maxBytes, not its size in Redis", async () => {
    const makeCache = cacheFactory('redis', server)
    // ~60 KB decoded (UTF-16), under 1 KB compressed: repetitive on purpose.
    const repetitive = defineLoader({
      name: 'page',
      fetch: (ids: readonly string[]) => ids.map(() => 'lorem ipsum '.repeat(2500)),
    })
    const writer = await makeCache()
    await writer.loaders({ repetitive }).repetitive.load('1')
    const raw = await server.client().get(`${makeCache.namespace}:{page:1}`)
    expect(raw?.length).toBeLessThan(1000)

    const reader = await makeCache({ memory: { maxBytes: 20_000 } })
    await reader.loaders({ repetitive }).repetitive.load('1')
    await reader.loaders({ repetitive }).repetitive.load('1')
    // Too big for this L1 once decoded: both loads read Redis.
    expect(reader.stats().loaders.page).toMatchObject({ l2Hits: 2, l1Hits: 0 })
  })
})

describe('compression of stored responses (the response tier)', () => {
  it('stores a large response compressed and serves it to another instance byte for byte', async () => {
    const titles = Array.from({ length: 300 }, (_, i) => `Post ${i}: notes on caching`)
    const fixture = graphqlFixture({
      typeDefs: /* GraphQL */ `
        type Query { posts: [Post!]! @cached(ttl: 60) }
        type Post { id: ID! title: String! }
      `,
      resolvers: (ran) => ({
        Query: {
          posts: () => {
            ran('Query.posts')
            return titles.map((title, i) => ({ id: String(i), title }))
          },
        },
      }),
      redis: server,
    })
    const [a, b] = [await fixture.instance({ responses: true }), await fixture.instance({ responses: true })]
    const first = await a.send('{ posts { id title } }')
    const body = await first.text()
    expect(body.length).toBeGreaterThan(10_000)
    expect(first.headers.get('cache-status')).toBe('loadcache; fwd=miss; stored')

    const admin = server.client()
    const [, keys] = await admin.scan('0', 'MATCH', `${fixture.namespace}:{_response:*`, 'COUNT', 1000)
    expect(keys).toHaveLength(1)
    const raw = await admin.get(keys[0]!)
    expect(raw).toMatch(/^3 zr1 /)
    expect(raw!.length).toBeLessThan(body.length / 3)

    const fromB = await b.send('{ posts { id title } }')
    expect(fromB.headers.get('cache-status')).toBe('loadcache; hit')
    expect(await fromB.text()).toBe(body)
    expect(fromB.headers.get('etag')).toBe(first.headers.get('etag'))
    expect(fixture.runs).toEqual({ 'Query.posts': 1 })
  })
})
