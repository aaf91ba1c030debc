/**
 * `npx tsx bench/compression.ts`: what compressing large values in Redis (`createCache({ compression })`)
 * saves and costs on the example API's data (issue 13). Starts its own redis-server on a free loopback port
 * (the test suite's helper) and one embedded PGlite database, and prints a Markdown report on stdout
 * (progress on stderr). Takes 2–4 minutes on 2 cores.
 *
 * For each configuration (compression off, on at the default threshold; the response tier on, as the
 * example API ships, and off, so that only field and loader entries are stored):
 * 1. fill: a fresh example server runs the query set once against an empty Redis (every entry is written);
 * 2. L2 reads: `COMPRESSION_REPEATS` more fresh servers (empty L1, same namespace) run it again, so every
 *    value comes from Redis;
 * and reports Redis memory (`used_memory` delta, and the summed `MEMORY USAGE` of the cache's keys), network
 * bytes per round trip (INFO stats `total_net_input_bytes`/`total_net_output_bytes` deltas over the commands
 * the cache's clients sent), and this process's CPU per query set. Then it takes every payload Redis held
 * without compression and times the codec on it alone, against its alternatives and over thresholds: the
 * end-to-end CPU figures include PGlite and GraphQL execution, and are noisy on a shared machine.
 *
 * Environment: `COMPRESSION_ROUNDS` (default 5): the configurations run this many times, interleaved, and
 * each figure is the median over rounds; `COMPRESSION_REPEATS` (default 3): L2-read passes per round.
 */
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import {
  brotliCompressSync,
  brotliDecompressSync,
  deflateRawSync,
  inflateRawSync,
  constants as zlib,
} from 'node:zlib'
import type { Redis } from 'ioredis'
import { openDatabase } from '../example-api/db/index.js'
import { createExampleServer, type ExampleServer } from '../example-api/server.js'
import { compressPayload, inflatePayload } from '../src/core/compression.js'
import { splitEntry } from '../src/core/entry.js'
import { DEFAULT_COMPRESSION_THRESHOLD } from '../src/engine/options.js'
import { startRedisServer } from '../test/helpers/redis-server.js'
import { installCommandCounter, resetSentCommands, sentCommands } from './lib/redis-commands.js'

const REPEATS = Number(process.env.COMPRESSION_REPEATS ?? 3)
const ROUNDS = Number(process.env.COMPRESSION_ROUNDS ?? 5)

interface Query {
  readonly name: string
  readonly query: string
  readonly variables?: Record<string, unknown>
}

/** The example API's typical reads (example-api/schema.graphql): the feed, a front page, post and author pages. */
const QUERIES: readonly Query[] = [
  { name: 'feed', query: '{ posts(first: 50) { title author { name } comments { author { name } } } }' },
  {
    name: 'front page',
    query: '{ posts(first: 20) { id title body commentCount author { id name postCount } } }',
  },
  // The posts with the most comments (the seed gives the newest the most) and the most prolific authors.
  ...Array.from({ length: 10 }, (_, i) => ({
    name: 'post page',
    query:
      'query ($id: ID!) { post(id: $id) { title body author { name } comments { body author { name } } } }',
    variables: { id: String(5000 - i) },
  })),
  ...Array.from({ length: 10 }, (_, i) => ({
    name: 'author page',
    query: 'query ($id: ID!) { user(id: $id) { name postCount posts { title body commentCount } } }',
    variables: { id: String(i + 1) },
  })),
  {
    name: 'users',
    query: 'query ($ids: [ID!]!) { users(ids: $ids) { name postCount } }',
    variables: { ids: Array.from({ length: 100 }, (_, i) => String(i + 1)) },
  },
]

interface Config {
  readonly name: string
  readonly compression: { threshold: number } | false
  readonly responses: boolean
}

