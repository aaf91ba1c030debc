import { initTRPC, TRPCError } from '@trpc/server'
import type { LoadCache } from 'loadcache'
import { createLoadCacheTRPC } from 'loadcache/trpc'
import { ZodError, z } from 'zod'
import type { ExampleContext } from '../context.js'
import { parseId } from '../db/ids.js'
import { MAX_PAGE_SIZE, ReferenceNotFoundError, type UserRow } from '../db/index.js'
import type { LoaderDefinitions } from '../loaders.js'
import { listPosts } from '../reads.js'
import { POSTS_TAG, postTag, userTag } from '../tags.js'
import { createPost, deletePost, updateUser } from '../writes.js'

/**
 * The context of every procedure: the GraphQL context's members (see context.ts), built per HTTP request
 * by `createTrpcHandler`. A batched HTTP call is one request, so its calls share one set of loaders.
 */
export type TrpcContext = ExampleContext

/** Shown instead of the message of an unexpected error (it is logged), as yoga does for GraphQL. */
const MASKED_MESSAGE = 'Unexpected error.'

const t = initTRPC.context<TrpcContext>().create({
  // tRPC's default (`NODE_ENV !== 'production'`) puts every error's stack in `error.data.stack`, 400s
  // included: file paths and library internals for anyone who sends a bad input. The server logs the
  // stacks of unexpected errors instead (trpc/handler.ts).
  isDev: false,
  errorFormatter({ shape, error }) {
    if (error.code === 'INTERNAL_SERVER_ERROR') {
      // Messages and stacks of unexpected errors may reveal internals (SQL, hosts); the server logs them.
      return { ...shape, message: MASKED_MESSAGE, data: { ...shape.data, stack: undefined, zodError: null } }
    }
    if (!(error.cause instanceof ZodError)) return { ...shape, data: { ...shape.data, zodError: null } }
    // tRPC's message for invalid input is the issues as pretty-printed JSON; say them in one line.
    return {
      ...shape,
      message: invalidInputMessage(error.cause),
      data: { ...shape.data, zodError: error.cause.flatten() },
    }
  },
})

/** `Invalid input: id: must be a positive integer id; first: Number must be less than or equal to 100`. */
function invalidInputMessage(error: ZodError): string {
  const issues = error.issues.map((issue) =>
    issue.path.length === 0 ? issue.message : `${issue.path.join('.')}: ${issue.message}`,
  )
  return `Invalid input: ${issues.join('; ')}`
}

/** loadcache's tRPC helpers bound to one cache and the example's loader definitions. */
export function createExampleLoadCacheTRPC(cache: LoadCache, loaderDefinitions: LoaderDefinitions) {
  return createLoadCacheTRPC(t, { cache, loaders: loaderDefinitions })
}

/** What {@link createExampleLoadCacheTRPC} returns: `createContext`, `cached`, `invalidates`, `responseMeta`. */
export type ExampleLoadCacheTRPC = ReturnType<typeof createExampleLoadCacheTRPC>

/** TTLs in seconds, the same as the `@cached` fields of schema.graphql that serve the same data. */
const ENTITY_TTL = 60
const LIST_TTL = 30
/** `first` when a post list does not say, as `Query.posts` in schema.graphql. */
const DEFAULT_PAGE_SIZE = 20

/** An id as the database accepts it (a canonical positive integer); anything else is bad input. */
const id = z.string().refine((value) => parseId(value) !== null, 'must be a positive integer id')

/** What anyone may see of a user: no email (GraphQL shows it only to its owner). */
const publicUser = z.object({ id: z.string(), name: z.string() })
/** The viewer's own user, with the email. */
const viewerUser = publicUser.extend({ email: z.string() })
const post = z.object({
  id: z.string(),
  authorId: z.string(),
  title: z.string(),
  body: z.string(),
  /** ISO 8601, UTC. */
  createdAt: z.string(),
})

const byId = z.object({ id })
type ById = z.infer<typeof byId>

/**
 * Mutations need a viewer, as in GraphQL (graphql/require-viewer.ts): `UNAUTHORIZED` (401) without
 * `authorization: Bearer <userId>`, before the input is parsed, so an anonymous client learns nothing
 * from its input's errors, and nothing is written or evicted.
 */
const requireViewer = t.middleware(({ ctx, next }) => {
  if (ctx.viewerId === null) {
    throw new TRPCError({
      code: 'UNAUTHORIZED',
      message: 'Mutations need a signed-in viewer: send `authorization: Bearer <userId>`.',
    })
  }
  return next({ ctx: { viewerId: ctx.viewerId } })
})

/** The procedure every mutation starts from. */
const viewerProcedure = t.procedure.use(requireViewer)

