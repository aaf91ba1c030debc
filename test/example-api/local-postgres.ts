import { execFile } from 'node:child_process'
import { accessSync, constants, realpathSync } from 'node:fs'
import { chown, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Absolute path of `name` on PATH, or undefined. */
export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // Not here; keep looking.
    }
  }
  return undefined
}

/** A throwaway PostgreSQL server. */
export interface LocalPostgres {
  /** `postgresql://` URL of the server's `postgres` database. */
  url: string
  /** Stops the server and deletes its files. */
  stop(): Promise<void>
}

/** A port that was free a moment ago (the tiny race with other processes is acceptable in tests). */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('could not get a free port')
  return address.port
}

/**
 * Creates a cluster in a temporary directory with `initdb` and starts it with `pg_ctl` on a free port
 * of 127.0.0.1, trusting local connections. Durability is switched off: the data is thrown away anyway.
 *
 * PostgreSQL refuses to run as root, so when the tests run as root (as in many containers) the server
 * runs as the `postgres` user through `runuser`.
 */
export async function startLocalPostgres(initdbPath: string): Promise<LocalPostgres> {
  // pg_ctl from the same installation as initdb, so their versions match.
  const binDir = dirname(realpathSync(initdbPath))
  const pgCtl = join(binDir, 'pg_ctl')
  let prefix: string[] = []
  let owner: [number, number] | undefined
  if (process.getuid?.() === 0) {
    const runuser = findOnPath('runuser')
    try {
      const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim())
      const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim())
      owner = [uid, gid]
    } catch {
      throw new Error('running as root, and there is no "postgres" user to run the PostgreSQL server as')
    }
    if (!runuser)
      throw new Error('running as root, and runuser (needed to run PostgreSQL as "postgres") is missing')
    prefix = [runuser, '-u', 'postgres', '--']
  }
  const root = await mkdtemp(join(tmpdir(), 'example-api-pg-'))
  const dataDir = join(root, 'data')
  // initdb creates the data directory inside `root`, and the server puts its socket there.
  if (owner) await chown(root, owner[0], owner[1])
  const exec = (file: string, args: string[]) => {
    const [command, ...rest] = [...prefix, file, ...args]
    return run(command!, rest, { cwd: root })
  }

  const port = await freePort()
  const serverOptions = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${root}`,
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
  ].join(' ')
  try {
    await exec(initdbPath, [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ])
    await exec(pgCtl, ['-D', dataDir, '-l', join(root, 'server.log'), '-o', serverOptions, '-w', 'start'])
  } catch (error) {
    // Best effort: a half-started server would keep the directory busy, so stop it before deleting.
    await exec(pgCtl, ['-D', dataDir, '-m', 'immediate', 'stop']).catch(() => {})
    await rm(root, { recursive: true, force: true })
    throw error
  }

  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      try {
        await exec(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop'])
      } finally {
        await rm(root, { recursive: true, force: true })
      }
    },
  }
}
