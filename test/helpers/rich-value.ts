/**
 * Values JSON would change (a Date, a Map, a Set, a BigInt, undefined, NaN), the same for an id in every
 * process: what the default serializer must return identically from L1 and from another process's fill.
 */
export function richValue(id: string) {
  return {
    id,
    at: new Date(Date.UTC(2026, 0, Number(id))),
    counts: new Map([[`k${id}`, Number(id)]]),
    labels: new Set(['a', id]),
    big: 2n ** 70n + BigInt(id),
    missing: undefined,
    ratio: Number.NaN,
  }
}
