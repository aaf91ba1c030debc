import { type ChildProcess, execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Cluster, type ClusterOptions } from 'ioredis'
import { launchRedisServer } from './redis-server.js'

const run = promisify(execFile)

/** A real Redis Cluster on loopback, started by the test itself (redis-server + `redis-cli --cluster create`). */
export interface RedisCluster {
  readonly ports: readonly number[]
  readonly nodes: readonly ChildProcess[]
  /** A new cluster client; closed by `dispose()`. */
  client(options?: ClusterOptions): Cluster
  dispose(): Promise<void>
}

/**
 * Starts `masters` masters with `replicas` replicas each. `serverArgs` go to every redis-server (e.g.
 * `['--rename-command', 'SSUBSCRIBE', '']` to play an older Redis).
 */
export async function startRedisCluster(
  options: { masters?: number; replicas?: number; serverArgs?: readonly string[] } = {},
): Promise<RedisCluster> {
  const masters = options.masters ?? 3
  const replicas = options.replicas ?? 0
  const count = masters * (1 + replicas)
  const dir = mkdtempSync(join(tmpdir(), 'loadcache-cluster-'))
  const ports: number[] = []
  while (ports.length < count) {
    const port = await freeClusterPort()
    if (!ports.includes(port) && !ports.includes(port + 10_000) && !ports.includes(port - 10_000))
      ports.push(port)
  }
  const nodes = await Promise.all(
    ports.map((port) => launchNode(port, join(dir, String(port)), options.serverArgs ?? [])),
  )
  if (masters === 1 && replicas === 0) {
    // `--cluster create` wants 3 masters; one node takes every slot itself (a single-shard managed Redis).
    await run('redis-cli', ['-p', String(ports[0]), 'cluster', 'addslotsrange', '0', '16383'])
  } else {
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    ])
  }
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
  // Replicas attach to their masters asynchronously too: wait until every one reports as a replica.
  if (replicas > 0) {
    for (;;) {
      const { stdout } = await run('redis-cli', ['-p', String(ports[0]), 'cluster', 'nodes'])
      const attached = stdout
        .split('\n')
        .filter((line) => line.includes(' slave ') && line.includes('connected'))
      if (attached.length === masters * replicas) break
      if (Date.now() > deadline) throw new Error(`replicas not attached:\n${stdout}`)
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

/**
 * A port P where both P and P + 10000 are free: a cluster node also listens on P + 10000 (its cluster bus),
 * so an ordinary free port (often above 55535) does not do.
 */
async function freeClusterPort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000)
    if ((await canListen(port)) && (await canListen(port + 10_000))) return port
  }
  throw new Error('no free port pair for a cluster node')
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

async function launchNode(port: number, dir: string, extraArgs: readonly string[]): Promise<ChildProcess> {
  mkdirSync(dir, { recursive: true })
  const child = await launchRedisServer(port, dir, [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    join(dir, 'nodes.conf'),
    '--cluster-node-timeout',
    '2000',
    // A replica that has just attached may fail over at once (the default refuses "stale" replicas).
    '--cluster-replica-validity-factor',
    '0',
    ...extraArgs,
  ])
  child.stdout?.on('data', (chunk: Buffer) => {
    if (process.env.LOADCACHE_CLUSTER_LOG) process.stderr.write(`[${port}] ${chunk}`)
  })
  return child
}
