/**
 * Conformance with @envelop/response-cache (and @graphql-yoga/plugin-response-cache, which wraps it): the IDs
 * are those of /work/notes/peer-rules.md §2–3 (sources: graphql-hive/graphql-yoga
 * `packages/envelop/plugins/response-cache/src/plugin.ts`, its `test/response-cache.spec.ts`, the README and
 * the yoga docs). envelop caches whole responses and invalidates them by the `Type:id` entities they contain;
 * loadcache caches fields and tags each entry with the entities in it, so the same questions apply: what does a
 * mutation evict, what is never cached, what does a creation reach. Where loadcache deliberately differs, the
 * test asserts loadcache's behaviour and says why.
 *
 * Every test counts resolver runs (`runs['Type.field']`) to prove hits and misses. The suite runs memory-only
 * and on Redis (one instance; L1 + L2).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { LoadCache } from '../../src/index.js'
import { uniqueNamespace } from '../helpers/cache.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { conformanceFixture, type ViewerContext } from './harness.js'

const typeDefs = /* GraphQL */ `
  interface Node {
    id: ID!
  }
  type Query {
    user(id: ID!): User @cached(ttl: 60)
    users: [User!]! @cached(ttl: 60)
    post(id: ID!): Post @cached(ttl: 60)
    posts(authorId: ID, first: Int): [Post!]! @cached(ttl: 30)
    postsConnection(first: Int): PostConnection @cached(ttl: 30)
    authorProfile(id: ID!): AuthorProfile @cached(ttl: 60)
    postBySlug(slug: String!): Post @cached(ttl: 60)
    search(term: String!): [SearchResult!]! @cached(ttl: 30)
    node(id: ID!): Node @cached(ttl: 30)
    nodes(ids: [ID!]!): [Node]! @cached(ttl: 30)
    digest: Digest @cached(ttl: 60)
    me: User @cached(ttl: 30, scope: PRIVATE)
    myDrafts: [Draft!]!
    settings: Settings @cached(ttl: 60)
    taggedSettings: Settings @cached(ttl: 60, tags: ["settings"])
    gadget(code: ID!): Gadget @cached(ttl: 60)
    stats: Stats
  }
  type User implements Node {
    id: ID!
    name: String!
    posts: [Post!]! @cached(ttl: 60)
  }
  type Post implements Node {
    id: ID!
    title: String!
    slug: String!
    views: Int @cached(ttl: 5)
    summary: String! @cached(ttl: 60)
    author: User! @cached(ttl: 60)
    comments: [Comment!]! @cached(ttl: 60)
    broken: String
  }
  type Comment implements Node {
    id: ID!
    text: String!
    post: Post! @cached(ttl: 60)
  }
  union SearchResult = User | Post
  type PostConnection {
    edges: [PostEdge!]!
  }
  type PostEdge {
    cursor: String!
    node: Post!
  }
  "A user with their posts, loaded in one go (the resolver embeds the list: a JOIN)."
  type AuthorProfile {
    id: ID!
    name: String!
    recentPosts: [Post!]!
  }
  type CreatePostPayload {
    post: Post!
  }
  type Digest {
    headline: String!
    top: [Post!]!
  }
  type Draft @cached(ttl: 30, scope: PRIVATE) {
    id: ID!
    text: String!
  }
  type PublishResult {
    id: ID!
    draft: Draft
    post: Post
  }
  type Settings {
    theme: String!
  }
  type Gadget {
    code: ID!
    name: String!
  }
  type Stats {
    posts: Int!
  }
  type Mutation {
    renamePost(id: ID!, title: String!): Post
    renameUser(id: ID!, name: String!): User
    createPost(id: ID, authorId: ID!, title: String!): Post!
    createPostWithPayload(id: ID, authorId: ID!, title: String!): CreatePostPayload!
    importPost(id: ID!, authorId: ID!, title: String!): Post! @invalidates(types: [])
    reindex: Boolean @invalidates(types: ["Post"])
    deletePost(id: ID!): Post
    purgePost(id: ID!): Boolean @invalidates(tags: ["Post:{args.id}"], types: ["Post"])
    editComment(id: ID!, text: String!): Comment @invalidates(types: [])
    addComment(postId: ID!, text: String!): Comment!
    touch(id: ID!): Node
    moderate(id: ID!): SearchResult
    publishDraft(id: ID!): PublishResult!
    updateSettings(theme: String!): Settings
    updateTaggedSettings(theme: String!): Settings @invalidates(tags: ["settings"])
    renameGadget(code: ID!, name: String!): Gadget
    failingRename(id: ID!): Post
  }
`

interface UserRow {
  id: string
  name: string
}
interface PostRow {
  id: string
  title: string
  slug: string
  authorId: string
  views: number
  summary: string | null
  commentIds: string[]
}
interface CommentRow {
  id: string
  text: string
  postId: string
}

