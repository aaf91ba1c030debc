import type { Redis } from 'ioredis'
import { splitEntry } from '../core/entry.js'
import { LoadCacheTypeError } from '../core/errors.js'
import { decodeSegment, isValidLoaderName, KeySpace } from '../core/keys.js'
import { countKeys } from './key-counts.js'
import { type DecodedPayload, decodePayload } from './payload.js'

/** One tag of an entry, checked against its current version. */
export interface TagCheck {
  readonly tag: string
  /** The tag's version (the clock value of its last invalidation), or null: not invalidated within the tag TTL. */
  readonly version: string | null
  /** Whether the entry is still valid against this tag: the tag has not moved past the entry's clock. */
  readonly valid: boolean
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
    /** The tag clock its filler read before fetching. */
    readonly clock: string
    readonly fetchMs: number
    readonly payload: DecodedPayload
    readonly tags: readonly TagCheck[]
    /** False when a tag moved past its clock: the next read deletes it and fetches again. */
    readonly valid: boolean
  }
  /** A value in Redis under the key that is not an entry of this format (corrupt, or another version's). */
  readonly unreadable?: string
  /** The fill lock, when someone is fetching this id right now. */
  readonly lock?: { readonly holder: string; readonly ttlMs: number }
}

/**
 * Reads one entry, its tags' versions and its lock: read-only (GET, PTTL), whatever it finds.
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
  const [raw, ttlMs, holder, lockTtlMs] = await Promise.all([
    client.get(key),
    client.pttl(key),
    client.get(lockKey),
    client.pttl(lockKey),
  ])
  const lock = holder === null ? undefined : { holder, ttlMs: lockTtlMs }
  if (raw === null) {
    if (lock === undefined) await assertLoaderHasKeys(client, keys, loader)
    return { key, lock }
  }
  const split = splitEntry(raw)
  if (split === undefined) {
    return { key, lock, unreadable: `not an entry of format 2 (${raw.length} bytes): ${raw.slice(0, 80)}` }
  }
  const versions =
    split.tags.length > 0 ? await client.mget(split.tags.map((tag) => keys.tagPrefix + tag)) : []
  const tags = split.tags.map((tag, index): TagCheck => {
    const version = versions[index] ?? null
    return { tag: decodeSegment(tag), version, valid: version === null || Number(version) <= split.clock }
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
      valid: tags.every((tag) => tag.valid),
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
