import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '../../src/index.js'
import { uniqueNamespace } from '../helpers/cache.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'

let server: RedisServer
beforeAll(async () => {
  server = await startRedisServer()
})
afterAll(() => server.dispose())

describe('cache.ready()', () => {
  it('is true at once without Redis', async () => {
    const cache = createCache()
    expect(await cache.ready(0)).toBe(true)
    await cache.close()
  })

  it('is true once the bus is subscribed, after which L1 serves', async () => {
    const client = server.client()
    const cache = createCache({ namespace: uniqueNamespace(), redis: client })
    expect(await cache.ready()).toBe(true)
    expect(cache.stats().redis.busConnected).toBe(true)
    await cache.close()
    client.disconnect()
  })

  it('is false after the timeout when Redis does not answer, instead of waiting forever', async () => {
    const dead = await startRedisServer()
    const client = dead.client()
    await dead.dispose()
    const cache = createCache({ namespace: uniqueNamespace(), redis: client })
    expect(await cache.ready(200)).toBe(false)
    await cache.close()
    client.disconnect()
  })

  it('refuses a timeout that is not a number of milliseconds', () => {
    const cache = createCache()
    expect(() => cache.ready(-1)).toThrow(/ready\(timeoutMs\).*≥ 0/)
  })
})
