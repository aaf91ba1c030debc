import { types } from 'node:util'

/** Whether a value is an async iterable (a `@stream`ed list, a subscription source): it can be read once. */
export function isAsyncIterable(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  )
}

/** Whether a value is a thenable (a promise, or anything GraphQL awaits as one). */
export function isThenable(value: unknown): boolean {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

/**
 * Whether `value` is an Array whose reading runs no code of the user's: of any realm, not a Proxy, not a
 * subclass (whose methods GraphQL may call), nor one that iterates itself.
 */
export function isPlainArray(value: unknown): value is unknown[] {
  if (!Array.isArray(value) || types.isProxy(value) || Object.hasOwn(value, Symbol.iterator)) return false
  // Array.prototype (of any realm), whose own prototype is an Object.prototype, whose prototype is null.
  const arrayPrototype = Object.getPrototypeOf(value)
  const objectPrototype = arrayPrototype === null ? null : Object.getPrototypeOf(arrayPrototype)
  return objectPrototype !== null && Object.getPrototypeOf(objectPrototype) === null
}

/**
 * Whether a list can be read more than once with the same items: an Array that does not iterate itself, a
 * Set, a Map, binary data. Not a generator or another iterator, which a first reading uses up.
 */
export function isRereadable(value: object): boolean {
  if (Array.isArray(value)) return !Object.hasOwn(value, Symbol.iterator)
  return value instanceof Set || value instanceof Map || ArrayBuffer.isView(value)
}

/**
 * Whether GraphQL may still run code to complete a value after its resolver returned: a promise (a
 * thenable), a function (a default resolver calls it), a getter (enumerable or not), a Proxy (its traps),
 * an iterable other than an array, Set or Map (read when the list completes), or an instance of a class (its
 * getters and methods), at any depth. Such code may still do what the resolver did not yet (set a dynamic
 * cache hint, for one). Arrays, plain objects (of any realm), Sets and Maps are walked; Dates, RegExps and
 * binary data are plain values. Walks at most `limit` objects other than arrays, well above what a field may
 * store (20,000); past it, answers true ("may").
 */
export function mayResolveLater(value: unknown, limit = 200_000): boolean {
  const pending: unknown[] = [value]
  const seen = new Set<object>()
  let objects = 0
  while (pending.length > 0) {
    const member = pending.pop()
    if (typeof member === 'function') return true
    if (member === null || typeof member !== 'object') continue
    // Before any property read: a Proxy's traps are code.
    if (types.isProxy(member)) return true
    if (isThenable(member)) return true
    if (seen.has(member)) continue
    seen.add(member)
    if (Array.isArray(member)) {
      if (!isPlainArray(member)) return true
      for (const item of member) pending.push(item)
      continue
    }
    if (++objects > limit) return true
    if (member instanceof Date || member instanceof RegExp || member instanceof ArrayBuffer) {
      if (Reflect.ownKeys(member).length > 0) return true
      continue
    }
    if (ArrayBuffer.isView(member)) continue
    if (member instanceof Set) {
      for (const item of member) pending.push(item)
      continue
    }
    if (member instanceof Map) {
      for (const item of member.values()) pending.push(item)
      continue
    }
    // A plain object's prototype is null or an Object.prototype (this realm's or another's, whose own
    // prototype is null); a class instance's is its class's.
    const prototype = Object.getPrototypeOf(member)
    if (prototype !== null && Object.getPrototypeOf(prototype) !== null) return true
    for (const key of Reflect.ownKeys(member)) {
      const descriptor = Object.getOwnPropertyDescriptor(member, key)
      if (descriptor === undefined) continue
      if (descriptor.get !== undefined || descriptor.set !== undefined) return true
      if (typeof key === 'symbol') {
        // GraphQL reads these two symbols of a value; the others it never reads.
        if (key === Symbol.iterator || key === Symbol.asyncIterator) return true
        continue
      }
      pending.push(descriptor.value)
    }
  }
  return false
}
