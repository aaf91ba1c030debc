import type { Redis } from 'ioredis'
import type { KeySpace } from '../core/keys.js'

/** What the keys of one namespace hold, counted with SCAN. */
export interface KeyCounts {
  /** Entries and locks per loader (cached GraphQL fields, tRPC procedures and `_response` included). */
  readonly loaders: ReadonlyMap<string, { entries: number; locks: number }>
  /** Tag version keys (each tag invalidated within the tag TTL has one). */
  readonly tagVersions: number
  /** The tag clock (one key), or null when nothing was ever invalidated. */
  readonly clock: string | null
  /** Keys under the namespace's prefix that are none of the above (another namespace nested in it). */
  readonly other: number
}

/** The alphabet of an encoded segment (see encodeSegment): a tag key holds nothing else after `t:`. */
const ENCODED = /^[A-Za-z0-9_.%#-]+$/

/**
 * Counts every key of a namespace with SCAN (never KEYS, which blocks the server): cheap per call, but it
 * walks the whole keyspace, so it belongs in a CLI and never on a request path.
 */
export async function countKeys(client: Redis, keys: KeySpace): Promise<KeyCounts> {
  const prefix = `${keys.namespace}:`
  const loaders = new Map<string, { entries: number; locks: number }>()
  let tagVersions = 0
  let other = 0
  let cursor = '0'
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    for (const key of batch) {
      const rest = key.slice(prefix.length)
      const entry = /^\{([^:{}]+):[^{}]*\}(:l)?$/.exec(rest)
      if (entry !== null) {
        const counts = loaders.get(entry[1]!) ?? { entries: 0, locks: 0 }
        if (entry[2] === undefined) counts.entries++
        else counts.locks++
        loaders.set(entry[1]!, counts)
      } else if (rest.startsWith('t:') && ENCODED.test(rest.slice(2))) {
        tagVersions++
      } else if (rest !== 'clock') {
        other++
      }
    }
  } while (cursor !== '0')
  return {
    loaders: new Map([...loaders].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    tagVersions,
    clock: await client.get(keys.clockKey),
    other,
  }
}
