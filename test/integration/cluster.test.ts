import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeSegment } from '../../src/core/keys.js'
import { defineLoader } from '../../src/index.js'
import { keySlot } from '../../src/redis/key-slot.js'
import { tagVersionsScript } from '../../src/redis/scripts.js'
import { cacheFactory, countCommands, eventually, uniqueNamespace } from '../helpers/cache.js'
import { startWorker } from '../helpers/processes.js'
import { type RedisCluster, startRedisCluster } from '../helpers/redis-cluster.js'
import { TestSource } from '../helpers/source.js'
import { describeLoaderBehaviour } from './loader-behaviour.js'

// A real 3-master Redis Cluster: the whole behavioural suite runs against it unchanged.
let cluster: RedisCluster
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 })
}, 60_000)
afterAll(() => cluster.dispose())

describeLoaderBehaviour('redis', () => cluster)

describe('Redis Cluster specifics', () => {
  it('computes the same hash slots as the cluster', async () => {
    const client = cluster.client()
    for (const key of [
      'foo',
      'app:{user:42}',
      'app:{user:42}:l',
      '{}x',
      'a{b}c{d}',
      'é{ü}',
      'app:t:org%003a7',
    ]) {
      expect(keySlot(key)).toBe(await client.cluster('KEYSLOT', key))
    }
  })

  it('spreads a batch over slots and nodes, sending one script per slot, all in one round of requests', async () => {
    const makeCache = cacheFactory('redis', cluster)
    const source = new TestSource(100)
    const user = defineLoader({ name: 'user', fetch: source.fetch })
    const client = cluster.client()
    const sent = countCommands(client)
    const cache = await makeCache({ redis: client })
    const ids = Array.from({ length: 30 }, (_, i) => String(i + 1))
    sent.reset()
    await cache.loaders({ user }).user.loadMany(ids)
    expect(source.calls).toEqual([ids])
    const slots = new Set(ids.map((id) => keySlot(`${makeCache.namespace}:{user:${id}}`)))
    expect(slots.size).toBeGreaterThan(20)
    // read: one script per slot + the clock; write: one script per slot. Every one was sent without
    // waiting for another (they are awaited together), so the batch is still 2 rounds.
    expect(sent.names.filter((name) => name === 'evalsha').length).toBe(2 * slots.size + 1)
    const other = await makeCache()
    expect(await other.loaders({ user }).user.loadMany(ids)).toEqual(ids.map((id) => source.rows.get(id)))
    expect(source.calls).toHaveLength(1)
  })

  it('fetches each cold id once across 4 processes (stampede) and evicts across processes (bus)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'loadcache-db-')), 'db.json')
    writeFileSync(file, JSON.stringify({}))
    const env = {
      REDIS_CLUSTER_PORTS: cluster.ports.join(','),
      NAMESPACE: uniqueNamespace(),
      DB_FILE: file,
      FETCH_DELAY_MS: '100',
    }
    const workers = await Promise.all([1, 2, 3, 4].map(() => startWorker(env)))
    const ids = Array.from({ length: 50 }, (_, i) => String(i + 1))
    const results = await Promise.all(
      workers.map((worker) => worker.call<{ versions: number[] }>({ op: 'load', ids, requests: 100 })),
    )
    for (const result of results) expect(result.versions).toEqual(ids.map(() => 0))
    const fetches = await Promise.all(
      workers.map((worker) => worker.call<{ fetches: string[][] }>({ op: 'fetches' })),
    )
    expect(fetches.flatMap((f) => f.fetches.flat()).sort()).toEqual([...ids].sort())

    writeFileSync(file, JSON.stringify({ '2': 5, '3': 5 }))
    await workers[0]!.call({ op: 'invalidate', ids: ['3'] })
    await workers[0]!.call({ op: 'invalidateTags', tags: ['group:0'] })
    // Once worker 1 heard a probe published after both (the bus keeps order), it must read fresh at once.
    const listening = workers[1]!.nextEvent('listening')
    const heard = workers[1]!.call({ op: 'awaitEvictedTag', tag: 'probe:cluster' })
    await listening
    await workers[0]!.call({ op: 'invalidateTags', tags: ['probe:cluster'] })
    await heard
    const seen = (await workers[1]!.call<{ versions: number[] }>({ op: 'load', ids: ['2', '3', '5'] }))
      .versions
    expect(seen).toEqual([5, 5, 0])
  }, 60_000)

  it('bumps a huge tag invalidation with one script per slot, not one per tag, and moves every tag', async () => {
    const makeCache = cacheFactory('redis', cluster)
    const source = new TestSource(200)
    const item = defineLoader({ name: 'item', fetch: source.fetch, tags: (id: string) => [`bulk:${id}`] })
    const ids = [...source.rows.keys()]
    const reader = await makeCache()
    await reader.loaders({ item }).item.loadMany(ids)
    // 40,000 tags (and a bucket tag each moves with): more tags than the 16,384 slots they fall in.
    const tags = Array.from({ length: 40_000 }, (_, i) => `bulk:${i + 1}`)
    const client = cluster.client()
    const sent = countCommands(client)
    // A timeout no loaded machine reaches: a script that timed out would be replayed (with another
    // version) after invalidateTags resolved, and this test is about the scripts, not about timeouts.
    const writer = await makeCache({ redis: client, redisTimeoutMs: 20_000 })
    sent.reset()
    await writer.invalidateTags(tags)
    expect(writer.stats().redis.pendingInvalidations).toBe(0)
    const scripts = sent.names.filter((name) => name === 'evalsha' || name === 'eval').length
    // The clock bump, then at most one script per slot (a slot holds far fewer than 500 of these tags).
    expect(scripts).toBeGreaterThan(1)
    expect(scripts).toBeLessThanOrEqual(1 + 16_384)
    // Every tag of every slot's script moved, to the one version of this invalidation (a script that
    // bumped only its first key would leave most of them behind).
    const versions = await Promise.all(
      tags.map((tag) => client.get(`${makeCache.namespace}:t:${encodeSegment(tag)}`)),
    )
    expect(versions.filter((version) => version === versions[0])).toHaveLength(tags.length)
    expect(versions[0]).toMatch(/^\d+$/)
    // And a process with nothing in memory finds all 200 entries invalid.
    const fresh = await makeCache({ memory: false })
    const fetched = source.calls.length
    await fresh.loaders({ item }).item.loadMany(ids)
    expect(source.calls.slice(fetched).flat().sort()).toEqual([...ids].sort())
  }, 60_000)
})

