/**
 * Database layer of the example API: `openDatabase` plus the types callers need. Lower-level pieces
 * (drivers, executor, individual query functions) stay importable from their own modules for tests.
 */
export type { Database, OpenDatabaseOptions } from './database.js'
export { type ReferencedEntity, ReferenceNotFoundError } from './errors.js'
export { openDatabase } from './open-database.js'
export {
  type CommentRow,
  MAX_PAGE_SIZE,
  type NewComment,
  type NewPost,
  type PostIdPage,
  type PostIdPageArgs,
  type PostRow,
  type UserPatch,
  type UserRow,
} from './rows.js'
export { SEED_SIZES } from './seed.js'
export type { DriverKind } from './sql-driver.js'
export type { CountedTable, QueryCounts } from './sql-executor.js'
