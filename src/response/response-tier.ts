import { createHash } from 'node:crypto'
import type { ExecutionResult } from 'graphql'
import { LRUCache } from 'lru-cache'
import { engineOf, type LoadCache } from '../cache/create-cache.js'
import { type CacheId, decodeSegment, encodeTags } from '../core/keys.js'
import { stableJson } from '../core/stable-json.js'
import { compactTags } from '../core/tags.js'
import { nonNegativeInteger, positiveInteger } from '../core/validate.js'
import { isAsyncIterable } from '../core/values.js'
import type { CacheEngine } from '../engine/engine.js'
import type { NOT_SHARED } from '../engine/flight.js'
import type { BatchSource, LoaderRuntime } from '../engine/runtime.js'
import type { ResponseStats } from '../engine/stats.js'
import { defineInternalLoader, type FetchOutcome, type LoaderDefinition } from '../loader/define-loader.js'
import type { WriteCheck } from '../redis/redis-tier.js'
import { cacheControlFor } from '../request/cache-control.js'
import type { RequestCacheState } from '../request/request-state.js'
import type { DocumentInfo } from './document-info.js'
import { privateMarker, responseSerializer, type StoredResponse, storedResponse } from './stored-response.js'

/** Options of the response tier (`useLoadCache({ responses: { … } })`). */
export interface ResponseTierOptions {
  /**
   * Most tags one stored response may carry (every entity and entry it was built from). A response with
   * more is not stored: every Redis read checks every tag, and past this it would cost more than executing.
   * Default 5,000.
   */
  readonly maxTags?: number
  /**
   * How long (ms) this process remembers that an operation (document, operation name and variables) gave a
   * response that cannot be stored for what it is — an uncached field (`no-store`), a stream, too many
   * tags — and then executes it directly, without the two Redis round trips of the response lock. It only
   * ever makes the tier execute, never serve. What may pass is not remembered: errors, a value that came
   * from no cache entry (a Redis fault, a fill that lost a race). `0` turns it off. Default 5,000.
   */
  readonly rememberUnstorableMs?: number
}

/** One operation as the tier keys it. */
export interface OperationRequest {
  readonly document: DocumentInfo
  readonly operationName: string | undefined
  readonly variables: unknown
  /** The viewer, for responses that hold PRIVATE data; null for anonymous requests. */
  readonly viewer: string | null
}

/** What executing an operation produced, as the tier judges it. */
export interface Executed {
  /** A single result; a stream (not expected for the operations the tier takes) is passed through. */
  readonly result: ExecutionResult | AsyncIterable<ExecutionResult>
  /** The request state of the execution; without one nothing is known of it, and nothing is stored. */
  readonly state: RequestCacheState | undefined
  /** `Type:id` of every entity the execution produced. */
  readonly entities: ReadonlySet<string>
  /** Why what ran may differ from what the key says (params changed after keying): never stored. */
  readonly unkeyed?: string
}

/** How a request was served. */
export type Served =
  /** From the cache (`hit`), or executed by this request and stored (`stored`; the write may have lost a race). */
  | {
      readonly kind: 'hit' | 'stored'
      readonly response: StoredResponse
      /**
       * Its tags, encoded: decoding them costs more than the rest of a hit on a response with hundreds of
       * tags, so only a CDN tag header does (`decodeSegment`).
       */
      readonly encodedTags: readonly string[]
      /**
       * Set on a `hit` that joined another request's execution in this process (RFC 9211 `collapsed`) whose
       * response was not stored: why (Cache-Status `detail`), and whether an invalidation overtook it (then
       * it is sent `no-store`).
       */
      readonly collapsed?: { readonly reason: string; readonly overtaken: boolean }
    }
  /** Executed and not stored: send `result` as usual. `reason` says why (Cache-Status `detail`). */
  | {
      readonly kind: 'executed'
      readonly result: ExecutionResult | AsyncIterable<ExecutionResult>
      readonly reason: string
      /**
       * An invalidation overtook the execution (its write was refused, or this process heard the
       * invalidation while it ran): the result may be older than that invalidation, so it must be sent
       * `no-store` whatever its fields' policies said.
       */
      readonly overtaken?: boolean
    }