const CONFIGS: readonly Config[] = [
  { name: 'off, responses on', compression: false, responses: true },
  {
    name: `on (${DEFAULT_COMPRESSION_THRESHOLD} B), responses on`,
    compression: { threshold: DEFAULT_COMPRESSION_THRESHOLD },
    responses: true,
  },
  { name: 'off, responses off', compression: false, responses: false },
  {
    name: `on (${DEFAULT_COMPRESSION_THRESHOLD} B), responses off`,
    compression: { threshold: DEFAULT_COMPRESSION_THRESHOLD },
    responses: false,
  },
]

/** Commands that are not the cache's data traffic: the bus's liveness probes, this script's INFO. */
const BACKGROUND = new Set(['ping', 'info', 'subscribe', 'client', 'quit'])

interface Phase {
  /** Commands the cache's clients sent (its round trips). */
  readonly commands: number
  /** Bytes Redis received (requests) and sent (replies), less this script's own INFO. */
  readonly bytesIn: number
  readonly bytesOut: number
  /** CPU of this process (user + system), ms. */
  readonly cpuMs: number
  readonly wallMs: number
}

interface Outcome {
  readonly config: Config
  readonly fill: Phase
  /** By query name, summed over its queries and the REPEATS passes. */
  readonly reads: Map<string, Phase>
  /** By query name, the Cache-Status headers of its L2 reads. */
  readonly statuses: Map<string, Set<string>>
  readonly usedMemory: number
  readonly keyMemory: number
  readonly keys: number
  readonly entries: { readonly plain: number; readonly compressed: number; readonly absent: number }
  /** Bytes of the stored entries (STRLEN), by loader. */
  readonly storedBytes: Map<string, number>
}

function log(message: string): void {
  process.stderr.write(`[compression ${((performance.now() - t0) / 1000).toFixed(1)}s] ${message}\n`)
}

async function netCounters(admin: Redis): Promise<{ in: number; out: number }> {
  const info = await admin.info('stats')
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? Number.NaN)
  return { in: field('total_net_input_bytes'), out: field('total_net_output_bytes') }
}

async function usedMemory(admin: Redis): Promise<number> {
  const info = await admin.info('memory')
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN)
}

/** The bytes two back-to-back INFO stats calls add to the counters: subtracted from every phase. */
async function infoOverhead(admin: Redis): Promise<{ in: number; out: number }> {
  const samples: { in: number; out: number }[] = []
  for (let i = 0; i < 5; i++) {
    const a = await netCounters(admin)
    const b = await netCounters(admin)
    samples.push({ in: b.in - a.in, out: b.out - a.out })
  }
  return { in: Math.min(...samples.map((s) => s.in)), out: Math.min(...samples.map((s) => s.out)) }
}

async function measure(
  admin: Redis,
  overhead: { in: number; out: number },
  run: () => Promise<void>,
): Promise<Phase> {
  const before = await netCounters(admin)
  resetSentCommands()
  const cpu = process.cpuUsage()
  const started = performance.now()
  await run()
  const wallMs = performance.now() - started
  const used = process.cpuUsage(cpu)
  const commands = Object.entries(sentCommands())
    .filter(([name]) => !BACKGROUND.has(name))
    .reduce((sum, [, count]) => sum + count, 0)
  const after = await netCounters(admin)
  return {
    commands,
    bytesIn: after.in - before.in - overhead.in,
    bytesOut: after.out - before.out - overhead.out,
    cpuMs: (used.user + used.system) / 1000,
    wallMs,
  }
}

function add(a: Phase, b: Phase): Phase {
  return {
    commands: a.commands + b.commands,
    bytesIn: a.bytesIn + b.bytesIn,
    bytesOut: a.bytesOut + b.bytesOut,
    cpuMs: a.cpuMs + b.cpuMs,
    wallMs: a.wallMs + b.wallMs,
  }
}

