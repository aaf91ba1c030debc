import type { RequestListener } from 'node:http'
import { createHTTPHandler } from '@trpc/server/adapters/standalone'
import type { LoadCache, Logger } from 'loadcache'
import { viewerFromAuthorization } from '../context.js'
import type { Database } from '../db/index.js'
import type { RequestLimits } from '../http/limits.js'
import type { LoaderDefinitions } from '../loaders.js'
import { type AppRouter, createAppRouter, createExampleLoadCacheTRPC, type TrpcContext } from './router.js'

/** Where the tRPC router is served: `/trpc/<procedure path>`, e.g. `/trpc/user.byId?input=…`. */
export const TRPC_BASE_PATH = '/trpc'

/** What the tRPC side of the example API shares with the GraphQL side. */
export interface TrpcHandlerOptions {
  db: Database
  /** The process-wide cache, the one GraphQL uses. */
  cache: LoadCache
  /** The loader definitions GraphQL uses (`createLoaderDefinitions(db)`). */
  loaderDefinitions: LoaderDefinitions
  /** Receives unexpected errors (clients see them masked). */
  logger: Logger
  /** `maxRequestBodyBytes` (→ 413 `PAYLOAD_TOO_LARGE`) and `maxTrpcBatchSize` (→ 400) apply here. */
  limits: Pick<RequestLimits, 'maxRequestBodyBytes' | 'maxTrpcBatchSize'>
}

/**
 * The tRPC router of the example API as a node:http request listener for requests under
 * {@link TRPC_BASE_PATH} (see {@link isTrpcRequest}): a context per HTTP request (fresh loaders, the
 * viewer of `authorization: Bearer <userId>`), `Cache-Control` from loadcache's `responseMeta`, and the
 * body and batch limits of `options.limits`.
 */
export function createTrpcHandler(options: TrpcHandlerOptions): {
  router: AppRouter
  handler: RequestListener
} {
  const { db, cache, loaderDefinitions, logger, limits } = options
  const lc = createExampleLoadCacheTRPC(cache, loaderDefinitions)
  const router = createAppRouter(lc)
  const handler = createHTTPHandler({
    router,
    basePath: `${TRPC_BASE_PATH}/`,
    // tRPC's defaults are unlimited: one request could make the server buffer any body, or run any
    // number of calls.
    maxBodySize: limits.maxRequestBodyBytes,
    maxBatchSize: limits.maxTrpcBatchSize,
    createContext: ({ req }): TrpcContext => {
      const viewerId = viewerFromAuthorization(req.headers.authorization)
      return {
        ...lc.createContext({ viewer: viewerId }),
        db,
        cache,
        definitions: loaderDefinitions,
        viewerId,
      }
    },
    responseMeta: lc.responseMeta,
    onError: ({ error, path }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') {
        logger.error(
          `[example-api] trpc ${path ?? '(no path)'}: ${error.cause?.stack ?? error.stack ?? error.message}`,
        )
      }
    },
  })
  return { router, handler }
}

/** Whether a node:http request URL (`/trpc/user.byId?…`) is for the tRPC router. */
export function isTrpcRequest(url: string | undefined): boolean {
  if (url === undefined) return false
  const path = url.split('?', 1)[0] ?? ''
  return path === TRPC_BASE_PATH || path.startsWith(`${TRPC_BASE_PATH}/`)
}
