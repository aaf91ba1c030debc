import type { GraphQLCompositeType, GraphQLFieldResolver, GraphQLResolveInfo } from 'graphql'
import { describeValue, LoadCacheTypeError } from '../core/errors.js'
import type { CacheScope } from '../request/field-plan.js'
import { requestStateOf } from '../request/request-state.js'
import { trackerOf } from './operation.js'

/** A cache hint as a resolver passes it to Apollo's `info.cacheControl.setCacheHint`. */
export interface DynamicCacheHint {
  /** Seconds. */
  readonly maxAge?: number
  readonly scope?: CacheScope
}

/** What `info.cacheControl` was before loadcache set its own (Apollo Server's plugin, when it runs too). */
interface ForeignCacheControl {
  readonly cacheHint?: { restrict?(hint: DynamicCacheHint): void }
}

/**
 * The field's hint as `info.cacheControl.cacheHint` shows it: its static hint, restricted by what the
 * resolver said so far. `restrict` and `replace` both restrict (see DynamicCacheControl).
 */
export class FieldCacheHint {
  readonly #control: DynamicCacheControl

  constructor(control: DynamicCacheControl) {
    this.#control = control
  }

  get maxAge(): number | undefined {
    return this.#control.hintMaxAge
  }

  get scope(): CacheScope | undefined {
    return this.#control.hintScope
  }

  restrict(hint: DynamicCacheHint): void {
    this.#control.setCacheHint(hint)
  }

  /** Apollo's `replace` may relax a hint; loadcache only restricts (see DynamicCacheControl). */
  replace(hint: DynamicCacheHint): void {
    this.#control.setCacheHint(hint)
  }

  /** The hint when it allows caching (a max-age above 0), as Apollo's `CachePolicy#policyIfCacheable`. */
  policyIfCacheable(): { maxAge: number; scope: CacheScope } | null {
    const maxAge = this.maxAge
    if (maxAge === undefined || maxAge <= 0) return null
    return { maxAge, scope: this.scope ?? 'PUBLIC' }
  }
}

/** What every resolution of one field shares (built once, with the schema). */
interface FieldSite {
  readonly coordinate: string
  /** The field's static hint, as `cacheHint` starts out. */
  readonly initial: DynamicCacheHint
  readonly typeHint: (type: GraphQLCompositeType) => DynamicCacheHint
  /** Told of a hint that would have relaxed the field's (once per field). */
  readonly ignored: (message: string) => void
}

/**
 * Apollo Server's `info.cacheControl`, given to every resolver of the schema (those written for Apollo's
 * cacheControl keep working): `setCacheHint({ maxAge, scope })`, `cacheHint`, `cacheHintFromType(type)`.
 *
 * A dynamic hint **restricts, never relaxes**: it can lower the field's max-age (0: the value is not cached
 * and the response is `no-store`) or make it PRIVATE (then the value is not cached under a key other
 * viewers share, the response is `private`, and what is cached below the field is keyed by viewer), but it
 * cannot raise a max-age above the field's static hint, make a field cached that has none, or make PRIVATE
 * data PUBLIC. Apollo's `setCacheHint` replaces the field's hint instead; relaxing it here would let HTTP
 * caches and the response tier keep data that no cached field or loader vouches for, and no invalidation
 * could reach. A cached value remembers the max-age its resolver set, so a later hit sends the same
 * `Cache-Control` as the miss that stored it, and Redis keeps it no longer.
 *
 * One is made for every call of a resolver, so it holds only references; `cacheHint` and the request state
 * are looked up when used.
 */
export class DynamicCacheControl {
  /**
   * Set once the cache judged the value (stored it or not, shared it or not): a hint after that comes too
   * late for it (see setCacheHint).
   */
  judged = false
  /** The field's hint now: its static hint, restricted by the resolver's hints. */
  hintMaxAge: number | undefined
  hintScope: CacheScope | undefined
  readonly #site: FieldSite
  readonly #context: unknown
  readonly #info: GraphQLResolveInfo
  readonly #foreign: ForeignCacheControl | undefined
  #cacheHint: FieldCacheHint | undefined
  /** The cache key of the field's value, when it is a cached field (see `bind`). */
  #key: string | undefined

  constructor(
    site: FieldSite,
    context: unknown,
    info: GraphQLResolveInfo,
    foreign: ForeignCacheControl | undefined,
  ) {
    this.#site = site
    this.#context = context
    this.#info = info
    this.#foreign = foreign
    this.hintMaxAge = site.initial.maxAge
    this.hintScope = site.initial.scope
  }

  /** Names the cache key of this resolution's value (a cached field): a PRIVATE hint then marks its every path. */
  bind(key: string): void {
    this.#key ??= key
  }

  get cacheHint(): FieldCacheHint {
    this.#cacheHint ??= new FieldCacheHint(this)
    return this.#cacheHint
  }

