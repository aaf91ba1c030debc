import type { CacheId } from './keys.js'

/**
 * The `Type:id` tag of an entity. Cached entries derived from an entity carry it, and a mutation that
 * returns the entity evicts it, in GraphQL and tRPC alike; give your loaders the same tag (e.g.
 * `tags: (id) => [entityTag('User', id)]`) and writes evict them too.
 */
export function entityTag(typeName: string, id: CacheId): string {
  return `${typeName}:${id}`
}
