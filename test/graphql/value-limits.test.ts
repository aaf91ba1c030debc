import { describe, expect, it } from 'vitest'
import { graphqlFixture, recordingLogger } from './schema-fixture.js'

/*
 * Values a cached field cannot tag completely are never cached (README, "Never cached"): deeper than 32
 * levels or holding more than 20,000 objects, with one warning per field. An entry tagged in part would miss
 * the invalidation of an entity it holds beyond the limit.
 */

type Node = { id: string; child: Node | null }

function chain(depth: number, prefix: string): Node {
  let node: Node = { id: `${prefix}-${depth}`, child: null }
  for (let level = depth - 1; level >= 1; level--) node = { id: `${prefix}-${level}`, child: node }
  return node
}

const typeDefs = /* GraphQL */ `
  type Query {
    chain(depth: Int!): Node @cached(ttl: 60)
    items(count: Int!): [Item!]! @cached(ttl: 60)
  }
  type Node { id: ID! child: Node }
  type Item { id: ID! }
`

function resolvers(ran: (coordinate: string) => void) {
  return {
    Query: {
      chain: (_: unknown, { depth }: { depth: number }) => {
        ran(`chain ${depth}`)
        return chain(depth, `d${depth}`)
      },
      items: (_: unknown, { count }: { count: number }) => {
        ran(`items ${count}`)
        return Array.from({ length: count }, (_, i) => ({ id: `i${i}` }))
      },
    },
  }
}

describe('values too big to tag', () => {
  it('caches a chain of 10 nodes but not one of 40, and warns once for the field', async () => {
    const logger = recordingLogger()
    const fixture = graphqlFixture({ typeDefs, resolvers, logger })
    const app = await fixture.instance()
    for (let round = 0; round < 3; round++) {
      expect((await app.query('{ chain(depth: 10) { id } }')).data).toEqual({ chain: { id: 'd10-1' } })
      expect((await app.query('{ chain(depth: 40) { id } }')).data).toEqual({ chain: { id: 'd40-1' } })
    }
    expect(fixture.runs).toMatchObject({ 'chain 10': 1, 'chain 40': 3 })
    const warnings = logger.warnings.filter((message) => message.includes('Query.chain'))
    expect(warnings).toEqual([expect.stringContaining('deeper than 32 levels')])
    // The 10-node entry carries the deepest node's tag: it goes when that node does.
    await app.cache.invalidateTags(['Node:d10-10'])
    await app.query('{ chain(depth: 10) { id } }')
    expect(fixture.runs['chain 10']).toBe(2)
  })

  it('caches a list of 100 items but not one of 25,000, and warns once for the field', async () => {
    const logger = recordingLogger()
    const fixture = graphqlFixture({ typeDefs, resolvers, logger })
    const app = await fixture.instance()
    for (let round = 0; round < 2; round++) {
      expect(
        ((await app.query('{ items(count: 100) { id } }')).data as { items: unknown[] }).items,
      ).toHaveLength(100)
      expect(
        ((await app.query('{ items(count: 25000) { id } }')).data as { items: unknown[] }).items,
      ).toHaveLength(25_000)
    }
    expect(fixture.runs).toMatchObject({ 'items 100': 1, 'items 25000': 2 })
    expect(logger.warnings.filter((message) => message.includes('Query.items'))).toEqual([
      expect.stringContaining('more than 20000 objects'),
    ])
  })
})