  /**
   * Restricts this field's hint, and the response's policy with it, at once. Ignored in mutations and
   * subscriptions (never cached), where a bad hint must not fail a write either.
   * @throws LoadCacheTypeError (E_INVALID_OPTION) in a query, for a hint that is not `{ maxAge?, scope? }`:
   *   the field fails, naming itself.
   */
  setCacheHint(hint: DynamicCacheHint): void {
    const info = this.#info
    if (info.operation.operation !== 'query') return
    const site = this.#site
    const { maxAge, scope } = validHint(site.coordinate, hint)
    if (maxAge !== undefined) {
      if (this.hintMaxAge === undefined || maxAge < this.hintMaxAge) this.hintMaxAge = maxAge
      else if (maxAge > this.hintMaxAge)
        site.ignored(`setCacheHint({ maxAge: ${maxAge} }) cannot raise its max-age of ${this.hintMaxAge}`)
    }
    if (scope === 'PRIVATE') {
      this.hintScope = 'PRIVATE'
    } else if (scope === 'PUBLIC' && this.hintScope === 'PRIVATE') {
      site.ignored(`setCacheHint({ scope: 'PUBLIC' }) cannot make its PRIVATE data public`)
    }
    // Apollo Server's own plugin computes its Cache-Control from what it hears: it hears the hint as a
    // restriction too (its setCacheHint would replace its hint, and could relax it).
    this.#foreign?.cacheHint?.restrict?.({
      ...(maxAge === undefined ? {} : { maxAge }),
      ...(scope === 'PRIVATE' ? { scope } : {}),
    })
    if (this.judged) {
      site.ignored(
        'setCacheHint was called after its value was resolved (from a promise, a function or a getter in the value, or later still), too late to keep that value out of the cache or from other requests: set hints before the resolver returns',
      )
    }
    const state = requestStateOf(this.#context)
    if (state === undefined) return
    state.restrictPolicy(maxAge, scope)
    if (scope !== 'PRIVATE') return
    const tracker = trackerOf(state, info)
    tracker.markPrivate(info.path)
    // Every path of this request that reuses the value (a repeated key) is the viewer's too, also when the
    // hint comes from the value's own promises, after those paths were resolved.
    if (this.#key !== undefined) tracker.markPrivateKey(site.coordinate, this.#key)
  }

  /** The static hint of a type (`@cached` or Apollo's `@cacheControl` on it), as Apollo's plugin gives it. */
  cacheHintFromType(type: GraphQLCompositeType): DynamicCacheHint {
    return this.#site.typeHint(type)
  }
}

/** The DynamicCacheControl loadcache set on this resolver's `info`, if any. */
export function dynamicControlOf(info: GraphQLResolveInfo): DynamicCacheControl | undefined {
  const control = (info as { cacheControl?: unknown }).cacheControl
  return control instanceof DynamicCacheControl ? control : undefined
}

/**
 * Wraps a resolver so it runs with `info.cacheControl` (see DynamicCacheControl). `initial`: the field's
 * static hint, as `cacheHint` shows it.
 */
export function withDynamicHints(
  inner: GraphQLFieldResolver<unknown, unknown>,
  coordinate: string,
  initial: DynamicCacheHint,
  typeHint: (type: GraphQLCompositeType) => DynamicCacheHint,
  warn: ((message: string) => void) | undefined,
): GraphQLFieldResolver<unknown, unknown> {
  let warned = false
  const site: FieldSite = {
    coordinate,
    initial,
    typeHint,
    ignored: (message) => {
      if (warned || warn === undefined) return
      warned = true
      warn(
        `[loadcache] ${coordinate}: ${message}: dynamic hints only restrict (give the field a static hint that allows it) (this warning is shown once)`,
      )
    },
  }
  return (parent, args, ctx, info) => {
    // A resolver called by hand with no info (or a frozen one) runs as it is.
    if (info === null || typeof info !== 'object' || Object.isFrozen(info))
      return inner(parent, args, ctx, info)
    const target = info as { cacheControl?: unknown }
    const previous = target.cacheControl
    if (previous instanceof DynamicCacheControl) {
      // A resolver calling another one with its own info: the callee's hints are the caller's (it is the
      // caller's field whose value they describe), so the caller's control stays.
      return inner(parent, args, ctx, info)
    }
    target.cacheControl = new DynamicCacheControl(
      site,
      ctx,
      info,
      previous as ForeignCacheControl | undefined,
    )
    return inner(parent, args, ctx, info)
  }
}
function validHint(coordinate: string, hint: unknown): { maxAge?: number; scope?: CacheScope } {
  const fail = (got: string) =>
    new LoadCacheTypeError(
      'E_INVALID_OPTION',
      `${coordinate}: info.cacheControl.setCacheHint takes { maxAge?: seconds (a non-negative number), scope?: 'PUBLIC' | 'PRIVATE' }, got ${got}`,
    )
  if (hint === null || typeof hint !== 'object') throw fail(describeValue(hint))
  const { maxAge, scope } = hint as { maxAge?: unknown; scope?: unknown }
  if (maxAge !== undefined && (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge < 0))
    throw fail(`maxAge: ${describeValue(maxAge)}`)
  if (scope !== undefined && scope !== 'PUBLIC' && scope !== 'PRIVATE')
    throw fail(`scope: ${describeValue(scope)}`)
  return {
    // Whole seconds, as Cache-Control has them: a fraction never rounds a hint up.
    ...(maxAge === undefined ? {} : { maxAge: Math.floor(maxAge) }),
    ...(scope === undefined ? {} : { scope }),
  }
}
