import { onTestFinished } from 'vitest'
import { type CreateCacheOptions, createCache, type LoadCache } from '../../src/index.js'
import type { RedisClient } from '../../src/redis/scripts.js'

/** Anything that hands out Redis clients: a redis-server or a Redis Cluster the test started. */
export interface RedisTarget {
  client(): RedisClient
}

export type Mode = 'memory' | 'redis'

let namespaces = 0

/** A fresh namespace per cache group, so tests sharing one redis-server never see each other's keys. */
export function uniqueNamespace(): string {
  return `t${process.pid}-${++namespaces}-${Date.now().toString(36)}`
}

/**
 * Builds caches for a test and closes them when the test finishes. In `redis` mode each cache gets its own
 * client (like a separate process would) and `ready()` waits for its bus subscription.
 */
export function cacheFactory(mode: Mode, server?: RedisTarget) {
  const namespace = uniqueNamespace()
  const makeCache = async (options: CreateCacheOptions = {}): Promise<LoadCache> => {
    const redis = mode === 'redis' ? (options.redis ?? server!.client()) : undefined
    const cache = createCache({ namespace, ...options, redis })
    onTestFinished(() => cache.close())
    if (!(await cache.ready())) throw new Error('the bus did not connect in 5 s')
    // ready() proves the bus's connection, not the client's own: wait for that too, so what the cache issued
    // at creation (its CONFIG GET, queued until then) has gone out before a test starts counting commands.
    const status = () => (redis as { status?: string } | undefined)?.status
    if (status() !== undefined) await waitFor(() => status() === 'ready', 'the Redis client to be ready')
    return cache
  }
  return Object.assign(makeCache, { namespace })
}

/** Polls a condition (every 5 ms) until it holds or `timeoutMs` passes. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Retries an assertion (every 5 ms) until it passes or `timeoutMs` passes, then rethrows its last failure. */
export async function eventually(assertion: () => Promise<void> | void, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await assertion()
      return
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
}

/** Counts the commands a client sends (each is one round trip: loadcache sends no pipelines). */
export function countCommands(client: { sendCommand: (...args: never[]) => unknown }): {
  readonly names: string[]
  reset(): void
} {
  const names: string[] = []
  // ioredis sends a command issued before its connection was ready through sendCommand again when it
  // flushes its offline queue (the same Command object): count each command once, when it was issued, or
  // a startup command (the cache's CONFIG GET) shows up in a count that began after it, when the machine
  // is slow enough for the connection to finish late.
  const seen = new WeakSet<object>()
  const original = client.sendCommand.bind(client) as (...args: unknown[]) => unknown
  ;(client as { sendCommand: unknown }).sendCommand = (command: { name: string }, ...rest: unknown[]) => {
    if (!seen.has(command)) {
      seen.add(command)
      names.push(command.name)
    }
    return original(command, ...rest)
  }
  return {
    names,
    reset() {
      names.length = 0
    },
  }
}

let probes = 0

/**
 * Resolves once every invalidation `from` published before this call has reached `to` over the bus. The
 * bus is one Redis channel, which delivers in order, so `to` hearing a probe published now means it heard
 * everything before it: a deterministic wait for the one window the cache documents (the bus delivery),
 * instead of a sleep.
 */
export async function busDelivered(from: LoadCache, to: LoadCache, timeoutMs = 5000): Promise<void> {
  const probe = `probe:${process.pid}:${++probes}`
  let onEvict: ((event: { tags: readonly string[] }) => void) | undefined
  const heard = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the bus did not deliver ${probe} in ${timeoutMs} ms`)),
      timeoutMs,
    )
    onEvict = (event) => {
      if (!event.tags.includes(probe)) return
      clearTimeout(timer)
      resolve()
    }
    to.on('evict', onEvict)
  })
  try {
    await from.invalidateTags([probe])
    await heard
  } finally {
    if (onEvict) to.off('evict', onEvict)
  }
}
