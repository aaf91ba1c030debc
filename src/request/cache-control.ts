import type { CachePolicySummary } from './request-state.js'

/** What one executed operation looked like, for its `Cache-Control` header. */
export interface OperationFacts {
  readonly operation: 'query' | 'mutation' | 'subscription' | undefined
  readonly hasErrors: boolean
  readonly isIntrospection: boolean
  /** Streamed results (defer/stream/subscriptions) are never cacheable by HTTP caches. */
  readonly isStream: boolean
}

/**
 * The HTTP cache policy of one operation, following Apollo's cacheControl rules: a response is cacheable
 * only if every root field was served through the cache and every other field that returns an object
 * was cached too (scalars inherit their parent's policy); its max-age is the smallest TTL among the cached
 * fields resolved, cached or not; any PRIVATE field makes it `private`. Mutations, errors, introspection,
 * streams, anything uncached, and PRIVATE data that could not be cached (no viewer) are `no-store`. So is a
 * response built from a value an invalidation overtook (beyond Apollo: its cache knows no invalidation):
 * a CDN purged by that invalidation's tags would otherwise store it after the purge.
 */
export function cacheControlFor(policy: CachePolicySummary | undefined, facts: OperationFacts): string {
  if (policy === undefined || facts.operation !== 'query' || facts.hasErrors || facts.isIntrospection)
    return 'no-store'
  if (facts.isStream || policy.rootFields === 0 || policy.uncachedRoot || policy.uncachedComposite)
    return 'no-store'
  if (policy.uncacheableField || policy.overtaken) return 'no-store'
  if (policy.uncachedPrivate) return 'no-store'
  if (!Number.isFinite(policy.minTtl)) return 'no-store'
  return `${policy.private ? 'private' : 'public'}, max-age=${policy.minTtl}`
}

/** Combines the policies of several operations in one HTTP request (batching): the strictest wins. */
export function combineCacheControl(values: readonly string[]): string {
  if (values.length === 0 || values.includes('no-store')) return 'no-store'
  let maxAge = Number.POSITIVE_INFINITY
  let isPrivate = false
  for (const value of values) {
    if (value.startsWith('private')) isPrivate = true
    const age = Number(/max-age=(\d+)/.exec(value)?.[1])
    if (Number.isFinite(age)) maxAge = Math.min(maxAge, age)
  }
  return Number.isFinite(maxAge) ? `${isPrivate ? 'private' : 'public'}, max-age=${maxAge}` : 'no-store'
}