function blogFixture(cacheOptions: Parameters<typeof conformanceFixture>[0]['cacheOptions']) {
  const users = new Map<string, UserRow>(
    [
      { id: 'u1', name: 'Ann' },
      { id: 'u2', name: 'Bob' },
      { id: 'u9', name: 'Newbie' },
    ].map((user) => [user.id, user]),
  )
  const posts = new Map<string, PostRow>(
    [
      { id: 'p1', title: 'Hello', authorId: 'u1', summary: 'About hello', commentIds: ['c1', 'c2'] },
      { id: 'p2', title: 'World', authorId: 'u2', summary: 'About world', commentIds: ['c3'] },
      // Its summary is null although Post.summary is String!: GraphQL raises on it.
      { id: 'p3', title: 'Third', authorId: 'u1', summary: null, commentIds: [] },
    ].map((post) => [post.id, { ...post, slug: slugOf(post.title), views: 10 }]),
  )
  const comments = new Map<string, CommentRow>(
    [
      { id: 'c1', text: 'Nice', postId: 'p1' },
      { id: 'c2', text: 'Meh', postId: 'p1' },
      { id: 'c3', text: 'Wow', postId: 'p2' },
    ].map((comment) => [comment.id, comment]),
  )
  const drafts = new Map([['d1', { id: 'd1', text: 'draft of p1', owner: 'alice', postId: 'p1' }]])
  let settings = { theme: 'light' }
  let taggedSettings = { theme: 'light' }
  const gadgets = new Map([['g-1', { code: 'g-1', name: 'Widget' }]])
  let created = 100
  // Resolvers return copies: a cached value is a snapshot, so only an eviction can show a change.
  const user = (id: string) => {
    const row = users.get(id)
    return row ? { ...row } : null
  }
  const post = (id: string) => {
    const row = posts.get(id)
    return row ? { ...row, commentIds: [...row.commentIds] } : null
  }
  const comment = (id: string) => {
    const row = comments.get(id)
    return row ? { ...row } : null
  }
  const node = (id: string) => user(id) ?? post(id) ?? comment(id)
  // In-flight control: a lookup of a held id waits (after reading its row) until released.
  const holds = new Map<string, { started: () => void; release: Promise<void> }>()
  const hold = (id: string) => {
    let started!: () => void
    let release!: () => void
    const startedPromise = new Promise<void>((resolve) => {
      started = resolve
    })
    holds.set(id, { started, release: new Promise<void>((resolve) => (release = resolve)) })
    return { started: startedPromise, release }
  }
  const search = (term: string) => [
    ...[...users.keys()].filter((id) => users.get(id)!.name.includes(term)).map((id) => user(id)!),
    ...[...posts.keys()].filter((id) => posts.get(id)!.title.includes(term)).map((id) => post(id)!),
  ]
  const newPost = (args: { id?: string; authorId: string; title: string }) => {
    const row: PostRow = {
      id: args.id ?? `p${++created}`,
      title: args.title,
      slug: slugOf(args.title),
      authorId: args.authorId,
      views: 0,
      summary: `About ${args.title}`,
      commentIds: [],
    }
    posts.set(row.id, row)
    return post(row.id)!
  }

  const fixture = conformanceFixture({
    typeDefs,
    cacheOptions,
    debug: true,
    // envelop's idFields (E-ENT-4): Gadget is identified by its code.
    directives: { identity: { Gadget: (value) => value.code as string } },
    resolvers: {
      Query: {
        user: (_: unknown, args: { id: string }) => user(args.id),
        users: () => [...users.keys()].map((id) => user(id)),
        post: async (_: unknown, args: { id: string }) => {
          if (args.id === 'boom') throw new Error('post lookup failed')
          const value = post(args.id)
          const held = holds.get(args.id)
          if (held) {
            holds.delete(args.id)
            held.started()
            await held.release
          }
          return value
        },
        posts: (_: unknown, args: { authorId?: string; first?: number }) => {
          const matching = [...posts.values()].filter(
            (row) => !args.authorId || row.authorId === args.authorId,
          )
          return matching.slice(0, args.first ?? matching.length).map((row) => post(row.id))
        },
        postsConnection: (_: unknown, args: { first?: number }) => ({
          edges: [...posts.keys()]
            .slice(0, args.first ?? posts.size)
            .map((id) => ({ cursor: id, node: post(id) })),
        }),
        authorProfile: (_: unknown, args: { id: string }) => {
          const row = users.get(args.id)
          if (!row) return null
          const recentPosts = [...posts.values()].filter((candidate) => candidate.authorId === row.id)
          return {
            id: row.id,
            name: row.name,
            recentPosts: recentPosts.map((candidate) => post(candidate.id)),
          }
        },
        postBySlug: (_: unknown, args: { slug: string }) => {
          const row = [...posts.values()].find((candidate) => candidate.slug === args.slug)
          return row ? post(row.id) : null
        },
        search: (_: unknown, args: { term: string }) => search(args.term),
        node: (_: unknown, args: { id: string }) => node(args.id),
        nodes: (_: unknown, args: { ids: string[] }) => args.ids.map(node),
        // A value nested three levels deep: Digest → Post → Comment (the comments embedded in each post).
        digest: () => ({
          headline: 'Top posts',
          top: ['p1', 'p2'].map((id) => ({ ...post(id)!, comments: posts.get(id)!.commentIds.map(comment) })),
        }),
        me: (_: unknown, __: unknown, context: ViewerContext) =>
          context.viewerId ? { id: `viewer-${context.viewerId}`, name: `Viewer ${context.viewerId}` } : null,
        myDrafts: (_: unknown, __: unknown, context: ViewerContext) =>
          [...drafts.values()]
            .filter((draft) => draft.owner === context.viewerId)
            .map((draft) => ({ id: draft.id, text: draft.text })),
        settings: () => ({ ...settings }),
        taggedSettings: () => ({ ...taggedSettings }),
        gadget: (_: unknown, args: { code: string }) => {
          const row = gadgets.get(args.code)
          return row ? { ...row } : null
        },
        stats: () => ({ posts: posts.size }),
      },
      User: {
        __isTypeOf: (value: Record<string, unknown>) => 'name' in value,
        posts: (parent: UserRow) =>
          [...posts.values()].filter((row) => row.authorId === parent.id).map((row) => post(row.id)),
      },
      Post: {
        __isTypeOf: (value: Record<string, unknown>) => 'title' in value,
        views: (parent: PostRow) => parent.views,
        summary: (parent: PostRow) => parent.summary,
        author: (parent: PostRow) => user(parent.authorId),
        comments: (parent: PostRow) => posts.get(parent.id)?.commentIds.map(comment) ?? [],
        broken: () => {
          throw new Error('broken field')
        },
      },
      Comment: {
        post: (parent: CommentRow) => post(parent.postId),
      },
      // Runtime types without __typename: Node through __resolveType, SearchResult through the isTypeOf of
      // User and Post.
      Node: {
        __resolveType: (value: Record<string, unknown>) =>
          'title' in value ? 'Post' : 'text' in value ? 'Comment' : 'User',
      },
      Mutation: {
        renamePost: (_: unknown, args: { id: string; title: string }) => {
          const row = posts.get(args.id)
          if (!row) return null
          row.title = args.title
          row.slug = slugOf(args.title)
          return post(args.id)
        },
        renameUser: (_: unknown, args: { id: string; name: string }) => {
          const row = users.get(args.id)
          if (!row) return null
          row.name = args.name
          return user(args.id)
        },
        createPost: (_: unknown, args: { id?: string; authorId: string; title: string }) => newPost(args),
        createPostWithPayload: (_: unknown, args: { id?: string; authorId: string; title: string }) => ({
          post: newPost(args),
        }),
        importPost: (_: unknown, args: { id: string; authorId: string; title: string }) => newPost(args),
        reindex: () => true,
        deletePost: (_: unknown, args: { id: string }) => {
          const value = post(args.id)
          posts.delete(args.id)
          return value
        },
        purgePost: (_: unknown, args: { id: string }) => posts.delete(args.id),
        editComment: (_: unknown, args: { id: string; text: string }) => {
          const row = comments.get(args.id)
          if (!row) return null
          row.text = args.text
          return comment(args.id)
        },
        addComment: (_: unknown, args: { postId: string; text: string }) => {
          const row = { id: `c${++created}`, text: args.text, postId: args.postId }
          comments.set(row.id, row)
          posts.get(args.postId)!.commentIds.push(row.id)
          return comment(row.id)
        },
        touch: (_: unknown, args: { id: string }) => node(args.id),
        moderate: (_: unknown, args: { id: string }) => user(args.id) ?? post(args.id),
        publishDraft: (_: unknown, args: { id: string }) => {
          const draft = drafts.get(args.id)!
          return {
            id: `publish-${draft.id}`,
            draft: { id: draft.id, text: draft.text },
            post: post(draft.postId),
          }
        },
        updateSettings: (_: unknown, args: { theme: string }) => {
          settings = { theme: args.theme }
          return { ...settings }
        },
        updateTaggedSettings: (_: unknown, args: { theme: string }) => {
          taggedSettings = { theme: args.theme }
          return { ...taggedSettings }
        },
        renameGadget: (_: unknown, args: { code: string; name: string }) => {
          const row = gadgets.get(args.code)!
          row.name = args.name
          return { ...row }
        },
        failingRename: () => {
          throw new Error('rename refused')
        },
      },
    },
  })
  return { ...fixture, hold }
}