/**
 * The example API over tRPC: the same data, database, cache and tags as GraphQL.
 *
 * - Queries read through `ctx.loaders` (the GraphQL resolvers' loader definitions) and are cached with
 *   `lc.cached`, placed after `.input()` (invalid input is rejected before any cache access) and after
 *   `.output()` (the output validator also runs on cached values). Their tags are GraphQL's: `User:<id>`,
 *   `Post:<id>`, `posts`, so GraphQL's mutations evict them.
 * - Mutations need a viewer (`UNAUTHORIZED` without one) and call writes.ts, the functions GraphQL's
 *   mutations call: same write, same evictions, so they evict what GraphQL serves as well as what tRPC
 *   serves. That is why they need no `lc.invalidates`, which would only evict the same tags a second time.
 *
 * @param lc from {@link createExampleLoadCacheTRPC}, for the cache the server's GraphQL side uses.
 */
export function createAppRouter(lc: ExampleLoadCacheTRPC) {
  return t.router({
    user: t.router({
      /** A user, or null when there is none. */
      byId: t.procedure
        .input(byId)
        .output(publicUser.nullable())
        // `User:<id>` even for a null result, as GraphQL's `user(id)`.
        .use(lc.cached<ById>({ ttl: ENTITY_TTL, entity: 'User', tags: ({ input }) => [userTag(input.id)] }))
        .query(async ({ ctx, input }) => toPublicUser(await ctx.loaders.user.load(input.id))),

      /** Changes a user's name and/or email; null when there is no such user. */
      update: viewerProcedure
        .input(
          z.object({
            id,
            name: z.string().min(1).max(200).optional(),
            email: z.string().email().max(200).optional(),
          }),
        )
        .output(publicUser.nullable())
        .mutation(async ({ ctx, input }) =>
          toPublicUser(await updateUser(ctx, input.id, { name: input.name, email: input.email })),
        ),
    }),

    post: t.router({
      /** A page of posts, newest first; `after` is the id of the last post of the previous page. */
      list: t.procedure
        .input(
          z
            .object({
              first: z.number().int().min(0).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
              after: id.nullish(),
            })
            .default({}),
        )
        .output(z.array(post))
        .use(lc.cached({ ttl: LIST_TTL, entity: 'Post', tags: () => [POSTS_TAG] }))
        .query(({ ctx, input }) => listPosts(ctx, input)),

      /** A post, or null when there is none. */
      byId: t.procedure
        .input(byId)
        .output(post.nullable())
        // `Post:<id>` even for a null result, so creating that post evicts the cached "not found".
        .use(lc.cached<ById>({ ttl: ENTITY_TTL, entity: 'Post', tags: ({ input }) => [postTag(input.id)] }))
        .query(({ ctx, input }) => ctx.loaders.post.load(input.id)),

      /** Creates a post; `BAD_REQUEST` when the author does not exist. */
      create: viewerProcedure
        .input(z.object({ authorId: id, title: z.string().min(1).max(200), body: z.string().max(10_000) }))
        .output(post)
        .mutation(({ ctx, input }) => writeOrBadRequest(() => createPost(ctx, input))),

      /** Deletes a post and its comments; false when there is no such post. */
      delete: viewerProcedure
        .input(byId)
        .output(z.boolean())
        .mutation(({ ctx, input }) => deletePost(ctx, input.id)),
    }),

    viewer: t.router({
      /** The viewer (`authorization: Bearer <userId>`) with their email, or null without one. */
      me: t.procedure
        // No input: one sent anyway (`?input={"a":1}`) is a 400. Without a parser, the input would reach
        // lc.cached(), which cannot tell it from a cached() placed before .input() and fails with a 500.
        .input(z.void())
        .output(viewerUser.nullable())
        // PRIVATE: cached per viewer, and not at all for anonymous calls.
        .use(lc.cached({ ttl: ENTITY_TTL, scope: 'PRIVATE', entity: 'User' }))
        .query(async ({ ctx }) => {
          if (ctx.viewerId === null) return null
          const user = await ctx.loaders.user.load(ctx.viewerId)
          return user === null ? null : { id: user.id, name: user.name, email: user.email }
        }),
    }),
  })
}

/** The router's type, for clients: `createTRPCClient<AppRouter>(…)`. */
export type AppRouter = ReturnType<typeof createAppRouter>

function toPublicUser(user: UserRow | null): z.infer<typeof publicUser> | null {
  return user === null ? null : { id: user.id, name: user.name }
}

/** Runs a write, turning "your input refers to a row that does not exist" into `BAD_REQUEST`. */
async function writeOrBadRequest<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write()
  } catch (error) {
    if (error instanceof ReferenceNotFoundError) {
      throw new TRPCError({
        code: 'BAD_REQUEST',
        message: `${error.entity} ${JSON.stringify(error.id)} does not exist`,
        cause: error,
      })
    }
    throw error
  }
}
