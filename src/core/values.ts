/** Whether a value is an async iterable (a `@stream`ed list, a subscription source): it can be read once. */
export function isAsyncIterable(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  )
}

/**
 * Whether a value holds a promise (a thenable) in an array or plain object, at any depth: GraphQL resolves
 * those after the resolver returned, so they may still do what the resolver did not yet (set a dynamic cache
 * hint, for one). Walks at most `limit` arrays and objects, well above what a field may store (20,000
 * objects); past it, answers true (unknown counts as "may").
 */
export function holdsThenable(value: unknown, limit = 200_000): boolean {
  const pending: unknown[] = [value]
  const seen = new Set<object>()
  while (pending.length > 0) {
    const member = pending.pop()
    if (member === null || typeof member !== 'object') continue
    if (typeof (member as { then?: unknown }).then === 'function') return true
    if (seen.has(member)) continue
    if (seen.size >= limit) return true
    seen.add(member)
    if (Array.isArray(member)) {
      for (const item of member) pending.push(item)
      continue
    }
    const prototype = Object.getPrototypeOf(member)
    if (prototype !== Object.prototype && prototype !== null) continue
    for (const key in member) pending.push((member as Record<string, unknown>)[key])
  }
  return false
}
