import { describe, expect, it } from 'vitest'
import type { Database } from '../../example-api/db/index.js'
import type { ExampleServer } from '../../example-api/server.js'
import { busDelivered, uniqueNamespace } from '../helpers/cache.js'
import type { RedisServer } from '../helpers/redis-server.js'
import { type ApiMode, countQueries, graphql, openForFile, query, startApi, unique } from './api-harness.js'

/*
 * The example API end to end through yoga.fetch: real PGlite, real Redis. One database for the whole
 * file (opening it takes seconds); every test starts its own server, so every test starts with a cold
 * cache. Tests that write pick their own users and posts, and assert changes relative to what they read
 * first, so they do not depend on each other's writes.
 */

let db: Database
let redisServer: RedisServer
openForFile((opened) => {
  ;({ db, redisServer } = opened)
})

type IdList = Array<{ id: string }>
const ids = (list: IdList): string[] => list.map((item) => item.id)

const POST_AUTHORS = '{ posts(first: 100) { id author { name } } }'

describe.each(['memory', 'redis'] as const)('the example API (%s cache)', (kind) => {
  const start = (): Promise<ExampleServer> =>
    startApi(db, kind === 'redis' ? { kind, url: redisServer.url } : { kind })

  it('resolves the authors of 100 posts with one SQL statement on users, and none once warm', async () => {
    const api = await start()

    let posts: Array<{ author: { name: string } }> = []
    const cold = await countQueries(db, async () => {
      posts = (await query<{ posts: typeof posts }>(api, POST_AUTHORS)).posts
    })
    expect(posts).toHaveLength(100)
    // One page of ids, one batch of posts, one batch of authors.
    expect(cold).toEqual({ users: 1, posts: 2, comments: 0 })

    // A new request gets new loaders (nothing memoized), so this is the shared cache answering.
    const warm = await countQueries(db, () => query(api, POST_AUTHORS))
    expect(warm.users).toBe(0)
    expect(api.cache.stats().loaders.user).toMatchObject({ fetchCalls: 1 })
  })

  it('shows a renamed user in the next query, as the user and as an author', async () => {
    const api = await start()
    const { user } = await query<{ user: { posts: IdList } }>(api, '{ user(id: "42") { posts { id } } }')
    const postId = user.posts[0]!.id
    const read = () =>
      query<{ user: { name: string }; post: { author: { name: string } } }>(
        api,
        'query ($post: ID!) { user(id: "42") { name } post(id: $post) { author { name } } }',
        { variables: { post: postId } },
      )
    await read()

    const name = unique('Renamed')
    const { updateUser } = await query<{ updateUser: unknown }>(
      api,
      'mutation ($name: String) { updateUser(id: "42", input: { name: $name }) { id name } }',
      { variables: { name }, viewer: '42' },
    )
    expect(updateUser).toEqual({ id: '42', name })
    expect(await read()).toEqual({ user: { name }, post: { author: { name } } })
  })

  it('shows a created post in the post list, its author’s posts and postCount, and by id', async () => {
    const api = await start()
    const before = await query<{ posts: IdList; user: { postCount: number; posts: IdList } }>(
      api,
      '{ posts(first: 1) { id } user(id: "801") { postCount posts { id } } }',
    )
    // Look up the ids the next posts will get: they are now cached as absent, which must not hide the
    // new post (ids come from a sequence, so the new one is among the next few).
    const newest = Number(before.posts[0]!.id)
    const nextIds = Array.from({ length: 20 }, (_, i) => String(newest + 1 + i))
    const absent = await query(
      api,
      `{ ${nextIds.map((id) => `p${id}: post(id: "${id}") { id }`).join(' ')} }`,
    )
    expect(Object.values(absent).every((post) => post === null)).toBe(true)

    const title = unique('Title')
    const { createPost } = await query<{
      createPost: { id: string; author: { id: string; postCount: number } }
    }>(
      api,
      'mutation ($input: CreatePostInput!) { createPost(input: $input) { id author { id postCount } } }',
      { variables: { input: { authorId: '801', title, body: 'Body' } }, viewer: '801' },
    )
    expect(createPost.author).toEqual({ id: '801', postCount: before.user.postCount + 1 })
    expect(nextIds).toContain(createPost.id)

    const after = await query<{
      posts: Array<{ id: string; title: string }>
      user: { postCount: number; posts: IdList }
      post: unknown
    }>(
      api,
      'query ($id: ID!) { posts(first: 1) { id title } user(id: "801") { postCount posts { id } } post(id: $id) { title author { id } } }',
      { variables: { id: createPost.id } },
    )
    expect(after.posts).toEqual([{ id: createPost.id, title }])
    expect(after.user.postCount).toBe(before.user.postCount + 1)
    expect(ids(after.user.posts)).toEqual([...ids(before.user.posts), createPost.id])
    expect(after.post).toEqual({ title, author: { id: '801' } })
  })

  it('removes a deleted post from the post list, its author’s posts and postCount, and by id', async () => {
    const api = await start()
    const doomed = await db.createPost({ authorId: '802', title: unique('Doomed'), body: 'Body' })
    const read = () =>
      query<{ posts: IdList; user: { postCount: number; posts: IdList }; post: unknown }>(
        api,
        'query ($id: ID!) { posts(first: 5) { id } user(id: "802") { postCount posts { id } } post(id: $id) { id } }',
        { variables: { id: doomed.id } },
      )
    const before = await read()
    expect(ids(before.posts)).toContain(doomed.id)
    expect(ids(before.user.posts)).toContain(doomed.id)
    expect(before.post).toEqual({ id: doomed.id })

    const remove = () =>
      query<{ deletePost: boolean }>(api, 'mutation ($id: ID!) { deletePost(id: $id) }', {
        variables: { id: doomed.id },
        viewer: '802',
      })
    expect(await remove()).toEqual({ deletePost: true })

    const after = await read()
    expect(ids(after.posts)).not.toContain(doomed.id)
    expect(after.user.postCount).toBe(before.user.postCount - 1)
    expect(ids(after.user.posts)).toEqual(ids(before.user.posts).filter((id) => id !== doomed.id))
    expect(after.post).toBeNull()
    expect(await remove()).toEqual({ deletePost: false })
  })

  it('shows an added comment in the post’s comments', async () => {
    const api = await start()
    type Comments = { post: { comments: Array<{ id: string; body: string; author: { id: string } }> } }
    const read = () => query<Comments>(api, '{ post(id: "4000") { comments { id body author { id } } } }')
    const before = await read()

    const body = unique('Nice post')
    const { addComment } = await query<{ addComment: { id: string; body: string; author: { id: string } } }>(
      api,
      'mutation ($input: AddCommentInput!) { addComment(input: $input) { id body author { id } } }',
      { variables: { input: { postId: '4000', authorId: '7', body } }, viewer: '7' },
    )
    expect(addComment).toMatchObject({ body, author: { id: '7' } })
    expect((await read()).post.comments).toEqual([...before.post.comments, addComment])
  })

  it('evicts nothing when a mutation fails', async () => {
    const api = await start()
    const read = () =>
      query(api, '{ user(id: "803") { name postCount posts { id } } post(id: "4001") { comments { id } } }')
    const before = await read()

    const failedPost = await graphql(
      api,
      'mutation { createPost(input: { authorId: "999999", title: "t", body: "b" }) { id } }',
      { viewer: '803' },
    )
    expect(failedPost.errors).toMatchObject([
      { message: 'user "999999" does not exist', extensions: { code: 'BAD_USER_INPUT' } },
    ])
    // Would evict `comments:post:4001` had it succeeded.
    const failedComment = await graphql(
      api,
      'mutation { addComment(input: { postId: "4001", authorId: "999999", body: "b" }) { id } }',
      { viewer: '803' },
    )
    expect(failedComment.errors).toMatchObject([
      { message: 'user "999999" does not exist', extensions: { code: 'BAD_USER_INPUT' } },
    ])

    // Everything still comes from the cache: not one statement.
    const counts = await countQueries(db, async () => expect(await read()).toEqual(before))
    expect(counts).toEqual({ users: 0, posts: 0, comments: 0 })
  })

  it('shows each viewer only their own email and `me`, and shares public fields between viewers', async () => {
    const api = await start()
    const rows = await db.usersByIds(['11', '12'])
    const email = (id: string) => rows.get(id)!.email
    const source = '{ me { id email } u11: user(id: "11") { id email } u12: user(id: "12") { id email } }'

    // Twice: cold, then served from the shared cache, where viewer 11's row is cached for everyone.
    for (const round of ['cold', 'warm']) {
      const asEleven = await countQueries(db, async () =>
        expect(await query(api, source, { viewer: '11' })).toEqual({
          me: { id: '11', email: email('11') },
          u11: { id: '11', email: email('11') },
          u12: { id: '12', email: null },
        }),
      )
      // Users 11 and 12 are public rows: once loaded for one viewer, the other pays nothing.
      if (round === 'warm') expect(asEleven.users).toBe(0)
      const asTwelve = await countQueries(db, async () =>
        expect(await query(api, source, { viewer: '12' })).toEqual({
          me: { id: '12', email: email('12') },
          u11: { id: '11', email: null },
          u12: { id: '12', email: email('12') },
        }),
      )
      expect(asTwelve.users).toBe(0)
      expect(await query(api, source)).toEqual({
        me: null,
        u11: { id: '11', email: null },
        u12: { id: '12', email: null },
      })
    }
  })

  it('shows a changed email to its owner only', async () => {
    const api = await start()
    const read = (viewer: string) =>
      query<{ user: { email: string | null } }>(api, '{ user(id: "43") { email } }', { viewer })
    expect((await read('43')).user.email).toMatch(/@/)

    const email = `${unique('new').replace(/\W/g, '.')}@example.org`
    const mutation = 'mutation ($email: String) { updateUser(id: "43", input: { email: $email }) { email } }'
    const asOwner = await query(api, mutation, { viewer: '43', variables: { email } })
    expect(asOwner).toEqual({ updateUser: { email } })
    expect(await read('43')).toEqual({ user: { email } })
    expect(await read('44')).toEqual({ user: { email: null } })
    expect(await query(api, '{ me { email } }', { viewer: '43' })).toEqual({ me: { email } })
  })

  it('rejects a page size above 100 as bad input', async () => {
    const api = await start()
    const result = await graphql(api, '{ posts(first: 101) { id } }')
    expect(result.errors).toMatchObject([
      { message: 'posts: first must be from 0 to 100, got 101', extensions: { code: 'BAD_USER_INPUT' } },
    ])
  })
})

