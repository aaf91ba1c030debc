import type { Redis } from 'ioredis'
import { encodeSegment, type KeySpace } from '../core/keys.js'

/** The current version of some tags and the tag clock. */
export interface TagVersions {
  /** The tag clock (microseconds; it only moves forward), or null when nothing was ever invalidated. */
  readonly clock: string | null
  /**
   * Each tag's version (entry format 3, see redis/scripts.ts): `c<microseconds>` when created by the first
   * write that carried the tag, a tag clock value when set by an invalidation, or null when it has none (no
   * entry carrying it was written, nor was it invalidated, within the tag TTL; or it was evicted). An entry
   * is valid while each of its tags has the version it recorded.
   */
  readonly tags: readonly { readonly tag: string; readonly version: string | null }[]
}

/** Reads the versions of tags as `invalidateTags` names them (one MGET). */
export async function readTagVersions(
  client: Redis,
  keys: KeySpace,
  tags: readonly string[],
): Promise<TagVersions> {
  const [clock, ...versions] = await client.mget(
    keys.clockKey,
    ...tags.map((tag) => keys.tagPrefix + encodeSegment(tag)),
  )
  return { clock: clock ?? null, tags: tags.map((tag, index) => ({ tag, version: versions[index] ?? null })) }
}
