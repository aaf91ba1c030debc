import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Database, openDatabase, ReferenceNotFoundError } from '../../example-api/db/index.js'
import { findOnPath, type LocalPostgres, startLocalPostgres } from './local-postgres.js'

// The `pg` driver path needs a real PostgreSQL server; this machine's own binaries are used to start a
// throwaway one. CI images without PostgreSQL installed skip these tests.
const initdb = findOnPath('initdb')

const TIMEOUT_MS = 60_000

function idRange(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => String(from + i))
}

describe.skipIf(!initdb)(
  `openDatabase with a PostgreSQL databaseUrl${initdb ? '' : ' (skipped: initdb is not on PATH)'}`,
  () => {
    let server: LocalPostgres
    let db: Database

    beforeAll(async () => {
      server = await startLocalPostgres(initdb!)
      db = await openDatabase({ databaseUrl: server.url, poolSize: 4 })
    }, TIMEOUT_MS)

    afterAll(async () => {
      await db?.close()
      await server?.stop()
    }, TIMEOUT_MS)

    it('uses the pg driver and starts with zero query counts', () => {
      expect(db.driver).toBe('postgres')
      expect(db.queryCounts()).toEqual({ users: 0, posts: 0, comments: 0 })
    })

    it(
      'seeds exactly the same rows as the embedded PGlite',
      async () => {
        const embedded = await openDatabase()
        try {
          const users = await db.usersByIds(idRange(1, 1001))
          const posts = await db.postsByIds(idRange(1, 5001))
          const comments = await db.commentsByIds(idRange(1, 20001))
          expect([users.size, posts.size, comments.size]).toEqual([1000, 5000, 20000])
          expect(users).toEqual(await embedded.usersByIds(idRange(1, 1000)))
          expect(posts).toEqual(await embedded.postsByIds(idRange(1, 5000)))
          expect(comments).toEqual(await embedded.commentsByIds(idRange(1, 20000)))
        } finally {
          await embedded.close()
        }
      },
      TIMEOUT_MS,
    )

    it('issues one statement per batch, even when many run concurrently over the pool', async () => {
      db.resetQueryCounts()
      const ids = idRange(1, 50)
      const [users, posts, postIds, counts, commentIds, comments] = await Promise.all([
        db.usersByIds(ids),
        db.postsByIds(ids),
        db.postIdsByAuthorIds(ids),
        db.postCountsByAuthorIds(ids),
        db.commentIdsByPostIds(ids),
        db.commentsByIds(ids),
      ])
      expect([users, posts, postIds, counts, commentIds, comments].map((map) => map.size)).toEqual([
        50, 50, 50, 50, 50, 50,
      ])
      expect(db.queryCounts()).toEqual({ users: 1, posts: 3, comments: 2 })
    })

    it('writes through the pool, including deletePost removing comments', async () => {
      expect(await db.updateUser('2', { name: 'Grace' })).toMatchObject({ id: '2', name: 'Grace' })
      const post = await db.createPost({ authorId: '2', title: 'On PostgreSQL', body: 'Hello' })
      expect(Number(post.id)).toBeGreaterThan(5000)
      const comment = await db.addComment({ postId: post.id, authorId: '3', body: 'Hi' })
      expect((await db.commentIdsByPostIds([post.id])).get(post.id)).toEqual([comment.id])
      await expect(db.createPost({ authorId: '1001', title: 't', body: 'b' })).rejects.toThrow(
        ReferenceNotFoundError,
      )

      expect(await db.deletePost(post.id)).toBe(true)
      expect((await db.commentsByIds([comment.id])).size).toBe(0)
      expect((await db.postsByIds([post.id])).size).toBe(0)
    })

    it(
      'keeps existing data when another server process opens the same database',
      async () => {
        const again = await openDatabase({ databaseUrl: server.url })
        try {
          expect((await again.usersByIds(['2'])).get('2')?.name).toBe('Grace')
          expect(again.queryCounts()).toEqual({ users: 1, posts: 0, comments: 0 })
        } finally {
          await again.close()
        }
      },
      TIMEOUT_MS,
    )
  },
)
