/**
 * A separate process using loadcache, for tests whose claim is about several processes (stampede locks,
 * the bus, a lock holder that dies). It reads JSON commands, one per line, on stdin and answers on stdout.
 *
 * Its "database" is a JSON file of row versions shared by every process of a test (path in DB_FILE), so a
 * write by one process is what the others' fetches read.
 *
 * env: REDIS_PORT (or REDIS_CLUSTER_PORTS, comma-separated, for a Redis Cluster), NAMESPACE, DB_FILE,
 * FETCH_DELAY_MS (default 0), LOCK_TTL_MS (default 5000), REDIS_TIMEOUT_MS (default: the library's)
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { Cluster, Redis } from 'ioredis'
import { createCache, defineLoader, type WriteTicket } from '../../src/index.js'

interface Row {
  id: string
  version: number
}

const env = process.env
const fetchDelayMs = Number(env.FETCH_DELAY_MS ?? 0)
const redis = env.REDIS_CLUSTER_PORTS
  ? new Cluster(
      env.REDIS_CLUSTER_PORTS.split(',').map((port) => ({ host: '127.0.0.1', port: Number(port) })),
      { redisOptions: { maxRetriesPerRequest: 1 } },
    )
  : new Redis({ host: '127.0.0.1', port: Number(env.REDIS_PORT), maxRetriesPerRequest: 1 })
redis.on('error', () => {})
const cache = createCache({
  namespace: env.NAMESPACE,
  redis,
  ttl: 3600,
  lockTtlMs: Number(env.LOCK_TTL_MS ?? 5000),
  // Tests run several processes on 2 cores next to other test files: a generous timeout keeps a slow
  // moment from being mistaken for a Redis fault (the fault tests set their own, short one).
  redisTimeoutMs: Number(env.REDIS_TIMEOUT_MS ?? 2000),
})

const fetchCalls: string[][] = []

function readVersions(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(env.DB_FILE!, 'utf8')) as Record<string, number>
  } catch {
    return {}
  }
}

const item = defineLoader({
  name: 'item',
  fetch: async (ids: readonly string[]): Promise<Row[]> => {
    fetchCalls.push([...ids])
    send({ event: 'fetch', ids })
    if (fetchDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, fetchDelayMs))
    const versions = readVersions()
    return ids.map((id) => ({ id, version: versions[id] ?? 0 }))
  },
  tags: (id) => [`group:${Number(id) % 2}`],
})

type Command =
  | { op: 'load'; ids: string[]; requests?: number }
  | { op: 'invalidate'; ids: string[] }
  | { op: 'invalidateTags'; tags: string[] }
  | { op: 'fetches' }
  | { op: 'awaitEvictedTag'; tag: string }
  | { op: 'stats' }
  | { op: 'ticket'; name: string }
  | { op: 'write'; id: string; version: number }
  | { op: 'prime'; ids: string[]; ticket?: string }
  | { op: 'exit' }

/** Write tickets taken by `ticket`, by the name the test gave them. */
const tickets = new Map<string, WriteTicket>()

function send(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`)
}

async function handle(command: Command): Promise<object> {
  switch (command.op) {
    case 'load': {
      // `requests` concurrent requests, each with its own per-request loaders, as a server would run them.
      const results = await Promise.all(
        Array.from({ length: command.requests ?? 1 }, () =>
          cache.loaders({ item }).item.loadMany(command.ids),
        ),
      )
      const versions = results.map((rows) =>
        rows.map((row) => (row instanceof Error ? `error: ${row.message}` : (row?.version ?? null))),
      )
      return {
        versions: versions[0],
        allSame: versions.every((v) => JSON.stringify(v) === JSON.stringify(versions[0])),
      }
    }
    case 'invalidate':
      await cache.invalidate(item, command.ids)
      return {}
    case 'invalidateTags':
      await cache.invalidateTags(command.tags)
      return {}
    case 'fetches':
      return { fetches: fetchCalls }
    case 'awaitEvictedTag':
      // Resolves once this process heard an invalidation of the tag on the bus (see busDelivered).
      await new Promise<void>((resolve) => {
        const listener = (event: { tags: readonly string[] }) => {
          if (!event.tags.includes(command.tag)) return
          cache.off('evict', listener)
          resolve()
        }
        cache.on('evict', listener)
        send({ event: 'listening', tag: command.tag })
      })
      return {}
    case 'stats':
      return cache.stats()
    case 'ticket':
      tickets.set(command.name, await cache.writeTicket())
      return {}
    case 'write':
      // The "database" write of a mutation: the row's new version, read by every process's fetch.
      writeFileSync(env.DB_FILE!, JSON.stringify({ ...readVersions(), [command.id]: command.version }))
      return {}
    case 'prime': {
      // Write-through of the rows as the database holds them now (what a mutation returns).
      const versions = readVersions()
      const since = command.ticket === undefined ? undefined : tickets.get(command.ticket)
      const rows = command.ids.map((id) => [id, { id, version: versions[id] ?? 0 }] as const)
      return cache.prime(item, rows, { since })
    }
    case 'exit':
      await cache.close()
      redis.disconnect()
      setImmediate(() => process.exit(0))
      return {}
  }
}

cache.on('bus', (state) => {
  if (state === 'up') send({ event: 'ready' })
})

createInterface({ input: process.stdin }).on('line', (line) => {
  const { seq, ...command } = JSON.parse(line) as Command & { seq: number }
  handle(command as Command).then(
    (result) => send({ seq, ...result }),
    (error: Error) => send({ seq, error: error.message }),
  )
})
