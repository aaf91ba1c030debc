/**
 * A runnable tour of the core: `npm run demo` (memory only) or `REDIS_URL=redis://127.0.0.1:6379 npm run demo`
 * (memory + Redis). It plays three "requests" against a pretend table and prints what reached the source.
 */
import { Redis } from 'ioredis'
import { createCache, defineLoader } from '../src/index.js'

interface User {
  id: string
  name: string
  orgId: number
}

const table = new Map<string, User>(
  Array.from({ length: 100 }, (_, i) => [
    String(i + 1),
    { id: String(i + 1), name: `User ${i + 1}`, orgId: i % 5 },
  ]),
)
let sourceCalls = 0

const user = defineLoader({
  name: 'user',
  // One call per batch, with every id the caches did not have.
  fetch: async (ids: readonly string[]) => {
    sourceCalls++
    console.log(`  source: SELECT * FROM users WHERE id IN (${ids.join(', ')})`)
    return ids.map((id) => table.get(id))
  },
  ttl: 600,
  tags: (_id, row: User) => [`org:${row.orgId}`],
})

const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : undefined
// A namespace per run, so a second run against the same Redis starts cold like the first (entries expire).
const cache = createCache({ namespace: `demo-${Date.now()}`, redis, logger: console })
if (!(await cache.ready())) console.warn('the bus did not connect: serving without L1')

async function request(title: string, ids: string[]): Promise<void> {
  console.log(`\n${title}`)
  const loaders = cache.loaders({ user }) // fresh per request
  const rows = await Promise.all(ids.map((id) => loaders.user.load(id)))
  console.log(`  got: ${rows.map((row) => row?.name ?? 'null').join(', ')}`)
}

await request('Request 1: ten lookups in one tick (N+1 style), cold cache', [
  '1',
  '2',
  '3',
  '1',
  '2',
  '999',
  '4',
  '5',
  '3',
  '1',
])
await request('Request 2: the same ids again', ['1', '2', '3', '4', '5', '999'])
table.set('2', { id: '2', name: 'User 2 (renamed)', orgId: 1 })
await cache.invalidate(user, ['2'])
await request('Request 3: after invalidate(user, ["2"])', ['1', '2', '3'])
await cache.invalidateTags(['org:0'])
await request('Request 4: after invalidateTags(["org:0"]) (users 1 and 6 are in org 0)', ['1', '2', '6'])

const stats = cache.stats().loaders.user
console.log(`\nsource calls: ${sourceCalls}; stats:`, stats)
await cache.close()
redis?.disconnect()
