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
