import type { CacheEntry } from '../core/entry.js'
import type { CacheId } from '../core/keys.js'
import type { FetchOutcome, LoaderDefinition } from '../loader/define-loader.js'
import type { MemoryShelf, MemoryTier } from '../memory/memory-tier.js'
import type { WriteCheck } from '../redis/redis-tier.js'
import type { ResolvedCacheOptions } from './options.js'
import type { LoaderStats } from './stats.js'
import type { EngineTracing } from './tracing.js'

/** A loader definition with the cache's defaults applied, resolved once per cache. */
export interface LoaderRuntime {
  readonly def: LoaderDefinition<CacheId, unknown>
  /** `<ns>:{<loader>:`: an entry key is this, the encoded id, and `}`. */
  readonly keyPrefix: string
  /** The entry key of an id (remembered). @throws LoadCacheTypeError for an invalid id. */
  readonly keyOf: (id: CacheId) => string
  /** This loader's entries in L1 by id, when the cache has L1. */
  readonly shelf: MemoryShelf | undefined
  readonly ttlMs: number
  readonly negativeTtlMs: number
  readonly graceMs: number
  /** XFetch beta; 0 = no early refresh. */
  readonly earlyRefresh: number
  /** 0 = no limit. */
  readonly fetchTimeoutMs: number
  readonly stats: LoaderStats
  /** The loader's own `fetch` and `tags`; a request may bring its own (see BatchOptions). */
  readonly source: BatchSource
}

/**
 * Where a fill gets the values of the ids that missed, and their tags. A loader's source is its definition's
 * `fetch` and `tags`; the GraphQL and tRPC integrations pass one per request, whose `fetch` runs that
 * request's resolvers.
 */
export interface BatchSource {
  /** Values of these ids, aligned with them (or an Error that fails them all). Need not catch. */
  fetch(ids: readonly CacheId[]): Promise<FetchOutcome[] | Error>
  /** Tags of a fetched value, besides the loader's `entity` tag. Called once per stored value. */
  tags(id: CacheId, value: unknown): readonly string[]
  /**
   * Extra conditions of the write of a value built from other entries (a response): each tag must still
   * have the version the entry it came from recorded, and key tags must not have moved since that entry's
   * clock, so a response built from an entry an L1 served after it was invalidated elsewhere is refused.
   */
  checks?(id: CacheId): readonly WriteCheck[]
  /**
   * The exact TTL of a fetched value, in ms (no jitter); default (also when it answers undefined): the
   * loader's TTL, with jitter.
   */
  ttlMs?(id: CacheId, value: unknown): number | undefined
  /** Whether `tags()` returns tags already encoded (taken from other entries) rather than as written. */
  readonly encodedTags?: boolean
}

/** Per-call options of `CacheEngine.loadBatch`. */
export interface BatchOptions {
  /** This request's source for the ids that miss, instead of the loader's own. */
  readonly source?: BatchSource
  /**
   * Called for each id served, with the entry it was served from (a hit or this fill's new entry), or
   * `undefined` when the value has no entry (an error, a value not stored, a fetch that held no lock):
   * the response tier derives a response's tags and clock from these. `overtaken`: the value comes from a
   * fill that an invalidation of its key or tags overtook (see `Flight#overtaken`), so it may be older than
   * an invalidation already announced, and no HTTP cache may keep a response built from it.
   */
  readonly observe?: (entry: CacheEntry | undefined, entryKey: string, overtaken?: boolean) => void
  /**
   * The invalidation sequence number (`CacheEngine#seq`) from which this call's fills count invalidations,
   * when their values were computed before the call (a response built before it is stored). Default: now.
   */
  readonly startSeq?: number
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
  /** The invalidation ledger's sequence number now (see InvalidationLedger). */
  seq(): number
  /** Whether neither `key` nor one of `encodedTags` was invalidated in this process after `seq`. */
  unchangedSince(seq: number, key: string, encodedTags: readonly string[]): boolean
  /**
   * Whether this flight's key was invalidated, or this process heard any invalidation, since it started:
   * what can be said of a value that has no entry, hence no tags, to check.
   */
  invalidatedSince(flight: { readonly startSeq: number; dirty: boolean }): boolean
  /** Returns an entry's value, starting a background refresh when it is stale or due early. */
  serve(rt: LoaderRuntime, key: string, id: CacheId, entry: CacheEntry, now: number): unknown
  /** Reports a fetch failure to `fetchError` listeners. */
  reportFetchError(loader: string, error: Error): void
  reportFetch(event: { loader: string; ids: number; durationMs: number; failed: number }): void
  reportHit(loader: string, key: string, tier: 'l1' | 'l2'): void
  reportMiss(loader: string, key: string): void
  /** The tracer wrapping fetches, while one instruments the cache. */
  tracing(): EngineTracing | undefined
}
