import { makeExecutableSchema } from '@graphql-tools/schema'
import {
  execute,
  GraphQLBoolean,
  GraphQLID,
  GraphQLInterfaceType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  parse,
} from 'graphql'
import { describe, expect, it } from 'vitest'
import {
  createLoadCacheContext,
  type LoadCachePolicies,
  LoadCacheSchemaError,
  loadCacheDirectives,
  loadCacheDirectiveTypeDefs,
} from '../../src/graphql/index.js'
import { createCache } from '../../src/index.js'
import { useLoadCache } from '../../src/yoga/index.js'
import { runCounter, serve } from './serve.js'

interface UserRow {
  id: string
  name: string
}

/** A schema built with graphql-js objects: no SDL, so no directives anywhere. */
function codeFirstSchema(ran: (coordinate: string) => void) {
  const users = new Map<string, UserRow>([
    ['1', { id: '1', name: 'Ann' }],
    ['2', { id: '2', name: 'Bob' }],
  ])
  const posts = [{ id: 'p1', title: 'Hello' }]
  const Node = new GraphQLInterfaceType({
    name: 'Node',
    fields: { id: { type: new GraphQLNonNull(GraphQLID) } },
  })
  const User = new GraphQLObjectType<UserRow, { viewerId: string | null }>({
    name: 'User',
    interfaces: [Node],
    fields: {
      id: { type: new GraphQLNonNull(GraphQLID) },
      name: { type: GraphQLString },
      email: {
        type: GraphQLString,
        resolve: (user, _args, context) => {
          ran('User.email')
          return `${user.name.toLowerCase()}@example.com (seen by ${context.viewerId})`
        },
      },
    },
  })
  const Droid = new GraphQLObjectType({
    name: 'Droid',
    fields: { id: { type: new GraphQLNonNull(GraphQLID) }, model: { type: GraphQLString } },
  })
  const Post = new GraphQLObjectType({
    name: 'Post',
    fields: { id: { type: new GraphQLNonNull(GraphQLID) }, title: { type: GraphQLString } },
  })
  const query = new GraphQLObjectType({
    name: 'Query',
    fields: {
      user: {
        type: User,
        args: { id: { type: new GraphQLNonNull(GraphQLID) } },
        resolve: (_root, { id }: { id: string }) => {
          ran('Query.user')
          return users.get(id) ?? null
        },
      },
      droid: {
        type: Droid,
        args: { id: { type: new GraphQLNonNull(GraphQLID) } },
        resolve: (_root, { id }: { id: string }, context: { viewerId: string | null }) => {
          ran('Query.droid')
          return { id, model: `R${id} for ${context.viewerId}` }
        },
      },
      posts: {
        type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(Post))),
        resolve: () => {
          ran('Query.posts')
          return [...posts]
        },
      },
    },
  })
  const mutation = new GraphQLObjectType({
    name: 'Mutation',
    fields: {
      createPost: {
        type: new GraphQLNonNull(Post),
        args: { title: { type: new GraphQLNonNull(GraphQLString) } },
        resolve: (_root, { title }: { title: string }) => {
          const post = { id: `p${posts.length + 1}`, title }
          posts.push(post)
          return post
        },
      },
      reindex: { type: GraphQLBoolean, resolve: () => true },
      renameUser: {
        type: User,
        args: {
          id: { type: new GraphQLNonNull(GraphQLID) },
          name: { type: new GraphQLNonNull(GraphQLString) },
        },
        resolve: (_root, { id, name }: { id: string; name: string }) => {
          const user = users.get(id)
          if (user === undefined) return null
          user.name = name
          return { ...user }
        },
      },
    },
  })
  return new GraphQLSchema({ query, mutation, types: [Node] })
}

const policies: LoadCachePolicies = {
  'Query.user': { ttl: 60 },
  'User.email': { ttl: 60, scope: 'PRIVATE' },
  'Query.posts': { ttl: 30, tags: ['posts'] },
  Droid: { ttl: 45, scope: 'PRIVATE' },
  'Mutation.reindex': { invalidates: { tags: ['posts'] } },
}

