/** Whether a value is an async iterable (a `@stream`ed list, a subscription source): it can be read once. */
export function isAsyncIterable(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  )
}
