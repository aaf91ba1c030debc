import { addComment, commentIdsByPostIds, commentsByIds } from './comment-queries.js'
import type { Database, OpenDatabaseOptions } from './database.js'
import { createPgliteDriver } from './pglite-driver.js'
import {
  createPost,
  deletePost,
  listPostIds,
  postCountsByAuthorIds,
  postIdsByAuthorIds,
  postsByIds,
} from './post-queries.js'
import { createPostgresDriver } from './postgres-driver.js'
import { ensureSchema } from './schema.js'
import { seedIfEmpty } from './seed.js'
import type { DriverKind, SqlDriver } from './sql-driver.js'
import { createSqlExecutor, type SqlExecutor } from './sql-executor.js'
import { updateUser, usersByIds } from './user-queries.js'

const DEFAULT_POOL_SIZE = 10

const POSTGRES_URL = /^postgres(ql)?:\/\//i

/**
 * Opens the example API's database: an embedded PGlite by default, or a PostgreSQL server when
 * `databaseUrl` is given. Either way the schema is created if missing and empty tables are seeded with the
 * same deterministic data (1,000 users, 5,000 posts, 20,000 comments). Query counts start at zero.
 *
 * @throws Error when `databaseUrl` is not a `postgres://`/`postgresql://` URL.
 * @throws RangeError when `delayMs` or `poolSize` is out of range.
 */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  const delayMs = options.delayMs ?? 0
  if (!Number.isFinite(delayMs) || delayMs < 0) {
    throw new RangeError(`openDatabase: delayMs must be a finite number >= 0, got ${delayMs}`)
  }
  const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE
  if (!Number.isInteger(poolSize) || poolSize < 1) {
    throw new RangeError(`openDatabase: poolSize must be a positive integer, got ${poolSize}`)
  }
  const databaseUrl = options.databaseUrl || undefined
  if (databaseUrl !== undefined && !POSTGRES_URL.test(databaseUrl)) {
    // Only the scheme is echoed: the rest of the URL may contain a password.
    const scheme = databaseUrl.split(':', 1)[0]
    throw new Error(
      `openDatabase: databaseUrl must start with postgres:// or postgresql://, got ${scheme}:...`,
    )
  }

  const driverKind: DriverKind = databaseUrl === undefined ? 'pglite' : 'postgres'
  const driver: SqlDriver =
    databaseUrl === undefined
      ? await createPgliteDriver(options.dataDir)
      : await createPostgresDriver({ connectionString: databaseUrl, poolSize })
  const sql = createSqlExecutor(driver, { delayMs })
  try {
    await ensureSchema(sql)
    await seedIfEmpty(sql)
  } catch (error) {
    await sql.close()
    throw error
  }
  // Setup statements are not what callers want to measure.
  sql.resetCounts()
  return bindDatabase(sql, driverKind)
}

/** Binds the query functions to one executor, producing the public {@link Database} object. */
function bindDatabase(sql: SqlExecutor, driver: DriverKind): Database {
  return {
    driver,
    usersByIds: (ids) => usersByIds(sql, ids),
    postsByIds: (ids) => postsByIds(sql, ids),
    postIdsByAuthorIds: (authorIds) => postIdsByAuthorIds(sql, authorIds),
    postCountsByAuthorIds: (authorIds) => postCountsByAuthorIds(sql, authorIds),
    commentIdsByPostIds: (postIds) => commentIdsByPostIds(sql, postIds),
    commentsByIds: (ids) => commentsByIds(sql, ids),
    listPostIds: (args) => listPostIds(sql, args),
    updateUser: (id, patch) => updateUser(sql, id, patch),
    createPost: (input) => createPost(sql, input),
    deletePost: (id) => deletePost(sql, id),
    addComment: (input) => addComment(sql, input),
    queryCounts: () => sql.counts(),
    resetQueryCounts: () => sql.resetCounts(),
    close: () => sql.close(),
  }
}
