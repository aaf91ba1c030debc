import { makeExecutableSchema } from '@graphql-tools/schema'
import type { IResolvers } from '@graphql-tools/utils'
import type { GraphQLSchema } from 'graphql'
import { createYoga } from 'graphql-yoga'
import { type LoadCacheDirectivesOptions, loadCacheDirectiveTypeDefs } from '../../src/graphql/index.js'
import { type CreateCacheOptions, createCache, type LoadCache } from '../../src/index.js'
import { useLoadCache } from '../../src/yoga/index.js'

/** The context every fixture resolver gets: who is asking (null = anonymous). */
export interface ViewerContext {
  viewerId: string | null
}

export interface Served {
  data?: Record<string, unknown> | null
  errors?: { message: string; path?: (string | number)[] }[]
  extensions?: Record<string, unknown>
  status: number
  cacheControl: string | null
  age: string | null
}

export interface QueryOptions {
  variables?: Record<string, unknown>
  /** Sent as `authorization: Bearer <viewer>`; none = anonymous. */
  viewer?: string
  /** POST (default) or GET (query in the URL). */
  method?: 'GET' | 'POST'
  operationName?: string
}

/**
 * Wraps every field resolver (not `__resolveType`/`__isTypeOf`) so each run is counted under `Type.field`:
 * the directives' promise is about how often the original resolver runs.
 */
export function countRuns(resolvers: Record<string, Record<string, unknown>>): {
  resolvers: IResolvers
  runs: Record<string, number>
} {
  const runs: Record<string, number> = {}
  const wrapped: Record<string, Record<string, unknown>> = {}
  for (const [typeName, fields] of Object.entries(resolvers)) {
    wrapped[typeName] = {}
    for (const [fieldName, resolver] of Object.entries(fields)) {
      if (typeof resolver !== 'function' || fieldName.startsWith('__')) {
        wrapped[typeName][fieldName] = resolver
        continue
      }
      const coordinate = `${typeName}.${fieldName}`
      wrapped[typeName][fieldName] = (...args: unknown[]) => {
        runs[coordinate] = (runs[coordinate] ?? 0) + 1
        return (resolver as (...a: unknown[]) => unknown)(...args)
      }
    }
  }
  return { resolvers: wrapped as IResolvers, runs }
}

export interface FixtureOptions {
  /** SDL without the directive definitions (they are prepended). */
  typeDefs: string
  resolvers: Record<string, Record<string, unknown>>
  cacheOptions?: CreateCacheOptions
  debug?: boolean
  batching?: boolean
  directives?: LoadCacheDirectivesOptions
  /** loadcache's response tier (`useLoadCache({ responses })`). Default off. */
  responses?: boolean
}

/**
 * A schema with the loadcache directives, its resolvers counted, served by graphql-yoga with `useLoadCache`
 * and queried in-process with `yoga.fetch`. `server()` makes another yoga on its own (or the given) cache.
 */
export function conformanceFixture(options: FixtureOptions) {
  const { resolvers, runs } = countRuns(options.resolvers)
  const schema = makeExecutableSchema({
    typeDefs: [loadCacheDirectiveTypeDefs(), options.typeDefs],
    resolvers,
  })
  const caches: LoadCache[] = []

  function server(serverOptions: { cache?: LoadCache; responses?: boolean } = {}) {
    const cache = serverOptions.cache ?? createCache({ jitter: 0, ...options.cacheOptions })
    caches.push(cache)
    const yoga = createYoga<Record<string, unknown>, ViewerContext>({
      schema,
      logging: false,
      maskedErrors: false,
      batching: options.batching ?? false,
      context: ({ request }: { request: Request }) => ({ viewerId: viewerOf(request) }),
      plugins: [
        useLoadCache({
          cache,
          viewer: (context) => viewerOf(context.request),
          debug: options.debug,
          directives: options.directives,
          responses: serverOptions.responses ?? options.responses ?? false,
        }),
      ],
    })

    async function send(
      body: unknown,
      { viewer, method = 'POST' }: Pick<QueryOptions, 'viewer' | 'method'>,
    ): Promise<Response> {
      const headers: Record<string, string> = viewer ? { authorization: `Bearer ${viewer}` } : {}
      if (method === 'GET') {
        const { query, variables, operationName } = body as Record<string, unknown>
        const params = new URLSearchParams({ query: String(query) })
        if (variables !== undefined) params.set('variables', JSON.stringify(variables))
        if (operationName !== undefined) params.set('operationName', String(operationName))
        return yoga.fetch(`http://localhost/graphql?${params}`, {
          method: 'GET',
          headers: { accept: 'application/json', ...headers },
        })
      }
      return yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body: JSON.stringify(body),
      })
    }

    async function query(source: string, queryOptions: QueryOptions = {}): Promise<Served> {
      const { variables, operationName } = queryOptions
      const response = await send({ query: source, variables, operationName }, queryOptions)
      const text = await response.text()
      const body = (text ? JSON.parse(text) : {}) as Omit<Served, 'status' | 'cacheControl' | 'age'>
      return {
        ...body,
        status: response.status,
        cacheControl: response.headers.get('cache-control'),
        age: response.headers.get('age'),
      }
    }

    /** A batched HTTP request (yoga `batching: true`): several operations, one response and one header. */
    async function batch(
      operations: { query: string; variables?: Record<string, unknown> }[],
      viewer?: string,
    ): Promise<{ results: Served[]; cacheControl: string | null }> {
      const response = await send(operations, { viewer })
      const results = (await response.json()) as Served[]
      return { results, cacheControl: response.headers.get('cache-control') }
    }

    return { yoga, cache, query, batch }
  }

  return {
    schema: schema as GraphQLSchema,
    runs,
    server,
    close: () => Promise.all(caches.splice(0).map((cache) => cache.close())),
  }
}

export function viewerOf(request: Request): string | null {
  const header = request.headers.get('authorization')
  return header?.startsWith('Bearer ') ? header.slice(7) : null
}
