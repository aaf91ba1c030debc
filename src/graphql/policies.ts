import { type GraphQLField, type GraphQLSchema, isInterfaceType, isObjectType, isUnionType } from 'graphql'
import { describeValue, invalidOption } from '../core/errors.js'
import type { CacheScope } from '../request/field-plan.js'
import { type CacheHint, cachedHint, type HintSources, LoadCacheSchemaError } from './field-policy.js'

/** How a field or a type is cached: what `@cached(ttl, scope, tags)` says, for a schema without SDL directives. */
export interface CachedPolicy {
  /** Seconds. A field may lower its type's, never raise it. */
  readonly ttl?: number
  /** PRIVATE: keyed by viewer, not cached without one. Default: inherited from the type, else PUBLIC. */
  readonly scope?: CacheScope
  /** Tag templates: `{args.x}`, `{parent.x}`, `{result.x}` (see `@cached`). */
  readonly tags?: readonly string[]
}

/** What `@invalidates(tags, types)` says on a mutation field. */
export interface InvalidatesPolicy {
  /** Tag templates to evict once the mutation succeeded: `{args.x}`, `{result.x}`. */
  readonly tags?: readonly string[]
  /** Types whose lists to evict, instead of those of the entities the mutation returned. */
  readonly types?: readonly string[]
  /**
   * Write-through: store what the mutation returned as the new value of the loader whose `entity` is the
   * return type (see `@invalidates(prime: true)`). Default false.
   */
  readonly prime?: boolean
}

/** A code-first policy: `@cached` for a query field or a type, `invalidates` for a mutation field. */
export interface LoadCachePolicy extends CachedPolicy {
  readonly invalidates?: InvalidatesPolicy
}

/**
 * Policies by schema coordinate (`'Query.user'`, `'Mutation.createPost'`) or type name (`'Droid'`): everything
 * `@cached` and `@invalidates` do, for schemas built in code (graphql-js objects, Pothos, Nexus…).
 */
export type LoadCachePolicies = Readonly<Record<string, LoadCachePolicy>>

/** What `@invalidates` or a policy asks of one mutation field, and where it was said (for errors). */
export interface InvalidationHint {
  readonly tags: unknown
  readonly types: unknown
  readonly prime: unknown
  readonly where: string
}

const CACHED_KEYS = ['ttl', 'scope', 'tags']
const FIELD_KEYS = [...CACHED_KEYS, 'invalidates']
const INVALIDATES_KEYS = ['tags', 'types', 'prime']

/**
 * Reads code-first policies as a source of cache hints (so every inheritance rule of `fieldPolicy` applies
 * to them unchanged) and of invalidations. Everything about their shape is checked here, against the
 * schema, once: values (TTL, scope, tags) are checked as `@cached` arguments when the fields are wrapped.
 *
 * @throws LoadCacheTypeError (E_INVALID_OPTION) when `policies` is not an object of objects.
 * @throws LoadCacheSchemaError naming every coordinate or type the schema does not have, an interface field
 *   (give the type, or each object type's field, a policy), an unknown key, or `invalidates` on a type.
 */
export function policySources(
  schema: GraphQLSchema,
  policies: LoadCachePolicies,
): { hints: HintSources; invalidation: (coordinate: string) => InvalidationHint | undefined } {
  if (policies === null || typeof policies !== 'object' || Array.isArray(policies)) {
    throw invalidOption(
      'policies',
      policies,
      "an object of policies by coordinate, e.g. { 'Query.user': { ttl: 60 } }",
    )
  }
  const unknown: string[] = []
  for (const [name, policy] of Object.entries(policies)) {
    const where = `policy for ${name}`
    if (policy === null || typeof policy !== 'object' || Array.isArray(policy)) {
      throw new LoadCacheSchemaError(
        `${where}: must be an object such as { ttl: 60 }, got ${describeValue(policy)}`,
      )
    }
    const dot = name.indexOf('.')
    const typeName = dot < 0 ? name : name.slice(0, dot)
    const type = schema.getType(typeName)
    if (dot < 0) {
      if (!isObjectType(type) && !isInterfaceType(type) && !isUnionType(type)) {
        unknown.push(`"${name}"`)
        continue
      }
      checkKeys(
        where,
        policy,
        CACHED_KEYS,
        '(a type policy cannot invalidate: put invalidates on a mutation field)',
      )
    } else {
      if (isInterfaceType(type) && type.getFields()[name.slice(dot + 1)] !== undefined) {
        throw new LoadCacheSchemaError(
          `${where}: ${typeName} is an interface; give the type a policy ('${typeName}': { … }) or each object type's field one`,
        )
      }
      if (!isObjectType(type) || type.getFields()[name.slice(dot + 1)] === undefined) {
        unknown.push(`"${name}"`)
        continue
      }
      checkKeys(where, policy, FIELD_KEYS, '')
      if (policy.invalidates !== undefined) {
        if (policy.invalidates === null || typeof policy.invalidates !== 'object') {
          throw new LoadCacheSchemaError(
            `${where}: invalidates must be an object such as { tags: ['posts'] }, got ${describeValue(policy.invalidates)}`,
          )
        }
        checkKeys(`${where}: invalidates`, policy.invalidates, INVALIDATES_KEYS, '')
      }
    }
  }
  if (unknown.length > 0) {
    throw new LoadCacheSchemaError(
      `policies name what the schema does not have: ${unknown.join(', ')}; name fields as "Type.field" and types (object, interface, union) by name`,
    )
  }

  const hintOf = (name: string): CacheHint | undefined => {
    const policy = policies[name]
    if (policy === undefined || !CACHED_KEYS.some((key) => key in policy)) return undefined
    return cachedHint(`policy for ${name}`, {
      ttl: policy.ttl,
      scope: policy.scope,
      tags: policy.tags ?? [],
    })
  }
  return {
    hints: {
      fieldHint: (_field: GraphQLField<unknown, unknown>, coordinate) => hintOf(coordinate),
      typeHint: (type) => hintOf(type.name),
    },
    invalidation: (coordinate) => {
      const invalidates = policies[coordinate]?.invalidates
      if (invalidates === undefined) return undefined
      return {
        tags: invalidates.tags ?? [],
        types: invalidates.types,
        prime: invalidates.prime,
        where: `policy for ${coordinate}: invalidates`,
      }
    },
  }
}

function checkKeys(where: string, value: object, allowed: readonly string[], hint: string): void {
  const extra = Object.keys(value).filter((key) => !allowed.includes(key))
  if (extra.length > 0) {
    throw new LoadCacheSchemaError(
      `${where}: unknown ${extra.length === 1 ? 'key' : 'keys'} ${extra.map((key) => `"${key}"`).join(', ')}; expected ${allowed.join(', ')}${hint ? ` ${hint}` : ''}`,
    )
  }
}
