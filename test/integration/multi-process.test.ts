import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { uniqueNamespace } from '../helpers/cache.js'
import { startWorker } from '../helpers/processes.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { describeBusAtScale } from './bus-scale.js'

let server: RedisServer
beforeAll(async () => {
  server = await startRedisServer()
})
afterAll(() => server.dispose())

const ids = Array.from({ length: 50 }, (_, i) => String(i + 1))

describeBusAtScale('standalone Redis', () => server)

function database(versions: Record<string, number> = {}): {
  file: string
  write(v: Record<string, number>): void
} {
  const file = join(mkdtempSync(join(tmpdir(), 'loadcache-db-')), 'db.json')
  const write = (v: Record<string, number>) => writeFileSync(file, JSON.stringify(v))
  write(versions)
  return { file, write }
}

describe('several processes on one Redis', () => {
  it('fetches each cold id exactly once fleet-wide under a stampede (4 processes x 100 requests x 50 ids)', async () => {
    const db = database()
    const env = {
      REDIS_PORT: String(server.port),
      NAMESPACE: uniqueNamespace(),
      DB_FILE: db.file,
      FETCH_DELAY_MS: '100',
    }
    const workers = await Promise.all([1, 2, 3, 4].map(() => startWorker(env)))
    const started = Date.now()
    const results = await Promise.all(
      workers.map((worker) =>
        worker.call<{ versions: number[]; allSame: boolean }>({ op: 'load', ids, requests: 100 }),
      ),
    )
    // Waiters wake on the fill notice: well before the 5 s lock TTL they would otherwise wait out.
    expect(Date.now() - started).toBeLessThan(2500)
    for (const result of results) {
      expect(result.versions).toEqual(ids.map(() => 0))
      expect(result.allSame).toBe(true)
    }
    const fetches = await Promise.all(
      workers.map((worker) => worker.call<{ fetches: string[][] }>({ op: 'fetches' })),
    )
    const fetched = fetches.flatMap((f) => f.fetches.flat())
    expect(fetched.sort()).toEqual([...ids].sort())
    // The fetching process made one call for all 50; the others waited and read.
    expect(fetches.map((f) => f.fetches.length).sort()).toEqual([0, 0, 0, 1])
  })

  it('lets others proceed within lock TTL + fetch time when the lock holder is SIGKILLed mid-fill', async () => {
    const db = database()
    const base = {
      REDIS_PORT: String(server.port),
      NAMESPACE: uniqueNamespace(),
      DB_FILE: db.file,
      LOCK_TTL_MS: '1000',
    }
    const holder = await startWorker({ ...base, FETCH_DELAY_MS: '60000' })
    const other = await startWorker({ ...base, FETCH_DELAY_MS: '50' })
    const fetchStarted = holder.nextEvent('fetch')
    void holder.call({ op: 'load', ids }).catch(() => {})
    await fetchStarted
    const started = Date.now()
    const waiting = other.call<{ versions: number[] }>({ op: 'load', ids })
    await new Promise((resolve) => setTimeout(resolve, 100))
    await holder.kill('SIGKILL')
    const result = await waiting
    const elapsed = Date.now() - started
    expect(result.versions).toEqual(ids.map(() => 0))
    // Lock TTL (1000) + fetch (50), with room for scheduling on a busy 2-core machine.
    expect(elapsed).toBeLessThan(1000 + 50 + 750)
    const { fetches } = await other.call<{ fetches: string[][] }>({ op: 'fetches' })
    expect(fetches).toEqual([ids])
  })

  it('shows another process fresh data within 100 ms of an invalidation by id and by tag (bus)', async () => {
    const db = database({ '1': 1, '2': 1, '3': 1 })
    const env = { REDIS_PORT: String(server.port), NAMESPACE: uniqueNamespace(), DB_FILE: db.file }
    const writer = await startWorker(env)
    const reader = await startWorker(env)
    await reader.call({ op: 'load', ids: ['1', '2', '3'] })
    const warm = await reader.call<{ loaders: { item: { l1Hits: number } } }>({ op: 'stats' })
    expect(warm.loaders.item.l1Hits).toBe(0)
    await reader.call({ op: 'load', ids: ['1', '2', '3'] })
    const hot = await reader.call<{ loaders: { item: { l1Hits: number } } }>({ op: 'stats' })
    expect(hot.loaders.item.l1Hits).toBe(3)

    async function readUntil(id: string, version: number): Promise<number> {
      const started = Date.now()
      for (;;) {
        const { versions } = await reader.call<{ versions: number[] }>({ op: 'load', ids: [id] })
        if (versions[0] === version) return Date.now() - started
        if (Date.now() - started > 1000) throw new Error(`still version ${versions[0]} of ${id} after 1 s`)
      }
    }

    db.write({ '1': 2, '2': 1, '3': 1 })
    await writer.call({ op: 'invalidate', ids: ['1'] })
    expect(await readUntil('1', 2)).toBeLessThan(100)

    // Tag group:0 holds the even ids: 2.
    db.write({ '1': 2, '2': 2, '3': 2 })
    await writer.call({ op: 'invalidateTags', tags: ['group:0'] })
    expect(await readUntil('2', 2)).toBeLessThan(100)
    // 3 is in group:1, untouched: still served from the reader's L1.
    const { versions } = await reader.call<{ versions: number[] }>({ op: 'load', ids: ['3'] })
    expect(versions).toEqual([1])
  })
})
