import { compressPayload, inflatePayload } from './compression.js'

/**
 * A cached entry, as L1 holds it (decoded) and as Redis holds it (one string).
 *
 * Redis form: a header line, `\n`, then the serialized value:
 *
 *     3 <kind> <clock> <freshUntil> <expiresAt> <fetchMs> [<tag>=<version> ...]\n<payload>
 *
 * - `3`: format version; anything else is treated as corrupt (a miss), so the format can evolve safely and
 *   processes of two versions never misread each other's entries during a rolling upgrade.
 * - `kind`: `v<codec>` for a value stored by the serializer whose `id` is `<codec>` (`vd6`: devalue 6,
 *   `vj`: JSON), `z<codec>` for the same with its payload compressed (see core/compression.ts), `a` for
 *   absent (the source did not return the id). Absent entries have an empty payload, so "absent" and
 *   "present with value null" can never be confused; a value written by another serializer is a miss, never
 *   a misread. A process of a version that does not know `z` takes such an entry for a corrupt one (a miss).
 * - `clock`: the tag clock the filler read *before* fetching. A write is refused when a tag was invalidated
 *   after it (see redis/scripts.ts).
 * - `freshUntil` / `expiresAt`: epoch ms; between the two the entry is stale and served only within grace.
 * - `fetchMs`: how long the fetch took, the `delta` of XFetch early refresh.
 * - `<tag>=<version>`: each tag (encoded with `encodeSegment`: no spaces, newlines or `=`) with the version
 *   it had when the entry was written. The entry is valid while every tag still has exactly that version:
 *   an invalidation changes it, and a version that was lost (evicted) is recreated with a new unique value,
 *   so neither can make an old entry valid again. The client sends bare tags; the write script fills in
 *   the versions.
 *
 * The header is plain text, and never compressed, because the Lua scripts parse it to check tag versions in
 * the same round trip that reads the entry.
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
  /**
   * The version each tag had when the entry was stored in Redis, aligned with `tags`; undefined for entries
   * never stored there (memory-only caches).
   */
  readonly versions?: readonly string[]
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

/** The Redis form of an entry with bare tags, as the client sends it (the write script adds versions). */
export function encodeEntry(entry: Omit<CacheEntry, 'size'>, payload: string, codec: string): string {
  return encodeEntryForRedis(entry, payload, codec, false).encoded
}

/** An entry's Redis form, and what the entry weighs once decoded. */
export interface EncodedEntry {
  /** What is sent to Redis: bare tags, the payload compressed when that pays. */
  readonly encoded: string
  /**
   * The entry's size in L1 (UTF-16 bytes of its uncompressed Redis form), whether or not it was compressed:
   * L1 holds it decoded, so its byte bound counts the decoded size.
   */
  readonly size: number
}

/**
 * The Redis form of an entry with bare tags, its payload compressed (kind `z<codec>`) when it has at least
 * `compressAbove` bytes and compression makes it smaller; `compressAbove: false` never compresses.
 */
export function encodeEntryForRedis(
  entry: Omit<CacheEntry, 'size'>,
  payload: string,
  codec: string,
  compressAbove: number | false,
): EncodedEntry {
  const tags = entry.tags.length > 0 ? ` ${entry.tags.join(' ')}` : ''
  const fields = ` ${entry.clock} ${entry.freshUntil} ${entry.expiresAt} ${entry.fetchMs}${tags}\n`
  const compressed =
    entry.absent || compressAbove === false ? undefined : compressPayload(payload, compressAbove)
  const kind = entry.absent ? 'a' : compressed === undefined ? `v${codec}` : `z${codec}`
  // `3 ` + kind + fields + payload, as the uncompressed form would be.
  const size = (2 + kind.length + fields.length + payload.length) * 2
  return { encoded: `3 ${kind}${fields}${compressed ?? payload}`, size }
}

/**
 * The clock reading and tags (with their versions, when present) of an entry in its Redis form, without
 * decoding the payload (for the tag checks done by the client on Redis Cluster). `undefined` when the
 * header is malformed.
 */
