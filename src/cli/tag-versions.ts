import type { Redis } from 'ioredis'
import { encodeSegment, type KeySpace } from '../core/keys.js'

/** The current version of some tags and the tag clock. */
export interface TagVersions {
  /** The tag clock (microseconds; it only moves forward), or null when nothing was ever invalidated. */
  readonly clock: string | null
  /** Each tag's version: the clock value of its last invalidation, or null when none is remembered. */
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