/** Runs queries one after the other; returns the Cache-Status of the last one. */
async function runQueries(server: ExampleServer, queries: readonly Query[]): Promise<string> {
  let status = ''
  for (const { name, query, variables } of queries) {
    const response = await server.yoga.fetch('http://bench.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    })
    const body = (await response.json()) as { errors?: unknown[] }
    if (body.errors) throw new Error(`${name}: ${JSON.stringify(body.errors)}`)
    status = response.headers.get('cache-status') ?? 'none'
  }
  return status
}

/** Every key of a namespace (SCAN, never KEYS). */
async function scanKeys(admin: Redis, namespace: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await admin.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 1000)
    keys.push(...batch)
    cursor = next
  } while (cursor !== '0')
  return keys
}

function loaderOf(key: string): string | undefined {
  return /^[^{]*\{([^:]+):/.exec(key)?.[1]
}

/** Runs one configuration once: a fill, then REPEATS L2-read passes, each query measured on its own. */
async function runConfig(
  config: Config,
  namespace: string,
  overhead: { in: number; out: number },
  payloads: { loader: string; payload: string }[] | undefined,
): Promise<Outcome> {
  await admin.flushall()
  const start = (): Promise<ExampleServer> =>
    createExampleServer({
      db,
      redisUrl: redis.url,
      namespace,
      compression: config.compression,
      responses: config.responses,
      redisTimeoutMs: 5000,
    })
  const writer = await start()
  const memoryBefore = await usedMemory(admin)
  const fill = await measure(admin, overhead, async () => {
    await runQueries(writer, QUERIES)
  })
  await writer.close()
  const memoryAfter = await usedMemory(admin)

  const keys = await scanKeys(admin, namespace)
  let keyMemory = 0
  const entries = { plain: 0, compressed: 0, absent: 0 }
  const storedBytes = new Map<string, number>()
  for (const key of keys) {
    keyMemory += (await admin.memory('USAGE', key, 'SAMPLES', '0')) ?? 0
    const loader = loaderOf(key)
    if (loader === undefined || key.endsWith(':l') || key.endsWith(':w')) continue
    const raw = await admin.get(key)
    if (raw === null) continue
    const kind = raw.slice(2, raw.indexOf(' ', 2))
    if (kind === 'a') entries.absent++
    else if (kind.startsWith('z')) entries.compressed++
    else entries.plain++
    storedBytes.set(loader, (storedBytes.get(loader) ?? 0) + Buffer.byteLength(raw))
    const split = payloads && splitEntry(raw)
    if (split && split.kind !== 'a') payloads?.push({ loader, payload: split.payload })
  }

  const reads = new Map<string, Phase>()
  const statuses = new Map<string, Set<string>>()
  for (let r = 0; r < REPEATS; r++) {
    const reader = await start()
    for (const query of QUERIES) {
      let status = ''
      const phase = await measure(admin, overhead, async () => {
        status = await runQueries(reader, [query])
      })
      const sum = reads.get(query.name)
      reads.set(query.name, sum === undefined ? phase : add(sum, phase))
      statuses.set(query.name, (statuses.get(query.name) ?? new Set()).add(status))
    }
    await reader.close()
  }
  return {
    config,
    fill,
    reads,
    statuses,
    usedMemory: memoryAfter - memoryBefore,
    keyMemory,
    keys: keys.length,
    entries,
    storedBytes,
  }
}

const t0 = performance.now()
installCommandCounter()
const redis = await startRedisServer()
const admin = redis.client()
log('opening and seeding PGlite')
const db = await openDatabase({})
const payloads: { loader: string; payload: string }[] = []
/** Per configuration, one outcome per round; the rounds interleave the configurations. */
const rounds: Outcome[][] = CONFIGS.map(() => [])
try {
  const overhead = await infoOverhead(admin)
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, config] of CONFIGS.entries()) {
      log(`round ${round + 1}/${ROUNDS}: ${config.name}`)
      const collect = round === 0 && config.compression === false && config.responses
      rounds[index]!.push(
        await runConfig(config, `cmp${index}r${round}`, overhead, collect ? payloads : undefined),
      )
    }
  }
} finally {
  await db.close()
  await redis.dispose()
}

log('timing the codecs on the stored payloads')

