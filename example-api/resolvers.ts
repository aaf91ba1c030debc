import type DataLoader from 'dataloader'
import { MAX_PAGE_SIZE, type UserRow } from './db/index.js'
import type { Resolvers } from './generated/resolvers-types.js'
import { badUserInput } from './input-errors.js'
import { mutationResolvers } from './mutation-resolvers.js'
import { listPosts, loadPresent } from './reads.js'

/**
 * Read resolvers of the example API. Every read goes through the request's loaders, so lookups of one
 * tick are batched and served from the cache; the one exception is the page of ids behind `Query.posts`,
 * which is a range query no per-id loader can express (`@cached` on the field caches it; see reads.ts,
 * which the tRPC procedures share).
 *
 * Parents are database rows (see the mappers in codegen.ts): a Post carries `authorId`, and `Post.author`
 * turns it into a User through the loader.
 */
export const resolvers: Resolvers = {
  Query: {
    user: (_parent, { id }, { loaders }) => loaders.user.load(id),
    users: (_parent, { ids }, { loaders }) => Promise.all(ids.map((id) => loaders.user.load(id))),
    post: (_parent, { id }, { loaders }) => loaders.post.load(id),
    posts: (_parent, { first, after }, ctx) => listPosts(ctx, { first: pageSize(first), after }),
    me: (_parent, _args, { loaders, viewerId }) => (viewerId === null ? null : loaders.user.load(viewerId)),
  },
  User: {
    // Private by design: the row (and so the cache) holds every email, the field shows only the viewer's.
    email: (user, _args, { viewerId }) => (user.id === viewerId ? user.email : null),
    posts: async (user, _args, { loaders }) =>
      loadPresent(loaders.post, (await loaders.postIdsByAuthor.load(user.id)) ?? []),
    postCount: async (user, _args, { loaders }) => (await loaders.postCount.load(user.id)) ?? 0,
  },
  Post: {
    author: (post, _args, { loaders }) => loadAuthor(loaders.user, post.authorId, `post ${post.id}`),
    comments: async (post, _args, { loaders }) =>
      loadPresent(loaders.comment, (await loaders.commentIdsByPost.load(post.id)) ?? []),
    commentCount: async (post, _args, { loaders }) =>
      ((await loaders.commentIdsByPost.load(post.id)) ?? []).length,
  },
  Comment: {
    author: (comment, _args, { loaders }) =>
      loadAuthor(loaders.user, comment.authorId, `comment ${comment.id}`),
    post: async (comment, _args, { loaders }) => {
      const post = await loaders.post.load(comment.postId)
      if (post === null) throw new Error(`comment ${comment.id}: post ${comment.postId} not found`)
      return post
    },
  },
  Mutation: mutationResolvers,
}

/**
 * `first` as `listPostIds` accepts it. The schema's default is 20, but a client may still send an
 * explicit `null`, which the generated type does not admit; treat it as the default.
 */
function pageSize(first: number | null | undefined): number {
  const size = first ?? 20
  if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE_SIZE) {
    throw badUserInput(`posts: first must be from 0 to ${MAX_PAGE_SIZE}, got ${size}`)
  }
  return size
}

/**
 * Loads the author of a post or comment. The foreign key guarantees the user exists, so a missing one is
 * a server fault (reported, and masked by yoga as "Unexpected error."), not a `null` for a non-null field.
 *
 * @param of what the author wrote, for the error message, e.g. `post 12`.
 */
async function loadAuthor(
  users: DataLoader<string, UserRow | null>,
  authorId: string,
  of: string,
): Promise<UserRow> {
  const user = await users.load(authorId)
  if (user === null) throw new Error(`${of}: author ${authorId} not found`)
  return user
}
