/**
 * JSON with object keys sorted at every depth, so `{ a: 1, b: 2 }` and `{ b: 2, a: 1 }` give one string:
 * argument order in a query must not split the cache. `undefined` members are dropped, as JSON does.
 */
export function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    return JSON.stringify(value) ?? 'null'
  }
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return stableJson((value as { toJSON: () => unknown }).toJSON())
  }
  const record = value as Record<string, unknown>
  const members: string[] = []
  for (const key of Object.keys(record).sort()) {
    if (record[key] === undefined) continue
    members.push(`${JSON.stringify(key)}:${stableJson(record[key])}`)
  }
  return `{${members.join(',')}}`
}
