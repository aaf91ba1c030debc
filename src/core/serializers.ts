import { parse, stringify } from 'devalue'
import type { Serializer } from './entry.js'
import { LoadCacheTypeError } from './errors.js'

/**
 * The default serializer: devalue (pinned to one version; its format is not promised stable across
 * versions, hence the id). Values come back as they went in from every tier and process: `Date`, `Map`,
 * `Set`, `BigInt`, `RegExp`, typed arrays, `undefined`, `NaN`, `-0`, repeated and cyclic references. It
 * throws for what it cannot store faithfully (class instances, functions, symbols, promises, iterators),
 * and such values are returned but not cached.
 *
 * Chosen over superjson (drops class prototypes and functions silently), seroval (its fast decoder uses
 * eval: anyone able to write to Redis would run code) and v8.serialize (binary, turns class instances into
 * plain objects silently, and an older Node may not read a newer Node's data).
 */
export const structuredSerializer: Serializer = {
  id: 'd6',
  serialize: (value) => {
    try {
      return stringify(value)
    } catch (error) {
      const path = (error as { path?: string }).path
      throw new LoadCacheTypeError(
        'E_UNCACHEABLE_VALUE',
        `${(error as Error).message}${path ? ` (at value${path})` : ''}`,
      )
    }
  },
  deserialize: (payload) => parse(payload),
}

/**
 * Plain JSON: about three times cheaper than the default, for values that are JSON already (rows of
 * strings, numbers, booleans, null, arrays and plain objects). It refuses anything JSON would change
 * (a `Date` would come back as a string from Redis but as a `Date` from L1), so every tier returns the
 * same value.
 */
export const jsonSerializer: Serializer = {
  id: 'j',
  serialize: (value) => {
    assertJsonSafe(value, '', 0)
    return JSON.stringify(value)
  },
  deserialize: (payload) => JSON.parse(payload),
}

/** Deeper values are refused rather than walked (a cycle would otherwise never end). */
const MAX_JSON_DEPTH = 64

function assertJsonSafe(value: unknown, path: string, depth: number): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return
    case 'number':
      if (Number.isFinite(value)) return
      break
    case 'object': {
      if (value === null) return
      if (depth >= MAX_JSON_DEPTH) break
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) assertJsonSafe(value[i], `${path}[${i}]`, depth + 1)
        return
      }
      const prototype = Object.getPrototypeOf(value)
      if (prototype !== Object.prototype && prototype !== null) break
      for (const [key, member] of Object.entries(value)) {
        assertJsonSafe(member, `${path}.${key}`, depth + 1)
      }
      return
    }
  }
  throw new LoadCacheTypeError(
    'E_UNCACHEABLE_VALUE',
    `JSON cannot store ${describeKind(value)} faithfully (at value${path}); use the default serializer`,
  )
}

function describeKind(value: unknown): string {
  if (typeof value === 'object' && value !== null) {
    if (Array.isArray(value)) return 'an array this deep'
    const name = (value as object).constructor?.name
    return name ? `a ${name}` : 'an object'
  }
  return typeof value === 'number' ? String(value) : `a ${typeof value}`
}
