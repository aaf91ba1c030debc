import { createHash } from 'node:crypto'
import { describeValue, LoadCacheTypeError } from './errors.js'

/** An entity id as loaders accept it. Numbers are keyed by their decimal string, so `1` and `'1'` share an entry. */
export type CacheId = string | number

/**
 * Characters that pass through `encodeSegment` unchanged. None of them has a meaning in our key layout
 * (`:` separates parts, `{`/`}` delimit the Redis Cluster hash tag, space and newline separate fields of the
 * entry header and of bus messages), so an encoded segment can never end a part early or open a new one.
 */
const SAFE_SEGMENT = /^[A-Za-z0-9_.-]*$/

/** Encoded segments longer than this are replaced by a digest, so a 1 MB id does not make a 1 MB key. */
const MAX_SEGMENT_LENGTH = 200

/**
 * Encodes an arbitrary string into the alphabet `[A-Za-z0-9_.%#-]`, injectively: safe characters stay,
 * every other UTF-16 code unit becomes `%` + four hex digits (so `%` itself is always escaped and the
 * output can be decoded without ambiguity). Code units rather than code points keep lone surrogates
 * encodable, where `encodeURIComponent` would throw. Long results become `#` + SHA-256 of the input;
 * `#` never appears in the escaped form, so a digest cannot collide with an escaped id.
 */
export function encodeSegment(raw: string): string {
  if (raw.length <= MAX_SEGMENT_LENGTH && SAFE_SEGMENT.test(raw)) return raw
  let out = ''
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!
    const code = raw.charCodeAt(i)
    if (
      (code >= 48 && code <= 57) ||
      (code >= 65 && code <= 90) ||
      (code >= 97 && code <= 122) ||
      ch === '_' ||
      ch === '.' ||
      ch === '-'
    ) {
      out += ch
    } else {
      out += `%${code.toString(16).padStart(4, '0')}`
    }
    if (out.length > MAX_SEGMENT_LENGTH) {
      return `#${createHash('sha256').update(raw, 'utf16le').digest('base64url')}`
    }
  }
  return out
}

/**
 * The inverse of `encodeSegment`, for display (events, `inspect`). A digest (`#…`, from a segment too long
 * to keep) is returned as it is: the original cannot be recovered from it.
 */
export function decodeSegment(encoded: string): string {
  if (encoded.startsWith('#') || !encoded.includes('%')) return encoded
  return encoded.replace(/%([0-9a-f]{4})/g, (_match, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  )
}

/**
 * Turns an id into the string its key is built from. Anything but a string or a finite number is a
 * programming error (an object id would stringify to "[object Object]" and collide with every other
 * object), so it is refused with a TypeError rather than coerced.
 */
export function normalizeId(id: unknown, loaderName: string): string {
  if (typeof id === 'string') return id
  if (typeof id === 'number' && Number.isFinite(id)) return String(id)
  throw new LoadCacheTypeError(
    'E_INVALID_ID',
    `loader "${loaderName}" got the id ${describeValue(id)}; ids must be strings or finite numbers`,
  )
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/
const NAMESPACE = /^[A-Za-z0-9_.:-]+$/

export function isValidLoaderName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= 100 && NAME.test(name)
}

export function isValidNamespace(namespace: unknown): namespace is string {
  return typeof namespace === 'string' && namespace.length <= 100 && NAMESPACE.test(namespace)
}

/**
 * The Redis key layout of one cache. All keys of one entity (its data and its lock) share the hash tag
 * `{loader:id}`, so they live in one Redis Cluster slot and one script may touch them together; the tag is
 * per entity, never per batch, so no slot gets hot.
 *
 * - entry:   `<ns>:{<loader>:<id>}`
 * - lock:    `<ns>:{<loader>:<id>}:l`
 * - tag:     `<ns>:t:<tag>`         (version counter)
 * - clock:   `<ns>:clock`           (the tag-version clock)
 * - channel: `<ns>:bus`             (fill notices and invalidations)
 *
 * Loader names and namespaces are validated to contain none of `{}` or whitespace, and ids and tags are
 * encoded by `encodeSegment`, so no id or tag can produce another entity's key.
 */
export class KeySpace {
  readonly namespace: string
  readonly tagPrefix: string
  readonly clockKey: string
  readonly channel: string

  constructor(namespace: string) {
    this.namespace = namespace
    this.tagPrefix = `${namespace}:t:`
    this.clockKey = `${namespace}:clock`
    this.channel = `${namespace}:bus`
  }

  /** The entry key of an id (already normalized). */
  entryKey(loaderName: string, normalizedId: string): string {
    return `${this.entryKeyPrefix(loaderName)}${encodeSegment(normalizedId)}}`
  }

  /** What every entry key of a loader starts with; the hot path appends the encoded id and `}`. */
  entryKeyPrefix(loaderName: string): string {
    return `${this.namespace}:{${loaderName}:`
  }

  static lockKey(entryKey: string): string {
    return `${entryKey}:l`
  }
}

/**
 * The tag of one entry: `@<loader>:<id>` (the id encoded, as in the key). Invalidating a key bumps it, so
 * anything built from that entry and tagged with it (a cached response) is evicted with it.
 */
export function keyTag(entryKey: string): string {
  const open = entryKey.indexOf('{')
  const close = entryKey.lastIndexOf('}')
  return `@${open >= 0 && close > open ? entryKey.slice(open + 1, close) : entryKey}`
}

/** Encodes user tags for storage in entry headers and as Redis key suffixes; see `encodeSegment`. */
export function encodeTags(tags: readonly string[]): string[] {
  return tags.map(encodeSegment)
}
