import type { CacheEntry } from '../core/entry.js'
import type { CacheId } from '../core/keys.js'
import type { LoaderDefinition } from '../loader/define-loader.js'
import type { MemoryTier } from '../memory/memory-tier.js'
import type { ResolvedCacheOptions } from './options.js'
import type { LoaderStats } from './stats.js'

/** A loader definition with the cache's defaults applied, resolved once per cache. */
export interface LoaderRuntime {
  readonly def: LoaderDefinition<CacheId, unknown>
  /** `<ns>:{<loader>:`: an entry key is this, the encoded id, and `}`. */
  readonly keyPrefix: string
  readonly ttlMs: number
  readonly negativeTtlMs: number
  readonly graceMs: number
  /** XFetch beta; 0 = no early refresh. */
  readonly earlyRefresh: number
  /** 0 = no limit. */
  readonly fetchTimeoutMs: number
  readonly stats: LoaderStats
}

/**
 * What the fill loop and the fetch runner need from the engine that owns them. The engine holds the state
 * (tiers, in-flight map, invalidation ledger); these parts hold the procedures.
 */
export interface EngineParts {
  readonly options: ResolvedCacheOptions
  /** L1 when it may be used now (see CacheEngine), else undefined. */
  memoryIfUsable(): MemoryTier | undefined
  /** Whether a value this fill obtained may go into L1 (nothing invalidated it meanwhile). */
  mayKeepInMemory(
    flight: { readonly key: string; readonly startSeq: number; dirty: boolean },
    entry: CacheEntry,
  ): boolean
  /** Returns an entry's value, starting a background refresh when it is stale or due early. */
  serve(rt: LoaderRuntime, key: string, id: CacheId, entry: CacheEntry, now: number): unknown
  /** Reports a fetch failure to `fetchError` listeners. */
  reportFetchError(loader: string, error: Error): void
}
