/** The fan-out benchmark's parameters: one place, recorded in every results file. */
import type { WorkloadShape } from './protocol.js'

export type TopologyName = 'standalone' | 'cluster'

export interface FanoutConfig {
  readonly quick: boolean
  readonly instances: readonly number[]
  readonly topologies: readonly TopologyName[]
  /** Requests per second each instance starts (open loop): the fleet's load grows with its size. */
  readonly rate: number
  readonly loadsPerRequest: number
  /** Bus channel prefix, the same for both designs (message sizes depend on its length). */
  readonly namespace: string
  readonly warm: WorkloadShape
  /** The warm-with-misses and with-writes workloads run on one cache each, one after the other. */
  readonly misses: WorkloadShape
  readonly writeFraction: number
  /** Measured seconds of the warm, warm-with-misses and with-writes workloads. */
  readonly warmSeconds: number
  readonly missesSeconds: number
  readonly writesSeconds: number
  /** Unmeasured seconds of the warm-with-misses workload first, so its measurement sees a steady state. */
  readonly settleSeconds: number
  /** Invalidation-latency rounds (one write each) per instance count, and the poller's period. */
  readonly latencyRounds: number
  readonly pollMs: number
  /**
   * Requests per second per instance of the warm-with-misses reads that run in the background of the
   * latency rounds: lower than `rate`, so that with 16 instances on 2 cores the latency shows the bus more
   * than CPU starvation.
   */
  readonly latencyBackgroundRate: number
  /** Subscriber counts of the per-delivery calibration (lib/calibrate.ts), messages each, and their size. */
  readonly calibrationSubscribers: readonly number[]
  readonly calibrationMessages: number
  readonly calibrationPayloadBytes: number
  readonly seed: number
}

export function fanoutConfig(quick: boolean, overrides: Partial<FanoutConfig> = {}): FanoutConfig {
  return {
    quick,
    instances: quick ? [1, 8, 16] : [1, 2, 4, 8, 16],
    topologies: ['standalone', 'cluster'],
    rate: 20,
    loadsPerRequest: 20,
    namespace: 'fanout',
    // Everything fits in L1 and nothing expires: after the preload every load is an L1 hit.
    warm: { keys: 2_000, zipfS: 1, ttlSeconds: 3_600, l1Max: 10_000 },
    // Zipf(1.2) over 20,000 ids with a 4 s TTL and an L1 of 1,000 entries: L1 misses read Redis, expired
    // entries are fetched again (fills), and hot keys expire while several instances read them.
    misses: { keys: 20_000, zipfS: 1.2, ttlSeconds: 4, l1Max: 1_000 },
    writeFraction: 0.02,
    warmSeconds: quick ? 1.5 : 2,
    missesSeconds: quick ? 2 : 4,
    writesSeconds: quick ? 2 : 4,
    settleSeconds: quick ? 2 : 4,
    latencyRounds: quick ? 12 : 50,
    pollMs: 5,
    latencyBackgroundRate: 5,
    calibrationSubscribers: quick ? [16, 1_000] : [16, 100, 1_000],
    calibrationMessages: 100,
    // About the size of one invalidation of one entity by id and by tag.
    calibrationPayloadBytes: 128,
    seed: 42,
    ...overrides,
  }
}
