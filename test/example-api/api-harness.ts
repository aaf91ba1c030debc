import { afterAll, beforeAll, expect, onTestFinished } from 'vitest'
import { type Database, openDatabase, type QueryCounts } from '../../example-api/db/index.js'
import { createExampleServer, type ExampleServer } from '../../example-api/server.js'
import { uniqueNamespace } from '../helpers/cache.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'

/** Opening and seeding PGlite takes ~5 s, more on a busy CI machine; each file does it once. */
export const OPEN_DB_TIMEOUT_MS = 60_000

/**
 * One database and one redis-server for a test file: opened (in parallel) before its first test, handed to
 * `use` (which keeps them in the file's variables), closed after its last.
 */
export function openForFile(use: (opened: { db: Database; redisServer: RedisServer }) => void): void {
  let opened: { db: Database; redisServer: RedisServer } | undefined
  beforeAll(async () => {
    const [db, redisServer] = await Promise.all([openDatabase(), startRedisServer()])
    opened = { db, redisServer }
    use(opened)
  }, OPEN_DB_TIMEOUT_MS)
  afterAll(async () => {
    await opened?.db.close()
    await opened?.redisServer.dispose()
  })
}

/** How a test server caches: memory only, or L1 + the given Redis. */
export type ApiMode = { kind: 'memory' } | { kind: 'redis'; url: string }

/**
 * Starts an example server on a shared, already open database, closed when the test finishes. Each call
 * gets a new cache (cold); pass the same `namespace` to make Redis-backed servers share entries, as
 * separate processes of one deployment would.
 */
export async function startApi(
  db: Database,
  mode: ApiMode,
  namespace: string = uniqueNamespace(),
): Promise<ExampleServer> {
  const server = await createExampleServer({
    db,
    namespace,
    redisUrl: mode.kind === 'redis' ? mode.url : undefined,
    // Generous: on a loaded machine a 250 ms timeout turns slow moments into misses (fault tests set theirs).
    redisTimeoutMs: 2000,
  })
  onTestFinished(() => server.close())
  if (mode.kind === 'redis') expect(server.cache.stats().redis.busConnected).toBe(true)
  return server
}

/** A GraphQL response as yoga sends it. */
export interface GraphQLResponse<Data> {
  data?: Data | null
  errors?: Array<{ message: string; path?: Array<string | number>; extensions?: { code?: string } }>
}

/** Options of one request: variables, and the viewer's user id (sent as `authorization: Bearer <id>`). */
export interface RequestOptions {
  variables?: Record<string, unknown>
  viewer?: string
}

/** Sends one GraphQL request through `yoga.fetch` (in-process, no socket) and returns the parsed body. */
export async function graphql<Data = Record<string, unknown>>(
  server: ExampleServer,
  query: string,
  options: RequestOptions = {},
): Promise<GraphQLResponse<Data>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (options.viewer !== undefined) headers.authorization = `Bearer ${options.viewer}`
  const response = await server.yoga.fetch('http://example-api.test/graphql', {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables: options.variables }),
  })
  return (await response.json()) as GraphQLResponse<Data>
}

/** Like {@link graphql}, but fails the test on any GraphQL error and returns `data`. */
export async function query<Data = Record<string, unknown>>(
  server: ExampleServer,
  source: string,
  options: RequestOptions = {},
): Promise<Data> {
  const result = await graphql<Data>(server, source, options)
  expect(result.errors).toBeUndefined()
  expect(result.data).toBeTruthy()
  return result.data as Data
}

/**
 * Runs `action` and returns how many SQL statements it issued per table. The database is shared by every
 * test of a file and tests run one at a time, so after the reset the counts are exactly this action's.
 */
export async function countQueries(db: Database, action: () => Promise<unknown>): Promise<QueryCounts> {
  db.resetQueryCounts()
  await action()
  return db.queryCounts()
}

let counter = 0
/** A string no earlier test run in this process has used, for names, titles and bodies. */
export function unique(prefix: string): string {
  return `${prefix} ${process.pid}-${++counter}`
}
