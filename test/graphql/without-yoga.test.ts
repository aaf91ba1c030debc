import { makeExecutableSchema } from '@graphql-tools/schema'
import { execute, getOperationAST, parse } from 'graphql'
import { describe, expect, it } from 'vitest'
import {
  cacheControlFor,
  createLoadCacheContext,
  finishOperation,
  loadCacheDirectives,
  requestStateOf,
} from '../../src/graphql/index.js'
import { createCache, defineLoader } from '../../src/index.js'

/*
 * The README's "Without yoga" flow, as written there: the transformer applied by hand, a loadcache context
 * per request, graphql-js's execute, finishOperation, and cacheControlFor for the header. Memory-only.
 */

type User = { id: string; name: string }

describe('loadcache without yoga (graphql-js execute)', () => {
  it('caches, evicts on a mutation through finishOperation, and gives the Cache-Control header', async () => {
    const rows = new Map<string, User>([['1', { id: '1', name: 'Ann' }]])
    let runs = 0
    const cache = createCache()
    const user = defineLoader<string, User>({
      name: 'user',
      entity: 'User',
      fetch: (ids) => ids.map((id) => rows.get(id) ?? null),
    })
    const directives = loadCacheDirectives({ cache, cachedDirectiveName: 'cached' })
    const typeDefs = /* GraphQL */ `
      type Query { user(id: ID!): User @cached(ttl: 60) }
      type User { id: ID! name: String! }
      "What a mutation returns without the entity itself: a child resolver loads it."
      type RenamePayload { ok: Boolean! user: User }
      type Mutation { rename(id: ID!, name: String!): RenamePayload }
    `
    const schema = directives.transformer(
      makeExecutableSchema({
        typeDefs: [directives.typeDefs, typeDefs],
        resolvers: {
          Query: {
            user: (
              _: unknown,
              { id }: { id: string },
              ctx: { loaders: { user: { load(id: string): unknown } } },
            ) => {
              runs++
              return ctx.loaders.user.load(id)
            },
          },
          Mutation: {
            rename: (_: unknown, { id, name }: { id: string; name: string }) => {
              rows.set(id, { id, name })
              return { ok: true, userId: id }
            },
          },
          RenamePayload: {
            // Read from the source, not through the cached loader: the entity this execution produces.
            user: (payload: { userId: string }) => rows.get(payload.userId),
          },
        },
      }),
    )
    async function run(query: string, finish = true) {
      const loaders = cache.loaders({ user })
      const contextValue = { ...createLoadCacheContext(cache, { viewer: null, loaders }), loaders }
      const document = parse(query)
      const result = await execute({ schema, document, contextValue })
      if (finish) await finishOperation(contextValue, result)
      const cacheControl = cacheControlFor(requestStateOf(contextValue)?.policy, {
        operation: getOperationAST(document)?.operation,
        hasErrors: (result.errors?.length ?? 0) > 0,
        isIntrospection: false,
        isStream: false,
      })
      return { result, cacheControl }
    }

    const first = await run('{ user(id: "1") { name } }')
    expect(first.result).toEqual({ data: { user: { name: 'Ann' } } })
    expect(first.cacheControl).toBe('public, max-age=60')
    const second = await run('{ user(id: "1") { name } }')
    expect(second.result).toEqual({ data: { user: { name: 'Ann' } } })
    expect(runs).toBe(1)
    // The user is produced by a child resolver, not returned by the mutation: only finishOperation evicts
    // it. Skipped, the cached field stays as it was.
    const rename = (name: string) => `mutation { rename(id: "1", name: "${name}") { ok user { name } } }`
    const skipped = await run(rename('Ada'), false)
    expect(skipped.result).toEqual({ data: { rename: { ok: true, user: { name: 'Ada' } } } })
    expect(skipped.cacheControl).toBe('no-store')
    expect((await run('{ user(id: "1") { name } }')).result).toEqual({ data: { user: { name: 'Ann' } } })
    expect(runs).toBe(1)
    await run(rename('Bea'))
    expect((await run('{ user(id: "1") { name } }')).result).toEqual({ data: { user: { name: 'Bea' } } })
    expect(runs).toBe(2)
    await cache.close()
  })
})
