import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Database,
  openDatabase,
  ReferenceNotFoundError,
  SEED_SIZES,
} from '../../example-api/db/index.js'

// Starting the WASM PostgreSQL takes a few seconds on a small CI machine.
const OPEN_TIMEOUT_MS = 60_000

/** String ids `from`..`to` inclusive. */
function idRange(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => String(from + i))
}

/** 50 ids spread over `1..max` (so not just the first rows). */
function spreadIds(max: number): string[] {
  return Array.from({ length: 50 }, (_, i) => String(1 + ((i * 7919) % max)))
}

const BAD_IDS = ['', 'abc', '0', '-1', '007', '1.5', '1e3', ' 1', '1; DROP TABLE users', '99999999999']

/** Shared in-memory instance. Tests only read from it (and reset its counts), so order does not matter. */
let db: Database

beforeAll(async () => {
  db = await openDatabase()
}, OPEN_TIMEOUT_MS)

afterAll(async () => {
  await db?.close()
})

describe('openDatabase with the embedded PGlite', () => {
  it('uses PGlite and starts with zero query counts', () => {
    expect(db.driver).toBe('pglite')
    expect(db.queryCounts()).toEqual({ users: 0, posts: 0, comments: 0 })
  })

  describe('seed', () => {
    it('has exactly 1,000 users, 5,000 posts and 20,000 comments', async () => {
      expect(SEED_SIZES).toEqual({ users: 1000, posts: 5000, comments: 20000 })

      // Seeded ids are 1..N; fetching one past the end shows nothing exists beyond.
      const users = await db.usersByIds(idRange(1, 1001))
      expect(users.size).toBe(1000)
      const posts = await db.postsByIds(idRange(1, 5001))
      expect(posts.size).toBe(5000)
      const comments = await db.commentsByIds(idRange(1, 20001))
      expect(comments.size).toBe(20000)

      // Every post belongs to a seeded user and every comment to a seeded post, and the newest post is
      // 5000, so no rows hide at higher ids either.
      const postCounts = await db.postCountsByAuthorIds(idRange(1, 1000))
      expect([...postCounts.values()].reduce((a, b) => a + b, 0)).toBe(5000)
      const commentIds = await db.commentIdsByPostIds(idRange(1, 5000))
      expect([...commentIds.values()].reduce((a, ids) => a + ids.length, 0)).toBe(20000)
      expect((await db.listPostIds({ first: 1 })).ids).toEqual(['5000'])
    })

    it('produces plausible, known rows', async () => {
      expect((await db.usersByIds(['17'])).get('17')).toEqual({
        id: '17',
        name: 'User 17',
        email: 'user17@example.com',
        orgId: '17',
      })
      expect((await db.postsByIds(['1'])).get('1')).toEqual({
        id: '1',
        authorId: '273',
        title: 'Post 1: Thoughts on caching',
        body: 'Post 1 body. Lorem ipsum dolor sit amet, consectetur adipiscing elit. Lorem ipsum dolor sit amet, consectetur adipiscing elit. ',
        createdAt: '2024-01-01T00:37:00.000Z',
      })
      expect((await db.commentsByIds(['1'])).get('1')).toEqual({
        id: '1',
        postId: '4217',
        authorId: '38',
        body: 'Comment 1: I disagree.',
      })
    })

    it('is skewed: a few prolific authors, and users who never posted', async () => {
      const counts = await db.postCountsByAuthorIds(['1', '800', '801', '1000'])
      expect(counts.get('1')).toBeGreaterThan(100)
      expect(counts.get('800')).toBeGreaterThan(0)
      expect(counts.get('801')).toBe(0)
      expect(counts.get('1000')).toBe(0)
    })
  })

  describe('batch reads', () => {
    const cases = [
      { name: 'usersByIds', table: 'users', run: (ids: string[]) => db.usersByIds(ids), max: 1000 },
      { name: 'postsByIds', table: 'posts', run: (ids: string[]) => db.postsByIds(ids), max: 5000 },
      {
        name: 'postIdsByAuthorIds',
        table: 'posts',
        run: (ids: string[]) => db.postIdsByAuthorIds(ids),
        max: 1000,
      },
      {
        name: 'postCountsByAuthorIds',
        table: 'posts',
        run: (ids: string[]) => db.postCountsByAuthorIds(ids),
        max: 1000,
      },
      {
        name: 'commentIdsByPostIds',
        table: 'comments',
        run: (ids: string[]) => db.commentIdsByPostIds(ids),
        max: 5000,
      },
      { name: 'commentsByIds', table: 'comments', run: (ids: string[]) => db.commentsByIds(ids), max: 20000 },
    ] as const

    it.each(cases)('$name issues exactly one $table statement for 50 ids', async ({ table, run, max }) => {
      const ids = spreadIds(max)
      db.resetQueryCounts()
      const result = await run(ids)
      expect(result.size).toBe(new Set(ids).size)
      expect(db.queryCounts()).toEqual({ users: 0, posts: 0, comments: 0, [table]: 1 })
    })

    it.each(cases)('$name leaves absent and invalid ids out of the map', async ({ run, max }) => {
      const absent = [String(max + 1), '2147483647']
      db.resetQueryCounts()
      const result = await run(['1', ...absent, ...BAD_IDS])
      expect([...result.keys()]).toEqual(['1'])
      expect(Object.values(db.queryCounts()).reduce((a, b) => a + b, 0)).toBe(1)
    })

    it.each(cases)('$name issues no statement when no id is valid', async ({ run }) => {
      db.resetQueryCounts()
      expect((await run(BAD_IDS)).size).toBe(0)
      expect((await run([])).size).toBe(0)
      expect(db.queryCounts()).toEqual({ users: 0, posts: 0, comments: 0 })
    })

    it('postIdsByAuthorIds lists ids ascending, agreeing with postsByIds and the counts', async () => {
      const byAuthor = await db.postIdsByAuthorIds(['1', '42', '801'])
      const counts = await db.postCountsByAuthorIds(['1', '42', '801'])
      expect(byAuthor.get('801')).toEqual([])
      for (const authorId of ['1', '42']) {
        const ids = byAuthor.get(authorId)!
        expect(ids.length).toBe(counts.get(authorId))
        expect(ids.map(Number)).toEqual([...ids.map(Number)].sort((a, b) => a - b))
        const posts = await db.postsByIds(ids)
        expect([...posts.values()].every((post) => post.authorId === authorId)).toBe(true)
      }
    })

    it('commentIdsByPostIds lists ids ascending, agreeing with commentsByIds', async () => {
      const ids = (await db.commentIdsByPostIds(['5000'])).get('5000')!
      expect(ids.length).toBeGreaterThan(100)
      expect(ids.map(Number)).toEqual([...ids.map(Number)].sort((a, b) => a - b))
      const comments = await db.commentsByIds(ids)
      expect(comments.size).toBe(ids.length)
      expect([...comments.values()].every((comment) => comment.postId === '5000')).toBe(true)
    })
  })

  describe('listPostIds', () => {
    it('pages newest first with keyset cursors in one statement per page', async () => {
      db.resetQueryCounts()
      const first = await db.listPostIds({ first: 3 })
      expect(first).toEqual({ ids: ['5000', '4999', '4998'], hasNextPage: true })
      const second = await db.listPostIds({ first: 3, after: '4998' })
      expect(second).toEqual({ ids: ['4997', '4996', '4995'], hasNextPage: true })
      expect(db.queryCounts()).toEqual({ users: 0, posts: 2, comments: 0 })
    })

    it('reports the last page', async () => {
      expect(await db.listPostIds({ first: 3, after: '3' })).toEqual({ ids: ['2', '1'], hasNextPage: false })
      expect(await db.listPostIds({ first: 2, after: '3' })).toEqual({ ids: ['2', '1'], hasNextPage: false })
      expect(await db.listPostIds({ first: 1, after: '1' })).toEqual({ ids: [], hasNextPage: false })
      expect(await db.listPostIds({ first: 0 })).toEqual({ ids: [], hasNextPage: true })
    })

    it('treats an unparsable cursor as pointing nowhere, without querying', async () => {
      db.resetQueryCounts()
      expect(await db.listPostIds({ first: 3, after: 'abc' })).toEqual({ ids: [], hasNextPage: false })
      expect(db.queryCounts().posts).toBe(0)
    })

    it('rejects page sizes outside 0..100', async () => {
      await expect(db.listPostIds({ first: 101 })).rejects.toThrow(RangeError)
      await expect(db.listPostIds({ first: -1 })).rejects.toThrow(RangeError)
      await expect(db.listPostIds({ first: 1.5 })).rejects.toThrow(RangeError)
    })
  })
})

