/**
 * Shapes handed to callers of the database layer.
 *
 * Ids are strings because they surface as GraphQL `ID`s and as cache keys; keeping them strings end to end
 * means a loader key, a cache key and a GraphQL id are the same value with no conversions in between.
 * Timestamps are ISO 8601 strings rather than `Date`s so rows survive a JSON round trip through a shared
 * cache (Redis) unchanged.
 */

/** A row of the `users` table. */
export interface UserRow {
  id: string
  name: string
  email: string
  orgId: string
}

/** A row of the `posts` table. */
export interface PostRow {
  id: string
  authorId: string
  title: string
  body: string
  /** ISO 8601 timestamp in UTC, e.g. `2024-01-01T00:37:00.000Z`. */
  createdAt: string
}

/** A row of the `comments` table. */
export interface CommentRow {
  id: string
  postId: string
  authorId: string
  body: string
}

/** Fields of a user that `updateUser` may change; omitted (or `undefined`) fields are left as they are. */
export interface UserPatch {
  name?: string
  email?: string
}

/** Input of `createPost`. */
export interface NewPost {
  authorId: string
  title: string
  body: string
}

/** Input of `addComment`. */
export interface NewComment {
  postId: string
  authorId: string
  body: string
}

/** Arguments of `listPostIds`: keyset pagination over posts, newest (highest id) first. */
export interface PostIdPageArgs {
  /** Page size, an integer from 0 to {@link MAX_PAGE_SIZE}. */
  first: number
  /** Cursor: return only posts older than (id below) this post id. Omit or `null` for the first page. */
  after?: string | null
}

/** One page of post ids, newest first. */
export interface PostIdPage {
  ids: string[]
  /** Whether at least one more post exists after the last id of this page. */
  hasNextPage: boolean
}

/** Largest `first` accepted by `listPostIds`, so one request cannot ask the database for every post. */
export const MAX_PAGE_SIZE = 100
