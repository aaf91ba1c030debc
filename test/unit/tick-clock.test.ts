import { afterEach, describe, expect, it, vi } from 'vitest'
import { TickClock } from '../../src/engine/tick-clock.js'

describe('TickClock', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('reads the clocks once per synchronous run, and again after the next microtask checkpoint', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(1_000_000)
    const clock = new TickClock()
    const first = clock.read()
    expect(first.wall).toBe(1_000_000)
    const monotonic = first.monotonic
    vi.setSystemTime(2_000_000)
    // Same run: the reading it took (a hundred loads of one resolver loop share it).
    expect(clock.read().wall).toBe(1_000_000)
    expect(clock.read().monotonic).toBe(monotonic)
    await Promise.resolve()
    expect(clock.read().wall).toBe(2_000_000)
    expect(clock.read().monotonic).toBeGreaterThanOrEqual(monotonic)
  })
})
