import { LoadCacheTypeError } from '../core/errors.js'
import type { CacheId } from '../core/keys.js'
import { type LoaderDefinition, type LoaderOrigin, originOf } from '../loader/define-loader.js'

type Definition = LoaderDefinition<CacheId, unknown>

/**
 * Refuses a second meaning for a name in one cache. The name is the first part of every key its entries get
 * (`<ns>:{<name>:<id>}`), so two definitions under one name read each other's entries: `loaders.user`
 * would return what `loaders.account` stored under the same id. Allowed: the same definition again, two
 * definitions with the same `fetch` (the same data), and loadcache's own entries of one origin (a schema
 * transformed twice, two tRPC helpers on one cache).
 *
 * @throws LoadCacheTypeError (`E_INVALID_OPTION`) naming both users of the name.
 */
export function checkOneMeaning(known: Definition, next: Definition): void {
  const knownOrigin = originOf(known)
  const nextOrigin = originOf(next)
  if (knownOrigin === 'loader' && nextOrigin === 'loader') {
    if (known.fetch === next.fetch) return
    throw new LoadCacheTypeError(
      'E_INVALID_OPTION',
      `two loaders are named "${next.name}" with different fetch functions: they would share cache entries and return each other's values. Give each loader a name of its own, or define it once (at module level) and use that definition everywhere`,
    )
  }
  if (knownOrigin === nextOrigin) return
  const rename =
    knownOrigin === 'loader' || nextOrigin === 'loader' ? 'rename the loader' : 'rename one of them'
  throw new LoadCacheTypeError(
    'E_INVALID_OPTION',
    `${describe(nextOrigin, next.name)} has the name of ${describe(knownOrigin, known.name)} in this cache: they would share cache entries and return each other's values; ${rename}`,
  )
}

function describe(origin: LoaderOrigin, name: string): string {
  switch (origin) {
    case 'loader':
      return `the loader "${name}"`
    case 'graphql':
      return `the cached GraphQL field ${name}`
    case 'trpc':
      return `the cached tRPC procedure "${name.replace(/^trpc\./, '')}" (entries named "${name}")`
    case 'response':
      return `the response tier (entries named "${name}")`
  }
}
