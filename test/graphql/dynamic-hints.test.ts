/**
 * Apollo's dynamic cache hints (`info.cacheControl`) in resolvers: they restrict the field and the response
 * (a lower max-age, PRIVATE), never relax them; a cached value keeps the max-age its resolver set. Resolver
 * runs prove what was cached, headers what the response says, Redis TTLs how long an entry lives.
 */
import { makeExecutableSchema } from '@graphql-tools/schema'
import { MapperKind, mapSchema } from '@graphql-tools/utils'
import { execute, type GraphQLResolveInfo, parse } from 'graphql'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  cacheControlFor,
  createLoadCacheContext,
  loadCacheDirectives,
  loadCacheDirectiveTypeDefs,
  requestStateOf,
} from '../../src/graphql/index.js'
import { createCache } from '../../src/index.js'
import { uniqueNamespace, waitFor } from '../helpers/cache.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'
import { runCounter, serve } from './serve.js'

interface HintedInfo extends GraphQLResolveInfo {
  cacheControl: {
    setCacheHint(hint: { maxAge?: number; scope?: 'PUBLIC' | 'PRIVATE' }): void
    cacheHint: { maxAge?: number; scope?: string; restrict(hint: object): void; replace(hint: object): void }
    cacheHintFromType(type: unknown): { maxAge?: number; scope?: string }
  }
}

type Context = { viewerId: string | null }

const typeDefs = /* GraphQL */ `
  type Query {
    price(id: ID!): Price @cached(ttl: 60)
    profile: Profile @cached(ttl: 30)
    secret: Profile @cached(ttl: 30, scope: PRIVATE)
    label: Label @cached(ttl: 60)
    "Not cached: the same account twice (a repeated key below it)."
    accounts: [Account!]!
  }
  type Mutation {
    touch: Boolean
  }
  type Account {
    id: ID!
    profile: Profile @cached(ttl: 30)
  }
  type Price {
    id: ID!
    amount: Int!
    "Not cached itself: it resolves on the cached Price every time."
    currency: String
    "The viewer's own note, not cached either."
    note: String
  }
  type Profile {
    id: ID!
    name: String!
    bio: String @cached(ttl: 30)
  }
  type Label @cached(ttl: 45) {
    id: ID!
    text: String!
  }
`

/** `hints`: what each resolver says, by coordinate and id; `seen`: what `cacheHint`/`cacheHintFromType` showed. */
function schemaWith(
  ran: (coordinate: string) => void,
  hints: Record<string, (id: string) => { maxAge?: number; scope?: 'PUBLIC' | 'PRIVATE' } | undefined>,
  seen: Record<string, unknown> = {},
  /** Awaited by Query.price before it answers. */
  hold?: Promise<void>,
) {
  const hintFor = (coordinate: string, id: string, info: GraphQLResolveInfo) => {
    const hint = hints[coordinate]?.(id)
    if (hint !== undefined) (info as HintedInfo).cacheControl.setCacheHint(hint)
  }
  return makeExecutableSchema({
    typeDefs: [loadCacheDirectiveTypeDefs(), typeDefs],
    resolvers: {
      Query: {
        price: async (_: unknown, { id }: { id: string }, __: Context, info: GraphQLResolveInfo) => {
          ran('Query.price')
          hintFor('Query.price', id, info)
          await hold
          return { id, amount: Number(id) * 100 }
        },
        accounts: () => [{ id: 'a1' }, { id: 'a1' }],
        profile: (_: unknown, __: unknown, context: Context, info: GraphQLResolveInfo) => {
          ran('Query.profile')
          hintFor('Query.profile', context.viewerId ?? 'nobody', info)
          // One id for every viewer (a "me" object): only the viewer tells their data apart.
          return { id: 'me', name: `Profile of ${context.viewerId}` }
        },
        secret: (_: unknown, __: unknown, context: Context, info: GraphQLResolveInfo) => {
          ran('Query.secret')
          hintFor('Query.secret', 'x', info)
          return { id: context.viewerId ?? 'nobody', name: `Secret of ${context.viewerId}` }
        },
        label: (_: unknown, __: unknown, ___: Context, info: GraphQLResolveInfo) => {
          ran('Query.label')
          const control = (info as HintedInfo).cacheControl
          seen.cacheHint = { maxAge: control.cacheHint.maxAge, scope: control.cacheHint.scope }
          seen.fromType = control.cacheHintFromType(info.schema.getType('Label'))
          control.cacheHint.restrict({ maxAge: 20 })
          control.cacheHint.replace({ maxAge: 50 })
          seen.after = control.cacheHint.maxAge
          return { id: 'l1', text: 'hello' }
        },
      },
      Mutation: {
        touch: (_: unknown, __: unknown, ___: Context, info: GraphQLResolveInfo) => {
          hintFor('Mutation.touch', 'x', info)
          return true
        },
      },
      Account: {
        profile: (account: { id: string }, _: unknown, context: Context, info: GraphQLResolveInfo) => {
          ran('Account.profile')
          hintFor('Account.profile', context.viewerId ?? 'nobody', info)
          return { id: 'me', name: `Profile of ${context.viewerId} for ${account.id}` }
        },
      },
      Price: {
        currency: (price: { id: string }, _: unknown, __: Context, info: GraphQLResolveInfo) => {
          ran('Price.currency')
          hintFor('Price.currency', price.id, info)
          return 'EUR'
        },
        note: (_: { id: string }, __: unknown, context: Context, info: GraphQLResolveInfo) => {
          ran('Price.note')
          hintFor('Price.note', context.viewerId ?? 'nobody', info)
          return `note for ${context.viewerId}`
        },
      },
      Profile: {
        bio: (profile: { id: string }, _: unknown, context: Context, info: GraphQLResolveInfo) => {
          ran('Profile.bio')
          hintFor('Profile.bio', profile.id, info)
          return `Bio of ${context.viewerId}`
        },
      },
    },
  })
}