type Verdict =
  | {
      readonly store: false
      readonly reason: string
      /**
       * The response is PUBLIC under the Cache-Control rules (every root field cached PUBLIC, no uncached
       * object field, no error) and only its storing failed (a field read that faulted, too many tags): the
       * requests that joined this execution in this process may get it, as they would get it stored.
       */
      readonly shareable?: boolean
      /** The reason is the operation's shape (not an error or a fault): the same request would fail again. */
      readonly byShape?: boolean
    }
  | {
      readonly store: true
      readonly private: boolean
      readonly response: StoredResponse
      /** Encoded tags (the buckets of the largest prefixes, when there are many). */
      readonly tags: readonly string[]
      /** What must still hold of the entries it was built from when it is written. */
      readonly checks: readonly WriteCheck[]
      readonly ttlMs: number
    }

const RESPONSE_LOADER = '_response'

/** Responses with more tags carry buckets for their largest tag prefixes (see compactTags). */
const COMPACT_ABOVE = 256

/**
 * The response tier: whole operations served from the shared cache, on the same entries, tags, versions,
 * locks and scopes as fields and loaders.
 *
 * - A query's response is stored when the Cache-Control rules make it cacheable (every root field cached,
 *   no uncached object field, no error), every value in it came from a cache entry, and it is PUBLIC, or
 *   PRIVATE with a viewer. Its tags are every tag of every entry it was built from, the key tag of each of
 *   those entries, and the `Type:id` of every entity the execution produced; so whatever evicts an entry
 *   or an entity it holds evicts the response, in every process.
 * - Its clock is the oldest clock among those entries: a write is refused (and a read rejects it) if any
 *   tag moved since, even one an L1 in this process had not heard of yet.
 * - A cold operation executes once across the fleet: the response key is filled under the same Redis lock
 *   as any entry; identical requests in this process join the fill, other processes wait for its notice.
 * - PRIVATE responses live under a key per viewer; the operation's public key then holds a marker that
 *   sends every viewer to their own key (and anonymous requests to execution, never to a stored response).
 */
export class ResponseTier {
  readonly #engine: CacheEngine
  readonly #runtime: LoaderRuntime
  readonly #maxTags: number
  /** Operations (public keys) whose response could not be stored for its shape, until when (see the option). */
  readonly #unstorable: LRUCache<string, string> | undefined

