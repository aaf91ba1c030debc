import type { ExecutionResult } from 'graphql'
import type { GraphQLParams, Plugin } from 'graphql-yoga'
import type { LoadCache } from '../cache/create-cache.js'
import { decodeSegment } from '../core/keys.js'
import { stableJson } from '../core/stable-json.js'
import { isAsyncIterable } from '../core/values.js'
import { producedEntities } from '../graphql/operation.js'
import type { RequestCacheState } from '../request/request-state.js'
import { DocumentCache } from '../response/document-info.js'
import { ResponseTier, type ResponseTierOptions, type Served } from '../response/response-tier.js'
import type { StoredResponse } from '../response/stored-response.js'

/** Options of the response tier in the yoga plugin (`useLoadCache({ responses: { … } })`). */
export interface ResponseCacheOptions extends ResponseTierOptions {
  /**
   * Requests that neither read nor write stored responses (e.g. `(request) => request.headers.has('x-debug')`).
   * Default: none. A client's `Cache-Control: no-cache` is not a bypass: stored responses are never stale
   * (they are evicted, not expired, when their data changes), and fetch() sends it with every conditional
   * request.
   */
  bypass?: (request: Request) => boolean
  /**
   * Also send the response's tags, for a CDN that purges by tag: `'Surrogate-Key'` (Fastly: space separated)
   * or `'Cache-Tag'` (Cloudflare: comma separated). Wire `cache.on('evict', …)` to the CDN's purge API.
   * Default false.
   */
  cacheTagHeader?: 'Surrogate-Key' | 'Cache-Tag' | false
  /**
   * Longest tag header sent, in bytes (default 8,000; Fastly and Cloudflare accept 16 KB in all). A
   * response whose tags do not fit is sent `private` instead of `public`: a CDN that cannot be told every
   * tag must not store it.
   */
  maxCacheTagHeaderBytes?: number
}

/** The result the params handler returns for a response served by the tier, sent as stored bytes. */
interface ServedMarker extends ExecutionResult {
  readonly [SERVED]: { readonly served: Exclude<Served, { kind: 'executed' }>; readonly mediaType: string }
}

const SERVED = Symbol('loadcache.served')

const PARAMS_CHANGED = 'the params changed after the response key was built'

/** An execution the tier runs (see `filling`). */
interface Fill {
  /** What of the params its key was built from (keyedParams). */
  readonly keyed: string
  /** The request state, once adopted with params equal to those. */
  state?: RequestCacheState
  /** The params that run differ from the key: not stored, sent no-store. */
  changed?: boolean
}

/** What of the params a response key is built from, as one string (see ResponseTier#serve). */
function keyedParams(params: GraphQLParams): string {
  try {
    return `${params.query}\n${params.operationName ?? ''}\n${stableJson(params.variables ?? {})}`
  } catch {
    return ''
  }
}

const REGULAR_MEDIA_TYPES = ['application/graphql-response+json', 'application/json'] as const

/**
 * The yoga side of the response tier. Eligible requests (a single query operation, no `@defer`/`@stream`,
 * no introspection, a JSON `Accept`) go through the tier in the params handler, before yoga parses,
 * validates, builds a context or executes anything: a hit is sent as the stored bytes, with `ETag`, `Age`,
 * `Cache-Control` and `Cache-Status` (RFC 9211), or `304 Not Modified` when `If-None-Match` names its ETag.
 */
