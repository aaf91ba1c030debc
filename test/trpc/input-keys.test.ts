import { initTRPC } from '@trpc/server'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createCache } from '../../src/index.js'
import { createLoadCacheTRPC } from '../../src/trpc/index.js'

/*
 * cached() sees the input parsed by the .input() calls before it; tRPC merges those after it in. A call is
 * keyed by the input as sent too whenever that differs from what was parsed so far, so two calls a later
 * .input() tells apart never share an entry. Server-side callers pass values JSON cannot (a Date).
 */
describe('tRPC cached() keys', () => {
  it('tell apart inputs a later .input() parses apart: a Date an earlier transform rounded', async () => {
    const cache = createCache()
    const t = initTRPC.create()
    const lc = createLoadCacheTRPC(t, { cache })
    let runs = 0
    const day = (at: Date) => new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()))
    const router = t.router({
      at: t.procedure
        .input(z.object({ at: z.date().transform(day) }))
        .use(lc.cached({ ttl: 60 }))
        .input(z.object({ at: z.date() }))
        .query(({ input }) => {
          runs++
          return input.at.toISOString()
        }),
    })
    const caller = t.createCallerFactory(router)(lc.createContext({}))
    const early = new Date('2024-01-01T01:00:00Z')
    const late = new Date('2024-01-01T23:00:00Z')
    expect(await caller.at({ at: early })).toBe(early.toISOString())
    expect(await caller.at({ at: late })).toBe(late.toISOString())
    expect(await caller.at({ at: new Date(early) })).toBe(early.toISOString())
    expect(runs).toBe(2)
    await cache.close()
  })

  it('cache a call whose input is a class instance the validator copies: the same members, one entry', async () => {
    const cache = createCache()
    const t = initTRPC.create()
    const lc = createLoadCacheTRPC(t, { cache })
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    let runs = 0
    const router = t.router({
      near: t.procedure
        .input(z.object({ at: z.object({ x: z.number(), y: z.number() }) }))
        .use(lc.cached({ ttl: 60 }))
        .query(({ input }) => {
          runs++
          return input.at.x + input.at.y
        }),
    })
    const caller = t.createCallerFactory(router)(lc.createContext({}))
    expect(await caller.near({ at: new Point(1, 2) })).toBe(3)
    expect(await caller.near({ at: new Point(1, 2) })).toBe(3)
    expect(runs).toBe(1)
    await cache.close()
  })

  it('tell apart class instances whose getters a later .input() reads', async () => {
    const cache = createCache()
    const t = initTRPC.create()
    const lc = createLoadCacheTRPC(t, { cache })
    class Request2 {
      readonly #y: number
      constructor(
        readonly x: number,
        y: number,
      ) {
        this.#y = y
      }
      get y(): number {
        return this.#y
      }
    }
    let runs = 0
    const router = t.router({
      sum: t.procedure
        .input(z.object({ x: z.number() }))
        .use(lc.cached({ ttl: 60 }))
        .input(z.object({ y: z.number() }))
        .query(({ input }) => {
          runs++
          return input.x + input.y
        }),
    })
    const caller = t.createCallerFactory(router)(lc.createContext({}))
    expect(await caller.sum(new Request2(1, 2) as never)).toBe(3)
    expect(await caller.sum(new Request2(1, 3) as never)).toBe(4)
    expect(runs).toBe(2)
    await cache.close()
  })
})
