import type {
  CommentRow,
  NewComment,
  NewPost,
  PostIdPage,
  PostIdPageArgs,
  PostRow,
  UserPatch,
  UserRow,
} from './rows.js'
import type { DriverKind } from './sql-driver.js'
import type { QueryCounts } from './sql-executor.js'

/**
 * The example API's data access. Every method issues at most one SQL statement, whatever the number of
 * ids, which is what lets per-request loaders turn N lookups into one round trip. Methods issue none when
 * they can answer without the database (no ids, or only unparsable ones).
 *
 * Ids are strings (GraphQL `ID`s). Ids that are not canonical positive integers are treated as not found
 * and never reach SQL.
 */
export interface Database {
  /** Which driver backs this database. */
  readonly driver: DriverKind

  /** Users by id; unknown ids are absent from the map. */
  usersByIds(ids: readonly string[]): Promise<Map<string, UserRow>>
  /** Posts by id; unknown ids are absent from the map. */
  postsByIds(ids: readonly string[]): Promise<Map<string, PostRow>>
  /** Post ids per author, ascending; existing authors without posts map to `[]`, unknown authors are absent. */
  postIdsByAuthorIds(authorIds: readonly string[]): Promise<Map<string, string[]>>
  /** Post count per author; existing authors without posts map to 0, unknown authors are absent. */
  postCountsByAuthorIds(authorIds: readonly string[]): Promise<Map<string, number>>
  /** Comment ids per post, ascending; existing posts without comments map to `[]`, unknown posts are absent. */
  commentIdsByPostIds(postIds: readonly string[]): Promise<Map<string, string[]>>
  /** Comments by id; unknown ids are absent from the map. */
  commentsByIds(ids: readonly string[]): Promise<Map<string, CommentRow>>
  /** A page of post ids, newest first, after the `after` cursor (a post id). */
  listPostIds(args: PostIdPageArgs): Promise<PostIdPage>

  /** Updates a user's name and/or email; resolves to the updated row, or `null` if the user does not exist. */
  updateUser(id: string, patch: UserPatch): Promise<UserRow | null>
  /** Creates a post; rejects with `ReferenceNotFoundError` if the author does not exist. */
  createPost(input: NewPost): Promise<PostRow>
  /** Deletes a post together with its comments; resolves to whether the post existed. */
  deletePost(id: string): Promise<boolean>
  /** Adds a comment; rejects with `ReferenceNotFoundError` if the post or the author does not exist. */
  addComment(input: NewComment): Promise<CommentRow>

  /**
   * SQL statements issued per table since open or the last reset. Each statement counts once, under its
   * primary table: the table it writes, or for reads the table whose rows it returns (see `SqlExecutor`).
   */
  queryCounts(): QueryCounts
  /** Sets all query counts back to zero. */
  resetQueryCounts(): void
  /** Releases the connection pool or the embedded database. Safe to call more than once. */
  close(): Promise<void>
}

/** Options of `openDatabase`. */
export interface OpenDatabaseOptions {
  /**
   * `postgres://` or `postgresql://` URL of a PostgreSQL server to use instead of the embedded PGlite.
   * Missing tables are created and empty tables seeded; existing data is kept. An empty string counts as
   * not set, so an empty `DATABASE_URL` environment variable falls back to PGlite.
   */
  databaseUrl?: string
  /** Directory in which the embedded PGlite keeps its data; in memory when omitted. Ignored with `databaseUrl`. */
  dataDir?: string
  /**
   * Milliseconds each SQL statement waits before it runs, to model a database across a network.
   * It applies to every statement, including the dozen or so that create and seed the schema on open.
   * Defaults to 0.
   */
  delayMs?: number
  /** Maximum number of pooled connections to the PostgreSQL server. Defaults to 10. Ignored for PGlite. */
  poolSize?: number
}