  constructor(cache: LoadCache, options: ResponseTierOptions = {}) {
    this.#engine = engineOf(cache)
    // What a request's loaders serve becomes a dependency of its response only once the request state has
    // adopted them (bindLoaders); loads made before that (a context factory's) must wait for the batch.
    this.#engine.loadersObserved = true
    this.#maxTags = positiveInteger('responses.maxTags', options.maxTags, 5000)
    const rememberMs = nonNegativeInteger(
      'responses.rememberUnstorableMs',
      options.rememberUnstorableMs,
      5000,
    )
    // Bounded by count: an attacker varying variables fills it, and the oldest go first (each costs
    // the two round trips again, nothing worse).
    this.#unstorable = rememberMs > 0 ? new LRUCache({ max: 10_000, ttl: rememberMs }) : undefined
    this.#runtime = this.#engine.runtime(
      defineInternalLoader<string, StoredResponse>('response', {
        name: RESPONSE_LOADER,
        // A fallback only: every stored response gets the TTL of its own fields (source.ttlMs).
        ttl: this.#engine.options.ttl,
        negativeTtl: 0,
        grace: 0,
        earlyRefresh: false,
        serializer: responseSerializer,
        fetch: () => [],
      }) as unknown as LoaderDefinition<CacheId, unknown>,
    )
  }

  /** Counters per operation name. */
  stats(operationName: string | undefined): ResponseStats {
    return this.#engine.responseStats(operationName ?? '')
  }

  /**
   * Serves one query operation: a stored response, or `execute()` once (fleet-wide for the same key) and
   * the response stored when it may be. Never rejects for a cache fault: it executes instead.
   */
  async serve(request: OperationRequest, execute: () => Promise<Executed>): Promise<Served> {
    const stats = this.stats(request.operationName)
    let publicId: string
    try {
      publicId = hash(
        `${request.document.hash}\n${request.operationName ?? ''}\n${stableJson(request.variables ?? {})}`,
      )
    } catch {
      return this.#executeUncached(execute, stats, 'variables cannot be keyed')
    }
    const remembered = this.#unstorable?.get(publicId)
    if (remembered !== undefined) return this.#executeUncached(execute, stats, remembered)
    let executed: Executed | undefined
    let verdict: Verdict | undefined
    const startSeq = this.#engine.seq
    const [value, tags, kept, overtaken] = await this.#load(
      publicId,
      startSeq,
      async () => {
        executed = await execute()
        verdict = this.#judge(executed, request.viewer)
        if (!verdict.store) {
          // A PUBLIC response that could not be stored still answers the requests that joined this one
          // (a Redis fault must not turn one execution into one per joined request); anything else may
          // depend on who asked, and each joined request executes on its own.
          return verdict.shareable
            ? { kind: 'uncached', value: sharedExecution(executed, verdict.reason), shareable: true }
            : { kind: 'uncached', value: NOT_STORED, shareable: false }
        }
        if (verdict.private) return { kind: 'value', value: privateMarker(verdict.response.cacheControl) }
        return { kind: 'value', value: verdict.response }
      },
      () => verdict,
      request.operationName ?? '',
    )

    if (executed !== undefined && verdict !== undefined) {
      // This request executed the operation.
      stats.misses++
      if (!verdict.store) {
        if (verdict.byShape) this.#unstorable?.set(publicId, verdict.reason)
        // What ran is not what the key says: no HTTP cache may keep it under this request either.
        return this.#uncacheable(executed, stats, verdict.reason, executed.unkeyed !== undefined)
      }
      let written = kept
      let overtook = overtaken
      if (verdict.private && written) {
        // The marker went under the public key; the response goes under this viewer's key.
        const stored = verdict
        ;[, , written, overtook] = await this.#load(
          hash(`${publicId}\n${request.viewer}`),
          startSeq,
          async () => ({ kind: 'value', value: stored.response }),
          () => stored,
          request.operationName ?? '',
        )
      }
      return this.#written(executed, verdict, stats, written, overtook)
    }
    if (isSharedExecution(value)) {
      // Joined an execution whose PUBLIC response could not be stored: its result, not executed again.
      stats.uncacheable++
      // Its headers come from here, not from an execution of its own: no-store if the execution was overtaken.
      const overtaken = value.reason === OVERTAKEN
      return { kind: 'executed', result: { ...value.result }, reason: value.reason, overtaken }
    }
    const stored = value as StoredResponse | typeof NOT_SHARED | Error | null
    if (isResponse(stored) && stored.kind === 'response')
      return this.#served(stored, tags, kept, overtaken, stats)
    if (isResponse(stored) && stored.kind === 'private' && request.viewer !== null) {
      return this.#servePrivate(`${publicId}\n${request.viewer}`, request, execute, stats)
    }
    // A fill whose result is not shareable (not stored), PRIVATE without a viewer, or a cache fault.
    const reason = isResponse(stored) ? 'PRIVATE data without a viewer' : 'not stored'
    return this.#executeUncached(execute, stats, reason)
  }

  async #servePrivate(
    idSource: string,
    request: OperationRequest,
    execute: () => Promise<Executed>,
    stats: ResponseStats,
  ): Promise<Served> {
    const viewer = request.viewer
    let executed: Executed | undefined
    let verdict: Verdict | undefined
    const startSeq = this.#engine.seq
    const [value, tags, kept, overtaken] = await this.#load(
      hash(idSource),
      startSeq,
      async () => {
        executed = await execute()
        verdict = this.#judge(executed, viewer)
        // Stored under this viewer's key whether it still holds PRIVATE data or not: either is safe here.
        return verdict.store
          ? { kind: 'value', value: verdict.response }
          : { kind: 'uncached', value: NOT_STORED, shareable: false }
      },
      () => verdict,
      request.operationName ?? '',
    )
    if (executed !== undefined && verdict !== undefined) {
      stats.misses++
      if (!verdict.store)
        return this.#uncacheable(executed, stats, verdict.reason, executed.unkeyed !== undefined)
      return this.#written(executed, verdict, stats, kept, overtaken)
    }
    if (isResponse(value) && value.kind === 'response')
      return this.#served(value, tags, kept, overtaken, stats)
    return this.#executeUncached(execute, stats, 'not stored')
  }

  /**
   * Loads one response key: a hit, or (on a miss this process locked) `fill()`'s value, stored with the
   * verdict's tags, clock and TTL. Returns the value, the (encoded) tags of the entry it came from,
   * whether there is such an entry (false when the fill's write was refused, a tag or the key moved while
   * it executed, or failed), and whether an invalidation overtook the fill (refused, not failed).
   */
  async #load(
    id: string,
    startSeq: number,
    fill: () => Promise<FetchOutcome>,
    verdict: () => Verdict | undefined,
    operationName: string,
  ): Promise<[unknown, readonly string[], boolean, boolean]> {
    let tags: readonly string[] = []
    let kept = false
    let overtaken = false
    const stored = () => {
      const current = verdict()
      return current?.store ? current : undefined
    }
    const source: BatchSource = {
      fetch: async () => [await fill()],
      tags: () => stored()?.tags ?? [],
      encodedTags: true,
      checks: () => stored()?.checks ?? [],
      ttlMs: () => stored()?.ttlMs ?? 0,
    }
    const [value] = await this.#engine.loadBatch(this.#runtime, [id], {
      source,
      startSeq,
      observe: (entry, entryKey, fillOvertaken) => {
        tags = entry?.tags ?? []
        kept = entry !== undefined
        overtaken = fillOvertaken === true
        if (entry !== undefined) this.#engine.trackResponse(entryKey, operationName)
      },
    })
    return [value, tags, kept, overtaken]
  }

  /** Whether an executed operation's response may be stored, and how. */
  #judge(executed: Executed, viewer: string | null): Verdict {
    const { result, state } = executed
    if (executed.unkeyed !== undefined) return { store: false, reason: executed.unkeyed }
    if (state === undefined) return { store: false, reason: 'no loadcache request state' }
    if (isAsyncIterable(result)) return { store: false, reason: 'a stream', byShape: true }
    if (((result as ExecutionResult).errors?.length ?? 0) > 0) return { store: false, reason: 'errors' }
    if (state.policy.private && viewer === null)
      return { store: false, reason: 'PRIVATE data without a viewer' }
    // Not for its shape: the next execution is likely to be storable.
    if (state.policy.overtaken) return { store: false, reason: OVERTAKEN, shareable: !state.policy.private }
    const cacheControl = cacheControlFor(state.policy, {
      operation: 'query',
      hasErrors: false,
      isIntrospection: false,
      isStream: false,
    })
    if (cacheControl === 'no-store')
      return { store: false, reason: 'not cacheable (no-store)', byShape: true }
    const dependencies = state.dependencies
    const shareable = !state.policy.private && cacheControl.startsWith('public')
    if (!dependencies.vouched) return { store: false, reason: 'a value came from no cache entry', shareable }
    const checks: WriteCheck[] = []
    for (const [tag, version] of dependencies.tags) if (version !== undefined) checks.push({ tag, version })
    for (const [tag, notAfter] of dependencies.keyTags) checks.push({ tag, notAfter })
    let tags = new Set([...dependencies.tags.keys(), ...dependencies.keyTags.keys()])
    for (const tag of encodeTags([...executed.entities])) tags.add(tag)
    if (tags.size > COMPACT_ABOVE) {
      // Thousands of entities: carry the buckets of their prefixes instead (every read checks every tag);
      // the write still checks each entry's own tags (the checks above).
      // A tag too long to keep readable is a digest ('#…', see encodeSegment): it cannot be decoded, so
      // neither its bucket nor its prefix is known, and it is carried as it is.
      const digests = [...tags].filter((tag) => tag.startsWith('#'))
      const readable = [...tags].filter((tag) => !tag.startsWith('#')).map(decodeSegment)
      const compacted = compactTags(readable, Math.max(0, COMPACT_ABOVE - digests.length))
      tags = new Set([...digests, ...encodeTags(compacted)])
    }
    if (tags.size > this.#maxTags)
      return { store: false, reason: `more than ${this.#maxTags} tags`, shareable, byShape: true }
    const body = JSON.stringify(withoutInternals(result as ExecutionResult))
    return {
      store: true,
      private: state.policy.private,
      response: storedResponse(body, cacheControl),
      tags: [...tags],
      checks,
      ttlMs: state.policy.minTtl * 1000,
    }
  }

  /** What the request that executed a storable response gets, once its write settled (see `#load`). */
  #written(
    executed: Executed,
    verdict: Extract<Verdict, { store: true }>,
    stats: ResponseStats,
    written: boolean,
    overtaken: boolean,
  ): Served {
    if (!written) return this.#uncacheable(executed, stats, NOT_WRITTEN, overtaken)
    // Written, but this process heard an invalidation of one of its keys or tags after the request began:
    // it may hold a value that invalidation overtook, so no HTTP cache may keep it. (Redis's copy is current
    // when the invalidation landed before the write's checks, and unreadable when it landed after.)
    if (overtaken) return this.#uncacheable(executed, stats, OVERTAKEN, true)
    stats.fills++
    return { kind: 'stored', response: verdict.response, encodedTags: verdict.tags }
  }

  /**
   * What a request that did not execute gets from a response value (see `#load`): a hit, or, when it joined
   * another request's execution whose response was not stored or was overtaken, that result `collapsed`.
   */
  #served(
    response: StoredResponse,
    tags: readonly string[],
    kept: boolean,
    overtaken: boolean,
    stats: ResponseStats,
  ): Served {
    if (kept && !overtaken) {
      stats.hits++
      return { kind: 'hit', response, encodedTags: tags }
    }
    stats.uncacheable++
    const reason = kept ? OVERTAKEN : NOT_WRITTEN
    return { kind: 'hit', response, encodedTags: tags, collapsed: { reason, overtaken } }
  }

  #uncacheable(executed: Executed, stats: ResponseStats, reason: string, overtaken = false): Served {
    stats.uncacheable++
    return { kind: 'executed', result: executed.result, reason, overtaken }
  }

  async #executeUncached(
    execute: () => Promise<Executed>,
    stats: ResponseStats,
    reason: string,
  ): Promise<Served> {
    const executed = await execute()
    stats.misses++
    stats.uncacheable++
    // What ran is not what the key says: no HTTP cache may keep it under this request either.
    if (executed.unkeyed !== undefined)
      return { kind: 'executed', result: executed.result, reason: executed.unkeyed, overtaken: true }
    return { kind: 'executed', result: executed.result, reason }
  }
}