describe('code-first policies (a graphql-js schema, no directives)', () => {
  it('caches a field named by its coordinate: its resolver runs once, and the response is public', async () => {
    const { runs, ran } = runCounter()
    const { query } = serve(codeFirstSchema(ran), { policies })
    const first = await query('{ user(id: "1") { name } }')
    const second = await query('{ user(id: "1") { name } }')
    expect(second.data).toEqual({ user: { name: 'Ann' } })
    expect(runs['Query.user']).toBe(1)
    expect([first.cacheControl, second.cacheControl]).toEqual(['public, max-age=60', 'public, max-age=60'])
  })

  it('keys a PRIVATE field by viewer, makes the response private, and does not cache it without a viewer', async () => {
    const { runs, ran } = runCounter()
    const { query } = serve(codeFirstSchema(ran), { policies })
    const ann = await query('{ user(id: "1") { email } }', { viewer: 'ann' })
    expect(ann.data).toEqual({ user: { email: 'ann@example.com (seen by ann)' } })
    expect(ann.cacheControl).toBe('private, max-age=60')
    expect((await query('{ user(id: "1") { email } }', { viewer: 'ann' })).data).toEqual(ann.data)
    expect(runs['User.email']).toBe(1)
    expect((await query('{ user(id: "1") { email } }', { viewer: 'bob' })).data).toEqual({
      user: { email: 'ann@example.com (seen by bob)' },
    })
    expect(runs['User.email']).toBe(2)
    const anonymous = await query('{ user(id: "1") { email } }')
    expect(anonymous.cacheControl).toBe('no-store')
    await query('{ user(id: "1") { email } }')
    expect(runs['User.email']).toBe(4)
  })

  it('applies a type policy to every field returning the type (Droid: 45 s, PRIVATE)', async () => {
    const { runs, ran } = runCounter()
    const { query } = serve(codeFirstSchema(ran), { policies })
    const ann = await query('{ droid(id: "2") { model } }', { viewer: 'ann' })
    expect(ann.cacheControl).toBe('private, max-age=45')
    await query('{ droid(id: "2") { model } }', { viewer: 'ann' })
    expect(runs['Query.droid']).toBe(1)
    expect((await query('{ droid(id: "2") { model } }', { viewer: 'bob' })).data).toEqual({
      droid: { model: 'R2 for bob' },
    })
    expect(runs['Query.droid']).toBe(2)
  })

  it("evicts a mutation policy's tags once the mutation succeeds", async () => {
    const { runs, ran } = runCounter()
    const { query } = serve(codeFirstSchema(ran), { policies })
    await query('{ posts { id } }')
    await query('{ posts { id } }')
    expect(runs['Query.posts']).toBe(1)
    const mutation = await query('mutation { reindex }')
    expect(mutation.cacheControl).toBe('no-store')
    await query('{ posts { id } }')
    expect(runs['Query.posts']).toBe(2)
  })

  it('evicts what a mutation returns, as with directives: a renamed user is read fresh', async () => {
    const { runs, ran } = runCounter()
    const { query } = serve(codeFirstSchema(ran), { policies })
    await query('{ user(id: "2") { name } }')
    await query('mutation { renameUser(id: "2", name: "Robert") { id } }')
    expect((await query('{ user(id: "2") { name } }')).data).toEqual({ user: { name: 'Robert' } })
    expect(runs['Query.user']).toBe(2)
  })

  it('works without yoga: loadCacheDirectives({ policies }).transformer and a request state per execution', async () => {
    const { runs, ran } = runCounter()
    const cache = createCache()
    try {
      const schema = loadCacheDirectives({ policies, cache }).transformer(codeFirstSchema(ran))
      const run = () =>
        execute({
          schema,
          document: parse('{ user(id: "1") { name } }'),
          contextValue: { ...createLoadCacheContext(cache), viewerId: null },
        })
      expect(await run()).toEqual({ data: { user: { name: 'Ann' } } })
      await run()
      expect(runs['Query.user']).toBe(1)
    } finally {
      await cache.close()
    }
  })
})

