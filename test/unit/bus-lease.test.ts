import { EventEmitter } from 'node:events'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Bus } from '../../src/invalidation/bus.js'

/*
 * The lease against clock steps and suspends, with Redis's answers released by hand: when a PING is answered
 * relative to a step is what these tests are about, and a real Redis cannot be told when to answer. Both
 * clocks are the test's own (a suspend moves Date.now() but not performance.now()); the renewal interval
 * is a fake timer, fired by `tick()`. Everything else is the real Bus and its standalone channel.
 */
function leaseHarness(maxStalenessMs: number) {
  let wall = 1_700_000_000_000
  let mono = 1_000
  vi.spyOn(Date, 'now').mockImplementation(() => wall)
  vi.spyOn(performance, 'now').mockImplementation(() => mono)
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setImmediate'] })
  const unanswered: (() => void)[] = []
  const awaitAnswer = () => new Promise<unknown>((resolve) => unanswered.push(() => resolve('OK')))
  const subscriber = Object.assign(new EventEmitter(), {
    subscribe: awaitAnswer,
    ping: awaitAnswer,
    quit: async () => {},
    disconnect: () => {},
  })
  const bus = new Bus({ duplicate: () => subscriber } as never, {
    channel: 'ns:bus',
    instanceId: 'test',
    maxStalenessMs,
    handlers: { onInvalidate() {}, onFillNotice() {}, onUp() {}, onDown() {} },
    logger: { warn() {}, error() {} },
  })
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0))
  return {
    /** Time passes for both clocks. */
    pass(ms: number) {
      wall += ms
      mono += ms
    },
    /** The system clock alone moves (a step; forward by a suspend, which the monotonic clock does not count). */
    stepWall(ms: number) {
      wall += ms
    },
    /** The renewal timer fires (a PING is sent, the clocks compared). */
    tick() {
      vi.advanceTimersByTime(Math.max(25, Math.floor(maxStalenessMs / 4)))
    },
    /** Redis answers the oldest unanswered command (SUBSCRIBE, then PINGs in order). */
    async answer() {
      unanswered.shift()?.()
      await settle()
    },
    pending: () => unanswered.length,
    leased: () => bus.leased(wall),
    close: () => bus.close(),
  }
}

afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

describe('the L1 lease against the system clock', () => {
  it('ends maxStalenessMs after the last answered PING was sent, on the monotonic clock', async () => {
    const h = leaseHarness(1000)
    await h.answer() // SUBSCRIBE
    expect(h.leased()).toBe(true)
    h.pass(999)
    expect(h.leased()).toBe(true)
    h.pass(1)
    expect(h.leased()).toBe(false)
    await h.close()
  })

  it('a step back makes the lease look younger only until the clocks are next compared', async () => {
    const h = leaseHarness(1000)
    await h.answer()
    h.pass(900)
    h.stepWall(-500)
    // Until the renewal tick, the system clock alone says 400 ms.
    expect(h.leased()).toBe(true)
    h.tick()
    // Measured again: 900 ms since the send, then past maxStalenessMs.
    h.pass(99)
    expect(h.leased()).toBe(true)
    h.pass(2)
    expect(h.leased()).toBe(false)
    await h.close()
  })

  it('a step back past the last answered PING voids the lease at once, and the next tick restores it', async () => {
    const h = leaseHarness(1000)
    await h.answer()
    h.pass(100)
    h.stepWall(-60_000)
    expect(h.leased()).toBe(false)
    h.tick()
    expect(h.leased()).toBe(true)
    await h.close()
  })

  it('a PING sent before a suspend renews nothing when its answer comes after it', async () => {
    const h = leaseHarness(1000)
    await h.answer()
    h.pass(250)
    h.tick() // PING 1 sent
    expect(h.pending()).toBe(1)
    h.stepWall(60_000) // suspended for a minute: Redis may have pushed invalidations nobody heard
    await h.answer() // PING 1's answer arrives after the resume
    expect(h.leased()).toBe(false)
    h.pass(250)
    h.tick() // PING 2, sent after the jump
    await h.answer()
    expect(h.leased()).toBe(true)
    await h.close()
  })
})
