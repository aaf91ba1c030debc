import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions'
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga'
import { Redis } from 'ioredis'
import { type CreateCacheOptions, createCache, type LoadCache, type Logger } from 'loadcache'
import { useLoadCache } from 'loadcache/yoga'
import { type ExampleContext, viewerFromRequest } from './context.js'
import { type Database, openDatabase } from './db/index.js'
import { useQueryLimits } from './graphql/query-limits.js'
import { useRequireViewerForMutations } from './graphql/require-viewer.js'
import { useHealthEndpoint } from './http/health.js'
import { trackRequestsInFlight } from './http/in-flight.js'
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from './http/limits.js'
import { createMetricsRegistry, useMetricsEndpoint } from './http/metrics.js'
import { createLoaderDefinitions, type LoaderDefinitions } from './loaders.js'
import { createExampleSchema } from './schema.js'
import { createTrpcHandler, isTrpcRequest, TRPC_BASE_PATH } from './trpc/handler.js'
import type { AppRouter } from './trpc/router.js'

/** Options of {@link createExampleServer}. */
export interface ExampleServerOptions {
  /**
   * An open database to use. The server does not close it, so tests (and several servers in one
   * process) can share one. When omitted the server opens its own from `databaseUrl`/`dbDelayMs` and
   * closes it in `close()`.
   */
  db?: Database
  /** `postgres://…` to use PostgreSQL; embedded PGlite (seeded in memory) when omitted or empty. */
  databaseUrl?: string
  /** Milliseconds added to every SQL statement (see `openDatabase`). Default 0. */
  dbDelayMs?: number
  /**
   * `redis://…`: the cache becomes two-tier (L1 + Redis) with the invalidation bus, shared with every
   * server using the same Redis and `namespace`. Memory-only when omitted or empty. The server opens
   * and closes its own client.
   */
  redisUrl?: string
  /** Cache namespace: the prefix of every Redis key and of the bus channel. Default `'example-api'`. */
  namespace?: string
  /** The cache's per-command Redis timeout, in ms. Default: loadcache's (250). */
  redisTimeoutMs?: number
  /** Compression of large values in Redis (the cache's `compression` option). Default: loadcache's (on). */
  compression?: CreateCacheOptions['compression']
  /**
   * Longest `createExampleServer` waits for the bus subscription before it resolves anyway, in ms.
   * Default 2000. Not waiting forever keeps the server starting while Redis is down: the cache fails
   * open (reads go to the database) and recovers when Redis does.
   */
  redisReadyTimeoutMs?: number
  /** Receives the cache's, yoga's and the health check's messages. Default: silent. */
  logger?: Logger
  /** Adds `extensions.loadcache` (hits, misses, evicted tags) to GraphQL results. Default false. */
  debug?: boolean
  /**
   * Serve whole query responses from the cache (loadcache's response tier). Default true: every resolver
   * of this API that reads data is `@cached` or reads through `context.loaders`, which is what the tier
   * needs to know what a response depends on.
   */
  responses?: boolean
  /**
   * Production mode: GraphQL error messages do not suggest field names ("Did you mean …?"), which would
   * let anyone map the schema field by field even with introspection off. Default:
   * `process.env.NODE_ENV === 'production'`. No response carries a stack trace in either mode.
   */
  production?: boolean
  /** What one request may ask for; see http/limits.ts for each limit and why. Default `DEFAULT_REQUEST_LIMITS`. */
  limits?: Partial<RequestLimits>
  /**
   * Longest `close()` lets the requests in flight finish before it closes their connections, in ms.
   * Default 10,000 (Kubernetes waits 30 s between SIGTERM and SIGKILL by default).
   */
  shutdownTimeoutMs?: number
}

