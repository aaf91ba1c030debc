import DataLoader from 'dataloader'
import {
  bindLoaders,
  engineOf,
  type LoadCache,
  type PrimeOutcome,
  type WriteTicket,
} from '../cache/create-cache.js'
import type { CacheEntry } from '../core/entry.js'
import { describeValue, LoadCacheError, LoadCacheTypeError } from '../core/errors.js'
import { type CacheId, encodeSegment, keyTag } from '../core/keys.js'
import { entityTag } from '../core/tags.js'
import type { CacheEngine } from '../engine/engine.js'
import { NOT_SHARED } from '../engine/flight.js'
import type { BatchSource } from '../engine/runtime.js'
import type { FetchOutcome, LoaderDefinition } from '../loader/define-loader.js'
import type { CachePlan, CacheScope } from './field-plan.js'

export type { CachePlan, CacheScope } from './field-plan.js'

/** What was resolved in one request, for the `Cache-Control` header and debug metadata. */
export interface CachePolicySummary {
  /** Root fields resolved. */
  rootFields: number
  /** Whether some root field was not served through the cache (no directive, or PRIVATE with no viewer). */
  uncachedRoot: boolean
  /** Smallest TTL among the cached fields resolved (cached or not: a hint applies either way), in seconds. */
  minTtl: number
  /** Whether some PRIVATE field was resolved. */
  private: boolean
  /** Whether some PRIVATE field was resolved without a viewer (so not cached): the response is `no-store`. */
  uncachedPrivate: boolean
  /** Whether some non-root field returning an object was resolved without a cache policy (Apollo: max-age 0). */
  uncachedComposite: boolean
  /** Whether some field whose hints say it may not be cached (a TTL of 0: Apollo's `maxAge: 0`) was resolved. */
  uncacheableField: boolean
  /**
   * Whether some value came from a fill an invalidation overtook (see `Flight#overtaken`): it may be older
   * than that invalidation, so the response is `no-store`, or a CDN purged by the invalidation's tags could
   * store it after the purge. Optional: the type is public, and summaries built before it existed mean false.
   */
  overtaken?: boolean
}

/**
 * What one request did with the cache, for `extensions.loadcache` (the yoga plugin's `debug: true`). A hit
 * is a load answered without running its resolver (from L1, Redis, a fill in flight, or this request's
 * own earlier load of the same key); a miss ran it.
 */
export interface LoadCacheDebug {
  readonly hits: number
  readonly misses: number
  /** Tags this request evicted (a mutation's entities and declared tags). */
  readonly evictedTags: readonly string[]
  /** The same counts per cached field coordinate (`Type.field`) or tRPC procedure (`trpc.<path>`). */
  readonly fields: Readonly<Record<string, { readonly hits: number; readonly misses: number }>>
}

/** How a resolved value may be stored: with these tags, or not at all. */
export type PreparedValue =
  /**
   * `maxAge`: seconds its resolver's dynamic hint allowed (GraphQL's `info.cacheControl`), below the field's
   * TTL: the entry lives no longer, and every request served from it restricts its policy to it.
   */
  | { readonly store: true; readonly tags: readonly string[]; readonly maxAge?: number }
  /** `shareable: false` for a value that can be read once (an async iterable). */
  | { readonly store: false; readonly shareable: boolean; readonly maxAge?: number }

/** One load of a cached field or procedure: how to resolve it, and how to judge what it resolved to. */
export interface FieldLoad {
  /** Runs the original resolver (or the rest of the tRPC middleware chain). */
  readonly resolve: () => unknown
  /** Decides whether the value may be stored, and with which tags; a throw means "do not store". */
  readonly prepare: (value: unknown) => PreparedValue | Promise<PreparedValue>
}

/**
 * What a response depends on: every entry it was served from, for the response tier. For each tag, the
 * version the entries that carry it recorded (when they were stored in Redis), and for each entry's key
 * tag the clock of that entry: a response built from them may be stored only while none of them moved.
 */
export class ResponseDependencies {
  /** Encoded tag → the version the entries served recorded for it (undefined: not stored in Redis). */
  readonly tags = new Map<string, string | undefined>()
  /** Encoded key tag of each entry served → the smallest clock of those entries (see `keyTag`). */
  readonly keyTags = new Map<string, number>()
  /**
   * False once a value was served without an entry to vouch for it (an error, a value not stored), or two
   * entries recorded different versions of one tag (one of them was stored before an invalidation).
   */
  vouched = true

