import { spawn } from 'node:child_process'
import { type ClientRequest, type IncomingMessage, request } from 'node:http'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import type { Database } from '../../example-api/db/index.js'
import { createExampleServer } from '../../example-api/server.js'
import type { RedisServer } from '../helpers/redis-server.js'
import { openForFile } from './api-harness.js'

/*
 * SIGTERM on the real process, `tsx example-api/main.ts`, with Redis and every SQL statement slowed down:
 * the requests in flight finish with 200, then the process closes everything and exits 0.
 *
 * "In flight" is made certain rather than hoped for: each request sends its headers and all of its body
 * but the last byte, so the server has received it (the /metrics gauge counts it) and cannot answer it
 * until the test sends that byte, after the SIGTERM.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..')
/** Opening and seeding PGlite, with every statement delayed, on a machine busy with other test files. */
const STARTUP_TIMEOUT_MS = 90_000
const DB_DELAY_MS = 50

let db: Database
let redisServer: RedisServer
openForFile((opened) => {
  ;({ db, redisServer } = opened)
})

/** The example API as a child process, and the lines it prints. */
async function startMain(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'example-api/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const output: string[] = []
  const waiters: Array<{ pattern: RegExp; resolve: (match: RegExpMatchArray) => void }> = []
  const onLine = (line: string) => {
    output.push(line)
    for (const waiter of [...waiters]) {
      const match = line.match(waiter.pattern)
      if (match === null) continue
      waiters.splice(waiters.indexOf(waiter), 1)
      waiter.resolve(match)
    }
  }
  createInterface({ input: child.stdout! }).on('line', onLine)
  createInterface({ input: child.stderr! }).on('line', onLine)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))

  /** The first line, from now on, that matches `pattern`; fails if the process exits first. */
  const line = (pattern: RegExp) =>
    Promise.race([
      new Promise<RegExpMatchArray>((resolve) => waiters.push({ pattern, resolve })),
      exited.then((code) => {
        throw new Error(`example-api exited (${code}) before printing ${pattern}:\n${output.join('\n')}`)
      }),
    ])
  const [, url] = (await line(/^example-api: (http:\/\/\S+\/graphql) /)) as [string, string]
  // It listens on every interface and prints `localhost`; use IPv4 loopback explicitly.
  const base = new URL(url).origin.replace('localhost', '127.0.0.1')
  return { child, base, line, exited, output }
}

/**
 * A POST whose last body byte is held back: the server has the request, and cannot answer it, until
 * `finish()`. Resolves with the response once the server sends it.
 */
function heldPost(url: string, body: string, headers: Record<string, string> = {}) {
  const bytes = Buffer.from(body)
  let sent!: ClientRequest
  const response = new Promise<{ status: number; connection: string | undefined; body: string }>(
    (resolve, reject) => {
      sent = request(
        url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': bytes.length, ...headers },
        },
        (incoming: IncomingMessage) => {
          const chunks: Buffer[] = []
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
          incoming.on('end', () =>
            resolve({
              status: incoming.statusCode ?? 0,
              connection: incoming.headers.connection,
              body: Buffer.concat(chunks).toString(),
            }),
          )
          incoming.on('error', reject)
        },
      )
      sent.on('error', reject)
      sent.write(bytes.subarray(0, -1))
    },
  )
  return { response, finish: () => sent.end(bytes.subarray(-1)) }
}

async function requestsInFlight(base: string): Promise<number> {
  const metrics = await (await fetch(`${base}/metrics`)).text()
  const line = metrics
    .split('\n')
    .find((candidate) => candidate.startsWith('example_http_requests_in_flight '))
  return Number(line?.split(' ')[1])
}

