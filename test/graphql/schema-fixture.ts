import { makeExecutableSchema } from '@graphql-tools/schema'
import { createYoga, type Plugin } from 'graphql-yoga'
import { onTestFinished } from 'vitest'
import { loadCacheDirectiveTypeDefs } from '../../src/graphql/index.js'
import {
  type CreateCacheOptions,
  createCache,
  type LoadCache,
  type LoaderDefinition,
  type Logger,
} from '../../src/index.js'
import { type ResponseCacheOptions, useLoadCache } from '../../src/yoga/index.js'
import { uniqueNamespace } from '../helpers/cache.js'
import type { RedisServer } from '../helpers/redis-server.js'

export interface QueryResult {
  data?: Record<string, unknown> | null
  errors?: { message: string; path?: (string | number)[] }[]
  extensions?: Record<string, unknown>
  cacheControl: string | null
  status: number
}

/** Resolver runs per coordinate: the directives promise how often the original resolver runs. */
export type Runs = Record<string, number>

/**
 * A GraphQL schema (the directives' SDL is prepended) served by yoga with loadcache, as many "instances" as
 * a test wants: memory-only, or each with its own cache and client on one redis-server and namespace, like
 * separate processes. Everything is closed when the test finishes.
 */
export function graphqlFixture(options: {
  typeDefs: string
  resolvers: (ran: (coordinate: string) => void) => object
  redis?: RedisServer
  cacheOptions?: CreateCacheOptions
  logger?: Logger
}) {
  const runs: Runs = {}
  const ran = (coordinate: string) => {
    runs[coordinate] = (runs[coordinate] ?? 0) + 1
  }
  const schema = makeExecutableSchema({
    typeDefs: [loadCacheDirectiveTypeDefs(), options.typeDefs],
    resolvers: options.resolvers(ran) as never,
  })
  const namespace = uniqueNamespace()

  async function instance(
    extra: {
      /** Plugins after useLoadCache. */
      plugins?: Plugin[]
      /** Plugins before it (their hooks run first). */
      pluginsBefore?: Plugin[]
      debug?: boolean
      responses?: boolean | ResponseCacheOptions
      // biome-ignore lint/suspicious/noExplicitAny: any definition, as useLoadCache takes them.
      loaders?: Record<string, LoaderDefinition<any, any>>
      /** useLoadCache's `cacheControl` option (default true). */
      cacheControl?: boolean
      /** yoga's `batching` option: several operations in one HTTP request (default off). */
      batching?: boolean
      /** The app's own context factory (default: the viewer id only). */
      context?: (cache: LoadCache) => (initial: { request: Request }) => Record<string, unknown>
    } = {},
  ) {
    const cache: LoadCache = createCache({
      namespace,
      logger: options.logger,
      // Generous: on a loaded machine a 250 ms timeout turns slow moments into misses (fault tests set theirs).
      redisTimeoutMs: 2000,
      ...options.cacheOptions,
      redis: options.redis?.client(),
    })
    onTestFinished(() => cache.close())
    if (!(await cache.ready())) throw new Error('the bus did not connect in 5 s')
    const yoga = createYoga<Record<string, unknown>>({
      schema,
      logging: false,
      maskedErrors: false,
      batching: extra.batching ?? false,
      context:
        extra.context?.(cache) ?? (({ request }: { request: Request }) => ({ viewerId: viewerOf(request) })),
      plugins: [
        ...(extra.pluginsBefore ?? []),
        useLoadCache({
          cache,
          viewer: ({ request }) => viewerOf(request),
          debug: extra.debug,
          responses: extra.responses,
          loaders: extra.loaders,
          cacheControl: extra.cacheControl,
        }),
        ...(extra.plugins ?? []),
      ],
    })
    async function send(
      source: string,
      variables: Record<string, unknown> = {},
      viewer?: string,
      headers: Record<string, string> = {},
    ): Promise<Response> {
      return yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(viewer ? { authorization: `Bearer ${viewer}` } : {}),
          ...headers,
        },
        body: JSON.stringify({ query: source, variables }),
      })
    }
    async function query(
      source: string,
      variables: Record<string, unknown> = {},
      viewer?: string,
    ): Promise<QueryResult> {
      const response = await send(source, variables, viewer)
      const body = (await response.json()) as Omit<QueryResult, 'cacheControl' | 'status'>
      return { ...body, cacheControl: response.headers.get('cache-control'), status: response.status }
    }
    return { cache, yoga, query, send }
  }

  return { runs, instance, schema, namespace }
}

export function viewerOf(request: Request): string | null {
  const header = request.headers.get('authorization')
  return header?.startsWith('Bearer ') ? header.slice(7) : null
}

/** A logger that keeps what it was told, for asserting warnings. */
export function recordingLogger(): Logger & { readonly warnings: string[]; readonly errors: string[] } {
  const warnings: string[] = []
  const errors: string[] = []
  return {
    warnings,
    errors,
    warn: (message) => warnings.push(message),
    error: (message) => errors.push(message),
  }
}
