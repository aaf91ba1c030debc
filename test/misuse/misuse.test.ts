import { initTRPC } from '@trpc/server'
import { execute, parse } from 'graphql'
import { createSchema, createYoga } from 'graphql-yoga'
import { afterEach, describe, expect, it } from 'vitest'
import { loadCacheDirectives, loadCacheDirectiveTypeDefs } from '../../src/graphql/index.js'
import { createCache, defineLoader, type LoadCache, LoadCacheTypeError } from '../../src/index.js'
import { createLoadCacheTRPC } from '../../src/trpc/index.js'
import { useLoadCache } from '../../src/yoga/index.js'

/*
 * Each mistake here used to do nothing at all, which looks exactly like working code: now each is an error
 * when it is made, or one warning naming what is affected.
 */

const caches: LoadCache[] = []
afterEach(async () => {
  for (const cache of caches.splice(0)) await cache.close()
})

/** A memory-only cache whose warnings are collected. */
function cacheWithLog() {
  const warnings: string[] = []
  const cache = createCache({ logger: { warn: (message) => warnings.push(message), error() {} } })
  caches.push(cache)
  return { cache, warnings }
}

const typeDefs = `
  ${loadCacheDirectiveTypeDefs()}
  type User { id: ID! name: String! }
  type Query {
    user(id: ID!): User @cached(ttl: 60)
    me: User @cached(ttl: 60, scope: PRIVATE)
  }
  type Mutation { rename(id: ID!, name: String!): User }
`

function schema() {
  return createSchema<Record<string, unknown>>({
    typeDefs,
    resolvers: {
      Query: { user: (_: unknown, { id }: { id: string }) => ({ id, name: `user ${id}` }), me: () => null },
      Mutation: { rename: (_: unknown, { id, name }: { id: string; name: string }) => ({ id, name }) },
    },
  })
}

async function post(
  yoga: { fetch: (url: string, init: RequestInit) => Promise<Response> | Response },
  query: string,
) {
  const response = await yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  })
  return response.json()
}

describe('a transformed schema executed without the yoga plugin or createLoadCacheContext', () => {
  it('warns once, naming the cached field and what to add, and still answers', async () => {
    const { cache, warnings } = cacheWithLog()
    const transformed = loadCacheDirectives({ cache }).transformer(schema())
    for (let i = 0; i < 3; i++) {
      const result = await execute({
        schema: transformed,
        document: parse('{ user(id: "1") { name } }'),
        contextValue: {},
      })
      expect(result.data).toEqual({ user: { name: 'user 1' } })
    }
    expect(warnings).toEqual([
      "[loadcache] Query.user ran without loadcache's request state in the context, so nothing is cached: add useLoadCache(...) to the yoga plugins, or (other servers) put createLoadCacheContext(cache, { viewer, loaders }) into each request's context (this warning is shown once)",
    ])
  })

  it('warns for a mutation too, which would evict nothing', async () => {
    const { cache, warnings } = cacheWithLog()
    const transformed = loadCacheDirectives({ cache }).transformer(schema())
    await execute({
      schema: transformed,
      document: parse('mutation { rename(id: "1", name: "x") { id } }'),
      contextValue: {},
    })
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('Mutation.rename ran without')
    expect(warnings[0]).toContain('mutations evict nothing')
  })
})

describe('useLoadCache', () => {
  it('warns once, when the schema is transformed, that PRIVATE fields are never cached without a viewer', async () => {
    const { cache, warnings } = cacheWithLog()
    const yoga = createYoga({ schema: schema(), plugins: [useLoadCache({ cache })] })
    await post(yoga, '{ me { id } }')
    await post(yoga, '{ me { id } }')
    expect(warnings).toEqual([
      '[loadcache] Query.me is cached with scope PRIVATE, but useLoadCache has no viewer option, so it is never cached: pass useLoadCache({ viewer: (context) => userIdOf(context.request) }) (this warning is shown once)',
    ])
  })

  it('does not warn about PRIVATE fields when it has a viewer', async () => {
    const { cache, warnings } = cacheWithLog()
    const yoga = createYoga({ schema: schema(), plugins: [useLoadCache({ cache, viewer: () => 'u1' })] })
    await post(yoga, '{ me { id } }')
    expect(warnings).toEqual([])
  })

  it("warns once when its loaders option replaces the context factory's loaders", async () => {
    const { cache, warnings } = cacheWithLog()
    const user = defineLoader({ name: 'user', fetch: (ids: readonly string[]) => ids.map(() => null) })
    const yoga = createYoga({
      schema: schema(),
      // The app's own loaders, which the plugin's replace.
      context: () => ({ loaders: { mine: true } }) as Record<string, unknown>,
      plugins: [useLoadCache({ cache, loaders: { user }, viewer: () => null })],
    })
    await post(yoga, '{ user(id: "1") { id } }')
    await post(yoga, '{ user(id: "2") { id } }')
    expect(warnings).toEqual([
      `[loadcache] useLoadCache({ loaders }) replaces the context's own "loaders" (set by your context factory or server context): pass every loader to useLoadCache, or drop its loaders option and build them in your context with cache.loaders() (this warning is shown once)`,
    ])
  })

  it('refuses an unknown option (a JavaScript typo)', () => {
    const { cache } = cacheWithLog()
    expect(() => useLoadCache({ cache, viewr: () => 'u1' } as never)).toThrow(LoadCacheTypeError)
    expect(() => useLoadCache({ cache, viewr: () => 'u1' } as never)).toThrow(
      '[loadcache] useLoadCache: unknown option "viewr"; known options are cache, loaders, viewer, directives, policies, enabled, cacheControl, debug, responses',
    )
  })
})

