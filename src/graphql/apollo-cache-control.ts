import { getDirective } from '@graphql-tools/utils'
import {
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  isCompositeType,
} from 'graphql'
import { describeValue, invalidOption } from '../core/errors.js'
import type { CacheScope } from '../request/field-plan.js'
import { type CacheHint, type HintSources, LoadCacheSchemaError } from './field-policy.js'

/** Options of loadcache's support for Apollo Server's `@cacheControl` hints. */
export interface ApolloCacheControlOptions {
  /**
   * Seconds given to root fields, and to fields returning an object type, that have no `maxAge` of their
   * own or from their type, as Apollo's `defaultMaxAge`. Default 0: such a field is not cached, and a
   * response that resolves it is `no-store`.
   */
  defaultMaxAge?: number
  /** Name of the directive. Default `'cacheControl'`. */
  directiveName?: string
}

/** An Apollo `@cacheControl(maxAge, scope, inheritMaxAge)` annotation as written. */
interface Annotation {
  readonly maxAge: number | undefined
  readonly scope: CacheScope | undefined
  readonly inheritMaxAge: boolean
  readonly where: string
}

/**
 * Reads Apollo's `@cacheControl` hints as a source of cache hints, with Apollo's meaning:
 *
 * - `maxAge` is a TTL (0: not cached, and a response that resolves the field is `no-store`), `scope` a scope;
 * - a field, or a field returning a type, with `inheritMaxAge: true` is not cached itself and keeps the
 *   max-age of the fields above it (a `maxAge` next to it is ignored, a `scope` applies), unless its type
 *   has a `maxAge`, which then applies (Apollo's precedence);
 * - root fields, and fields returning an object type, without any `maxAge` get `defaultMaxAge`; other
 *   scalar fields inherit;
 * - hints on Mutation and Subscription fields are ignored (loadcache never caches them).
 *
 * loadcache's own rules still apply on top (see `fieldPolicy`): a field cannot raise its type's TTL nor say
 * PUBLIC on a PRIVATE type, interfaces and unions take the smallest TTL of their object types and are
 * PRIVATE if one is. Fields of a type without identity (no `id`, no `identity` entry) are not cached but
 * still count for `Cache-Control`, as Apollo would.
 *
 * @throws LoadCacheTypeError (E_INVALID_OPTION) for a bad option.
 * @throws LoadCacheSchemaError naming the field or type of a hint with a bad argument (when it is read).
 */
export function apolloHints(schema: GraphQLSchema, options: ApolloCacheControlOptions | true): HintSources {
  const { defaultMaxAge = 0, directiveName = 'cacheControl' } = options === true ? {} : options
  if (!Number.isInteger(defaultMaxAge) || defaultMaxAge < 0) {
    throw invalidOption('apolloCacheControl.defaultMaxAge', defaultMaxAge, 'a non-negative integer (seconds)')
  }
  if (typeof directiveName !== 'string' || directiveName === '') {
    throw invalidOption(
      'apolloCacheControl.directiveName',
      directiveName,
      'a directive name such as "cacheControl"',
    )
  }
  const uncachedRoots = new Set([schema.getMutationType()?.name, schema.getSubscriptionType()?.name])
  const queryRoot = schema.getQueryType()?.name
  const typeOf = (coordinate: string) => coordinate.slice(0, coordinate.indexOf('.'))
  const typeAnnotations = new Map<GraphQLNamedType, Annotation | undefined>()
  const typeAnnotation = (type: GraphQLNamedType) => {
    if (!typeAnnotations.has(type)) {
      typeAnnotations.set(type, annotation(schema, type, directiveName, `@${directiveName} on ${type.name}`))
    }
    return typeAnnotations.get(type)
  }

  return {
    fieldHint: (field, coordinate) => {
      if (uncachedRoots.has(typeOf(coordinate))) return undefined
      const own = annotation(schema, field, directiveName, `@${directiveName} on ${coordinate}`)
      if (own === undefined) return undefined
      if (own.inheritMaxAge) {
        return own.scope === undefined
          ? undefined
          : { ttl: undefined, scope: own.scope, tags: [], where: own.where }
      }
      return hintOf(own)
    },
    typeHint: (type) => {
      const own = typeAnnotation(type)
      // A type that inherits gives its fields nothing of its own, scope included (as in Apollo).
      return own === undefined || own.inheritMaxAge ? undefined : hintOf(own)
    },
    unhinted: (field, coordinate) => {
      if (typeOf(coordinate) === queryRoot) return defaultMaxAge
      const named = getNamedType(field.type)
      const inherits =
        annotation(schema, field, directiveName, coordinate)?.inheritMaxAge === true ||
        (isCompositeType(named) && typeAnnotation(named)?.inheritMaxAge === true)
      if (inherits || !isCompositeType(named)) return 'inherit'
      return defaultMaxAge
    },
  }
}

function hintOf(annotation: Annotation): CacheHint | undefined {
  if (annotation.maxAge === undefined && annotation.scope === undefined) return undefined
  // Hints made for Apollo often sit on types without an id: those fields count for the header only.
  return {
    ttl: annotation.maxAge,
    scope: annotation.scope,
    tags: [],
    where: annotation.where,
    unkeyable: 'header-only',
  }
}

function annotation(
  schema: GraphQLSchema,
  node: GraphQLField<unknown, unknown> | GraphQLNamedType,
  directiveName: string,
  where: string,
): Annotation | undefined {
  const args = getDirective(schema, node, directiveName)?.[0]
  if (args === undefined) return undefined
  const { maxAge, scope, inheritMaxAge } = args as Record<string, unknown>
  if (maxAge !== undefined && maxAge !== null && (!Number.isInteger(maxAge) || (maxAge as number) < 0)) {
    throw new LoadCacheSchemaError(
      `${where}: maxAge must be a non-negative integer (seconds), got ${describeValue(maxAge)}`,
    )
  }
  if (scope !== undefined && scope !== null && scope !== 'PUBLIC' && scope !== 'PRIVATE') {
    throw new LoadCacheSchemaError(`${where}: scope must be PUBLIC or PRIVATE, got ${describeValue(scope)}`)
  }
  return {
    maxAge: (maxAge as number | null | undefined) ?? undefined,
    scope: (scope as CacheScope | null | undefined) ?? undefined,
    inheritMaxAge: inheritMaxAge === true,
    where,
  }
}
