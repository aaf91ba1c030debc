import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { withBuckets } from '../../src/core/tags.js'
import { tapBus } from '../helpers/bus-tap.js'
import { eventually, uniqueNamespace } from '../helpers/cache.js'
import { startWorker, type Worker } from '../helpers/processes.js'
import type { RedisCluster } from '../helpers/redis-cluster.js'
import type { RedisServer } from '../helpers/redis-server.js'

/**
 * What the bus costs and carries with several processes, on a standalone Redis and on a Cluster alike:
 * nothing for fills nobody waits on, one notice for a stampede, and invalidations of any size, whole.
 * Every wait here is for an event (a message, a notice, an eviction): lock TTLs are set far beyond the
 * test timeout, so a waiter that fell back to the TTL would fail the test instead of passing slowly.
 */
export function describeBusAtScale(topology: string, target: () => RedisServer | RedisCluster): void {
  function workerEnv(extra: Record<string, string> = {}): Record<string, string> {
    const file = join(mkdtempSync(join(tmpdir(), 'loadcache-db-')), 'db.json')
    writeFileSync(file, '{}')
    const redis = target()
    return {
      ...('ports' in redis
        ? { REDIS_CLUSTER_PORTS: redis.ports.join(',') }
        : { REDIS_PORT: String(redis.port) }),
      NAMESPACE: uniqueNamespace(),
      DB_FILE: file,
      // Waking on a lock's TTL instead of a notice would outlast the test's timeout.
      LOCK_TTL_MS: '60000',
      REDIS_TIMEOUT_MS: '5000',
      ...extra,
    }
  }

  async function fetchesOf(workers: readonly Worker[]): Promise<string[][][]> {
    return Promise.all(
      workers.map(async (worker) => (await worker.call<{ fetches: string[][] }>({ op: 'fetches' })).fetches),
    )
  }

  describe(`the bus at scale (${topology})`, () => {
    it('publishes no fill notice for fills nobody waits on (4 processes, distinct cold keys)', async () => {
      const env = workerEnv()
      const tap = await tapBus(target(), env.NAMESPACE!)
      const workers = await Promise.all([0, 1, 2, 3].map(() => startWorker(env)))
      const idsOf = (w: number) => Array.from({ length: 50 }, (_, i) => `${w}-${i}`)
      // 10 requests per process: they share the process's fills, and no two processes want one key.
      const results = await Promise.all(
        workers.map((worker, w) =>
          worker.call<{ versions: number[] }>({ op: 'load', ids: idsOf(w), requests: 10 }),
        ),
      )
      for (const result of results) expect(result.versions).toEqual(Array(50).fill(0))
      expect(await fetchesOf(workers)).toEqual([0, 1, 2, 3].map((w) => [idsOf(w)]))
      // Each write went out before its load resolved; anything it published is heard before the marker.
      await tap.flush()
      expect(tap.notices).toEqual([])
      expect(tap.invalidations).toBe(0)
    })

    it('costs one fetch for a 4-process stampede, and every waiter wakes on the fill notice', async () => {
      const env = workerEnv({ FETCH_GATE: '1' })
      const tap = await tapBus(target(), env.NAMESPACE!)
      const [holder, ...waiters] = await Promise.all([0, 1, 2, 3].map(() => startWorker(env)))
      const ids = Array.from({ length: 50 }, (_, i) => String(i + 1))
      // The holder takes every lock and fetches; its fetch waits at the gate until the others wait too.
      const fetching = holder!.nextEvent('fetch')
      const held = holder!.call<{ versions: number[] }>({ op: 'load', ids, requests: 10 })
      await fetching
      const waited = waiters.map((worker) =>
        worker.call<{ versions: number[] }>({ op: 'load', ids, requests: 10 }),
      )
      // Each waiter found all 50 locks busy (READ marked them, so the holder's write will announce them).
      await eventually(async () => {
        for (const worker of waiters) {
          const stats = await worker.call<{ loaders: { item?: { lockWaits: number } } }>({ op: 'stats' })
          expect(stats.loaders.item?.lockWaits).toBeGreaterThanOrEqual(50)
        }
      }, 20_000)
      await holder!.call({ op: 'openGate' })
      // With a 60 s lock TTL (and lockWaitMs), only the notice can wake them within the test's timeout.
      for (const result of await Promise.all([held, ...waited]))
        expect(result.versions).toEqual(Array(50).fill(0))
      const fetches = await fetchesOf([holder!, ...waiters])
      expect(fetches).toEqual([[ids], [], [], []])
      await tap.flush()
      expect(tap.notices.flat().sort()).toEqual(ids.map((id) => `${env.NAMESPACE}:{item:${id}}`).sort())
    })

    it('delivers a 100,000-key invalidation and a 20,000-tag invalidation whole to every other process, in bounded messages', async () => {
      const env = workerEnv({ REDIS_TIMEOUT_MS: '10000' })
      const tap = await tapBus(target(), env.NAMESPACE!)
      const [origin, ...others] = await Promise.all([0, 1, 2, 3].map(() => startWorker(env)))
      const ids = Array.from({ length: 100_000 }, (_, i) => String(i + 1))
      const tags = Array.from({ length: 20_000 }, (_, i) => `tag:${i}`)
      // An invalidation by id also moves each entry's own tag (`@item:<id>`) and that tag's bucket.
      const keyTags = withBuckets(ids.map((id) => `@item:${id}`))
      await Promise.all(others.map((worker) => worker.call({ op: 'recordEvictions' })))
      const heardIds = others.map((worker) =>
        worker.call<{ ids: number; tags: number }>({ op: 'awaitEvictions', ids, tags: keyTags }),
      )
      await origin!.call({ op: 'invalidate', ids })
      for (const heard of await Promise.all(heardIds))
        expect(heard).toMatchObject({ ids: ids.length, tags: keyTags.length })
      await Promise.all(others.map((worker) => worker.call({ op: 'recordEvictions' })))
      // Each tag, and the bucket tag each one moves with (in whichever message they come).
      const everyTag = withBuckets(tags)
      const heardTags = others.map((worker) =>
        worker.call<{ tags: number }>({ op: 'awaitEvictions', tags: everyTag }),
      )
      await origin!.call({ op: 'invalidateTags', tags })
      for (const heard of await Promise.all(heardTags)) expect(heard.tags).toBe(everyTag.length)
      await tap.flush()
      // Split into many messages, none larger than 64 KiB (plus the line that crossed it).
      expect(tap.invalidations).toBeGreaterThan(10)
      expect(tap.largestMessageBytes).toBeLessThanOrEqual(65 * 1024)
      expect(tap.notices).toEqual([])
    }, 120_000)
  })
}
