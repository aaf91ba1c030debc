import { engineOf, type LoadCache } from '../cache/create-cache.js'
import type { Serializer } from '../core/entry.js'
import { LoadCacheError } from '../core/errors.js'
import type { CacheId } from '../core/keys.js'
import { defineInternalLoader, type LoaderDefinition } from '../loader/define-loader.js'

/** The scope of a cached value: PUBLIC entries are shared by all viewers, PRIVATE ones are keyed by viewer. */
export type CacheScope = 'PUBLIC' | 'PRIVATE'

/**
 * How one cached GraphQL field or tRPC procedure is cached, decided once when the schema or router is
 * built. Its loader definition names the cache entries (`Type.field`, `trpc.path`); the values come from
 * each request's resolvers (see RequestCacheState#loadField), never from the definition's `fetch`.
 */
export interface CachePlan {
  /** `Type.field` or `trpc.<path>`: names the entries, the stats and the warnings. */
  readonly coordinate: string
  /** Seconds. */
  readonly ttl: number
  readonly scope: CacheScope
  /** A root field or a procedure: it decides whether the whole response may be cached. */
  readonly isRoot: boolean
  readonly definition: LoaderDefinition<string, unknown>
}

export interface FieldPlanOptions {
  /** Which integration caches it: a cache refuses a user's loader with the same name (they would share entries). */
  readonly origin: 'graphql' | 'trpc'
  readonly coordinate: string
  readonly ttl: number
  readonly scope: CacheScope
  readonly isRoot: boolean
  readonly serializer?: Serializer
  /** When given, the plan is checked against this cache now (e.g. a ttl above its `maxTtl`). */
  readonly cache?: LoadCache
}

/**
 * Builds the plan of a cached field or procedure: one for GraphQL (`@cached`, policies) and tRPC (`cached()`).
 *
 * No grace and no early refresh: a background refresh would run a resolver after its request has ended.
 *
 * @throws LoadCacheTypeError (E_INVALID_OPTION) when the ttl exceeds the cache's `maxTtl`, or when the cache
 *   already has a loader of this name.
 */
export function buildFieldPlan(options: FieldPlanOptions): CachePlan {
  const { coordinate } = options
  const definition = defineInternalLoader<string, unknown>(options.origin, {
    name: coordinate,
    ttl: options.ttl,
    grace: 0,
    earlyRefresh: false,
    serializer: options.serializer,
    fetch: () => {
      throw new LoadCacheError(
        'E_MISUSE',
        `${coordinate} is loaded through a request's state only (it runs that request's resolver)`,
      )
    },
  })
  if (options.cache !== undefined) {
    engineOf(options.cache).runtime(definition as LoaderDefinition<CacheId, unknown>)
  }
  return { coordinate, ttl: options.ttl, scope: options.scope, isRoot: options.isRoot, definition }
}