describe('entity tags ensured while the fetch runs (Redis Cluster)', () => {
  /** Records every command a client sends, whether it is a TAG script ensuring a version, and its key. */
  function recordCommands(client: { sendCommand: (...args: never[]) => unknown }) {
    const sent: { name: string; ensure: boolean; key: string }[] = []
    const original = client.sendCommand.bind(client) as (...args: unknown[]) => unknown
    const seen = new WeakSet<object>()
    ;(client as { sendCommand: unknown }).sendCommand = (
      command: { name: string; args: unknown[] },
      ...rest: unknown[]
    ) => {
      if (!seen.has(command)) {
        seen.add(command)
        sent.push({
          name: command.name,
          ensure: command.args.some((arg) => String(arg) === 'ensure'),
          key: String(command.args[2]),
        })
      }
      return original(command, ...rest)
    }
    return sent
  }

  it("reads a fill's entity tag versions during its fetch: after the fetch, only its write scripts go out", async () => {
    const makeCache = cacheFactory('redis', cluster)
    const source = new TestSource(20)
    const tagKey = (id: string) => `${makeCache.namespace}:t:${encodeSegment(`User:${id}`)}`
    const observer = cluster.client()
    let sentByFetchEnd = -1
    const user = defineLoader({
      name: 'user',
      entity: 'User',
      fetch: async (batch: readonly string[]) => {
        // The versions are created by scripts sent with the fetch: they exist before it returns (without
        // them this waits 2 s in vain, and the fetch fails).
        await eventually(async () => {
          const found = await Promise.all(batch.map((id) => observer.exists(tagKey(id))))
          expect(found).toEqual(batch.map(() => 1))
        })
        sentByFetchEnd = sent.length
        return source.fetch(batch)
      },
    })
    const client = cluster.client()
    const sent = recordCommands(client)
    const cache = await makeCache({ redis: client })
    sent.length = 0
    const ids = ['1', '2', '3', '4', '5']
    expect(await cache.loaders({ user }).user.loadMany(ids)).toEqual(ids.map((id) => source.rows.get(id)))
    expect(sentByFetchEnd).toBeGreaterThan(0)
    // One script per tag (sent again as EVAL when Redis did not know it yet).
    const ensured = sent.slice(0, sentByFetchEnd).filter((command) => command.ensure)
    expect(new Set(ensured.map((command) => command.key))).toEqual(new Set(ids.map(tagKey)))
    const after = sent.slice(sentByFetchEnd)
    expect(after.length).toBeGreaterThan(0)
    expect(after.filter((command) => command.ensure)).toEqual([])
    expect(after.every((command) => command.name === 'evalsha' || command.name === 'eval')).toBe(true)

    // The entries carry those versions: another process serves them from Redis, and an invalidation of
    // one entity makes it fetch that one again.
    const other = await makeCache({ memory: false })
    const fetched = source.calls.length
    expect(await other.loaders({ user }).user.loadMany(ids)).toEqual(ids.map((id) => source.rows.get(id)))
    expect(source.calls.length).toBe(fetched)
    const renamed = source.update('2', { name: 'renamed' })
    await cache.invalidateTags(['User:2'])
    expect(await other.loaders({ user }).user.loadMany(ids)).toEqual(
      ids.map((id) => (id === '2' ? renamed : source.rows.get(id))),
    )
    expect(source.calls.slice(fetched)).toEqual([['2']])
  })

  it('releases the locks of a fill with nothing to write without waiting for those scripts', async () => {
    const makeCache = cacheFactory('redis', cluster)
    const source = new TestSource(5)
    source.failingIds.add('1')
    const user = defineLoader({ name: 'user', entity: 'User', fetch: source.fetch })
    const client = cluster.client()
    const send = client.sendCommand.bind(client) as (...args: unknown[]) => unknown
    let openGate!: () => void
    const gate = new Promise<void>((resolve) => (openGate = resolve))
    // The version scripts answer only once the gate opens (a slow Redis, forced).
    ;(client as { sendCommand: unknown }).sendCommand = (command: { args: unknown[] }, ...rest: unknown[]) =>
      command.args.some((arg) => String(arg) === 'ensure')
        ? gate.then(() => send(command, ...rest))
        : send(command, ...rest)
    // A timeout longer than the race below: the scripts neither answer nor time out meanwhile.
    const cache = await makeCache({ redis: client, redisTimeoutMs: 10_000 })
    const result = await Promise.race([
      cache
        .loaders({ user })
        .user.load('1')
        .then(
          () => 'resolved',
          (error: Error) => error.message,
        ),
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 3 s'), 3000)),
    ])
    openGate()
    expect(result).toBe('row 1 failed')
    // And its lock is gone: another process locks the id at once and fetches it.
    source.failingIds.clear()
    const other = await makeCache()
    expect(await other.loaders({ user }).user.load('1')).toEqual(source.rows.get('1'))
    expect(source.calls).toEqual([['1'], ['1']])
  })

  it('leaves an entry every read rejects when its tag moves after that read, before the writer hears of it', async () => {
    const makeCache = cacheFactory('redis', cluster)
    const source = new TestSource(5)
    const user = defineLoader({ name: 'user', entity: 'User', fetch: source.fetch })
    const tagKey = `${makeCache.namespace}:t:${encodeSegment('User:1')}`
    const observer = cluster.client()
    const writer = await makeCache()
    const before = source.rows.get('1')
    const hold = source.holdNextFetch()
    const inFlight = writer.loaders({ user }).user.load('1')
    await hold.started
    await eventually(async () => expect(await observer.exists(tagKey)).toBe(1))
    const early = await observer.get(tagKey)
    // An invalidation whose bus message has not reached the writer yet (forced: the tag moves in Redis
    // alone, to a version at the clock's current time, as an invalidation's would).
    const renamed = source.update('1', { name: 'renamed' })
    await observer.set(tagKey, String(Date.now() * 1000), 'KEEPTTL')
    hold.release()
    expect(await inFlight).toEqual(before)
    // The write went through with the version read during the fetch (asserted, so the path this test is
    // about is the one taken: without the early read the write would see the moved tag and refuse)...
    const entry = await observer.get(`${makeCache.namespace}:{user:1}`)
    expect(entry).toContain(`=${early}`)
    // ...and no other process serves it: the version it records is no longer the tag's.
    const reader = await makeCache({ memory: false })
    expect(await reader.loaders({ user }).user.load('1')).toEqual(renamed)
    expect(source.calls).toEqual([['1'], ['1']])
  })
})

