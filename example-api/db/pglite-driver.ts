import type { SqlDriver } from './sql-driver.js'

/**
 * Starts an embedded PGlite (PostgreSQL compiled to WASM) in this process.
 *
 * @param dataDir directory to persist the database in; in memory when omitted.
 */
export async function createPgliteDriver(dataDir?: string): Promise<SqlDriver> {
  // Imported lazily so a server configured for a real PostgreSQL never loads the WASM bundle.
  const { PGlite } = await import('@electric-sql/pglite')
  const db = await PGlite.create(dataDir === undefined ? {} : { dataDir })
  return {
    async query<Row>(text: string, params: readonly unknown[]): Promise<Row[]> {
      // `query` uses the extended protocol: one statement, parameters sent separately from the text.
      const result = await db.query<Row>(text, [...params])
      return result.rows
    },
    async close(): Promise<void> {
      if (!db.closed) await db.close()
    },
  }
}
