/**
 * Counting Redis commands.
 *
 * Server side, `INFO commandstats` counts every command Redis executed, including the commands a Lua script
 * runs with `redis.call` (a loadcache read of 100 keys is one EVALSHA plus ~200 GET/SET inside it). What a
 * cache costs the network and the server's command loop is the top-level commands: the ones clients send.
 *
 * So each worker process also counts, client side, every command its ioredis clients send (a hook on
 * `Redis.prototype.sendCommand`, which single commands, pipelines, MULTI and scripts all go through; an
 * EVALSHA counts as one). Top-level commands of a run are:
 * - the server total (minus the orchestrator's own INFO/CONFIG), when no script ran (EVAL/EVALSHA = 0):
 *   then every executed command was sent by a client. This covers `cacheable`, whose Redis client is
 *   node-redis (not hooked);
 * - otherwise the client-side count of the hooked ioredis clients (only loadcache runs scripts, and all its
 *   clients are ioredis). Calls inside scripts = server total − that count.
 * For the script-free ioredis layers both counts are reported, as a cross-check.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { repoRoot } from './workers.js'

const sent = new Map<string, number>()
let installed = false

/**
 * Installs the client-side counter in this process (idempotent). Call before any layer connects.
 *
 * There may be two copies of ioredis in a bench process: bench/'s own (a dependency of
 * @envelop/response-cache-redis, which bench's imports resolve first) and the repository root's (which
 * the example API's server, under example-api/, resolves). Both are hooked, or a server's commands would
 * go uncounted depending on where its client happened to be created.
 */
export function installCommandCounter(): void {
  if (installed) return
  installed = true
  const rootIoredis = createRequire(join(repoRoot, 'package.json'))('ioredis') as typeof import('ioredis')
  for (const copy of new Set([Redis, rootIoredis.Redis])) hook(copy)
}

function hook(copy: typeof Redis): void {
  const original = copy.prototype.sendCommand
  copy.prototype.sendCommand = function (this: Redis, ...args: Parameters<Redis['sendCommand']>) {
    const name = String(args[0]?.name ?? '?').toLowerCase()
    sent.set(name, (sent.get(name) ?? 0) + 1)
    return original.apply(this, args)
  } as Redis['sendCommand']
}

export function resetSentCommands(): void {
  sent.clear()
}

export function sentCommands(): Record<string, number> {
  return Object.fromEntries(sent)
}

/** Commands sent around a measurement (the orchestrator's INFO/CONFIG/FLUSHALL, the layers' QUIT at teardown); never counted. */
const ORCHESTRATOR = new Set(['info', 'config|resetstat', 'config|set', 'config|get', 'flushall', 'quit'])

export function parseCommandStats(info: string): Record<string, number> {
  const calls: Record<string, number> = {}
  for (const line of info.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim())
    if (match && !ORCHESTRATOR.has(match[1]!)) calls[match[1]!] = Number(match[2])
  }
  return calls
}

export interface RedisCommandFigures {
  /** Every command Redis executed, including those run inside scripts. */
  serverCalls: number
  /** EVAL + EVALSHA calls. */
  scriptCalls: number
  /** Commands clients sent (see the module comment for how). */
  topLevel: number
  /** Commands run inside scripts (serverCalls − topLevel). */
  insideScripts: number
  /** What the hooked ioredis clients sent (undefined if the layer has no ioredis client). */
  clientSent: number | undefined
  /** Server-side calls per command. */
  byCommand: Record<string, number>
}

export function commandFigures(
  server: Record<string, number>,
  clientSent: Record<string, number> | undefined,
): RedisCommandFigures {
  const serverCalls = Object.values(server).reduce((a, b) => a + b, 0)
  const scriptCalls = (server.evalsha ?? 0) + (server.eval ?? 0)
  const sentTotal = clientSent ? Object.values(clientSent).reduce((a, b) => a + b, 0) : undefined
  const topLevel = scriptCalls > 0 && sentTotal !== undefined ? sentTotal : serverCalls
  return {
    serverCalls,
    scriptCalls,
    topLevel,
    insideScripts: Math.max(0, serverCalls - topLevel),
    clientSent: sentTotal,
    byCommand: server,
  }
}
