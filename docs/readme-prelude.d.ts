/*
 * What the README's code blocks assume without showing it: the app around them. scripts/check-readme.ts
 * type-checks every ```ts block of README.md with this file. Declare here what a reader would have in
 * their own app (a database, a way to tell the viewer), never what loadcache provides: a snippet must
 * import that itself, as the reader will.
 */

/** A row of the app's users table. */
interface User {
  id: string
  name: string
  orgId: number
}

interface Post {
  id: string
  title: string
  authorId: string
}

/** The app's data access: typical drivers take mutable arrays. */
declare const db: {
  usersByIds(ids: string[]): Promise<User[]>
  postsByIds(ids: string[]): Promise<Post[]>
  updateUser(input: { id: string; name: string; orgId: number }): Promise<User>
}

/** The viewer's id from a request (a session, a token), or null for anonymous requests. */
declare function viewerIdFrom(request: unknown): string | null

/** Made in the first example, used by the GraphQL and tRPC ones. */
declare const cache: import('loadcache').LoadCache
declare const user: import('loadcache').LoaderDefinition<string, User>
declare const post: import('loadcache').LoaderDefinition<string, Post>

/** The GraphQL example's resolvers (written as in any graphql-tools schema). */
declare const resolvers: Record<string, Record<string, (...args: never[]) => unknown>>

/** The tRPC example's zod schemas (the values are also named User; zod's usual style). */
declare const User: import('zod').ZodType<User>
declare const UpdateUser: import('zod').ZodType<{ id: string; name: string; orgId: number }>

/** The app's CDN client (Fastly, Cloudflare…): purges cached responses by surrogate key / cache tag. */
declare const cdn: { purgeTags(tags: readonly string[]): Promise<void> }
