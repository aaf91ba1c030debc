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
    posts(count: Int!): [Post!]! @cached(ttl: 60)
    item(id: ID!): Item @cached(ttl: 60)
  }
  type Node { id: ID! child: Node }
  type Item { id: ID! }
  type Post { id: ID! author: Author! }
  type Author { id: ID! }
  type Batch { count: Int! items: [Item!]! }
  type Mutation { touchAll(count: Int!): Batch! }
`

/** Items with what a row often carries besides its fields: a Date and an array (not counted as objects). */
function items(count: number) {
  return Array.from({ length: count }, (_, i) => ({ id: `i${i}`, createdAt: new Date(0), flags: ['a'] }))
}

function resolvers(ran: (coordinate: string) => void) {
  return {
    Query: {
      chain: (_: unknown, { depth }: { depth: number }) => {
        ran(`chain ${depth}`)
        return chain(depth, `d${depth}`)
      },
      items: (_: unknown, { count }: { count: number }) => {
        ran(`items ${count}`)
        return items(count)
      },
      posts: (_: unknown, { count }: { count: number }) => {
        ran(`posts ${count}`)
        const author = { id: 'a1' }
        return Array.from({ length: count }, (_, i) => ({ id: `p${i}`, author }))
      },
      item: (_: unknown, { id }: { id: string }) => {
        ran(`item ${id}`)
        return { id }
      },
    },
    Mutation: {
      touchAll: (_: unknown, { count }: { count: number }) => ({ count, items: items(count) }),
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

  it('caches a list of 20,000 items (their Dates and arrays are not counted) but not one of 20,001, with one warning', async () => {
    const logger = recordingLogger()
    const fixture = graphqlFixture({ typeDefs, resolvers, logger })
    const app = await fixture.instance()
    for (let round = 0; round < 2; round++) {
      for (const count of [20_000, 20_001]) {
        const result = await app.query(`{ items(count: ${count}) { id } }`)
        expect((result.data as { items: unknown[] }).items).toHaveLength(count)
      }
    }
    expect(fixture.runs).toMatchObject({ 'items 20000': 1, 'items 20001': 2 })
    expect(logger.warnings.filter((message) => message.includes('Query.items'))).toEqual([
      expect.stringContaining('more than 20000 objects'),
    ])
  })

  it('counts an object shared by many as one: 15,000 posts of one author are cached', async () => {
    const fixture = graphqlFixture({ typeDefs, resolvers })
    const app = await fixture.instance()
    await app.query('{ posts(count: 15000) { id } }')
    await app.query('{ posts(count: 15000) { id } }')
    expect(fixture.runs['posts 15000']).toBe(1)
    await app.cache.invalidateTags(['Author:a1'])
    await app.query('{ posts(count: 15000) { id } }')
    expect(fixture.runs['posts 15000']).toBe(2)
  })

  it('walks a mutation result whole: an entity past 20,000 that the client did not select is still evicted', async () => {
    const fixture = graphqlFixture({ typeDefs, resolvers, logger: recordingLogger() })
    const app = await fixture.instance()
    await app.query('{ item(id: "i20400") { id } }')
    await app.query('{ item(id: "i20400") { id } }')
    expect(fixture.runs['item i20400']).toBe(1)
    const touched = await app.query('mutation { touchAll(count: 20500) { count } }')
    expect(touched.data).toEqual({ touchAll: { count: 20500 } })
    await app.query('{ item(id: "i20400") { id } }')
    expect(fixture.runs['item i20400']).toBe(2)
  })
})
