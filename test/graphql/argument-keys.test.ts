import { describe, expect, it } from 'vitest'
import { graphqlFixture, recordingLogger } from './schema-fixture.js'

/*
 * A cached field's key is built from its arguments as JSON, which writes Infinity, -Infinity and NaN as
 * null. GraphQL's Float parses `1e999` to Infinity, so without care one client's `max: -1e999` would choose
 * what every `max: null` and `max: 1e999` gets. Such arguments are resolved uncached.
 */
describe('arguments JSON cannot write faithfully', () => {
  it('never share a key with null: each answer is its own', async () => {
    const prices = [5, 50]
    const f = graphqlFixture({
      typeDefs: 'type Query { cheaperThan(max: Float): [Float!]! @cached(ttl: 60) }',
      logger: recordingLogger(),
      resolvers: (ran) => ({
        Query: {
          cheaperThan: (_: unknown, { max }: { max: number | null }) => {
            ran('Query.cheaperThan')
            return prices.filter((price) => max === null || price < max)
          },
        },
      }),
    })
    const app = await f.instance()
    expect((await app.query('{ cheaperThan(max: -1e999) }')).data).toEqual({ cheaperThan: [] })
    expect((await app.query('{ cheaperThan(max: 1e999) }')).data).toEqual({ cheaperThan: [5, 50] })
    expect((await app.query('{ cheaperThan(max: null) }')).data).toEqual({ cheaperThan: [5, 50] })
    // null is cached as any argument is; the infinite ones ran each time.
    expect((await app.query('{ cheaperThan(max: null) }')).data).toEqual({ cheaperThan: [5, 50] })
    expect(f.runs['Query.cheaperThan']).toBe(3)
  })
})
