import { decodeEntry } from '../core/entry.js'
import { LoadCacheError } from '../core/errors.js'
import { normalizeId } from '../core/keys.js'
import type { ReadMode, RedisTier } from '../redis/redis-tier.js'
import type { FetchRunner } from './fetch-runner.js'
import type { FillNotices } from './fill-notices.js'
import type { Flight } from './flight.js'
import type { BatchSource, EngineParts, LoaderRuntime } from './runtime.js'

/**
 * The fill protocol for keys that missed L1: read (or lock) them in Redis in one round trip, fetch what
 * this caller locked in one call, and wait for what others locked (woken by their fill notice, or when their
 * lock expires, or after `lockWaitMs` fetch without writing). Without a readable Redis, fetch directly.
 */
export class FillLoop {
  readonly #parts: EngineParts
  readonly #redis: RedisTier | undefined
  readonly #runner: FetchRunner
  readonly #notices: FillNotices
  readonly #busConnected: () => boolean
  readonly #nextToken: () => string

  constructor(options: {
    parts: EngineParts
    redis: RedisTier | undefined
    runner: FetchRunner
    notices: FillNotices
    busConnected: () => boolean
    nextToken: () => string
  }) {
    this.#parts = options.parts
    this.#redis = options.redis
    this.#runner = options.runner
    this.#notices = options.notices
    this.#busConnected = options.busConnected
    this.#nextToken = options.nextToken
  }

  /**
   * Fills flights this process started: read (or lock) them in Redis in one round trip, fetch what we
   * locked in one call, wait for what others locked. Settles every flight; never rejects.
   */
  async fill(rt: LoaderRuntime, flights: Flight[], mode: ReadMode, source: BatchSource): Promise<void> {
    const redis = this.#redis
    const fetches: Promise<void>[] = []
    try {
      if (redis === undefined || !redis.readable) {
        rt.stats.misses += flights.length
        for (const flight of flights) this.#parts.reportMiss(rt.def.name, flight.key)
        await this.#runner.fetchAndStore(rt, flights, undefined, source)
        return
      }
      const token = this.#nextToken()
      const deadline = Date.now() + this.#parts.options.lockWaitMs
      let pending = flights
      let pass: ReadMode = mode
      let firstPass = true
      /** Flights counted in `lockWaits`: an id that waited counts once, however many times it re-read. */
      const waited = new Set<Flight>()
      while (pending.length > 0) {
        const since = this.#notices.seq
        let read: Awaited<ReturnType<RedisTier['read']>>
        try {
          read = await redis.read(
            pending.map((f) => f.key),
            token,
            pass,
            pass === 'refresh' ? (flights[0]?.stale?.freshUntil ?? 0) : 0,
          )
        } catch {
          // The script may still run after we gave up on it (a timeout), taking locks we will never
          // release: free them (compare-and-delete on our token) so others do not wait out the lock TTL.
          redis.releaseLocks(
            pending.map((f) => f.key),
            token,
          )
          fetches.push(this.#runner.fetchAndStore(rt, pending, undefined, source))
          return
        }
        const now = Date.now()
        const locked: Flight[] = []
        const busy: Flight[] = []
        const retry: Flight[] = []
        let shortestLockMs = Number.POSITIVE_INFINITY
        for (let j = 0; j < pending.length; j++) {
          const flight = pending[j]!
          const status = read.statuses[j]
          if (status?.kind === 'hit') {
            const entry = decodeEntry(status.raw, rt.def.serializer)
            if (entry !== undefined) {
              rt.stats.l2Hits++
              this.#parts.reportHit(rt.def.name, flight.key, 'l2')
              const memory = this.#parts.memoryIfUsable()
              // Read before an invalidation this process heard while it ran: served (the read overlapped
              // it), but neither kept in L1 nor in an HTTP cache (see Flight#overtaken).
              const current = this.#parts.mayKeepInMemory(flight, entry)
              flight.overtaken = !current
              if (memory !== undefined && current)
                memory.set(flight.key, entry, now, rt.shelf, normalizeId(flight.id, rt.def.name))
              // Settle first: it leaves the in-flight map, so a refresh that #serve starts is not mistaken
              // for one already running.
              flight.entry = entry
              flight.settle(entry.value)
              this.#parts.serve(rt, flight.key, flight.id, entry, now)
              continue
            }
            // Undecodable: remove it, then read it again at once, which takes its lock like any miss.
            rt.stats.corruptEntries++
            redis.discard([flight.key])
            retry.push(flight)
          } else if (status?.kind === 'locked') {
            locked.push(flight)
          } else if (status?.kind === 'busy') {
            busy.push(flight)
            shortestLockMs = Math.min(shortestLockMs, status.lockTtlMs)
          } else if (status?.kind === 'retry') {
            retry.push(flight)
          } else {
            throw new LoadCacheError(
              'E_REDIS_REPLY',
              `[redis] read script answered ${read.statuses.length} statuses for ${pending.length} keys`,
            )
          }
          if (firstPass && mode !== 'refresh') {
            rt.stats.misses++
            this.#parts.reportMiss(rt.def.name, flight.key)
          }
        }
        if (locked.length > 0)
          fetches.push(this.#runner.fetchAndStore(rt, locked, { token, clock: read.clock }, source))
        if (pass === 'refresh') {
          // Someone else is refreshing: keep serving what we have.
          for (const flight of busy) {
            flight.entry = flight.stale
            flight.settle(flight.stale?.value ?? null)
          }
          return
        }
        pass = 'lock'
        firstPass = false
        if (busy.length === 0 && retry.length === 0) return
        const remaining = deadline - Date.now()
        if (remaining <= 0) {
          // Waited long enough: load it ourselves, without writing (the lock is not ours).
          fetches.push(this.#runner.fetchAndStore(rt, [...busy, ...retry], undefined, source))
          return
        }
        for (const flight of busy) {
          if (waited.has(flight)) continue
          waited.add(flight)
          rt.stats.lockWaits++
        }
        if (retry.length === 0) {
          // Wake on the fill notice; otherwise when the holder's lock expires (it may have died). Without
          // the bus there are no notices, so poll.
          let timeoutMs = Math.min(remaining, shortestLockMs + 5)
          if (!this.#busConnected()) timeoutMs = Math.min(timeoutMs, 50)
          await this.#notices.waitForAny(
            busy.map((f) => f.key),
            since,
            timeoutMs,
          )
        }
        pending = [...busy, ...retry]
      }
    } catch (error) {
      for (const flight of flights) flight.settle(error)
    } finally {
      await Promise.all(fetches)
    }
  }
}
