import type { MutationResolvers } from './generated/resolvers-types.js'
import { writeOrBadInput } from './input-errors.js'
import { addComment, createPost, deletePost, updateUser } from './writes.js'

/**
 * Mutations: each is one write of writes.ts, which writes to the database and then evicts what the write
 * changed, from the shared cache and from this request's loaders. The tRPC procedures call the same
 * functions, so a write through either protocol evicts what the other serves. A write that throws evicts
 * nothing; a reference to a row that does not exist is reported as `BAD_USER_INPUT`.
 *
 * The `@invalidates` directives and the automatic `Type:id` eviction of returned entities cover part of
 * this again; evicting twice is harmless, and writes.ts keeps the cache correct without the directives.
 */
export const mutationResolvers: MutationResolvers = {
  // GraphQL lets a client send `null` for an optional field; here it means "keep", like leaving it out.
  updateUser: (_parent, { id, input }, ctx) =>
    updateUser(ctx, id, { name: input.name ?? undefined, email: input.email ?? undefined }),

  createPost: (_parent, { input }, ctx) => writeOrBadInput(() => createPost(ctx, input)),

  deletePost: (_parent, { id }, ctx) => deletePost(ctx, id),

  addComment: (_parent, { input }, ctx) => writeOrBadInput(() => addComment(ctx, input)),
}
