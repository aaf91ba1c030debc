/** Seeded randomness, so every layer gets the same sequence of requests. */

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Zipf(s) over ranks 1..n (P(k) ∝ 1/k^s), sampled by binary search over the CDF. Rank k is id `k`. */
export class Zipf {
  readonly #cdf: Float64Array

  constructor(n: number, s: number) {
    this.#cdf = new Float64Array(n)
    let sum = 0
    for (let k = 1; k <= n; k++) {
      sum += 1 / k ** s
      this.#cdf[k - 1] = sum
    }
    for (let i = 0; i < n; i++) this.#cdf[i] = this.#cdf[i]! / sum
  }

  /** One rank in 1..n. */
  sample(random: () => number): number {
    const u = random()
    let lo = 0
    let hi = this.#cdf.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#cdf[mid]! < u) lo = mid + 1
      else hi = mid
    }
    return lo + 1
  }

  /** `count` ids (as strings), duplicates included: the ids of one N+1 request. */
  ids(random: () => number, count: number): string[] {
    const ids = new Array<string>(count)
    for (let i = 0; i < count; i++) ids[i] = String(this.sample(random))
    return ids
  }

  /** `count` distinct ids. */
  distinctIds(random: () => number, count: number): string[] {
    const seen = new Set<string>()
    while (seen.size < count) seen.add(String(this.sample(random)))
    return [...seen]
  }
}
