import { ReferenceNotFoundError } from './errors.js'
import { formatId, parseId, parseIds } from './ids.js'
import { MAX_PAGE_SIZE, type NewPost, type PostIdPage, type PostIdPageArgs, type PostRow } from './rows.js'
import type { SqlExecutor } from './sql-executor.js'

/** Column list shared by every statement returning posts, aliased to the {@link PostRow} field names. */
const POST_COLUMNS = 'id, author_id AS "authorId", title, body, created_at AS "createdAt"'

interface RawPost {
  id: number
  authorId: number
  title: string
  body: string
  // Both drivers parse timestamptz into a Date; a string is tolerated in case a type parser is overridden.
  createdAt: Date | string
}

function toPostRow(raw: RawPost): PostRow {
  return {
    id: formatId(raw.id),
    authorId: formatId(raw.authorId),
    title: raw.title,
    body: raw.body,
    createdAt: new Date(raw.createdAt).toISOString(),
  }
}

/**
 * Loads posts by id in one statement (none when no id is valid).
 *
 * @returns the posts found, keyed by id; unknown and unparsable ids are absent.
 */
export async function postsByIds(sql: SqlExecutor, ids: readonly string[]): Promise<Map<string, PostRow>> {
  const keys = parseIds(ids)
  const posts = new Map<string, PostRow>()
  if (keys.length === 0) return posts
  const rows = await sql.query<RawPost>(
    'posts',
    `SELECT ${POST_COLUMNS} FROM posts WHERE id = ANY($1::int[])`,
    [keys],
  )
  for (const raw of rows) posts.set(formatId(raw.id), toPostRow(raw))
  return posts
}

/**
 * Loads the ids of each author's posts, ascending, in one statement.
 *
 * @returns for every existing author an array (empty if they wrote nothing); unknown authors are absent,
 *   so a caller can tell "no such user" from "no posts".
 */
export async function postIdsByAuthorIds(
  sql: SqlExecutor,
  authorIds: readonly string[],
): Promise<Map<string, string[]>> {
  const keys = parseIds(authorIds)
  const postIds = new Map<string, string[]>()
  if (keys.length === 0) return postIds
  // The LEFT JOIN from users yields one row with a NULL post for authors without posts, and no row at all
  // for ids that are not users.
  const rows = await sql.query<{ authorId: number; postId: number | null }>(
    'posts',
    `SELECT u.id AS "authorId", p.id AS "postId"
     FROM users u LEFT JOIN posts p ON p.author_id = u.id
     WHERE u.id = ANY($1::int[])
     ORDER BY u.id, p.id`,
    [keys],
  )
  for (const { authorId, postId } of rows) {
    const key = formatId(authorId)
    let ids = postIds.get(key)
    if (!ids) {
      ids = []
      postIds.set(key, ids)
    }
    if (postId !== null) ids.push(formatId(postId))
  }
  return postIds
}

/**
 * Counts each author's posts in one statement.
 *
 * @returns for every existing author their post count (possibly 0); unknown authors are absent.
 */
export async function postCountsByAuthorIds(
  sql: SqlExecutor,
  authorIds: readonly string[],
): Promise<Map<string, number>> {
  const keys = parseIds(authorIds)
  const counts = new Map<string, number>()
  if (keys.length === 0) return counts
  // count() is bigint, which `pg` returns as a string; the ::int cast makes both drivers return a number.
  const rows = await sql.query<{ authorId: number; postCount: number }>(
    'posts',
    `SELECT u.id AS "authorId", count(p.id)::int AS "postCount"
     FROM users u LEFT JOIN posts p ON p.author_id = u.id
     WHERE u.id = ANY($1::int[])
     GROUP BY u.id`,
    [keys],
  )
  for (const { authorId, postCount } of rows) counts.set(formatId(authorId), postCount)
  return counts
}

/**
 * One page of post ids, newest (highest id) first, by keyset pagination: the cursor is the last id of
 * the previous page, so pages stay stable while posts are added and cost the same at any depth.
 *
 * @throws RangeError when `first` is not an integer from 0 to {@link MAX_PAGE_SIZE}.
 * @returns an empty page, without querying, when `after` is not a parsable id.
 */
export async function listPostIds(sql: SqlExecutor, args: PostIdPageArgs): Promise<PostIdPage> {
  const { first, after } = args
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw new RangeError(`listPostIds: first must be an integer from 0 to ${MAX_PAGE_SIZE}, got ${first}`)
  }
  let cursor: number | null = null
  if (after !== undefined && after !== null) {
    cursor = parseId(after)
    if (cursor === null) return { ids: [], hasNextPage: false }
  }
  // Fetching one row more than asked tells whether another page exists without a second statement.
  const rows =
    cursor === null
      ? await sql.query<{ id: number }>('posts', 'SELECT id FROM posts ORDER BY id DESC LIMIT $1::int', [
          first + 1,
        ])
      : await sql.query<{ id: number }>(
          'posts',
          'SELECT id FROM posts WHERE id < $1::int ORDER BY id DESC LIMIT $2::int',
          [cursor, first + 1],
        )
  return { ids: rows.slice(0, first).map((row) => formatId(row.id)), hasNextPage: rows.length > first }
}

/**
 * Creates a post in one statement.
 *
 * @throws ReferenceNotFoundError when the author does not exist.
 */
export async function createPost(sql: SqlExecutor, input: NewPost): Promise<PostRow> {
  const authorKey = parseId(input.authorId)
  if (authorKey === null) throw new ReferenceNotFoundError('createPost', 'user', input.authorId)
  // Selecting the author instead of using VALUES turns "unknown author" into "no row inserted", which is
  // reported with a clear error rather than as a foreign key violation whose shape differs per driver.
  const [raw] = await sql.query<RawPost>(
    'posts',
    `INSERT INTO posts (author_id, title, body)
     SELECT id, $2::text, $3::text FROM users WHERE id = $1::int
     RETURNING ${POST_COLUMNS}`,
    [authorKey, input.title, input.body],
  )
  if (!raw) throw new ReferenceNotFoundError('createPost', 'user', input.authorId)
  return toPostRow(raw)
}

/**
 * Deletes a post and its comments in one statement.
 *
 * @returns whether the post existed.
 */
export async function deletePost(sql: SqlExecutor, id: string): Promise<boolean> {
  const key = parseId(id)
  if (key === null) return false
  // The comments are deleted in a data-modifying CTE rather than by ON DELETE CASCADE so the behaviour does
  // not depend on how an existing server's schema was created, and stays a single atomic statement.
  const rows = await sql.query<{ id: number }>(
    'posts',
    `WITH deleted_comments AS (DELETE FROM comments WHERE post_id = $1::int)
     DELETE FROM posts WHERE id = $1::int RETURNING id`,
    [key],
  )
  return rows.length > 0
}