// ----------------------------------------------------------------------------------------------------------
// Report

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}
/** A figure of a configuration: the median over its rounds. */
const figure = (index: number, of: (o: Outcome) => number): number => median(rounds[index]!.map(of))
const sumPhases = (phases: Iterable<Phase>): Phase =>
  [...phases].reduce(add, { commands: 0, bytesIn: 0, bytesOut: 0, cpuMs: 0, wallMs: 0 })
const storedTotal = (o: Outcome) => [...o.storedBytes.values()].reduce((a, b) => a + b, 0)

const out: string[] = []
const load = os.loadavg()
out.push(
  `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, redis-server ${
    execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).split(' ')[2]
  }, load average ${load.map((l) => l.toFixed(2)).join(' / ')} (1 / 5 / 15 min) at the end of the run.`,
  `Query set: ${QUERIES.length} GraphQL operations (${[...new Set(QUERIES.map((q) => q.name))].join(', ')}). ` +
    `${ROUNDS} rounds of the ${CONFIGS.length} configurations, interleaved; each figure is the median over rounds. ` +
    `L2 reads: ${REPEATS} passes per round, each by a fresh server (empty L1) on the warm Redis.`,
  '',
  '### Redis memory after one fill',
  '',
  '| configuration | keys | entries / compressed | used_memory delta | MEMORY USAGE of the keys | stored entry bytes |',
  '|---|---|---|---|---|---|',
)
CONFIGS.forEach((config, i) => {
  const last = rounds[i]!.at(-1)!
  out.push(
    `| ${config.name} | ${last.keys} | ${last.entries.plain + last.entries.compressed + last.entries.absent} / ${last.entries.compressed} | ${kib(figure(i, (o) => o.usedMemory))} | ${kib(figure(i, (o) => o.keyMemory))} | ${kib(figure(i, storedTotal))} |`,
  )
})
out.push(
  '',
  '### Network and CPU per query set',
  '',
  "Round trips: commands the cache's clients sent. Bytes: what Redis received and sent meanwhile. CPU: this process (example API, PGlite and the cache), user + system.",
  '',
  '| configuration | phase | round trips | bytes to Redis | bytes from Redis | bytes per round trip | CPU ms (range) | wall ms (range) |',
  '|---|---|---|---|---|---|---|---|',
)
CONFIGS.forEach((config, i) => {
  for (const [phase, of, n] of [
    ['fill', (o: Outcome) => o.fill, 1],
    ['L2 reads', (o: Outcome) => sumPhases(o.reads.values()), REPEATS],
  ] as const) {
    const f = (pick: (p: Phase) => number) => figure(i, (o) => pick(of(o)) / n)
    /** Median, and the range over rounds: how much of a difference is noise. */
    const spread = (pick: (p: Phase) => number) => {
      const values = rounds[i]!.map((o) => pick(of(o)) / n)
      return `${f(pick).toFixed(0)} (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`
    }
    out.push(
      `| ${config.name} | ${phase} | ${f((p) => p.commands).toFixed(0)} | ${kib(f((p) => p.bytesIn))} | ${kib(f((p) => p.bytesOut))} | ${f((p) => (p.bytesIn + p.bytesOut) / p.commands).toFixed(0)} | ${spread((p) => p.cpuMs)} | ${spread((p) => p.wallMs)} |`,
    )
  }
})

const names = [...new Set(QUERIES.map((q) => q.name))]
out.push(
  '',
  '### L2 reads by query (per operation: round trips, bytes from Redis)',
  '',
  `| query | ${CONFIGS.map((c) => c.name).join(' | ')} |`,
  `|---|${CONFIGS.map(() => '---').join('|')}|`,
)
for (const name of names) {
  const count = QUERIES.filter((q) => q.name === name).length * REPEATS
  const cells = CONFIGS.map((_, i) => {
    const trips = figure(i, (o) => (o.reads.get(name)?.commands ?? 0) / count)
    const bytes = figure(i, (o) => (o.reads.get(name)?.bytesOut ?? 0) / count)
    return `${trips.toFixed(1)} / ${kib(bytes)}`
  })
  out.push(`| ${name} | ${cells.join(' | ')} |`)
}
const responseStatuses = rounds[CONFIGS.findIndex((c) => c.responses)]!.at(-1)!.statuses
out.push(
  '',
  `Cache-Status of the L2 reads with the response tier on: ${names.map((name) => `${name}: ${[...(responseStatuses.get(name) ?? [])].join(', ')}`).join('; ')}.`,
)

