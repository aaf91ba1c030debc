import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeSegment } from '../../src/core/keys.js'
import { createCache, defineLoader, jsonSerializer, type LoadCache } from '../../src/index.js'
import { responseSerializer, storedResponse } from '../../src/response/stored-response.js'
import { uniqueNamespace, waitFor } from '../helpers/cache.js'
import { freePort, type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { type InspectRun, inspect } from './run-inspect.js'

/* `loadcache inspect`, run as a process (tsx on the source) against a redis-server this file starts. */

/** `inspect --loader <loader> --id <id>` against this file's redis-server and namespace. */
function inspectEntry(loader: string, id: string, ...more: string[]): Promise<InspectRun> {
  return inspect('--redis', redis.url, '--namespace', namespace, '--loader', loader, '--id', id, ...more)
}

interface User {
  id: string
  orgId: number
  since: Date
  roles: Map<string, bigint>
}

let redis: RedisServer
/** A client of the test's own, to read what the library stored. */
let reader: Redis
let cache: LoadCache
/** A second cache on the same namespace, like another process: it waits on the slow fetch's lock. */
let waiter: LoadCache
let namespace: string
let releaseFetch: () => void
const filling = new Promise<void>((resolve) => {
  releaseFetch = resolve
})

const user = defineLoader({
  name: 'user',
  entity: 'User',
  tags: (_id, row: User) => [`org:${row.orgId}`],
  fetch: (ids: readonly string[]) =>
    ids.map((id): User | null =>
      id === 'ghost' ? null : { id, orgId: 7, since: new Date(0), roles: new Map([['admin', 1n]]) },
    ),
})
const post = defineLoader({
  name: 'post',
  serializer: jsonSerializer,
  fetch: (ids: readonly string[]) => ids.map((id) => ({ id, title: `post ${id}` })),
})
/** A fetch that waits until the test lets it finish: its id stays locked meanwhile. */
const slow = defineLoader({
  name: 'slow',
  fetch: async (ids: readonly string[]) => {
    await filling
    return ids.map(() => 'done')
  },
})
/**
 * Stored responses as the response tier stores them (its loader name, its serializer, tagged, written by
 * the same write script), without a GraphQL server in this file.
 */
const responses = defineLoader({
  name: '_response',
  serializer: responseSerializer,
  tags: () => ['Query'],
  fetch: (ids: readonly string[]) =>
    ids.map(() => storedResponse('{"data":{"hello":"world"}}', 'public, max-age=60', 1_000)),
})
let slowLoad: Promise<unknown>
let waiterLoad: Promise<unknown>

/** The version of a tag in Redis now, read directly (the key layout of redis/scripts.ts). */
function tagVersion(tag: string, ns = namespace): Promise<string | null> {
  return reader.get(`${ns}:t:${encodeSegment(tag)}`)
}

/** The version org:7 had when user 1 was stored, before the invalidation. */
let org7Recorded: string | null

beforeAll(async () => {
  redis = await startRedisServer()
  reader = redis.client()
  namespace = uniqueNamespace()
  // Long TTLs: every entry, the cached "not found" and the slow fetch's lock must outlive the whole file,
  // however slowly a busy machine runs it.
  const options = {
    namespace,
    ttl: 3600,
    negativeTtl: 3600,
    lockTtlMs: 3_600_000,
    lockWaitMs: 3_600_000,
  }
  cache = createCache({ ...options, redis: redis.client() })
  waiter = createCache({ ...options, redis: redis.client() })
  expect(await cache.ready()).toBe(true)
  expect(await waiter.ready()).toBe(true)
  const loaders = cache.loaders({ user, post, slow, responses })
  await loaders.user.loadMany(['1', 'ghost'])
  await loaders.post.load('1')
  await loaders.responses.load('hello')
  org7Recorded = await tagVersion('org:7')
  // After user 1 was stored: its entry no longer holds against org:7.
  await cache.invalidateTags(['org:7'])
  slowLoad = loaders.slow.load('1')
  await waitFor(() => cache.stats().loaders.slow?.fetchCalls === 1, 'the slow fetch to start')
  // Another process wants the same id: it finds the lock taken, marks it, and waits for the fill's notice.
  waiterLoad = waiter.loaders({ slow }).slow.load('1')
  await waitFor(() => waiter.stats().loaders.slow?.lockWaits === 1, 'the second cache to wait on the lock')
})

afterAll(async () => {
  releaseFetch()
  await slowLoad
  await waiterLoad
  await waiter?.close()
  await cache?.close()
  await redis?.dispose()
})

describe('loadcache inspect --loader --id', () => {
  it("decodes an entry by its serializer and shows its TTL, each tag's version and whether it still holds", async () => {
    const { code, stdout } = await inspectEntry('user', '1')
    expect(code).toBe(0)
    expect(stdout).toContain(`entry user "1"  (key ${namespace}:{user:1})`)
    expect(stdout).toContain('serializer devalue 6 (d6)')
    expect(stdout).toContain(
      "value      { id: '1', orgId: 7, since: 1970-01-01T00:00:00.000Z, roles: Map(1) { 'admin' => 1n } }",
    )
    expect(stdout).toMatch(/ttl {8}\d+\.\d s left in Redis/)
    // Each tag: the version the entry recorded, the tag's version now, and whether it still holds.
    const user1 = await tagVersion('User:1')
    const org7 = await tagVersion('org:7')
    expect(user1).toMatch(/^c\d+$/) // created by the write that stored user 1
    expect(org7Recorded).toMatch(/^c\d+$/)
    expect(org7).toMatch(/^\d+$/) // set by the invalidation
    expect(stdout).toContain(`tags       User:1  recorded ${user1}  current ${user1}  holds\n`)
    expect(stdout).toMatch(
      new RegExp(
        `\n {13}org:7   recorded ${org7Recorded}  current ${org7}  does not hold: invalidated \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\n`,
      ),
    )
    expect(stdout).toContain(
      "valid      no: a tag's version is not the one it recorded, so the next read deletes it and fetches again",
    )
    expect(stdout).toContain('lock       none')
  })

  it('shows a JSON entry, and a cached "not found"', async () => {
    const json = await inspectEntry('post', '1')
    expect(json.stdout).toContain('serializer JSON (j)')
    expect(json.stdout).toContain("value      { id: '1', title: 'post 1' }")
    expect(json.stdout).toContain('valid      yes')
    const absent = await inspectEntry('user', 'ghost')
    expect(absent.stdout).toContain(
      'value      absent: the source returned nothing for this id (a cached "not found")',
    )
  })

  it('shows who holds the lock of an id being fetched', async () => {
    const { stdout } = await inspectEntry('slow', '1')
    expect(stdout).toContain('value      not in Redis: the next load fetches it')
    expect(stdout).toMatch(
      /lock {7}held by \S+\.\d+ \(a fill in progress\), \d+\.\d s left; another caller waits for it\n/,
    )
  })

  it('shows a stored response (r1) with its headers and body', async () => {
    const { stdout } = await inspectEntry('_response', 'hello')
    expect(stdout).toContain('serializer stored response (r1)')
    expect(stdout).toMatch(
      /response {3}public, max-age=60, ETag "[\w-]{27}", stored 1970-01-01T00:00:01\.000Z/,
    )
    expect(stdout).toContain('body       {"data":{"hello":"world"}}')
    const query = await tagVersion('Query')
    expect(stdout).toContain(`tags       Query  recorded ${query}  current ${query}  holds\n`)
    expect(stdout).toContain('valid      yes')
  })

  it('prints the report as JSON with --json', async () => {
    const { stdout } = await inspectEntry('post', '1', '--json')
    const report = JSON.parse(stdout)
    expect(report.entry).toMatchObject({
      loader: 'post',
      id: '1',
      key: `${namespace}:{post:1}`,
      entry: {
        valid: true,
        tags: [],
        payload: { kind: 'value', serializer: 'JSON (j)', inspected: "{ id: '1', title: 'post 1' }" },
      },
    })
    const user1 = await inspectEntry('user', '1', '--json')
    expect(JSON.parse(user1.stdout).entry.entry).toMatchObject({
      valid: false,
      tags: [
        {
          tag: 'User:1',
          recorded: await tagVersion('User:1'),
          current: await tagVersion('User:1'),
          holds: true,
        },
        { tag: 'org:7', recorded: org7Recorded, current: await tagVersion('org:7'), holds: false },
      ],
    })
  })
})

describe('loadcache inspect: whether a tag still holds', () => {
  const note = defineLoader({
    name: 'note',
    tags: (id: string) => [`topic:${id}`],
    fetch: (ids: readonly string[]) => ids.map((id) => ({ id, text: `note ${id}` })),
  })

  /** A cache of its own on a fresh namespace, with note `id` stored in Redis. */
  async function storedNote(id: string) {
    const ns = uniqueNamespace()
    const own = createCache({ namespace: ns, redis: redis.client(), ttl: 3600 })
    expect(await own.ready()).toBe(true)
    await own.loaders({ note }).note.load(id)
    const report = async () => {
      const run = await inspect('--redis', redis.url, '--namespace', ns, '--loader', 'note', '--id', id)
      const json = await inspect(
        '--redis',
        redis.url,
        '--namespace',
        ns,
        '--loader',
        'note',
        '--id',
        id,
        '--json',
      )
      return { stdout: run.stdout, entry: JSON.parse(json.stdout).entry.entry }
    }
    return { ns, cache: own, report }
  }

  it('shows a tag invalidated by cache.invalidateTags as no longer holding', async () => {
    const { ns, cache: own, report } = await storedNote('a')
    try {
      const created = await tagVersion('topic:a', ns)
      expect(created).toMatch(/^c\d+$/)
      const before = await report()
      expect(before.entry).toMatchObject({
        valid: true,
        tags: [{ tag: 'topic:a', recorded: created, current: created, holds: true }],
      })
      expect(before.stdout).toContain(`tags       topic:a  recorded ${created}  current ${created}  holds\n`)

      await own.invalidateTags(['topic:a'])
      const invalidated = await tagVersion('topic:a', ns)
      expect(invalidated).toMatch(/^\d+$/)
      expect(invalidated).toBe(await reader.get(`${ns}:clock`))
      const after = await report()
      // The entry is still in Redis (inspect only reads; the next load would delete it), and no longer holds.
      expect(after.entry).toMatchObject({
        valid: false,
        tags: [{ tag: 'topic:a', recorded: created, current: invalidated, holds: false }],
      })
      expect(after.stdout).toMatch(
        new RegExp(
          `tags {7}topic:a  recorded ${created}  current ${invalidated}  does not hold: invalidated \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\n`,
        ),
      )
      expect(after.stdout).toContain("valid      no: a tag's version is not the one it recorded")
      expect(await reader.exists(`${ns}:{note:a}`)).toBe(1)
    } finally {
      await own.close()
    }
  })

  it('shows a tag whose version is gone (evicted) as not holding', async () => {
    const { ns, cache: own, report } = await storedNote('b')
    try {
      const created = await tagVersion('topic:b', ns)
      expect(created).toMatch(/^c\d+$/)
      // What allkeys-lru does to a version under memory pressure.
      await reader.del(`${ns}:t:${encodeSegment('topic:b')}`)
      const { stdout, entry } = await report()
      expect(entry).toMatchObject({
        valid: false,
        tags: [{ tag: 'topic:b', recorded: created, current: null, holds: false }],
      })
      expect(stdout).toContain(
        `tags       topic:b  recorded ${created}  current missing  does not hold: the tag has no version in Redis (expired or evicted)\n`,
      )
      expect(stdout).toContain("valid      no: a tag's version is not the one it recorded")
    } finally {
      await own.close()
    }
  })
})

describe('loadcache inspect --tags and --counts', () => {
  it('shows the current version of each tag: created by a write, set by an invalidation, or none', async () => {
    const { code, stdout } = await inspect(
      '--redis',
      redis.url,
      '--namespace',
      namespace,
      '--tags',
      'org:7,User:1,nobody',
    )
    expect(code).toBe(0)
    const clock = await reader.get(`${namespace}:clock`)
    expect(await tagVersion('org:7')).toBe(clock) // the invalidation set org:7 to the new clock value
    expect(stdout).toMatch(new RegExp(`tags {2}\\(tag clock ${clock} \\(\\d{4}-.+Z\\)\\)`))
    expect(stdout).toMatch(new RegExp(`org:7 {3}version ${clock} \\(invalidated \\d{4}-.+Z\\)\n`))
    expect(stdout).toMatch(
      new RegExp(
        `User:1  version ${await tagVersion('User:1')} \\(created \\d{4}-.+Z by a write; not invalidated since\\)\n`,
      ),
    )
    expect(stdout).toContain(
      'nobody  no version (no entry carrying it written, nor invalidated, within the tag TTL; or evicted)',
    )
  })

  it('counts entries, locks and waited-on locks per loader, and tag versions by kind', async () => {
    const { stdout } = await inspect('--redis', redis.url, '--namespace', namespace, '--counts')
    expect(stdout).toContain(`keys of namespace "${namespace}" (SCAN)`)
    expect(stdout).toMatch(/loader +entries +locks +waited\n/)
    expect(stdout).toMatch(/_response +1 +0 +0\n/)
    expect(stdout).toMatch(/post +1 +0 +0\n/)
    expect(stdout).toMatch(/slow +0 +1 +1\n/)
    expect(stdout).toMatch(/user +2 +0 +0\n/)
    // Created by the writes that first carried them: User:1, User:ghost, Query. Set by the invalidation:
    // org:7 and its bucket (see bucketTag).
    expect(stdout).toContain('tag versions  5 (3 created by writes, 2 set by invalidations)')
    expect(stdout).not.toContain('other keys')
  })

  it('needs only the read commands the README lists (+get +pttl +mget +scan +ping): it writes nothing', async () => {
    const username = `inspect-${namespace}`
    await reader.call(
      'ACL',
      'SETUSER',
      username,
      'on',
      '>inspect-pw',
      `~${namespace}:*`,
      '+get',
      '+pttl',
      '+mget',
      '+scan',
      '+ping',
    )
    const url = redis.url.replace('redis://', `redis://${username}:inspect-pw@`)
    const before = await reader.info('commandstats')
    for (const args of [['--loader', 'user', '--id', '1'], ['--tags', 'User:1,org:7'], ['--counts']]) {
      const asAdmin = await inspect('--redis', redis.url, '--namespace', namespace, ...args)
      const limited = await inspect('--redis', url, '--namespace', namespace, ...args)
      expect(limited.stderr).toBe('')
      expect(limited.code).toBe(0)
      // The same report, but for the times it shows.
      const timeless = (text: string) =>
        text.replace(/[\d.]+ s\b/g, 'N s').replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'T')
      expect(timeless(limited.stdout)).toBe(timeless(asAdmin.stdout))
    }
    // And no write command ran meanwhile on the server (the cache under test is idle).
    const writes = (stats: string) =>
      stats
        .split('\n')
        .filter((line) => /^cmdstat_(set|del|unlink|incr|pexpire|expire|eval|evalsha|publish)[:|]/.test(line))
        .join('\n')
    expect(writes(await reader.info('commandstats'))).toBe(writes(before))
  })
})

