import {
  type GraphQLError,
  type GraphQLSchema,
  getOperationAST,
  Kind,
  type OperationDefinitionNode,
} from 'graphql'
import type { Plugin } from 'graphql-yoga'
import { engineOf, type LoadCache, type Loaders } from '../cache/create-cache.js'
import { invalidOption } from '../core/errors.js'
import type { CacheId } from '../core/keys.js'
import { plainObject, rejectUnknownOptions } from '../core/validate.js'
import {
  type LoadCacheDirectivesOptions,
  loadCacheDirectives,
  privateCoordinatesOf,
} from '../graphql/directives.js'
import { finishOperation } from '../graphql/operation.js'
import type { LoadCachePolicies } from '../graphql/policies.js'
import type { LoaderDefinition } from '../loader/define-loader.js'
import { uncachedLoaders } from '../loader/uncached-loaders.js'
import { cacheControlFor, combineCacheControl } from '../request/cache-control.js'
import { createLoadCacheContext, requestStateOf } from '../request/request-state.js'
import { type ResponseCacheOptions, responseHooks } from './response-hooks.js'

// biome-ignore lint/suspicious/noExplicitAny: see Loaders: only `any` accepts every definition.
type AnyDefinitions = Record<string, LoaderDefinition<any, any>>

export interface UseLoadCacheOptions<Defs extends AnyDefinitions> {
  /** The shared cache (one per process). */
  cache: LoadCache
  /** Loader definitions; each request gets fresh DataLoaders for them as `context.loaders`. */
  loaders?: Defs
  /**
   * The viewer's identity for PRIVATE fields, from the yoga context (e.g. from the Authorization header).
   * Return null for anonymous requests: their PRIVATE fields are then not cached at all.
   */
  viewer?: (
    context: Record<string, unknown> & { request: Request },
  ) => CacheId | null | undefined | Promise<CacheId | null | undefined>
  /**
   * Options of the directives (names, identity per type, `apolloCacheControl`); `false` if you applied the
   * transformer yourself.
   */
  directives?: LoadCacheDirectivesOptions | false
  /**
   * Cache policies by coordinate or type name, for schemas built in code (no SDL directives): see
   * `LoadCacheDirectivesOptions.policies`. Default: none.
   */
  policies?: LoadCachePolicies
  /**
   * Whether a request uses the cache: when it returns false, cached fields run their resolvers and store
   * nothing, the response tier neither serves nor stores, the plugin's `context.loaders` fetch directly
   * (still batched), and the response is `no-store`; mutations still evict what they change. It gets the
   * same context as `viewer`, once per HTTP request. Default: every request uses the cache.
   */
  enabled?: (context: Record<string, unknown> & { request: Request }) => boolean | Promise<boolean>
  /** Set the HTTP `Cache-Control` header from what was resolved. Default true. */
  cacheControl?: boolean
  /**
   * Add `extensions.loadcache` to every executed result: hits and misses of cached fields in all and per
   * coordinate, and the tags the operation evicted (see `LoadCacheDebug`). Default false. Responses served
   * whole by the response tier are the stored bytes and carry none.
   */
  debug?: boolean
  /**
   * The response tier: whole query responses served from the shared cache, before parse, validate and
   * execute, on the same tags, versions, locks and scopes as fields (README, "Response tier"). `true` for
   * the defaults. Default false: turn it on once every resolver that reads data is behind `@cached` or a
   * loader from `context.loaders` (a resolver that reads a database directly is invisible to its tags).
   */
  responses?: boolean | ResponseCacheOptions
}

/** Every option of `useLoadCache`; TypeScript keeps the lists complete. */
const PLUGIN_OPTIONS = Object.keys({
  cache: true,
  loaders: true,
  viewer: true,
  directives: true,
  policies: true,
  enabled: true,
  cacheControl: true,
  debug: true,
  responses: true,
} satisfies Record<keyof UseLoadCacheOptions<AnyDefinitions>, true>)

const RESPONSE_OPTIONS = Object.keys({
  maxTags: true,
  rememberUnstorableMs: true,
  bypass: true,
  cacheTagHeader: true,
  maxCacheTagHeaderBytes: true,
} satisfies Record<keyof ResponseCacheOptions, true>)

