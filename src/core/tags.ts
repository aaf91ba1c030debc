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