out.push('', '### Stored entry bytes by loader (responses on)', '', '| loader | off | on |', '|---|---|---|')
const offIndex = CONFIGS.findIndex((c) => c.compression === false && c.responses)
const onIndex = CONFIGS.findIndex((c) => c.compression !== false && c.responses)
for (const loader of [...(rounds[offIndex]![0]?.storedBytes.keys() ?? [])].sort()) {
  const bytes = (i: number) => figure(i, (o) => o.storedBytes.get(loader) ?? 0)
  out.push(`| ${loader} | ${kib(bytes(offIndex))} | ${kib(bytes(onIndex))} |`)
}

/** What compressPayload stores, even when that is not smaller (to time and size every payload alike). */
function deflateToBase64(payload: string): string {
  return deflateRawSync(Buffer.from(payload, 'utf8'), { level: 1 }).toString('base64')
}

// Codec alone, on every payload the uncompressed run stored (responses on: field, loader and response entries).
const buffers = payloads.map((p) => Buffer.from(p.payload, 'utf8'))

/**
 * CPU µs of one call (user + system of this process, so time other processes take from it does not count):
 * the least of 9 trials of at least 3 calls and 30 ms each; the first trials also warm the JIT up.
 */
function time(run: () => void): number {
  let best = Number.POSITIVE_INFINITY
  for (let trial = 0; trial < 9; trial++) {
    let calls = 0
    const started = performance.now()
    const cpu = process.cpuUsage()
    do {
      run()
      calls++
    } while (calls < 3 || performance.now() - started < 30)
    const used = process.cpuUsage(cpu)
    best = Math.min(best, (used.user + used.system) / calls)
  }
  return best
}

const sizes = buffers.map((b) => b.length).sort((a, b) => a - b)
const quantile = (q: number) => sizes[Math.min(sizes.length - 1, Math.floor(q * sizes.length))] ?? 0
out.push(
  '',
  `### The codec alone, on the ${payloads.length} payloads Redis held (compression off, responses on)`,
  '',
  'Timings are CPU time of this process (the least of 9 trials), so other processes on the machine barely move them.',
  '',
  `Payload sizes (UTF-8 bytes): median ${quantile(0.5)}, p90 ${quantile(0.9)}, p99 ${quantile(0.99)}, largest ${sizes.at(-1)}; ` +
    `total ${kib(sizes.reduce((a, b) => a + b, 0))}.`,
  '',
  '**By size** (deflate-raw level 1 + base64, as stored; CPU µs per payload):',
  '',
  '| payload bytes | payloads | mostly | bytes | stored compressed | ratio | compress µs | inflate µs |',
  '|---|---|---|---|---|---|---|---|',
)
const buckets = [0, 256, 512, 1024, 2048, 4096, 16384, Number.POSITIVE_INFINITY]
for (let b = 0; b + 1 < buckets.length; b++) {
  const inBucket = payloads.filter((_, i) => {
    const length = buffers[i]!.length
    return length >= buckets[b]! && length < buckets[b + 1]!
  })
  if (inBucket.length === 0) continue
  const byLoader = new Map<string, number>()
  for (const { loader } of inBucket) byLoader.set(loader, (byLoader.get(loader) ?? 0) + 1)
  const mostly = [...byLoader]
    .sort((x, y) => y[1] - x[1])
    .slice(0, 2)
    .map(([loader, count]) => `${loader} (${count})`)
    .join(', ')
  const plain = inBucket.reduce((sum, p) => sum + Buffer.byteLength(p.payload), 0)
  const packed = inBucket.map((p) => compressPayload(p.payload, 1) ?? deflateToBase64(p.payload))
  const packedBytes = packed.reduce((sum, y) => sum + y.length, 0)
  const compressUs = time(() => {
    for (const p of inBucket) deflateToBase64(p.payload)
  })
  const inflateUs = time(() => {
    for (const y of packed) inflatePayload(y)
  })
  const upper = buckets[b + 1] === Number.POSITIVE_INFINITY ? '+' : `–${buckets[b + 1]! - 1}`
  out.push(
    `| ${buckets[b]}${upper} | ${inBucket.length} | ${mostly} | ${plain} | ${packedBytes} | ${(plain / packedBytes).toFixed(2)}× | ${(compressUs / inBucket.length).toFixed(1)} | ${(inflateUs / inBucket.length).toFixed(1)} |`,
  )
}

