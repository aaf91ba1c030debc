import { formatId, parseId, parseIds } from './ids.js'
import type { UserPatch, UserRow } from './rows.js'
import type { SqlExecutor } from './sql-executor.js'

/** Column list shared by every statement returning users, aliased to the {@link UserRow} field names. */
const USER_COLUMNS = 'id, name, email, org_id AS "orgId"'

interface RawUser {
  id: number
  name: string
  email: string
  orgId: number
}

function toUserRow(raw: RawUser): UserRow {
  return { id: formatId(raw.id), name: raw.name, email: raw.email, orgId: formatId(raw.orgId) }
}

/**
 * Loads users by id in one statement (none when no id is valid).
 *
 * @returns the users found, keyed by id; unknown and unparsable ids are absent.
 */
export async function usersByIds(sql: SqlExecutor, ids: readonly string[]): Promise<Map<string, UserRow>> {
  const keys = parseIds(ids)
  const users = new Map<string, UserRow>()
  if (keys.length === 0) return users
  const rows = await sql.query<RawUser>(
    'users',
    `SELECT ${USER_COLUMNS} FROM users WHERE id = ANY($1::int[])`,
    [keys],
  )
  for (const raw of rows) users.set(formatId(raw.id), toUserRow(raw))
  return users
}

/**
 * Changes a user's name and/or email in one statement.
 *
 * @returns the updated row, or `null` when no such user exists.
 */
export async function updateUser(sql: SqlExecutor, id: string, patch: UserPatch): Promise<UserRow | null> {
  const key = parseId(id)
  if (key === null) return null
  // COALESCE keeps the current value for fields the patch leaves out, so one statement serves every
  // combination of fields.
  const [raw] = await sql.query<RawUser>(
    'users',
    `UPDATE users SET name = COALESCE($2::text, name), email = COALESCE($3::text, email)
     WHERE id = $1::int RETURNING ${USER_COLUMNS}`,
    [key, patch.name ?? null, patch.email ?? null],
  )
  return raw ? toUserRow(raw) : null
}