describe('the example API process on SIGTERM', () => {
  it(
    'answers every request in flight with 200, accepts no new connection, then exits 0',
    async () => {
      const main = await startMain({
        PORT: '0',
        DB_DELAY_MS: String(DB_DELAY_MS),
        REDIS_URL: redisServer.url,
        NODE_ENV: 'production',
      })
      const feed = heldPost(
        `${main.base}/graphql`,
        JSON.stringify({ query: '{ posts(first: 5) { title author { name } comments { body } } }' }),
      )
      const rename = heldPost(
        `${main.base}/graphql`,
        JSON.stringify({ query: 'mutation { updateUser(id: "16", input: { name: "Drained" }) { name } }' }),
        { authorization: 'Bearer 16' },
      )
      const trpcRename = heldPost(
        `${main.base}/trpc/user.update`,
        JSON.stringify({ id: '17', name: 'Drained too' }),
        { authorization: 'Bearer 17' },
      )
      const held = [feed, rename, trpcRename]
      // The three held requests, and the scrape asking.
      await vi.waitFor(async () => expect(await requestsInFlight(main.base)).toBe(held.length + 1), {
        timeout: 30_000,
        interval: 20,
      })

      main.child.kill('SIGTERM')
      await main.line(/^example-api: SIGTERM, not accepting connections, draining 3 requests in flight$/)
      await expect(fetch(`${main.base}/health`)).rejects.toThrow()

      for (const { finish } of held) finish()
      const [feedAnswer, renameAnswer, trpcAnswer] = await Promise.all(held.map(({ response }) => response))
      expect(feedAnswer!.status).toBe(200)
      const posts = (JSON.parse(feedAnswer!.body) as { data: { posts: Array<{ comments: unknown[] }> } }).data
        .posts
      expect(posts).toHaveLength(5)
      expect(renameAnswer).toMatchObject({ status: 200 })
      expect(JSON.parse(renameAnswer!.body)).toEqual({ data: { updateUser: { name: 'Drained' } } })
      expect(trpcAnswer).toMatchObject({ status: 200 })
      expect(JSON.parse(trpcAnswer!.body)).toEqual({ result: { data: { id: '17', name: 'Drained too' } } })
      // Their clients are told to reconnect elsewhere.
      for (const answer of [feedAnswer, renameAnswer, trpcAnswer]) expect(answer!.connection).toBe('close')

      await main.line(/^example-api: closed$/)
      expect(await main.exited).toBe(0)
    },
    STARTUP_TIMEOUT_MS + 30_000,
  )

  it(
    'exits 1 at once on a second signal while it drains',
    async () => {
      const main = await startMain({ PORT: '0', NODE_ENV: 'production' })
      // Never finished: without the second signal the drain would wait for it (up to 10 s).
      const stuck = heldPost(`${main.base}/graphql`, JSON.stringify({ query: '{ me { id } }' }))
      stuck.response.catch(() => {})
      await vi.waitFor(async () => expect(await requestsInFlight(main.base)).toBe(2), {
        timeout: 30_000,
        interval: 20,
      })
      main.child.kill('SIGTERM')
      await main.line(/^example-api: SIGTERM, not accepting connections, draining 1 requests in flight$/)
      main.child.kill('SIGINT')
      expect(await main.exited).toBe(1)
      expect(main.output).not.toContain('example-api: closed')
    },
    STARTUP_TIMEOUT_MS,
  )

  it('closes the connections of requests still in flight after shutdownTimeoutMs, and says how many', async () => {
    const warnings: string[] = []
    const server = await createExampleServer({
      db,
      shutdownTimeoutMs: 100,
      logger: { warn: (message) => warnings.push(message), error() {} },
    })
    const { url } = await server.listen(0, '127.0.0.1')
    // Never finished: only the timeout ends it.
    const stuck = heldPost(url, JSON.stringify({ query: '{ me { id } }' }))
    await vi.waitFor(() => expect(server.requestsInFlight()).toBe(1), { timeout: 30_000, interval: 10 })

    await server.close()
    await expect(stuck.response).rejects.toThrow(/socket hang up/)
    expect(warnings).toEqual([
      '[example-api] closed the connections of 1 requests still in flight after 100 ms',
    ])
  })
})
