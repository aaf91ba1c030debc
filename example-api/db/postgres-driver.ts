import type { SqlDriver } from './sql-driver.js'

/** Options of {@link createPostgresDriver}. */
export interface PostgresDriverOptions {
  /** `postgres://` or `postgresql://` connection string. */
  connectionString: string
  /** Maximum number of pooled connections. */
  poolSize: number
}

/** Connects a `pg` connection pool to a PostgreSQL server. */
export async function createPostgresDriver(options: PostgresDriverOptions): Promise<SqlDriver> {
  // Imported lazily so the default embedded setup does not need `pg` at all.
  const { Pool } = await import('pg')
  const pool = new Pool({ connectionString: options.connectionString, max: options.poolSize })
  // An idle pooled client can fail (server restart, network drop); without a listener the pool's 'error'
  // event would crash the process. Logging is enough: the next query simply gets a fresh connection.
  pool.on('error', (error) => {
    console.warn(`database pool: idle connection failed: ${error.message}`)
  })
  let ended = false
  return {
    async query<Row>(text: string, params: readonly unknown[]): Promise<Row[]> {
      const result = await pool.query(text, [...params])
      return result.rows as Row[]
    },
    async close(): Promise<void> {
      // Pool#end rejects when called twice; close() is meant to be safe to repeat.
      if (ended) return
      ended = true
      await pool.end()
    },
  }
}
