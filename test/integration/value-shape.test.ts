import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'devalue'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache, defineLoader } from '../../src/index.js'
import { uniqueNamespace } from '../helpers/cache.js'
import { startWorker } from '../helpers/processes.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { richValue } from '../helpers/rich-value.js'

let server: RedisServer
beforeAll(async () => {
  server = await startRedisServer()
})
afterAll(() => server.dispose())

describe('one value shape in every tier and process (the default serializer)', () => {
  it('returns a Date, Map, Set, BigInt, RegExp, typed array, undefined, NaN, -0, shared and cyclic references identically from the filler’s L1 and from another process', async () => {
    const namespace = uniqueNamespace()
    const file = join(mkdtempSync(join(tmpdir(), 'loadcache-db-')), 'db.json')
    writeFileSync(file, '{}')
    const worker = await startWorker({ REDIS_PORT: String(server.port), NAMESPACE: namespace, DB_FILE: file })
    const ids = ['1', '2', '3']
    const expected = ids.map(richValue)

    // The worker fetches (and keeps the original objects in its L1), then reads them back from L1.
    const fetched = await worker.call<{ values: string }>({ op: 'loadRich', ids })
    const fromL1 = await worker.call<{ values: string; stats: { l1Hits: number; fetchCalls: number } }>({
      op: 'loadRich',
      ids,
    })
    expect(fromL1.stats).toMatchObject({ l1Hits: 3, fetchCalls: 1 })

    // This process reads what the worker stored in Redis.
    const client = server.client()
    const cache = createCache({ namespace, redis: client })
    expect(await cache.ready()).toBe(true)
    const rich = defineLoader<string, ReturnType<typeof richValue>>({
      name: 'rich',
      fetch: async () => {
        throw new Error('must come from Redis')
      },
    })
    const fromRedis = await cache.loaders({ rich }).rich.loadMany(ids)
    expect(cache.stats().loaders.rich!).toMatchObject({ l2Hits: 3, fetchCalls: 0 })

    for (const values of [parse(fetched.values), parse(fromL1.values), fromRedis]) {
      expect(values).toEqual(expected)
      const first = (values as ReturnType<typeof richValue>[])[0]!
      expect(first.at).toBeInstanceOf(Date)
      expect(first.counts).toBeInstanceOf(Map)
      expect(first.labels).toBeInstanceOf(Set)
      expect(typeof first.big).toBe('bigint')
      expect('missing' in first).toBe(true)
      expect(first.ratio).toBeNaN()
      expect(first.pattern).toBeInstanceOf(RegExp)
      expect([first.pattern.source, first.pattern.flags]).toEqual(['ab+c1', 'gi'])
      expect(first.bytes).toBeInstanceOf(Uint8Array)
      expect([...first.bytes]).toEqual([1, 2, 1])
      expect(Object.is(first.negativeZero, -0)).toBe(true)
      expect(first.pair[0]).toBe(first.pair[1])
      expect(first.self).toBe(first)
    }
    await cache.close()
    client.disconnect()
  })
})
