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
  /** Starts a new, empty server on the same port (after `stop`). */
  restart(): Promise<void>
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

export async function startRedisServer(): Promise<RedisServer> {
  assertRedisInstalled()
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'loadcache-redis-'))
  const clients: Redis[] = []
  let child = await launch(port, dir)

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
    async restart() {
      child = await launch(port, dir)
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

async function launch(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  await new Promise<void>((resolve, reject) => {
    let output = ''
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited with ${code}:\n${output}`))
    })
  })
  child.stdout?.resume()
  child.stderr?.resume()
  return child
}

async function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill(signal)
  await exited
}
