import type DataLoader from 'dataloader'
import type { PostIdPageArgs, PostRow } from './db/index.js'
import type { WriteContext } from './writes.js'

/*
 * Reads shared by the GraphQL resolvers and the tRPC procedures. Every read goes through the request's
 * loaders, except the page of ids behind a post list: a range query no per-id loader can express (the
 * cached GraphQL field `posts` and the cached procedure `post.list` cache it, tagged `posts`).
 */

/**
 * One page of posts, newest first: one SQL statement for the page of ids, then the rows through the
 * `post` loader (one batch, usually cached).
 *
 * @throws RangeError when `first` is not an integer from 0 to `MAX_PAGE_SIZE` (callers validate it first,
 * to report it as bad input), or the first per-id error of the batch.
 */
export async function listPosts(
  { db, loaders }: Pick<WriteContext, 'db' | 'loaders'>,
  page: PostIdPageArgs,
): Promise<PostRow[]> {
  const { ids } = await db.listPostIds(page)
  return loadPresent(loaders.post, ids)
}

/**
 * Loads a list of ids (one batch), keeping the order and dropping ids whose row is gone. A list and its
 * rows are cached separately, so a list may briefly name a row deleted since; skipping it keeps non-null
 * list items valid instead of failing the whole list.
 *
 * @throws the first per-id error (e.g. the database failed for that batch).
 */
export async function loadPresent<V>(
  loader: DataLoader<string, V | null>,
  ids: readonly string[],
): Promise<V[]> {
  const values = await loader.loadMany(ids)
  const present: V[] = []
  for (const value of values) {
    if (value instanceof Error) throw value
    if (value !== null && value !== undefined) present.push(value)
  }
  return present
}
