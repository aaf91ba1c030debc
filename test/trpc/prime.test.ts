import { initTRPC } from '@trpc/server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineLoader, type Loaders } from '../../src/index.js'
import { createLoadCacheTRPC } from '../../src/trpc/index.js'
import { cacheFactory } from '../helpers/cache.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { type Row, TestSource } from '../helpers/source.js'

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedisServer()
})
afterAll(() => redis.dispose())

/** Two instances (caches with their own Redis clients) of one tRPC app over one "database". */
async function app(options: { racingWrite?: boolean } = {}) {
  const source = new TestSource(3)
  const user = defineLoader<string, Row>({ name: 'user', fetch: source.fetch, entity: 'User' })
  const makeCache = cacheFactory('redis', { client: () => redis.client() })
  const instance = async () => {
    const cache = await makeCache()
    const t = initTRPC.context<{ loaders: Loaders<{ user: typeof user }> }>().create()
    const lc = createLoadCacheTRPC(t, { cache, loaders: { user } })
    const router = t.router({
      byId: t.procedure
        .input(z.string())
        .use(lc.cached({ ttl: 60, entity: 'User' }))
        .query(({ ctx, input }) => ctx.loaders.user.load(input)),
      rename: t.procedure
        .input(z.object({ id: z.string(), name: z.string() }))
        .use(lc.invalidates({ prime: user }))
        .mutation(async ({ input }) => {
          const row = source.update(input.id, { name: input.name })
          if (options.racingWrite) {
            // Another instance commits a newer row and evicts it before this mutation's prime.
            source.update(input.id, { name: `${input.name} (newer)` })
            await other.invalidate(user, [input.id])
          }
          return row
        }),
    })
    return { cache, call: () => t.createCallerFactory(router)(lc.createContext()) }
  }
  const a = await instance()
  const b = await instance()
  const other = b.cache
  return { source, user, a, b }
}

describe('tRPC invalidates({ prime })', () => {
  it('stores what the mutation returned: the next calls in both instances cost no fetch', async () => {
    const { source, a, b } = await app()
    await a.call().byId('1')
    await b.call().byId('1')
    const heard = new Promise<void>((resolve) =>
      b.cache.on('evict', (event) => {
        if (event.source === 'remote' && event.tags.includes('User:1')) resolve()
      }),
    )
    const renamed = await a.call().rename({ id: '1', name: 'Ada' })
    await heard
    const calls = source.calls.length
    expect(await b.call().byId('1')).toEqual(renamed)
    expect(await a.call().byId('1')).toEqual(renamed)
    expect(source.calls.length).toBe(calls)
  })

  it('stores nothing over a newer write that another instance invalidated during the mutation (forced)', async () => {
    const { source, a, b } = await app({ racingWrite: true })
    await a.call().byId('1')
    await a.call().rename({ id: '1', name: 'Ada' })
    expect(await b.call().byId('1')).toMatchObject({ name: 'Ada (newer)' })
    expect(await a.call().byId('1')).toMatchObject({ name: 'Ada (newer)' })
    expect(source.rows.get('1')).toMatchObject({ name: 'Ada (newer)' })
  })

  it('refuses a prime loader without an entity, or with another entity than entity says', async () => {
    const { a } = await app()
    const t = initTRPC.create()
    const lc = createLoadCacheTRPC(t, { cache: a.cache })
    const plain = defineLoader({ name: 'plain', fetch: (ids: readonly string[]) => ids })
    const user = defineLoader({ name: 'person', fetch: (ids: readonly string[]) => ids, entity: 'Person' })
    expect(() => lc.invalidates({ prime: plain })).toThrow(
      /invalidates\(\{ prime \}\).*a loader definition with an entity/,
    )
    expect(() => lc.invalidates({ prime: user, entity: 'User' })).toThrow(
      /the entity of the prime loader "person"/,
    )
  })
})
