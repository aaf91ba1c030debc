import { setTimeout as sleep } from 'node:timers/promises'
import type { SqlDriver } from './sql-driver.js'

/** Tables whose statements are counted. */
export type CountedTable = 'users' | 'posts' | 'comments'

/** Number of SQL statements issued per table since the last reset. */
export interface QueryCounts {
  users: number
  posts: number
  comments: number
}

/**
 * The only code that sends SQL to a driver. Funnelling every statement through here is what makes the
 * query counts trustworthy and the artificial latency uniform.
 *
 * Counting rule: every statement is counted exactly once, under the table passed as `table`, which is the
 * *primary* table of the statement: the table it writes (INSERT/UPDATE/DELETE target, DDL subject) or,
 * for reads, the table whose rows or aggregates it returns. Tables consulted only to filter or to check
 * existence are not counted. For example `postIdsByAuthorIds` joins users to posts but returns post ids,
 * so it counts as one `posts` statement; `deletePost` also deletes the post's comments but counts as one
 * `posts` statement. Statements are counted when issued, before the delay, including ones that then fail.
 */
export interface SqlExecutor {
  /**
   * Sends one parameterised statement (after the configured delay) and resolves with its rows.
   *
   * @param table primary table of the statement, see the counting rule above
   * @param text SQL text with `$1`-style placeholders; never interpolate caller input into it
   * @param params placeholder values
   */
  query<Row>(table: CountedTable, text: string, params?: readonly unknown[]): Promise<Row[]>
  /** A snapshot of the statement counts. */
  counts(): QueryCounts
  /** Sets every count back to zero. */
  resetCounts(): void
  /** Closes the driver; later queries reject. Safe to call more than once. */
  close(): Promise<void>
}

/** Options of {@link createSqlExecutor}. */
export interface SqlExecutorOptions {
  /** Milliseconds every statement waits before it is sent, modelling a database across a network. */
  delayMs: number
}

/** Wraps a driver with statement counting and the artificial per-statement delay. */
export function createSqlExecutor(driver: SqlDriver, options: SqlExecutorOptions): SqlExecutor {
  const { delayMs } = options
  let counts: QueryCounts = { users: 0, posts: 0, comments: 0 }
  let closing: Promise<void> | undefined

  return {
    async query<Row>(table: CountedTable, text: string, params: readonly unknown[] = []): Promise<Row[]> {
      if (closing) throw new Error('Database is closed')
      counts[table] += 1
      if (delayMs > 0) await sleep(delayMs)
      // Checked again: close() may have been called while this statement was waiting out its delay.
      if (closing) throw new Error('Database is closed')
      return driver.query<Row>(text, params)
    },
    counts(): QueryCounts {
      return { ...counts }
    },
    resetCounts(): void {
      counts = { users: 0, posts: 0, comments: 0 }
    },
    close(): Promise<void> {
      closing ??= driver.close()
      return closing
    },
  }
}
