import { createHash } from 'node:crypto'
import type { Serializer } from '../core/entry.js'
import { LoadCacheTypeError } from '../core/errors.js'

/**
 * A response as the tier stores it: the exact bytes sent on a hit (no re-serialization), with what its
 * headers need. `private` is the marker stored under an operation's public key when its responses hold
 * PRIVATE data: look under the viewer's key instead.
 */
export interface StoredResponse {
  readonly kind: 'response' | 'private'
  /** The JSON body, exactly as sent. */
  readonly body: string
  /** A strong ETag of the body: it changes whenever the content does (never the cache key). */
  readonly etag: string
  /** Epoch ms when it was stored, for `Age`. */
  readonly storedAt: number
  /** `public, max-age=N` or `private, max-age=N`, as computed when it was stored. */
  readonly cacheControl: string
}

export function storedResponse(
  body: string,
  cacheControl: string,
  storedAt: number = Date.now(),
): StoredResponse {
  return { kind: 'response', body, etag: etagOf(body), storedAt, cacheControl }
}

export function privateMarker(cacheControl: string): StoredResponse {
  return { kind: 'private', body: '', etag: '', storedAt: Date.now(), cacheControl }
}

/** `"<27 characters of base64url SHA-256>"`: 162 bits, a strong validator of the exact bytes. */
export function etagOf(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
}

/**
 * Stores a response as four header lines and the body, unescaped: a 66 KB body is not JSON-escaped again,
 * and reading it back is a few `indexOf`s.
 */
export const responseSerializer: Serializer = {
  id: 'r1',
  serialize(value) {
    const response = value as StoredResponse
    if (response === null || typeof response !== 'object' || typeof response.body !== 'string') {
      throw new LoadCacheTypeError('E_UNCACHEABLE_VALUE', 'a stored response must be a StoredResponse')
    }
    return `${response.kind}\n${response.etag}\n${response.storedAt}\n${response.cacheControl}\n${response.body}`
  },
  deserialize(payload) {
    const lines: string[] = []
    let start = 0
    for (let i = 0; i < 4; i++) {
      const end = payload.indexOf('\n', start)
      if (end < 0) throw new SyntaxError('truncated stored response')
      lines.push(payload.slice(start, end))
      start = end + 1
    }
    const [kind, etag, storedAt, cacheControl] = lines as [string, string, string, string]
    if (kind !== 'response' && kind !== 'private') throw new SyntaxError(`unknown response kind ${kind}`)
    const at = Number(storedAt)
    if (!Number.isFinite(at)) throw new SyntaxError('bad storedAt')
    return { kind, etag, storedAt: at, cacheControl, body: payload.slice(start) } satisfies StoredResponse
  },
}
