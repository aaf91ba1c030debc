/** Counters of one loader. Plain integer increments on an object, cheap enough to leave on. */
export interface LoaderStats {
  /** Ids answered by L1 with no Redis round trip. */
  l1Hits: number
  /** Ids answered by Redis. */
  l2Hits: number
  /** Ids that were in neither tier (each is fetched, joined or waited for). */
  misses: number
  /** Ids that joined a fill already in flight in this process. */
  joined: number
  /** Calls of the loader's `fetch`. */
  fetchCalls: number
  /** Ids passed to `fetch`, summed over calls. */
  idsFetched: number
  /** Ids that waited for another process's fill (its lock was held). */
  lockWaits: number
  /** Fills whose write was refused because their key or a tag was invalidated during the fetch. */
  staleWritesRefused: number
  /** Stale entries served within grace (while refreshing, or because fetch failed). */
  staleServed: number
  /** Background refreshes started (grace or early refresh). */
  refreshes: number
  /** Ids whose fetch failed (an Error slot or a thrown fetch). */
  fetchErrors: number
  /** Entries in Redis that could not be decoded; each was treated as a miss and removed. */
  corruptEntries: number
  /** Values returned but not cached: the serializer could not store them faithfully (or `tags()` threw). */
  uncacheableValues: number
}

/** Counters of the response tier for one operation name (see ResponseTier). */
export interface ResponseStats {
  /** Requests answered with a stored response (no execution in this request). */
  hits: number
  /** Requests that executed the operation (a cold key, or a response that could not be stored). */
  misses: number
  /** Responses executed and stored. */
  fills: number
  /** Responses executed and not stored (errors, uncached fields, PRIVATE without a viewer…). */
  uncacheable: number
  /** Stored responses dropped from this process's memory by an invalidation. */
  evictions: number
}

export function emptyResponseStats(): ResponseStats {
  return { hits: 0, misses: 0, fills: 0, uncacheable: 0, evictions: 0 }
}

export interface CacheStats {
  readonly loaders: Readonly<Record<string, Readonly<LoaderStats>>>
  /** The response tier's counters by operation name (`''`: anonymous operations); empty without it. */
  readonly responses: Readonly<Record<string, Readonly<ResponseStats>>>
  readonly redis: {
    readonly enabled: boolean
    readonly breaker: 'closed' | 'open' | 'half-open' | 'disabled'
    readonly errors: number
    readonly busConnected: boolean
    readonly pendingInvalidations: number
  }
  readonly memory: {
    readonly entries: number
    /**
     * Batches that skipped L1 because it may not serve right now: the bus lease lapsed (Redis slow or
     * unreachable, a partition, or this process's event loop blocked past `maxStalenessMs`), the bus is down,
     * or the breaker is open. They read Redis instead: slower, never staler.
     */
    readonly bypassed: number
  }
}

export function emptyLoaderStats(): LoaderStats {
  return {
    l1Hits: 0,
    l2Hits: 0,
    misses: 0,
    joined: 0,
    fetchCalls: 0,
    idsFetched: 0,
    lockWaits: 0,
    staleWritesRefused: 0,
    staleServed: 0,
    refreshes: 0,
    fetchErrors: 0,
    corruptEntries: 0,
    uncacheableValues: 0,
  }
}
