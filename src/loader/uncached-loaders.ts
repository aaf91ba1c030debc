import DataLoader from 'dataloader'
import type { CacheId } from '../core/keys.js'
import { alignFetchResult, type LoaderDefinition } from './define-loader.js'

/**
 * DataLoaders that call each definition's `fetch` directly: batched per tick and memoized per request like
 * `cache.loaders()`, but reading and writing no cache. For a request that bypasses the cache (useLoadCache's
 * `enabled`). Values come back as the cache's loaders give them: absent ids as `null`, failed ids as
 * their Error.
 */
export function uncachedLoaders(
  definitions: Record<string, LoaderDefinition<CacheId, unknown>>,
  /** The cache's `maxBatchSize`, for definitions without their own (0: unlimited). */
  defaultMaxBatchSize = 0,
): Record<string, DataLoader<CacheId, unknown>> {
  const loaders: Record<string, DataLoader<CacheId, unknown>> = {}
  for (const [property, def] of Object.entries(definitions)) {
    const maxBatchSize = def.maxBatchSize ?? defaultMaxBatchSize
    loaders[property] = new DataLoader(
      async (ids) => {
        const outcomes = alignFetchResult(def.name, ids, await def.fetch(ids))
        if (outcomes instanceof Error) return ids.map(() => outcomes)
        return outcomes.map((outcome) =>
          outcome.kind === 'error' ? outcome.error : outcome.kind === 'absent' ? null : outcome.value,
        )
      },
      {
        name: def.name,
        maxBatchSize: maxBatchSize > 0 ? maxBatchSize : Number.POSITIVE_INFINITY,
      },
    )
  }
  return loaders
}
