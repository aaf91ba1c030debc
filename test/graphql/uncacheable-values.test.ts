import { describe, expect, it } from 'vitest'
import { graphqlFixture, recordingLogger } from './schema-fixture.js'

/*
 * A cached field whose value cannot be stored (a class instance the serializer refuses) is returned, not
 * cached. Such a value has no entry, so no tags to check against an invalidation: when one is heard while it
 * is resolved, the response must not be kept by an HTTP cache (README, "Cache-Control": a response built
 * from a value an invalidation overtook is no-store). Memory-only: the invalidation ledger decides.
 */

class Profile {
  constructor(readonly name: string) {}
}

function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { opened, open }
}

function profiles() {
  const state = { name: 'Ann', hold: undefined as { reached: () => void; wait: Promise<void> } | undefined }
  const typeDefs = /* GraphQL */ `
    type Query { profile: Profile @cached(ttl: 60) }
    type Profile { name: String! }
  `
  const resolvers = (ran: (coordinate: string) => void) => ({
    Query: {
      profile: async () => {
        ran('Query.profile')
        const value = new Profile(state.name)
        if (state.hold) {
          state.hold.reached()
          await state.hold.wait
        }
        return value
      },
    },
  })
  return { typeDefs, resolvers, state }
}

describe('a cached field whose value cannot be stored', () => {
  it('is resolved every time, with one warning, and keeps the Cache-Control its hint gives', async () => {
    const { typeDefs, resolvers } = profiles()
    const logger = recordingLogger()
    const fixture = graphqlFixture({ typeDefs, resolvers, logger })
    const app = await fixture.instance()
    for (let i = 0; i < 2; i++) {
      const result = await app.query('{ profile { name } }')
      expect(result.data).toEqual({ profile: { name: 'Ann' } })
      expect(result.cacheControl).toBe('public, max-age=60')
    }
    expect(fixture.runs['Query.profile']).toBe(2)
    expect(logger.warnings.filter((message) => message.includes('is returned but not cached'))).toHaveLength(
      1,
    )
  })

  it('makes the response no-store when an invalidation is heard while it resolves (forced)', async () => {
    const { typeDefs, resolvers, state } = profiles()
    const fixture = graphqlFixture({ typeDefs, resolvers, logger: recordingLogger() })
    const app = await fixture.instance()
    const reached = gate()
    const release = gate()
    state.hold = { reached: reached.open, wait: release.opened }
    const inFlight = app.query('{ profile { name } }')
    await reached.opened
    // The value was read before this write and its invalidation: a CDN purged by the tag must not keep it.
    state.name = 'Ann, renamed'
    await app.cache.invalidateTags(['Profile:anything'])
    release.open()
    const raced = await inFlight
    expect(raced.data).toEqual({ profile: { name: 'Ann' } })
    expect(raced.cacheControl).toBe('no-store')
    state.hold = undefined
    expect((await app.query('{ profile { name } }')).cacheControl).toBe('public, max-age=60')
  })
})
