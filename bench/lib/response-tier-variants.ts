/** The servers the response-tier workloads compare, in table order (BENCH_RT_VARIANTS narrows them). */
import type { BenchConfig } from './config.js'

export const RT_VARIANTS = ['no-cache', 'response-cache', 'response-cache-redis', 'loadcache'] as const

export function responseTierVariants(config: BenchConfig): string[] {
  const chosen = config.rtVariants
  if (chosen === undefined) return [...RT_VARIANTS]
  for (const name of chosen) {
    if (!(RT_VARIANTS as readonly string[]).includes(name)) {
      throw new Error(`BENCH_RT_VARIANTS: unknown server ${name}; known: ${RT_VARIANTS.join(', ')}`)
    }
  }
  return RT_VARIANTS.filter((name) => chosen.includes(name))
}
