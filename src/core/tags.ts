import type { CacheId } from './keys.js'

/**
 * The `Type:id` tag of an entity. Cached entries derived from an entity carry it, and a mutation that
 * returns the entity evicts it, in GraphQL and tRPC alike; give your loaders the same tag (their `entity`
 * option does) and writes evict them too.
 */
export function entityTag(typeName: string, id: CacheId): string {
  return `${typeName}:${id}`
}

/**
 * The `Type` tag of a type: carried by every cached list that can hold entities of the type (and by a
 * lookup that found none), and evicted when a mutation returns an entity of the type or by
 * `cache.invalidateTypes(['Type'])`, so a created entity shows in every list on the next read. It has no
 * `:`, so it can never equal an entity tag.
 */
export function typeTag(typeName: string): string {
  return typeName
}

/** Buckets per tag prefix (see bucketTag). */
export const TAG_BUCKETS = 64

/**
 * The bucket tag of a `prefix:rest` tag (`Comment:42` → `Comment#17`), or undefined for a tag without a
 * prefix. Every invalidation of a tag also bumps its bucket, so something built from thousands of
 * entities (a response holding 2,000 comments) can carry the 64 buckets of `Comment` instead of 2,000
 * tags: still evicted whenever any of them moves (and sometimes when a neighbour in a bucket does), while
 * a read checks a bounded number of versions.
 */
export function bucketTag(tag: string): string | undefined {
  const colon = tag.indexOf(':')
  if (colon <= 0 || colon === tag.length - 1) return undefined
  // FNV-1a over the part after the prefix: stable across processes and versions.
  let hash = 0x811c9dc5
  for (let i = colon + 1; i < tag.length; i++) {
    hash ^= tag.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return `${tag.slice(0, colon)}#${(hash >>> 0) % TAG_BUCKETS}`
}

/** Tags with the bucket tag of each added: what an invalidation bumps. */
export function withBuckets(tags: readonly string[]): string[] {
  const all = new Set(tags)
  for (const tag of tags) {
    const bucket = bucketTag(tag)
    if (bucket !== undefined) all.add(bucket)
  }
  return [...all]
}

/**
 * Shrinks a tag set to at most `limit` tags (when it can) by replacing the tags of the most common prefixes
 * with their buckets. Sound: every tag replaced is covered by a bucket that any invalidation of it bumps.
 */
export function compactTags(tags: readonly string[], limit: number): string[] {
  if (tags.length <= limit) return [...tags]
  const byPrefix = new Map<string, string[]>()
  const kept = new Set<string>()
  for (const tag of tags) {
    const bucket = bucketTag(tag)
    if (bucket === undefined) {
      kept.add(tag)
      continue
    }
    const prefix = bucket.slice(0, bucket.lastIndexOf('#'))
    const group = byPrefix.get(prefix)
    if (group === undefined) byPrefix.set(prefix, [tag])
    else group.push(tag)
  }
  const groups = [...byPrefix.values()].sort((a, b) => b.length - a.length)
  let size = kept.size + groups.reduce((total, group) => total + group.length, 0)
  for (const group of groups) {
    if (size > limit && group.length > TAG_BUCKETS / 4) {
      const buckets = new Set(group.map((tag) => bucketTag(tag)!))
      for (const bucket of buckets) kept.add(bucket)
      size -= group.length - buckets.size
    } else {
      for (const tag of group) kept.add(tag)
    }
  }
  return [...kept]
}
