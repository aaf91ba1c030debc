/**
 * A separate process using loadcache, for tests whose claim is about several processes (stampede locks,
 * the bus, a lock holder that dies), started by `startWorker` (processes.ts) and answering its commands over
 * IPC (see child-process.ts).
 *
 * Its "database" is a JSON file of row versions shared by every process of a test (path in DB_FILE), so a
 * write by one process is what the others' fetches read.
 *
 * env: REDIS_PORT (or REDIS_CLUSTER_PORTS, comma-separated, for a Redis Cluster), NAMESPACE, DB_FILE,
 * FETCH_DELAY_MS (default 0), LOCK_TTL_MS (default 5000), REDIS_TIMEOUT_MS (default 2000),
 * MAX_STALENESS_MS (default: the library's),
 * FETCH_GATE (`1`: every fetch waits for an `openGate` command, so a test can hold locks as long as it needs)
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { stringify } from 'devalue'
import { Cluster, Redis } from 'ioredis'
import { createCache, defineLoader, type EvictEvent, type WriteTicket } from '../../src/index.js'
import { answerParent } from './child-process.js'
import { richValue } from './rich-value.js'

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
  ...(env.MAX_STALENESS_MS ? { maxStalenessMs: Number(env.MAX_STALENESS_MS) } : {}),
})

const fetchCalls: string[][] = []

// FETCH_GATE: fetches wait here until the test sends `openGate`.
let openGate: () => void = () => {}
const gate =
  env.FETCH_GATE === '1'
    ? new Promise<void>((resolve) => {
        openGate = resolve
      })
    : undefined

/** What this process heard on the bus from other processes, since the last `recordEvictions`. */
const remote = { ids: new Set<string>(), tags: new Set<string>() }
cache.on('evict', (event) => {
  if (event.source !== 'remote') return
  for (const key of event.keys) remote.ids.add(idOfKey(key))
  for (const tag of event.tags) remote.tags.add(tag)
})

/** The id of an `item` entry key (`<ns>:{item:<id>}`; the tests' ids need no escaping). */
function idOfKey(key: string): string {
  return key.slice(key.indexOf('{item:') + 6, key.lastIndexOf('}'))
}

/** Every state the bus went through, in order (`up` first, once subscribed). */
const busStates: string[] = []

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
    parent.emit('fetch', { ids })
    await gate
    if (fetchDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, fetchDelayMs))
    const versions = readVersions()
    return ids.map((id) => ({ id, version: versions[id] ?? 0 }))
  },
  tags: (id) => [`group:${Number(id) % 2}`],
})

const rich = defineLoader({
  name: 'rich',
  fetch: async (ids: readonly string[]) => ids.map(richValue),
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
  | { op: 'openGate' }
  | { op: 'recordEvictions' }
  | { op: 'awaitEvictions'; ids?: string[]; tags?: string[] }
  | { op: 'awaitBus'; ups: number }
  | { op: 'loadRich'; ids: string[] }
  | { op: 'exit' }

/** Write tickets taken by `ticket`, by the name the test gave them. */
const tickets = new Map<string, WriteTicket>()

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
        parent.emit('listening', { tag: command.tag })
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
    case 'openGate':
      openGate()
      return {}
    case 'recordEvictions':
      remote.ids.clear()
      remote.tags.clear()
      return {}
    case 'awaitEvictions': {
      // Resolves once other processes' invalidations heard since `recordEvictions` cover every id and tag.
      const missing = {
        ids: new Set((command.ids ?? []).filter((id) => !remote.ids.has(id))),
        tags: new Set((command.tags ?? []).filter((tag) => !remote.tags.has(tag))),
      }
      if (missing.ids.size + missing.tags.size > 0) {
        await new Promise<void>((resolve) => {
          const listener = (event: EvictEvent) => {
            if (event.source !== 'remote') return
            for (const key of event.keys) missing.ids.delete(idOfKey(key))
            for (const tag of event.tags) missing.tags.delete(tag)
            if (missing.ids.size + missing.tags.size > 0) return
            cache.off('evict', listener)
            resolve()
          }
          cache.on('evict', listener)
        })
      }
      return { ids: remote.ids.size, tags: remote.tags.size }
    }
    case 'awaitBus':
      // Resolves once the bus has come up `ups` times (1: the first subscription).
      await new Promise<void>((resolve) => {
        const check = () => {
          if (busStates.filter((state) => state === 'up').length < command.ups) return
          cache.off('bus', check)
          resolve()
        }
        cache.on('bus', check)
        check()
      })
      return { states: busStates }
    case 'loadRich': {
      // devalue over stdio: JSON would lose exactly what is being checked.
      const values = await cache.loaders({ rich }).rich.loadMany(command.ids)
      return { values: stringify(values), stats: cache.stats().loaders.rich }
    }
    case 'exit':
      await cache.close()
      redis.disconnect()
      setImmediate(() => process.exit(0))
      return {}
  }
}

const parent = answerParent((command: Command) => handle(command))

cache.on('bus', (state) => {
  busStates.push(state)
  if (state === 'up') parent.ready()
})
