/**
 * Conversion of caller-supplied string ids to the integer keys used in SQL.
 *
 * Ids come straight from GraphQL/tRPC input, so anything may arrive. Only canonical decimal integers
 * within the `integer` column range are accepted; everything else is "not found" and never reaches SQL.
 * Rejecting non-canonical spellings such as `"007"` or `"7.0"` (instead of normalising them) also keeps
 * one row from being cached under several keys.
 */

/** Largest value of a PostgreSQL `integer` (int4); bigger numbers would make the cast in SQL fail. */
const INT4_MAX = 2_147_483_647

/** A positive decimal integer without leading zeros; at most 10 digits, the length of INT4_MAX. */
const CANONICAL_ID = /^[1-9][0-9]{0,9}$/

/**
 * Parses one id.
 *
 * @returns the integer key, or `null` when `id` cannot name a row (so callers treat it as not found).
 */
export function parseId(id: string | null | undefined): number | null {
  if (typeof id !== 'string' || !CANONICAL_ID.test(id)) return null
  const value = Number(id)
  return value <= INT4_MAX ? value : null
}

/**
 * Parses a batch of ids, dropping unparsable ones and duplicates (DataLoader dedupes already, but other
 * callers may not, and a shorter array is a smaller statement).
 */
export function parseIds(ids: readonly string[]): number[] {
  const keys = new Set<number>()
  for (const id of ids) {
    const key = parseId(id)
    if (key !== null) keys.add(key)
  }
  return [...keys]
}

/** Formats an integer key (as returned by either driver) back into the string id callers see. */
export function formatId(key: number | string): string {
  return String(key)
}
