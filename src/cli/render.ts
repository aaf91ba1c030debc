import { inspect } from 'node:util'
import type { EntryReport, TagCheck } from './entry-report.js'
import type { KeyCounts } from './key-counts.js'
import type { DecodedPayload } from './payload.js'
import type { TagVersions } from './tag-versions.js'

/*
 * Plain-text views of the inspect reports, for people: one labelled line per fact, values decoded the way
 * Node shows them (Dates, Maps, BigInts…). `--json` prints the reports themselves instead.
 */

const LABEL = 11
const line = (label: string, text: string) => `  ${label.padEnd(LABEL)}${text}`
const more = (text: string) => `  ${' '.repeat(LABEL)}${text}`

/** An entry report: value, TTL and freshness, tags against their versions, lock. */
export function renderEntry(loader: string, id: string, report: EntryReport, now = Date.now()): string {
  const out = [`entry ${loader} ${JSON.stringify(id)}  (key ${report.key})`]
  const { entry } = report
  if (report.unreadable !== undefined) {
    out.push(line('value', `unreadable: ${report.unreadable}`))
  } else if (entry === undefined) {
    out.push(line('value', 'not in Redis: the next load fetches it'))
  } else {
    out.push(...renderPayload(entry.payload))
    out.push(line('ttl', `${seconds(entry.ttlMs)} left in Redis`))
    out.push(
      line(
        'fresh',
        now < entry.freshUntil
          ? `for ${seconds(entry.freshUntil - now)} more (until ${iso(entry.freshUntil)})`
          : `no: stale since ${iso(entry.freshUntil)}, served only within grace until ${iso(entry.expiresAt)}`,
      ),
    )
    out.push(
      line('clock', `${entry.clock} (the tag clock read before its fetch, which took ${entry.fetchMs} ms)`),
    )
    if (entry.tags.length === 0) out.push(line('tags', 'none'))
    const tagWidth = Math.max(0, ...entry.tags.map(({ tag }) => tag.length))
    const recordedWidth = Math.max(0, ...entry.tags.map(({ recorded }) => (recorded ?? 'none').length))
    entry.tags.forEach((tag, index) => {
      const recorded = `recorded ${(tag.recorded ?? 'none').padEnd(recordedWidth)}`
      const text = `${tag.tag.padEnd(tagWidth)}  ${recorded}  current ${tag.current ?? 'missing'}  ${verdict(tag)}`
      out.push(index === 0 ? line('tags', text) : more(text))
    })
    out.push(
      line(
        'valid',
        entry.valid
          ? 'yes'
          : "no: a tag's version is not the one it recorded, so the next read deletes it and fetches again",
      ),
    )
  }
  out.push(
    line(
      'lock',
      report.lock === undefined
        ? 'none'
        : `held by ${report.lock.holder} (a fill in progress), ${seconds(report.lock.ttlMs)} left${
            report.lock.waited ? '; another caller waits for it' : ''
          }`,
    ),
  )
  return out.join('\n')
}

/** Whether a tag still holds for its entry, and if not, why. */
function verdict(tag: TagCheck): string {
  if (tag.holds) return 'holds'
  if (tag.recorded === null) return 'does not hold: the entry was stored without a version for it'
  if (tag.current === null) return 'does not hold: the tag has no version in Redis (expired or evicted)'
  const current = versionKind(tag.current)
  if (current?.kind === 'created') {
    return `does not hold: its version was lost and created again ${iso(current.atMs)}`
  }
  return `does not hold: invalidated${current === undefined ? '' : ` ${iso(current.atMs)}`}`
}

