/**
 * Values JSON would change (a Date, a Map, a Set, a BigInt, a RegExp, a typed array, undefined, NaN, -0, a
 * shared and a cyclic reference), the same for an id in every process: what the default serializer must
 * return identically from L1 and from another process's fill.
 */
export function richValue(id: string) {
  const shared = { note: `shared by ${id}` }
  const value = {
    id,
    at: new Date(Date.UTC(2026, 0, Number(id))),
    counts: new Map([[`k${id}`, Number(id)]]),
    labels: new Set(['a', id]),
    big: 2n ** 70n + BigInt(id),
    missing: undefined,
    ratio: Number.NaN,
    pattern: new RegExp(`ab+c${id}`, 'gi'),
    bytes: new Uint8Array([1, 2, Number(id)]),
    negativeZero: -0,
    /** One object twice: it must come back as one object, not two copies. */
    pair: [shared, shared],
    /** A cycle back to the value itself. */
    self: undefined as unknown,
  }
  value.self = value
  return value
}
