/**
 * The example API (example-api/) in the four configurations the end-to-end workload compares. All four
 * use the same schema, resolvers, loader definitions and database layer (embedded PGlite, seeded, every
 * statement delayed by DB_DELAY_MS); they differ only in the cache:
 * - `loadcache` / `loadcache-memory`: the example API's own server (`createExampleServer`), with and without
 *   Redis: per-request loaders over loadcache plus its yoga plugin for the `@cached` fields.
 * - `no-cache`: the same schema and resolvers, with plain per-request DataLoaders straight to the database
 *   (batched per request, nothing shared) and no caching plugin.
 * - `response-cache`: `no-cache` plus `@graphql-yoga/plugin-response-cache` (whole responses in memory,
 *   evicted by the entities a mutation returns, as its docs set it up: `session: () => null` for a public API).
 * Only ever imported by an end-to-end worker process.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { useResponseCache } from '@graphql-yoga/plugin-response-cache'
import DataLoader from 'dataloader'
import { createYoga, type Plugin } from 'graphql-yoga'
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

export const E2E_VARIANTS = ['no-cache', 'response-cache', 'loadcache-memory', 'loadcache'] as const
export type E2eVariant = (typeof E2E_VARIANTS)[number]

export interface RunningServer {
  url: string
  db: Database
  cache: LoadCache | undefined
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
    return { url, db: server.db, cache: server.cache, close: () => server.close() }
  }

  const db = await openDatabase({ delayMs: options.dbDelayMs })
  const definitions = createLoaderDefinitions(db)
  // Writes call `invalidate`/`invalidateTags` on the context's cache; here nothing reads from it.
  const cache = createCache({ namespace: 'bench-unused', memory: false })
  const plugins: Plugin<ExampleContext>[] = []
  if (variant === 'response-cache')
    plugins.push(useResponseCache({ session: () => null }) as Plugin<ExampleContext>)
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
    db,
    cache: undefined,
    async close() {
      httpServer.closeAllConnections()
      await new Promise<void>((resolve) => httpServer.close(() => resolve()))
      await cache.close()
      await db.close()
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
