import DataLoader from 'dataloader'
import type { CacheId } from '../core/keys.js'
import { type BatchOptions, type CacheEngine, type LoaderRuntime, NO_HIT } from '../engine/engine.js'

/** Per-call options a request's loaders are bound to after they were made (see `bindLoaders`). */
export type Binding = { options: BatchOptions | undefined }

/**
 * The DataLoader `cache.loaders()` makes for one definition: a plain DataLoader (batching, per-request
 * memoization, `clear`, `prime`, `loadMany`) whose `load` answers a fresh L1 hit itself instead of queueing
 * the id for the next batch. Everything else (misses, stale entries, L1 unusable) goes through the batch as
 * before, so a request's misses still cost one fetch.
 *
 * Why: on a hit, DataLoader's queue costs more than the lookup, and worse, its per-id callback records
 * are allocated in the old generation once misses have kept them alive across Redis round trips (V8's
 * allocation-site pretenuring), which made every later hit pay in garbage collection (see
 * `CacheEngine#hitNow`).
 */
export class CacheLoader extends DataLoader<CacheId, unknown> {
  /** DataLoader's own memo (its `cacheMap`), kept here to answer repeated loads and store hits in it. */
  readonly #memo: Map<CacheId, Promise<unknown>>
  readonly #engine: CacheEngine
  readonly #runtime: LoaderRuntime
  readonly #binding: Binding

  constructor(engine: CacheEngine, runtime: LoaderRuntime, binding: Binding, maxBatchSize: number) {
    const memo = new Map<CacheId, Promise<unknown>>()
    super((ids) => engine.loadBatch(runtime, ids, binding.options), {
      name: runtime.def.name,
      maxBatchSize: maxBatchSize > 0 ? maxBatchSize : Number.POSITIVE_INFINITY,
      cacheMap: memo,
    })
    this.#memo = memo
    this.#engine = engine
    this.#runtime = runtime
    this.#binding = binding
  }

  override load(id: CacheId): Promise<unknown> {
    // DataLoader's own TypeError for a missing id, even when prime() stored one under it.
    if (id === undefined || id === null) return super.load(id)
    // A repeated id gets the promise its first load got (DataLoader would return a new promise settled
    // with its next batch: same value, settled sooner here).
    const memoized = this.#memo.get(id)
    if (memoized !== undefined) return memoized
    const options = this.#binding.options
    // Not bound yet while a response tier observes loads: the batch reads the binding when it dispatches.
    if (options === undefined && this.#engine.loadersObserved) return super.load(id)
    const value = this.#engine.hitNow(this.#runtime, id, options)
    if (value === NO_HIT) return super.load(id)
    const promise = Promise.resolve(value)
    this.#memo.set(id, promise)
    return promise
  }
}