function slugOf(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-')
}

let server: RedisServer | undefined
beforeAll(async () => {
  server = await startRedisServer()
})
afterAll(() => server?.dispose())

let current: ReturnType<typeof blogFixture> | undefined
afterEach(async () => {
  await current?.close()
  current = undefined
})

describe.each(['memory', 'redis'] as const)('%s', (mode) => {
  async function setup() {
    current = blogFixture(
      mode === 'redis'
        ? { namespace: uniqueNamespace(), redis: server!.client(), redisTimeoutMs: 2000 }
        : { namespace: uniqueNamespace() },
    )
    const instance = current.server()
    expect(await instance.cache.ready()).toBe(true)
    return { runs: current.runs, hold: current.hold, ...instance }
  }

  describe('mutations (E-MUT)', () => {
    it('E-MUT-1 / E-MUT-4: a mutation is never cached nor answered from the cache, and is no-store', async () => {
      // envelop caches an identical mutation when invalidateViaMutation is false (E-MUT-4); loadcache never does.
      const { query, runs } = await setup()
      const source = 'mutation { renamePost(id: "p1", title: "Same") { id title } }'
      const first = await query(source)
      const second = await query(source)
      expect(first.data).toEqual({ renamePost: { id: 'p1', title: 'Same' } })
      expect(second.data).toEqual(first.data)
      expect(first.cacheControl).toBe('no-store')
      expect(second.cacheControl).toBe('no-store')
      expect(runs['Mutation.renamePost']).toBe(2)
    })

    it('E-MUT-1: a mutation evicts the Type:id in its result; its own response and the next read show the new state', async () => {
      const { query, runs } = await setup()
      const read = '{ user(id: "u1") { name posts { title } } post(id: "p1") { title slug } }'
      await query(read)
      await query(read)
      expect(runs['Query.post']).toBe(1)
      expect(runs['User.posts']).toBe(1)
      // The mutation's own selection resolves cached fields afresh (User.posts holds the old title of p1).
      const mutation = await query(
        'mutation { renamePost(id: "p1", title: "Hello again") { title author { posts { title } } } }',
      )
      expect(mutation.data).toEqual({
        renamePost: {
          title: 'Hello again',
          author: { posts: [{ title: 'Hello again' }, { title: 'Third' }] },
        },
      })
      const after = await query(read)
      expect(after.data).toEqual({
        user: { name: 'Ann', posts: [{ title: 'Hello again' }, { title: 'Third' }] },
        post: { title: 'Hello again', slug: 'hello-again' },
      })
      expect(runs['Query.post']).toBe(2)
      // User.posts of u1 held Post:p1: evicted too.
      expect(runs['User.posts']).toBe(3)
    })

    it('E-ENT-1: a mutation evicts the entities its child resolvers produced, at any depth, without their id selected', async () => {
      const { query, runs } = await setup()
      const read = '{ post(id: "p2") { title } user(id: "u2") { name } }'
      await query(read)
      // Selecting only the new comment's id: Post:p2 and User:u2 are not produced, so not evicted.
      await query('mutation { addComment(postId: "p2", text: "first") { id } }')
      await query(read)
      expect(runs['Query.post']).toBe(1)
      expect(runs['Query.user']).toBe(1)
      // Selecting the comment's post and its author: Comment.post and Post.author produce Post:p2 and User:u2
      // (no id nor __typename selected): both are evicted when the mutation completes.
      const mutation = await query(
        'mutation { addComment(postId: "p2", text: "second") { post { title author { name } } } }',
      )
      expect(mutation.data).toEqual({ addComment: { post: { title: 'World', author: { name: 'Bob' } } } })
      expect(mutation.extensions?.loadcache).toMatchObject({
        evictedTags: expect.arrayContaining(['Post:p2', 'User:u2']),
      })
      await query(read)
      expect(runs['Query.post']).toBe(2)
      expect(runs['Query.user']).toBe(2)
    })

    it('E-ENT-1: an entity nested deep in a cached value (Digest → Post → Comment) is evicted by the mutation returning it', async () => {
      // editComment has @invalidates(types: []): only Comment:<id> is evicted, so this is the entity tag at work.
      const { query, runs } = await setup()
      const read = '{ digest { top { title comments { text } } } }'
      const before = await query(read)
      expect(before.data).toEqual({
        digest: {
          top: [
            { title: 'Hello', comments: [{ text: 'Nice' }, { text: 'Meh' }] },
            { title: 'World', comments: [{ text: 'Wow' }] },
          ],
        },
      })
      await query(read)
      expect(runs['Query.digest']).toBe(1)
      expect(runs['Post.comments']).toBe(2)
      await query('mutation { editComment(id: "c2", text: "Better") { text } }')
      const after = await query(read)
      expect(after.data).toEqual({
        digest: {
          top: [
            { title: 'Hello', comments: [{ text: 'Nice' }, { text: 'Better' }] },
            { title: 'World', comments: [{ text: 'Wow' }] },
          ],
        },
      })
      expect(runs['Query.digest']).toBe(2)
      // Only the comment list of p1 held c2: p2's stays cached.
      expect(runs['Post.comments']).toBe(3)
    })

    it('E-ENT-1 (interface): entries of node(id) / nodes(ids), typed by __resolveType, are evicted by Type:id', async () => {
      const { query, runs } = await setup()
      const read = '{ node(id: "p1") { id ... on Post { title } } nodes(ids: ["u2", "p1", "c1"]) { id } }'
      await query(read)
      await query(read)
      expect(runs['Query.node']).toBe(1)
      expect(runs['Query.nodes']).toBe(1)
      await query('mutation { renamePost(id: "p1", title: "Renamed") { id } }')
      const after = await query(read)
      expect(after.data).toEqual({
        node: { id: 'p1', title: 'Renamed' },
        nodes: [{ id: 'u2' }, { id: 'p1' }, { id: 'c1' }],
      })
      expect(runs['Query.node']).toBe(2)
      expect(runs['Query.nodes']).toBe(2)
      // An entity of another runtime type in the list: Comment:c1 is tagged too.
      await query('mutation { editComment(id: "c1", text: "Edited") { id } }')
      await query(read)
      expect(runs['Query.nodes']).toBe(3)
      expect(runs['Query.node']).toBe(2)
    })

    it('E-ENT-1 (union): entries of search, typed by isTypeOf, are evicted by the Type:id of any member', async () => {
      const { query, runs } = await setup()
      const read = '{ search(term: "o") { ... on User { name } ... on Post { title } } }'
      const before = await query(read)
      expect(before.data).toEqual({ search: [{ name: 'Bob' }, { title: 'Hello' }, { title: 'World' }] })
      await query(read)
      expect(runs['Query.search']).toBe(1)
      await query('mutation { renameUser(id: "u2", name: "Bobby") { id } }')
      expect((await query(read)).data).toEqual({
        search: [{ name: 'Bobby' }, { title: 'Hello' }, { title: 'World' }],
      })
      expect(runs['Query.search']).toBe(2)
    })

    it('E-MUT-1: a mutation returning an interface (__resolveType) or a union (isTypeOf) evicts its runtime Type:id', async () => {
      const { query, runs } = await setup()
      await query('{ post(id: "p2") { title } user(id: "u1") { name } }')
      const touched = await query('mutation { touch(id: "p2") { id } }')
      expect(touched.extensions?.loadcache).toMatchObject({
        evictedTags: expect.arrayContaining(['Post:p2']),
      })
      const moderated = await query('mutation { moderate(id: "u1") { ... on Post { title } } }')
      // Nothing of the user is selected (the fragment does not match): still evicted by its runtime type.
      expect(moderated.data).toEqual({ moderate: {} })
      expect(moderated.extensions?.loadcache).toMatchObject({
        evictedTags: expect.arrayContaining(['User:u1']),
      })
      await query('{ post(id: "p2") { title } user(id: "u1") { name } }')
      expect(runs['Query.post']).toBe(2)
      expect(runs['Query.user']).toBe(2)
    })

    it('E-MUT-2 (differs, envelop #1979 / yoga #3125): a created entity shows in every cached list of its type on the next read', async () => {
      // envelop evicts only responses that contained the new entity, so lists never show a creation until
      // their TTL. loadcache lists carry their item type's tag, which a mutation returning that type evicts.
      const { query, runs } = await setup()
      const read = `{
        all: posts { id }
        byAnn: posts(authorId: "u1") { id }
        first: posts(first: 1) { id }
        user(id: "u1") { posts { id } }
        search(term: "Fresh") { ... on Post { id } }
        postsConnection { edges { node { id } } }
        users { id }
      }`
      await query(read)
      await query(read)
      expect(runs['Query.posts']).toBe(3)
      expect(runs['User.posts']).toBe(1)
      expect(runs['Query.search']).toBe(1)
      const created = await query(
        'mutation { createPost(id: "p7", authorId: "u1", title: "Fresh") { id title } }',
      )
      expect(created.data).toEqual({ createPost: { id: 'p7', title: 'Fresh' } })
      const after = await query(read)
      expect(after.data).toEqual({
        all: [{ id: 'p1' }, { id: 'p2' }, { id: 'p3' }, { id: 'p7' }],
        byAnn: [{ id: 'p1' }, { id: 'p3' }, { id: 'p7' }],
        first: [{ id: 'p1' }],
        user: { posts: [{ id: 'p1' }, { id: 'p3' }, { id: 'p7' }] },
        search: [{ id: 'p7' }],
        postsConnection: {
          edges: [
            { node: { id: 'p1' } },
            { node: { id: 'p2' } },
            { node: { id: 'p3' } },
            { node: { id: 'p7' } },
          ],
        },
        users: [{ id: 'u1' }, { id: 'u2' }, { id: 'u9' }],
      })
      expect(runs['Query.posts']).toBe(6)
      expect(runs['User.posts']).toBe(2)
      expect(runs['Query.search']).toBe(2)
      // Through id-less wrappers (a Relay connection and its edges) too.
      expect(runs['Query.postsConnection']).toBe(2)
      // Lists of other types are untouched: users holds no Post.
      expect(runs['Query.users']).toBe(1)
    })

    it('E-MUT-2 (differs): a creation returned inside an id-less payload (Relay style) shows in the cached lists of its type', async () => {
      // The created Post is what the mutation returns, wrapped in a payload without identity (the read side,
      // listTypeTags, already looks through such wrappers). Evicting the payload's own type tag reaches no list.
      const { query, runs } = await setup()
      const read = '{ posts(authorId: "u9") { id } user(id: "u9") { posts { id } } }'
      expect((await query(read)).data).toEqual({ posts: [], user: { posts: [] } })
      await query(
        'mutation { createPostWithPayload(id: "p8", authorId: "u9", title: "Wrapped") { post { id } } }',
      )
      const after = await query(read)
      expect(after.data).toEqual({ posts: [{ id: 'p8' }], user: { posts: [{ id: 'p8' }] } })
      expect(runs['Query.posts']).toBe(2)
    })

    it('E-MUT-2 (differs): a list embedded in a cached entity value (a resolver that joins) shows a created entity', async () => {
      // authorProfile returns the profile with its posts embedded; AuthorProfile.recentPosts is a plain property.
      // The cached authorProfile entry holds that list of Post, so a created Post must reach it like any list.
      const { query, runs } = await setup()
      const read = '{ authorProfile(id: "u9") { name recentPosts { id } } }'
      expect((await query(read)).data).toEqual({ authorProfile: { name: 'Newbie', recentPosts: [] } })
      await query('mutation { createPost(id: "p9", authorId: "u9", title: "Joined") { id } }')
      const after = await query(read)
      expect(after.data).toEqual({ authorProfile: { name: 'Newbie', recentPosts: [{ id: 'p9' }] } })
      expect(runs['Query.authorProfile']).toBe(2)
    })

    it('E-ENT-3: cached empty lists and null lookups (by id, by another argument, aliased, interface) are reached by a creation', async () => {
      // envelop tags null/empty fields with their type (#1953) but misses aliased ones; loadcache tags by field.
      const { query, runs } = await setup()
      const read = `{
        posts(authorId: "u9") { id }
        user(id: "u9") { posts { title } }
        post(id: "p50") { title }
        aliased: post(id: "p51") { title }
        postBySlug(slug: "brand-new") { id }
        search(term: "Brand") { ... on Post { id } }
        node(id: "p50") { id }
      }`
      const before = await query(read)
      expect(before.data).toEqual({
        posts: [],
        user: { posts: [] },
        post: null,
        aliased: null,
        postBySlug: null,
        search: [],
        node: null,
      })
      await query(read)
      expect(runs['Query.post']).toBe(2)
      expect(runs['Query.posts']).toBe(1)
      await query('mutation { createPost(id: "p50", authorId: "u9", title: "Brand new") { id } }')
      await query('mutation { createPost(id: "p51", authorId: "u2", title: "Another") { id } }')
      const after = await query(read)
      expect(after.data).toEqual({
        posts: [{ id: 'p50' }],
        user: { posts: [{ title: 'Brand new' }] },
        post: { title: 'Brand new' },
        aliased: { title: 'Another' },
        postBySlug: { id: 'p50' },
        search: [{ id: 'p50' }],
        node: { id: 'p50' },
      })
      expect(runs['Query.post']).toBe(4)
      expect(runs['Query.posts']).toBe(2)
      expect(runs['Query.postBySlug']).toBe(2)
      expect(runs['Query.node']).toBe(2)
    })

    it('E-MUT-2 (differs): @invalidates(types: []) narrows the type eviction to none; the returned entity is still evicted', async () => {
      const { query, runs } = await setup()
      const read = '{ posts { id } post(id: "p60") { title } }'
      await query(read)
      const imported = await query(
        'mutation { importPost(id: "p60", authorId: "u1", title: "Imported") { id } }',
      )
      expect(imported.extensions?.loadcache).toMatchObject({ evictedTags: ['Post:p60'] })
      const after = await query(read)
      // The list is served from its entry (it does not show p60 until its TTL or a type eviction) …
      expect(after.data?.posts).toEqual([{ id: 'p1' }, { id: 'p2' }, { id: 'p3' }])
      expect(runs['Query.posts']).toBe(1)
      // … while the lookup of p60 (tagged Post:p60) shows it.
      expect(after.data?.post).toEqual({ title: 'Imported' })
      expect(runs['Query.post']).toBe(2)
    })

    it('E-MUT-2 (differs): @invalidates(types: ["Post"]) evicts every list of Post from a mutation that returns no Post', async () => {
      const { query, runs } = await setup()
      await query('{ posts { id } post(id: "p1") { title } }')
      const reindexed = await query('mutation { reindex }')
      expect(reindexed.extensions?.loadcache).toMatchObject({ evictedTags: ['Post'] })
      await query('{ posts { id } post(id: "p1") { title } }')
      expect(runs['Query.posts']).toBe(2)
      // A lookup that found its post is tagged Post:p1, not Post: it stays.
      expect(runs['Query.post']).toBe(1)
    })

    it('E-MUT-1: a delete returning the deleted entity evicts it and every list of its type', async () => {
      const { query, runs } = await setup()
      const read = '{ posts { id } post(id: "p2") { title } }'
      await query(read)
      await query('mutation { deletePost(id: "p2") { id } }')
      expect((await query(read)).data).toEqual({ posts: [{ id: 'p1' }, { id: 'p3' }], post: null })
      expect(runs['Query.posts']).toBe(2)
      expect(runs['Query.post']).toBe(2)
    })

    it('E-MUT-1 (differs): a delete returning no entity evicts what @invalidates declares', async () => {
      // envelop invalidates the whole type of a null mutation result. loadcache evicts by what the mutation
      // produced; a mutation that returns nothing of the entity declares what it changed.
      const { query, runs } = await setup()
      const read = '{ posts { id } post(id: "p2") { title } post1: post(id: "p1") { title } }'
      await query(read)
      const purged = await query('mutation { purgePost(id: "p2") }')
      expect(purged.data).toEqual({ purgePost: true })
      expect((await query(read)).data).toEqual({
        posts: [{ id: 'p1' }, { id: 'p3' }],
        post: null,
        post1: { title: 'Hello' },
      })
      expect(runs['Query.posts']).toBe(2)
      // p2's lookup reran, p1's did not.
      expect(runs['Query.post']).toBe(3)
    })

    it('E-MUT-3: a mutation whose selection raises still evicts (partial data); a mutation that throws evicts nothing', async () => {
      const { query, runs } = await setup()
      await query('{ post(id: "p1") { title } posts { id } }')
      const partial = await query('mutation { renamePost(id: "p1", title: "Partly") { title broken } }')
      expect(partial.data).toEqual({ renamePost: { title: 'Partly', broken: null } })
      expect(partial.errors?.[0]?.message).toBe('broken field')
      expect(partial.cacheControl).toBe('no-store')
      expect((await query('{ post(id: "p1") { title } }')).data).toEqual({ post: { title: 'Partly' } })
      expect(runs['Query.post']).toBe(2)
      const failed = await query('mutation { failingRename(id: "p1") { id } }')
      expect(failed.errors?.[0]?.message).toBe('rename refused')
      expect(failed.extensions?.loadcache).toMatchObject({ evictedTags: [] })
      await query('{ post(id: "p1") { title } posts { id } }')
      expect(runs['Query.post']).toBe(2)
      expect(runs['Query.posts']).toBe(2)
    })

    it('E-MUT-5 (differs): a PRIVATE entity in an anonymous mutation result does not stop the walk: everything is evicted', async () => {
      // envelop stops collecting entities once it meets a PRIVATE one without a session (L453–463).
      const { query, runs } = await setup()
      const drafts = await query('{ myDrafts { id text } }', { viewer: 'alice' })
      expect(drafts.data).toEqual({ myDrafts: [{ id: 'd1', text: 'draft of p1' }] })
      expect(drafts.cacheControl).toBe('private, max-age=30')
      await query('{ myDrafts { id text } }', { viewer: 'alice' })
      await query('{ post(id: "p1") { title } }')
      expect(runs['Query.myDrafts']).toBe(1)
      const published = await query('mutation { publishDraft(id: "d1") { draft { id } post { id } } }')
      expect(published.extensions?.loadcache).toMatchObject({
        evictedTags: expect.arrayContaining(['Draft:d1', 'Post:p1']),
      })
      await query('{ myDrafts { id text } }', { viewer: 'alice' })
      await query('{ post(id: "p1") { title } }')
      expect(runs['Query.myDrafts']).toBe(2)
      expect(runs['Query.post']).toBe(2)
    })

    it('E-ENT-4: a custom identity (envelop idFields) names the entity: Gadget by its code', async () => {
      const { query, runs } = await setup()
      await query('{ gadget(code: "g-1") { name } }')
      await query('mutation { renameGadget(code: "g-1", name: "Gizmo") { code } }')
      expect((await query('{ gadget(code: "g-1") { name } }')).data).toEqual({ gadget: { name: 'Gizmo' } })
      expect(runs['Query.gadget']).toBe(2)
    })

    it('E-ENT-2: an object without an id is no entity (as in envelop); a declared tag evicts it', async () => {
      // Settings has no id: nothing identifies the cached value, so returning one from a mutation evicts no
      // entry of it (envelop: not tracked either). The fix, in both: declare it (@cached tags + @invalidates).
      const { query, runs } = await setup()
      await query('{ settings { theme } taggedSettings { theme } }')
      await query('mutation { updateSettings(theme: "dark") { theme } }')
      await query('mutation { updateTaggedSettings(theme: "dark") { theme } }')
      const after = await query('{ settings { theme } taggedSettings { theme } }')
      expect(after.data).toEqual({ settings: { theme: 'light' }, taggedSettings: { theme: 'dark' } })
      expect(runs['Query.settings']).toBe(1)
      expect(runs['Query.taggedSettings']).toBe(2)
    })
  })

  describe('what is cached (E-ERR, E-SCP, E-KEY, E-TTL, E-DOC)', () => {
    it('E-ERR-1: a resolver error is never cached: the resolver runs again, and the response is no-store', async () => {
      const { query, runs } = await setup()
      const failed = await query('{ post(id: "boom") { title } }')
      expect(failed.errors?.[0]?.message).toBe('post lookup failed')
      expect(failed.cacheControl).toBe('no-store')
      await query('{ post(id: "boom") { title } }')
      expect(runs['Query.post']).toBe(2)
    })

    it('E-ERR-1: a cached field whose value makes GraphQL raise (null for String!) is not cached', async () => {
      const { query, runs } = await setup()
      const first = await query('{ post(id: "p3") { title summary } }')
      expect(first.data).toEqual({ post: null })
      expect(first.errors?.[0]?.message).toContain('Cannot return null for non-nullable field Post.summary')
      expect(first.cacheControl).toBe('no-store')
      await query('{ post(id: "p3") { summary } }')
      expect(runs['Post.summary']).toBe(2)
      // (The lookup of p3 above the error is evicted as well: loadcache evicts every entry the operation filled
      // on the error's path, so Query.post is not pinned here.) p1's summary is cached normally.
      await query('{ post(id: "p1") { summary } }')
      await query('{ post(id: "p1") { summary } }')
      expect(runs['Post.summary']).toBe(3)
    })

    it('E-SCP-1: PRIVATE data is not cached without a session, and is cached per session with one', async () => {
      const { query, runs } = await setup()
      const anonymous = await query('{ myDrafts { id } }')
      expect(anonymous.data).toEqual({ myDrafts: [] })
      // Differs from Apollo (private): PRIVATE data without a viewer is no-store.
      expect(anonymous.cacheControl).toBe('no-store')
      await query('{ myDrafts { id } }')
      expect(runs['Query.myDrafts']).toBe(2)
      expect((await query('{ me { name } }', { viewer: 'alice' })).data).toEqual({
        me: { name: 'Viewer alice' },
      })
      expect((await query('{ me { name } }', { viewer: 'bob' })).data).toEqual({ me: { name: 'Viewer bob' } })
      expect((await query('{ me { name } }', { viewer: 'alice' })).data).toEqual({
        me: { name: 'Viewer alice' },
      })
      expect(runs['Query.me']).toBe(2)
    })

    it('E-KEY-2 (differs, envelop #2181): PUBLIC entries are shared by every session instead of one copy per session', async () => {
      const { query, runs } = await setup()
      for (const viewer of ['alice', 'bob', undefined, 'carol']) {
        const result = await query('{ user(id: "u1") { name } }', { viewer })
        expect(result.data).toEqual({ user: { name: 'Ann' } })
        expect(result.cacheControl).toBe('public, max-age=60')
      }
      expect(runs['Query.user']).toBe(1)
    })

    it('E-KEY-1 (differs): entries are keyed by field and arguments, not by document text, operation name or variables', async () => {
      const { query, runs } = await setup()
      await query('{ post(id: "p1") { title } }')
      await query('query   Named { post( id : "p1" ) { slug } }')
      await query('query ByVar($id: ID!) { x: post(id: $id) { title author { name } } }', {
        variables: { id: 'p1' },
      })
      expect(runs['Query.post']).toBe(1)
      // Argument order does not matter either.
      await query('{ posts(authorId: "u1", first: 1) { id } }')
      await query('{ posts(first: 1, authorId: "u1") { id } }')
      expect(runs['Query.posts']).toBe(1)
    })

    it('E-DOC-1/3: the document is not rewritten: results hold exactly the selection, cold and warm', async () => {
      const { query } = await setup()
      const source =
        '{ post(id: "p1") { title author { name } } search(term: "Bob") { ... on User { name } } }'
      const expected = { post: { title: 'Hello', author: { name: 'Ann' } }, search: [{ name: 'Bob' }] }
      expect((await query(source)).data).toEqual(expected)
      expect((await query(source)).data).toEqual(expected)
      const typename = '{ node(id: "c1") { __typename id } }'
      expect((await query(typename)).data).toEqual({ node: { __typename: 'Comment', id: 'c1' } })
      expect((await query(typename)).data).toEqual({ node: { __typename: 'Comment', id: 'c1' } })
    })

    it('E-TTL-2 (differs): nothing is cached without a directive (envelop: everything, for ever)', async () => {
      const { query, runs } = await setup()
      expect((await query('{ stats { posts } }')).cacheControl).toBe('no-store')
      await query('{ stats { posts } }')
      expect(runs['Query.stats']).toBe(2)
    })

    it('E-TTL-3 (differs): an unhinted object next to hinted ones makes the response no-store (Apollo A-FLD-4), the hinted ones stay cached', async () => {
      // envelop ignores unconfigured types (they do not lower the TTL); loadcache follows Apollo: data nobody
      // declared cacheable must not be kept by HTTP caches.
      const { query, runs } = await setup()
      expect((await query('{ post(id: "p1") { title } }')).cacheControl).toBe('public, max-age=60')
      const mixed = await query('{ post(id: "p1") { title } digest { top { id } } }')
      expect(mixed.cacheControl).toBe('no-store')
      expect(runs['Query.post']).toBe(1)
      // The smallest ttl of the fields resolved.
      expect((await query('{ post(id: "p1") { title views } posts { id } }')).cacheControl).toBe(
        'public, max-age=5',
      )
    })

    it('E-TTL-4 (differs): only executed fields count, not every coordinate in the document', async () => {
      // envelop matches Type.field coordinates over the whole document: @skip-ped fields, fields under null
      // parents and fields of other operations of the same document lower its TTL.
      const { query } = await setup()
      expect((await query('{ post(id: "p1") { title views @skip(if: true) } }')).cacheControl).toBe(
        'public, max-age=60',
      )
      expect((await query('{ post(id: "nope") { title views } }')).cacheControl).toBe('public, max-age=60')
      const twoOperations = 'query A { post(id: "p1") { views } } query B { post(id: "p1") { title } }'
      expect((await query(twoOperations, { operationName: 'B' })).cacheControl).toBe('public, max-age=60')
      expect((await query(twoOperations, { operationName: 'A' })).cacheControl).toBe('public, max-age=5')
    })

    it('E-TTL-5: introspection is never cached; envelop #1446: an introspection operation elsewhere in the document does not disable caching', async () => {
      const { query, runs } = await setup()
      expect((await query('{ __schema { queryType { name } } }')).cacheControl).toBe('no-store')
      const document = 'query I { __schema { queryType { name } } } query P { post(id: "p1") { title } }'
      const first = await query(document, { operationName: 'P' })
      expect(first.data).toEqual({ post: { title: 'Hello' } })
      expect(first.cacheControl).toBe('public, max-age=60')
      await query(document, { operationName: 'P' })
      expect(runs['Query.post']).toBe(1)
    })

    it('Y-5 (differs): loadcache sets Cache-Control (the yoga response cache sets none, only ETag)', async () => {
      const { query } = await setup()
      const result = await query('{ user(id: "u2") { name } }')
      expect(result.cacheControl).toBe('public, max-age=60')
    })
  })

  describe('invalidation outside mutations (E-INV)', () => {
    it('E-INV-1: cache.invalidateTags(["Type:id"]) evicts entries holding that entity; invalidateTypes(["Type"]) every list of it', async () => {
      const { query, runs, cache } = await setup()
      const read = '{ p1: post(id: "p1") { title } p2: post(id: "p2") { title } posts { id } }'
      await query(read)
      await (cache as LoadCache).invalidateTags(['Post:p1'])
      await query(read)
      expect(runs['Query.post']).toBe(3)
      expect(runs['Query.posts']).toBe(2)
      await (cache as LoadCache).invalidateTypes(['Post'])
      await query(read)
      expect(runs['Query.post']).toBe(3)
      expect(runs['Query.posts']).toBe(3)
    })

    it('E-INV-2 (differs): a read that started before a mutation never stores its stale value', async () => {
      // envelop has no in-flight guard: a query that started before an invalidation writes its stale result.
      const { query, runs, hold } = await setup()
      const held = hold('p1')
      const slow = query('{ post(id: "p1") { title } }')
      await held.started
      // The lookup has read "Hello" and is still running: the mutation commits and evicts Post:p1 now.
      await query('mutation { renamePost(id: "p1", title: "Renamed meanwhile") { id } }')
      held.release()
      // The slow read may answer with what it read …
      expect((await slow).data).toEqual({ post: { title: 'Hello' } })
      // … but must not have stored it.
      expect((await query('{ post(id: "p1") { title } }')).data).toEqual({
        post: { title: 'Renamed meanwhile' },
      })
      expect(runs['Query.post']).toBe(2)
    })
  })
})
