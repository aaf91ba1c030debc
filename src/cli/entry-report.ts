import type { Redis } from 'ioredis'
import { splitEntry } from '../core/entry.js'
import { LoadCacheTypeError } from '../core/errors.js'
import { decodeSegment, isValidLoaderName, KeySpace } from '../core/keys.js'
import { countKeys, waiterKey } from './key-counts.js'
import { type DecodedPayload, decodePayload } from './payload.js'

/**
 * One tag of an entry (format 3, see redis/scripts.ts): the version the entry recorded for it against the
 * tag's version in Redis now. The entry is valid only while every one of its tags holds.
 */
export interface TagCheck {
  readonly tag: string
  /**
   * The version the tag had when the entry was written: `c<microseconds>` (created by the first write that
   * carried the tag) or a tag clock value (set by an invalidation). Null: stored without one, which no
   * loadcache write does; such an entry is invalid.
   */
  readonly recorded: string | null
  /** The tag's version in Redis now, or null: it has none (expired or evicted), so no recorded one holds. */
  readonly current: string | null
  /** Whether the recorded version still holds: it equals the current one. */
  readonly holds: boolean
}

/** Everything Redis holds about one id of one loader. */
export interface EntryReport {
  readonly key: string
  /** The entry, or undefined when Redis has none (a miss: the next load fetches it). */
  readonly entry?: {
    /** Milliseconds until Redis drops it (PTTL). */
    readonly ttlMs: number
    /** Epoch ms: fresh until, then stale (served only within grace) until expiresAt. */
    readonly freshUntil: number
    readonly expiresAt: number
    /** The tag clock its filler read before fetching (its write was refused if a tag moved past it). */
    readonly clock: string
    readonly fetchMs: number
    readonly payload: DecodedPayload
    readonly tags: readonly TagCheck[]
    /** False when a tag does not hold: the next read deletes the entry and fetches again. */
    readonly valid: boolean
  }
  /** A value in Redis under the key that is not an entry of this format (corrupt, or another version's). */
  readonly unreadable?: string
  /**
   * The fill lock, when someone is fetching this id right now; `waited` when another caller found it taken
   * and waits for the fill's notice.
   */
  readonly lock?: { readonly holder: string; readonly ttlMs: number; readonly waited: boolean }
}

/**
 * Reads one entry, its tags' current versions and its lock: read-only (GET, PTTL, MGET), whatever it finds.
 *
 * @throws LoadCacheTypeError (`E_INVALID_ARGUMENT`) for a loader name that cannot exist, or one with no key
 *   at all in the namespace (a typo, or a wrong namespace): the message lists the loaders that have keys.
 */
export async function readEntry(
  client: Redis,
  keys: KeySpace,
  loader: string,
  id: string,
): Promise<EntryReport> {
  if (!isValidLoaderName(loader)) {
    throw new LoadCacheTypeError(
      'E_INVALID_ARGUMENT',
      `--loader ${JSON.stringify(loader)} is not a loader name (letters, digits, _ . -, starting with a letter or _)`,
    )
  }
  const key = keys.entryKey(loader, id)
  const lockKey = KeySpace.lockKey(key)
  const [raw, ttlMs, holder, lockTtlMs, waiter] = await Promise.all([
    client.get(key),
    client.pttl(key),
    client.get(lockKey),
    client.pttl(lockKey),
    client.get(waiterKey(lockKey)),
  ])
  const lock = holder === null ? undefined : { holder, ttlMs: lockTtlMs, waited: waiter !== null }
  if (raw === null) {
    if (lock === undefined) await assertLoaderHasKeys(client, keys, loader)
    return { key, lock }
  }
  const split = splitEntry(raw)
  if (split === undefined) {
    return { key, lock, unreadable: `not an entry of format 3 (${raw.length} bytes): ${raw.slice(0, 80)}` }
  }
  const current =
    split.tags.length > 0 ? await client.mget(split.tags.map((tag) => keys.tagPrefix + tag)) : []
  // As the read script decides (entry_is_valid): every tag must still have exactly the recorded version.
  const tags = split.tags.map((tag, index): TagCheck => {
    const recorded = split.versions[index] ?? null
    const now = current[index] ?? null
    return { tag: decodeSegment(tag), recorded, current: now, holds: recorded !== null && now === recorded }
  })
  return {
    key,
    lock,
    entry: {
      ttlMs,
      freshUntil: split.freshUntil,
      expiresAt: split.expiresAt,
      clock: String(split.clock),
      fetchMs: split.fetchMs,
      payload: decodePayload(split.kind, split.payload),
      tags,
      valid: tags.every((tag) => tag.holds),
    },
  }
}

async function assertLoaderHasKeys(client: Redis, keys: KeySpace, loader: string): Promise<void> {
  const prefix = keys.entryKeyPrefix(loader)
  let cursor = '0'
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    if (batch.length > 0) return
    cursor = next
  } while (cursor !== '0')
  const known = [...(await countKeys(client, keys)).loaders.keys()]
  throw new LoadCacheTypeError(
    'E_INVALID_ARGUMENT',
    `namespace "${keys.namespace}" has no key of a loader named "${loader}" (a misspelt --loader or --namespace, or nothing cached right now); ${
      known.length > 0
        ? `loaders with keys here: ${known.join(', ')}`
        : 'this namespace has no entries at all'
    }`,
  )
}
