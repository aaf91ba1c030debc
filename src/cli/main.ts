#!/usr/bin/env node
import { inspect, parseArgs } from 'node:util'
import { isLoadCacheError } from '../core/errors.js'
import { isValidNamespace, KeySpace } from '../core/keys.js'
import { type EntryReport, readEntry } from './entry-report.js'
import { countKeys } from './key-counts.js'
import { COMMAND_TIMEOUT_MS, connectRedis, isCommandTimeout } from './redis-connection.js'
import { renderCounts, renderEntry, renderTags } from './render.js'
import { readTagVersions } from './tag-versions.js'

/*
 * `loadcache inspect`: what Redis holds for a cache, decoded. Read-only (GET, PTTL, MGET, SCAN): it never
 * writes, locks or invalidates, so it is safe against production. Exit codes: 0 done, 1 failed (bad URL,
 * Redis unreachable, unknown loader), 2 wrong usage.
 */

const USAGE = `Usage: loadcache inspect --redis <url> [--namespace <ns>] <what>... [--json]

Shows what Redis holds for a loadcache cache, decoded. Read-only.

  --redis <url>         redis:// or rediss:// URL of the server (a single node, not a cluster)
  --namespace <ns>      the cache's namespace option (default "loadcache")

What to show (one or more):
  --loader <name> --id <id>
                        one entry: its value (decoded by its serializer), TTL, freshness, each tag with
                        the version the entry recorded, the tag's current version and whether it still
                        holds (the entry is valid while every tag holds), and the lock holder if a fill
                        is in progress. Cached GraphQL fields are loaders named Type.field, tRPC
                        procedures trpc.<path>, stored responses _response.
  --tags <a,b,...>      the current version of these tags (as passed to invalidateTags): created by a
                        write (c<microseconds>), or the tag clock value of their last invalidation
  --counts              entries, locks and waited-on locks per loader, tag versions by kind (walks the
                        keyspace with SCAN)

  --json                print the reports as JSON
  --help                this text`

async function main(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (error) {
    process.stderr.write(`loadcache: ${(error as Error).message}\n\n${USAGE}\n`)
    return 2
  }
  const { command, values } = parsed
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const usageError = checkUsage(command, values)
  if (usageError !== undefined) {
    process.stderr.write(`loadcache: ${usageError}\n\n${USAGE}\n`)
    return 2
  }
  const namespace = values.namespace ?? 'loadcache'
  const keys = new KeySpace(namespace)
  const client = await connectRedis(values.redis!, {
    onLoading: (message) => process.stderr.write(`loadcache: ${message}\n`),
  })
  try {
    const sections: string[] = []
    const json: Record<string, unknown> = { namespace }
    if (values.loader !== undefined && values.id !== undefined) {
      const report = await readEntry(client, keys, values.loader, values.id)
      json.entry = entryJson(values.loader, values.id, report)
      sections.push(renderEntry(values.loader, values.id, report))
    }
    if (values.tags !== undefined) {
      const tags = values.tags
        .split(',')
        .map((tag) => tag.trim())
        .filter((tag) => tag !== '')
      const report = await readTagVersions(client, keys, tags)
      json.tags = report
      sections.push(renderTags(report))
    }
    if (values.counts) {
      const counts = await countKeys(client, keys)
      json.counts = { ...counts, loaders: Object.fromEntries(counts.loaders) }
      sections.push(renderCounts(namespace, counts))
    }
    process.stdout.write(values.json ? `${JSON.stringify(json, null, 2)}\n` : `${sections.join('\n\n')}\n`)
    return 0
  } finally {
    client.disconnect()
  }
}

function parse(argv: readonly string[]) {
  const { positionals, values } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      redis: { type: 'string' },
      namespace: { type: 'string' },
      loader: { type: 'string' },
      id: { type: 'string' },
      tags: { type: 'string' },
      counts: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  return { command: positionals, values }
}

function checkUsage(
  command: readonly string[],
  values: ReturnType<typeof parse>['values'],
): string | undefined {
  if (command.length !== 1 || command[0] !== 'inspect') {
    return command.length === 0 ? 'missing the command (inspect)' : `unknown command "${command.join(' ')}"`
  }
  if (values.redis === undefined) return 'missing --redis <url>'
  if (values.namespace !== undefined && !isValidNamespace(values.namespace)) {
    return `--namespace ${JSON.stringify(values.namespace)} is not a namespace (letters, digits and _ . : -)`
  }
  if ((values.loader === undefined) !== (values.id === undefined)) return '--loader and --id go together'
  if (values.loader === undefined && values.tags === undefined && !values.counts) {
    return 'nothing to show: give --loader <name> --id <id>, --tags <a,b>, or --counts'
  }
  return undefined
}

/**
 * The entry report as JSON. A decoded value may hold what JSON has no form for (Dates, Maps, BigInts,
 * undefined…), so it is given as Node's inspect text, the same text the plain output shows.
 */
function entryJson(loader: string, id: string, report: EntryReport): unknown {
  const payload = report.entry?.payload
  if (payload?.kind !== 'value') return { loader, id, ...report }
  const { value, ...rest } = payload
  return {
    loader,
    id,
    ...report,
    entry: { ...report.entry, payload: { ...rest, inspected: inspect(value, { depth: 6 }) } },
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    // Our own errors say what to do; anything else is a bug worth its stack. Exit once it is written: after a
    // failed connection ioredis leaves its connect timer running, which would hold the process for seconds.
    const message = isLoadCacheError(error)
      ? error.message
      : isCommandTimeout(error)
        ? `[loadcache] Redis stopped answering: no reply within ${COMMAND_TIMEOUT_MS / 1000} s (is it frozen or overloaded?)`
        : ((error as Error)?.stack ?? String(error))
    process.stderr.write(`${message}\n`, () => process.exit(1))
  },
)
