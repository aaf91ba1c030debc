import {
  defaultTypeResolver,
  type GraphQLAbstractType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  isAbstractType,
  isListType,
  isObjectType,
} from 'graphql'
import type { CacheId } from '../core/keys.js'
import { entityTag, typeTag } from '../core/tags.js'
import { isRereadable } from '../core/values.js'

/** How an object of a type is identified: its `id` by default. Return null/undefined when it has none. */
export type IdentityResolver = (
  typeName: string,
  value: Record<string, unknown>,
) => CacheId | null | undefined

/** The default identity: a string or number `id` member. */
export function defaultIdentity(_typeName: string, value: Record<string, unknown>): CacheId | undefined {
  const id = value.id
  return typeof id === 'string' || typeof id === 'number' ? id : undefined
}

/** Levels of nesting walked in a value; deeper objects make the value uncacheable (see collectValueTags). */
const MAX_DEPTH = 32
/**
 * Distinct objects (records: not arrays, Maps, Sets, Dates, RegExps or binary data) in one value; more make
 * it uncacheable rather than tagged in part.
 */
const MAX_OBJECTS = 20_000

/** How far collectValueTags walks. A cached value is bounded; a mutation's result is walked whole. */
export interface WalkLimits {
  /** Levels of nesting; deeper makes the result incomplete. Default 32. */
  readonly maxDepth?: number
  /** Distinct objects; more make the result incomplete. Default 20,000. */
  readonly maxObjects?: number
  /** Whether to collect `reachable` (a cached value's under-tag check needs it; an eviction does not). */
  readonly reachable?: boolean
}

/** What walking a resolved value found. */
export interface ValueTags {
  /** `Type:id` of every entity in the value, at any depth, with its runtime type. */
  readonly tags: Set<string>
  /**
   * Every object reachable from the value by any property (not only schema fields), so an entity that a
   * child resolver later finds inside it under another name can be recognised as part of this value.
   */
  readonly reachable: Set<object>
  /** Why the value cannot be tagged completely (too deep, too big, an abstract type that did not resolve). */
  readonly incomplete: string | undefined
  /**
   * A list in it can be read only once (a generator inside an object): left unread, for GraphQL. The value
   * must then go to no other request either, whose GraphQL would find it used up.
   */
  readonly readOnce: boolean
}

/**
 * Collects the `Type:id` tags of every entity in a resolved value, walking it along its GraphQL type:
 * objects in lists, nested in other objects, and behind interfaces and unions, whose runtime type is
 * resolved the way graphql-js resolves it (`__typename`, the abstract type's `resolveType`, or the
 * possible types' `isTypeOf`), so no `__typename` needs to be selected or returned. Every list it walks
 * adds `listTags(listType)` (the `Type` tags of what the list can hold).
 */
export async function collectValueTags(
  schema: GraphQLSchema,
  value: unknown,
  type: GraphQLOutputType,
  identity: IdentityResolver,
  context: unknown,
  info: GraphQLResolveInfo,
  listTags: (list: GraphQLOutputType) => readonly string[] = () => [],
  limits: WalkLimits = {},
): Promise<ValueTags> {
  const maxDepth = limits.maxDepth ?? MAX_DEPTH
  const maxObjects = limits.maxObjects ?? MAX_OBJECTS
  const found: {
    tags: Set<string>
    reachable: Set<object>
    incomplete: string | undefined
    readOnce: boolean
  } = { tags: new Set(), reachable: new Set(), incomplete: undefined, readOnce: false }
  // Each object once per object type: a shared object (one author of many posts) costs one visit, and a
  // cycle ends.
  const visited = new Map<object, Set<GraphQLObjectType>>()
  const walk = async (member: unknown, memberType: GraphQLOutputType, depth: number): Promise<void> => {
    if (member === null || typeof member !== 'object' || found.incomplete !== undefined) return
    if (depth > maxDepth) {
      found.incomplete = `deeper than ${maxDepth} levels`
      return
    }
    const nullable = getNullableType(memberType)
    if (isListType(nullable)) {
      if (!isIterable(member)) return
      if (!isRereadable(member)) {
        found.incomplete = 'a list in it can be read only once (a generator)'
        found.readOnce = true
        return
      }
      // A list in the value (at any depth) must show an entity of its item type created later.
      for (const tag of listTags(nullable)) found.tags.add(tag)
      for (const item of member as Iterable<unknown>) await walk(item, nullable.ofType, depth + 1)
      return
    }
    let objectType: GraphQLObjectType | undefined
    if (isObjectType(nullable)) objectType = nullable
    else if (isAbstractType(nullable)) {
      objectType = await runtimeType(schema, member, nullable, context, info)
      if (objectType === undefined) {
        found.incomplete = `the runtime type of a ${nullable.name} could not be resolved`
        return
      }
    }
    if (objectType === undefined) return
    let types = visited.get(member)
    if (types?.has(objectType)) return
    if (types === undefined) {
      if (visited.size >= maxObjects) {
        found.incomplete = `more than ${maxObjects} objects`
        return
      }
      types = new Set()
      visited.set(member, types)
    }
    types.add(objectType)
    const record = member as Record<string, unknown>
    const id = identity(objectType.name, record)
    if (id !== null && id !== undefined && id !== '') found.tags.add(entityTag(objectType.name, id))
    for (const [name, field] of Object.entries(objectType.getFields())) {
      const child = record[name]
      if (child !== null && typeof child === 'object') await walk(child, field.type, depth + 1)
    }
  }
  await walk(value, type, 0)
  if (limits.reachable !== false && found.incomplete === undefined) {
    if (!collectReachable(value, found.reachable, maxObjects))
      found.incomplete = `more than ${maxObjects} objects`
  }
  return found
}

