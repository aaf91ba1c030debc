/**
 * The smallest surface the database layer needs from a PostgreSQL client. Both the embedded PGlite and
 * a `pg` Pool are adapted to it, so everything above (schema, seed, queries, counting, delay) is shared.
 */
export interface SqlDriver {
  /** Runs exactly one parameterised statement and resolves with its result rows. */
  query<Row>(text: string, params: readonly unknown[]): Promise<Row[]>
  /** Releases every resource (connections, WASM instance). */
  close(): Promise<void>
}

/** Which driver backs a database. */
export type DriverKind = 'pglite' | 'postgres'
