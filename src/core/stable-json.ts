import { LoadCacheTypeError } from './errors.js'

/**
 * JSON with object keys sorted at every depth, so `{ a: 1, b: 2 }` and `{ b: 2, a: 1 }` give one string:
 * argument order in a query must not split the cache. `undefined` members are dropped, as JSON does.
 *
 * Only what JSON represents faithfully is accepted: a Map, Set, RegExp, class instance or bigint would
 * all collapse to `{}` or throw, and a non-finite number to `null`, so two different inputs would share one
 * cache key. They throw instead.
 */
export function stableJson(value: unknown): string {
  if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol') {
    throw new LoadCacheTypeError(
      'E_UNKEYABLE_VALUE',
      `cannot build a cache key from a ${typeof value}; use plain JSON values`,
    )
  }
  // JSON writes Infinity, -Infinity and NaN as null: `max: 1e999` (a Float literal, a JSON body) would share
  // the key of `max: null`, and whoever asked first would choose what the other gets.
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new LoadCacheTypeError(
      'E_UNKEYABLE_VALUE',
      `cannot build a cache key from the number ${value}, which JSON writes as null`,
    )
  }
  // JSON writes -0 as 0; `sign(x: -0.0)` and `sign(x: 0)` may answer differently.
  if (Object.is(value, -0)) return '-0'
  if (value === null || typeof value !== 'object') {
    return JSON.stringify(value) ?? 'null'
  }
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return stableJson((value as { toJSON: () => unknown }).toJSON())
  }
  const prototype = Object.getPrototypeOf(value)
  if (prototype !== Object.prototype && prototype !== null) {
    const name = (value as object).constructor?.name ?? 'object'
    throw new LoadCacheTypeError(
      'E_UNKEYABLE_VALUE',
      `cannot build a cache key from a ${name}; use plain JSON values`,
    )
  }
  const record = value as Record<string, unknown>
  const members: string[] = []
  for (const key of Object.keys(record).sort()) {
    if (record[key] === undefined) continue
    members.push(`${JSON.stringify(key)}:${stableJson(record[key])}`)
  }
  return `{${members.join(',')}}`
}
