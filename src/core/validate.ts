import { invalidOption } from './errors.js'

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