describe('a second open, persisted in a dataDir', () => {
  let second: Database
  let dataDir: string

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'example-api-db-'))
    second = await openDatabase({ dataDir })
  }, OPEN_TIMEOUT_MS)

  afterAll(async () => {
    await second?.close()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  })

  // The tests below run in order on purpose (vitest runs a file's tests sequentially): the comparison
  // needs untouched data, the writes then change `second`, and the last test reopens its dataDir to check
  // they persisted. Sharing the instances keeps the number of (multi-second) PGlite starts down.

  it('seeds rows identical to an in-memory open', async () => {
    // Whole tables rather than a sample: it is cheap and rules out any nondeterminism.
    expect(await second.usersByIds(idRange(1, 1000))).toEqual(await db.usersByIds(idRange(1, 1000)))
    expect(await second.postsByIds(idRange(1, 5000))).toEqual(await db.postsByIds(idRange(1, 5000)))
    expect(await second.commentsByIds(idRange(1, 20000))).toEqual(await db.commentsByIds(idRange(1, 20000)))
  })

  describe('writes', () => {
    it('updateUser changes the given fields, is visible to reads, and is one users statement', async () => {
      second.resetQueryCounts()
      const updated = await second.updateUser('5', { name: 'Ada' })
      expect(second.queryCounts()).toEqual({ users: 1, posts: 0, comments: 0 })
      expect(updated).toEqual({ id: '5', name: 'Ada', email: 'user5@example.com', orgId: '5' })
      expect((await second.usersByIds(['5'])).get('5')).toEqual(updated)

      await second.updateUser('5', { email: 'ada@example.com' })
      expect((await second.usersByIds(['5'])).get('5')).toMatchObject({
        name: 'Ada',
        email: 'ada@example.com',
      })
      // An empty patch changes nothing but still returns the row.
      expect(await second.updateUser('5', {})).toMatchObject({ name: 'Ada', email: 'ada@example.com' })
    })

    it('updateUser returns null for unknown or invalid ids', async () => {
      second.resetQueryCounts()
      expect(await second.updateUser('1001', { name: 'x' })).toBeNull()
      expect(await second.updateUser('abc', { name: 'x' })).toBeNull()
      expect(second.queryCounts().users).toBe(1)
    })

    it('createPost returns the row, which is visible to every read', async () => {
      second.resetQueryCounts()
      const post = await second.createPost({ authorId: '801', title: 'Hello', body: 'First post' })
      expect(second.queryCounts()).toEqual({ users: 0, posts: 1, comments: 0 })
      expect(post).toMatchObject({ authorId: '801', title: 'Hello', body: 'First post' })
      expect(Number(post.id)).toBeGreaterThan(5000)
      expect(Number.isNaN(Date.parse(post.createdAt))).toBe(false)

      expect((await second.postsByIds([post.id])).get(post.id)).toEqual(post)
      expect((await second.postIdsByAuthorIds(['801'])).get('801')).toEqual([post.id])
      expect((await second.postCountsByAuthorIds(['801'])).get('801')).toBe(1)
      expect((await second.listPostIds({ first: 1 })).ids).toEqual([post.id])
      expect((await second.commentIdsByPostIds([post.id])).get(post.id)).toEqual([])
    })

    it('createPost rejects an unknown or invalid author with a clear error', async () => {
      const unknown = second.createPost({ authorId: '1001', title: 't', body: 'b' })
      await expect(unknown).rejects.toThrow(ReferenceNotFoundError)
      await expect(unknown).rejects.toThrow('createPost: user "1001" does not exist')
      await expect(second.createPost({ authorId: 'abc', title: 't', body: 'b' })).rejects.toMatchObject({
        entity: 'user',
        id: 'abc',
      })
    })

    it('addComment returns the row, which is visible to reads', async () => {
      second.resetQueryCounts()
      const comment = await second.addComment({ postId: '10', authorId: '3', body: 'Nice' })
      expect(second.queryCounts()).toEqual({ users: 0, posts: 0, comments: 1 })
      expect(comment).toMatchObject({ postId: '10', authorId: '3', body: 'Nice' })
      expect((await second.commentsByIds([comment.id])).get(comment.id)).toEqual(comment)
      expect((await second.commentIdsByPostIds(['10'])).get('10')?.at(-1)).toBe(comment.id)
    })

    it('addComment says which reference is missing', async () => {
      await expect(second.addComment({ postId: '5001000', authorId: '3', body: 'x' })).rejects.toMatchObject({
        name: 'ReferenceNotFoundError',
        entity: 'post',
        id: '5001000',
      })
      await expect(second.addComment({ postId: '10', authorId: '1001', body: 'x' })).rejects.toMatchObject({
        entity: 'user',
        id: '1001',
      })
      await expect(second.addComment({ postId: 'x', authorId: '3', body: 'x' })).rejects.toMatchObject({
        entity: 'post',
      })
    })

    it('deletePost removes the post and its comments in one statement', async () => {
      const commentIds = (await second.commentIdsByPostIds(['5000'])).get('5000')!
      expect(commentIds.length).toBeGreaterThan(0)

      second.resetQueryCounts()
      expect(await second.deletePost('5000')).toBe(true)
      expect(second.queryCounts()).toEqual({ users: 0, posts: 1, comments: 0 })

      expect((await second.postsByIds(['5000'])).size).toBe(0)
      expect((await second.commentIdsByPostIds(['5000'])).has('5000')).toBe(false)
      expect((await second.commentsByIds(commentIds)).size).toBe(0)
      expect((await second.listPostIds({ first: 2, after: '5001' })).ids).toEqual(['4999', '4998'])
      // Other posts keep their comments.
      expect((await second.commentIdsByPostIds(['4999'])).get('4999')?.length).toBeGreaterThan(0)
    })

    it('deletePost returns false for missing and invalid ids', async () => {
      expect(await second.deletePost('5000')).toBe(false)
      expect(await second.deletePost('1; DROP TABLE posts')).toBe(false)
      expect((await second.postsByIds(['1'])).size).toBe(1)
    })

    it('did not affect the other database', async () => {
      expect((await db.usersByIds(['5'])).get('5')?.name).toBe('User 5')
      expect((await db.postsByIds(['5000'])).size).toBe(1)
    })
  })

  it(
    'keeps the data across a reopen instead of seeding again',
    async () => {
      await second.close()
      second = await openDatabase({ dataDir })
      expect((await second.usersByIds(['5'])).get('5')).toMatchObject({
        name: 'Ada',
        email: 'ada@example.com',
      })
      expect((await second.postsByIds(['5000'])).size).toBe(0)
      expect((await second.postsByIds(idRange(1, 5000))).size).toBe(4999)
      // The identity sequence was moved past the seeded ids (and the post created above), so new rows do
      // not collide.
      const post = await second.createPost({ authorId: '1', title: 't', body: 'b' })
      expect(Number(post.id)).toBeGreaterThan(5001)
    },
    OPEN_TIMEOUT_MS,
  )
})

