/** Invalidations (keys and tags) remembered before the ledger forgets and raises its floor instead. */
const MAX_REMEMBERED = 10_000

/**
 * When each key and tag was last invalidated in this process, as a sequence number, so a value a fill
 * obtained can be checked before it goes into L1: a fill that started before an invalidation of its key or
 * of one of its tags may hold the old value.
 *
 * Tags are known only after the fetch, so the check happens then, against the sequence number the fill took
 * when it started. Memory is bounded: past `MAX_REMEMBERED` entries the ledger forgets them all and treats
 * every fill started before that moment as invalidated (a few values not kept in L1, never a stale one kept).
 */
export class InvalidationLedger {
  #seq = 0
  #floor = 0
  readonly #keys = new Map<string, number>()
  readonly #tags = new Map<string, number>()

  /** The current sequence number; a fill records it when it starts. */
  get seq(): number {
    return this.#seq
  }

  /** Records an invalidation of these entry keys and encoded tags; returns its sequence number. */
  record(entryKeys: readonly string[], encodedTags: readonly string[]): number {
    const seq = ++this.#seq
    if (
      this.#keys.size + entryKeys.length > MAX_REMEMBERED ||
      this.#tags.size + encodedTags.length > MAX_REMEMBERED
    ) {
      this.#keys.clear()
      this.#tags.clear()
      this.#floor = seq
    }
    for (const key of entryKeys) this.#keys.set(key, seq)
    for (const tag of encodedTags) this.#tags.set(tag, seq)
    return seq
  }

  /** Whether a value for `key` carrying `encodedTags`, fetched by a fill that started at `startSeq`, is still current. */
  unchangedSince(startSeq: number, key: string, encodedTags: readonly string[]): boolean {
    if (startSeq < this.#floor) return false
    if ((this.#keys.get(key) ?? 0) > startSeq) return false
    for (const tag of encodedTags) {
      if ((this.#tags.get(tag) ?? 0) > startSeq) return false
    }
    return true
  }
}
