import { LoadCacheTypeError } from './errors.js'

/**
 * A cached entry, as L1 holds it (decoded) and as Redis holds it (one string).
 *
 * Redis form: a header line, `\n`, then the serialized value:
 *
 *     1 <kind> <clock> <freshUntil> <expiresAt> <fetchMs> [<tag> ...]\n<payload>
 *
 * - `1`: format version; anything else is treated as corrupt (a miss), so the format can evolve safely.
 * - `kind`: `v` for a value, `a` for absent (the source did not return the id). Absent entries have an
 *   empty payload, so "absent" and "present with value null" can never be confused.
 * - `clock`: the tag clock the filler read *before* fetching. The entry is valid while every tag's version
 *   is at most this clock; a tag invalidated after the read has a larger version, so a value fetched
 *   across an invalidation can never be served (see redis/scripts.ts).
 * - `freshUntil` / `expiresAt`: epoch ms; between the two the entry is stale and served only within grace.
 * - `fetchMs`: how long the fetch took, the `delta` of XFetch early refresh.
 * - tags: encoded with `encodeSegment`, so they contain no spaces or newlines.
 *
 * The header is plain text because the Lua scripts parse it to check tag versions in the same round trip
 * that reads the entry.
 */
export interface CacheEntry {
  readonly absent: boolean
  readonly value: unknown
  readonly clock: number
  readonly freshUntil: number
  readonly expiresAt: number
  readonly fetchMs: number
  /** Encoded tags. */
  readonly tags: readonly string[]
  /** Approximate size in bytes, for the L1 byte bound. */
  readonly size: number
}

export interface Serializer {
  serialize(value: unknown): string
  deserialize(payload: string): unknown
}

/** JSON, the default: values must survive `JSON.stringify` (Dates become strings; use a custom serializer). */
export const jsonSerializer: Serializer = {
  serialize: (value) => {
    const text = JSON.stringify(value)
    // JSON.stringify returns undefined for functions/symbols; storing "undefined" would decode as corrupt.
    if (text === undefined)
      throw new LoadCacheTypeError('E_UNCACHEABLE_VALUE', 'value is not JSON-serializable')
    return text
  },
  deserialize: (payload) => JSON.parse(payload),
}

export function encodeEntry(entry: Omit<CacheEntry, 'size'>, payload: string): string {
  const tags = entry.tags.length > 0 ? ` ${entry.tags.join(' ')}` : ''
  return `1 ${entry.absent ? 'a' : 'v'} ${entry.clock} ${entry.freshUntil} ${entry.expiresAt} ${entry.fetchMs}${tags}\n${payload}`
}

/**
 * The clock reading and encoded tags of an entry in its Redis form, without decoding the payload (for the
 * tag checks done by the client on Redis Cluster). `undefined` when the header is malformed.
 */
export function entryClockAndTags(raw: string): { clock: number; tags: string[] } | undefined {
  const newline = raw.indexOf('\n')
  if (newline < 0) return undefined
  const fields = raw.slice(0, newline).split(' ')
  const clock = Number(fields[2])
  return fields.length >= 6 && Number.isFinite(clock) ? { clock, tags: fields.slice(6) } : undefined
}

/**
 * Decodes the Redis form. Returns `undefined` for anything malformed (wrong version, bad numbers, payload the
 * serializer rejects): a broken entry is a miss, never an exception.
 */
export function decodeEntry(raw: string, serializer: Serializer): CacheEntry | undefined {
  const newline = raw.indexOf('\n')
  if (newline < 0) return undefined
  const fields = raw.slice(0, newline).split(' ')
  if (fields.length < 6 || fields[0] !== '1') return undefined
  const kind = fields[1]
  const clock = Number(fields[2])
  const freshUntil = Number(fields[3])
  const expiresAt = Number(fields[4])
  const fetchMs = Number(fields[5])
  if (!Number.isFinite(clock) || !Number.isFinite(freshUntil) || !Number.isFinite(expiresAt)) return undefined
  if (!Number.isFinite(fetchMs)) return undefined
  const tags = fields.slice(6)
  const payload = raw.slice(newline + 1)
  let value: unknown = null
  if (kind === 'v') {
    try {
      value = serializer.deserialize(payload)
    } catch {
      return undefined
    }
  } else if (kind !== 'a' || payload !== '') {
    return undefined
  }
  return { absent: kind === 'a', value, clock, freshUntil, expiresAt, fetchMs, tags, size: raw.length * 2 }
}
