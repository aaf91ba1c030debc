import { describe, expect, it } from 'vitest'
import type { SqlDriver } from '../../example-api/db/sql-driver.js'
import { createSqlExecutor } from '../../example-api/db/sql-executor.js'

/** A driver that records statements instead of running them. */
function fakeDriver(options: { fail?: boolean } = {}) {
  const statements: Array<{ text: string; params: readonly unknown[]; at: number }> = []
  let closeCalls = 0
  const driver: SqlDriver = {
    async query<Row>(text: string, params: readonly unknown[]): Promise<Row[]> {
      statements.push({ text, params, at: performance.now() })
      if (options.fail) throw new Error('boom')
      return [{ ok: true }] as Row[]
    },
    async close() {
      closeCalls += 1
    },
  }
  return { driver, statements, closeCalls: () => closeCalls }
}

describe('createSqlExecutor', () => {
  it('counts each statement once under the table it is attributed to', async () => {
    const { driver, statements } = fakeDriver()
    const sql = createSqlExecutor(driver, { delayMs: 0 })
    await sql.query('users', 'SELECT 1')
    await sql.query('posts', 'SELECT 2', [1])
    await sql.query('posts', 'SELECT 3')
    expect(sql.counts()).toEqual({ users: 1, posts: 2, comments: 0 })
    expect(statements.map((s) => s.text)).toEqual(['SELECT 1', 'SELECT 2', 'SELECT 3'])
    expect(statements[1]?.params).toEqual([1])
  })

  it('returns a snapshot, and resetCounts zeroes every table', async () => {
    const sql = createSqlExecutor(fakeDriver().driver, { delayMs: 0 })
    await sql.query('comments', 'SELECT 1')
    const snapshot = sql.counts()
    sql.resetCounts()
    expect(snapshot).toEqual({ users: 0, posts: 0, comments: 1 })
    expect(sql.counts()).toEqual({ users: 0, posts: 0, comments: 0 })
  })

  it('counts statements that fail', async () => {
    const sql = createSqlExecutor(fakeDriver({ fail: true }).driver, { delayMs: 0 })
    await expect(sql.query('users', 'SELECT 1')).rejects.toThrow('boom')
    expect(sql.counts().users).toBe(1)
  })

  it('waits delayMs before sending each statement', async () => {
    const { driver, statements } = fakeDriver()
    const sql = createSqlExecutor(driver, { delayMs: 40 })
    const start = performance.now()
    const pending = sql.query('users', 'SELECT 1')
    // Counted as soon as issued, before the delay has elapsed.
    expect(sql.counts().users).toBe(1)
    expect(statements).toHaveLength(0)
    await pending
    // Loose bound: timers never fire early by more than clock granularity.
    expect(statements[0]!.at - start).toBeGreaterThanOrEqual(35)
  })

  it('rejects statements after close and closes the driver only once', async () => {
    const fake = fakeDriver()
    const sql = createSqlExecutor(fake.driver, { delayMs: 0 })
    await sql.close()
    await sql.close()
    expect(fake.closeCalls()).toBe(1)
    await expect(sql.query('users', 'SELECT 1')).rejects.toThrow('Database is closed')
    expect(fake.statements).toHaveLength(0)
  })

  it('does not send a statement whose delay was still pending when close was called', async () => {
    const fake = fakeDriver()
    const sql = createSqlExecutor(fake.driver, { delayMs: 30 })
    const pending = sql.query('users', 'SELECT 1')
    await sql.close()
    await expect(pending).rejects.toThrow('Database is closed')
    expect(fake.statements).toHaveLength(0)
  })
})
