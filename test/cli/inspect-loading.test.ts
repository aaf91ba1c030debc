import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { connectRedis } from '../../src/cli/redis-connection.js'
import { isLoadCacheError } from '../../src/index.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { inspect, spawnInspect } from './run-inspect.js'

/*
 * `loadcache inspect` against a Redis that is loading its dataset (as after a restart), which answers every
 * command with LOADING. The loading is made to last longer than the test needs: Redis's `key-load-delay`
 * (microseconds per key loaded) makes it 100 s, and is set to 0 (CONFIG SET works while loading) when the
 * test lets it finish.
 */

const KEYS = 100_000

let server: RedisServer

/** A client that waits for nothing (no ready check, no retries): it sees LOADING as it is. */
function rawClient(): Redis {
  return server.client({ enableReadyCheck: false, maxRetriesPerRequest: 0 })
}

/**
 * Restarts the server on its saved dataset, loading a key per millisecond (100 s in all: until
 * `finishLoading`), and answering clients every 1 KiB of the dump it has read (about every 40 keys).
 */
async function restartLoading(): Promise<void> {
  await server.stop('SIGKILL')
  await server.restart({
    args: ['--key-load-delay', '1000', '--loading-process-events-interval-bytes', '1024'],
    loading: true,
  })
  const client = rawClient()
  try {
    await vi.waitFor(
      async () => expect(await client.ping().catch((error: Error) => error.message)).toMatch(/^LOADING/),
      { timeout: 30_000, interval: 20 },
    )
  } finally {
    client.disconnect()
  }
}

async function finishLoading(): Promise<void> {
  const client = rawClient()
  try {
    await client.config('SET', 'key-load-delay', '0')
    await vi.waitFor(async () => expect(await client.ping().catch(() => 'LOADING')).toBe('PONG'), {
      timeout: 30_000,
      interval: 20,
    })
    expect(await client.dbsize()).toBe(KEYS)
  } finally {
    client.disconnect()
  }
}

beforeAll(async () => {
  // A dataset to load: KEYS keys saved to the server's dump.rdb.
  server = await startRedisServer({ args: ['--enable-debug-command', 'yes'] })
  const client = rawClient()
  try {
    await client.call('DEBUG', 'POPULATE', String(KEYS))
    await client.save()
  } finally {
    client.disconnect()
  }
})

afterAll(() => server?.dispose())

describe('loadcache inspect and a Redis loading its dataset', () => {
  it('waits for the dataset to load, says so once, then reports', async () => {
    await restartLoading()
    const child = spawnInspect('--redis', server.url, '--tags', 'org:7')
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)))
    try {
      await vi.waitFor(() => expect(stderr).toContain('is loading its dataset'), {
        timeout: 60_000,
        interval: 20,
      })
      // Still waiting: it has not given up or reported while Redis loads.
      expect(child.exitCode).toBeNull()
      expect(stdout).toBe('')
      await finishLoading()
      expect(await exited).toBe(0)
    } finally {
      child.kill('SIGKILL')
    }
    expect(stderr).toBe(
      `loadcache: Redis at ${server.url} is loading its dataset; waiting for it (at most 60 s)\n`,
    )
    expect(stdout).toContain('org:7')
  }, 90_000)

  it('gives up after the wait with an error that says Redis is loading, not unreachable', async () => {
    await restartLoading()
    const messages: string[] = []
    const error = await connectRedis(server.url, {
      loadingWaitMs: 500,
      onLoading: (message) => messages.push(message),
    }).then(
      () => undefined,
      (caught: unknown) => caught,
    )
    expect(isLoadCacheError(error) && error.code).toBe('E_REDIS_UNREACHABLE')
    expect((error as Error).message).toBe(
      `[loadcache] Redis at ${server.url} is still loading its dataset after 500 ms; run inspect again once it has loaded`,
    )
    expect(messages).toHaveLength(1)
    await finishLoading()
  })

  it('fails in seconds, not never, against a frozen Redis', async () => {
    server.signal('SIGSTOP')
    try {
      const { code, stderr } = await inspect('--redis', server.url, '--counts')
      expect(code).toBe(1)
      expect(stderr).toBe(
        `[loadcache] cannot reach Redis at ${server.url}: no answer within 4 s (is it frozen or overloaded?). Check the --redis URL (host, port, password) and that the server runs\n`,
      )
    } finally {
      server.signal('SIGCONT')
    }
  }, 90_000)
})
