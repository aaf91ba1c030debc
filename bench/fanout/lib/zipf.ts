/**
 * Seeded randomness for the fan-out benchmark: every instance draws its own reproducible sequence. A copy of
 * the two dozen lines in bench/lib/zipf.ts, kept here so this benchmark depends on nothing else in bench/.
 */

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

  /** One id in 1..n, as a string. */
  sample(random: () => number): string {
    const u = random()
    let lo = 0
    let hi = this.#cdf.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#cdf[mid]! < u) lo = mid + 1
      else hi = mid
    }
    return String(lo + 1)
  }
}
