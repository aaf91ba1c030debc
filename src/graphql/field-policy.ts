import {
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  isAbstractType,
  isCompositeType,
} from 'graphql'
import { LoadCacheError } from '../core/errors.js'
import type { CacheScope } from '../request/field-plan.js'

/** Thrown at schema build time for a misused directive or policy; the message names the field or type. */
export class LoadCacheSchemaError extends LoadCacheError {
  constructor(message: string) {
    super('E_INVALID_DIRECTIVE', message)
    this.name = 'LoadCacheSchemaError'
  }
}

/**
 * A cache hint as written on a field or a type (`@cached(ttl, scope, tags)`, a code-first policy, or an
 * Apollo `@cacheControl` hint): every part optional, `where` names it in errors.
 */
export interface CacheHint {
  readonly ttl: number | undefined
  /** `undefined`: inherit (from the return type for a field; PUBLIC when nothing says otherwise). */
  readonly scope: CacheScope | undefined
  readonly tags: readonly string[]
  readonly where: string
  /**
   * What to do with a hinted field whose parent type has no identity (no `id`, no `identity` entry), so no
   * key: `'refuse'` (default) fails the build; `'header-only'` leaves the field uncached but counts its
   * TTL and scope for `Cache-Control` (Apollo hints, written for schemas that never needed ids).
   */
  readonly unkeyable?: 'refuse' | 'header-only'
}

/** Where a field's hints come from: its own, and those of its return type (looked up by type name). */
export interface HintSources {
  readonly fieldHint: (field: GraphQLField<unknown, unknown>, coordinate: string) => CacheHint | undefined
  readonly typeHint: (type: GraphQLNamedType) => CacheHint | undefined
  /**
   * What a field gets when none of its hints (nor its type's) gives a TTL: a TTL in seconds (0: the field is
   * not cached and a response that resolves it may not be cached, Apollo's `maxAge: 0`), `'inherit'` (not
   * cached, and the response keeps the max-age of the fields above it, Apollo's `inheritMaxAge`), or
   * undefined for loadcache's own rule (a hint without a TTL is an error; a field without hints is not
   * cached). Only the Apollo `@cacheControl` source has one (its `defaultMaxAge`).
   */
  readonly unhinted?: (
    field: GraphQLField<unknown, unknown>,
    coordinate: string,
  ) => number | 'inherit' | undefined
}

/** The cache policy of one field, with every inheritance rule applied. */
export type FieldPolicy =
  /** Cached for `ttl` seconds. */
  | {
      readonly kind: 'cached'
      readonly ttl: number
      readonly scope: CacheScope
      /** Tag templates of the field and of its return type. */
      readonly tags: readonly { readonly template: string; readonly where: string }[]
      /** Names the hints in errors, e.g. `@cached on Query.hero`. */
      readonly where: string
      /** See `CacheHint.unkeyable`. */
      readonly unkeyable: 'refuse' | 'header-only'
    }
  /** Not cached, and a response that resolves it is `no-store` (a TTL of 0 somewhere, Apollo's `maxAge: 0`). */
  | { readonly kind: 'uncacheable'; readonly where: string }
  /** Not cached; the response keeps the max-age of the fields above it, and becomes PRIVATE if `scope` is. */
  | { readonly kind: 'inherit'; readonly scope: CacheScope; readonly where: string }

/**
 * The effective policy of a field, or undefined when neither the field nor its return type is cached.
 *
 * Rules (Apollo's cacheControl inheritance, made safe):
 * - The return type's hint applies to the field through lists and non-null; for an interface or a union,
 *   so do the hints of its object types, for scope.
 * - TTL: the smallest of the field's, the type's and (interface, union) its object types'. A field may
 *   lower its type's TTL, never raise it (Apollo lets a field hint replace the type's, and takes an
 *   interface's over its implementations'; a larger max-age than a type's author allowed would be
 *   advertised to HTTP caches).
 * - Scope: PRIVATE when the field or its return type (or one of its object types) says PRIVATE. A field
 *   that leaves `scope` out inherits; one that says `scope: PUBLIC` on a PRIVATE type is refused, because it
 *   would share one viewer's data with every other (Apollo lets a field hint replace the scope).
 * - A field none of whose hints gives a TTL gets the sources' `unhinted` answer (Apollo's defaultMaxAge and
 *   inheritMaxAge), or fails the build.
 *
 * @throws LoadCacheSchemaError naming the field: no TTL anywhere, PUBLIC over PRIVATE, a bad TTL.
 */
