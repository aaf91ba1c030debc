import { engineOf, type LoadCache, type Loaders } from '../cache/create-cache.js'
import type { Serializer } from '../core/entry.js'
import { invalidOption, LoadCacheTypeError } from '../core/errors.js'
import type { CacheId } from '../core/keys.js'
import { stableJson } from '../core/stable-json.js'
import { entityTag, typeTag } from '../core/tags.js'
import { plainObject, rejectUnknownOptions } from '../core/validate.js'
import { isAsyncIterable } from '../core/values.js'
import type { LoaderDefinition } from '../loader/define-loader.js'
import { cacheControlFor } from '../request/cache-control.js'
import { buildFieldPlan } from '../request/field-plan.js'
import {
  type CachePlan,
  type CacheScope,
  createLoadCacheContext,
  type PreparedValue,
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
  /**
   * How results are stored in Redis. Default: the cache's structured serializer (devalue: Dates, Maps, Sets,
   * BigInts round-trip); `jsonSerializer` refuses (does not cache) what JSON would change.
   */
  serializer?: Serializer
}

export interface InvalidatesOptions<TInput = unknown, TOutput = unknown> {
  /** Tags to evict after the mutation succeeded, e.g. `({ input }) => ['posts', \`posts:author:${input.authorId}\`]`. */
  tags?: (call: { input: TInput; result: TOutput }) => readonly string[]
  /** Entity type of the result (or of its items): its `Type:id` tags are evicted. */
  entity?: string
  /**
   * Also evict the `Type` tag of `entity`, so every cached list of that type (`cached({ entity })` returning
   * an array) and every cached "not found" is refreshed: what a create needs. Default true; `false` for an
   * update that cannot change which entities a list holds.
   */
  lists?: boolean
  /**
   * Write-through: a loader whose `entity` is the result's type. What the mutation returns (an object with
   * an `id`, or an array of them) is stored as that loader's value for its id, so the next read of it costs
   * no fetch in any process; the ticket is taken before the mutation runs (see `LoadCache.prime`). Implies
   * `entity` (the loader's). The result must be exactly what the loader's `fetch` returns for that id.
   */
  // biome-ignore lint/suspicious/noExplicitAny: any loader definition; its value type is the procedure's output.
  prime?: LoaderDefinition<any, any>
}

/** The options of `createLoadCacheTRPC`. */
export interface LoadCacheTRPCOptions<Defs extends AnyDefinitions> {
  /** The shared cache (one per process). */
  cache: LoadCache
  /** Loader definitions; `createContext()` gives each request fresh DataLoaders for them as `loaders`. */
  loaders?: Defs
}

// Every option of each call; TypeScript keeps the lists complete.
const TRPC_OPTIONS = Object.keys({ cache: true, loaders: true } satisfies Record<
  keyof LoadCacheTRPCOptions<AnyDefinitions>,
  true
>)
const CACHED_OPTIONS = Object.keys({
  ttl: true,
  tags: true,
  scope: true,
  entity: true,
  serializer: true,
} satisfies Record<keyof CachedOptions, true>)
const INVALIDATES_OPTIONS = Object.keys({
  tags: true,
  entity: true,
  lists: true,
  prime: true,
} satisfies Record<keyof InvalidatesOptions, true>)

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
 *
 * @throws LoadCacheTypeError (`E_INVALID_OPTION`) for an unknown or invalid option (here, in `cached()` and
 *   in `invalidates()`), or a loader whose name already stands for something else in the cache.
 */