out.push(
  '',
  '**By threshold** (what `compression: { threshold }` would store; CPU µs to write every payload, and to read back every compressed one):',
  '',
  '| threshold | payloads compressed | bytes stored | saved | compress µs, all payloads | inflate µs, all compressed |',
  '|---|---|---|---|---|---|',
)
const totalPlain = buffers.reduce((sum, x) => sum + x.length, 0)
for (const threshold of [64, 256, 512, 1024, 2048, 4096, 16384]) {
  const stored = payloads.map((p) => compressPayload(p.payload, threshold))
  const compressed = stored.filter((s): s is string => s !== undefined)
  const bytes = stored.reduce((sum, s, i) => sum + (s === undefined ? buffers[i]!.length : s.length), 0)
  const compressUs = time(() => {
    for (const p of payloads) compressPayload(p.payload, threshold)
  })
  const inflateUs =
    compressed.length === 0
      ? 0
      : time(() => {
          for (const s of compressed) inflatePayload(s)
        })
  out.push(
    `| ${threshold} | ${compressed.length} | ${kib(bytes)} | ${(100 * (1 - bytes / totalPlain)).toFixed(1)} % | ${compressUs.toFixed(0)} | ${inflateUs.toFixed(0)} |`,
  )
}

const large = buffers.filter((x) => x.length >= DEFAULT_COMPRESSION_THRESHOLD)
const largeBytes = large.reduce((sum, x) => sum + x.length, 0)
const brotliText = {
  params: { [zlib.BROTLI_PARAM_QUALITY]: 4, [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT },
}
const codecs: readonly [string, (x: Buffer) => Buffer, (y: Buffer) => Buffer][] = [
  ['deflate-raw level 1 (chosen)', (x) => deflateRawSync(x, { level: 1 }), inflateRawSync],
  ['deflate-raw level 6', (x) => deflateRawSync(x, { level: 6 }), inflateRawSync],
  ['brotli quality 4, text mode', (x) => brotliCompressSync(x, brotliText), brotliDecompressSync],
]
out.push(
  '',
  `**Codecs** on the ${large.length} payloads of at least ${DEFAULT_COMPRESSION_THRESHOLD} bytes (${kib(largeBytes)}):`,
  '',
  '| codec | binary | base64 (as stored) | ratio as stored | compress µs, all | decompress µs, all |',
  '|---|---|---|---|---|---|',
)
for (const [name, compress, decompress] of codecs) {
  const packed = large.map(compress)
  const binary = packed.reduce((sum, y) => sum + y.length, 0)
  const base64 = packed.reduce((sum, y) => sum + y.toString('base64').length, 0)
  const compressUs = time(() => {
    for (const x of large) compress(x)
  })
  const decompressUs = time(() => {
    for (const y of packed) decompress(y)
  })
  out.push(
    `| ${name} | ${kib(binary)} | ${kib(base64)} | ${(largeBytes / base64).toFixed(2)}× | ${compressUs.toFixed(0)} | ${decompressUs.toFixed(0)} |`,
  )
}

process.stdout.write(`${out.join('\n')}\n`)
log('done')