/**
 * The graphql-yoga plugin: applies the `@cached`/`@invalidates` directives to the schema, gives every request
 * its own `context.loaders`, and sets `Cache-Control` from what was resolved.
 *
 * Warns once (to the cache's logger) when a PRIVATE field can never be cached because there is no `viewer`
 * option, and when its `loaders` replace a `loaders` member your context factory set.
 *
 * @throws LoadCacheTypeError (`E_INVALID_OPTION`) for an unknown or invalid option, or a loader whose name
 *   already stands for something else in the cache; LoadCacheSchemaError when the schema is transformed, for
 *   a misused directive.
 */
export function useLoadCache<Defs extends AnyDefinitions = Record<string, never>>(
  options: UseLoadCacheOptions<Defs>,
): Plugin<{ loaders: Loaders<Defs> }> {
  rejectUnknownOptions('useLoadCache', plainObject('options', options), PLUGIN_OPTIONS)
  if (typeof options.responses === 'object' && options.responses !== null) {
    rejectUnknownOptions('useLoadCache({ responses })', { ...options.responses }, RESPONSE_OPTIONS)
  }
  const { cache } = options
  const engine = engineOf(cache)
  const { logger, maxBatchSize } = engine.options
  // Registered now, so a loader named like a cached field fails at startup rather than on a request.
  for (const definition of Object.values(options.loaders ?? {})) engine.runtime(definition)
  let warnedPrivate = false
  let warnedLoaders = false
  const ownLoaders = new WeakSet<object>()
  if (options.policies !== undefined && options.directives === false) {
    throw invalidOption(
      'policies',
      options.policies,
      'left out when directives is false (apply them with loadCacheDirectives({ policies }) yourself)',
    )
  }
  if (options.policies !== undefined && options.directives && options.directives.policies !== undefined) {
    throw invalidOption(
      'directives.policies',
      options.directives.policies,
      'left out when policies is given (pass them once)',
    )
  }
  if (options.enabled !== undefined && typeof options.enabled !== 'function') {
    throw invalidOption('enabled', options.enabled, 'a function of the context returning a boolean')
  }
  const transformer =
    options.directives === false
      ? undefined
      : loadCacheDirectives({
          ...options.directives,
          ...(options.policies !== undefined ? { policies: options.policies } : {}),
          cache,
        }).transformer
  const enabledByRequest = new WeakMap<Request, Promise<boolean>>()
  /** Decided once per HTTP request (the response tier asks before the context exists, fields after). */
  const enabledFor = (context: Record<string, unknown> & { request: Request }): Promise<boolean> => {
    const enabled = options.enabled
    if (enabled === undefined) return Promise.resolve(true)
    let decision = enabledByRequest.get(context.request)
    if (decision === undefined) {
      decision = Promise.resolve(enabled(context)).then((value) => value !== false)
      enabledByRequest.set(context.request, decision)
    }
    return decision
  }
  const transformed = new WeakSet<GraphQLSchema>()
  const policiesByRequest = new WeakMap<Request, string[]>()
  const viewerOf = async (
    context: Record<string, unknown> & { request: Request },
  ): Promise<string | null> => {
    const viewer = options.viewer ? await options.viewer(context) : null
    return viewer === null || viewer === undefined || viewer === '' ? null : String(viewer)
  }
  // Without a viewer a PRIVATE field is never cached: say so once, at startup, instead of never.
  const warnPrivateWithoutViewer = (schema: GraphQLSchema): void => {
    const coordinates = privateCoordinatesOf(schema)
    if (options.viewer !== undefined || coordinates.length === 0 || warnedPrivate) return
    warnedPrivate = true
    const more = coordinates.length > 1 ? ` (and ${coordinates.length - 1} more)` : ''
    logger.warn(
      `[loadcache] ${coordinates[0]}${more} is cached with scope PRIVATE, but useLoadCache has no viewer option, so it is never cached: pass useLoadCache({ viewer: (context) => userIdOf(context.request) }) (this warning is shown once)`,
    )
  }
  const responses =
    options.responses === undefined || options.responses === false
      ? undefined
      : responseHooks(cache, options.responses === true ? {} : options.responses, viewerOf, enabledFor)

  return {
    ...responses?.hooks,
    onSchemaChange({ schema, replaceSchema }) {
      if (transformer === undefined || transformed.has(schema)) {
        warnPrivateWithoutViewer(schema)
        return
      }
      const next = transformer(schema)
      transformed.add(next)
      warnPrivateWithoutViewer(next)
      replaceSchema(next)
    },
    async onContextBuilding({ context, extendContext }) {
      const viewer = options.viewer ? await options.viewer(context as never) : null
      const enabled = await enabledFor(context as never)
      // Without `loaders` the plugin leaves `context.loaders` alone (the app's context factory may set it,
      // with cache.loaders(): the request state then adopts them, so evictions clear them too).
      const own = options.loaders
        ? enabled
          ? cache.loaders(options.loaders)
          : uncachedLoaders(options.loaders, maxBatchSize)
        : undefined
      const existing = (context as { loaders?: unknown }).loaders
      if (own !== undefined) {
        ownLoaders.add(own)
        if (existing !== undefined && !ownLoaders.has(existing as object) && !warnedLoaders) {
          warnedLoaders = true
          logger.warn(
            `[loadcache] useLoadCache({ loaders }) replaces the context's own "loaders" (set by your context factory or server context): pass every loader to useLoadCache, or drop its loaders option and build them in your context with cache.loaders() (this warning is shown once)`,
          )
        }
      }
      const loaders = own ?? (typeof existing === 'object' && existing !== null ? existing : undefined)
      const requestState = createLoadCacheContext(cache, { viewer, loaders, enabled })
      const { request, params } = context as unknown as { request: Request; params?: unknown }
      responses?.adopt(request, params, requestStateOf(requestState)!)
      extendContext({
        ...(own ? { loaders: own as Loaders<Defs> } : {}),
        ...requestState,
      })
    },
    onExecute({ args }) {
      return {
        async onExecuteDone({ result, setResult }) {
          const context = args.contextValue as { request?: Request }
          const state = requestStateOf(context)
          if (state !== undefined && !(Symbol.asyncIterator in (result as object))) {
            // Before the response leaves: a mutation's evictions, and entries that proved wrong.
            await finishOperation(context, result as { errors?: readonly GraphQLError[] }, logger)
          }
          const operation = getOperationAST(args.document, args.operationName)
          const isStream = Symbol.asyncIterator in (result as object)
          const single = isStream
            ? undefined
            : (result as { errors?: readonly unknown[]; extensions?: object })
          if (options.cacheControl !== false && context.request) {
            const value = cacheControlFor(state?.policy, {
              operation: operation?.operation as 'query' | 'mutation' | 'subscription' | undefined,
              hasErrors: (single?.errors?.length ?? 0) > 0,
              isIntrospection: operation !== null && operation !== undefined && isIntrospection(operation),
              isStream,
            })
            const values = policiesByRequest.get(context.request) ?? []
            values.push(value)
            policiesByRequest.set(context.request, values)
          }
          if (options.debug && single && state) {
            setResult({
              ...single,
              extensions: {
                ...single.extensions,
                loadcache: state.debugSummary(),
              },
            } as never)
          }
        },
      }
    },
    onResponse(payload) {
      responses?.hooks.onResponse?.(payload)
      const { request, response } = payload
      const values = policiesByRequest.get(request)
      if (options.cacheControl === false || response.headers.has('cache-control')) return
      // Its fields' policies may say cacheable, but an invalidation overtook its response: it may be older
      // than that invalidation (a CDN purged by it would store it after the purge).
      if (responses?.overtook(request)) response.headers.set('cache-control', 'no-store')
      else if (values !== undefined) {
        const header = combineCacheControl(values)
        // With a CDN tag header, a response without its tags (the tier's responses carry theirs and set
        // their own Cache-Control) could never be purged: no CDN may keep it.
        const untagged = responses !== undefined && responses.tagHeader !== false
        response.headers.set('cache-control', untagged ? header.replace(/^public/, 'private') : header)
      }
    },
  }
}

function isIntrospection(operation: OperationDefinitionNode): boolean {
  return operation.selectionSet.selections.some(
    (selection) =>
      selection.kind === Kind.FIELD &&
      selection.name.value.startsWith('__') &&
      selection.name.value !== '__typename',
  )
}
