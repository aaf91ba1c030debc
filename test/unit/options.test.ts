import { describe, expect, it } from 'vitest'
import { type CreateCacheOptions, createCache, defineLoader, LoadCacheTypeError } from '../../src/index.js'

describe('createCache options', () => {
  it.each([
    [
      { namespace: 'a b' },
      'option "namespace" must be a non-empty string of letters, digits and _ . : - (at most 100), got "a b"',
    ],
    [
      { namespace: '{x}' },
      'option "namespace" must be a non-empty string of letters, digits and _ . : - (at most 100), got "{x}"',
    ],
    [{ ttl: 0 }, 'option "ttl" must be a positive number, got 0'],
    [{ ttl: '60' }, 'option "ttl" must be a positive number, got "60"'],
    [{ negativeTtl: -1 }, 'option "negativeTtl" must be a number >= 0, got -1'],
    [{ jitter: 2 }, 'option "jitter" must be a number from 0 to 1, got 2'],
    [{ memory: { max: 1.5 } }, 'option "memory.max" must be a positive integer, got 1.5'],
    [{ memory: 'big' }, 'option "memory" must be an object, got "big"'],
    [{ lockTtlMs: 0 }, 'option "lockTtlMs" must be a positive integer, got 0'],
    [
      { breaker: { failureThreshold: 0 } },
      'option "breaker.failureThreshold" must be a positive integer, got 0',
    ],
    [
      { redis: {} },
      'option "redis" must be an ioredis client (new Redis(...) or new Cluster(...)), got an empty object',
    ],
    [
      { logger: {} },
      'option "logger" must be an object with warn() and error() methods (console works), got an empty object',
    ],
    [{ compression: true }, 'option "compression" must be { threshold: bytes } or false, got true'],
    [{ compression: 1024 }, 'option "compression" must be { threshold: bytes } or false, got 1024'],
    [{ compression: { threshold: 0 } }, 'option "compression.threshold" must be a positive integer, got 0'],
    [
      { compression: { threshold: '1KiB' } },
      'option "compression.threshold" must be a positive integer, got "1KiB"',
    ],
    [
      { compression: { level: 9 } },
      'createCache({ compression }): unknown option "level"; known options are threshold',
    ],
    [
      { ttl: 100, maxTtl: 50 },
      'option "ttl" must be at most maxTtl (50 s) together with grace; raise the cache\'s "maxTtl" option, got 100',
    ],
  ])('rejects %j with a TypeError naming the option and value', (options, message) => {
    expect(() => createCache(options as never)).toThrow(LoadCacheTypeError)
    expect(() => createCache(options as never)).toThrow(`[loadcache] ${message}`)
  })

  it.each<[CreateCacheOptions['compression']]>([[false], [{}], [{ threshold: 1 }], [{ threshold: 65_536 }]])(
    'accepts compression %j',
    async (compression) => {
      const cache = createCache({ compression })
      await cache.close()
    },
  )

  it('accepts no options at all (memory-only, defaults)', async () => {
    const cache = createCache()
    expect(cache.stats().redis.enabled).toBe(false)
    await cache.close()
  })
})

describe('defineLoader options', () => {
  const fetch = (ids: readonly string[]) => ids.map((id) => ({ id }))
  it.each([
    [
      { name: 'has space', fetch },
      'option "name" must be a string of letters, digits and _ . - starting with a letter or _ (at most 100), got "has space"',
    ],
    [
      { name: 'user:1', fetch },
      'option "name" must be a string of letters, digits and _ . - starting with a letter or _ (at most 100), got "user:1"',
    ],
    [{ name: 'user' }, 'loader "user": option "fetch" must be a function (ids) => values, got undefined'],
    [{ name: 'user', fetch, ttl: -5 }, 'loader "user": option "ttl" must be a positive number, got -5'],
    [
      { name: 'user', fetch, tags: ['a'] },
      'loader "user": option "tags" must be a function (id, value) => string[], got array(1)',
    ],
    [
      { name: 'user', fetch, maxBatchSize: -1 },
      'loader "user": option "maxBatchSize" must be an integer >= 0, got -1',
    ],
  ])('rejects %j with a TypeError naming the option and value', (options, message) => {
    expect(() => defineLoader(options as never)).toThrow(`[loadcache] ${message}`)
  })

  it.each([
    ['maxBatchSize', 0, 2.5],
    ['fetchTimeoutMs', 0, 1.5],
    ['negativeTtl', 0, -1],
    ['earlyRefresh', false, 0],
  ])('judges %s as the cache does (accepts %j, rejects %j)', (option, accepted, rejected) => {
    expect(() => defineLoader({ name: 'user', fetch, [option]: accepted })).not.toThrow()
    expect(() => createCache({ [option]: accepted })).not.toThrow()
    const loaderError = catchError(() => defineLoader({ name: 'user', fetch, [option]: rejected }))
    const cacheError = catchError(() => createCache({ [option]: rejected }))
    expect(loaderError).toMatchObject({ code: 'E_INVALID_OPTION' })
    expect(cacheError).toMatchObject({ code: 'E_INVALID_OPTION' })
    // Same rule, same words: only the option's name differs.
    expect(loaderError?.message.replace(`loader "user": `, '')).toBe(cacheError?.message)
  })

  it('refuses a loader whose ttl exceeds the cache maxTtl when it is first used', () => {
    const cache = createCache({ maxTtl: 60, ttl: 30 })
    const user = defineLoader({ name: 'user', fetch, ttl: 120 })
    expect(() => cache.loaders({ user })).toThrow(
      'loader "user": option "ttl" must be at most maxTtl (60 s) together with grace',
    )
  })
})

function catchError(run: () => unknown): Error | undefined {
  try {
    run()
  } catch (error) {
    return error as Error
  }
  return undefined
}