describe('tag checks of hits on Redis Cluster', () => {
  const TAGS_PER_ID = 20
  const tagsOf = (id: string) => Array.from({ length: TAGS_PER_ID }, (_, k) => `g:${id}:${k}`)

  /** 30 entries of TAGS_PER_ID tags each, written to the Cluster by a cache of their own (the filler). */
  async function filledEntries() {
    const makeCache = cacheFactory('redis', cluster)
    const source = new TestSource(30)
    const item = defineLoader({ name: 'item', fetch: source.fetch, tags: (id: string) => tagsOf(id) })
    const ids = [...source.rows.keys()]
    const filler = await makeCache()
    await filler.loaders({ item }).item.loadMany(ids)
    return { makeCache, source, item, ids, filler }
  }

  it('reads the tags of a batch of hits with one script per master, not a GET per tag, and still sees a moved tag', async () => {
    const { makeCache, source, item, ids, filler } = await filledEntries()
    const client = cluster.client()
    const sent = countCommands(client)
    const reader = await makeCache({ redis: client, memory: false })
    sent.reset()
    expect(await reader.loaders({ item }).item.loadMany(ids)).toEqual(ids.map((id) => source.rows.get(id)))
    expect(source.calls).toHaveLength(1)
    // 600 tags: one script per master (3), beside the read (a script per slot) and the clock.
    const slots = new Set(ids.map((id) => keySlot(`${makeCache.namespace}:{item:${id}}`))).size
    expect(sent.names.filter((name) => name === 'get')).toEqual([])
    expect(sent.names.filter((name) => name === 'evalsha').length).toBe(slots + 1 + 3)
    // A tag moved after the entry was written: that entry is a miss, the others hits.
    await filler.invalidateTags([tagsOf('5')[7]!])
    await reader.loaders({ item }).item.loadMany(ids)
    expect(source.calls.slice(1)).toEqual([['5']])
  })

  it('reads a nil again alone: a script sent on by ASK runs on the importing node, where tags not migrated yet look missing', async () => {
    const own = await startRedisCluster({ masters: 3 })
    const admin = own.client()
    try {
      const makeCache = cacheFactory('redis', own)
      const tagKey = (tag: string) => `${makeCache.namespace}:t:${encodeSegment(tag)}`
      // Two tags whose versions share a slot (the first is the script's declared key).
      const first = 'c:0'
      const slot = keySlot(tagKey(first))
      let second = ''
      for (let i = 1; second === ''; i++) if (keySlot(tagKey(`c:${i}`)) === slot) second = `c:${i}`
      const source = new TestSource(1)
      const item = defineLoader({ name: 'item', fetch: source.fetch, tags: () => [first, second] })
      expect(keySlot(`${makeCache.namespace}:{item:1}`)).not.toBe(slot)
      expect(keySlot(`${makeCache.namespace}:clock`)).not.toBe(slot)
      await (await makeCache()).loaders({ item }).item.load('1')

      // The slot starts moving to another master, and only the first tag's version has moved yet.
      await admin.ping()
      const ownerKey = admin.slots[slot]![0]!
      const masters = admin.nodes('master')
      const from = masters.find((node) => `${node.options.host}:${node.options.port}` === ownerKey)!
      const to = masters.find((node) => node !== from)!
      const fromId = String(await from.cluster('MYID'))
      const toId = String(await to.cluster('MYID'))
      await to.cluster('SETSLOT', slot, 'IMPORTING', fromId)
      await from.cluster('SETSLOT', slot, 'MIGRATING', toId)
      await from.migrate(to.options.host!, to.options.port!, tagKey(first), 0, 5000)

      // Both versions are what the entry recorded: a hit, no fetch.
      const reader = await makeCache({ memory: false })
      const calls = source.calls.length
      expect(await reader.loaders({ item }).item.load('1')).toEqual(source.rows.get('1'))
      expect(source.calls).toHaveLength(calls)
    } finally {
      admin.disconnect()
      await own.dispose()
    }
  }, 60_000)

  it('reads them with a GET each, from the first refusal on, from a server that cannot compile script flags (Redis 6)', async () => {
    const { makeCache, source, item, ids, filler } = await filledEntries()
    const client = cluster.client()
    // Redis 6's answer to a flagged script: the one fault no redis-server here can produce.
    const attempts: string[] = []
    const scripts = client as unknown as {
      evalsha: (...args: unknown[]) => Promise<unknown>
      eval: (...args: unknown[]) => Promise<unknown>
    }
    const [evalsha, evalSource] = [scripts.evalsha.bind(client), scripts.eval.bind(client)]
    scripts.evalsha = (sha, ...rest) => {
      if (sha !== tagVersionsScript.sha) return evalsha(sha, ...rest)
      attempts.push('evalsha')
      return Promise.reject(new Error('NOSCRIPT No matching script. Please use EVAL.'))
    }
    scripts.eval = (script, ...rest) => {
      if (script !== tagVersionsScript.source) return evalSource(script, ...rest)
      attempts.push('eval')
      return Promise.reject(
        new Error("ERR Error compiling script (new function): user_script:1: unexpected symbol near '#'"),
      )
    }
    const sent = countCommands(client)
    const reader = await makeCache({ redis: client, memory: false })
    sent.reset()
    expect(await reader.loaders({ item }).item.loadMany(ids)).toEqual(ids.map((id) => source.rows.get(id)))
    // The scripts of the first round (one per master, sent together) were refused; every tag was then read
    // with a GET, and the entries served.
    expect(attempts.length).toBeGreaterThanOrEqual(2)
    expect(attempts.length).toBeLessThanOrEqual(6)
    expect(sent.names.filter((name) => name === 'get')).toHaveLength(ids.length * TAGS_PER_ID)
    expect(source.calls).toHaveLength(1)
    // From then on no script is tried, and a moved tag is still seen.
    const tried = attempts.length
    await filler.invalidateTags([tagsOf('5')[7]!])
    sent.reset()
    await reader.loaders({ item }).item.loadMany(ids)
    expect(attempts).toHaveLength(tried)
    expect(sent.names.filter((name) => name === 'get')).toHaveLength(ids.length * TAGS_PER_ID)
    expect(source.calls.slice(1)).toEqual([['5']])
    expect(reader.stats().redis.breaker).toBe('closed')
  })

  it("reads them one by one when the client's slot map is out of date, with the same outcome", async () => {
    const makeCache = cacheFactory('redis', cluster)
    const source = new TestSource(2_000)
    const item = defineLoader({ name: 'item', fetch: source.fetch, tags: (id: string) => tagsOf(id) })
    // The client's map, made stale below by naming one master (x) the owner of every slot. The entries
    // read and the tag clock live on x, so only the tag check (tags on every master) meets the stale map,
    // and no redirect refreshes the map before it does.
    const client = cluster.client({ slotsRefreshInterval: 3_600_000 })
    const sent = countCommands(client)
    const reader = await makeCache({ redis: client, memory: false })
    const x = client.slots[keySlot(`${makeCache.namespace}:clock`)]?.[0]
    expect(x).toBeDefined()
    const ids = [...source.rows.keys()]
      .filter((id) => client.slots[keySlot(`${makeCache.namespace}:{item:${id}}`)]?.[0] === x)
      .slice(0, 30)
    expect(ids).toHaveLength(30)
    const filler = await makeCache()
    await filler.loaders({ item }).item.loadMany(ids)
    await filler.invalidateTags([tagsOf(ids[4]!)[7]!])
    for (let slot = 0; slot < client.slots.length; slot++) client.slots[slot] = [x!]
    sent.reset()
    const calls = source.calls.length
    expect(await reader.loaders({ item }).item.loadMany(ids)).toEqual(ids.map((id) => source.rows.get(id)))
    // The script refused the tags x does not serve ("non local key"); their GETs were redirected to their
    // owners; the moved tag was seen.
    expect(sent.names.filter((name) => name === 'get').length).toBeGreaterThan(0)
    expect(source.calls.slice(calls)).toEqual([[ids[4]]])
    expect(reader.stats().redis.breaker).toBe('closed')
  })
})

