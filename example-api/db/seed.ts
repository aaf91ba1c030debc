import type { CountedTable, SqlExecutor } from './sql-executor.js'

/** Number of rows the seed creates in each table. */
export const SEED_SIZES = { users: 1_000, posts: 5_000, comments: 20_000 } as const

const { users: USERS, posts: POSTS, comments: COMMENTS } = SEED_SIZES

/**
 * One set-based `INSERT ... SELECT FROM generate_series` per table: the server builds all rows itself,
 * which takes milliseconds, where 26,000 single-row inserts would take seconds (even more with a delay).
 *
 * Every value is a pure integer expression of the series index `g`, so the data is identical on every
 * open and on every server: no random(), no now(), no floating point (libm rounding may differ between
 * the WASM build and a native server). The sizes interpolated below are the trusted constants above,
 * never input.
 *
 * Distributions are skewed on purpose so the demo has hot keys and a long tail:
 * - posts: h = (g * 7919) % POSTS is a permutation of 0..POSTS-1 (7919 is prime and coprime to POSTS), and
 *   author = 1 + h² / (POSTS² / 800) maps it Zipf-like onto users 1..800: user 1 writes ~177 posts, user
 *   800 about 3, and users 801..1000 none.
 * - comments: the same trick maps onto posts with the newest getting the most: post 5000 gets ~283 comments,
 *   the oldest about 2. Comment authors are spread evenly (37 is coprime to 1,000).
 * - created_at grows with the id, so "newest first" by id and by time agree.
 *
 * `ON CONFLICT (id) DO NOTHING` makes each insert idempotent, so two servers seeding the same empty
 * PostgreSQL at once both succeed with the same rows instead of one failing on duplicate keys.
 */
const SEED: ReadonlyArray<readonly [CountedTable, string]> = [
  [
    'users',
    `INSERT INTO users (id, name, email, org_id)
     SELECT g, 'User ' || g, 'user' || g || '@example.com', 1 + (g - 1) % 20
     FROM generate_series(1, ${USERS}) AS g
     ON CONFLICT (id) DO NOTHING`,
  ],
  [
    'posts',
    `INSERT INTO posts (id, author_id, title, body, created_at)
     SELECT
       g,
       1 + ((g * 7919) % ${POSTS}) * ((g * 7919) % ${POSTS}) / ${(POSTS * POSTS) / 800},
       'Post ' || g || ': '
         || (ARRAY['Notes on', 'Thoughts on', 'A guide to', 'Lessons from', 'Why I like', 'Debugging',
                   'Scaling', 'Testing'])[1 + g % 8] || ' '
         || (ARRAY['caching', 'GraphQL', 'tRPC', 'Redis', 'DataLoader', 'Postgres', 'TypeScript',
                   'batching', 'invalidation', 'latency'])[1 + (g / 8) % 10],
       'Post ' || g || ' body. ' || repeat('Lorem ipsum dolor sit amet, consectetur adipiscing elit. ', 1 + g % 4),
       timestamptz '2024-01-01 00:00:00+00' + g * interval '37 minutes'
     FROM generate_series(1, ${POSTS}) AS g
     ON CONFLICT (id) DO NOTHING`,
  ],
  [
    'comments',
    `INSERT INTO comments (id, post_id, author_id, body)
     SELECT
       g,
       ${POSTS} - ((g * 7919) % ${COMMENTS}) * ((g * 7919) % ${COMMENTS}) / ${(COMMENTS * COMMENTS) / POSTS},
       1 + (g * 37) % ${USERS},
       'Comment ' || g || ': '
         || (ARRAY['Great post!', 'I disagree.', 'Thanks for sharing.', 'Can you elaborate?',
                   'This helped me a lot.', 'Interesting take.'])[1 + g % 6]
     FROM generate_series(1, ${COMMENTS}) AS g
     ON CONFLICT (id) DO NOTHING`,
  ],
]

/**
 * Seeds each table that is empty, in dependency order. Tables are checked one by one so a seed that was
 * interrupted half way (say, after users) is completed on the next open, while a table holding data,
 * seeded or not, is never touched.
 *
 * @returns the tables that were seeded
 */
export async function seedIfEmpty(sql: SqlExecutor): Promise<CountedTable[]> {
  const seeded: CountedTable[] = []
  for (const [table, insert] of SEED) {
    const [row] = await sql.query<{ has_rows: boolean }>(
      table,
      `SELECT EXISTS (SELECT 1 FROM ${table}) AS has_rows`,
    )
    if (row?.has_rows) continue
    await sql.query(table, insert)
    // Explicit ids bypass the identity sequence; move it past them so the next INSERT without an id does
    // not collide with a seeded row.
    await sql.query(
      table,
      `SELECT setval(pg_get_serial_sequence('${table}', 'id'), (SELECT max(id) FROM ${table}))`,
    )
    seeded.push(table)
  }
  return seeded
}
