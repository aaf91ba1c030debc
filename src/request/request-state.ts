import DataLoader from 'dataloader'
import { engineOf, type LoadCache } from '../cache/create-cache.js'
import { describeValue, LoadCacheTypeError } from '../core/errors.js'
import type { CacheId } from '../core/keys.js'
import type { CacheEngine, LoaderRuntime } from '../engine/engine.js'
import type { LoaderDefinition } from '../loader/define-loader.js'

/** The scope of a cached field: PUBLIC entries are shared by all viewers, PRIVATE ones are keyed by viewer. */
export type CacheScope = 'PUBLIC' | 'PRIVATE'

/**
 * How one cached field (GraphQL) or procedure (tRPC) is cached, decided once: its loader definition names
 * the cache entries (`Type.field`, `trpc.path`).
 */
export interface CachePlan {
  readonly coordinate: string
  readonly ttl: number
  readonly scope: CacheScope
  readonly isRoot: boolean
  readonly definition: LoaderDefinition<string, { v: unknown }>
}

/** What was resolved in one request, for the `Cache-Control` header and debug metadata. */
export interface CachePolicySummary {
  /** Root fields resolved. */
  rootFields: number
  /** Whether some root field was not served through the cache (no directive, or PRIVATE with no viewer). */
  uncachedRoot: boolean
  /** Smallest TTL among cached fields resolved, in seconds. */
  minTtl: number
  /** Whether some PRIVATE field was resolved. */
  private: boolean
  /** Whether some non-root field returning an object was resolved without a cache policy (Apollo: max-age 0). */
  uncachedComposite: boolean
}

interface PendingResolve {
  readonly resolve: () => unknown
  readonly tags: (value: unknown) => string[]
}

interface FieldBatch {
  readonly pending: Map<string, PendingResolve>
  readonly loader: DataLoader<string, unknown>
}

const REQUEST_STATE = Symbol.for('loadcache.request')

/**
 * The per-request side of the integrations: one DataLoader per cached field coordinate or procedure path
 * (so a field resolved on 100 parents in one tick is one batch: one Redis round trip, and the original
 * resolver runs only for the keys that miss, fleet-wide), plus what is needed for `Cache-Control` and
 * eviction. GraphQL and tRPC share it, so they share entries, tags and eviction.
 */
export class RequestCacheState {
  readonly cache: LoadCache
  readonly viewer: string | null
  readonly policy: CachePolicySummary = {
    rootFields: 0,
    uncachedRoot: false,
    minTtl: Number.POSITIVE_INFINITY,
    private: false,
    uncachedComposite: false,
  }
  /** Debug counters: cached field loads, and how many of them ran the resolver. */
  loads = 0
  misses = 0
  readonly evictedTags: string[] = []
  readonly #engine: CacheEngine
  readonly #fields = new Map<string, FieldBatch>()

  readonly #loaders: readonly { clearAll(): unknown }[]

  constructor(
    cache: LoadCache,
    viewer: CacheId | null | undefined,
    loaders: Record<string, { clearAll(): unknown }> = {},
  ) {
    this.cache = cache
    this.#engine = engineOf(cache)
    if (viewer !== null && viewer !== undefined && typeof viewer !== 'string' && !Number.isFinite(viewer)) {
      // String(viewer) of an object is "[object Object]": every such viewer would share PRIVATE entries.
      throw new LoadCacheTypeError(
        'E_INVALID_OPTION',
        `the viewer must be a string, a finite number or null, got ${describeValue(viewer)}`,
      )
    }
    this.viewer = viewer === null || viewer === undefined || viewer === '' ? null : String(viewer)
    this.#loaders = Object.values(loaders)
  }

  recordRoot(cached: boolean): void {
    this.policy.rootFields++
    if (!cached) this.policy.uncachedRoot = true
  }

  recordCached(plan: CachePlan): void {
    if (plan.ttl < this.policy.minTtl) this.policy.minTtl = plan.ttl
    if (plan.scope === 'PRIVATE') this.policy.private = true
  }

  /**
   * Loads one cached field value through this request's batch for its coordinate. `resolve` (the original
   * resolver) runs only if the value is in neither tier and no other caller in the fleet is computing it.
   */
  async loadField(
    plan: CachePlan,
    key: string,
    resolve: () => unknown,
    tags: (value: unknown) => string[],
  ): Promise<unknown> {
    let batch = this.#fields.get(plan.coordinate)
    if (batch === undefined) {
      batch = this.#createBatch(plan)
      this.#fields.set(plan.coordinate, batch)
    }
    if (!batch.pending.has(key)) batch.pending.set(key, { resolve, tags })
    this.loads++
    const wrapped = (await batch.loader.load(key)) as { v: unknown } | null
    return wrapped?.v ?? null
  }

  /**
   * Evicts tags, and forgets what this request's loaders memoized, so the rest of the request (a mutation's
   * own selection, the next mutation) reads the new state too.
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    this.evictedTags.push(...tags)
    await this.cache.invalidateTags(tags)
    for (const batch of this.#fields.values()) batch.loader.clearAll()
    for (const loader of this.#loaders) loader.clearAll()
  }

  #createBatch(plan: CachePlan): FieldBatch {
    const pending = new Map<string, PendingResolve>()
    const runtime = this.#engine.runtime(plan.definition as LoaderDefinition<CacheId, unknown>)
    // The definition is shared by every request; the resolvers to run are this request's, so the batch
    // uses a view of the runtime whose fetch and tags read this request's pending map.
    const view: LoaderRuntime = {
      ...runtime,
      def: {
        ...runtime.def,
        fetch: (ids) =>
          Promise.all(
            ids.map(async (id) => {
              const entry = pending.get(String(id))
              if (entry === undefined)
                return new Error(`[loadcache] no resolver pending for ${plan.coordinate}`)
              this.misses++
              try {
                // Wrapped, so a null result is a cached value with the field's TTL and tags, not "absent".
                return { v: await entry.resolve() }
              } catch (error) {
                return error instanceof Error ? error : new Error(String(error))
              }
            }),
          ),
        tags: (id, value) => pending.get(String(id))?.tags((value as { v: unknown }).v) ?? [],
      },
    }
    const loader = new DataLoader<string, unknown>((keys) => this.#engine.loadBatch(view, keys), {
      name: plan.coordinate,
    })
    return { pending, loader }
  }
}

/** The request state carried by a GraphQL or tRPC context, if any. */
export function requestStateOf(context: unknown): RequestCacheState | undefined {
  if (context === null || typeof context !== 'object') return undefined
  return (context as { [REQUEST_STATE]?: RequestCacheState })[REQUEST_STATE]
}

/**
 * Makes the context member the integrations read. The yoga plugin and the tRPC helper call it for you;
 * other GraphQL servers can use it directly:
 * `contextValue: { ...createLoadCacheContext(cache, { viewer }), ...yourContext }`. Create it per request.
 */
export function createLoadCacheContext(
  cache: LoadCache,
  options: { viewer?: CacheId | null; loaders?: Record<string, { clearAll(): unknown }> } = {},
): { readonly [REQUEST_STATE]: RequestCacheState } {
  return { [REQUEST_STATE]: new RequestCacheState(cache, options.viewer, options.loaders) }
}
