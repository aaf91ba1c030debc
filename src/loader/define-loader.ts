import { SERIALIZER_ID, type Serializer } from '../core/entry.js'
import { describeValue, invalidOption, LoadCacheTypeError } from '../core/errors.js'
import { type CacheId, isValidLoaderName } from '../core/keys.js'
import { structuredSerializer } from '../core/serializers.js'
import { loaderTuning, rejectUnknownOptions } from '../core/validate.js'

/**
 * What `fetch` may return for a batch of ids:
 * - an array aligned with the ids (`result[i]` belongs to `ids[i]`), or
 * - a Map from id to value (ids it lacks are absent).
 * A value of `null` or `undefined` means absent (cached for `negativeTtl`); an `Error` fails that id only
 * and is never cached.
 */
export type FetchResult<K, V> =
  | ReadonlyArray<V | null | undefined | Error>
  | ReadonlyMap<K | CacheId, V | null | undefined | Error>

export interface LoaderOptions<K extends CacheId, V> {
  /** Names the loader in cache keys, stats and `invalidate`. Letters, digits, `_ . -`; must start with a letter or `_`. */
  name: string
  /** Loads the distinct ids of one batch (all misses of the batch, in one call). */
  fetch: (ids: readonly K[]) => Promise<FetchResult<K, V>> | FetchResult<K, V>
  /** Entry TTL in seconds. Default: the cache's `ttl`. */
  ttl?: number
  /** TTL in seconds of absent ids. Default: the cache's `negativeTtl`. */
  negativeTtl?: number
  /** Grace in seconds (serve stale while refreshing, and when fetch fails). Default: the cache's `grace`. */
  grace?: number
  /**
   * Tags of a present value, e.g. `(id, row) => [\`org:${row.orgId}\`]`; `cache.invalidateTags` evicts by
   * them. Called once per fetched value; a throw makes that value uncached (and is logged), not failed.
   */
  tags?: (id: K, value: V) => readonly string[]
  /**
   * The entity type the ids name, e.g. `'User'`: every entry, found or not, is tagged `User:<id>`, so a
   * GraphQL or tRPC mutation that returns user 7 (or `invalidateTags(['User:7'])`) evicts it, including a
   * cached "not found" from before user 7 existed.
   */
  entity?: string
  /** XFetch early refresh `beta` for this loader, or `false`. Default: the cache's `earlyRefresh`. */
  earlyRefresh?: number | false
  /** Longest `fetch` may take, in ms (0 = no limit). Default: the cache's `fetchTimeoutMs`. */
  fetchTimeoutMs?: number
  /** Largest batch a per-request DataLoader sends at once (0 = unlimited). Default: the cache's `maxBatchSize`. */
  maxBatchSize?: number
  /** How values are stored in Redis. Default `structuredSerializer` (devalue: Dates, Maps, BigInts… round-trip). */
  serializer?: Serializer
}

/** Every option `defineLoader` accepts; TypeScript keeps the list complete. */
const LOADER_OPTIONS = Object.keys({
  name: true,
  fetch: true,
  ttl: true,
  negativeTtl: true,
  grace: true,
  tags: true,
  entity: true,
  earlyRefresh: true,
  fetchTimeoutMs: true,
  maxBatchSize: true,
  serializer: true,
} satisfies Record<keyof LoaderOptions<CacheId, unknown>, true>)

/** A loader declared once at module level and instantiated per request by `cache.loaders()`. */
export interface LoaderDefinition<K extends CacheId = CacheId, V = unknown> {
  readonly name: string
  readonly fetch: (ids: readonly K[]) => Promise<FetchResult<K, V>> | FetchResult<K, V>
  readonly ttl: number | undefined
  readonly negativeTtl: number | undefined
  readonly grace: number | undefined
  readonly tags: ((id: K, value: V) => readonly string[]) | undefined
  readonly entity: string | undefined
  /** XFetch beta; 0 = none. */
  readonly earlyRefresh: number | undefined
  readonly fetchTimeoutMs: number | undefined
  readonly maxBatchSize: number | undefined
  readonly serializer: Serializer
}

/**
 * Declares a cached loader. Validates every option now, so mistakes surface at startup, not on the first
 * request.
 *
 * @throws LoadCacheTypeError (a TypeError, `E_INVALID_OPTION`) naming the option and the value when an
 *   option is invalid or unknown (a misspelt `tll` would otherwise do nothing).
 */