/**
 * Starts `first`, waits until its resolver runs (and is held), starts `second`, which joins that fill in
 * flight instead of running the resolver, then lets the resolver finish: both answers.
 */
async function joined<T>(options: {
  cache: { stats(): { loaders: Record<string, { joined: number } | undefined> } }
  coordinate: string
  started: () => boolean
  release: () => void
  first: () => Promise<T>
  second: () => Promise<T>
}): Promise<[T, T]> {
  const first = options.first()
  await waitFor(options.started, 'the resolver to start')
  const second = options.second()
  await waitFor(
    () => (options.cache.stats().loaders[options.coordinate]?.joined ?? 0) === 1,
    'the second request to join',
  )
  options.release()
  return [await first, await second]
}

let redis: RedisServer
beforeAll(async () => {
  redis = await startRedisServer()
}, 30_000)
afterAll(() => redis?.stop())

describe('dynamic cache hints (info.cacheControl)', () => {
  it("lower a cached field's max-age for the response that stored it and every hit of it, and the entry lives no longer", async () => {
    const { runs, ran } = runCounter()
    const namespace = uniqueNamespace()
    const client = redis.client()
    const { query } = serve(
      schemaWith(ran, { 'Query.price': (id) => (id === '2' ? { maxAge: 5 } : undefined) }),
      {},
      { redis: client, namespace },
    )
    const volatile = '{ price(id: "2") { amount } }'
    expect(await query(volatile)).toMatchObject({
      data: { price: { amount: 200 } },
      cacheControl: 'public, max-age=5',
    })
    expect(await query(volatile)).toMatchObject({
      data: { price: { amount: 200 } },
      cacheControl: 'public, max-age=5',
    })
    expect(await query('{ price(id: "1") { amount } }')).toMatchObject({ cacheControl: 'public, max-age=60' })
    expect(runs['Query.price']).toBe(2)
    // A second process, with nothing in memory: served from Redis with the same header.
    const other = serve(schemaWith(ran, {}), {}, { redis: redis.client(), namespace, memory: false })
    expect(await other.query(volatile)).toMatchObject({ cacheControl: 'public, max-age=5' })
    expect(runs['Query.price']).toBe(2)
    // And Redis keeps the hinted entry 5 s at most, the other one its 60 s.
    const keys = await client.keys(`${namespace}:*Query.price*`)
    const ttls = (await Promise.all(keys.map((key) => client.pttl(key)))).sort((a, b) => a - b)
    expect(ttls).toHaveLength(2)
    expect(ttls[0]).toBeGreaterThan(0)
    expect(ttls[0]).toBeLessThanOrEqual(5_000)
    expect(ttls[1]).toBeGreaterThan(5_000)
  })

  it('make a response private, and never store PRIVATE data under a key other viewers share', async () => {
    const { runs, ran } = runCounter()
    const { query } = serve(
      schemaWith(ran, {
        'Query.profile': (viewer) => (viewer === 'nobody' ? undefined : { scope: 'PRIVATE' }),
      }),
    )
    const source = '{ profile { name bio } }'
    expect(await query(source, { viewer: 'ann' })).toMatchObject({
      data: { profile: { name: 'Profile of ann', bio: 'Bio of ann' } },
      cacheControl: 'private, max-age=30',
    })
    // Bob is not served Ann's profile: the resolver runs for him, and the field below it is his own.
    expect(await query(source, { viewer: 'bob' })).toMatchObject({
      data: { profile: { name: 'Profile of bob', bio: 'Bio of bob' } },
      cacheControl: 'private, max-age=30',
    })
    expect(runs['Query.profile']).toBe(2)
    // Below a field made PRIVATE, cached fields are keyed by viewer: Ann's bio is cached for Ann.
    expect(await query(source, { viewer: 'ann' })).toMatchObject({
      data: { profile: { name: 'Profile of ann', bio: 'Bio of ann' } },
    })
    expect(runs['Query.profile']).toBe(3)
    expect(runs['Profile.bio']).toBe(2)
    // Without a viewer the resolver said nothing: PUBLIC, cached.
    expect(await query(source)).toMatchObject({ cacheControl: 'public, max-age=30' })
  })

  it('keep a value made PRIVATE private on every path of the request that reuses it (a repeated key)', async () => {
    const { runs, ran } = runCounter()
    const { query } = serve(
      schemaWith(ran, {
        'Account.profile': (viewer) => (viewer === 'nobody' ? undefined : { scope: 'PRIVATE' }),
      }),
    )
    // The same account twice: Account.profile runs on the first path only, the second reuses its value.
    const source = '{ accounts { profile { bio } } }'
    const both = (bio: string) => ({ accounts: [{ profile: { bio } }, { profile: { bio } }] })
    expect(await query(source, { viewer: 'ann' })).toMatchObject({ data: both('Bio of ann') })
    expect(runs['Account.profile']).toBe(1)
    // Ann's bio, below her private profile on both paths, was cached for her alone: Bob's is his own (his
    // profile is private too), and a request without a viewer (PUBLIC: nothing was hinted) is not served hers.
    expect(await query(source, { viewer: 'bob' })).toMatchObject({ data: both('Bio of bob') })
    expect(await query(source)).toMatchObject({ data: both('Bio of null') })
    expect(runs['Account.profile']).toBe(3)
  })

  it('keep a value made PRIVATE private on a path that reuses its key only after the hint', async () => {
    let hinted!: () => void
    const hintSet = new Promise<void>((resolve) => (hinted = resolve))
    const schema = makeExecutableSchema({
      typeDefs: [
        loadCacheDirectiveTypeDefs(),
        /* GraphQL */ `
          type Query { account: Account later: Later }
          type Later { account: Account }
          type Account { id: ID! profile: Profile @cached(ttl: 30) }
          type Profile { id: ID! bio: String @cached(ttl: 30) }
        `,
      ],
      resolvers: {
        Query: {
          account: () => ({ id: 'a1' }),
          // Reaches the same account once the first path's resolver has set its hint.
          later: async () => {
            await hintSet
            await new Promise((resolve) => setImmediate(resolve))
            return {}
          },
        },
        Later: { account: () => ({ id: 'a1' }) },
        Account: {
          profile: (_: unknown, __: unknown, context: Context, info: GraphQLResolveInfo) => {
            if (context.viewerId !== null)
              (info as HintedInfo).cacheControl.setCacheHint({ scope: 'PRIVATE' })
            hinted()
            return { id: 'me' }
          },
        },
        Profile: { bio: (_: unknown, __: unknown, context: Context) => `Bio of ${context.viewerId}` },
      },
    })
    const { query } = serve(schema)
    const source = '{ account { profile { bio } } later { account { profile { bio } } } }'
    const both = (bio: string) => ({
      account: { profile: { bio } },
      later: { account: { profile: { bio } } },
    })
    expect((await query(source, { viewer: 'ann' })).data).toEqual(both('Bio of ann'))
    expect((await query(source)).data).toEqual(both('Bio of null'))
  })

  describe('neither store nor share a value GraphQL completes with code that may still make it PRIVATE', () => {
    type Late = (hint: () => void, text: string) => unknown
    const later = () => new Promise((resolve) => setImmediate(resolve))
    class Box {
      readonly #items: () => unknown
      constructor(items: () => unknown) {
        this.#items = items
      }
      items() {
        return this.#items()
      }
    }
    const shapes: Record<string, Late> = {
      'an array of promises': (hint, text) => ({
        items: [
          (async () => {
            await later()
            hint()
            return { text }
          })(),
        ],
      }),
      'a Set of promises': (hint, text) => ({
        items: new Set([
          (async () => {
            await later()
            hint()
            return { text }
          })(),
        ]),
      }),
      'a function': (hint, text) => ({
        items: async () => {
          await later()
          hint()
          return [{ text }]
        },
      }),
      'a getter': (hint, text) => ({
        get items() {
          hint()
          return [{ text }]
        },
      }),
      'a Proxy': (hint, text) =>
        new Proxy(
          {},
          {
            get: (_target, key) =>
              key === 'items'
                ? (async () => {
                    await later()
                    hint()
                    return [{ text }]
                  })()
                : undefined,
          },
        ),
      'a property only reflection sees (not enumerable)': (hint, text) =>
        Object.defineProperty({}, 'items', {
          value: async () => {
            await later()
            hint()
            return [{ text }]
          },
        }),
      'a class instance': (hint, text) =>
        new Box(() => {
          hint()
          return [{ text }]
        }),
    }
    for (const [shape, late] of Object.entries(shapes)) {
      it(`(${shape})`, async () => {
        let release!: () => void
        const hold = new Promise<void>((resolve) => (release = resolve))
        let runs = 0
        const schema = makeExecutableSchema({
          typeDefs: [
            loadCacheDirectiveTypeDefs(),
            'type Query { feed: Feed @cached(ttl: 60) } type Feed { items: [Item!]! } type Item { text: String! }',
          ],
          resolvers: {
            Query: {
              feed: async (_: unknown, __: unknown, context: Context, info: GraphQLResolveInfo) => {
                runs++
                await hold
                const hint = () => {
                  if (context.viewerId !== null)
                    (info as HintedInfo).cacheControl.setCacheHint({ scope: 'PRIVATE' })
                }
                return late(hint, `for ${context.viewerId}`)
              },
            },
          },
        })
        const { cache, query } = serve(schema)
        const source = '{ feed { items { text } } }'
        const [annAnswer, bobAnswer] = await joined({
          cache,
          coordinate: 'Query.feed',
          started: () => runs === 1,
          release,
          first: () => query(source, { viewer: 'ann' }),
          second: () => query(source, { viewer: 'bob' }),
        })
        // (Feed.items has no hint: Apollo's rule makes the response no-store; it is never public.)
        expect(annAnswer.data).toEqual({ feed: { items: [{ text: 'for ann' }] } })
        expect(bobAnswer.data).toEqual({ feed: { items: [{ text: 'for bob' }] } })
        expect(bobAnswer.cacheControl).not.toMatch(/public/)
        expect(await query(source)).toMatchObject({ data: { feed: { items: [{ text: 'for null' }] } } })
        expect(runs).toBe(3)
      })
    }
  })

  it('mark every path reusing a value PRIVATE, also when the hint comes from the value itself, late', async () => {
    const schema = makeExecutableSchema({
      typeDefs: [
        loadCacheDirectiveTypeDefs(),
        'type Query { feed: [Item!]! @cached(ttl: 60) } type Item { id: ID! secret: String @cached(ttl: 60) }',
      ],
      resolvers: {
        Query: {
          feed: (_: unknown, __: unknown, context: Context, info: GraphQLResolveInfo) =>
            ['1'].map(async (id) => {
              await new Promise((resolve) => setImmediate(resolve))
              if (context.viewerId !== null)
                (info as HintedInfo).cacheControl.setCacheHint({ scope: 'PRIVATE' })
              return { id }
            }),
        },
        Item: { secret: (_: unknown, __: unknown, context: Context) => `secret of ${context.viewerId}` },
      },
    })
    const warnings: string[] = []
    const { query } = serve(
      schema,
      {},
      { logger: { warn: (message: string) => warnings.push(message), error: () => {} } },
    )
    // Two aliases, one key: the second path reuses the first one's value, resolved before the hint came.
    const source = '{ a: feed { secret } b: feed { secret } }'
    expect(await query(source, { viewer: 'ann' })).toMatchObject({
      data: { a: [{ secret: 'secret of ann' }], b: [{ secret: 'secret of ann' }] },
      cacheControl: 'private, max-age=60',
    })
    expect(await query(source)).toMatchObject({
      data: { a: [{ secret: 'secret of null' }], b: [{ secret: 'secret of null' }] },
    })
    // The hint came after the value was judged: said once.
    expect(
      warnings.filter((warning) => warning.includes('too late to keep that value out of the cache')),
    ).toHaveLength(1)
  })

  it('keep a cached field below one made PRIVATE late (by a promise in its value) from being stored PUBLIC', async () => {
    const schema = makeExecutableSchema({
      typeDefs: [
        loadCacheDirectiveTypeDefs(),
        'type Query { account: Account @cached(ttl: 60) } type Account { id: ID! balance: String @cached(ttl: 60) }',
      ],
      resolvers: {
        Query: {
          // One id for everyone; the balance is the viewer's, and says so only once it resolves.
          account: (_: unknown, __: unknown, context: Context, info: GraphQLResolveInfo) => ({
            id: 'shared',
            balance: (async () => {
              await new Promise((resolve) => setImmediate(resolve))
              if (context.viewerId !== null)
                (info as HintedInfo).cacheControl.setCacheHint({ scope: 'PRIVATE' })
              return `balance of ${context.viewerId}`
            })(),
          }),
        },
      },
    })
    const { query } = serve(schema)
    const source = '{ account { balance } }'
    expect((await query(source, { viewer: 'ann' })).data).toEqual({ account: { balance: 'balance of ann' } })
    expect((await query(source, { viewer: 'eve' })).data).toEqual({ account: { balance: 'balance of eve' } })
    expect((await query(source)).data).toEqual({ account: { balance: 'balance of null' } })
  })

  it("count a hint set after the resolver called another resolver with its own info as the caller's", async () => {
    const schema = makeExecutableSchema({
      typeDefs: [
        loadCacheDirectiveTypeDefs(),
        'type Query { feed: Item @cached(ttl: 60) other: String } type Item { id: ID! text: String }',
      ],
      resolvers: {
        Query: {
          other: () => 'other',
          feed: (parent: unknown, _: unknown, context: Context, info: GraphQLResolveInfo) => {
            const other = info.schema.getQueryType()?.getFields().other?.resolve
            other?.(parent, {}, context, info)
            if (context.viewerId !== null)
              (info as HintedInfo).cacheControl.setCacheHint({ scope: 'PRIVATE' })
            return { id: '1', text: `secret of ${context.viewerId}` }
          },
        },
      },
    })
    const { query } = serve(schema)
    const source = '{ feed { text } }'
    expect((await query(source, { viewer: 'ann' })).data).toEqual({ feed: { text: 'secret of ann' } })
    expect((await query(source)).data).toEqual({ feed: { text: 'secret of null' } })
  })

  it('with a max-age of 0: the value is not stored and the response is no-store, also for a request joined to it', async () => {
    const { runs, ran } = runCounter()
    let release!: () => void
    const hold = new Promise<void>((resolve) => (release = resolve))
    const { cache, query } = serve(schemaWith(ran, { 'Query.price': () => ({ maxAge: 0 }) }, {}, hold))
    const source = '{ price(id: "3") { amount } }'
    const [a, b] = await joined({
      cache,
      coordinate: 'Query.price',
      started: () => runs['Query.price'] === 1,
      release,
      first: () => query(source),
      second: () => query(source),
    })
    expect(a).toMatchObject({ data: { price: { amount: 300 } }, cacheControl: 'no-store' })
    expect(b).toMatchObject({ data: { price: { amount: 300 } }, cacheControl: 'no-store' })
    expect(runs['Query.price']).toBe(1)
    // Not stored: the next request runs it again.
    expect(await query(source)).toMatchObject({ cacheControl: 'no-store' })
    expect(runs['Query.price']).toBe(2)
  })

  it('never relax: a longer max-age or PUBLIC is ignored, and replace() restricts as restrict() does', async () => {
    const { runs, ran } = runCounter()
    const seen: Record<string, unknown> = {}
    const warnings: string[] = []
    const { query } = serve(
      schemaWith(
        ran,
        { 'Query.price': () => ({ maxAge: 3600 }), 'Query.secret': () => ({ scope: 'PUBLIC' }) },
        seen,
      ),
      {},
      { logger: { warn: (message: string) => warnings.push(message), error: () => {} } },
    )
    expect(await query('{ price(id: "1") { amount } }')).toMatchObject({ cacheControl: 'public, max-age=60' })
    expect(await query('{ price(id: "2") { amount } }')).toMatchObject({ cacheControl: 'public, max-age=60' })
    expect(await query('{ secret { name } }', { viewer: 'ann' })).toMatchObject({
      cacheControl: 'private, max-age=30',
    })
    expect(await query('{ secret { name } }', { viewer: 'bob' })).toMatchObject({
      data: { secret: { name: 'Secret of bob' } },
    })
    expect(runs['Query.secret']).toBe(2)
    // Said once per field, not on every request.
    expect(warnings).toEqual([
      '[loadcache] Query.price: setCacheHint({ maxAge: 3600 }) cannot raise its max-age of 60: dynamic hints only restrict (give the field a static hint that allows it) (this warning is shown once)',
      "[loadcache] Query.secret: setCacheHint({ scope: 'PUBLIC' }) cannot make its PRIVATE data public: dynamic hints only restrict (give the field a static hint that allows it) (this warning is shown once)",
    ])
    // cacheHint starts as the field's static hint; cacheHintFromType gives the type's.
    expect(await query('{ label { text } }')).toMatchObject({ cacheControl: 'public, max-age=20' })
    expect(seen).toEqual({ cacheHint: { maxAge: 45, scope: 'PUBLIC' }, fromType: { maxAge: 45 }, after: 20 })
  })

  it('reach the response tier: a stored response keeps the lower max-age, and a PRIVATE one its viewer', async () => {
    const { runs, ran } = runCounter()
    const { query } = serve(
      schemaWith(ran, {
        'Query.price': (id) => (id === '4' ? { maxAge: 5 } : undefined),
        'Price.note': (viewer) => (viewer === 'nobody' ? undefined : { scope: 'PRIVATE' }),
      }),
      { responses: true },
    )
    const price = '{ price(id: "4") { amount } }'
    expect(await query(price)).toMatchObject({ cacheControl: 'public, max-age=5' })
    expect(await query(price)).toMatchObject({
      data: { price: { amount: 400 } },
      cacheControl: 'public, max-age=5',
      cacheStatus: 'loadcache; hit',
    })
    expect(runs['Query.price']).toBe(1)
    // An uncached field made the response PRIVATE: it is stored for its viewer, never served to another.
    const noted = '{ price(id: "5") { amount note } }'
    const answer = (viewer: string | null) => ({ price: { amount: 500, note: `note for ${viewer}` } })
    expect(await query(noted, { viewer: 'ann' })).toMatchObject({
      data: answer('ann'),
      cacheControl: 'private, max-age=60',
    })
    expect(await query(noted, { viewer: 'bob' })).toMatchObject({
      data: answer('bob'),
      cacheControl: 'private, max-age=60',
    })
    expect(await query(noted)).toMatchObject({ data: answer(null) })
    expect(await query(noted, { viewer: 'ann' })).toMatchObject({
      data: answer('ann'),
      cacheStatus: 'loadcache; hit',
    })
    expect(runs['Price.note']).toBe(3)
  })

  it("let an uncached field's resolver restrict the response it appears in", async () => {
    const { runs, ran } = runCounter()
    const { query } = serve(schemaWith(ran, { 'Price.currency': () => ({ maxAge: 7 }) }))
    expect(await query('{ price(id: "1") { amount currency } }')).toMatchObject({
      data: { price: { amount: 100, currency: 'EUR' } },
      cacheControl: 'public, max-age=7',
    })
    expect(await query('{ price(id: "1") { amount currency } }')).toMatchObject({
      cacheControl: 'public, max-age=7',
    })
    expect(await query('{ price(id: "1") { amount } }')).toMatchObject({ cacheControl: 'public, max-age=60' })
    expect(runs).toEqual({ 'Query.price': 1, 'Price.currency': 2 })
  })

  it('fail the field, naming it, for a hint that is not { maxAge, scope }', async () => {
    const { ran } = runCounter()
    const { query } = serve(
      schemaWith(ran, {
        'Query.price': () => ({ maxAge: -1 }),
        'Price.currency': () => ({ scope: 'private' }) as never,
      }),
    )
    const answer = await query('{ price(id: "1") { amount } }')
    expect(answer.errors?.[0]?.message).toContain(
      "Query.price: info.cacheControl.setCacheHint takes { maxAge?: seconds (a non-negative number), scope?: 'PUBLIC' | 'PRIVATE' }, got maxAge: -1",
    )
    expect(answer.cacheControl).toBe('no-store')
    const lowercase = serve(schemaWith(ran, { 'Price.currency': () => ({ scope: 'private' }) as never }))
    const currency = await lowercase.query('{ price(id: "2") { currency } }')
    expect(currency.errors?.[0]?.message).toMatch(/^\[loadcache\] Price\.currency: .* got scope: "private"$/)
  })

  it('are ignored in a mutation, where a bad one does not fail the write either', async () => {
    const { ran } = runCounter()
    const { query } = serve(
      schemaWith(ran, { 'Mutation.touch': () => ({ maxAge: -1, scope: 'private' }) as never }),
    )
    const answer = await query('mutation { touch }')
    expect(answer.errors).toBeUndefined()
    expect(answer).toMatchObject({ data: { touch: true }, cacheControl: 'no-store' })
  })

  it("also restrict Apollo Server's own info.cacheControl when it set one first (never replace it)", async () => {
    const cache = createCache()
    const directives = loadCacheDirectives({ cache, cachedDirectiveName: 'cached' })
    const heard: unknown[] = []
    const { ran } = runCounter()
    // Apollo's plugin sets info.cacheControl before each resolver runs: an outer wrapper does the same here.
    const schema = mapSchema(
      directives.transformer(schemaWith(ran, { 'Query.price': () => ({ maxAge: 9 }) })),
      {
        [MapperKind.OBJECT_FIELD]: (config) => {
          const inner = config.resolve
          if (inner === undefined) return config
          return {
            ...config,
            resolve: (parent, args, ctx, info) => {
              ;(info as { cacheControl?: unknown }).cacheControl = {
                setCacheHint: () => heard.push('replaced'),
                cacheHint: { restrict: (hint: object) => heard.push(hint) },
              }
              return inner(parent, args, ctx, info)
            },
          }
        },
      },
    )
    const contextValue = { viewerId: null, ...createLoadCacheContext(cache) }
    const result = await execute({ schema, document: parse('{ price(id: "1") { amount } }'), contextValue })
    expect(result.data).toEqual({ price: { amount: 100 } })
    expect(heard).toEqual([{ maxAge: 9 }])
    const facts = { operation: 'query', hasErrors: false, isIntrospection: false, isStream: false } as const
    expect(cacheControlFor(requestStateOf(contextValue)?.policy, facts)).toBe('public, max-age=9')
    await cache.close()
  })
})
