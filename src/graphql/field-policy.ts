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
}

/** Where a field's hints come from: its own, and those of its return type (looked up by type name). */
export interface HintSources {
  readonly fieldHint: (field: GraphQLField<unknown, unknown>, coordinate: string) => CacheHint | undefined
  readonly typeHint: (type: GraphQLNamedType) => CacheHint | undefined
}

/** The cache policy of one field, with every inheritance rule applied. */
export interface FieldPolicy {
  readonly ttl: number
  readonly scope: CacheScope
  /** Tag templates of the field and of its return type. */
  readonly tags: readonly { readonly template: string; readonly where: string }[]
  /** Names the hints in errors, e.g. `@cached on Query.hero`. */
  readonly where: string
}

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
  if (own === undefined && declared === undefined) return undefined
  // An object type's hint alone (no hint on the field or its declared type) does not cache the field.

  const where = own?.where ?? `${declared!.where} (inherited by ${coordinate})`
  // The type's TTL, and for an interface or union its object types' too: whichever object a value turns
  // out to be, its type's author allowed no more than that.
  const ttls = [own?.ttl, ...typeHints.map(({ hint }) => hint.ttl)].filter(
    (ttl): ttl is number => ttl !== undefined,
  )
  if (ttls.length === 0) {
    throw new LoadCacheSchemaError(
      `${where}: no ttl: give ${coordinate} a ttl, or its type ${named.name} one (@cached(ttl: …))`,
    )
  }
  const privateHint = typeHints.find(({ hint }) => hint.scope === 'PRIVATE')
  if (own?.scope === 'PUBLIC' && privateHint !== undefined) {
    throw new LoadCacheSchemaError(
      `${own.where}: scope PUBLIC on a field whose type ${privateHint.type.name} is PRIVATE would share one viewer's data with every viewer; leave scope out (it inherits PRIVATE) or make it PRIVATE`,
    )
  }
  const scope: CacheScope = own?.scope === 'PRIVATE' || privateHint !== undefined ? 'PRIVATE' : 'PUBLIC'
  const tags = [
    ...(own?.tags ?? []).map((template) => ({ template, where: own!.where })),
    ...(declared?.tags ?? []).map((template) => ({
      template,
      where: `${declared!.where} (inherited by ${coordinate})`,
    })),
  ]
  return { ttl: Math.min(...ttls), scope, tags, where }
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
