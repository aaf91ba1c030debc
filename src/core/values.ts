/** Whether a value is an async iterable (a `@stream`ed list, a subscription source): it can be read once. */
export function isAsyncIterable(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  )
}

/**
 * Whether GraphQL may still run code to complete a value after its resolver returned: a promise (a
 * thenable), a function (a default resolver calls it), a getter, an iterable other than an array, Set or
 * Map (read when the list completes), or an instance of a class (its getters and methods), at any depth.
 * Such code may still do what the resolver did not yet (set a dynamic cache hint, for one). Arrays, plain
 * objects, Sets and Maps are walked; Dates, RegExps and binary data are plain values. Walks at most `limit`
 * containers, well above what a field may store (20,000 objects); past it, answers true ("may").
 */
export function mayResolveLater(value: unknown, limit = 200_000): boolean {
  const pending: unknown[] = [value]
  const seen = new Set<object>()
  while (pending.length > 0) {
    const member = pending.pop()
    if (typeof member === 'function') return true
    if (member === null || typeof member !== 'object') continue
    if (typeof (member as { then?: unknown }).then === 'function') return true
    if (seen.has(member)) continue
    if (seen.size >= limit) return true
    seen.add(member)
    if (Array.isArray(member)) {
      for (const item of member) pending.push(item)
      continue
    }
    if (member instanceof Date || member instanceof RegExp || ArrayBuffer.isView(member)) continue
    if (member instanceof ArrayBuffer) continue
    if (member instanceof Set) {
      for (const item of member) pending.push(item)
      continue
    }
    if (member instanceof Map) {
      for (const item of member.values()) pending.push(item)
      continue
    }
    const prototype = Object.getPrototypeOf(member)
    if (prototype !== Object.prototype && prototype !== null) return true
    if (typeof (member as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function') return true
    for (const key of Object.keys(member)) {
      const descriptor = Object.getOwnPropertyDescriptor(member, key)
      if (descriptor?.get !== undefined) return true
      pending.push(descriptor?.value)
    }
  }
  return false
}
