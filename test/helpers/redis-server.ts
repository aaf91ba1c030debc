import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis, type RedisOptions } from 'ioredis'

/** A redis-server this test run started itself, on a free loopback port; stopped by its own pid. */
export interface RedisServer {
  readonly port: number
  readonly url: string
  readonly process: ChildProcess
  /** A new client; closed by `stop()`. */
  client(options?: RedisOptions): Redis
  /** Stops the server (SIGKILL for a crash, SIGTERM otherwise) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>
  /**
   * Starts the server again on the same port and directory (after `stop`): empty, unless a test saved a
   * dump there. `args` are added to the command line; with `loading`, resolves as soon as the server has
   * begun to load its dump (it answers LOADING until done) instead of once it is ready.
   */
  restart(options?: { args?: readonly string[]; loading?: boolean }): Promise<void>
  signal(signal: NodeJS.Signals): void
  /** Kills the server, disconnects every client made by `client()`, removes its directory. */
  dispose(): Promise<void>
}

let checked = false
function assertRedisInstalled(): void {
  if (checked) return
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' })
    checked = true
  } catch {
    throw new Error(
      'redis-server is not installed. The test suite starts its own Redis; install it with:\n' +
        '  sudo apt-get update && sudo apt-get install -y redis-server redis-tools',
    )
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}

/** A redis-server on a free loopback port; `args` are added to its command line. */
export async function startRedisServer(options: { args?: readonly string[] } = {}): Promise<RedisServer> {
  assertRedisInstalled()
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'loadcache-redis-'))
  const clients: Redis[] = []
  let child = await launchRedisServer(port, dir, options.args ?? [], false)

  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get process() {
      return child
    },
    client(options: RedisOptions = {}) {
      const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, ...options })
      client.on('error', () => {})
      clients.push(client)
      return client
    },
    async stop(signal = 'SIGTERM') {
      await kill(child, signal)
    },
    async restart(options = {}) {
      child = await launchRedisServer(port, dir, options.args ?? [], options.loading === true)
    },
    signal(signal) {
      child.kill(signal)
    },
    async dispose() {
      for (const client of clients) client.disconnect()
      await kill(child, 'SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return server
}

/**
 * Starts redis-server on loopback `port` with its files in `dir` (no persistence unless a test saves), plus
 * `args`; resolves once it is ready (with `loading`, once it has begun to load its dump).
 */
export async function launchRedisServer(
  port: number,
  dir: string,
  args: readonly string[],
  loading = false,
): Promise<ChildProcess> {
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
  await untilPrinted(
    child,
    loading ? /Loading RDB|Ready to accept connections/ : /Ready to accept connections/,
    `redis-server ${port}`,
  )
  child.stdout?.resume()
  child.stderr?.resume()
  return child
}

/**
 * Resolves once a redis-server child has printed `pattern` on stdout; rejects if it exits first or has not
 * printed it within 10 s (with what it printed).
 */
function untilPrinted(child: ChildProcess, pattern: RegExp, name: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output}`)), 10_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      if (pattern.test(output)) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited with ${code}:\n${output}`))
    })
  })
}

async function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(signal)
  await exited
}
