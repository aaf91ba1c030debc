import { ReferenceNotFoundError } from './errors.js'
import { formatId, parseId, parseIds } from './ids.js'
import type { CommentRow, NewComment } from './rows.js'
import type { SqlExecutor } from './sql-executor.js'

/** Column list shared by every statement returning comments, aliased to the {@link CommentRow} field names. */
const COMMENT_COLUMNS = 'id, post_id AS "postId", author_id AS "authorId", body'

interface RawComment {
  id: number
  postId: number
  authorId: number
  body: string
}

function toCommentRow(raw: RawComment): CommentRow {
  return {
    id: formatId(raw.id),
    postId: formatId(raw.postId),
    authorId: formatId(raw.authorId),
    body: raw.body,
  }
}

/**
 * Loads comments by id in one statement (none when no id is valid).
 *
 * @returns the comments found, keyed by id; unknown and unparsable ids are absent.
 */
export async function commentsByIds(
  sql: SqlExecutor,
  ids: readonly string[],
): Promise<Map<string, CommentRow>> {
  const keys = parseIds(ids)
  const comments = new Map<string, CommentRow>()
  if (keys.length === 0) return comments
  const rows = await sql.query<RawComment>(
    'comments',
    `SELECT ${COMMENT_COLUMNS} FROM comments WHERE id = ANY($1::int[])`,
    [keys],
  )
  for (const raw of rows) comments.set(formatId(raw.id), toCommentRow(raw))
  return comments
}

/**
 * Loads the ids of each post's comments, ascending, in one statement.
 *
 * @returns for every existing post an array (empty if it has no comments); unknown posts are absent.
 */
export async function commentIdsByPostIds(
  sql: SqlExecutor,
  postIds: readonly string[],
): Promise<Map<string, string[]>> {
  const keys = parseIds(postIds)
  const commentIds = new Map<string, string[]>()
  if (keys.length === 0) return commentIds
  // LEFT JOIN from posts: a NULL comment marks a post without comments; non-existent posts yield no row.
  const rows = await sql.query<{ postId: number; commentId: number | null }>(
    'comments',
    `SELECT p.id AS "postId", c.id AS "commentId"
     FROM posts p LEFT JOIN comments c ON c.post_id = p.id
     WHERE p.id = ANY($1::int[])
     ORDER BY p.id, c.id`,
    [keys],
  )
  for (const { postId, commentId } of rows) {
    const key = formatId(postId)
    let ids = commentIds.get(key)
    if (!ids) {
      ids = []
      commentIds.set(key, ids)
    }
    if (commentId !== null) ids.push(formatId(commentId))
  }
  return commentIds
}

/**
 * Adds a comment in one statement.
 *
 * @throws ReferenceNotFoundError when the post or the author does not exist (the post is checked first).
 */
export async function addComment(sql: SqlExecutor, input: NewComment): Promise<CommentRow> {
  const postKey = parseId(input.postId)
  if (postKey === null) throw new ReferenceNotFoundError('addComment', 'post', input.postId)
  const authorKey = parseId(input.authorId)
  if (authorKey === null) throw new ReferenceNotFoundError('addComment', 'user', input.authorId)
  // `target` always yields exactly one row saying which references exist; the insert runs only when both
  // do. That keeps this one statement while still telling which reference was missing.
  const [row] = await sql.query<RawComment & { foundPost: boolean; foundAuthor: boolean }>(
    'comments',
    `WITH target AS (
       SELECT EXISTS (SELECT 1 FROM posts WHERE id = $1::int) AS found_post,
              EXISTS (SELECT 1 FROM users WHERE id = $2::int) AS found_author
     ), inserted AS (
       INSERT INTO comments (post_id, author_id, body)
       SELECT $1::int, $2::int, $3::text FROM target WHERE found_post AND found_author
       RETURNING ${COMMENT_COLUMNS}
     )
     SELECT target.found_post AS "foundPost", target.found_author AS "foundAuthor", inserted.*
     FROM target LEFT JOIN inserted ON true`,
    [postKey, authorKey, input.body],
  )
  if (!row?.foundPost) throw new ReferenceNotFoundError('addComment', 'post', input.postId)
  if (!row.foundAuthor) throw new ReferenceNotFoundError('addComment', 'user', input.authorId)
  return toCommentRow(row)
}
