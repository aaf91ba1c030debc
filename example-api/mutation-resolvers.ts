import type { MutationResolvers } from './generated/resolvers-types.js'
import { writeOrBadInput } from './input-errors.js'

/**
 * Mutations: write to the database, then evict what the write changed, then return.
 *
 * Order matters. Evicting after the write has committed means a concurrent read either sees the old row
 * before the eviction (and its entry is then evicted), or misses and fetches the new row; the cache's
 * tag versions make sure a fetch that straddles the eviction is never stored. Evicting *before* the
 * write would let such a read cache the old row again. A write that throws evicts nothing.
 *
 * Two caches are involved:
 * - the shared `cache` (L1, Redis, and every other process via the bus): `invalidate` for entities,
 *   `invalidateTags` for lists and counts (tags as declared in loaders.ts and schema.graphql);
 * - this request's loaders, which memoize what they loaded earlier in the same operation: `clear` them,
 *   so that a mutation's selection (or the next mutation of the same document) reads the new state.
 *
 * Once the loadcache directives are applied, `@invalidates` and the automatic `Type:id` eviction of
 * returned entities cover part of this; the explicit calls stay correct (evicting twice is harmless) and
 * keep the loaders coherent without the directives.
 */
export const mutationResolvers: MutationResolvers = {
  updateUser: async (_parent, { id, input }, { db, cache, loaders }) => {
    // GraphQL lets a client send `null` for an optional field; here it means "keep", like leaving it out.
    const user = await db.updateUser(id, { name: input.name ?? undefined, email: input.email ?? undefined })
    if (user === null) return null
    await cache.invalidate('user', [user.id])
    loaders.user.clear(user.id).prime(user.id, user)
    return user
  },

  createPost: async (_parent, { input }, { db, cache, loaders }) => {
    const post = await writeOrBadInput(() => db.createPost(input))
    await Promise.all([
      // A lookup of this id made before the insert is cached as absent; without this it would hide the
      // new post for up to `negativeTtl`.
      cache.invalidate('post', [post.id]),
      // The post lists (`posts`) and the author's post ids and count.
      cache.invalidateTags(['posts', `posts:author:${post.authorId}`]),
    ])
    loaders.post.clear(post.id).prime(post.id, post)
    loaders.postIdsByAuthor.clear(post.authorId)
    loaders.postCount.clear(post.authorId)
    return post
  },

  deletePost: async (_parent, { id }, { db, cache, loaders }) => {
    // The author's list and count change too, and only the row knows the author: read it before it is
    // gone. A post's author never changes and ids are never reused, so the cached row is good enough,
    // and "absent" from the loader means there is nothing to delete (createPost evicts new ids).
    const post = await loaders.post.load(id)
    if (post === null) return false
    const deleted = await db.deletePost(post.id)
    // Evicted even when another request deleted the post first: the cache then still holds a row the
    // database no longer has, and the other request's eviction may not have reached us yet.
    await Promise.all([
      cache.invalidate('post', [post.id]),
      // `Post:<id>` also evicts field values cached for this post (e.g. `Post.comments`); the post's
      // comments are deleted with it, and `comments:post:<id>` evicts its comment list. The comment rows
      // themselves are left to expire: nothing reaches them except through that list.
      cache.invalidateTags([
        'posts',
        `posts:author:${post.authorId}`,
        `Post:${post.id}`,
        `comments:post:${post.id}`,
      ]),
    ])
    loaders.post.clear(post.id)
    loaders.postIdsByAuthor.clear(post.authorId)
    loaders.postCount.clear(post.authorId)
    loaders.commentIdsByPost.clear(post.id)
    return deleted
  },

  addComment: async (_parent, { input }, { db, cache, loaders }) => {
    const comment = await writeOrBadInput(() => db.addComment(input))
    await Promise.all([
      // As in createPost: the new id may be cached as absent.
      cache.invalidate('comment', [comment.id]),
      cache.invalidateTags([`comments:post:${comment.postId}`]),
    ])
    loaders.comment.clear(comment.id).prime(comment.id, comment)
    loaders.commentIdsByPost.clear(comment.postId)
    return comment
  },
}
