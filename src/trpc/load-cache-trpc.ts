import { engineOf, type LoadCache, type Loaders } from '../cache/create-cache.js'
import type { Serializer } from '../core/entry.js'
import { invalidOption, LoadCacheError, LoadCacheTypeError } from '../core/errors.js'
import type { CacheId } from '../core/keys.js'
import { stableJson } from '../core/stable-json.js'
import { entityTag } from '../core/tags.js'
import { defineLoader, type LoaderDefinition } from '../loader/define-loader.js'
import { cacheControlFor } from '../request/cache-control.js'
import {
  type CachePlan,
  type CacheScope,
  createLoadCacheContext,
  requestStateOf,
} from '../request/request-state.js'

// biome-ignore lint/suspicious/noExplicitAny: see Loaders: only `any` accepts every definition.
type AnyDefinitions = Record<string, LoaderDefinition<any, any>>

/** The part of tRPC's middleware options loadcache reads (tRPC v11). */
interface MiddlewareOptions {
  readonly ctx: unknown
  readonly path: string
  readonly type: 'query' | 'mutation' | 'subscription'
  readonly input: unknown
  getRawInput(): Promise<unknown>
  next(): Promise<MiddlewareResult>
}

type MiddlewareResult =
  | { readonly ok: true; readonly data: unknown }
  | { readonly ok: false; readonly error: unknown }

/** The subset of a tRPC root object (`initTRPC...create()`) loadcache needs: its middleware factory. */
// biome-ignore lint/suspicious/noExplicitAny: tRPC's middleware builder types are generic over the user's context.
type MiddlewareFactory<M> = { middleware: (fn: (opts: any) => Promise<any>) => M }

export interface CachedOptions<TInput = unknown, TOutput = unknown> {
  /** Seconds the result is cached. */
  ttl: number
  /** Tags of a result, for `invalidateTags` and `invalidates({ tags })`. */
  tags?: (call: { input: TInput; result: TOutput }) => readonly string[]
  /** PUBLIC (default): one entry for everyone. PRIVATE: keyed by viewer, and not cached without one. */
  scope?: CacheScope
  /** Entity type of the result (or of its items, for a list): adds `Type:id` tags, so mutations evict it. */
  entity?: string
  /** How results are stored in Redis. Default JSON: use a custom one if results hold Dates, Maps, … */
  serializer?: Serializer
}

export interface InvalidatesOptions<TInput = unknown, TOutput = unknown> {
  /** Tags to evict after the mutation succeeded, e.g. `({ input }) => ['posts', \`posts:author:${input.authorId}\`]`. */
  tags?: (call: { input: TInput; result: TOutput }) => readonly string[]
  /** Entity type of the result (or of its items): its `Type:id` tags are evicted. */
  entity?: string
}

/**
 * loadcache for tRPC v11: per-request loaders in the context, a `cached` middleware for queries, an
 * `invalidates` middleware for mutations, and `responseMeta` for `Cache-Control`. Uses the same cache,
 * tags and `Type:id` convention as the GraphQL directives, so a write through either evicts both.
 *
 * ```ts
 * const t = initTRPC.context<Context>().create()
 * const lc = createLoadCacheTRPC(t, { cache, loaders: { user } })
 * const createContext = ({ req }) => ({ ...lc.createContext({ viewer: viewerOf(req) }), db })
 * const userById = t.procedure.input(z.object({ id: z.string() })).use(lc.cached({ ttl: 60, entity: 'User' }))
 *   .query(({ ctx, input }) => ctx.loaders.user.load(input.id))
 * // adapter: createHTTPHandler({ router, createContext, responseMeta: lc.responseMeta })
 * ```
 *
 * Place `.use(lc.cached(...))` after `.input()` (validation runs before any cache access) and after
 * `.output()` (output validation then runs on cached values too).
 */
