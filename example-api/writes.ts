import type { LoadCache } from 'loadcache'
import type { CommentRow, Database, NewComment, NewPost, PostRow, UserPatch, UserRow } from './db/index.js'
import type { ExampleLoaders, LoaderDefinitions } from './loaders.js'
import { commentsOfPostTag, commentTag, POSTS_TAG, postsByAuthorTag, postTag } from './tags.js'

/**
 * What a write needs: the database, the shared cache, and the request's loaders. The GraphQL context
 * (`ExampleContext`) and the tRPC context both have these members, so both protocols write through this
 * module and evict exactly the same entries.
 */
export interface WriteContext {
  readonly db: Database
  readonly cache: LoadCache
  readonly loaders: ExampleLoaders
  readonly definitions: LoaderDefinitions
}

/*
 * Every write: write to the database, then evict what the write changed, then return.
 *
 * Order matters. Evicting after the write has committed means a concurrent read either sees the old row
 * before the eviction (and its entry is then evicted), or misses and fetches the new row; the cache's
 * tag versions make sure a fetch that straddles the eviction is never stored. Evicting *before* the
 * write would let such a read cache the old row again. A write that throws evicts nothing.
 *
 * Two caches are involved:
 * - the shared `cache` (L1, Redis, and every other process via the bus): `invalidate` for loader entries
 *   by id, `invalidateTags` for everything tagged with what changed (tags.ts): lists and counts, and the
 *   `Type:id` tags that GraphQL's cached fields and tRPC's cached procedures carry. Evicting those here,
 *   and not only through the GraphQL directives or tRPC middlewares, is what makes a write through one
 *   protocol evict what the other serves;
 * - this request's loaders, which memoize what they loaded earlier in the same request: `clear` them, so
 *   that what the request reads next (a GraphQL mutation's selection, the next call of a tRPC batch)
 *   sees the new state.
 */

/**
 * Changes a user's name and/or email (fields left `undefined` keep their value).
 *
 * @returns the updated row, or `null` (and nothing evicted) when no such user exists.
 */
export async function updateUser(ctx: WriteContext, id: string, patch: UserPatch): Promise<UserRow | null> {
  const { db, cache, loaders, definitions } = ctx
  // Taken before the write: the prime below then never stores this row over a newer one that another
  // request or instance commits (and evicts) between this point and the prime.
  const ticket = await cache.writeTicket()
  const user = await db.updateUser(id, patch)
  if (user === null) return null
  // Write-through, one round trip: the user loader's entry becomes the new row in Redis and in every
  // instance's L1 (the next read of this user costs no SQL anywhere), and `User:<id>` is evicted: the
  // values derived from the user, `user(id)` and `me` in GraphQL, `user.byId` and `viewer.me` in tRPC.
  await cache.prime(definitions.user, [[user.id, user]], { since: ticket })
  loaders.user.clear(user.id).prime(user.id, user)
  return user
}

/**
 * Creates a post.
 *
 * @throws ReferenceNotFoundError (from the database, before anything is evicted) when the author does not exist.
 */
export async function createPost(ctx: WriteContext, input: NewPost): Promise<PostRow> {
  const { db, cache, loaders } = ctx
  const post = await db.createPost(input)
  // The post lists and the author's post ids and count; `Post:<id>` evicts a "not found" cached for this
  // id before the insert, by the post loader (its `entity`) or a lookup (`post(id)`, `post.byId`).
  await cache.invalidateTags([POSTS_TAG, postsByAuthorTag(post.authorId), postTag(post.id)])
  loaders.post.clear(post.id).prime(post.id, post)
  loaders.postIdsByAuthor.clear(post.authorId)
  loaders.postCount.clear(post.authorId)
  return post
}

/**
 * Deletes a post and its comments.
 *
 * @returns whether the post existed; `false` evicts nothing.
 */
export async function deletePost(ctx: WriteContext, id: string): Promise<boolean> {
  const { db, cache, loaders } = ctx
  // The author's list and count change too, and only the row knows the author: read it before it is
  // gone. A post's author never changes and ids are never reused, so the cached row is good enough,
  // and "absent" from the loader means there is nothing to delete (createPost evicts new ids).
  const post = await loaders.post.load(id)
  if (post === null) return false
  const deleted = await db.deletePost(post.id)
  // Evicted even when another request deleted the post first: the cache then still holds a row the
  // database no longer has, and the other request's eviction may not have reached us yet.
  // `Post:<id>` evicts the post loader's entry and the values cached for this post (e.g. `Post.comments`,
  // `post.byId`); the post's comments are deleted with it, and `comments:post:<id>` evicts its comment
  // list. The comment rows themselves are left to expire: nothing reaches them except through that list.
  await cache.invalidateTags([
    POSTS_TAG,
    postsByAuthorTag(post.authorId),
    postTag(post.id),
    commentsOfPostTag(post.id),
  ])
  loaders.post.clear(post.id)
  loaders.postIdsByAuthor.clear(post.authorId)
  loaders.postCount.clear(post.authorId)
  loaders.commentIdsByPost.clear(post.id)
  return deleted
}

/**
 * Adds a comment to a post.
 *
 * @throws ReferenceNotFoundError (before anything is evicted) when the post or the author does not exist.
 */
export async function addComment(ctx: WriteContext, input: NewComment): Promise<CommentRow> {
  const { db, cache, loaders } = ctx
  const comment = await db.addComment(input)
  // As in createPost, `Comment:<id>` evicts a "not found" cached for the new id.
  await cache.invalidateTags([commentsOfPostTag(comment.postId), commentTag(comment.id)])
  loaders.comment.clear(comment.id).prime(comment.id, comment)
  loaders.commentIdsByPost.clear(comment.postId)
  return comment
}
