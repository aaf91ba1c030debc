import { defineLoader, type Loaders } from 'loadcache'
import type { CommentRow, Database, PostRow, UserRow } from './db/index.js'
import { commentsOfPostTag, POSTS_TAG, postsByAuthorTag } from './tags.js'

/**
 * Entity TTLs are long because every write path evicts what it changes (see writes.ts); the TTL only
 * bounds how long a change made behind the API's back (e.g. with psql) stays invisible.
 */
const ENTITY_TTL_SECONDS = 300
/** Lists and counts change with every create and delete, so a missed eviction should heal sooner. */
const RELATION_TTL_SECONDS = 60

/**
 * The example API's cached loaders, bound to one database. Each `fetch` is one batch query of the
 * database layer, so a request resolving N authors costs one SQL statement, and none once cached.
 *
 * Tags (tags.ts) follow the names the schema's `@cached`/`@invalidates` directives use, so a mutation that
 * invalidates `posts:author:7` evicts both the cached field values and the loader entries behind them:
 * - `User:<id>`, `Post:<id>`, `Comment:<id>`: the entity itself (the `Type:id` form the directives'
 *   automatic eviction uses), set by the loaders' `entity` option on found and not-found entries alike.
 * - `posts:author:<userId>`: an author's post ids and post count; `posts`: any list of posts.
 * - `comments:post:<postId>`: a post's comment ids.
 *
 * Ids the database does not know are cached as absent for the cache's `negativeTtl`; writes that create
 * rows evict their new ids' `Type:id` tags (see writes.ts), which absent entries carry too, so a lookup
 * made before the insert cannot hide them.
 *
 * @param db where `fetch` reads; never written to from here.
 */
export function createLoaderDefinitions(db: Database) {
  return {
    user: defineLoader<string, UserRow>({
      name: 'user',
      fetch: (ids) => db.usersByIds(ids),
      ttl: ENTITY_TTL_SECONDS,
      // Tagged User:<id> whether found or not, so creating a row evicts a cached "not found".
      entity: 'User',
    }),
    post: defineLoader<string, PostRow>({
      name: 'post',
      fetch: (ids) => db.postsByIds(ids),
      ttl: ENTITY_TTL_SECONDS,
      entity: 'Post',
    }),
    comment: defineLoader<string, CommentRow>({
      name: 'comment',
      fetch: (ids) => db.commentsByIds(ids),
      ttl: ENTITY_TTL_SECONDS,
      entity: 'Comment',
    }),
    /** Post ids of each author, oldest first; keyed by author id. */
    postIdsByAuthor: defineLoader<string, string[]>({
      name: 'postIdsByAuthor',
      fetch: (authorIds) => db.postIdsByAuthorIds(authorIds),
      ttl: RELATION_TTL_SECONDS,
      tags: (authorId) => [postsByAuthorTag(authorId), POSTS_TAG],
    }),
    /** Number of posts of each author; keyed by author id. */
    postCount: defineLoader<string, number>({
      name: 'postCount',
      fetch: (authorIds) => db.postCountsByAuthorIds(authorIds),
      ttl: RELATION_TTL_SECONDS,
      tags: (authorId) => [postsByAuthorTag(authorId)],
    }),
    /** Comment ids of each post, oldest first; keyed by post id. */
    commentIdsByPost: defineLoader<string, string[]>({
      name: 'commentIdsByPost',
      fetch: (postIds) => db.commentIdsByPostIds(postIds),
      ttl: RELATION_TTL_SECONDS,
      tags: (postId) => [commentsOfPostTag(postId)],
    }),
  }
}

/** The loader definitions of the example API, as `createLoaderDefinitions` returns them. */
export type LoaderDefinitions = ReturnType<typeof createLoaderDefinitions>

/** One request's DataLoaders: `cache.loaders(definitions)`, e.g. `loaders.user.load('1')`. */
export type ExampleLoaders = Loaders<LoaderDefinitions>
