/**
 * Every error loadcache throws on purpose carries a stable `code`, so callers can branch on it without
 * parsing messages. Messages say what to do, not only what went wrong.
 */

export type LoadCacheErrorCode = 'E_INVALID_OPTION' | 'E_INVALID_ID' | 'E_FETCH_TIMEOUT' | 'E_CACHE_CLOSED'

/** Base class of the errors loadcache raises for failures that are not misuse of an option or id. */
export class LoadCacheError extends Error {
  readonly code: LoadCacheErrorCode
  constructor(code: LoadCacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(`[loadcache] ${message}`, options)
    this.name = 'LoadCacheError'
    this.code = code
  }
}

/**
 * Thrown synchronously when an option or an id is invalid. It is a `TypeError` (as DataLoader's own option
 * errors are) so existing `instanceof TypeError` handling keeps working; `code` tells the two cases apart.
 */
export class LoadCacheTypeError extends TypeError {
  readonly code: 'E_INVALID_OPTION' | 'E_INVALID_ID'
  constructor(code: 'E_INVALID_OPTION' | 'E_INVALID_ID', message: string) {
    super(`[loadcache] ${message}`)
    this.name = 'LoadCacheTypeError'
    this.code = code
  }
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
  return Object.prototype.toString.call(value)
}

export function invalidOption(option: string, value: unknown, expected: string): LoadCacheTypeError {
  return new LoadCacheTypeError(
    'E_INVALID_OPTION',
    `option "${option}" must be ${expected}, got ${describeValue(value)}`,
  )
}