describe('openDatabase with delayMs', () => {
  const delayMs = 25
  let delayed: Database

  beforeAll(async () => {
    delayed = await openDatabase({ delayMs })
  }, OPEN_TIMEOUT_MS)

  afterAll(async () => {
    await delayed?.close()
  })

  it('delays every statement', async () => {
    delayed.resetQueryCounts()
    const start = performance.now()
    await delayed.usersByIds(['1'])
    await delayed.postsByIds(['1'])
    await delayed.commentsByIds(['1'])
    await delayed.listPostIds({ first: 5 })
    const elapsed = performance.now() - start
    const statements = Object.values(delayed.queryCounts()).reduce((a, b) => a + b, 0)
    expect(statements).toBe(4)
    // Only a lower bound, with slack for timer granularity; upper bounds would be flaky on busy machines.
    expect(elapsed).toBeGreaterThanOrEqual(statements * delayMs * 0.9)
  })

  it('does not delay calls that need no statement', async () => {
    const start = performance.now()
    await delayed.usersByIds(['abc'])
    expect(performance.now() - start).toBeLessThan(delayMs)
  })

  // Last in this block: it closes the shared instance (afterAll's close is then a no-op).
  it('close is idempotent and later calls reject', async () => {
    await delayed.close()
    await delayed.close()
    await expect(delayed.usersByIds(['1'])).rejects.toThrow('Database is closed')
  })
})

describe('openDatabase options', () => {
  it('rejects a non-PostgreSQL databaseUrl without echoing credentials', async () => {
    const open = openDatabase({ databaseUrl: 'mysql://root:secret@localhost/db' })
    await expect(open).rejects.toThrow('databaseUrl must start with postgres:// or postgresql://')
    await expect(open).rejects.not.toThrow('secret')
  })

  it('rejects invalid delayMs and poolSize', async () => {
    await expect(openDatabase({ delayMs: -1 })).rejects.toThrow(RangeError)
    await expect(openDatabase({ delayMs: Number.NaN })).rejects.toThrow(RangeError)
    await expect(openDatabase({ poolSize: 0 })).rejects.toThrow(RangeError)
  })
})