  add(entry: CacheEntry | undefined, entryKey: string): void {
    if (entry === undefined) {
      this.vouched = false
      return
    }
    const keyTagOf = encodeSegment(keyTag(entryKey))
    let recordsKeyTag = false
    entry.tags.forEach((tag, k) => {
      const version = entry.versions?.[k]
      if (tag === keyTagOf && version !== undefined) recordsKeyTag = true
      if (!this.tags.has(tag)) this.tags.set(tag, version)
      else if (this.tags.get(tag) !== version) this.vouched = false
    })
    // An entry that records the version of its own key tag (a primed one: the prime moved that tag itself,
    // after the clock its entry carries) is checked by that exact version, which any later invalidation of
    // the key changes; "not moved after its clock" would always refuse it.
    if (recordsKeyTag) return
    const known = this.keyTags.get(keyTagOf)
    if (known === undefined || entry.clock < known) this.keyTags.set(keyTagOf, entry.clock)
  }
}

interface FieldBatch {
  /** Loads waiting for the next dispatch, by key. */
  readonly pending: Map<string, FieldLoad>
  /** Keys this batch's DataLoader has memoized: their later loads reuse the first one's value. */
  readonly seen: Set<string>
  readonly loader: DataLoader<string, unknown>
}

const REQUEST_STATE = Symbol.for('loadcache.request')

/**
 * The per-request side of the integrations: one DataLoader per cached field coordinate or procedure path
 * (so a field resolved on 100 parents in one tick is one batch: one Redis round trip, and the original
 * resolver runs only for the keys that miss, fleet-wide), plus what is needed for `Cache-Control`, eviction
 * and the response tier. GraphQL and tRPC share it, so they share entries, tags and eviction.
 *
 * The batches hold this request's resolvers (closures over their parent, arguments and context). After
 * any eviction inside the request they are dropped: no later load of the request may run a resolver, or
 * reuse a value, captured before it (two mutations in one operation must not see each other's old state).
 */
