import {
  type GraphQLOutputType,
  type GraphQLSchema,
  getNullableType,
  isAbstractType,
  isListType,
  isObjectType,
} from 'graphql'
import type { CacheId } from '../core/keys.js'
import { entityTag } from '../core/tags.js'

/** How an object of a type is identified: its `id` by default. Return null/undefined when it has none. */
export type IdentityResolver = (
  typeName: string,
  value: Record<string, unknown>,
) => CacheId | null | undefined

const MAX_DEPTH = 16

/**
 * Collects the `Type:id` tags of every entity in a resolved value, at any depth, by walking it along its
 * GraphQL type: objects of a type with an identity, in lists, nested in other objects. Abstract types are
 * resolved through `__typename` when the value carries it.
 */
export function collectEntityTags(
  schema: GraphQLSchema,
  value: unknown,
  type: GraphQLOutputType,
  identity: IdentityResolver,
  into: Set<string> = new Set(),
  depth = 0,
): Set<string> {
  if (value === null || value === undefined || typeof value !== 'object' || depth > MAX_DEPTH) return into
  const nullable = getNullableType(type)
  if (isListType(nullable)) {
    if (Array.isArray(value)) {
      for (const item of value) collectEntityTags(schema, item, nullable.ofType, identity, into, depth + 1)
    }
    return into
  }
  let objectType = isObjectType(nullable) ? nullable : undefined
  if (isAbstractType(nullable)) {
    const typename = (value as { __typename?: unknown }).__typename
    const concrete = typeof typename === 'string' ? schema.getType(typename) : undefined
    objectType = isObjectType(concrete) ? concrete : undefined
  }
  if (objectType === undefined) return into
  const record = value as Record<string, unknown>
  const id = identity(objectType.name, record)
  if (id !== null && id !== undefined && id !== '') into.add(entityTag(objectType.name, id))
  for (const [name, field] of Object.entries(objectType.getFields())) {
    const member = record[name]
    if (member !== null && typeof member === 'object') {
      collectEntityTags(schema, member, field.type, identity, into, depth + 1)
    }
  }
  return into
}

/** The default identity: a string or number `id` member. */
export function defaultIdentity(_typeName: string, value: Record<string, unknown>): CacheId | undefined {
  const id = value.id
  return typeof id === 'string' || typeof id === 'number' ? id : undefined
}