export function createLoadCacheTRPC<M, Defs extends AnyDefinitions = Record<string, never>>(
  t: MiddlewareFactory<M>,
  options: { cache: LoadCache; loaders?: Defs },
) {
  const { cache } = options
  const plans = new Map<string, CachePlan>()

  function planFor(
    path: string,
    ttl: number,
    scope: CacheScope,
    serializer: Serializer | undefined,
  ): CachePlan {
    const name = `trpc.${path}`
    let plan = plans.get(name)
    if (plan === undefined) {
      plan = {
        coordinate: name,
        ttl,
        scope,
        isRoot: true,
        definition: defineLoader<string, { v: unknown }>({
          name,
          ttl,
          serializer,
          // A background refresh would run the procedure after its request has ended: none here.
          grace: 0,
          earlyRefresh: false,
          fetch: () => {
            throw new LoadCacheError('E_MISUSE', `${name} is loaded through the request state only`)
          },
        }),
      }
      plans.set(name, plan)
    }
    return plan
  }

  return {
    /** Context members for one HTTP request: `loaders` (shared by every call of a batched request) and the cache state. */
    createContext(request: { viewer?: CacheId | null } = {}): { loaders: Loaders<Defs> } {
      const loaders = (options.loaders ? cache.loaders(options.loaders) : {}) as Loaders<Defs>
      return { loaders, ...createLoadCacheContext(cache, { viewer: request.viewer, loaders }) }
    },

    /** Caches a query procedure's result under its path, a stable hash of its input, and (PRIVATE) the viewer. */
    cached<TInput = unknown, TOutput = unknown>(cachedOptions: CachedOptions<TInput, TOutput>): M {
      const { ttl, tags, entity, serializer } = cachedOptions
      const scope = cachedOptions.scope ?? 'PUBLIC'
      if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl <= 0) {
        throw invalidOption('cached({ ttl })', ttl, 'a positive integer (seconds)')
      }
      if (scope !== 'PUBLIC' && scope !== 'PRIVATE')
        throw invalidOption('cached({ scope })', scope, "'PUBLIC' or 'PRIVATE'")
      const { maxTtl } = engineOf(cache).options
      if (ttl > maxTtl)
        throw invalidOption('cached({ ttl })', ttl, `at most the cache's maxTtl (${maxTtl} s)`)
      return t.middleware(async (opts: MiddlewareOptions) => {
        const state = requestStateOf(opts.ctx)
        if (state === undefined || opts.type !== 'query') return opts.next()
        if (opts.input === undefined && (await opts.getRawInput()) !== undefined) {
          // Before .input() the parsed input is unknown: every input would share one cache entry.
          throw new LoadCacheTypeError(
            'E_MISUSE',
            `cached() on "${opts.path}" runs before the input is parsed: place .use(lc.cached(...)) after .input(...)`,
          )
        }
        const plan = planFor(opts.path, ttl, scope, serializer)
        const cacheable = scope === 'PUBLIC' || state.viewer !== null
        state.recordRoot(cacheable)
        if (scope === 'PRIVATE') state.policy.private = true
        if (!cacheable) return opts.next()
        state.recordCached(plan)
        const key = stableJson([opts.input ?? null, scope === 'PRIVATE' ? state.viewer : null])
        const data = await state.loadField(
          plan,
          key,
          async () => {
            const result = await opts.next()
            // Errors (TRPCError or thrown) fail this call and are never cached.
            if (!result.ok) throw result.error
            return result.data
          },
          (result) => [
            ...(tags?.({ input: opts.input as TInput, result: result as TOutput }) ?? []),
            ...entityTags(entity, result),
          ],
        )
        // tRPC's own marker for a middleware result; returning it ends the chain without running the resolver.
        return { ok: true, data, marker: 'middlewareMarker' }
      })
    },

    /** After a mutation succeeds, evicts the tags it declares and the `Type:id` of the entity it returns. */
    invalidates<TInput = unknown, TOutput = unknown>(
      invalidatesOptions: InvalidatesOptions<TInput, TOutput>,
    ): M {
      const { tags, entity } = invalidatesOptions
      return t.middleware(async (opts: MiddlewareOptions) => {
        const result = await opts.next()
        if (!result.ok) return result
        const evict = [
          ...(tags?.({ input: opts.input as TInput, result: result.data as TOutput }) ?? []),
          ...entityTags(entity, result.data),
        ]
        if (evict.length > 0) {
          const state = requestStateOf(opts.ctx)
          if (state) await state.invalidateTags(evict)
          else await cache.invalidateTags(evict)
        }
        return result
      })
    },

    /**
     * For the tRPC adapter's `responseMeta`: `public, max-age=<min ttl>` when every call of the request was a
     * cached PUBLIC query, `private` if one was PRIVATE, `no-store` for mutations, errors and anything uncached.
     */
    responseMeta(meta: {
      ctx?: unknown
      paths?: readonly string[]
      errors: readonly unknown[]
      type: string
      eagerGeneration?: boolean
    }) {
      const state = requestStateOf(meta.ctx)
      const everyCallCached = state !== undefined && state.policy.rootFields === (meta.paths?.length ?? -1)
      const value = cacheControlFor(everyCallCached ? state.policy : undefined, {
        operation: meta.type === 'query' ? 'query' : meta.type === 'mutation' ? 'mutation' : undefined,
        hasErrors: meta.errors.length > 0,
        isIntrospection: false,
        isStream: meta.eagerGeneration === true,
      })
      return { headers: new Headers({ 'cache-control': value }) }
    },
  }
}

function entityTags(entity: string | undefined, result: unknown): string[] {
  if (entity === undefined || result === null || typeof result !== 'object') return []
  const items = Array.isArray(result) ? result : [result]
  const tags: string[] = []
  for (const item of items) {
    const id = item !== null && typeof item === 'object' ? (item as { id?: unknown }).id : undefined
    if (typeof id === 'string' || typeof id === 'number') tags.push(entityTag(entity, id))
  }
  return tags
}