export function defineLoader<K extends CacheId, V>(options: LoaderOptions<K, V>): LoaderDefinition<K, V> {
  if (typeof options !== 'object' || options === null)
    throw invalidOption('defineLoader(options)', options, 'an object')
  rejectUnknownOptions(
    typeof options.name === 'string'
      ? `defineLoader({ name: ${JSON.stringify(options.name)} })`
      : 'defineLoader',
    options as unknown as Record<string, unknown>,
    LOADER_OPTIONS,
  )
  if (!isValidLoaderName(options.name)) {
    throw invalidOption(
      'name',
      options.name,
      'a string of letters, digits and _ . - starting with a letter or _ (at most 100)',
    )
  }
  const where = `loader "${options.name}": `
  if (typeof options.fetch !== 'function')
    throw invalidOption(`${where}fetch`, options.fetch, 'a function (ids) => values')
  if (options.tags !== undefined && typeof options.tags !== 'function') {
    throw invalidOption(`${where}tags`, options.tags, 'a function (id, value) => string[]')
  }
  if (options.entity !== undefined && (typeof options.entity !== 'string' || options.entity === '')) {
    throw invalidOption(`${where}entity`, options.entity, 'a non-empty type name such as "User"')
  }
  const serializer = options.serializer ?? structuredSerializer
  if (typeof serializer.serialize !== 'function' || typeof serializer.deserialize !== 'function') {
    throw invalidOption(`${where}serializer`, serializer, 'an object with serialize() and deserialize()')
  }
  if (serializer.id !== undefined && !SERIALIZER_ID.test(serializer.id)) {
    throw invalidOption(`${where}serializer.id`, serializer.id, 'letters and digits, at most 8')
  }
  return Object.freeze({
    name: options.name,
    fetch: options.fetch,
    ttl: loaderTuning.ttl(`${where}ttl`, options.ttl),
    negativeTtl: loaderTuning.negativeTtl(`${where}negativeTtl`, options.negativeTtl),
    grace: loaderTuning.grace(`${where}grace`, options.grace),
    tags: options.tags,
    entity: options.entity,
    earlyRefresh: loaderTuning.earlyRefresh(`${where}earlyRefresh`, options.earlyRefresh),
    fetchTimeoutMs: loaderTuning.fetchTimeoutMs(`${where}fetchTimeoutMs`, options.fetchTimeoutMs),
    maxBatchSize: loaderTuning.maxBatchSize(`${where}maxBatchSize`, options.maxBatchSize),
    serializer,
  })
}

/**
 * What a loader name stands for in a cache: a user's loader, or the entries loadcache keeps for a cached
 * GraphQL field (named by its coordinate), a cached tRPC procedure (`trpc.<path>`) or the response tier.
 * Two things of different origins under one name would share cache entries.
 */
export type LoaderOrigin = 'loader' | 'graphql' | 'trpc' | 'response'

const origins = new WeakMap<object, Exclude<LoaderOrigin, 'loader'>>()

/**
 * `defineLoader` for loadcache's own entries (cached fields and procedures, responses): the origin lets a
 * cache tell them from a user's loader of the same name. For this package only.
 */
export function defineInternalLoader<K extends CacheId, V>(
  origin: Exclude<LoaderOrigin, 'loader'>,
  options: LoaderOptions<K, V>,
): LoaderDefinition<K, V> {
  const definition = defineLoader(options)
  origins.set(definition, origin)
  return definition
}

/** What a definition's name stands for (see LoaderOrigin). */
export function originOf(definition: LoaderDefinition<CacheId, unknown>): LoaderOrigin {
  return origins.get(definition) ?? 'loader'
}

/**
 * The outcome of fetching one id: a value, absent, an error for that id alone, or (integrations only) a
 * value to return but not to store: one GraphQL would reject, or one that cannot be stored faithfully.
 * `shareable: false` (an async iterable: it can be consumed once) keeps it from callers that joined the
 * fill from another request; they resolve it themselves.
 */
export type FetchOutcome =
  | { readonly kind: 'value'; readonly value: unknown }
  | { readonly kind: 'absent' }
  | { readonly kind: 'error'; readonly error: Error }
  | { readonly kind: 'uncached'; readonly value: unknown; readonly shareable: boolean }

/**
 * Maps what `fetch` returned onto the ids it was given. A result of the wrong shape fails every id of the
 * batch with an error that says what was expected, as DataLoader does.
 */
export function alignFetchResult(
  loaderName: string,
  ids: readonly CacheId[],
  result: unknown,
): FetchOutcome[] | Error {
  if (result instanceof Map) {
    return ids.map((id) => outcome(lookup(result, id)))
  }
  if (Array.isArray(result)) {
    if (result.length !== ids.length) {
      return new LoadCacheTypeError(
        'E_INVALID_FETCH_RESULT',
        `loader "${loaderName}": fetch must return an array with one value per id (${ids.length}), or a Map; got an array of ${result.length}`,
      )
    }
    return result.map(outcome)
  }
  return new LoadCacheTypeError(
    'E_INVALID_FETCH_RESULT',
    `loader "${loaderName}": fetch must return an array aligned with the ids or a Map, got ${describeValue(result)}`,
  )
}

/** Finds an id in a Map the way users expect: `1` and `'1'` name the same entity. */
function lookup(map: Map<unknown, unknown>, id: CacheId): unknown {
  if (map.has(id)) return map.get(id)
  if (typeof id === 'number') return map.get(String(id))
  const asNumber = Number(id)
  return String(asNumber) === id ? map.get(asNumber) : undefined
}

function outcome(value: unknown): FetchOutcome {
  if (value instanceof Error) return { kind: 'error', error: value }
  if (value === null || value === undefined) return { kind: 'absent' }
  return { kind: 'value', value }
}
