import { describe, expect, it, vi } from 'vitest'
import { engineOf } from '../../src/cache/create-cache.js'
import { defineLoader, type LoadCache } from '../../src/index.js'
import { cacheFactory, eventually, type Mode, type RedisTarget, waitFor } from '../helpers/cache.js'
import { type Row, TestSource } from '../helpers/source.js'

/**
 * The behaviour every cache must show, memory-only or two-tier. Each "request" gets fresh loaders, as a
 * server would create them; counts of source calls are the evidence.
 */
export function describeLoaderBehaviour(mode: Mode, server: () => RedisTarget | undefined): void {
  function setup(options: { ttl?: number; grace?: number; tags?: boolean; entity?: string } = {}) {
    const source = new TestSource(200)
    const user = defineLoader({
      name: 'user',
      fetch: source.fetch,
      ttl: options.ttl,
      grace: options.grace,
      tags: options.tags ? (_id, row: Row) => [`org:${row.orgId}`] : undefined,
      entity: options.entity,
    })
    const makeCache = cacheFactory(mode, server())
    const request = (cache: LoadCache) => cache.loaders({ user })
    return { source, user, makeCache, request }
  }

  /** A loader whose tags() throws: its values are returned, not cached, with one warning. */
  function brokenTags(source: TestSource) {
    return defineLoader({
      name: 'broken',
      fetch: source.fetch,
      tags: () => {
        throw new Error('bad tags')
      },
    })
  }

  describe(`loading (${mode})`, () => {
    it('batches every load of one tick into one fetch of the distinct ids', async () => {
      const { source, makeCache, request } = setup()
      const cache = await makeCache()
      const loaders = request(cache)
      const rows = await Promise.all(['3', '1', '2', '1', '3'].map((id) => loaders.user.load(id)))
      expect(rows.map((row) => row?.id)).toEqual(['3', '1', '2', '1', '3'])
      expect(source.calls).toEqual([['3', '1', '2']])
    })

    it('serves a repeated request from the cache with zero fetches', async () => {
      const { source, makeCache, request } = setup()
      const cache = await makeCache()
      await request(cache).user.loadMany(['1', '2', '3'])
      const again = await request(cache).user.loadMany(['1', '2', '3'])
      expect(again).toEqual([source.rows.get('1'), source.rows.get('2'), source.rows.get('3')])
      expect(source.calls).toHaveLength(1)
      expect(cache.stats().loaders.user).toMatchObject({ fetchCalls: 1, idsFetched: 3, l1Hits: 3 })
    })

    it('answers the ids fresh in L1 without a batch, and sends only the others to one batch', async () => {
      const { source, makeCache, request } = setup()
      const cache = await makeCache()
      await request(cache).user.loadMany(['1', '2'])
      const batches = vi.spyOn(engineOf(cache), 'loadBatch')
      const loaders = request(cache)
      const rows = await Promise.all(['1', '3', '2', '1'].map((id) => loaders.user.load(id)))
      expect(rows.map((row) => row?.id)).toEqual(['1', '3', '2', '1'])
      expect(batches.mock.calls.map((call) => call[1])).toEqual([['3']])
      expect(source.calls).toEqual([['1', '2'], ['3']])
      expect(cache.stats().loaders.user).toMatchObject({ l1Hits: 2, idsFetched: 3 })
    })

    it('keeps DataLoader’s contract for ids answered from L1: memoized per request, clear() and prime()', async () => {
      const { source, user, makeCache, request } = setup()
      const cache = await makeCache()
      await request(cache).user.loadMany(['1', '2'])
      const loaders = request(cache)
      const first = await loaders.user.load('1')
      expect(first).toEqual(source.rows.get('1'))
      const renamed = source.update('1', { name: 'renamed' })
      await cache.invalidate(user, ['1'])
      // The request keeps what it saw (DataLoader memoizes per request); clear() lets it load again.
      expect(await loaders.user.load('1')).toBe(first)
      loaders.user.clear('1')
      expect(await loaders.user.load('1')).toEqual(renamed)
      // prime() leaves a memoized id alone, and wins over L1 for an id not loaded yet, in this request only.
      const primed = { ...renamed, name: 'primed' }
      loaders.user.prime('1', primed).prime('2', primed)
      expect(await loaders.user.load('1')).toEqual(renamed)
      expect(await loaders.user.load('2')).toBe(primed)
      expect(await request(cache).user.load('2')).toEqual(source.rows.get('2'))
      expect(source.calls).toEqual([['1', '2'], ['1']])
    })

    it('joins concurrent requests for the same ids into one fetch (process-wide in-flight map)', async () => {
      const { source, makeCache, request } = setup()
      const cache = await makeCache()
      const results = await Promise.all(
        Array.from({ length: 20 }, () => request(cache).user.loadMany(['5', '6', '7'])),
      )
      expect(results.every((rows) => rows.map((row) => (row as Row).id).join() === '5,6,7')).toBe(true)
      expect(source.calls).toEqual([['5', '6', '7']])
    })

    it('names one entity by 1 and "1" alike', async () => {
      const { source, makeCache } = setup()
      const cache = await makeCache()
      const byNumber = defineLoader({ name: 'user', fetch: source.fetch })
      await cache.loaders({ byNumber }).byNumber.load(4)
      const row = await cache.loaders({ byNumber }).byNumber.load('4')
      expect(row).toEqual(source.rows.get('4'))
      expect(source.calls).toEqual([['4']])
    })

    it('caches ids the source does not return as absent (null) and does not fetch them again', async () => {
      const { source, makeCache, request } = setup()
      const cache = await makeCache()
      expect(await request(cache).user.loadMany(['1', 'nope'])).toEqual([source.rows.get('1'), null])
      expect(await request(cache).user.load('nope')).toBeNull()
      expect(source.calls).toEqual([['1', 'nope']])
    })

    it('fails only the id whose slot is an Error, and never caches the error', async () => {
      const { source, makeCache, request } = setup()
      const cache = await makeCache()
      source.failingIds.add('2')
      const results = await request(cache).user.loadMany(['1', '2', '3'])
      expect(results[0]).toEqual(source.rows.get('1'))
      expect(results[1]).toBeInstanceOf(Error)
      expect((results[1] as Error).message).toBe('row 2 failed')
      expect(results[2]).toEqual(source.rows.get('3'))
      source.failingIds.clear()
      expect(await request(cache).user.loadMany(['1', '2', '3'])).toEqual([
        source.rows.get('1'),
        source.rows.get('2'),
        source.rows.get('3'),
      ])
      expect(source.calls).toEqual([['1', '2', '3'], ['2']])
      expect(cache.stats().loaders.user?.fetchErrors).toBe(1)
    })

    it('fails every id of a batch whose fetch throws, and caches nothing', async () => {
      const { source, makeCache, request } = setup()
      const cache = await makeCache()
      source.failure = new Error('database down')
      await expect(request(cache).user.load('1')).rejects.toThrow('database down')
      source.failure = undefined
      expect(await request(cache).user.load('1')).toEqual(source.rows.get('1'))
      expect(source.calls).toEqual([['1'], ['1']])
    })

    it('accepts a Map from fetch, and rejects an array of the wrong length with a clear error', async () => {
      const { makeCache } = setup()
      const cache = await makeCache()
      const asMap = defineLoader({
        name: 'asMap',
        fetch: (ids: readonly string[]) =>
          new Map(ids.filter((id) => id !== '2').map((id) => [Number(id), { id }])),
      })
      expect(await cache.loaders({ asMap }).asMap.loadMany(['1', '2'])).toEqual([{ id: '1' }, null])
      const short = defineLoader({ name: 'short', fetch: () => [{ id: 'only one' }] })
      const results = await cache.loaders({ short }).short.loadMany(['1', '2'])
      expect(results[0]).toBeInstanceOf(TypeError)
      expect(results[0]).toMatchObject({ code: 'E_INVALID_FETCH_RESULT' })
      expect((results[0] as Error).message).toBe(
        '[loadcache] loader "short": fetch must return an array with one value per id (2), or a Map; got an array of 1',
      )
    })

    it('rejects an invalid id with a TypeError naming it, without failing the rest of the batch', async () => {
      const { source, makeCache, request } = setup()
      const cache = await makeCache()
      const loaders = request(cache) as unknown as { user: { loadMany(ids: unknown[]): Promise<unknown[]> } }
      const results = await loaders.user.loadMany([{ id: 1 }, '1', Number.NaN])
      expect(results[0]).toBeInstanceOf(TypeError)
      expect(results[0]).toMatchObject({ code: 'E_INVALID_ID' })
      expect((results[0] as Error).message).toBe(
        '[loadcache] loader "user" got the id an object with id; ids must be strings or finite numbers',
      )
      expect(results[1]).toEqual(source.rows.get('1'))
      expect((results[2] as Error).message).toContain('got the id NaN')
      expect(source.calls).toEqual([['1']])
    })

    it('keeps ids apart that a naive key scheme would confuse (forged keys)', async () => {
      const { source, makeCache, request } = setup()
      const cache = await makeCache()
      const tricky = [
        'a',
        'a:l',
        'a}:l',
        '{a}',
        'a}',
        'a b',
        'a\nb',
        'a%0020b',
        '',
        'é',
        '😀',
        '\ud800',
        'x'.repeat(10_000),
        `${'x'.repeat(9_999)}y`,
      ]
      for (const [i, id] of tricky.entries()) source.put({ id, name: `tricky ${i}`, orgId: 0, version: 1 })
      const first = await request(cache).user.loadMany(tricky)
      expect(first.map((row) => (row as Row).name)).toEqual(tricky.map((_, i) => `tricky ${i}`))
      const second = await request(cache).user.loadMany(tricky)
      expect(second).toEqual(first)
      await cache.invalidate('user', ['a'])
      await request(cache).user.loadMany(tricky)
      expect(source.calls).toEqual([tricky, ['a']])
    })

    it('returns a large value (compressed in Redis) identical from another instance, evicted by its tags', async () => {
      const { source, makeCache, request } = setup({ tags: true })
      const big = { id: 'big', name: 'notes on caching '.repeat(1000), orgId: 1, version: 1 }
      source.put(big)
      const cache = await makeCache()
      expect(await request(cache).user.load('big')).toEqual(big)
      const other = await makeCache()
      expect(await request(other).user.load('big')).toEqual(big)
      expect(source.calls).toHaveLength(mode === 'memory' ? 2 : 1)
      await cache.invalidateTags(['org:1'])
      const third = await makeCache()
      expect(await request(third).user.load('big')).toEqual(big)
      expect(source.calls).toHaveLength(mode === 'memory' ? 3 : 2)
    })
  })

  describe(`invalidation (${mode})`, () => {
    it('invalidate(loader, ids) makes the next load return fresh data, and leaves other ids cached', async () => {
      const { source, user, makeCache, request } = setup()
      const cache = await makeCache()
      await request(cache).user.loadMany(['1', '2'])
      source.update('1', { name: 'renamed' })
      await cache.invalidate(user, ['1'])
      const [one, two] = await request(cache).user.loadMany(['1', '2'])
      expect(one?.name).toBe('renamed')
      expect(two).toEqual(source.rows.get('2'))
      expect(source.calls).toEqual([['1', '2'], ['1']])
    })

    it('invalidateTags evicts exactly the entries carrying the tag', async () => {
      const { source, makeCache, request } = setup({ tags: true })
      const cache = await makeCache()
      await request(cache).user.loadMany(['1', '2', '3', '4'])
      // orgId = id % 3: 1 and 4 are in org 1.
      source.update('1', { name: 'one v2' })
      source.update('4', { name: 'four v2' })
      await cache.invalidateTags(['org:1'])
      const rows = await request(cache).user.loadMany(['1', '2', '3', '4'])
      expect(rows.map((row) => (row as Row).name)).toEqual(['one v2', 'user 2', 'user 3', 'four v2'])
      expect(source.calls).toEqual([
        ['1', '2', '3', '4'],
        ['1', '4'],
      ])
    })

    // On a Cluster an entity tag's version is read while the fetch runs, before the invalidation moves it:
    // Redis would take that write, so the process that heard the invalidation must not send it.
    for (const [what, options, invalidate] of [
      [
        'key',
        {},
        (cache: LoadCache, user: Parameters<LoadCache['invalidate']>[0]) => cache.invalidate(user, ['1']),
      ],
      ['tag', { tags: true }, (cache: LoadCache) => cache.invalidateTags(['org:1'])],
      ['entity tag', { entity: 'User' }, (cache: LoadCache) => cache.invalidateTags(['User:1'])],
    ] as const) {
      it(`never keeps a value whose ${what} was invalidated while it was being fetched`, async () => {
        const { source, user, makeCache, request } = setup(options)
        const cache = await makeCache()
        const hold = source.holdNextFetch()
        const inFlight = request(cache).user.load('1')
        await hold.started
        source.update('1', { name: 'new' })
        await invalidate(cache, user)
        hold.release()
        // The load that started before the invalidation may see the old row...
        expect((await inFlight)?.name).toBe('user 1')
        // ...but it was not stored: the next load fetches and sees the new one.
        expect((await request(cache).user.load('1'))?.name).toBe('new')
        expect(source.calls).toEqual([['1'], ['1']])
        if (mode === 'redis') {
          const other = await makeCache()
          expect((await request(other).user.load('1'))?.name).toBe('new')
          expect(cache.stats().loaders.user?.staleWritesRefused).toBe(1)
        }
      })
    }

    it('keeps out of L1 a fill whose key is invalidated after an unrelated tag invalidation', async () => {
      const { source, user, makeCache, request } = setup()
      const cache = await makeCache()
      const hold = source.holdNextFetch()
      const inFlight = request(cache).user.load('1')
      await hold.started
      // A tag invalidation empties the in-flight map; the key invalidation must still reach this fill.
      await cache.invalidateTags(['unrelated'])
      source.update('1', { name: 'new' })
      await cache.invalidate(user, ['1'])
      hold.release()
      await inFlight
      expect((await request(cache).user.load('1'))?.name).toBe('new')
    })

    it('tags every entry of a loader with an entity, so creating an entity evicts its cached "not found"', async () => {
      const { source, makeCache } = setup()
      const cache = await makeCache()
      const member = defineLoader({ name: 'member', fetch: source.fetch, entity: 'User' })
      expect(await cache.loaders({ member }).member.load('900')).toBeNull()
      source.put({ id: '900', name: 'newcomer', orgId: 0, version: 1 })
      expect(await cache.loaders({ member }).member.load('900')).toBeNull()
      await cache.invalidateTags(['User:900'])
      expect((await cache.loaders({ member }).member.load('900'))?.name).toBe('newcomer')
    })

    it('starts a new fill instead of joining one stuck for longer than the lock TTL', async () => {
      const { source, makeCache, request } = setup()
      const cache = await makeCache({ lockTtlMs: 200 })
      source.holdNextFetch() // never released: a fetch that hangs
      const stuck = request(cache).user.load('1')
      await new Promise((resolve) => setTimeout(resolve, 250))
      expect(await request(cache).user.load('1')).toEqual(source.rows.get('1'))
      void stuck
    })

    it('does not let a throwing listener fail or hang loads', async () => {
      const { source, makeCache, request } = setup()
      const cache = await makeCache()
      cache.on('fetchError', () => {
        throw new Error('listener bug')
      })
      source.failingIds.add('2')
      const results = await request(cache).user.loadMany(['1', '2'])
      expect(results[0]).toEqual(source.rows.get('1'))
      expect((results[1] as Error).message).toBe('row 2 failed')
      source.failingIds.clear()
      expect(await request(cache).user.load('2')).toEqual(source.rows.get('2'))
    })

    it('does not let a request that starts after an invalidation join a fill that started before it', async () => {
      const { source, user, makeCache, request } = setup()
      const cache = await makeCache()
      const hold = source.holdNextFetch()
      const before = request(cache).user.load('1')
      await hold.started
      source.update('1', { name: 'new' })
      await cache.invalidate(user, ['1'])
      const after = request(cache).user.load('1')
      hold.release()
      expect((await before)?.name).toBe('user 1')
      expect((await after)?.name).toBe('new')
    })
  })

  describe(`expiry, grace and fail-safe (${mode})`, () => {
    it('refetches after the TTL', async () => {
      const { source, makeCache, request } = setup({ ttl: 0.05 })
      const cache = await makeCache({ jitter: 0 })
      await request(cache).user.load('1')
      await new Promise((resolve) => setTimeout(resolve, 80))
      await request(cache).user.load('1')
      expect(source.calls).toEqual([['1'], ['1']])
    })

    it('serves a stale value within grace while one background refresh runs', async () => {
      const { source, makeCache, request } = setup({ ttl: 0.05, grace: 30 })
      const cache = await makeCache({ jitter: 0 })
      await request(cache).user.load('1')
      source.update('1', { name: 'new' })
      await new Promise((resolve) => setTimeout(resolve, 80))
      const hold = source.holdNextFetch()
      const stale = await Promise.all([request(cache).user.load('1'), request(cache).user.load('1')])
      expect(stale.map((row) => row?.name)).toEqual(['user 1', 'user 1'])
      await hold.started
      hold.release()
      await waitFor(() => cache.stats().loaders.user?.fetchCalls === 2, 'refresh')
      await eventually(async () => expect((await request(cache).user.load('1'))?.name).toBe('new'))
      expect(source.calls).toEqual([['1'], ['1']])
      expect(cache.stats().loaders.user?.refreshes).toBe(1)
    })

    it('serves the stale value when the refresh fails, and reports the error (fail-safe)', async () => {
      const { source, makeCache, request } = setup({ ttl: 0.05, grace: 30 })
      const cache = await makeCache({ jitter: 0 })
      const errors: string[] = []
      cache.on('fetchError', (_loader, error) => errors.push(error.message))
      await request(cache).user.load('1')
      await new Promise((resolve) => setTimeout(resolve, 80))
      source.failure = new Error('database down')
      expect((await request(cache).user.load('1'))?.name).toBe('user 1')
      await waitFor(() => errors.length > 0, 'the refresh to fail')
      expect(errors).toEqual(['database down'])
      expect((await request(cache).user.load('1'))?.name).toBe('user 1')
    })

    it('refreshes a hot entry early in the background (XFetch) while serving the cached value', async () => {
      const { source, makeCache, request } = setup({ ttl: 60 })
      // A huge beta makes the early-refresh draw fire on the first hit, deterministically.
      const cache = await makeCache({ earlyRefresh: 1e9 })
      await request(cache).user.load('1')
      source.update('1', { name: 'refreshed' })
      expect((await request(cache).user.load('1'))?.name).toBe('user 1')
      await waitFor(() => source.calls.length === 2, 'the early refresh')
      expect(source.calls).toEqual([['1'], ['1']])
      expect(cache.stats().loaders.user?.refreshes).toBeGreaterThanOrEqual(1)
      await eventually(async () => expect((await request(cache).user.load('1'))?.name).toBe('refreshed'))
    })

    it('does not refresh early without earlyRefresh', async () => {
      const { source, makeCache, request } = setup({ ttl: 60 })
      const cache = await makeCache()
      await request(cache).user.load('1')
      await request(cache).user.load('1')
      await new Promise((resolve) => setTimeout(resolve, 30))
      expect(source.calls).toEqual([['1']])
    })

    it('fails the ids of a fetch that outlives fetchTimeoutMs, without caching anything', async () => {
      const { source, makeCache, request } = setup()
      const cache = await makeCache({ fetchTimeoutMs: 50 })
      const hold = source.holdNextFetch()
      const error = await request(cache)
        .user.load('1')
        .catch((caught: unknown) => caught)
      expect((error as { code?: string }).code).toBe('E_FETCH_TIMEOUT')
      expect((error as Error).message).toBe(
        '[loadcache] loader "user": fetch of 1 id(s) took longer than 50 ms',
      )
      hold.release()
      expect(await request(cache).user.load('1')).toEqual(source.rows.get('1'))
      expect(source.calls).toEqual([['1'], ['1']])
    })

    it('serves the stale value when a refresh outlives fetchTimeoutMs (fail-safe)', async () => {
      const { source, makeCache, request } = setup({ ttl: 0.05, grace: 30 })
      const cache = await makeCache({ jitter: 0, fetchTimeoutMs: 50 })
      const errors: string[] = []
      cache.on('fetchError', (_loader, error) => errors.push((error as { code?: string }).code ?? ''))
      await request(cache).user.load('1')
      await new Promise((resolve) => setTimeout(resolve, 80))
      source.holdNextFetch()
      expect((await request(cache).user.load('1'))?.name).toBe('user 1')
      await waitFor(() => errors.length > 0, 'the refresh to time out')
      expect(errors).toEqual(['E_FETCH_TIMEOUT'])
      expect((await request(cache).user.load('1'))?.name).toBe('user 1')
    })

    it('caches absent ids for negativeTtl, not at all with 0, and never serves them stale within grace', async () => {
      const { source, makeCache } = setup()
      const cache = await makeCache({ jitter: 0 })
      const short = defineLoader({ name: 'short', fetch: source.fetch, negativeTtl: 0.5, grace: 30 })
      const never = defineLoader({ name: 'never', fetch: source.fetch, negativeTtl: 0 })
      expect(await cache.loaders({ short }).short.load('late')).toBeNull()
      expect(await cache.loaders({ short }).short.load('late')).toBeNull()
      expect(source.calls).toEqual([['late']])
      // Created after the lookup; once the absent entry is past negativeTtl, the next load fetches it at once
      // (grace would have served the stale null and refreshed in the background).
      source.put({ id: 'late', name: 'late', orgId: 0, version: 1 })
      await new Promise((resolve) => setTimeout(resolve, 600))
      expect(await cache.loaders({ short }).short.load('late')).toMatchObject({ id: 'late' })
      expect(source.calls).toEqual([['late'], ['late']])
      expect(await cache.loaders({ never }).never.load('nope')).toBeNull()
      expect(await cache.loaders({ never }).never.load('nope')).toBeNull()
      expect(source.calls).toEqual([['late'], ['late'], ['nope'], ['nope']])
    })

    it('splits a batch into fetches of at most maxBatchSize ids', async () => {
      const { source, makeCache } = setup()
      const cache = await makeCache()
      const small = defineLoader({ name: 'small', fetch: source.fetch, maxBatchSize: 2 })
      const rows = await cache.loaders({ small }).small.loadMany(['1', '2', '3', '4', '5'])
      expect(rows.map((row) => (row as Row).id)).toEqual(['1', '2', '3', '4', '5'])
      // Batches run concurrently (on a Cluster their fetches may start in any order).
      expect(source.calls.map((ids) => ids.join(',')).sort()).toEqual(['1,2', '3,4', '5'])
    })

    it('keeps nothing in process memory with memory: false', async () => {
      const { source, makeCache, request } = setup()
      const cache = await makeCache({ memory: false })
      await request(cache).user.loadMany(['1', '2'])
      await request(cache).user.loadMany(['1', '2'])
      expect(cache.stats().memory.entries).toBe(0)
      expect(cache.stats().loaders.user).toMatchObject({ l1Hits: 0 })
      if (mode === 'redis') {
        // Redis still serves the second request.
        expect(source.calls).toEqual([['1', '2']])
        expect(cache.stats().loaders.user).toMatchObject({ l2Hits: 2 })
      } else {
        expect(source.calls).toEqual([
          ['1', '2'],
          ['1', '2'],
        ])
      }
    })

    it('refuses loaders() once closed, and leaves the Redis client it was given open', async () => {
      const { makeCache, request } = setup()
      const client = mode === 'redis' ? server()!.client() : undefined
      const cache = await makeCache(client ? { redis: client } : {})
      await request(cache).user.load('1')
      await cache.close()
      expect(() => request(cache)).toThrow(expect.objectContaining({ code: 'E_CACHE_CLOSED' }))
      if (client) expect(await client.ping()).toBe('PONG')
    })

    it('cannot fail a load with a throwing logger', async () => {
      const { source, makeCache } = setup()
      const thrown: string[] = []
      const cache = await makeCache({
        logger: {
          warn: (message) => {
            thrown.push(message)
            throw new Error('logger down')
          },
          error: (message) => {
            thrown.push(message)
            throw new Error('logger down')
          },
        },
      })
      // A tags() that throws makes the value uncached and logs a warning: the warning throws, the load does not.
      const broken = brokenTags(source)
      expect(await cache.loaders({ broken }).broken.load('1')).toEqual(source.rows.get('1'))
      expect(thrown.filter((message) => message.includes('loader "broken"'))).toHaveLength(1)
    })

    it('returns a value whose tags() throws, without caching it', async () => {
      const { source, makeCache } = setup()
      const cache = await makeCache()
      const broken = brokenTags(source)
      expect(await cache.loaders({ broken }).broken.load('1')).toEqual(source.rows.get('1'))
      expect(await cache.loaders({ broken }).broken.load('1')).toEqual(source.rows.get('1'))
      expect(source.calls).toEqual([['1'], ['1']])
    })
  })
}