describe('two servers sharing one Redis (write on A, read on B)', () => {
  const redis = (): ApiMode => ({ kind: 'redis', url: redisServer.url })
  const startPair = async (): Promise<[ExampleServer, ExampleServer]> => {
    const namespace = uniqueNamespace()
    return [await startApi(db, redis(), namespace), await startApi(db, redis(), namespace)]
  }

  /**
   * B hears A's invalidations on the bus, a few milliseconds after A's mutation has returned (README,
   * "Guarantees"). Until then B's L1 may still answer with the old value: B reads once the bus delivered
   * everything A published (busDelivered: a probe through the same channel, which keeps order).
   */
  const delivered = (a: ExampleServer, b: ExampleServer) => busDelivered(a.cache, b.cache)

  it('answers B from Redis what A loaded: no SQL on users', async () => {
    const [a, b] = await startPair()
    expect((await countQueries(db, () => query(a, POST_AUTHORS))).users).toBe(1)

    const onB = await countQueries(db, () => query(b, POST_AUTHORS))
    expect(onB).toEqual({ users: 0, posts: 0, comments: 0 })
    // B answers with the response A stored (the response tier): nothing is executed, no field is read.
    expect(b.cache.stats().responses['']).toMatchObject({ hits: 1, misses: 0 })
    expect(b.cache.stats().loaders['Post.author']?.l2Hits ?? 0).toBe(0)

    // Another selection of the same data executes on B, every Post.author from Redis (the field is
    // @cached), so B's user loader never fetches.
    const other = await countQueries(db, () => query(b, '{ posts(first: 100) { author { id name } } }'))
    expect(other.users).toBe(0)
    const stats = b.cache.stats().loaders
    expect(stats.user?.fetchCalls ?? 0).toBe(0)
    expect(stats['Post.author']!.l2Hits).toBeGreaterThan(0)
    expect(stats['Post.author']!.fetchCalls).toBe(0)
  })

  it('shows a user renamed on A in B’s next query', async () => {
    const [a, b] = await startPair()
    const read = () => query<{ user: { name: string } }>(b, '{ user(id: "61") { name } }')
    await read() // B's L1 now holds the old name: the case the bus is for.

    const name = unique('Renamed on A')
    await query(a, 'mutation ($name: String) { updateUser(id: "61", input: { name: $name }) { id } }', {
      variables: { name },
      viewer: '61',
    })
    await delivered(a, b)
    expect(await read()).toEqual({ user: { name } })
  })

  it('shows a post created on A in B’s lists and count', async () => {
    const [a, b] = await startPair()
    const read = () =>
      query<{ posts: IdList; user: { postCount: number; posts: IdList } }>(
        b,
        '{ posts(first: 1) { id } user(id: "804") { postCount posts { id } } }',
      )
    const before = await read()

    const { createPost } = await query<{ createPost: { id: string } }>(
      a,
      'mutation ($input: CreatePostInput!) { createPost(input: $input) { id } }',
      { variables: { input: { authorId: '804', title: unique('From A'), body: 'Body' } }, viewer: '804' },
    )
    await delivered(a, b)
    expect(await read()).toEqual({
      posts: [{ id: createPost.id }],
      user: { postCount: before.user.postCount + 1, posts: [...before.user.posts, { id: createPost.id }] },
    })
  })

  it('hides a post deleted on A from B', async () => {
    const [a, b] = await startPair()
    const doomed = await db.createPost({ authorId: '805', title: unique('Doomed on A'), body: 'Body' })
    const read = () =>
      query<{ user: { postCount: number; posts: IdList }; post: unknown }>(
        b,
        'query ($id: ID!) { user(id: "805") { postCount posts { id } } post(id: $id) { id } }',
        { variables: { id: doomed.id } },
      )
    const before = await read()
    expect(before.post).toEqual({ id: doomed.id })

    await query(a, 'mutation ($id: ID!) { deletePost(id: $id) }', {
      variables: { id: doomed.id },
      viewer: '805',
    })
    await delivered(a, b)
    expect(await read()).toEqual({
      user: {
        postCount: before.user.postCount - 1,
        posts: before.user.posts.filter((post) => post.id !== doomed.id),
      },
      post: null,
    })
  })

  it('shows a comment added on A in B’s comments of the post', async () => {
    const [a, b] = await startPair()
    const read = () => query<{ post: { comments: IdList } }>(b, '{ post(id: "4002") { comments { id } } }')
    const before = await read()

    const { addComment } = await query<{ addComment: { id: string } }>(
      a,
      'mutation ($input: AddCommentInput!) { addComment(input: $input) { id } }',
      { variables: { input: { postId: '4002', authorId: '9', body: unique('From A') } }, viewer: '9' },
    )
    await delivered(a, b)
    expect(await read()).toEqual({ post: { comments: [...before.post.comments, { id: addComment.id }] } })
  })
})
