import type { LoadCache } from 'loadcache'
import type { Database } from './db/index.js'
import type { ExampleLoaders, LoaderDefinitions } from './loaders.js'

/**
 * What every resolver of the example API receives (the `contextType` of the generated resolver types).
 * Built once per request by the server's context factory.
 */
export interface ExampleContext {
  /** The database; resolvers write through it, and read through `loaders` (see resolvers.ts). */
  db: Database
  /** The process-wide cache; mutations call `invalidate`/`invalidateTags` on it after their write commits. */
  cache: LoadCache
  /** This request's loaders. Fresh per request: they memoize what they loaded, for this viewer only. */
  loaders: ExampleLoaders
  /** The loader definitions behind `loaders` (process-wide): writes prime the cache through them. */
  definitions: LoaderDefinitions
  /** The signed-in user's id, or `null` for an anonymous request. */
  viewerId: string | null
}

/** `Bearer <token>`, the scheme case-insensitive as RFC 9110 says; the token is the user id in this demo. */
const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i

/**
 * The viewer of a request, from `authorization: Bearer <userId>`.
 *
 * This is a demo stand-in for authentication: the token *is* the user id, unverified. A real API would
 * verify a signed token here and return its subject; everything downstream (private fields, `me`, private
 * cache scope) only needs this one function to change.
 *
 * @returns the user id, or `null` when the header is missing or is not a Bearer credential.
 */
export function viewerFromRequest(request: Request): string | null {
  return viewerFromAuthorization(request.headers.get('authorization'))
}

/**
 * The viewer named by an `authorization` header value, as {@link viewerFromRequest} reads it; for servers
 * that see node:http requests (the tRPC adapter) rather than fetch `Request`s.
 *
 * @returns the user id, or `null` when the value is missing or is not a Bearer credential.
 */
export function viewerFromAuthorization(header: string | null | undefined): string | null {
  if (header === null || header === undefined) return null
  return BEARER.exec(header.trim())?.[1] ?? null
}