/** A running example API. */
export interface ExampleServer {
  /** The GraphQL server; `yoga.fetch(url, init)` serves a request in-process. */
  readonly yoga: YogaServerInstance<Record<string, unknown>, ExampleContext>
  /** The tRPC router served at `/trpc`; clients take its type, `AppRouter`, from trpc/router.ts. */
  readonly trpcRouter: AppRouter
  /** The node:http server around `yoga` and the tRPC handler; it accepts connections after `listen()`. */
  readonly httpServer: Server
  /** Requests received and not answered yet (GraphQL, tRPC, health and metrics alike). */
  requestsInFlight(): number
  readonly db: Database
  /** The process-wide cache every request's loaders use. */
  readonly cache: LoadCache
  /** The loader definitions, bound to `db`; `cache.loaders(loaderDefinitions)` makes one request's loaders. */
  readonly loaderDefinitions: LoaderDefinitions
  /**
   * Starts accepting HTTP connections. `port` 0 picks a free port.
   *
   * @returns the bound port, the GraphQL endpoint's URL and the tRPC base URL (`…/trpc`).
   * @throws when the port is taken (`EADDRINUSE`) or not allowed.
   */
  listen(port: number, host?: string): Promise<{ port: number; url: string; trpcUrl: string }>
  /**
   * Stops gracefully: stops accepting connections (before it returns), lets the requests in flight
   * finish (for at most `shutdownTimeoutMs`, then closes their connections), then stops the cache's bus
   * and timers and closes what the server opened (Redis, the database), which those requests still
   * needed. Idempotent.
   */
  close(): Promise<void>
}

const DEFAULT_NAMESPACE = 'example-api'
const DEFAULT_REDIS_READY_TIMEOUT_MS = 2000
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000
const HEALTH_TIMEOUT_MS = 2000

const silentLogger: Logger = { warn() {}, error() {} }

/**
 * Creates the example API: graphql-yoga on node:http serving `POST /graphql`, `GET /health` and
 * `GET /metrics`, and a tRPC router under `/trpc` (trpc/router.ts), with per-request loaders over one
 * shared loadcache (memory-only, or L1 + Redis + bus with `redisUrl`). GraphQL and tRPC share the
 * database, the cache, the loader definitions, the writes and their tags, so a write through either
 * evicts what both serve. Resolves once the database is open and seeded and, with Redis, once the bus is
 * subscribed (or `redisReadyTimeoutMs` has passed).
 *
 * @throws whatever `openDatabase` or `createCache` throw for bad options or an unreachable PostgreSQL.
 */
export async function createExampleServer(options: ExampleServerOptions = {}): Promise<ExampleServer> {
  const logger = options.logger ?? silentLogger
  const ownsDb = options.db === undefined
  const db =
    options.db ?? (await openDatabase({ databaseUrl: options.databaseUrl, delayMs: options.dbDelayMs }))

  let redis: Redis | undefined
  let cache: LoadCache
  try {
    redis = options.redisUrl ? connectRedis(options.redisUrl, logger) : undefined
    cache = createCache({
      namespace: options.namespace ?? DEFAULT_NAMESPACE,
      redis,
      logger,
      redisTimeoutMs: options.redisTimeoutMs,
      compression: options.compression,
    })
  } catch (error) {
    redis?.disconnect()
    if (ownsDb) await db.close()
    throw error
  }
  const loaderDefinitions = createLoaderDefinitions(db)
  // Registers every loader with the cache, so /metrics lists each one (at zero) before its first use.
  cache.loaders(loaderDefinitions)
  if (redis) await waitForBus(cache, options.redisReadyTimeoutMs ?? DEFAULT_REDIS_READY_TIMEOUT_MS, logger)

  // Applies the @cached/@invalidates directives of schema.graphql, keys PRIVATE fields by the viewer and
  // sets Cache-Control. The per-request loaders come from the context factory below.
  const loadCache = useLoadCache<Record<string, never>>({
    cache,
    viewer: ({ request }) => viewerFromRequest(request),
    debug: options.debug,
    responses: options.responses ?? true,
  }) as Plugin<ExampleContext>

  const limits: RequestLimits = { ...DEFAULT_REQUEST_LIMITS, ...options.limits }
  const production = options.production ?? process.env.NODE_ENV === 'production'
  const schema = createExampleSchema()
  const yoga = createYoga<Record<string, unknown>, ExampleContext>({
    schema,
    // One context per request: fresh loaders (they memoize per request and per viewer), and the viewer.
    context: ({ request }) => ({
      db,
      cache,
      loaders: cache.loaders(loaderDefinitions),
      definitions: loaderDefinitions,
      viewerId: viewerFromRequest(request),
    }),
    plugins: [
      useHealthEndpoint({ db, cache, redis, logger, timeoutMs: HEALTH_TIMEOUT_MS }),
      useMetricsEndpoint(
        createMetricsRegistry({ cache, db, http: { requestsInFlight: () => inFlight.count } }),
      ),
      // Both refuse before useLoadCache sees the request: no cache lookup, fill lock or eviction for them.
      useQueryLimits(schema, limits),
      useRequireViewerForMutations<ExampleContext>((context) => context.viewerId),
      ...(production ? [blockFieldSuggestionsPlugin()] : []),
      loadCache,
    ],
    // 413 for a larger body, counted while it streams in, before any JSON is parsed.
    maxRequestBodySize: limits.maxRequestBodyBytes,
    // Yoga adds the stack of a masked error to the response when NODE_ENV is `development`; the log
    // (yogaLogger) has it in every mode, and responses never do.
    maskedErrors: { isDev: false },
    // Yoga's own check answers 200 without looking at anything; it stays available as a liveness
    // probe, moved out of the way of the readiness check on /health (it matches any URL ending in it).
    healthCheckEndpoint: '/health/live',
    logging: yogaLogger(logger),
  })
  const trpc = createTrpcHandler({ db, cache, loaderDefinitions, logger, limits })
  const httpServer = createServer((request, response) => {
    if (isTrpcRequest(request.url)) trpc.handler(request, response)
    else yoga(request, response)
  })
  const inFlight = trackRequestsInFlight(httpServer)
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS

  let closing: Promise<void> | undefined
  return {
    yoga,
    trpcRouter: trpc.router,
    httpServer,
    requestsInFlight: () => inFlight.count,
    db,
    cache,
    loaderDefinitions,
    listen: (port, host) => listen(httpServer, port, host),
    close() {
      closing ??= (async () => {
        if (httpServer.listening) {
          const unanswered = await inFlight.drain(shutdownTimeoutMs)
          if (unanswered > 0) {
            logger.warn(
              `[example-api] closed the connections of ${unanswered} requests still in flight after ${shutdownTimeoutMs} ms`,
            )
          }
        }
        await cache.close()
        // QUIT waits for a reply, which never comes while Redis is unreachable: then just drop the socket.
        if (redis?.status === 'ready') await redis.quit().catch(() => redis?.disconnect())
        else redis?.disconnect()
        if (ownsDb) await db.close()
      })()
      return closing
    },
  }
}

