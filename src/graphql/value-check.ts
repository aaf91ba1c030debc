import {
  type GraphQLOutputType,
  type GraphQLResolveInfo,
  getNullableType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
} from 'graphql'

/**
 * Why graphql-js would raise an error completing `value` at a field of `type`, or undefined when it would
 * not: `null` for a non-null type, something that is not a list for a list, a scalar or enum its
 * `serialize` refuses, an object its type's `isTypeOf` refuses. Such a value must never be cached, or the
 * error would be replayed from the cache for the whole TTL. (Errors raised deeper, by the value's own
 * fields, are caught once the operation is complete: see the request's fill checks.)
 */
export async function completionError(
  type: GraphQLOutputType,
  value: unknown,
  context: unknown,
  info: GraphQLResolveInfo,
  depth = 0,
): Promise<string | undefined> {
  if (value === null || value === undefined) {
    return isNonNullType(type) ? `null for the non-null type ${String(type)}` : undefined
  }
  const nullable = getNullableType(type)
  if (isListType(nullable)) {
    if (typeof value !== 'object' || typeof (value as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      return `a ${typeof value} for the list type ${String(type)}`
    }
    if (depth > 8) return undefined
    for (const item of value as Iterable<unknown>) {
      const reason = await completionError(nullable.ofType, item, context, info, depth + 1)
      if (reason !== undefined) return `${reason} (in a list)`
    }
    return undefined
  }
  if (isLeafType(nullable)) {
    try {
      if (nullable.serialize(value) === undefined)
        return `a value ${nullable.name}.serialize() turns into undefined`
    } catch (error) {
      return `a value ${nullable.name} cannot serialize (${(error as Error).message})`
    }
    return undefined
  }
  if (isObjectType(nullable) && nullable.isTypeOf !== undefined) {
    try {
      if (!(await nullable.isTypeOf?.(value, context, info)))
        return `a value ${nullable.name}.isTypeOf() refuses`
    } catch (error) {
      return `a value whose ${nullable.name}.isTypeOf() threw (${(error as Error).message})`
    }
  }
  return undefined
}

/**
 * `value` with every list the field's type declares read into an array. GraphQL completes a list from any
 * iterable, and some (generators) can be read only once: the cache reads a value before GraphQL does (to
 * check, tag and store it), which would leave GraphQL an empty list. Read once here, the list is the same
 * to GraphQL and can be stored. Arrays are kept as they are (copied only where a nested list changes);
 * a promise inside a list is left to GraphQL (such a value is not stored).
 */
export function listsAsArrays(type: GraphQLOutputType, value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  const nullable = getNullableType(type)
  if (!isListType(nullable)) return value
  let items: unknown[]
  if (Array.isArray(value)) items = value
  else if (typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function')
    items = Array.from(value as Iterable<unknown>)
  else return value
  const itemType = nullable.ofType as GraphQLOutputType
  if (!isListType(getNullableType(itemType))) return items
  let read = items
  for (let i = 0; i < items.length; i++) {
    const item = listsAsArrays(itemType, items[i])
    if (item === items[i]) continue
    if (read === value) read = items.slice()
    read[i] = item
  }
  return read
}
