import type { Redis } from 'ioredis'
import type { KeySpace } from '../core/keys.js'

/** What the keys of one namespace hold, counted with SCAN. */
export interface KeyCounts {
  /**
   * Per loader (cached GraphQL fields, tRPC procedures and `_response` included): entries, fill locks, and
   * locks another caller waits on (it marked them so that the filler announces its write).
   */
  readonly loaders: ReadonlyMap<string, LoaderKeyCounts>
  /**
   * Tag version keys (entry format 3: every tag a stored entry carries has one, and each invalidated tag):
   * versions created by the first write that carried the tag (`c<microseconds>`), and versions set by an
   * invalidation (a tag clock value).
   */
  readonly tagVersions: { readonly created: number; readonly invalidated: number }
  /** The tag clock (one key), or null when nothing was ever invalidated. */
  readonly clock: string | null
  /** Keys under the namespace's prefix that are none of the above (another namespace nested in it). */
  readonly other: number
}

export interface LoaderKeyCounts {
  entries: number
  locks: number
  waited: number
}

/** The mark a caller leaves on a lock it waits on, so the filler announces its write (see redis/scripts.ts). */
export function waiterKey(lockKey: string): string {
  return `${lockKey}:w`
}

/** The alphabet of an encoded segment (see encodeSegment): a tag key holds nothing else after `t:`. */
const ENCODED = /^[A-Za-z0-9_.%#-]+$/

/** `{<loader>:<id>}` (entry), `…:l` (its fill lock), `…:l:w` (the lock's waiter mark). */
const ENTITY_KEY = /^\{([^:{}]+):[^{}]*\}(:l(:w)?)?$/

/**
 * Counts every key of a namespace with SCAN (never KEYS, which blocks the server), reading the tag versions
 * it finds with MGET: cheap per call, but it walks the whole keyspace, so it belongs in a CLI and never on a
 * request path.
 */
export async function countKeys(client: Redis, keys: KeySpace): Promise<KeyCounts> {
  const prefix = `${keys.namespace}:`
  const loaders = new Map<string, LoaderKeyCounts>()
  const tagVersions = { created: 0, invalidated: 0 }
  let other = 0
  let cursor = '0'
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    const tagKeys: string[] = []
    for (const key of batch) {
      const rest = key.slice(prefix.length)
      const entity = ENTITY_KEY.exec(rest)
      if (entity !== null) {
        const counts = loaders.get(entity[1]!) ?? { entries: 0, locks: 0, waited: 0 }
        if (entity[2] === undefined) counts.entries++
        else if (entity[3] === undefined) counts.locks++
        else counts.waited++
        loaders.set(entity[1]!, counts)
      } else if (rest.startsWith('t:') && ENCODED.test(rest.slice(2))) {
        tagKeys.push(key)
      } else if (rest !== 'clock') {
        other++
      }
    }
    // A version that expired between SCAN and MGET is no longer there to count.
    const versions = tagKeys.length > 0 ? await client.mget(tagKeys) : []
    for (const version of versions) {
      if (version === null) continue
      if (version.startsWith('c')) tagVersions.created++
      else tagVersions.invalidated++
    }
  } while (cursor !== '0')
  return {
    loaders: new Map([...loaders].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    tagVersions,
    clock: await client.get(keys.clockKey),
    other,
  }
}
