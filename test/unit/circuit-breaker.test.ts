import { describe, expect, it } from 'vitest'
import { type BreakerState, CircuitBreaker } from '../../src/redis/circuit-breaker.js'

function breaker() {
  const changes: string[] = []
  const b = new CircuitBreaker({
    failureThreshold: 3,
    breakDurationMs: 1000,
    onStateChange: (state: BreakerState, previous: BreakerState) => changes.push(`${previous}->${state}`),
  })
  return { b, changes }
}

describe('CircuitBreaker', () => {
  it('opens only after the threshold of consecutive failures', () => {
    const { b, changes } = breaker()
    b.recordFailure(0)
    b.recordFailure(0)
    b.recordSuccess()
    b.recordFailure(0)
    b.recordFailure(0)
    expect(b.state).toBe('closed')
    b.recordFailure(10)
    expect(b.state).toBe('open')
    expect(changes).toEqual(['closed->open'])
  })

  it('allows a probe after the break duration, and closes only when the probe succeeds', () => {
    const { b, changes } = breaker()
    for (let i = 0; i < 3; i++) b.recordFailure(0)
    expect(b.probeDue(999)).toBe(false)
    expect(b.probeDue(1000)).toBe(true)
    b.beginProbe()
    b.probeFailed(1000)
    expect(b.probeDue(1999)).toBe(false)
    b.beginProbe()
    expect(b.isClosed).toBe(false)
    b.probeSucceeded()
    expect(b.isClosed).toBe(true)
    expect(changes).toEqual([
      'closed->open',
      'open->half-open',
      'half-open->open',
      'open->half-open',
      'half-open->closed',
    ])
  })
})
