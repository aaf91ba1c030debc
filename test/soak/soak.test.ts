import { mkdtempSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { uniqueNamespace } from '../helpers/cache.js'
import { startWorker, type Worker } from '../helpers/processes.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'

/**
 * Soak: 4 processes on one Redis, a load generator issuing reads and writes for SOAK_SECONDS (default 60),
 * and a checker that after each write reads the entity from every process. Bounded in time and count,
 * loopback only.
 */
const SECONDS = Number(process.env.SOAK_SECONDS ?? 60)
/**
 * The staleness bound the workers run with (`maxStalenessMs`): once an invalidation has resolved, no process
 * serves the old value from L1 later than this (README, "Guarantees"). The lease enforces it whatever the
 * machine's load, so the check below waits exactly this long and no more.
 */
const MAX_STALENESS_MS = 250
const KEYS = 500

let server: RedisServer
beforeAll(async () => {
  server = await startRedisServer()
})
afterAll(() => server.dispose())

describe('soak', () => {
  it(
    `serves ${SECONDS} s of reads and writes from 4 processes with no errors and no stale reads`,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'loadcache-soak-'))
      const file = join(dir, 'db.json')
      const versions: Record<string, number> = {}
      const writeDb = () => {
        // Atomic replace: a process reading the file mid-write must see the old or the new state, not half.
        writeFileSync(`${file}.tmp`, JSON.stringify(versions))
        renameSync(`${file}.tmp`, file)
      }
      writeDb()
      const env = {
        REDIS_PORT: String(server.port),
        NAMESPACE: uniqueNamespace(),
        DB_FILE: file,
        FETCH_DELAY_MS: '2',
        MAX_STALENESS_MS: String(MAX_STALENESS_MS),
      }
      const workers = await Promise.all([1, 2, 3, 4].map(() => startWorker(env)))

      let requests = 0
      let errors = 0
      let writes = 0
      let staleAfterWrite = 0
      let staleOnWriter = 0
      const randomId = () => String(1 + Math.floor(KEYS * Math.random() ** 2))
      const pick = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)]!

      async function read(worker: Worker, ids: string[]): Promise<(number | string | null)[]> {
        requests++
        const { versions: got } = await worker.call<{ versions: (number | string | null)[] }>({
          op: 'load',
          ids,
        })
        errors += got.filter((value) => typeof value === 'string').length
        return got
      }

      const deadline = Date.now() + SECONDS * 1000
      async function readers(): Promise<void> {
        while (Date.now() < deadline) {
          await read(pick(workers), Array.from({ length: 20 }, randomId))
        }
      }
      async function writer(): Promise<void> {
        while (Date.now() < deadline) {
          const id = randomId()
          versions[id] = (versions[id] ?? 0) + 1
          const expected = versions[id]
          writeDb()
          const origin = pick(workers)
          writes++
          requests++
          await origin.call({ op: 'invalidate', ids: [id] })
          // The invalidating process sees the write at once...
          if ((await read(origin, [id]))[0] !== expected) staleOnWriter++
          // ...and every other process once the staleness bound has passed.
          await new Promise((resolve) => setTimeout(resolve, MAX_STALENESS_MS))
          const seen = await Promise.all(workers.map((worker) => read(worker, [id])))
          staleAfterWrite += seen.filter((got) => got[0] !== (versions[id] ?? 0)).length
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
      }
      await Promise.all([readers(), readers(), readers(), writer()])

      const fetched = (
        await Promise.all(workers.map((worker) => worker.call<{ fetches: string[][] }>({ op: 'fetches' })))
      ).flatMap((result) => result.fetches.flat())
      const distinct = new Set(fetched).size
      const report = {
        seconds: SECONDS,
        requests,
        writes,
        errors,
        staleOnWriter,
        staleAfterBound: staleAfterWrite,
        sourceFetches: fetched.length,
        distinctKeys: distinct,
        fetchesPerDistinctKey: Number((fetched.length / distinct).toFixed(2)),
      }
      console.log(`soak report: ${JSON.stringify(report)}`)
      expect(errors).toBe(0)
      expect(staleOnWriter).toBe(0)
      expect(staleAfterWrite).toBe(0)
      // A write every ~300 ms on a quiet machine; a busy one slows the loop, never the check.
      expect(writes).toBeGreaterThan(SECONDS)
      // Every key is fetched once when first read, then once per write that touched it (at most once per
      // process that read it afterwards): far below one fetch per read.
      expect(fetched.length).toBeLessThanOrEqual(distinct + writes * workers.length)
    },
    (SECONDS + 60) * 1000,
  )
})
