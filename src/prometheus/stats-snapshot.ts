import type { CacheStats } from '../engine/stats.js'

/**
 * One `cache.stats()` per scrape, shared by every metric's `collect()`. prom-client calls the collect
 * callbacks of a registry one after the other in the same synchronous pass (`registry.metrics()` maps over
 * its metrics before awaiting anything), so a snapshot dropped on the next microtask is read by all of them
 * and by nothing after: the numbers of one scrape are consistent with each other, and no later scrape sees
 * an old snapshot.
 */
export function scrapeSnapshot(stats: () => CacheStats): () => CacheStats {
  let current: CacheStats | undefined
  return () => {
    if (current === undefined) {
      current = stats()
      queueMicrotask(() => {
        current = undefined
      })
    }
    return current
  }
}