export class RequestCacheState {
  readonly cache: LoadCache
  readonly viewer: string | null
  /**
   * False in a request that bypasses the cache (useLoadCache's `enabled`): cached fields run their resolvers
   * and store nothing; mutations still evict, so the cache never misses a write.
   */
  readonly enabled: boolean
  readonly policy: CachePolicySummary = {
    rootFields: 0,
    uncachedRoot: false,
    minTtl: Number.POSITIVE_INFINITY,
    private: false,
    uncachedPrivate: false,
    uncachedComposite: false,
    uncacheableField: false,
    overtaken: false,
  }
  /** Debug counters: cached field loads, and how many of them ran the resolver. */
  loads = 0
  misses = 0
  /** The same per coordinate. */
  readonly #loadsByCoordinate = new Map<string, { loads: number; misses: number }>()
  readonly evictedTags: string[] = []
  /** The entries this request was served from (fields and loaders), for the response tier. */
  readonly dependencies = new ResponseDependencies()
  /** Set by the response tier: GraphQL collects every entity the operation produced, to tag the response. */
  collectEntities = false
  readonly #engine: CacheEngine
  #fields = new Map<string, FieldBatch>()
  readonly #loaders: { clearAll(): unknown }[] = []
  readonly #observe = (entry: CacheEntry | undefined, entryKey: string, overtaken?: boolean): void => {
    if (overtaken) this.policy.overtaken = true
    this.dependencies.add(entry, entryKey)
  }

  constructor(cache: LoadCache, viewer: CacheId | null | undefined, loaders?: object, enabled = true) {
    this.cache = cache
    this.enabled = enabled
    this.#engine = engineOf(cache)
    if (viewer !== null && viewer !== undefined && typeof viewer !== 'string' && !Number.isFinite(viewer)) {
      // String(viewer) of an object is "[object Object]": every such viewer would share PRIVATE entries.
      throw new LoadCacheTypeError(
        'E_INVALID_OPTION',
        `the viewer must be a string, a finite number or null, got ${describeValue(viewer)}`,
      )
    }
    this.viewer = viewer === null || viewer === undefined || viewer === '' ? null : String(viewer)
    if (loaders !== undefined) this.adoptLoaders(loaders)
  }

  /**
   * Makes a request's loaders (from `cache.loaders()`) part of this state: they are cleared after every
   * eviction in the request, and the entries they serve count as dependencies of the response.
   */
  adoptLoaders(loaders: object): void {
    for (const loader of Object.values(loaders)) {
      if (typeof (loader as { clearAll?: unknown } | null)?.clearAll === 'function') {
        this.#loaders.push(loader as { clearAll(): unknown })
      }
    }
    bindLoaders(loaders, { observe: this.#observe })
  }

  recordRoot(cached: boolean): void {
    this.policy.rootFields++
    if (!cached) this.policy.uncachedRoot = true
  }

  /**
   * Records the hint of a cached field that was resolved, whether it could be cached or not: a response may
   * never advertise a max-age above it, nor `public` when it holds PRIVATE data; PRIVATE data that could not
   * be cached (no viewer) makes it `no-store`.
   */
  recordPolicy(plan: CachePlan, cached: boolean, scope: CacheScope = plan.scope): void {
    if (plan.ttl < this.policy.minTtl) this.policy.minTtl = plan.ttl
    if (scope === 'PRIVATE') {
      this.policy.private = true
      if (!cached) this.policy.uncachedPrivate = true
    }
  }

  /**
   * A resolver's dynamic hint (GraphQL's `info.cacheControl`, see DynamicCacheControl): the response may not
   * advertise a longer max-age (0: `no-store`), and is `private` after a PRIVATE one (`no-store` without a
   * viewer). Only ever restricts.
   */
  restrictPolicy(maxAge: number | undefined, scope: CacheScope | undefined): void {
    if (maxAge === 0) this.policy.uncacheableField = true
    else if (maxAge !== undefined && maxAge < this.policy.minTtl) this.policy.minTtl = maxAge
    if (scope === 'PRIVATE') {
      this.policy.private = true
      if (this.viewer === null) this.policy.uncachedPrivate = true
    }
  }

  /**
   * Loads one cached value through this request's batch for its coordinate. `load.resolve` (the original
   * resolver) runs only if the value is in neither tier and no other caller in the fleet is computing it.
   */
  async loadField(plan: CachePlan, key: string, load: FieldLoad): Promise<unknown> {
    let batch = this.#fields.get(plan.coordinate)
    if (batch === undefined) {
      batch = this.#createBatch(plan)
      this.#fields.set(plan.coordinate, batch)
    }
    if (!batch.seen.has(key)) {
      batch.seen.add(key)
      batch.pending.set(key, load)
    }
    this.loads++
    this.#countsOf(plan.coordinate).loads++
    const wrapped = await batch.loader.load(key)
    // Joined another request's fill of a value that can be read only once: resolve it here instead.
    if (wrapped === NOT_SHARED) return load.resolve()
    const value = wrapped as { v: unknown; a?: unknown } | null
    // The max-age its resolver's dynamic hint set, when it stored (or shared) the value: a hit restricts
    // this response as the miss did.
    if (typeof value?.a === 'number') this.restrictPolicy(value.a, undefined)
    return value?.v ?? null
  }

  #countsOf(coordinate: string): { loads: number; misses: number } {
    let counts = this.#loadsByCoordinate.get(coordinate)
    if (counts === undefined) {
      counts = { loads: 0, misses: 0 }
      this.#loadsByCoordinate.set(coordinate, counts)
    }
    return counts
  }

  /** What `debug: true` reports: hits and misses in all and per coordinate, and the tags evicted. */
  debugSummary(): LoadCacheDebug {
    const fields: Record<string, { hits: number; misses: number }> = {}
    for (const [coordinate, { loads, misses }] of this.#loadsByCoordinate) {
      fields[coordinate] = { hits: loads - misses, misses }
    }
    return { hits: this.loads - this.misses, misses: this.misses, evictedTags: [...this.evictedTags], fields }
  }

  /**
   * Evicts tags everywhere, then drops this request's field batches and clears its loaders, so the rest of
   * the request (a mutation's own selection, the next mutation, the next call of a tRPC batch) reads the new
   * state and never a resolver or value captured before the eviction.
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    this.evictedTags.push(...tags)
    this.#forget()
    await this.cache.invalidateTags(tags)
    this.#forget()
  }

  /**
   * Write-through (see `LoadCache.prime`), then, as after any eviction, drops this request's field batches
   * and clears its loaders: what the request reads next comes from the cache, which now holds the new values.
   */
  async prime(
    definition: LoaderDefinition<CacheId, unknown>,
    entries: readonly (readonly [CacheId, unknown])[],
    since: WriteTicket | undefined,
  ): Promise<PrimeOutcome> {
    if (definition.entity !== undefined) {
      for (const [id] of entries) this.evictedTags.push(entityTag(definition.entity, id))
    }
    this.#forget()
    const outcome = await this.cache.prime(definition, entries, { since })
    this.#forget()
    return outcome
  }

  /** Evicts the entries of these keys of a plan (a value this request stored that proved wrong). */
  async evictFields(plan: CachePlan, keys: readonly string[]): Promise<void> {
    this.#forget()
    await this.cache.invalidate(plan.definition, keys)
  }

  #forget(): void {
    this.#fields = new Map()
    for (const loader of this.#loaders) loader.clearAll()
  }

  #createBatch(plan: CachePlan): FieldBatch {
    const pending = new Map<string, FieldLoad>()
    const runtime = this.#engine.runtime(plan.definition as LoaderDefinition<CacheId, unknown>)
    const loader = new DataLoader<string, unknown>(
      (keys) => {
        // This dispatch's loads: later loads of these keys reuse the DataLoader's memoized value.
        const taken = new Map<string, FieldLoad>()
        for (const key of keys) {
          const load = pending.get(key)
          if (load === undefined) continue
          taken.set(key, load)
          pending.delete(key)
        }
        return this.#engine.loadBatch(runtime, keys, {
          source: this.#sourceOf(plan, taken),
          observe: this.#observe,
        })
      },
      { name: plan.coordinate },
    )
    return { pending, seen: new Set(), loader }
  }

  /** The source of one dispatch: runs the taken resolvers of the keys that missed, and judges their values. */
  #sourceOf(plan: CachePlan, taken: ReadonlyMap<string, FieldLoad>): BatchSource {
    const tagsByKey = new Map<string, readonly string[]>()
    const maxAgeByKey = new Map<string, number>()
    const resolveOne = async (key: string): Promise<FetchOutcome> => {
      const load = taken.get(key)
      if (load === undefined) {
        return {
          kind: 'error',
          error: new LoadCacheError('E_MISUSE', `${plan.coordinate}: no resolver for the key ${key}`),
        }
      }
      this.misses++
      this.#countsOf(plan.coordinate).misses++
      let value: unknown
      try {
        value = await load.resolve()
      } catch (error) {
        return { kind: 'error', error: error instanceof Error ? error : new Error(String(error)) }
      }
      let prepared: PreparedValue
      try {
        prepared = await load.prepare(value)
      } catch {
        prepared = { store: false, shareable: true }
      }
      // Wrapped, so a null result is a value cached with the field's TTL and tags, not "absent"; with the
      // max-age a dynamic hint set, which every request served from it applies.
      const wrapped = prepared.maxAge === undefined ? { v: value } : { v: value, a: prepared.maxAge }
      if (!prepared.store) return { kind: 'uncached', value: wrapped, shareable: prepared.shareable }
      tagsByKey.set(key, prepared.tags)
      if (prepared.maxAge !== undefined) maxAgeByKey.set(key, prepared.maxAge)
      return { kind: 'value', value: wrapped }
    }
    return {
      fetch: (ids) => Promise.all(ids.map((id) => resolveOne(String(id)))),
      tags: (id) => tagsByKey.get(String(id)) ?? [],
      ttlMs: (id) => {
        const maxAge = maxAgeByKey.get(String(id))
        return maxAge === undefined ? undefined : maxAge * 1000
      },
    }
  }
}

