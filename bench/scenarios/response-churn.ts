/**
 * Response tier, churn: reads of the feed query while a writer renames its authors and adds comments to
 * its posts through the same server's GraphQL API; counts the reads that did not show a write that had
 * resolved before they started (lib/feed-visibility.ts). loadcache must have none; the peers' counts are
 * reported as measured.
 *
 * Per server (same four as response-hits, started together, measured one at a time): empty Redis; the
 * feed's post and user ids are read once; then for BENCH_RT_CHURN_SECONDS, BENCH_RT_CHURN_READERS
 * closed-loop readers and one writer, which alternates `updateUser` (selecting `{ id name }`) and
 * `addComment` (selecting `{ id body post { id } }`: the post, so that a response cache that evicts by
 * the entities a mutation returns can evict the feed) and waits BENCH_RT_CHURN_WRITE_GAP_MS between
 * writes.
 */

import { benchName, checkFeed, type FeedRequirements, type FeedShape } from '../lib/feed-visibility.js'
import { FEED_QUERY, postGraphql } from '../lib/graphql-http.js'
import { sleep, summarize } from '../lib/measure.js'
import { commandFigures, parseCommandStats } from '../lib/redis-commands.js'
import { responseTierVariants } from '../lib/response-tier-variants.js'
import type { Figures, Scenario, ScenarioContext } from '../lib/scenario.js'
import { countersBetween, measureEachServer, type ServerHandle, serveVariant } from '../lib/server-worker.js'

const NAME = 'response-churn'
const IDS_QUERY = '{ posts(first: 50) { id author { id } comments { author { id } } } }'
const RENAME =
  'mutation ($id: ID!, $name: String!) { updateUser(id: $id, input: { name: $name }) { id name } }'
const ADD_COMMENT =
  'mutation ($input: AddCommentInput!) { addComment(input: $input) { id body post { id } } }'

interface FeedIds {
  posts: { id: string; author: { id: string }; comments: { author: { id: string } }[] }[]
}

/** The writer's side: alternates renames and comments, publishing the requirements after each resolves. */
class Writer {
  required: FeedRequirements
  renames = 0
  comments = 0
  readonly latencies: number[] = []
  readonly #users: string[]
  readonly #posts: string[]
  readonly #versions = new Map<string, number>()
  readonly #commentCounts: number[]