describe('cache.prime on Redis Cluster (tags in other slots: checked and bumped by the client)', () => {
  function userLoader(source: TestSource) {
    return defineLoader({
      name: 'user',
      fetch: source.fetch,
      entity: 'User',
      tags: (_id: string, row: { orgId: number }) => [`org:${row.orgId}`],
    })
  }

  it('stores the new value for every process: the next reads cost no fetch', async () => {
    const makeCache = cacheFactory('redis', cluster)
    const source = new TestSource(3)
    const user = userLoader(source)
    const [a, b] = [await makeCache(), await makeCache()]
    await b.loaders({ user }).user.load('1')
    const ticket = await a.writeTicket()
    const updated = source.update('1', { name: 'Ada' })
    const heard = new Promise<void>((resolve) =>
      b.on('evict', (event) => {
        if (event.keys.some((key) => key.endsWith('{user:1}'))) resolve()
      }),
    )
    expect(await a.prime(user, [['1', updated]], { since: ticket })).toEqual({
      stored: ['1'],
      evicted: ['1'],
    })
    await heard
    const calls = source.calls.length
    expect(await b.loaders({ user }).user.load('1')).toEqual(updated)
    expect(await a.loaders({ user }).user.load('1')).toEqual(updated)
    expect(source.calls.length).toBe(calls)
  })

  it('never lands over a key or tag invalidation that came after the ticket (forced)', async () => {
    const makeCache = cacheFactory('redis', cluster)
    const source = new TestSource(3)
    const user = userLoader(source)
    const [a, b] = [await makeCache(), await makeCache()]
    let ticket = await a.writeTicket()
    let ours = source.update('1', { name: 'ours' })
    let theirs = source.update('1', { name: 'theirs' })
    await b.invalidate(user, ['1'])
    expect((await a.prime(user, [['1', ours]], { since: ticket })).stored).toEqual([])
    expect(await b.loaders({ user }).user.load('1')).toEqual(theirs)

    ticket = await a.writeTicket()
    ours = source.update('2', { name: 'ours' })
    theirs = source.update('2', { name: 'theirs' })
    await b.invalidateTags([`org:${theirs.orgId}`])
    expect((await a.prime(user, [['2', ours]], { since: ticket })).stored).toEqual([])
    expect(await b.loaders({ user }).user.load('2')).toEqual(theirs)
  })
})
