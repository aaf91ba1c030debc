import { makeExecutableSchema } from '@graphql-tools/schema'
import { describe, expect, it } from 'vitest'
import { loadCacheDirectiveTypeDefs } from '../../src/graphql/index.js'
import { defineLoader } from '../../src/index.js'
import { TestSource } from '../helpers/source.js'
import { runCounter, serve } from './serve.js'

const typeDefs = /* GraphQL */ `
  ${loadCacheDirectiveTypeDefs()}
  type Query {
    post(id: ID!): Post @cached(ttl: 60)
    writer(id: ID!): Writer
  }
  type Post { id: ID! title: String! }
  type Writer { id: ID! name: String }
  type Mutation { retitle(id: ID!, title: String!): Post }
`

/** A blog whose `x-cache: off` requests bypass the cache. */
function blog() {
  const titles = new Map([['1', 'First']])
  const { runs, ran } = runCounter()
  const source = new TestSource(3)
  const writer = defineLoader({ name: 'writer', fetch: source.fetch })
  const schema = makeExecutableSchema({
    typeDefs,
    resolvers: {
      Query: {
        post: (_: unknown, { id }: { id: string }) => {
          ran('Query.post')
          return { id, title: titles.get(id) }
        },
        writer: (
          _: unknown,
          { id }: { id: string },
          context: { loaders: { writer: { load(id: string): unknown } } },
        ) => context.loaders.writer.load(id),
      },
      Mutation: {
        retitle: (_: unknown, { id, title }: { id: string; title: string }) => {
          titles.set(id, title)
          return { id, title }
        },
      },
    },
  })
  let decisions = 0
  const server = serve(schema, {
    loaders: { writer },
    responses: true,
    enabled: ({ request }) => {
      decisions++
      return request.headers.get('x-cache') !== 'off'
    },
  })
  const off = { headers: { 'x-cache': 'off' } }
  return { ...server, runs, source, titles, off, decisions: () => decisions }
}

describe('useLoadCache({ enabled })', () => {
  it('neither reads nor writes cached fields in a request it disables, and sends it no-store', async () => {
    const { query, runs, off } = blog()
    const bypassed = await query('{ post(id: "1") { title } }', off)
    expect(bypassed.data).toEqual({ post: { title: 'First' } })
    expect(bypassed.cacheControl).toBe('no-store')
    // The bypassed request stored nothing: the next one runs the resolver, and stores it.
    expect((await query('{ post(id: "1") { title } }')).cacheControl).toBe('public, max-age=60')
    expect(runs['Query.post']).toBe(2)
    await query('{ post(id: "1") { id title } }')
    expect(runs['Query.post']).toBe(2)
    // ...and a bypassed request does not read it.
    await query('{ post(id: "1") { id title } }', off)
    expect(runs['Query.post']).toBe(3)
  })

  it('neither serves nor stores whole responses in a request it disables', async () => {
    const { query, cache, runs, off } = blog()
    await query('query Post { post(id: "1") { title } }')
    expect((await query('query Post { post(id: "1") { title } }')).cacheStatus).toBe('loadcache; hit')
    const bypassed = await query('query Post { post(id: "1") { title } }', off)
    expect(bypassed.cacheStatus).toBeNull()
    expect(bypassed.data).toEqual({ post: { title: 'First' } })
    expect(cache.stats().responses.Post).toMatchObject({ hits: 1, misses: 1 })
    expect(runs['Query.post']).toBe(2)
  })

  it("makes the plugin's loaders fetch directly (still one batch per tick) in a request it disables", async () => {
    const { query, source, off } = blog()
    await query('{ a: writer(id: "1") { name } b: writer(id: "2") { name } }')
    await query('{ a: writer(id: "1") { name } b: writer(id: "2") { name } }')
    expect(source.calls).toEqual([['1', '2']])
    const bypassed = await query(
      '{ a: writer(id: "1") { name } b: writer(id: "2") { name } c: writer(id: "9") { name } }',
      off,
    )
    expect(bypassed.data).toEqual({ a: { name: 'user 1' }, b: { name: 'user 2' }, c: null })
    expect(source.calls).toEqual([
      ['1', '2'],
      ['1', '2', '9'],
    ])
  })

  it('still evicts what a mutation in a disabled request changes', async () => {
    const { query, off } = blog()
    await query('{ post(id: "1") { title } }')
    await query('mutation { retitle(id: "1", title: "Edited") { id } }', off)
    expect((await query('{ post(id: "1") { title } }')).data).toEqual({ post: { title: 'Edited' } })
  })

  it('asks once per HTTP request, even with the response tier asking before the context exists', async () => {
    const { query, decisions } = blog()
    await query('{ post(id: "1") { title } }')
    expect(decisions()).toBe(1)
  })
})