  constructor(ids: FeedIds) {
    this.#posts = ids.posts.map((post) => post.id)
    this.#users = [
      ...new Set(ids.posts.flatMap((post) => [post.author.id, ...post.comments.map((c) => c.author.id)])),
    ]
    this.#commentCounts = ids.posts.map((post) => post.comments.length)
    this.required = { versions: new Map(), commentCounts: [...this.#commentCounts], writes: 0 }
  }

  async run(url: string, until: number, gapMs: number): Promise<void> {
    for (let k = 0; performance.now() < until; k++) {
      const t0 = performance.now()
      const user = this.#users[(k >> 1) % this.#users.length]!
      if (k % 2 === 0) {
        const version = (this.#versions.get(user) ?? 0) + 1
        // Each write is made by the user it touches: the example API refuses anonymous mutations.
        await postGraphql(url, RENAME, { id: user, name: benchName(user, version) }, user)
        this.#versions.set(user, version)
        this.renames++
      } else {
        const index = (k >> 1) % this.#posts.length
        await postGraphql(
          url,
          ADD_COMMENT,
          {
            input: { postId: this.#posts[index]!, authorId: user, body: `bench comment ${k}` },
          },
          user,
        )
        this.#commentCounts[index]!++
        this.comments++
      }
      this.latencies.push(performance.now() - t0)
      // Published only now that the write's response arrived: reads starting from here must show it.
      this.required = {
        versions: new Map(this.#versions),
        commentCounts: [...this.#commentCounts],
        writes: this.required.writes + 1,
      }
      await sleep(gapMs)
    }
  }
}

async function measure(context: ScenarioContext, server: ServerHandle): Promise<Figures> {
  const { config } = context
  await context.admin.flushall()
  const ids = JSON.parse((await postGraphql(server.url, IDS_QUERY)).text) as { data: FeedIds }
  await postGraphql(server.url, FEED_QUERY)
  const writer = new Writer(ids.data)
  const outcomes = { reads: 0, checked: 0, renames: 0, comments: 0, hits: 0, errors: 0 }
  let firstError: string | undefined
  let firstMiss: string | undefined
  const latencies: number[] = []

  const before = await server.counters()
  await context.admin.config('RESETSTAT')
  const started = performance.now()
  const until = started + config.rtChurnSeconds * 1000
  const reader = async () => {
    while (performance.now() < until) {
      const required = writer.required
      const t0 = performance.now()
      try {
        const response = await postGraphql(server.url, FEED_QUERY)
        latencies.push(performance.now() - t0)
        outcomes.reads++
        if (response.headers.get('cache-status')?.endsWith('; hit')) outcomes.hits++
        if (required.writes === 0) continue
        outcomes.checked++
        const verdict = checkFeed((JSON.parse(response.text) as { data: FeedShape }).data, required)
        if (verdict === 'rename not visible') outcomes.renames++
        if (verdict === 'comment not visible') outcomes.comments++
        if (verdict !== 'visible') firstMiss ??= `${verdict} (after ${required.writes} writes)`
      } catch (error) {
        outcomes.errors++
        firstError ??= error instanceof Error ? error.message : String(error)
      }
    }
  }
  await Promise.all([
    writer.run(server.url, until, config.rtChurnWriteGapMs),
    ...Array.from({ length: config.rtChurnReaders }, reader),
  ])
  const elapsedMs = performance.now() - started
  const used = countersBetween(before, await server.counters())
  const redis = commandFigures(parseCommandStats(await context.admin.info('commandstats')), used.sentCommands)
  const notVisible = outcomes.renames + outcomes.comments
  context.log(
    `${NAME} ${server.variant}: ${outcomes.reads} reads, ${writer.renames + writer.comments} writes, ${notVisible} reads did not show a resolved write`,
  )
  const perRead = (value: number) => (outcomes.reads === 0 ? 0 : value / outcomes.reads)
  return {
    scenario: NAME,
    layer: server.variant,
    requests: outcomes.reads,
    errors: outcomes.errors,
    firstError,
    elapsedMs,
    requestsPerSecond: outcomes.reads / (elapsedMs / 1000),
    latency: summarize(latencies),
    source: {
      calls: used.statements,
      rows: Number.NaN,
      updates: writer.renames + writer.comments,
      meanCallMs: 0,
    },
    // Reads and writes together, per read.
    redis: { ...redis, topLevelPerRequest: perRead(redis.topLevel) },
    cpuMs: used.cpuMs,
    cpuMsPerRequest: perRead(used.cpuMs),
    peakRssMb: used.peakRssMb,
    processes: 1,
    extra: {
      readsChecked: outcomes.checked,
      notVisible,
      renamesNotVisible: outcomes.renames,
      commentsNotVisible: outcomes.comments,
      firstNotVisible: firstMiss,
      renames: writer.renames,
      comments: writer.comments,
      writeLatency: summarize(writer.latencies),
      executionsPerRead: perRead(used.executions),
      /** loadcache only: reads its Cache-Status called a hit. */
      cacheStatusHits: server.variant.startsWith('loadcache') ? outcomes.hits : undefined,
      cacheRedisErrors: used.cacheRedisErrors,
      readers: config.rtChurnReaders,
      writeGapMs: config.rtChurnWriteGapMs,
    },
  }
}

export const responseChurn: Scenario = {
  name: NAME,
  title: 'Response tier, churn: feed reads while a writer renames authors and adds comments',
  http: true,

  async run(context) {
    return measureEachServer(context, NAME, responseTierVariants(context.config), (server) =>
      measure(context, server),
    )
  },

  async worker(task, ipc) {
    return (await serveVariant(task, ipc)) as unknown as Record<string, unknown>
  },
}
