/**
 * The hot path in one process, for profiling: every entry in L1, 100 loads per request (Zipf ids from
 * 10,000), loadcache (memory only, and with Redis configured) against a plain DataLoader over a Map,
 * interleaved so that a busy machine slows all three alike. `npx tsx bench/micro/hot-path.ts [seconds]`
 * (REDIS_PORT: a running redis-server for the Redis-configured variant; one is started otherwise).
 */
import DataLoader from 'dataloader'
import { Redis } from 'ioredis'
import { createCache, defineLoader } from '../../src/index.js'
import { startRedisServer } from '../../test/helpers/redis-server.js'
import { prng, Zipf } from '../lib/zipf.js'

type Row = { id: string; name: string; orgId: number }
const UNIVERSE = 10_000
const rows = new Map<string, Row>()
for (let i = 1; i <= UNIVERSE; i++) rows.set(String(i), { id: String(i), name: `row ${i}`, orgId: i % 10 })
const fetchRows = (ids: readonly string[]) => ids.map((id) => rows.get(id) ?? null)

const zipf = new Zipf(UNIVERSE, 1.0)
const random = prng(42)
const requests = Array.from({ length: 2000 }, () => zipf.ids(random, 100))

const server = process.env.REDIS_PORT ? undefined : await startRedisServer()
const redis = new Redis({ port: Number(process.env.REDIS_PORT ?? server!.port) })
const memoryCache = createCache({ namespace: 'micro-m', memory: { max: 20_000 } })
const redisCache = createCache({ namespace: 'micro-r', redis, memory: { max: 20_000 } })
const item = defineLoader({ name: 'item', fetch: fetchRows, ttl: 3600 })
if (!(await redisCache.ready())) throw new Error('the bus did not connect')

const map = new Map<string, Row | null>()
const all: Record<string, () => { load(id: string): Promise<unknown> }> = {
  'dataloader-map': () =>
    new DataLoader<string, Row | null>(async (ids) =>
      ids.map((id) => {
        let row = map.get(id)
        if (row === undefined) {
          row = rows.get(id) ?? null
          map.set(id, row)
        }
        return row
      }),
    ),
  'loadcache-memory': () => memoryCache.loaders({ item }).item,
  'loadcache-redis': () => redisCache.loaders({ item }).item,
}

const only = process.env.ONLY?.split(',')
const variants = Object.fromEntries(
  Object.entries(all).filter(
    ([name]) => only === undefined || only.includes(name) || name === 'dataloader-map',
  ),
)

async function request(make: () => { load(id: string): Promise<unknown> }, ids: readonly string[]) {
  const loader = make()
  await Promise.all(ids.map((id) => loader.load(id)))
}

// Warm every tier and the JIT.
for (const make of Object.values(variants)) for (const ids of requests) await request(make, ids)
for (const make of Object.values(variants)) for (const ids of requests) await request(make, ids)

const commandsProcessed = async () =>
  Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1] ?? Number.NaN)
const commandsBefore = await commandsProcessed()
const seconds = Number(process.argv[2] ?? 5)
const totals: Record<string, { ns: bigint; requests: number }> = {}
for (const name of Object.keys(variants)) totals[name] = { ns: 0n, requests: 0 }
const deadline = performance.now() + seconds * 1000
let round = 0
while (performance.now() < deadline) {
  for (const [name, make] of Object.entries(variants)) {
    const started = process.hrtime.bigint()
    for (let i = 0; i < 200; i++) await request(make, requests[(round * 200 + i) % requests.length]!)
    totals[name]!.ns += process.hrtime.bigint() - started
    // Let timers run between rounds, as a server's event loop does between requests: a loop that never
    // yields starves the bus lease's PING timer, and a process without a lease must (and does) stop
    // serving from L1.
    await new Promise((resolve) => setImmediate(resolve))
    totals[name]!.requests += 200
  }
  round++
}
const floor = Number(totals['dataloader-map']!.ns) / totals['dataloader-map']!.requests
for (const [name, { ns, requests: count }] of Object.entries(totals)) {
  const us = Number(ns) / count / 1000
  console.log(
    `${name.padEnd(18)} ${us.toFixed(1)} µs/request  ${(us / (floor / 1000)).toFixed(2)}x the floor`,
  )
}
// Pure L1 hits: the Redis-configured cache should send nothing but its bus lease PINGs (4 per second).
console.log(
  `redis commands during the run: ${(await commandsProcessed()) - commandsBefore - 1} in ${seconds} s`,
)
await memoryCache.close()
await redisCache.close()
redis.disconnect()
await server?.dispose()