export function createLoadCacheTRPC<M, Defs extends AnyDefinitions = Record<string, never>>(
  t: MiddlewareFactory<M>,
  options: LoadCacheTRPCOptions<Defs>,
) {
  rejectUnknownOptions('createLoadCacheTRPC', plainObject('options', options), TRPC_OPTIONS)
  const { cache } = options
  const engine = engineOf(cache)
  const { logger, maxTtl } = engine.options
  // Registered now, so a loader named like a cached procedure (`trpc.<path>`) fails before any request.
  for (const definition of Object.values(options.loaders ?? {})) engine.runtime(definition)
  const plans = new Map<string, CachePlan>()
  const warned = new Set<string>()
  const warnOnce = (key: string, message: string) => {
    if (warned.has(key)) return
    warned.add(key)
    logger.warn(`[loadcache] ${message} (this warning is shown once)`)
  }

  function planFor(
    path: string,
    ttl: number,
    scope: CacheScope,
    serializer: Serializer | undefined,
  ): CachePlan {
    const coordinate = `trpc.${path}`
    const known = plans.get(coordinate)
    if (known !== undefined) return known
    const plan = buildFieldPlan({ origin: 'trpc', coordinate, ttl, scope, isRoot: true, serializer })
    plans.set(coordinate, plan)
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
      rejectUnknownOptions('cached', plainObject('cached(options)', cachedOptions), CACHED_OPTIONS)
      const { ttl, tags, entity, serializer } = cachedOptions
      const scope = cachedOptions.scope ?? 'PUBLIC'
      if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl <= 0) {
        throw invalidOption('cached({ ttl })', ttl, 'a positive integer (seconds)')
      }
      if (scope !== 'PUBLIC' && scope !== 'PRIVATE')
        throw invalidOption('cached({ scope })', scope, "'PUBLIC' or 'PRIVATE'")
      if (ttl > maxTtl)
        throw invalidOption('cached({ ttl })', ttl, `at most the cache's maxTtl (${maxTtl} s)`)
      if (entity !== undefined && (typeof entity !== 'string' || entity === '')) {
        throw invalidOption('cached({ entity })', entity, 'a non-empty type name such as "User"')
      }
      return t.middleware(async (opts: MiddlewareOptions) => {
        const state = requestStateOf(opts.ctx)
        if (opts.type !== 'query') {
          warnOnce(
            `cached:${opts.path}`,
            `cached() on the ${opts.type} "${opts.path}" does nothing: only queries are cached; use invalidates() on mutations`,
          )
          return opts.next()
        }
        if (state === undefined) return opts.next()
        const rawInput = await opts.getRawInput()
        if (opts.input === undefined && rawInput !== undefined) {
          // Before .input() the parsed input is unknown, so every input would share one entry: never cache
          // such a call. It is either a misplaced cached() or a client sending input to a procedure that
          // takes none; the middleware cannot tell which, and a client must not turn either into a 500.
          warnOnce(
            `cached-input:${opts.path}`,
            `cached() on "${opts.path}" got an input it cannot key (it runs before the input is parsed), so the call is not cached: place .use(lc.cached(...)) after .input(...), or, if the procedure takes no input, ignore clients that send one`,
          )
          return opts.next()
        }
        const plan = planFor(opts.path, ttl, scope, serializer)
        let key: string | undefined
        if (scope === 'PUBLIC' || state.viewer !== null) {
          try {
            const input = opts.input ?? null
            const viewer = scope === 'PRIVATE' ? state.viewer : null
            // Keyed by the input as sent too when it differs from what was parsed so far: an .input()
            // after this middleware (tRPC merges them) may parse the difference, and calls that differ only
            // there would otherwise share one entry (a missing member is said once).
            const compared = rawInput === undefined ? 'same' : compareInput(rawInput, input)
            if (compared === 'missing') {
              warnOnce(
                `cached-raw:${opts.path}`,
                `cached() on "${opts.path}" got input members its parsed input lacks, so such calls are keyed by the input as sent (each variant is its own entry): if an .input() follows cached(), place cached() after the last .input()`,
              )
            }
            if (compared === 'same') {
              key = stableJson([input, viewer])
            } else {
              // Thrown as it is when the parsed input cannot be keyed; said apart when only the raw one can't.
              stableJson(input)
              try {
                key = stableJson([input, viewer, rawInput])
              } catch (error) {
                throw new LoadCacheTypeError(
                  'E_UNKEYABLE_VALUE',
                  `the input as sent (keyed because it differs from the parsed input) cannot be keyed: ${(error as Error).message.replace('[loadcache] ', '')}`,
                )
              }
            }
          } catch (error) {
            // An input parsed into something no key can represent faithfully (a Map, a Set, a bigint):
            // the call runs uncached, as a GraphQL field with such arguments does.
            warnOnce(
              `cached-unkeyable:${opts.path}`,
              `cached() on "${opts.path}": ${(error as Error).message.replace('[loadcache] ', '')}, so calls with such an input are not cached`,
            )
          }
        }
        state.recordRoot(key !== undefined)
        state.recordPolicy(plan, key !== undefined)
        if (key === undefined) return opts.next()
        const data = await state.loadField(plan, key, {
          resolve: async () => {
            const result = await opts.next()
            // Errors (TRPCError or thrown) fail this call and are never cached.
            if (!result.ok) throw result.error
            return result.data
          },
          prepare: (result): PreparedValue => {
            if (isAsyncIterable(result)) {
              warnOnce(
                `stream:${opts.path}`,
                `trpc.${opts.path} returns an async iterable: it is never cached`,
              )
              return { store: false, shareable: false }
            }
            const custom = tags?.({ input: opts.input as TInput, result: result as TOutput }) ?? []
            return { store: true, tags: [...custom, ...resultTags(entity, result, true)] }
          },
        })
        // tRPC's own marker for a middleware result; returning it ends the chain without running the resolver.
        return { ok: true, data, marker: 'middlewareMarker' }
      })
    },

    /**
     * After a mutation succeeds, evicts the tags it declares, the `Type:id` of the entity (or entities) it
     * returns and, unless `lists: false`, the `Type` tag, so every cached list of that type (and a cached
     * "not found") shows a created entity on the next read.
     */
    invalidates<TInput = unknown, TOutput = unknown>(
      invalidatesOptions: InvalidatesOptions<TInput, TOutput>,
    ): M {
      rejectUnknownOptions(
        'invalidates',
        plainObject('invalidates(options)', invalidatesOptions),
        INVALIDATES_OPTIONS,
      )
      const { tags, prime } = invalidatesOptions
      const lists = invalidatesOptions.lists ?? true
      if (
        invalidatesOptions.entity !== undefined &&
        (typeof invalidatesOptions.entity !== 'string' || invalidatesOptions.entity === '')
      ) {
        throw invalidOption(
          'invalidates({ entity })',
          invalidatesOptions.entity,
          'a non-empty type name such as "User"',
        )
      }
      if (prime !== undefined) {
        if (prime === null || typeof prime !== 'object' || typeof prime.entity !== 'string') {
          throw invalidOption(
            'invalidates({ prime })',
            prime,
            "a loader definition with an entity, e.g. defineLoader({ name: 'user', entity: 'User', … })",
          )
        }
        if (invalidatesOptions.entity !== undefined && invalidatesOptions.entity !== prime.entity) {
          throw invalidOption(
            'invalidates({ entity })',
            invalidatesOptions.entity,
            `the entity of the prime loader "${prime.name}" ("${prime.entity}"), or left out`,
          )
        }
        engineOf(cache).runtime(prime)
      }
      const entity = invalidatesOptions.entity ?? prime?.entity
      return t.middleware(async (opts: MiddlewareOptions) => {
        if (opts.type !== 'mutation') {
          warnOnce(
            `invalidates:${opts.path}`,
            `invalidates() on the ${opts.type} "${opts.path}" does nothing: only mutations evict; use cached() on queries`,
          )
          return opts.next()
        }
        const state = requestStateOf(opts.ctx)
        // Priming: the ticket is taken before the mutation writes (see LoadCache.prime).
        const ticket = prime === undefined ? undefined : await cache.writeTicket()
        const result = await opts.next()
        if (!result.ok) return result
        let evict = [
          ...(tags?.({ input: opts.input as TInput, result: result.data as TOutput }) ?? []),
          ...resultTags(entity, result.data, false),
          ...(entity !== undefined && lists ? [typeTag(entity)] : []),
        ]
        if (prime !== undefined) {
          const entries = identified(result.data)
          if (entries.length > 0) {
            if (state) await state.prime(prime, entries, ticket)
            else await cache.prime(prime, entries, { since: ticket })
          }
        }
        // A returned entity that was primed (here, or by the procedure itself with cache.prime) had its
        // entity tag evicted by the prime; evicting it again would discard the primed value.
        if (entity !== undefined) {
          const engine = engineOf(cache)
          const primed = new Set(
            identified(result.data)
              .filter(([, value]) => engine.wasPrimed(value))
              .map(([id]) => entityTag(entity, id)),
          )
          if (primed.size > 0) evict = evict.filter((tag) => !primed.has(tag))
        }
        if (evict.length > 0) {
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
    }): { headers: Headers } {
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

/** The `[id, value]` of a result with a string or number `id` (or of each such item of an array). */
function identified(result: unknown): [CacheId, unknown][] {
  const entries: [CacheId, unknown][] = []
  for (const item of Array.isArray(result) ? result : [result]) {
    const id = item !== null && typeof item === 'object' ? (item as { id?: unknown }).id : undefined
    if (typeof id === 'string' || typeof id === 'number') entries.push([id, item])
  }
  return entries
}

/**
 * The `Type:id` tags of a result (or of its items, for a list). For a cached result, also the `Type` tag
 * when it is a list (a created entity must show in it) or null (a lookup that found nothing).
 */
function resultTags(entity: string | undefined, result: unknown, cached: boolean): string[] {
  if (entity === undefined) return []
  const tags: string[] = []
  if (cached && (Array.isArray(result) || result === null || result === undefined)) tags.push(typeTag(entity))
  if (result === null || typeof result !== 'object') return tags
  for (const item of Array.isArray(result) ? result : [result]) {
    const id = item !== null && typeof item === 'object' ? (item as { id?: unknown }).id : undefined
    if (typeof id === 'string' || typeof id === 'number') tags.push(entityTag(entity, id))
  }
  return tags
}

/**
 * How the client's input compares with the input parsed so far: `missing` when it has a member, at any
 * depth, that the parsed one lacks (tRPC merges the inputs of several .input() calls by their top-level
 * members, so a later one may add members or replace a nested object: `filter: { orgId }`, then
 * `filter: { postId }`); `differs` when a value differs (a transform: a trimmed string, a coerced number,
 * which a later .input() may parse differently); else `same`.
 */
function compareInput(raw: unknown, parsed: unknown, depth = 0): 'same' | 'differs' | 'missing' {
  if (raw === null || typeof raw !== 'object') return Object.is(raw, parsed) ? 'same' : 'differs'
  if (parsed === null || typeof parsed !== 'object') return 'differs'
  if (raw instanceof Date || parsed instanceof Date) {
    return raw instanceof Date && parsed instanceof Date && Object.is(raw.getTime(), parsed.getTime())
      ? 'same'
      : 'differs'
  }
  // Collections hold no members of their own to compare: the same object, or not.
  if (isCollection(raw) || isCollection(parsed)) return raw === parsed ? 'same' : 'differs'
  // An instance whose class has getters may hold members no own key shows (a later .input() reads them).
  if (raw !== parsed && hasInheritedAccessors(raw)) return 'missing'
  // Deeper than any input shape a validator describes: assume the worst.
  if (depth > 32) return 'missing'
  let found: 'same' | 'differs' = 'same'
  for (const name of Object.keys(raw)) {
    if (!Object.hasOwn(parsed, name)) return 'missing'
    const member = compareInput(
      (raw as Record<string, unknown>)[name],
      (parsed as Record<string, unknown>)[name],
      depth + 1,
    )
    if (member === 'missing') return 'missing'
    if (member === 'differs') found = 'differs'
  }
  return found
}

/** Whether a getter or setter is defined on `value`'s prototype chain, below Object.prototype. */
function hasInheritedAccessors(value: object): boolean {
  for (
    let prototype = Object.getPrototypeOf(value);
    prototype !== null && prototype !== Object.prototype && prototype !== Array.prototype;
    prototype = Object.getPrototypeOf(prototype)
  ) {
    for (const name of Reflect.ownKeys(prototype)) {
      const descriptor = Object.getOwnPropertyDescriptor(prototype, name)
      if (descriptor?.get !== undefined || descriptor?.set !== undefined) return true
    }
  }
  return false
}

function isCollection(value: object): boolean {
  return value instanceof Map || value instanceof Set || ArrayBuffer.isView(value)
}
