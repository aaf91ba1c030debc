/**
 * The example API (example-api/) in the configurations the HTTP workloads compare. All use the same
 * schema, resolvers, loader definitions and database layer (embedded PGlite, seeded, every statement
 * delayed by DB_DELAY_MS); they differ only in the cache:
 * - `loadcache` / `loadcache-memory`: the example API's own server (`createExampleServer`), with and without
 *   Redis: per-request loaders over loadcache plus its yoga plugin, whose response tier is on by default.
 * - `no-cache`: the same schema and resolvers, with plain per-request DataLoaders straight to the database
 *   (batched per request, nothing shared) and no caching plugin.
 * - `response-cache`: `no-cache` plus `@graphql-yoga/plugin-response-cache` (whole responses in memory,
 *   evicted by the entities a mutation returns, as its docs set it up: `session: () => null` for a public API).
 * - `response-cache-redis`: the same with its Redis store, `@envelop/response-cache-redis`.
 * Only ever imported by the worker process of an HTTP workload.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createRedisCache } from '@envelop/response-cache-redis'
import { useResponseCache } from '@graphql-yoga/plugin-response-cache'
import DataLoader from 'dataloader'
import type { DefinitionNode } from 'graphql'
import { createYoga, type Plugin } from 'graphql-yoga'
import { Redis } from 'ioredis'
import type { ExampleContext } from '../../example-api/context.js'
import { type Database, openDatabase } from '../../example-api/db/index.js'
import {
  createLoaderDefinitions,
  type ExampleLoaders,
  type LoaderDefinitions,
} from '../../example-api/loaders.js'
import { createExampleSchema } from '../../example-api/schema.js'
import { createExampleServer } from '../../example-api/server.js'
import { createCache, type LoadCache } from '../../src/index.js'

export const E2E_VARIANTS = [
  'no-cache',
  'response-cache',
  'response-cache-redis',
  'loadcache-memory',
  'loadcache',
] as const
export type E2eVariant = (typeof E2E_VARIANTS)[number]

export interface RunningServer {
  url: string
  httpServer: Server
  db: Database
  cache: LoadCache | undefined
  /**
   * Query operations this server executed (graphql-js ran them) since it started: a response served
   * from a cache is not one. loadcache: its response tier's count (`stats().responses`, `misses`: each
   * is an execution); the others: a counting plugin placed after every other one, so a response cache's
   * hit never reaches it.
   */
  queryExecutions(): number
  close(): Promise<void>
}

export async function startExampleServer(
  variant: E2eVariant,
  options: { dbDelayMs: number; redisUrl: string },
): Promise<RunningServer> {
  if (variant === 'loadcache' || variant === 'loadcache-memory') {
    const server = await createExampleServer({
      dbDelayMs: options.dbDelayMs,
      redisUrl: variant === 'loadcache' ? options.redisUrl : undefined,
      namespace: 'bench',
    })
    const { url } = await server.listen(0, '127.0.0.1')
    const cache = server.cache
    return {
      url,
      httpServer: server.httpServer,
      db: server.db,
      cache,
      queryExecutions: () =>
        Object.values(cache.stats().responses).reduce((total, stats) => total + stats.misses, 0),
      close: () => server.close(),
    }
  }

  const db = await openDatabase({ delayMs: options.dbDelayMs })
  const definitions = createLoaderDefinitions(db)
  // Writes call `invalidate`/`invalidateTags` on the context's cache; here nothing reads from it.
  const cache = createCache({ namespace: 'bench-unused', memory: false })
  const plugins: Plugin<ExampleContext>[] = []
  // The Redis store gets its own client (closed in close()), as its README sets it up.
  const redis = variant === 'response-cache-redis' ? new Redis(options.redisUrl) : undefined
  if (variant === 'response-cache')
    plugins.push(useResponseCache({ session: () => null }) as Plugin<ExampleContext>)
  if (redis !== undefined) {
    const cache = createRedisCache({ redis }) as Parameters<typeof useResponseCache>[0]['cache']
    plugins.push(useResponseCache({ session: () => null, cache }) as Plugin<ExampleContext>)
  }
  const executions = { queries: 0 }
  plugins.push(countQueryExecutions(executions))
  const yoga = createYoga<Record<string, unknown>, ExampleContext>({
    schema: createExampleSchema(),
    context: () => ({ db, cache, loaders: plainLoaders(definitions), definitions, viewerId: null }),
    plugins,
    logging: false,
  })
  const httpServer = createServer(yoga)
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
  const { port } = httpServer.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    httpServer,
    db,
    cache: undefined,
    queryExecutions: () => executions.queries,
    async close() {
      httpServer.closeAllConnections()
      await new Promise<void>((resolve) => httpServer.close(() => resolve()))
      await cache.close()
      await redis?.quit()
      await db.close()
    },
  }
}

/**
 * Counts the query operations that reach execution. Placed last: a response cache's hit is answered
 * before (yoga's plugin in onParams; envelop's onExecute ends the hook chain early), so only real
 * executions count.
 */
function countQueryExecutions(counter: { queries: number }): Plugin<ExampleContext> {
  return {
    onExecute({ args }) {
      const operation = args.document.definitions.find(
        (definition: DefinitionNode) =>
          definition.kind === 'OperationDefinition' &&
          (args.operationName == null || definition.name?.value === args.operationName),
      )
      if (operation?.kind === 'OperationDefinition' && operation.operation === 'query') counter.queries++
    },
  }
}

/** One plain DataLoader per definition, calling its `fetch` directly (aligned array or Map, as loadcache accepts). */
function plainLoaders(definitions: LoaderDefinitions): ExampleLoaders {
  const loaders: Record<string, DataLoader<string, unknown>> = {}
  for (const [property, def] of Object.entries(definitions)) {
    const fetch = def.fetch as (ids: readonly string[]) => Promise<unknown>
    loaders[property] = new DataLoader<string, unknown>(async (ids) => {
      const result = await fetch(ids)
      if (result instanceof Map) return ids.map((id) => result.get(id) ?? null)
      return (result as unknown[]).map((value) => value ?? null)
    })
  }
  return loaders as unknown as ExampleLoaders
}