function renderPayload(payload: DecodedPayload): string[] {
  switch (payload.kind) {
    case 'absent':
      return [line('value', 'absent: the source returned nothing for this id (a cached "not found")')]
    case 'value':
      return [
        line('serializer', payload.serializer),
        ...inspect(payload.value, { depth: 6, breakLength: 100 })
          .split('\n')
          .map((text, index) => (index === 0 ? line('value', text) : more(text))),
      ]
    case 'response': {
      const { response } = payload
      if (response.kind === 'private') {
        return [
          line('serializer', payload.serializer),
          line(
            'value',
            `PRIVATE marker: each viewer's response is under its own key (${response.cacheControl})`,
          ),
        ]
      }
      return [
        line('serializer', payload.serializer),
        line('response', `${response.cacheControl}, ETag ${response.etag}, stored ${iso(response.storedAt)}`),
        line('body', truncate(response.body, 2000)),
      ]
    }
    case 'opaque':
      return [
        line('serializer', payload.serializer),
        line('value', `${payload.reason}: ${truncate(payload.payload, 500)}`),
      ]
  }
}

/** Tag versions, each with what it stands for: created by a write, or set by an invalidation, and when. */
export function renderTags(report: TagVersions): string {
  const out = [
    `tags  (tag clock ${report.clock === null ? 'not set: nothing invalidated yet' : clockText(report.clock)})`,
  ]
  const width = Math.max(...report.tags.map(({ tag }) => tag.length))
  for (const { tag, version } of report.tags) {
    out.push(`  ${tag.padEnd(width)}  ${version === null ? NO_VERSION : `version ${versionText(version)}`}`)
  }
  return out.join('\n')
}

const NO_VERSION =
  'no version (no entry carrying it written, nor invalidated, within the tag TTL; or evicted)'

/** Entries, locks and waited-on locks per loader, as a table, then tag versions and the clock. */
export function renderCounts(namespace: string, counts: KeyCounts): string {
  const out = [`keys of namespace "${namespace}" (SCAN)`]
  const width = Math.max(6, ...[...counts.loaders.keys()].map((name) => name.length))
  const row = (name: string, ...cells: (string | number)[]) =>
    `  ${name.padEnd(width)}  ${String(cells[0]).padStart(8)}  ${cells
      .slice(1)
      .map((cell) => String(cell).padStart(6))
      .join('  ')}`
  out.push(row('loader', 'entries', 'locks', 'waited'))
  for (const [name, { entries, locks, waited }] of counts.loaders) out.push(row(name, entries, locks, waited))
  if (counts.loaders.size === 0) out.push('  (no entries)')
  const { created, invalidated } = counts.tagVersions
  out.push(
    `  tag versions  ${created + invalidated} (${created} created by writes, ${invalidated} set by invalidations)`,
  )
  out.push(`  tag clock     ${counts.clock === null ? 'not set' : clockText(counts.clock)}`)
  if (counts.other > 0)
    out.push(`  other keys    ${counts.other} (under this prefix, not loadcache's: a nested namespace?)`)
  return out.join('\n')
}

/**
 * What a tag version is (see redis/scripts.ts): `c<microseconds>`, created by the first write that carried
 * the tag, or a tag clock value (microseconds), set by an invalidation; undefined for anything else.
 */
function versionKind(
  version: string,
): { readonly kind: 'created' | 'invalidated'; readonly atMs: number } | undefined {
  if (!/^c?\d{1,16}$/.test(version)) return undefined
  const created = version.startsWith('c')
  return {
    kind: created ? 'created' : 'invalidated',
    atMs: Number(created ? version.slice(1) : version) / 1000,
  }
}

/** A tag version with what it stands for. */
function versionText(version: string): string {
  const kind = versionKind(version)
  if (kind === undefined) return version
  return kind.kind === 'created'
    ? `${version} (created ${iso(kind.atMs)} by a write; not invalidated since)`
    : `${version} (invalidated ${iso(kind.atMs)})`
}

/** A clock value (microseconds since the epoch, see redis/scripts.ts) with the time it stands for. */
function clockText(value: string): string {
  const ms = Number(value) / 1000
  return Number.isFinite(ms) ? `${value} (${iso(ms)})` : value
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}

function seconds(ms: number): string {
  return ms < 0 ? 'no expiry' : `${(ms / 1000).toFixed(1)} s`
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text
}
