import type { LoaderStats } from '../engine/stats.js'

/** A counter family fed from `stats().loaders`, and the extra labels one `LoaderStats` field adds to it. */
export interface LoaderCounter {
  /** Name without the prefix, e.g. `hits_total`. */
  readonly name: string
  readonly help: string
  /** Labels besides `loader` (only `hits_total` has one: `tier`). */
  readonly labels?: Readonly<Record<string, string>>
}

const HITS: Omit<LoaderCounter, 'labels'> = {
  name: 'hits_total',
  help: 'Ids answered from the cache, by tier: l1 (in-process memory) or l2 (Redis).',
}

/**
 * Where each per-loader counter of `cache.stats()` is exported. `satisfies` makes a counter added to
 * `LoaderStats` a compile error here until it is given a metric (and so documented).
 */
export const LOADER_COUNTERS = {
  l1Hits: { ...HITS, labels: { tier: 'l1' } },
  l2Hits: { ...HITS, labels: { tier: 'l2' } },
  misses: {
    name: 'misses_total',
    help: 'Ids found in neither tier (each is then fetched, joined or waited for).',
  },
  joined: { name: 'joined_total', help: 'Ids that joined a fill already in flight in this process.' },
  fetchCalls: { name: 'fetches_total', help: "Calls of the loader's fetch (one per batch of misses)." },
  idsFetched: { name: 'ids_fetched_total', help: 'Ids passed to fetch, summed over calls.' },
  lockWaits: {
    name: 'lock_waits_total',
    help: "Ids that waited for another process's fill (its stampede lock was held).",
  },
  staleWritesRefused: {
    name: 'stale_writes_refused_total',
    help: 'Fills not written because their key or one of their tags was invalidated during the fetch.',
  },
  staleServed: { name: 'stale_served_total', help: 'Stale entries served within grace.' },
  refreshes: { name: 'refreshes_total', help: 'Background refreshes started (grace or early refresh).' },
  fetchErrors: { name: 'fetch_errors_total', help: 'Ids whose fetch failed (never cached).' },
  corruptEntries: {
    name: 'corrupt_entries_total',
    help: 'Redis entries that could not be decoded (treated as misses and removed).',
  },
  uncacheableValues: {
    name: 'uncacheable_values_total',
    help: 'Values returned but not cached, because the serializer could not store them faithfully.',
  },
} as const satisfies Record<keyof LoaderStats, LoaderCounter>