describe('policies fail at startup when they do not fit the schema', () => {
  const build = (extra: LoadCachePolicies) => () =>
    loadCacheDirectives({ policies: extra }).transformer(codeFirstSchema(() => {}))

  it('names every coordinate and type the schema does not have', () => {
    expect(build({ 'Query.usr': { ttl: 5 }, Droyd: { ttl: 5 }, 'Nope.x': { ttl: 5 } })).toThrow(
      LoadCacheSchemaError,
    )
    expect(build({ 'Query.usr': { ttl: 5 }, Droyd: { ttl: 5 } })).toThrow(
      '[loadcache] policies name what the schema does not have: "Query.usr", "Droyd"; name fields as "Type.field" and types (object, interface, union) by name',
    )
  })

  it.each<[string, LoadCachePolicies, string]>([
    [
      'a misspelled key',
      { 'Query.user': { maxAge: 60 } as never },
      'policy for Query.user: unknown key "maxAge"; expected ttl, scope, tags, invalidates',
    ],
    [
      'invalidates on a type',
      { Droid: { invalidates: { tags: ['x'] } } },
      'policy for Droid: unknown key "invalidates"',
    ],
    [
      'invalidates on a query field',
      { 'Query.posts': { invalidates: { tags: ['x'] } } },
      'policy for Query.posts: invalidates: only Mutation fields can invalidate',
    ],
    [
      'a cached mutation',
      { 'Mutation.reindex': { ttl: 5 } },
      'policy for Mutation.reindex: Mutation fields are never cached',
    ],
    [
      'a zero ttl',
      { 'Query.user': { ttl: 0 } },
      'policy for Query.user: ttl must be a positive integer (seconds), got 0',
    ],
    [
      'an unknown scope',
      { 'Query.user': { ttl: 5, scope: 'SECRET' as never } },
      'policy for Query.user: scope must be PUBLIC or PRIVATE',
    ],
    [
      'an interface field',
      { 'Node.id': { ttl: 5 } },
      "policy for Node.id: Node is an interface; give the type a policy ('Node': { … }) or each object type's field one",
    ],
    [
      'a tag template naming no argument',
      { 'Query.posts': { ttl: 5, tags: ['posts:{args.author}'] } },
      'policy for Query.posts',
    ],
    [
      'PUBLIC on a PRIVATE type',
      { 'Query.droid': { ttl: 5, scope: 'PUBLIC' } },
      'policy for Query.droid: scope PUBLIC on a field whose type Droid is PRIVATE',
    ],
  ])('refuses %s', (_what, extra, message) => {
    expect(build({ Droid: { ttl: 45, scope: 'PRIVATE' }, ...extra })).toThrow(message)
  })

  it('combines with directives, and refuses a field hinted by both, naming it', () => {
    const { typeDefs, transformer } = loadCacheDirectives({
      policies: { 'Query.b': { ttl: 10 }, 'Query.a': { ttl: 5 } },
    })
    const schema = makeExecutableSchema({
      typeDefs: [typeDefs, 'type Query { a: Int @cached(ttl: 60) b: Int }'],
    })
    expect(() => transformer(schema)).toThrow(
      '[loadcache] Query.a has a cache hint from two sources (@cached on Query.a and policy for Query.a); keep one',
    )
    const fine = makeExecutableSchema({
      typeDefs: [typeDefs, 'type Query { a: Int @cached(ttl: 60) b: Int }'],
    })
    expect(() =>
      loadCacheDirectives({ policies: { 'Query.b': { ttl: 10 } } }).transformer(fine),
    ).not.toThrow()
  })

  it('refuses @invalidates and an invalidates policy on one mutation', () => {
    const schema = makeExecutableSchema({
      typeDefs: [
        loadCacheDirectiveTypeDefs(),
        'type Query { a: Int } type Mutation { m: Int @invalidates(tags: ["a"]) }',
      ],
    })
    expect(() =>
      loadCacheDirectives({ policies: { 'Mutation.m': { invalidates: { tags: ['b'] } } } }).transformer(
        schema,
      ),
    ).toThrow(
      'Mutation.m has invalidations from two sources (@invalidates on Mutation.m and policy for Mutation.m: invalidates); keep one',
    )
  })

  it('refuses useLoadCache({ policies }) with directives: false: nothing would apply them', async () => {
    const cache = createCache()
    try {
      expect(() => useLoadCache({ cache, policies, directives: false })).toThrow(
        'option "policies" must be left out when directives is false',
      )
    } finally {
      await cache.close()
    }
  })
})
