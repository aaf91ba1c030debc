/**
 * A cached entry, as L1 holds it (decoded) and as Redis holds it (one string).
 *
 * Redis form: a header line, `\n`, then the serialized value:
 *
 *     2 <kind> <clock> <freshUntil> <expiresAt> <fetchMs> [<tag> ...]\n<payload>
 *
 * - `2`: format version; anything else is treated as corrupt (a miss), so the format can evolve safely and
 *   processes of two versions never misread each other's entries during a rolling upgrade.
 * - `kind`: `v<codec>` for a value stored by the serializer whose `id` is `<codec>` (`vd6`: devalue 6,
 *   `vj`: JSON), `a` for absent (the source did not return the id). Absent entries have an empty payload,
 *   so "absent" and "present with value null" can never be confused; a value written by another serializer
 *   is a miss, never a misread.
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

/**
 * How values are stored in Redis. `serialize` must throw for a value it cannot store faithfully (the value
 * is then returned but not cached, and the loader is named in one warning), so that every process and tier
 * returns the same value.
 */
export interface Serializer {
  /**
   * Stored with each entry: letters and digits, at most 8. An entry written by a serializer with another id
   * is a miss. Default `c`; give yours an id of its own and change it when its format changes.
   */
  readonly id?: string
  serialize(value: unknown): string
  deserialize(payload: string): unknown
}

/** What a serializer's `id` may be: it is part of the entry header. */
export const SERIALIZER_ID = /^[A-Za-z0-9]{1,8}$/

export function encodeEntry(entry: Omit<CacheEntry, 'size'>, payload: string, codec: string): string {
  const tags = entry.tags.length > 0 ? ` ${entry.tags.join(' ')}` : ''
  const kind = entry.absent ? 'a' : `v${codec}`
  return `2 ${kind} ${entry.clock} ${entry.freshUntil} ${entry.expiresAt} ${entry.fetchMs}${tags}\n${payload}`
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

/** An entry's Redis form split into its header fields and payload, undecoded (for tools such as `inspect`). */
export interface RawEntry {
  /** `v<codec>` (a value stored by the serializer whose id is `<codec>`) or `a` (absent). */
  readonly kind: string
  readonly clock: number
  readonly freshUntil: number
  readonly expiresAt: number
  readonly fetchMs: number
  /** Encoded tags. */
  readonly tags: readonly string[]
  readonly payload: string
}

/** Splits an entry's Redis form without decoding its payload; `undefined` when it is not format 2. */
export function splitEntry(raw: string): RawEntry | undefined {
  const newline = raw.indexOf('\n')
  if (newline < 0) return undefined
  const fields = raw.slice(0, newline).split(' ')
  if (fields.length < 6 || fields[0] !== '2') return undefined
  const [clock, freshUntil, expiresAt, fetchMs] = fields.slice(2, 6).map(Number) as [
    number,
    number,
    number,
    number,
  ]
  if (![clock, freshUntil, expiresAt, fetchMs].every(Number.isFinite)) return undefined
  return {
    kind: fields[1]!,
    clock,
    freshUntil,
    expiresAt,
    fetchMs,
    tags: fields.slice(6),
    payload: raw.slice(newline + 1),
  }
}

/**
 * Decodes the Redis form. Returns `undefined` for anything malformed (wrong version, bad numbers, payload the
 * serializer rejects): a broken entry is a miss, never an exception.
 */
export function decodeEntry(raw: string, serializer: Serializer): CacheEntry | undefined {
  const newline = raw.indexOf('\n')
  if (newline < 0) return undefined
  const fields = raw.slice(0, newline).split(' ')
  if (fields.length < 6 || fields[0] !== '2') return undefined
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
  if (kind === `v${serializer.id ?? 'c'}`) {
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