export function fieldPolicy(
  schema: GraphQLSchema,
  field: GraphQLField<unknown, unknown>,
  coordinate: string,
  sources: HintSources,
): FieldPolicy | undefined {
  const own = sources.fieldHint(field, coordinate)
  const named = getNamedType(field.type)
  const typeHints = isCompositeType(named) ? typeHintsOf(schema, named, sources) : []
  const declared = typeHints[0]?.type === named ? typeHints[0].hint : undefined
  const privateHint = typeHints.find(({ hint }) => hint.scope === 'PRIVATE')
  // The type's TTL, and for an interface or union its object types' too: whichever object a value turns
  // out to be, its type's author allowed no more than that.
  const ttls = [own?.ttl, ...typeHints.map(({ hint }) => hint.ttl)].filter(
    (ttl): ttl is number => ttl !== undefined,
  )
  if (own === undefined && declared === undefined) {
    // An object type's hint alone (no hint on the field or its declared type) does not cache the field.
    const fallback = sources.unhinted?.(field, coordinate)
    if (fallback === undefined || fallback === 0) return undefined
    if (fallback === 'inherit') {
      return isCompositeType(named)
        ? { kind: 'inherit', scope: privateHint ? 'PRIVATE' : 'PUBLIC', where: coordinate }
        : undefined
    }
    ttls.push(fallback)
  }

  const where = own?.where ?? (declared ? `${declared.where} (inherited by ${coordinate})` : coordinate)
  if (own?.scope === 'PUBLIC' && privateHint !== undefined) {
    throw new LoadCacheSchemaError(
      `${own.where}: scope PUBLIC on a field whose type ${privateHint.type.name} is PRIVATE would share one viewer's data with every viewer; leave scope out (it inherits PRIVATE) or make it PRIVATE`,
    )
  }
  const scope: CacheScope = own?.scope === 'PRIVATE' || privateHint !== undefined ? 'PRIVATE' : 'PUBLIC'
  if (ttls.length === 0) {
    const fallback = sources.unhinted?.(field, coordinate)
    if (fallback === 'inherit') return { kind: 'inherit', scope, where }
    if (fallback === undefined) {
      throw new LoadCacheSchemaError(
        `${where}: no ttl: give ${coordinate} a ttl, or its type ${named.name} one (@cached(ttl: …))`,
      )
    }
    ttls.push(fallback)
  }
  const ttl = Math.min(...ttls)
  if (ttl === 0) return { kind: 'uncacheable', where }
  const tags = [
    ...(own?.tags ?? []).map((template) => ({ template, where: own!.where })),
    ...(declared?.tags ?? []).map((template) => ({
      template,
      where: `${declared!.where} (inherited by ${coordinate})`,
    })),
  ]
  const unkeyable =
    (own ?? declared)?.unkeyable ?? (own === undefined && declared === undefined ? 'header-only' : 'refuse')
  return { kind: 'cached', ttl, scope, tags, where, unkeyable }
}

/**
 * One source of hints from several (`@cached` directives, code-first policies, Apollo `@cacheControl`).
 *
 * @throws LoadCacheSchemaError naming the field or type when two sources hint it: which one should win is
 *   not obvious, so neither does.
 */
export function combineHintSources(sources: readonly HintSources[]): HintSources {
  if (sources.length === 1) return sources[0]!
  const one = (name: string, hints: (CacheHint | undefined)[]): CacheHint | undefined => {
    const found = hints.filter((hint): hint is CacheHint => hint !== undefined)
    if (found.length > 1) {
      throw new LoadCacheSchemaError(
        `${name} has a cache hint from two sources (${found.map((hint) => hint.where).join(' and ')}); keep one`,
      )
    }
    return found[0]
  }
  const unhinted = sources.find((source) => source.unhinted !== undefined)?.unhinted
  return {
    fieldHint: (field, coordinate) =>
      one(
        coordinate,
        sources.map((source) => source.fieldHint(field, coordinate)),
      ),
    typeHint: (type) =>
      one(
        type.name,
        sources.map((source) => source.typeHint(type)),
      ),
    ...(unhinted ? { unhinted } : {}),
  }
}

/** The hints of a composite type: its own first, then (interfaces, unions) those of its object types. */
function typeHintsOf(
  schema: GraphQLSchema,
  type: GraphQLNamedType,
  sources: HintSources,
): { type: GraphQLNamedType; hint: CacheHint }[] {
  const types: GraphQLNamedType[] = [type]
  if (isAbstractType(type)) types.push(...schema.getPossibleTypes(type))
  const hints: { type: GraphQLNamedType; hint: CacheHint }[] = []
  for (const candidate of types) {
    const hint = sources.typeHint(candidate)
    if (hint !== undefined) hints.push({ type: candidate, hint })
  }
  return hints
}

/**
 * Validates the arguments of a `@cached` hint (directive or policy) and returns it as a CacheHint.
 *
 * @throws LoadCacheSchemaError naming `where`: a TTL that is not a positive integer, an unknown scope,
 *   tags that are not a list of non-empty strings.
 */
export function cachedHint(where: string, args: Record<string, unknown>): CacheHint {
  const ttl = args.ttl
  if (ttl !== undefined && ttl !== null && (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl <= 0)) {
    throw new LoadCacheSchemaError(
      `${where}: ttl must be a positive integer (seconds), got ${JSON.stringify(ttl)}`,
    )
  }
  const scope = args.scope ?? undefined
  if (scope !== undefined && scope !== 'PUBLIC' && scope !== 'PRIVATE') {
    throw new LoadCacheSchemaError(`${where}: scope must be PUBLIC or PRIVATE, got ${JSON.stringify(scope)}`)
  }
  return {
    ttl: (ttl as number | null | undefined) ?? undefined,
    scope: scope as CacheScope | undefined,
    tags: tagList(where, args.tags ?? []),
    where,
  }
}

/** @throws LoadCacheSchemaError naming `where` unless `tags` is a list of non-empty strings. */
export function tagList(where: string, tags: unknown): string[] {
  if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string' || tag === '')) {
    throw new LoadCacheSchemaError(
      `${where}: tags must be a list of non-empty strings, got ${JSON.stringify(tags)}`,
    )
  }
  return tags
}
