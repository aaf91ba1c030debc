import {
  type GraphQLOutputType,
  type GraphQLResolveInfo,
  getNullableType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
} from 'graphql'
import { isPlainArray, isThenable } from '../core/values.js'

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
      // graphql-js refuses null as well as undefined from serialize (completeLeafValue).
      if (nullable.serialize(value) == null)
        return `a value ${nullable.name}.serialize() turns into null or undefined`
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
 * `value` with the lists the field's own type declares (`[T]`, `[[T]]`) read into arrays, as GraphQL would
 * read them. GraphQL completes a list from any iterable, and some (generators) can be read only once: the
 * cache reads a value before GraphQL does (to check, tag and store it), which would leave GraphQL an empty
 * list. Read here, inside the resolver's call, the code that produces a list (a generator, an iterator of
 * its own, a Proxy's traps) runs before the value is judged, so a cache hint it sets counts.
 *
 * Read as GraphQL reads: one pass, stopping where GraphQL would stop (after an item that fails a non-null
 * item type: null, a scalar `serialize` refuses, an inner list that fails), so nothing is read that GraphQL
 * would not read. An inner list that throws while read becomes a rejected item, which GraphQL reports at
 * that item's path as it would have. Plain arrays are kept (copied only where a nested list is read). A
 * list that throws while read at the top throws, as the resolver would have.
 */
export function listsAsArrays(type: GraphQLOutputType, value: unknown): unknown {
  return readList(type, value).value
}

/** `fails`: GraphQL raises an error completing `value` at a position of `type`. */
function readList(type: GraphQLOutputType, value: unknown): { value: unknown; fails: boolean } {
  if (value === null || value === undefined) return { value, fails: isNonNullType(type) }
  const list = getNullableType(type)
  if (!isListType(list)) return { value, fails: false }
  // GraphQL waits for a promise before completing it: nothing is known of it yet.
  if (isThenable(value)) return { value, fails: false }
  if (typeof value !== 'object' || typeof (value as Iterable<unknown>)[Symbol.iterator] !== 'function')
    return { value, fails: true }
  const itemType = list.ofType as GraphQLOutputType
  const nested = isListType(getNullableType(itemType))
  const plain = isPlainArray(value)
  // A plain array runs no code when read, and its items are read by GraphQL as they are.
  if (plain && !nested) return { value, fails: false }
  const items: unknown[] = []
  let fails = false
  // Read as GraphQL's Array.from reads: closed (return()) where GraphQL stops reading, and what closing
  // throws then is ignored, as Array.from ignores it after an error. A bad iterator throws as it would.
  let stopped = false
  try {
    for (const item of value as Iterable<unknown>) {
      let read: { value: unknown; fails: boolean }
      if (nested) {
        try {
          read = readList(itemType, item)
        } catch (error) {
          // GraphQL fails this item only (the list too, for a non-null item): a rejected item does the same.
          const rejected = Promise.reject(error)
          rejected.catch(() => {})
          read = { value: rejected, fails: true }
        }
      } else {
        read = { value: item, fails: isNonNullType(itemType) && itemFails(itemType, item) }
      }
      items.push(read.value)
      // GraphQL stops reading a list at an item whose error reaches the list (a non-null item type).
      if (read.fails && isNonNullType(itemType)) {
        fails = true
        stopped = true
        break
      }
    }
  } catch (error) {
    // After the stop, only closing the iterator can have thrown: ignored.
    if (!stopped) throw error
  }
  if (!plain) return { value: items, fails }
  // A plain array: its items past the stop as they are (GraphQL never reaches them), itself if unchanged.
  const array = value as unknown[]
  for (let i = items.length; i < array.length; i++) items.push(array[i])
  return { value: items.every((item, i) => item === array[i]) ? array : items, fails }
}

/**
 * Whether GraphQL raises an error completing `item` at a position of `type`, told without running code
 * but a scalar's `serialize` (which GraphQL runs on it too). A promise: not known yet, so no. An object:
 * not told (its type's isTypeOf and its own fields decide), so no; such a list is read to its end.
 */
function itemFails(type: GraphQLOutputType, item: unknown): boolean {
  if (item === null || item === undefined) return isNonNullType(type)
  try {
    // (A `then` getter that throws fails the item in GraphQL too.)
    if (isThenable(item)) return false
    const nullable = getNullableType(type)
    if (!isLeafType(nullable)) return false
    return nullable.serialize(item) == null
  } catch {
    return true
  }
}
