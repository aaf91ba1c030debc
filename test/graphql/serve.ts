import type { GraphQLSchema } from 'graphql'
import { createYoga } from 'graphql-yoga'
import { onTestFinished } from 'vitest'
import { type CreateCacheOptions, createCache } from '../../src/index.js'
import { type UseLoadCacheOptions, useLoadCache } from '../../src/yoga/index.js'

export interface Answer {
  data?: Record<string, unknown> | null
  errors?: { message: string }[]
  extensions?: Record<string, unknown>
  cacheControl: string | null
  cacheStatus: string | null
}

/**
 * Serves a schema with graphql-yoga and `useLoadCache` on a fresh memory cache (closed when the test ends),
 * queried in-process. `viewer` is sent as `authorization: Bearer <viewer>`.
 */
export function serve(
  schema: GraphQLSchema,
  // biome-ignore lint/suspicious/noExplicitAny: any loader definitions, as useLoadCache takes them.
  options: Omit<UseLoadCacheOptions<Record<string, any>>, 'cache'> = {},
  cacheOptions: CreateCacheOptions = {},
) {
  const cache = createCache({ jitter: 0, ...cacheOptions })
  onTestFinished(() => cache.close())
  const yoga = createYoga({
    schema,
    logging: false,
    maskedErrors: false,
    context: ({ request }: { request: Request }) => ({ viewerId: viewerOf(request) }),
    plugins: [useLoadCache({ viewer: ({ request }) => viewerOf(request), ...options, cache })],
  })
  async function query(
    source: string,
    {
      viewer,
      headers = {},
      variables,
    }: { viewer?: string; headers?: Record<string, string>; variables?: object } = {},
  ): Promise<Answer> {
    const response = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...(viewer ? { authorization: `Bearer ${viewer}` } : {}),
        ...headers,
      },
      body: JSON.stringify({ query: source, variables }),
    })
    const body = (await response.json()) as Omit<Answer, 'cacheControl' | 'cacheStatus'>
    return {
      ...body,
      cacheControl: response.headers.get('cache-control'),
      cacheStatus: response.headers.get('cache-status'),
    }
  }
  return { cache, yoga, query }
}

export function viewerOf(request: Request): string | null {
  const header = request.headers.get('authorization')
  return header?.startsWith('Bearer ') ? header.slice(7) : null
}

/** Counts resolver runs by coordinate: what the cache promises is how often they run. */
export function runCounter() {
  const runs: Record<string, number> = {}
  return {
    runs,
    ran(coordinate: string) {
      runs[coordinate] = (runs[coordinate] ?? 0) + 1
    },
  }
}
