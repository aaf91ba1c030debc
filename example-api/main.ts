/**
 * Runs the example API: `npx tsx example-api/main.ts`.
 *
 * Environment:
 * - `PORT`: HTTP port, default 4000.
 * - `REDIS_URL`: `redis://…` switches the cache to L1 + Redis + invalidation bus; memory-only without it.
 * - `DATABASE_URL`: `postgres://…` uses PostgreSQL (tables created and seeded if empty); embedded PGlite
 *   seeded in memory without it.
 * - `DB_DELAY_MS`: milliseconds added to every SQL statement, to model a database across a network.
 * - `NODE_ENV`: `production` hides field suggestions from GraphQL errors (see `ExampleServerOptions`).
 *
 * SIGTERM or SIGINT stops gracefully: no new connections, the requests in flight finish (at most 10 s),
 * then the cache, Redis and the database are closed and the process exits 0. A second signal exits at once.
 */
import type { Logger } from 'loadcache'
import { createExampleServer } from './server.js'

const logger: Logger = {
  info: (message) => console.info(message),
  warn: (message) => console.warn(message),
  error: (message) => console.error(message),
}

try {
  await main()
} catch (error) {
  // Configuration mistakes and an unreachable PostgreSQL are reported in one line, not as a stack trace.
  console.error(`example-api: failed to start: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
}

async function main(): Promise<void> {
  const port = integerFromEnv('PORT', 4000, 0, 65_535)
  const dbDelayMs = integerFromEnv('DB_DELAY_MS', 0, 0, 60_000)
  const redisUrl = process.env.REDIS_URL || undefined
  const databaseUrl = process.env.DATABASE_URL || undefined

  const startedAt = performance.now()
  const server = await createExampleServer({ redisUrl, databaseUrl, dbDelayMs, logger })
  const { url, trpcUrl } = await server.listen(port).catch(async (error: unknown) => {
    await server.close()
    throw error
  })
  const db = `${server.db.driver}${dbDelayMs > 0 ? ` +${dbDelayMs} ms/statement` : ''}`
  const cache = redisUrl ? 'memory + redis' : 'memory only'
  const readyMs = Math.round(performance.now() - startedAt)
  console.info(`example-api: ${url} (db: ${db}, cache: ${cache}; ready in ${readyMs} ms)`)
  console.info(
    `example-api: tRPC ${trpcUrl}, health ${new URL('/health', url)}, metrics ${new URL('/metrics', url)}`,
  )

  let stopping = false
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      // A second signal while closing means "now".
      if (stopping) process.exit(1)
      stopping = true
      const inFlight = server.requestsInFlight()
      // close() stops accepting connections before it returns: once this line is out, none is accepted.
      const closed = server.close()
      console.info(
        `example-api: ${signal}, not accepting connections, draining ${inFlight} requests in flight`,
      )
      closed.then(
        () => {
          console.info('example-api: closed')
          process.exit(0)
        },
        (error: unknown) => {
          console.error('example-api: close failed', error)
          process.exit(1)
        },
      )
    })
  }
}

/**
 * Reads an integer environment variable; unset or empty means `fallback`.
 *
 * @throws RangeError naming the variable and the value when it is not an integer from `min` to `max`.
 */
function integerFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`)
  }
  return value
}
