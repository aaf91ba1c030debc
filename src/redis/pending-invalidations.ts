/**
 * Invalidations that could not reach Redis, kept for replay: bounded (newest wins), and each remembered with
 * the generation it was queued at, so a replay removes only what it applied (an item queued again while a
 * replay was in flight is newer and stays).
 */
export class PendingInvalidations {
  readonly #keys = new Map<string, number>()
  readonly #tags = new Map<string, number>()
  readonly #max: number
  readonly #onDrop: (what: 'key' | 'tag') => void
  #generation = 0

  constructor(max: number, onDrop: (what: 'key' | 'tag') => void) {
    this.#max = max
    this.#onDrop = onDrop
  }

  get size(): number {
    return this.#keys.size + this.#tags.size
  }

  add(entryKeys: readonly string[], encodedTags: readonly string[]): void {
    const generation = ++this.#generation
    for (const key of entryKeys) this.#requeue(this.#keys, key, generation, 'key')
    for (const tag of encodedTags) this.#requeue(this.#tags, tag, generation, 'tag')
  }

  /** Up to `max` keys and `max` tags, oldest first, with the generation to hand back to `applied`. */
  take(max: number): { keys: [string, number][]; tags: [string, number][] } {
    return { keys: [...this.#keys].slice(0, max), tags: [...this.#tags].slice(0, max) }
  }

  applied(taken: { keys: [string, number][]; tags: [string, number][] }): void {
    for (const [key, generation] of taken.keys) {
      if (this.#keys.get(key) === generation) this.#keys.delete(key)
    }
    for (const [tag, generation] of taken.tags) {
      if (this.#tags.get(tag) === generation) this.#tags.delete(tag)
    }
  }

  #requeue(queue: Map<string, number>, value: string, generation: number, what: 'key' | 'tag'): void {
    queue.delete(value)
    queue.set(value, generation)
    if (queue.size > this.#max) {
      const oldest = queue.keys().next().value
      if (oldest !== undefined) queue.delete(oldest)
      this.#onDrop(what)
    }
  }
}