/**
 * Why an executed response judged storable is not stored: its write was refused (an entry it was built
 * from, or the response key, moved while it executed) or failed (Redis).
 */
const NOT_WRITTEN = 'write refused or failed'

/** Why a response built from a value an invalidation overtook (see `Flight#overtaken`) is not stored. */
const OVERTAKEN = 'a value it was built from was overtaken by an invalidation'

/** What a fill that did not store its response settles joiners with: they execute for themselves. */
const NOT_STORED = Symbol('loadcache.notStored')

/** What the requests that joined an execution get when its PUBLIC response could not be stored. */
interface SharedExecution {
  readonly kind: typeof SHARED_EXECUTION
  readonly result: ExecutionResult
  readonly reason: string
}

const SHARED_EXECUTION = Symbol('loadcache.sharedExecution')

function sharedExecution(executed: Executed, reason: string): SharedExecution {
  return { kind: SHARED_EXECUTION, result: executed.result as ExecutionResult, reason }
}

function isSharedExecution(value: unknown): value is SharedExecution {
  return typeof value === 'object' && value !== null && (value as SharedExecution).kind === SHARED_EXECUTION
}

function isResponse(value: unknown): value is StoredResponse {
  return value !== null && typeof value === 'object' && typeof (value as StoredResponse).kind === 'string'
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('base64url')
}

/**
 * The result as yoga sends it: without `extensions.http` (yoga's own, never sent) and loadcache's debug
 * extension (it describes one request, not the response).
 */
function withoutInternals(result: ExecutionResult): ExecutionResult {
  if (result.extensions === undefined) return result
  const { http: _http, loadcache: _loadcache, ...extensions } = result.extensions as Record<string, unknown>
  return Object.keys(extensions).length > 0 ? { ...result, extensions } : { ...result, extensions: undefined }
}
