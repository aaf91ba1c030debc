import type { Plugin } from 'graphql-yoga'
import type { LoadCache, Logger } from 'loadcache'
import type { Database, DriverKind } from '../db/index.js'

/** The body of `GET /health`. */
export interface HealthReport {
  /**
   * `ok`: everything answers. `degraded`: Redis does not, so the cache serves from the database (it fails
   * open) and the API still answers correctly, only slower. `down`: the database does not answer.
   */
  status: 'ok' | 'degraded' | 'down'
  db: { status: 'up' | 'down'; driver: DriverKind }
  redis: {
    /** `disabled` when the server runs memory-only (no `REDIS_URL`). */
    status: 'up' | 'down' | 'disabled'
    breaker: 'closed' | 'open' | 'half-open' | 'disabled'
    busConnected: boolean
    pendingInvalidations: number
  }
}

/** Where the health check looks. */
export interface HealthSources {
  db: Database
  cache: LoadCache
  /** The server's Redis client, if it has one; pinged on each check. */
  redis?: { ping(): Promise<unknown> } | undefined
  logger: Logger
  /** Longest each probe may take before it counts as down. */
  timeoutMs: number
}

/**
 * Probes the database and Redis concurrently, each bounded by `timeoutMs`, so the check answers within
 * that time even when a dependency hangs.
 *
 * The database probe is the cheapest statement the data layer has (`listPostIds({ first: 0 })`, a
 * `LIMIT 1` on the primary key). It is a real statement, so it is counted in
 * `example_db_queries_total{table="posts"}` like any other: health probes are load on the database too.
 *
 * Never rejects; failures are logged through `logger.warn` and reported as `down`.
 */
export async function checkHealth(sources: HealthSources): Promise<HealthReport> {
  const { db, cache, redis, logger, timeoutMs } = sources
  const [dbUp, redisUp] = await Promise.all([
    probe('database', () => db.listPostIds({ first: 0 }), timeoutMs, logger),
    redis === undefined ? Promise.resolve(undefined) : probe('redis', () => redis.ping(), timeoutMs, logger),
  ])
  const stats = cache.stats().redis
  return {
    status: !dbUp ? 'down' : redisUp === false ? 'degraded' : 'ok',
    db: { status: dbUp ? 'up' : 'down', driver: db.driver },
    redis: {
      status: redisUp === undefined ? 'disabled' : redisUp ? 'up' : 'down',
      breaker: stats.breaker,
      busConnected: stats.busConnected,
      pendingInvalidations: stats.pendingInvalidations,
    },
  }
}

/**
 * Serves {@link checkHealth} as JSON on `GET path` (default `/health`): 200 when the API can answer
 * (`ok` or `degraded`), 503 when the database is down, so a load balancer takes the instance out only
 * when it is actually useless.
 */
export function useHealthEndpoint(sources: HealthSources, path = '/health'): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== path || (request.method !== 'GET' && request.method !== 'HEAD')) return
      const report = await checkHealth(sources)
      endResponse(
        fetchAPI.Response.json(report, {
          status: report.status === 'down' ? 503 : 200,
          headers: { 'cache-control': 'no-store' },
        }),
      )
    },
  }
}

async function probe(
  name: string,
  check: () => Promise<unknown>,
  timeoutMs: number,
  logger: Logger,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    await Promise.race([check(), timeout])
    return true
  } catch (error) {
    logger.warn(`[example-api] health: ${name} is down: ${error instanceof Error ? error.message : error}`)
    return false
  } finally {
    clearTimeout(timer)
  }
}