/**
 * An ioredis client for the cache. `maxRetriesPerRequest: 1`: the cache bounds each command with its
 * own timeout and falls back to the database, so a command queued through many reconnect attempts would
 * only add latency. Connection errors are logged once per distinct message, not on every retry.
 */
function connectRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  let lastError: string | undefined
  redis.on('error', (error: Error) => {
    if (error.message === lastError) return
    lastError = error.message
    logger.warn(`[example-api] redis: ${error.message}`)
  })
  redis.on('ready', () => {
    lastError = undefined
  })
  return redis
}

/**
 * Waits until the cache's bus subscription is up. Until then the cache bypasses L1 (a process that cannot
 * hear invalidations must not serve from memory), which is correct but slower; not waiting forever is
 * what lets the server start while Redis is down.
 */
async function waitForBus(cache: LoadCache, timeoutMs: number, logger: Logger): Promise<void> {
  if (!(await cache.ready(timeoutMs))) {
    logger.warn(`[example-api] redis: bus not connected after ${timeoutMs} ms; starting without L1`)
  }
}

function listen(
  server: Server,
  port: number,
  host?: string,
): Promise<{ port: number; url: string; trpcUrl: string }> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error)
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      const bound = (server.address() as AddressInfo).port
      const urlHost = host === undefined || host === '0.0.0.0' || host === '::' ? 'localhost' : host
      const origin = `http://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${bound}`
      resolve({ port: bound, url: `${origin}/graphql`, trpcUrl: `${origin}${TRPC_BASE_PATH}` })
    })
  })
}

/** Yoga wants all four levels and logs `Error` objects (masked errors); our `Logger` takes strings. */
function yogaLogger(logger: Logger) {
  const text = (args: unknown[]) =>
    args.map((arg) => (arg instanceof Error ? (arg.stack ?? arg.message) : String(arg))).join(' ')
  return {
    debug: (...args: unknown[]) => logger.debug?.(text(args)),
    info: (...args: unknown[]) => logger.info?.(text(args)),
    warn: (...args: unknown[]) => logger.warn(text(args)),
    error: (...args: unknown[]) => logger.error(text(args)),
  }
}
