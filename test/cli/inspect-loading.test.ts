import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { connectRedis } from '../../src/cli/redis-connection.js'
import { isLoadCacheError } from '../../src/index.js'
import { freePort } from '../helpers/redis-server.js'

/*
 * `loadcache inspect` against a Redis that is loading its dataset (as after a restart), which answers every
 * command with LOADING. The loading is made to last longer than the test needs: Redis's `key-load-delay`
 * (microseconds per key loaded) makes it 100 s, and is set to 0 (CONFIG SET works while loading) when the
 * test lets it finish.
 */

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const KEYS = 100_000

let dir: string
let port: number
let server: ChildProcess | undefined

function redisServer(...args: string[]): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  child.stderr?.resume()
  return new Promise((done, fail) => {
    let output = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      // A loading server accepts connections once it has begun to load.
      if (/Ready to accept connections|Loading RDB/.test(output)) {
        child.stdout?.removeAllListeners('data')
        child.stdout?.resume()
        done(child)
      }
    })
    child.once('exit', (code) => fail(new Error(`redis-server exited with ${code}:\n${output}`)))
  })
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((done) => child.once('exit', () => done()))
  child.kill('SIGKILL')
  await exited
}

/** A client that waits for nothing (no ready check, no retries): it sees LOADING as it is. */
function rawClient(): Redis {
  const client = new Redis({ port, host: '127.0.0.1', enableReadyCheck: false, maxRetriesPerRequest: 0 })
  client.on('error', () => {})
  return client
}

/**
 * Restarts the server on its saved dataset, loading a key per millisecond (100 s in all: until
 * `finishLoading`), and answering clients every 1 KiB of the dump it has read (about every 40 keys).
 */
async function restartLoading(): Promise<void> {
  await stop(server)
  server = await redisServer('--key-load-delay', '1000', '--loading-process-events-interval-bytes', '1024')
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
  dir = mkdtempSync(join(tmpdir(), 'loadcache-loading-'))
  port = await freePort()
  // A dataset to load: KEYS keys saved to the server's dump.rdb.
  server = await redisServer('--enable-debug-command', 'yes')
  const client = rawClient()
  try {
    await client.call('DEBUG', 'POPULATE', String(KEYS))
    await client.save()
  } finally {
    client.disconnect()
  }
})

afterAll(async () => {
  await stop(server)
  rmSync(dir, { recursive: true, force: true })
})

describe('loadcache inspect and a Redis loading its dataset', () => {
  it('waits for the dataset to load, says so once, then reports', async () => {
    await restartLoading()
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(repo, 'src/cli/main.ts'),
        'inspect',
        '--redis',
        `redis://127.0.0.1:${port}`,
        '--tags',
        'org:7',
      ],
      { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] },
    )
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
      `loadcache: Redis at redis://127.0.0.1:${port} is loading its dataset; waiting for it (at most 60 s)\n`,
    )
    expect(stdout).toContain('org:7')
  }, 90_000)

  it('gives up after the wait with an error that says Redis is loading, not unreachable', async () => {
    await restartLoading()
    const messages: string[] = []
    const error = await connectRedis(`redis://127.0.0.1:${port}`, {
      loadingWaitMs: 500,
      onLoading: (message) => messages.push(message),
    }).then(
      () => undefined,
      (caught: unknown) => caught,
    )
    expect(isLoadCacheError(error) && error.code).toBe('E_REDIS_UNREACHABLE')
    expect((error as Error).message).toBe(
      `[loadcache] Redis at redis://127.0.0.1:${port} is still loading its dataset after 500 ms; run inspect again once it has loaded`,
    )
    expect(messages).toHaveLength(1)
    await finishLoading()
  })
})