export function responseHooks(
  cache: LoadCache,
  options: ResponseCacheOptions,
  viewerOf: (context: Record<string, unknown> & { request: Request }) => Promise<string | null>,
  enabledFor: (context: Record<string, unknown> & { request: Request }) => Promise<boolean> = async () =>
    true,
): {
  hooks: Pick<Plugin, 'onRequestParse' | 'onParams' | 'onResultProcess' | 'onResponse'>
  /** Called by the plugin's onContextBuilding with each request state it creates. */
  adopt(request: Request, params: unknown, state: RequestCacheState): void
  /**
   * Whether this request executed (or joined the execution of) a response an invalidation overtook: the
   * plugin then sends it `no-store`, whatever its fields' policies said.
   */
  overtook(request: Request): boolean
  /**
   * The CDN tag header, when one is configured. Only responses the tier serves or stores carry it; a
   * response sent without it (executed but not stored, or not handled by the tier) could never be purged.
   */
  readonly tagHeader: 'Surrogate-Key' | 'Cache-Tag' | false
} {
  const tier = new ResponseTier(cache, options)
  const documents = new DocumentCache()
  const batched = new WeakSet<Request>()
  /** Why the tier did not store what a request executed, and whether an invalidation overtook it. */
  const notStored = new WeakMap<Request, { reason: string; overtaken: boolean }>()
  /**
   * The executions the tier runs, by request: the state the plugin adopts, what the key was built from,
   * and whether the params that run turned out to differ from it (another plugin changed or replaced them
   * after the key was built, before the execution started).
   */
  const filling = new WeakMap<Request, Fill>()
  const bypass = options.bypass ?? (() => false)
  const tagHeader = options.cacheTagHeader ?? false
  const maxTagBytes = options.maxCacheTagHeaderBytes ?? 8000

  return {
    overtook: (request) => notStored.get(request)?.overtaken === true,
    tagHeader,
    adopt(request, params, state) {
      const fill = filling.get(request)
      if (fill === undefined) return
      // Changed since the key was built (a params handler of a plugin before useLoadCache): what runs is
      // not what the key says, so it is not stored. An equal copy is fine.
      if (keyedParams(params as GraphQLParams) !== fill.keyed) {
        fill.changed = true
        return
      }
      // The tier tags the response with every entity the execution produces: collect them from the start.
      state.collectEntities = true
      fill.state = state
    },
    hooks: {
      onRequestParse({ request }) {
        return {
          onRequestParseDone({ requestParserResult }) {
            // A batch is answered as one JSON array: the tier's stored bytes cannot be spliced into it.
            if (Array.isArray(requestParserResult)) batched.add(request)
          },
        }
      },
      onParams({ request, context, paramsHandler, setParamsHandler }) {
        if (batched.has(request) || bypass(request)) return
        const mediaType = regularMediaType(request)
        if (mediaType === undefined) return
        setParamsHandler(async (payload) => {
          // The params that run, read here: a plugin after this one may have replaced them (setParams), and
          // a key built from the ones this hook saw would serve one request's response to another.
          const params = payload.params
          if (typeof params.query !== 'string') return paramsHandler(payload)
          const document = documents.get(params.query)
          const operation = document?.operations.get(params.operationName ?? '')
          if (document === undefined || operation === undefined) return paramsHandler(payload)
          if (operation.type !== 'query' || operation.introspection || operation.incremental)
            return paramsHandler(payload)
          const requestContext = { ...(context as Record<string, unknown>), ...payload.context, request }
          if (!(await enabledFor(requestContext))) return paramsHandler(payload)
          const viewer = await viewerOf(requestContext)
          const served = await tier.serve(
            {
              document,
              // The document's only operation is run (and counted) by its name whether or not the client
              // sent it: clients that leave operationName out must not all be counted as anonymous.
              operationName: params.operationName ?? (operation.name || undefined),
              variables: params.variables,
              viewer,
            },
            async () => {
              const fill: Fill = { keyed: keyedParams(params) }
              filling.set(request, fill)
              const result = await paramsHandler(payload)
              if (isAsyncIterable(result)) return { result, state: undefined, entities: new Set<string>() }
              // Compared again once the result is back: other plugins may edit the params in place after
              // the state was adopted (their onContextBuilding or onExecute, after useLoadCache's), or run
              // the execution themselves. A resolver that edits its own arguments in place (a JSON scalar
              // variable is the variables' own object) looks the same, and is not stored either.
              if (fill.state !== undefined && keyedParams(params) !== fill.keyed) fill.changed = true
              if (fill.changed)
                return { result, state: undefined, entities: new Set<string>(), unkeyed: PARAMS_CHANGED }
              const state = fill.state
              return { result, state, entities: state ? producedEntities(state) : new Set<string>() }
            },
          )
          if (served.kind === 'executed') {
            notStored.set(request, { reason: served.reason, overtaken: served.overtaken === true })
            return served.result
          }
          return { [SERVED]: { served, mediaType } } as ServedMarker
        })
      },
      onResponse({ request, response }) {
        const executed = notStored.get(request)
        if (executed === undefined) return
        if (!response.headers.has('cache-status')) {
          response.headers.set(
            'cache-status',
            `loadcache; fwd=miss; detail=${JSON.stringify(executed.reason)}`,
          )
        }
      },
      onResultProcess({ request, result, setResultProcessor }) {
        const marker = (result as Partial<ServedMarker>)[SERVED]
        if (marker === undefined) return
        setResultProcessor(
          (_result, fetchAPI) =>
            respond(fetchAPI, request, marker.served, marker.mediaType, tagHeader, maxTagBytes),
          marker.mediaType,
        )
      },
    },
  }
}