describe('loader names', () => {
  const rows = (ids: readonly string[]) => ids.map((id) => ({ id }))

  it('refuses a second loader with the same name and a different fetch when it is first used', async () => {
    const { cache } = cacheWithLog()
    const user = defineLoader({ name: 'user', fetch: rows })
    const other = defineLoader({ name: 'user', fetch: (ids: readonly string[]) => ids.map(() => 'other') })
    await cache.loaders({ user }).user.load('1')
    expect(() => cache.loaders({ other })).toThrow(
      expect.objectContaining({
        code: 'E_INVALID_OPTION',
        message:
          '[loadcache] two loaders are named "user" with different fetch functions: they would share cache entries and return each other\'s values. Give each loader a name of its own, or define it once (at module level) and use that definition everywhere',
      }),
    )
  })

  it('accepts the same definition in every request, and a second definition with the same fetch', async () => {
    const { cache } = cacheWithLog()
    const user = defineLoader({ name: 'user', fetch: rows })
    const again = defineLoader({ name: 'user', fetch: rows, ttl: 30 })
    await cache.loaders({ user }).user.load('1')
    await cache.loaders({ user }).user.load('1')
    expect(await cache.loaders({ again }).again.load('1')).toEqual({ id: '1' })
  })

  it('refuses a loader named like a cached GraphQL field, naming both', async () => {
    const { cache } = cacheWithLog()
    const impostor = defineLoader({ name: 'Query.user', fetch: rows })
    loadCacheDirectives({ cache }).transformer(schema())
    expect(() => cache.loaders({ impostor })).toThrow(
      '[loadcache] the loader "Query.user" has the name of the cached GraphQL field Query.user in this cache: they would share cache entries and return each other\'s values; rename the loader',
    )
  })

  it('refuses at startup a yoga plugin whose loader is named like a cached field of its schema', () => {
    const { cache } = cacheWithLog()
    const impostor = defineLoader({ name: 'Query.user', fetch: rows })
    expect(() =>
      createYoga({ schema: schema(), plugins: [useLoadCache({ cache, loaders: { impostor } })] }),
    ).toThrow(
      'the cached GraphQL field Query.user has the name of the loader "Query.user" in this cache: they would share cache entries and return each other\'s values; rename the loader',
    )
  })

  it('refuses a loader named like a cached tRPC procedure, naming both, on the first call', async () => {
    const { cache } = cacheWithLog()
    const impostor = defineLoader({ name: 'trpc.user', fetch: rows })
    const t = initTRPC.context<object>().create()
    const lc = createLoadCacheTRPC(t, { cache, loaders: { impostor } })
    const router = t.router({ user: t.procedure.use(lc.cached({ ttl: 60 })).query(() => 'a user') })
    const caller = t.createCallerFactory(router)(lc.createContext())
    await expect(caller.user()).rejects.toThrow(
      'the cached tRPC procedure "user" (entries named "trpc.user") has the name of the loader "trpc.user" in this cache: they would share cache entries and return each other\'s values; rename the loader',
    )
  })

  it('refuses invalidate() by a name the cache does not know, saying what to do', async () => {
    const { cache } = cacheWithLog()
    const user = defineLoader({ name: 'user', fetch: rows })
    await expect(cache.invalidate('usr', ['1'])).rejects.toThrow(
      expect.objectContaining({
        code: 'E_INVALID_ARGUMENT',
        message:
          '[loadcache] invalidate(loader, ids): this cache knows no loader named "usr": pass the loader definition itself (cache.invalidate(user, ids)), or register it first with cache.loaders({ user })',
      }),
    )
    await cache.invalidate(user, ['1'])
    await cache.invalidate('user', ['1'])
  })
})

describe('unknown options (JavaScript callers, whom TypeScript does not check)', () => {
  it.each([
    ['createCache', () => createCache({ tll: 60 } as never), 'createCache: unknown option "tll"'],
    [
      'createCache({ memory })',
      () => createCache({ memory: { maxEntries: 5 } } as never),
      'createCache({ memory }): unknown option "maxEntries"; known options are max, maxBytes',
    ],
    [
      'defineLoader',
      () => defineLoader({ name: 'user', fetch: () => [], tll: 60 } as never),
      'defineLoader({ name: "user" }): unknown option "tll"',
    ],
    [
      'createLoadCacheTRPC',
      () => createLoadCacheTRPC(initTRPC.create(), { cache: createCache(), loader: {} } as never),
      'createLoadCacheTRPC: unknown option "loader"; known options are cache, loaders',
    ],
    [
      'cached()',
      () =>
        createLoadCacheTRPC(initTRPC.create(), { cache: createCache() }).cached({ ttl: 5, tag: [] } as never),
      'cached: unknown option "tag"',
    ],
  ])('%s refuses one, naming it', (_name, call, message) => {
    expect(call).toThrow(LoadCacheTypeError)
    expect(call).toThrow(`[loadcache] ${message}`)
  })
})
