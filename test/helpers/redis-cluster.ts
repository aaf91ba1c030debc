import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Cluster, type ClusterOptions } from 'ioredis'
import { freePort } from './redis-server.js'

const run = promisify(execFile)

/** A real Redis Cluster on loopback, started by the test itself (redis-server + `redis-cli --cluster create`). */
export interface RedisCluster {
  readonly ports: readonly number[]
  readonly nodes: readonly ChildProcess[]
  /** A new cluster client; closed by `dispose()`. */
  client(options?: ClusterOptions): Cluster
  dispose(): Promise<void>
}

export async function startRedisCluster(
  options: { masters?: number; replicas?: number } = {},
): Promise<RedisCluster> {
  const masters = options.masters ?? 3
  const replicas = options.replicas ?? 0
  const count = masters * (1 + replicas)
  const dir = mkdtempSync(join(tmpdir(), 'loadcache-cluster-'))
  const ports: number[] = []
  for (let i = 0; i < count; i++) ports.push(await freePort())
  const nodes = await Promise.all(ports.map((port) => launchNode(port, join(dir, String(port)))))
  await run('redis-cli', [
    '--cluster',
    'create',
    ...ports.map((port) => `127.0.0.1:${port}`),
    '--cluster-replicas',
    String(replicas),
    '--cluster-yes',
  ])
  // `--cluster create` returns before every node agrees the cluster is up.
  const deadline = Date.now() + 20_000
  for (const port of ports) {
    for (;;) {
      const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info'])
      if (stdout.includes('cluster_state:ok')) break
      if (Date.now() > deadline) throw new Error(`cluster node ${port} not ready:\n${stdout}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  const clients: Cluster[] = []
  return {
    ports,
    nodes,
    client(clientOptions = {}) {
      const client = new Cluster(
        ports.slice(0, masters).map((port) => ({ host: '127.0.0.1', port })),
        { redisOptions: { maxRetriesPerRequest: 1 }, ...clientOptions },
      )
      client.on('error', () => {})
      clients.push(client)
      return client
    },
    async dispose() {
      for (const client of clients) client.disconnect()
      await Promise.all(
        nodes.map(
          (node) =>
            new Promise<void>((resolve) => {
              if (node.exitCode !== null || node.signalCode !== null) return resolve()
              node.once('exit', () => resolve())
              node.kill('SIGKILL')
            }),
        ),
      )
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function launchNode(port: number, dir: string): Promise<ChildProcess> {
  const { mkdirSync } = await import('node:fs')
  mkdirSync(dir, { recursive: true })
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, 'nodes.conf'),
      '--cluster-node-timeout',
      '2000',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  await new Promise<void>((resolve, reject) => {
    let output = ''
    const timer = setTimeout(
      () => reject(new Error(`redis-server ${port} did not start:\n${output}`)),
      10_000,
    )
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.on('exit', (code) => reject(new Error(`redis-server ${port} exited with ${code}:\n${output}`)))
  })
  child.stdout?.resume()
  child.stderr?.resume()
  return child
}
