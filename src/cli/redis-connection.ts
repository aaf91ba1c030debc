import type { Redis } from 'ioredis'
import { sleep, withDeadline } from '../core/deadline.js'
import { LoadCacheError, LoadCacheTypeError } from '../core/errors.js'

/** ioredis's connect timeout (the TCP handshake); connectRedis gives the whole connect a second more. */
const CONNECT_TIMEOUT_MS = 3000
/**
 * How long one command may go unanswered (ioredis's commandTimeout): a frozen or overloaded server fails
 * inspect with a reason instead of hanging it.
 */
export const COMMAND_TIMEOUT_MS = 5000
/** How long `inspect` waits for a Redis that is loading its dataset (after a restart) by default. */
const LOADING_WAIT_MS = 60_000
/** Between two PINGs to a loading Redis. */
const LOADING_POLL_MS = 200

export interface ConnectOptions {
  /** How long to wait for a Redis that answers LOADING. Default 60 s. */
  readonly loadingWaitMs?: number
  /** Called once when Redis is loading its dataset and the connection waits for it. */
  readonly onLoading?: (message: string) => void
}

/**
 * Connects to the Redis server at `url` for one command: no retries and no offline queue, so a wrong host or
 * port fails in seconds with the reason, instead of hanging while ioredis reconnects forever.
 *
 * A server that is loading its dataset (after a restart it answers every command with LOADING) is waited
 * for, up to `loadingWaitMs`: it is reachable, only not ready yet.
 *
 * @throws LoadCacheTypeError (`E_INVALID_ARGUMENT`) for a URL that is not `redis://` or `rediss://`, or when
 *   ioredis is not installed; LoadCacheError (`E_REDIS_UNREACHABLE`) when the server does not answer, or
 *   is still loading its dataset after `loadingWaitMs`.
 */
export async function connectRedis(url: string, options: ConnectOptions = {}): Promise<Redis> {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw badUrl(url)
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw badUrl(url)
  let RedisClient: typeof Redis
  try {
    RedisClient = (await import('ioredis')).Redis
  } catch {
    throw new LoadCacheTypeError(
      'E_INVALID_ARGUMENT',
      'inspect needs ioredis (an optional peer dependency of loadcache): npm install ioredis',
    )
  }
  const client = new RedisClient(url, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    // The PING below proves the connection. ioredis's ready check runs INFO, which the read-only user the
    // README gives for inspect may not run (ioredis then prints a warning of its own).
    enableReadyCheck: false,
    commandTimeout: COMMAND_TIMEOUT_MS,
  })
  // connect() rejects with "Connection is closed"; the socket's own error (ECONNREFUSED, ENOTFOUND, a
  // refused password) is the one that says what is wrong.
  let socketError: Error | undefined
  client.on('error', (error: Error) => {
    socketError ??= error
  })
  try {
    // ioredis's connect() also waits for its own setup commands (CLIENT SETINFO, in recent 5.x), which a
    // frozen server never answers. A second more than its own connect timeout, so that a host that never
    // completes the TCP handshake still fails with ioredis's reason (ETIMEDOUT).
    const deadlineMs = CONNECT_TIMEOUT_MS + 1000
    await withDeadline(client.connect(), deadlineMs, () => new NoAnswerError(deadlineMs))
    await pingOnceLoaded(client, redact(parsed), options)
  } catch (error) {
    client.disconnect()
    if (error instanceof LoadCacheError) throw error
    const reason =
      error instanceof NoAnswerError
        ? error.message
        : isCommandTimeout(error)
          ? new NoAnswerError(COMMAND_TIMEOUT_MS).message
          : (socketError ?? (error as Error)).message.replace(/\.$/, '')
    throw new LoadCacheError(
      'E_REDIS_UNREACHABLE',
      `cannot reach Redis at ${redact(parsed)}: ${reason}. Check the --redis URL (host, port, password) and that the server runs`,
      { cause: socketError ?? error },
    )
  }
  return client
}

/** PINGs until Redis answers, waiting while it answers LOADING (at most `loadingWaitMs`). */
async function pingOnceLoaded(client: Redis, where: string, options: ConnectOptions): Promise<void> {
  const waitMs = options.loadingWaitMs ?? LOADING_WAIT_MS
  const deadline = performance.now() + waitMs
  const wait = waitMs >= 1000 ? `${Math.round(waitMs / 1000)} s` : `${waitMs} ms`
  let told = false
  for (;;) {
    try {
      await client.ping()
      return
    } catch (error) {
      if (!(error as Error)?.message?.startsWith('LOADING')) throw error
      if (performance.now() >= deadline) {
        throw new LoadCacheError(
          'E_REDIS_UNREACHABLE',
          `Redis at ${where} is still loading its dataset after ${wait}; run inspect again once it has loaded`,
          { cause: error },
        )
      }
      if (!told) {
        told = true
        options.onLoading?.(`Redis at ${where} is loading its dataset; waiting for it (at most ${wait})`)
      }
      await sleep(LOADING_POLL_MS)
    }
  }
}

/** A server that accepted the connection and then said nothing (frozen, or overloaded). */
class NoAnswerError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms / 1000} s (is it frozen or overloaded?)`)
  }
}

/** Whether an error is ioredis's commandTimeout firing. */
export function isCommandTimeout(error: unknown): boolean {
  return (error as Error)?.message === 'Command timed out'
}

function badUrl(url: string): LoadCacheTypeError {
  return new LoadCacheTypeError(
    'E_INVALID_ARGUMENT',
    `--redis must be a redis:// or rediss:// URL (e.g. redis://127.0.0.1:6379/0), got ${JSON.stringify(url)}`,
  )
}

/** The URL without its password, for messages. */
function redact(url: URL): string {
  const shown = new URL(url.href)
  if (shown.password !== '') shown.password = '***'
  return shown.href
}
