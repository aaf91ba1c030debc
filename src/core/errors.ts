/**
 * Every error loadcache throws on purpose carries a stable `code`, so callers can branch on it without
 * parsing messages. Messages say what to do, not only what went wrong. The codes, and what each means:
 */
export const ERROR_CODES = {
  /** An option of `createCache`, `defineLoader` or an integration has a wrong type or value. */
  E_INVALID_OPTION: 'invalid option',
  /** An id given to a loader or to `invalidate` is not a string or a finite number. */
  E_INVALID_ID: 'invalid id',
  /** A method was called with arguments of the wrong shape (e.g. `invalidateTags('a')`). */
  E_INVALID_ARGUMENT: 'invalid argument',
  /** A `@cached`/`@invalidates` directive or a policy is misused; found when the schema is built. */
  E_INVALID_DIRECTIVE: 'invalid directive',
  /** `fetch` returned something other than an array aligned with the ids or a Map. */
  E_INVALID_FETCH_RESULT: 'invalid fetch result',
  /** Arguments or an input that cannot be turned into a cache key (a Map, a class instance, a bigint…). */
  E_UNKEYABLE_VALUE: 'value cannot be keyed',
  /** A value that cannot be stored faithfully (it is returned, not cached). */
  E_UNCACHEABLE_VALUE: 'value cannot be cached',
  /** loadcache is wired in a way that cannot work (e.g. a middleware placed before `.input()`). */
  E_MISUSE: 'misuse',
  /** `fetch` took longer than `fetchTimeoutMs`. */
  E_FETCH_TIMEOUT: 'fetch timed out',
  /** The cache was closed. */
  E_CACHE_CLOSED: 'cache closed',
  /** Redis answered a script with something loadcache did not send it to answer (a bug, or a foreign script). */
  E_REDIS_REPLY: 'unexpected Redis reply',
  /** `loadcache inspect` could not reach the Redis server it was pointed at. */
  E_REDIS_UNREACHABLE: 'Redis unreachable',
  /**
   * The bus found no reachable node owning its channel's slot on a Redis Cluster (during a failover or a
   * migration, or while the cluster is unreachable). The bus retries with backoff; L1 is bypassed meanwhile.
   */
  E_CLUSTER_TOPOLOGY: 'Redis Cluster slot owner unavailable',
} as const

export type LoadCacheErrorCode = keyof typeof ERROR_CODES

/** Base class of the errors loadcache raises for failures that are not misuse of an option, id or argument. */
export class LoadCacheError extends Error {
  readonly code: LoadCacheErrorCode
  constructor(code: LoadCacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(`[loadcache] ${message}`, options)
    this.name = 'LoadCacheError'
    this.code = code
  }
}

/**
 * Thrown synchronously for misuse: an invalid option, id or argument, an unkeyable value. It is a
 * `TypeError` (as DataLoader's own option errors are) so existing `instanceof TypeError` handling keeps
 * working; `code` tells the cases apart.
 */
export class LoadCacheTypeError extends TypeError {
  readonly code: LoadCacheErrorCode
  constructor(code: LoadCacheErrorCode, message: string) {
    super(`[loadcache] ${message}`)
    this.name = 'LoadCacheTypeError'
    this.code = code
  }
}

/** Whether an error is one of loadcache's own (it then has a `code` from `ERROR_CODES`). */
export function isLoadCacheError(error: unknown): error is LoadCacheError | LoadCacheTypeError {
  return error instanceof LoadCacheError || error instanceof LoadCacheTypeError
}

/** Formats a value for an error message: short, and unambiguous about its type. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value
    return JSON.stringify(shown)
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`
  if (Array.isArray(value)) return `array(${value.length})`
  // The shape only, never the members' values: an object given by mistake (a viewer, an id) may hold
  // secrets, and this text goes to logs and, unmasked, to clients.
  const prototype = Object.getPrototypeOf(value)
  if (prototype !== null && Object.getPrototypeOf(prototype) !== null) {
    const name = (value as object).constructor?.name
    return name ? `a ${name}` : Object.prototype.toString.call(value)
  }
  const keys = Object.keys(value as object)
  if (keys.length === 0) return 'an empty object'
  const shown = keys.slice(0, 5).map((key) => (/^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key)))
  return `an object with ${keys.length > 5 ? `${keys.length} keys, first ` : ''}${shown.join(', ')}`
}

export function invalidOption(option: string, value: unknown, expected: string): LoadCacheTypeError {
  // `loader "user": ttl` is the option ttl of loader "user": `loader "user": option "ttl" must be …`.
  const owner = option.lastIndexOf('": ')
  const where = owner === -1 ? '' : option.slice(0, owner + 3)
  return new LoadCacheTypeError(
    'E_INVALID_OPTION',
    `${where}option "${option.slice(where.length)}" must be ${expected}, got ${describeValue(value)}`,
  )
}

export function invalidArgument(call: string, message: string): LoadCacheTypeError {
  return new LoadCacheTypeError('E_INVALID_ARGUMENT', `${call}: ${message}`)
}