/**
 * The UTF-8 bytes of each stored response's body, encoded once: a hit served from L1 is the same object each
 * time, and encoding a large body again on every hit cost more than the rest of the hit.
 */
const bodyBytes = new WeakMap<StoredResponse, Uint8Array<ArrayBuffer>>()
const utf8 = new TextEncoder()

function bytesOf(response: StoredResponse): Uint8Array<ArrayBuffer> {
  let bytes = bodyBytes.get(response)
  if (bytes === undefined) {
    bytes = utf8.encode(response.body)
    bodyBytes.set(response, bytes)
  }
  return bytes
}

/** Sends a stored response: its bytes, or 304 when the client holds exactly them. */
function respond(
  fetchAPI: { Response: typeof Response },
  request: Request,
  served: Exclude<Served, { kind: 'executed' }>,
  mediaType: string,
  tagHeader: 'Surrogate-Key' | 'Cache-Tag' | false,
  maxTagBytes: number,
): Response {
  const { response, collapsed } = served
  const headers = new Headers({ etag: response.etag })
  let cacheControl = response.cacheControl
  if (collapsed !== undefined) {
    // Not stored: no ETag or Age to revalidate against. Overtaken: it may be older than an invalidation, and
    // a CDN purged by that invalidation's tags would store it after the purge.
    headers.delete('etag')
    headers.set('cache-status', `loadcache; fwd=miss; collapsed; detail=${JSON.stringify(collapsed.reason)}`)
    if (collapsed.overtaken) cacheControl = 'no-store'
  } else if (served.kind === 'hit') {
    const age = Math.max(0, Math.floor((Date.now() - response.storedAt) / 1000))
    headers.set('age', String(age))
    headers.set('cache-status', `loadcache; hit`)
  } else {
    headers.set('cache-status', 'loadcache; fwd=miss; stored')
  }
  if (tagHeader !== false && cacheControl !== 'no-store') {
    const tags = served.encodedTags.map(decodeSegment)
    const value = tags.join(tagHeader === 'Surrogate-Key' ? ' ' : ',')
    // A tag with a space or comma in it would be read as two by the CDN and never purged as one: such a
    // response, like one whose tags do not fit, must not be cached by a CDN at all.
    // A collapsed request whose execution Redis did not store has no tags: nothing could purge it either.
    const purgeable = collapsed === undefined || tags.length > 0
    if (purgeable && Buffer.byteLength(value) <= maxTagBytes && !tags.some((tag) => /[\s,]/.test(tag))) {
      headers.set(tagHeader, value)
    } else {
      cacheControl = cacheControl.replace(/^public/, 'private')
    }
  }
  headers.set('cache-control', cacheControl)
  if (collapsed === undefined && matchesEtag(request.headers.get('if-none-match'), response.etag)) {
    return new fetchAPI.Response(null, { status: 304, headers })
  }
  headers.set('content-type', `${mediaType}; charset=utf-8`)
  return new fetchAPI.Response(bytesOf(response), { status: 200, headers })
}

/** RFC 9110 If-None-Match: a list of (weak or strong) tags, or `*`; compared weakly. */
function matchesEtag(header: string | null, etag: string): boolean {
  if (header === null) return false
  const wanted = header.trim()
  if (wanted === '*') return true
  return wanted.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag)
}

/**
 * The media type yoga would answer a single, non-streamed result with for this `Accept` (the same
 * negotiation as its regular result processor), or undefined when the client takes neither JSON type.
 */
function regularMediaType(request: Request): string | undefined {
  const accepted = (request.headers.get('accept') || '*/*').replace(/\s/g, '').toLowerCase().split(',')
  let chosen: string | undefined
  for (const entry of accepted.reverse()) {
    const [asked, ...parameters] = entry.split(';')
    if (asked === undefined) continue
    const charset = parameters.find((parameter) => parameter.startsWith('charset='))
    if (charset !== undefined && charset !== 'charset=utf-8') continue
    const [askedType, askedSubtype] = asked.split('/')
    for (const candidate of REGULAR_MEDIA_TYPES) {
      const [type, subtype] = candidate.split('/')
      if ((askedType === '*' || askedType === type) && (askedSubtype === '*' || askedSubtype === subtype)) {
        chosen = candidate
      }
    }
  }
  return chosen
}

export type { StoredResponse }