export function entryHeader(
  raw: string,
): { clock: number; tags: string[]; versions: (string | undefined)[]; header: string } | undefined {
  const newline = raw.indexOf('\n')
  if (newline < 0) return undefined
  const header = raw.slice(0, newline)
  const fields = header.split(' ')
  const clock = Number(fields[2])
  if (fields.length < 6 || !Number.isFinite(clock)) return undefined
  const tags: string[] = []
  const versions: (string | undefined)[] = []
  for (const field of fields.slice(6)) {
    const equals = field.indexOf('=')
    tags.push(equals < 0 ? field : field.slice(0, equals))
    versions.push(equals < 0 ? undefined : field.slice(equals + 1))
  }
  return { clock, tags, versions, header }
}

/**
 * An entry's Redis form split into its header fields and payload, the payload not deserialized: what
 * `decodeEntry` builds on, and what tools such as `inspect` show. A compressed payload is inflated.
 */
export interface RawEntry {
  /**
   * `v<codec>` (a value stored by the serializer whose id is `<codec>`, compressed in Redis or not) or `a`
   * (absent); `z<codec>` only for a compressed payload that does not inflate (corrupt: `payload` is then as
   * stored, and the serializer rejects it).
   */
  readonly kind: string
  readonly clock: number
  readonly freshUntil: number
  readonly expiresAt: number
  readonly fetchMs: number
  /** Encoded tags. */
  readonly tags: readonly string[]
  /**
   * The version each tag was recorded with, aligned with `tags`; undefined for a tag recorded without one
   * (the client form, before the write script adds them; stored so, the entry is invalid).
   */
  readonly versions: readonly (string | undefined)[]
  readonly payload: string
  /** The payload's length in Redis, when it was stored compressed. */
  readonly compressedLength?: number
}

/**
 * Splits an entry's Redis form without deserializing its payload, inflating a compressed one; `undefined`
 * when it is not an entry of the current format (wrong version, bad numbers), which every reader treats as
 * a miss.
 */
export function splitEntry(raw: string): RawEntry | undefined {
  const parsed = entryHeader(raw)
  if (parsed === undefined) return undefined
  const fields = parsed.header.split(' ', 6)
  if (fields[0] !== '3') return undefined
  const freshUntil = Number(fields[3])
  const expiresAt = Number(fields[4])
  const fetchMs = Number(fields[5])
  if (!Number.isFinite(freshUntil) || !Number.isFinite(expiresAt) || !Number.isFinite(fetchMs))
    return undefined
  const kind = fields[1]!
  const stored = raw.slice(parsed.header.length + 1)
  const split = {
    kind,
    clock: parsed.clock,
    freshUntil,
    expiresAt,
    fetchMs,
    tags: parsed.tags,
    versions: parsed.versions,
    payload: stored,
  }
  if (!isCompressed(kind)) return split
  try {
    return {
      ...split,
      kind: `v${kind.slice(1)}`,
      payload: inflatePayload(stored),
      compressedLength: stored.length,
    }
  } catch {
    // Left as `z<codec>`: no serializer accepts it, so it is a miss (corrupt).
    return split
  }
}

/**
 * Decodes the Redis form, inflating a compressed payload. Returns `undefined` for anything malformed (wrong
 * version, bad numbers, a compressed payload that does not inflate, a payload the serializer rejects): a
 * broken entry is a miss, never an exception.
 */
export function decodeEntry(raw: string, serializer: Serializer): CacheEntry | undefined {
  const split = splitEntry(raw)
  if (split === undefined) return undefined
  // A compressed payload arrives inflated (kind `v<codec>`); one that did not inflate keeps `z<codec>`.
  const { kind, payload } = split
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
  const versions = split.versions.every((version) => version !== undefined)
    ? (split.versions as string[])
    : undefined
  return {
    absent: kind === 'a',
    value,
    clock: split.clock,
    freshUntil: split.freshUntil,
    expiresAt: split.expiresAt,
    fetchMs: split.fetchMs,
    tags: split.tags,
    ...(versions && split.tags.length > 0 ? { versions } : {}),
    // Decoded: what the entry would weigh had it been stored uncompressed (see EncodedEntry.size).
    size: (raw.length - (split.compressedLength ?? payload.length) + payload.length) * 2,
  }
}

/** Whether an entry's kind says its payload is compressed (`z<codec>`). */
function isCompressed(kind: string | undefined): boolean {
  return kind?.startsWith('z') === true
}