/** The object type graphql-js would pick for `value` of an abstract type, or undefined. */
export async function runtimeType(
  schema: GraphQLSchema,
  value: unknown,
  abstractType: GraphQLAbstractType,
  context: unknown,
  info: GraphQLResolveInfo,
): Promise<GraphQLObjectType | undefined> {
  const resolver = abstractType.resolveType ?? defaultTypeResolver
  let name: unknown
  try {
    name = await resolver(value, context, info, abstractType)
  } catch {
    return undefined
  }
  const type = typeof name === 'string' ? schema.getType(name) : undefined
  return isObjectType(type) && schema.isSubType(abstractType, type) ? type : undefined
}

/**
 * Adds every record (plain or class object) reachable from `value` through own enumerable properties, arrays,
 * Maps and Sets: what a child resolver may later run on. Containers, Dates, RegExps and binary data are
 * walked through or skipped, not counted. False (and a partial set) when there are more than `max`.
 */
function collectReachable(value: unknown, into: Set<object>, max: number): boolean {
  const containers = new Set<object>()
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const item = stack.pop()
    if (item === null || typeof item !== 'object') continue
    if (Array.isArray(item) || item instanceof Map || item instanceof Set) {
      if (containers.has(item)) continue
      containers.add(item)
      for (const element of item instanceof Map ? item.values() : item) stack.push(element)
      continue
    }
    if (
      item instanceof Date ||
      item instanceof RegExp ||
      item instanceof ArrayBuffer ||
      ArrayBuffer.isView(item)
    )
      continue
    if (into.has(item)) continue
    // One record more than the bound: the set would be partial, and the under-tag check with it.
    if (into.size >= max) return false
    into.add(item)
    for (const key of Object.keys(item)) stack.push((item as Record<string, unknown>)[key])
  }
  return true
}

function isIterable(value: object): boolean {
  return typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function'
}

/**
 * The list tags of a field's return type, decided once at schema build time: the `Type` tag of every
 * object type a list in it can hold (through non-null, nested lists, and through wrapper objects without an
 * identity, such as Relay connections and their edges; an interface or union stands for each of its
 * object types). A mutation that returns a new `Post` evicts the `Post` tag, and so every cached list that
 * could show it, including empty ones.
 */
export function listTypeTags(
  schema: GraphQLSchema,
  type: GraphQLOutputType,
  hasIdentity: (type: GraphQLObjectType) => boolean,
): string[] {
  return listItemTypes(schema, type, hasIdentity).map(typeTag)
}

/** The names of the object types with an identity that a list in `type` can hold (see listTypeTags). */
export function listItemTypes(
  schema: GraphQLSchema,
  type: GraphQLOutputType,
  hasIdentity: (type: GraphQLObjectType) => boolean,
): string[] {
  const names = new Set<string>()
  const visited = new Set<string>()
  const visit = (current: GraphQLOutputType, inList: boolean, depth: number): void => {
    if (depth > 8) return
    const nullable = getNullableType(current)
    if (isListType(nullable)) {
      visit(nullable.ofType, true, depth + 1)
      return
    }
    const named = getNamedType(nullable)
    const objects = isAbstractType(named)
      ? schema.getPossibleTypes(named)
      : isObjectType(named)
        ? [named]
        : []
    for (const object of objects) {
      if (hasIdentity(object)) {
        if (inList) names.add(object.name)
        continue
      }
      // A wrapper without an identity (a connection, an edge, a payload): look inside it once.
      if (visited.has(object.name)) continue
      visited.add(object.name)
      for (const field of Object.values(object.getFields())) visit(field.type, inList, depth + 1)
    }
  }
  visit(type, false, 0)
  return [...names]
}

/**
 * The `Type` tags of a field that returns one entity (not a list): carried only by a `null` result, so
 * creating the entity a lookup did not find evicts the cached "not found".
 */
export function lookupTypeTags(schema: GraphQLSchema, type: GraphQLOutputType): string[] {
  const nullable = getNullableType(type)
  if (isListType(nullable)) return []
  const named = getNamedType(nullable)
  if (isAbstractType(named)) return schema.getPossibleTypes(named).map((object) => typeTag(object.name))
  return isObjectType(named) ? [typeTag(named.name)] : []
}