describe('loadcache inspect refuses what it cannot do, saying what to do', () => {
  it('a URL that is not redis://', async () => {
    const { code, stderr } = await inspect('--redis', 'http://127.0.0.1:6379', '--counts')
    expect(code).toBe(1)
    expect(stderr).toBe(
      '[loadcache] --redis must be a redis:// or rediss:// URL (e.g. redis://127.0.0.1:6379/0), got "http://127.0.0.1:6379"\n',
    )
  })

  it('a server that does not answer', async () => {
    const port = await freePort()
    const { code, stderr } = await inspect('--redis', `redis://127.0.0.1:${port}`, '--counts')
    expect(code).toBe(1)
    expect(stderr).toContain(
      `[loadcache] cannot reach Redis at redis://127.0.0.1:${port}: connect ECONNREFUSED`,
    )
  })

  it('a loader with no key in the namespace, listing the loaders it has', async () => {
    const { code, stderr } = await inspectEntry('usr', '1')
    expect(code).toBe(1)
    expect(stderr).toBe(
      `[loadcache] namespace "${namespace}" has no key of a loader named "usr" (a misspelt --loader or --namespace, or nothing cached right now); loaders with keys here: _response, post, slow, user\n`,
    )
  })

  it('a call without anything to show (exit code 2, with the usage)', async () => {
    const { code, stderr } = await inspect('--redis', redis.url)
    expect(code).toBe(2)
    expect(stderr).toContain(
      'loadcache: nothing to show: give --loader <name> --id <id>, --tags <a,b>, or --counts',
    )
    expect(stderr).toContain('Usage: loadcache inspect --redis <url>')
  })
})
