/**
 * The cache tags of the example API, in one place, because three parties must spell them alike: the
 * loaders (loaders.ts) and the cached GraphQL fields and tRPC procedures that carry them, and the writes
 * (writes.ts) that evict them. schema.graphql spells the same tags as directive templates
 * (`posts:author:{parent.id}`); a change here must be made there too.
 *
 * Entity tags use loadcache's `Type:id` convention (`entityTag` in `loadcache/graphql`), which the
 * `@cached` directive and `cached({ entity })` derive from results on their own.
 */

/** A user row and everything derived from it (`User:<id>`). */
export const userTag = (id: string): string => `User:${id}`

/** A post row and everything derived from it (`Post:<id>`). */
export const postTag = (id: string): string => `Post:${id}`

/** A comment row (`Comment:<id>`). */
export const commentTag = (id: string): string => `Comment:${id}`

/** Any list of posts (`posts`): every create and delete changes them. */
export const POSTS_TAG = 'posts'

/** An author's post ids and post count (`posts:author:<userId>`). */
export const postsByAuthorTag = (authorId: string): string => `posts:author:${authorId}`

/** A post's comment ids (`comments:post:<postId>`). */
export const commentsOfPostTag = (postId: string): string => `comments:post:${postId}`
