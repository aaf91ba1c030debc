import { invalidOption, LoadCacheTypeError } from './errors.js'

/*
 * Option validators shared by every options object (cache, loaders, integrations): each returns the value or
 * the fallback when it is undefined, and throws a coded error naming the option and echoing the value.
 */

export function positiveNumber(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalidOption(option, value, 'a positive number')
  }
  return value
}

export function nonNegativeNumber(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalidOption(option, value, 'a number >= 0')
  }
  return value
}

export function positiveInteger(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw invalidOption(option, value, 'a positive integer')
  }
  return value
}

export function plainObject(option: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption(option, value, 'an object')
  }
  return value as Record<string, unknown>
}

export function fraction(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(value >= 0 && value <= 1))
    throw invalidOption(option, value, 'a number from 0 to 1')
  return value
}

export function nonNegativeInteger(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw invalidOption(option, value, 'an integer >= 0')
  }
  return value
}

/**
 * The options a cache sets as defaults and a loader may override, one rule each, so the two can never
 * disagree on what a value means. Each returns `undefined` for `undefined` (the caller picks the default).
 */
export const loaderTuning = {
  /** Seconds, > 0. */
  ttl: (option: string, value: unknown) => optional(value, () => positiveNumber(option, value, 0)),
  /** Seconds, >= 0; 0 = absent ids are not cached. */
  negativeTtl: (option: string, value: unknown) => optional(value, () => nonNegativeNumber(option, value, 0)),
  /** Seconds, >= 0. */
  grace: (option: string, value: unknown) => optional(value, () => nonNegativeNumber(option, value, 0)),
  /** XFetch beta > 0, or `false` for none (resolved to 0). */
  earlyRefresh: (option: string, value: unknown) =>
    optional(value, () => (value === false ? 0 : positiveNumber(option, value, 0))),
  /** Milliseconds, an integer >= 0; 0 = no limit. */
  fetchTimeoutMs: (option: string, value: unknown) =>
    optional(value, () => nonNegativeInteger(option, value, 0)),
  /** An integer >= 0; 0 = unlimited. */
  maxBatchSize: (option: string, value: unknown) =>
    optional(value, () => nonNegativeInteger(option, value, 0)),
} as const

function optional<T>(value: unknown, check: () => T): T | undefined {
  return value === undefined ? undefined : check()
}

/**
 * Refuses members an options object does not know, so a misspelt option (`tll: 60`) fails at startup
 * instead of silently doing nothing (TypeScript catches it; JavaScript callers would not know).
 */
export function rejectUnknownOptions(
  where: string,
  options: Record<string, unknown>,
  known: readonly string[],
): void {
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      throw new LoadCacheTypeError(
        'E_INVALID_OPTION',
        `${where}: unknown option "${name}"; known options are ${known.join(', ')}`,
      )
    }
  }
}
