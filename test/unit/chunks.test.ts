import { describe, expect, it } from 'vitest'
import { MAX_SCRIPTS_IN_FLIGHT, runScripts, scriptGroups } from '../../src/redis/chunks.js'

/** Runs `groups` with a script that waits a turn, recording how many were in flight at most. */
async function peakInFlight(groups: number[][], failAt?: number) {
  let inFlight = 0
  let peak = 0
  let settled = 0
  const run = async (group: number[]) => {
    inFlight++
    peak = Math.max(peak, inFlight)
    await new Promise((resolve) => setImmediate(resolve))
    inFlight--
    settled++
    if (group[0] === failAt) throw new Error(`group at ${failAt} failed`)
    return group.length
  }
  const results = await runScripts(groups, run).catch((error: Error) => error)
  return { peak, results, settled }
}

describe('runScripts', () => {
  it('keeps four full scripts (200 entries each) in flight on a standalone Redis', async () => {
    const groups = scriptGroups(
      Array.from({ length: 2000 }, (_, i) => `k${i}`),
      false,
    )
    expect(groups).toHaveLength(10)
    const { peak, results } = await peakInFlight(groups)
    expect(peak).toBe(4)
    expect(results).toEqual(Array(10).fill(200))
  })

  it('sends a Cluster batch of one-key scripts in one round, up to its script bound', async () => {
    const groups = Array.from({ length: 100 }, (_, i) => [i])
    const { peak, results } = await peakInFlight(groups)
    expect(peak).toBe(MAX_SCRIPTS_IN_FLIGHT)
    expect(results).toEqual(Array(100).fill(1))
  })

  it('rejects with the first failure once every started script has settled, and starts no more', async () => {
    const groups = Array.from({ length: 10 }, (_, i) => Array.from({ length: 200 }, (_, j) => i * 200 + j))
    const { results, settled } = await peakInFlight(groups, 200)
    expect(results).toBeInstanceOf(Error)
    expect((results as Error).message).toBe('group at 200 failed')
    // Scripts already started finish; none starts once the failure is known.
    expect(settled).toBeLessThan(groups.length)
  })
})