/** The request state carried by a GraphQL or tRPC context, if any. */
export function requestStateOf(context: unknown): RequestCacheState | undefined {
  if (context === null || typeof context !== 'object') return undefined
  return (context as { [REQUEST_STATE]?: RequestCacheState })[REQUEST_STATE]
}

/**
 * The context member `createLoadCacheContext` makes: spread it into a GraphQL or tRPC context. A named type,
 * so an app can export a context built from it (TypeScript cannot name the symbol key on its own).
 */
export interface LoadCacheContext {
  readonly [REQUEST_STATE]: RequestCacheState
}

/**
 * Makes the context member the integrations read. The yoga plugin and the tRPC helper call it for you;
 * other GraphQL servers can use it directly:
 * `contextValue: { ...createLoadCacheContext(cache, { viewer, loaders }), ...yourContext }`. Create it per
 * request, and pass the request's loaders (from `cache.loaders()`) so evictions clear them.
 */
export function createLoadCacheContext(
  cache: LoadCache,
  options: {
    viewer?: CacheId | null
    loaders?: object
    /** False: this request neither reads nor writes cached fields (mutations still evict). Default true. */
    enabled?: boolean
  } = {},
): LoadCacheContext {
  return {
    [REQUEST_STATE]: new RequestCacheState(cache, options.viewer, options.loaders, options.enabled ?? true),
  }
}
