import { describe, expect, it } from 'vitest'
import { graphqlFixture } from './schema-fixture.js'

/*
 * Tag templates rendered at run time (README, "@cached(ttl, tags, scope)"): `{result.path}` and
 * `{parent.path}` on cached fields, `{result.path}` on @invalidates; a list yields one tag per item, a
 * missing value drops the tag. Memory-only: what is checked is which tags an entry carries, which is the
 * same with Redis (test/graphql/library-schema.ts covers `{args.…}` there).
 */

type Member = { id: string; name: string; org: { id: string } | null; labels: string[]; team: string | null }

function members() {
  const rows = new Map<string, Member>([
    ['m1', { id: 'm1', name: 'Ann', org: { id: 'o1' }, labels: ['x', 'y'], team: 'red' }],
    ['m2', { id: 'm2', name: 'Bob', org: null, labels: [], team: null }],
    ['m3', { id: 'm3', name: 'Cy', org: { id: 'o1' }, labels: ['z'], team: 'blue' }],
  ])
  const typeDefs = /* GraphQL */ `
    type Query {
      member(id: ID!): Member @cached(ttl: 60, tags: ["org:{result.org.id}", "label:{result.labels}"])
    }
    type Member {
      id: ID!
      name: String!
      org: Org
      labels: [String!]!
      team: String
      motto: String @cached(ttl: 60, tags: ["team:{parent.team}"])
    }
    type Org { id: ID! }
    type Mutation {
      rename(id: ID!, name: String!): Member @invalidates(tags: ["org:{result.org.id}"], types: [])
    }
  `
  const resolvers = (ran: (coordinate: string) => void) => ({
    Query: {
      member: (_: unknown, { id }: { id: string }) => {
        ran('Query.member')
        const row = rows.get(id)
        return row ? { ...row } : null
      },
    },
    Member: {
      motto: (member: Member) => {
        ran('Member.motto')
        return `${member.name} says hi`
      },
    },
    Mutation: {
      rename: (_: unknown, { id, name }: { id: string; name: string }) => {
        const row = rows.get(id)!
        row.name = name
        return { ...row }
      },
    },
  })
  return { typeDefs, resolvers }
}

describe('tag templates at run time', () => {
  it('{result.path} tags an entry by a nested value, and a list value by each item', async () => {
    const fixture = graphqlFixture(members())
    const app = await fixture.instance()
    const read = () => app.query('{ member(id: "m1") { name } }')
    await read()
    await read()
    expect(fixture.runs['Query.member']).toBe(1)
    await app.cache.invalidateTags(['label:z'])
    await read()
    expect(fixture.runs['Query.member']).toBe(1)
    await app.cache.invalidateTags(['label:y'])
    await read()
    expect(fixture.runs['Query.member']).toBe(2)
    await app.cache.invalidateTags(['org:o1'])
    await read()
    expect(fixture.runs['Query.member']).toBe(3)
  })

  it('drops a tag whose value is missing, instead of rendering it', async () => {
    const fixture = graphqlFixture(members())
    const app = await fixture.instance()
    const read = () => app.query('{ member(id: "m2") { name } }')
    expect((await read()).data).toEqual({ member: { name: 'Bob' } })
    await app.cache.invalidateTags(['org:null', 'org:undefined', 'org:', 'label:', 'label:null'])
    await read()
    expect(fixture.runs['Query.member']).toBe(1)
    // The entity tag is still there.
    await app.cache.invalidateTags(['Member:m2'])
    await read()
    expect(fixture.runs['Query.member']).toBe(2)
  })

  it('{parent.path} tags a field by its parent, apart from the parent’s own entry', async () => {
    const fixture = graphqlFixture(members())
    const app = await fixture.instance()
    const read = () => app.query('{ member(id: "m1") { motto } }')
    expect((await read()).data).toEqual({ member: { motto: 'Ann says hi' } })
    await app.cache.invalidateTags(['team:blue'])
    await read()
    expect(fixture.runs).toMatchObject({ 'Query.member': 1, 'Member.motto': 1 })
    await app.cache.invalidateTags(['team:red'])
    await read()
    expect(fixture.runs).toMatchObject({ 'Query.member': 1, 'Member.motto': 2 })
  })

  it('@invalidates renders {result.path} from what the mutation returned', async () => {
    const fixture = graphqlFixture(members())
    const app = await fixture.instance()
    await app.query('{ a: member(id: "m3") { name } }')
    await app.query('{ b: member(id: "m2") { name } }')
    expect(fixture.runs['Query.member']).toBe(2)
    // Renaming m1 evicts org:o1, which m3's entry carries (m2 has no org): only m3 is read again.
    const renamed = await app.query('mutation { rename(id: "m1", name: "Ana") { id } }')
    expect(renamed.errors).toBeUndefined()
    expect((await app.query('{ a: member(id: "m3") { name } }')).data).toEqual({ a: { name: 'Cy' } })
    expect(fixture.runs['Query.member']).toBe(3)
    await app.query('{ b: member(id: "m2") { name } }')
    expect(fixture.runs['Query.member']).toBe(3)
  })
})
