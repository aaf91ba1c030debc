import { createHash } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import { KeySpace } from '../core/keys.js'

/**
 * Every Redis script loadcache runs lives here. Each one is a single round trip and states what it
 * guarantees. Keys are passed in pairs `entryKey, lockKey` (same hash tag, so same slot); tag keys and the
 * clock key are built inside the script from prefixes, because an entry's tags are only known once it is
 * read.
 *
 * Tag versions. Every tag an entry carries has a version key `<ns>:t:<tag>`, and the entry records the
 * version each tag had when it was written (`tag=version` in its header). The entry is valid while every
 * tag still has exactly that version: tags are O(1) to invalidate and are checked lazily, with no sets of
 * keys. Versions are of two kinds:
 * - an invalidation sets the tag's version to a new value of the tag clock (a number);
 * - a writer that finds no version creates one, `c<now_us>`: unique, so if the version an entry recorded
 *   was lost (evicted under an allkeys-* policy, deleted by hand) and is created again, the old entry
 *   never matches it: a lost version can never make an invalidated entry valid again.
 * A version key lives at least as long as the entries that recorded it (each write extends it).
 *
 * The tag clock only moves forward (`max(clock + 1, now_us + 1)`, so it keeps moving forward even if the
 * clock key is evicted or Redis restarts). A filler reads `max(clock, now_us)` in the same script that takes
 * its lock, *before* it fetches. Its write is refused if a tag was invalidated since (its version is a
 * number above that reading): a value fetched across an invalidation is never written.
 */

/** Shared Lua: header parsing, the validity check of an entry, the clock. */
const COMMON = `
local function split_entry(raw)
  local newline = string.find(raw, '\\n', 1, true)
  if not newline then return nil, nil end
  return string.sub(raw, 1, newline - 1), string.sub(raw, newline + 1)
end

local function fields_of(header)
  local fields = {}
  for field in string.gmatch(header, '[^ ]+') do fields[#fields + 1] = field end
  return fields
end

-- Is the entry well-formed and does every tag still have the version the entry recorded? A missing
-- version, or a tag recorded without one, makes it invalid.
local function entry_is_valid(raw, tag_prefix, check_tags)
  local header = split_entry(raw)
  if not header then return false end
  local fields = fields_of(header)
  if #fields < 6 or fields[1] ~= '3' or not tonumber(fields[3]) then return false end
  if not check_tags then return true end
  for n = 7, #fields do
    local tag, version = string.match(fields[n], '^([^=]+)=(.+)$')
    if not tag or redis.call('GET', tag_prefix .. tag) ~= version then return false end
  end
  return true
end

local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- Was a tag with this version invalidated after the clock reading? Created versions (c...) were not.
local function moved_since(version, clock)
  if string.sub(version, 1, 1) == 'c' then return false end
  local number = tonumber(version)
  return (not number) or number > clock
end

-- A tag's version for a writer: created when missing (c<now_us>: unique, so a lost version is never
-- recreated equal to the one an old entry recorded), its TTL extended to at least need ms, so that it
-- outlives the entry about to record it. Returns the version and whether it was created.
local function ensure_version(key, need)
  local version = redis.call('GET', key)
  if not version then
    version = 'c' .. string.format('%.0f', now_us())
    redis.call('SET', key, version, 'PX', need)
    return version, true
  end
  local left = redis.call('PTTL', key)
  if left >= 0 and left < need then redis.call('PEXPIRE', key, need) end
  return version, false
end

-- Moves a tag to a new version (an invalidation): its TTL is kept if it has one (it already outlives the
-- entries that recorded it), else set to ttl.
local function bump_version(key, version, ttl)
  if redis.call('PTTL', key) > 0 then
    redis.call('SET', key, version, 'KEEPTTL')
  else
    redis.call('SET', key, version, 'PX', ttl)
  end
end
`

/**
 * READ: for each entry key, return the entry if valid; otherwise delete it (corrupt, invalidated by a tag,
 * or a tag version lost) and, in `lock` mode, try to take its lock with a token and TTL (`SET NX PX`). A
 * caller that finds the lock taken by another marks it (`<lockKey>:w`), so the filler announces its write:
 * an uncontended fill publishes nothing.
 *
 * KEYS: entryKey1, lockKey1, entryKey2, lockKey2, ...
 * ARGV: token, lockTtlMs, tagPrefix, clockKey, mode (`lock` | `refresh`), checkTags (`1` | `0`), heldFreshUntil
 *   - `lock`: a miss takes the lock if free;
 *   - `refresh`: take the lock if free, unless the entry is fresher than the one the caller holds
 *     (`heldFreshUntil`, epoch ms): then another process already refreshed it, and that entry is returned.
 *   - checkTags `0` (Redis Cluster, where tag and clock keys live in other slots): the script neither reads
 *     the clock (returns 0) nor checks tags; the client does both (see RedisTier).
 * Returns: { clock, status1, value1, status2, value2, ... } where status is
 *   `h` (hit, value = the entry), `l` (locked by us), `b` (busy: locked by another, value = its PTTL ms).
 * Guarantee: a lock is taken only on a key that had no valid entry (or in refresh mode), and the clock is
 * read in the same atomic step, before the caller fetches.
 */
export const READ_SCRIPT = `${COMMON}
local token, lock_ttl, tag_prefix, clock_key, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local check_tags = ARGV[6] == '1'
local clock = 0
if check_tags then
  clock = tonumber(redis.call('GET', clock_key) or '0') or 0
  local now = now_us()
  if now > clock then clock = now end
end
local out = { string.format('%.0f', clock) }
for i = 1, #KEYS, 2 do
  local entry_key, lock_key = KEYS[i], KEYS[i + 1]
  local raw = redis.call('GET', entry_key)
  if raw and not entry_is_valid(raw, tag_prefix, check_tags) then
    redis.call('DEL', entry_key)
    raw = false
  end
  if raw and mode == 'refresh' then
    local fresh_until = tonumber(string.match(raw, '^[^ ]+ [^ ]+ [^ ]+ ([^ ]+)'))
    if not fresh_until or fresh_until <= tonumber(ARGV[7]) then raw = false end
  end
  if raw then
    out[#out + 1] = 'h'
    out[#out + 1] = raw
  elseif redis.call('SET', lock_key, token, 'NX', 'PX', lock_ttl) then
    out[#out + 1] = 'l'
    out[#out + 1] = ''
  else
    local pttl = redis.call('PTTL', lock_key)
    if pttl > 0 then redis.call('SET', lock_key .. ':w', '1', 'PX', pttl) end
    out[#out + 1] = 'b'
    out[#out + 1] = tostring(pttl)
  end
end
return out
`

/**
 * WRITE: for each key this caller locked, write the entry only if the lock still holds our token and no tag
 * was invalidated since the clock read before the fetch; release the lock either way (compare-and-delete);
 * then announce the keys someone waits on (READ marked them) on the bus channel, so those waiters re-read
 * at once. The entry is stored with the version of each of its tags (a missing version is created, unique),
 * and each version key is extended to outlive the entry.
 *
 * An item may bring extra checks (an entry built from other entries, a response): `tag=version` (the tag
 * must still have the version the entry it came from recorded) and `tag<clock` (the tag must not have been
 * invalidated after that clock reading), space separated.
 *
 * KEYS: entryKey1, lockKey1, ...
 * ARGV: token, tagPrefix, channel, checkTags, tagMarginMs, entry1, pttl1, checks1, entry2, pttl2, checks2, ...
 *   (entry `''` = release only; checkTags `0` on Redis Cluster, where the client reads and creates the tag
 *   versions and sends the entry with them, and channel `''` there: the client announces)
 * Returns: one status per key (`w` written, `r` released without writing, `s` refused because a tag was
 *   invalidated during the fetch or a check failed, `x` refused because the lock was no longer ours: the key
 *   was invalidated, which deletes its lock, or the lock expired and someone else may be filling); then one
 *   string per key, the versions its tags were stored with (space separated; '' unless written); then the
 *   keys that had waiters (announced here unless channel is `''`).
 * Guarantee: a fill that raced an invalidation of its key or of one of its tags never writes.
 */
export const WRITE_SCRIPT = `${COMMON}
local token, tag_prefix, channel, tag_margin = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[5])
local check_tags = ARGV[4] == '1'
local statuses, versions, notice = {}, {}, { 'f' }
for i = 1, #KEYS, 2 do
  local entry_key, lock_key = KEYS[i], KEYS[i + 1]
  local j = 6 + (i - 1) / 2 * 3
  local entry, pttl, checks = ARGV[j], tonumber(ARGV[j + 1]), ARGV[j + 2]
  local status, stored = 'x', ''
  if redis.call('GET', lock_key) == token then
    redis.call('DEL', lock_key)
    status = 'r'
    local header, payload = split_entry(entry)
    if header and entry ~= '' then
      local fields = fields_of(header)
      local clock = tonumber(fields[3])
      local ok = #fields >= 6 and fields[1] == '3' and clock ~= nil
      if ok and check_tags then
        local need = pttl + tag_margin
        local recorded = {}
        for n = 7, #fields do
          local version, created = ensure_version(tag_prefix .. fields[n], need)
          if not created and moved_since(version, clock) then ok = false end
          recorded[#recorded + 1] = version
          fields[n] = fields[n] .. '=' .. version
        end
        for check in string.gmatch(checks, '[^ ]+') do
          local tag, wanted = string.match(check, '^([^=]+)=(.+)$')
          if tag then
            if redis.call('GET', tag_prefix .. tag) ~= wanted then ok = false end
          else
            local bound_tag, bound = string.match(check, '^([^<]+)<(.+)$')
            local version = bound_tag and redis.call('GET', tag_prefix .. bound_tag)
            if version and moved_since(version, tonumber(bound)) then ok = false end
          end
        end
        header = table.concat(fields, ' ')
        stored = table.concat(recorded, ' ')
      end
      if ok then
        redis.call('SET', entry_key, header .. '\\n' .. payload, 'PX', pttl)
        status = 'w'
      else
        status = 's'
        stored = ''
      end
    end
  end
  statuses[#statuses + 1] = status
  versions[#versions + 1] = stored
  if redis.call('DEL', lock_key .. ':w') == 1 then notice[#notice + 1] = entry_key end
end
if #notice > 1 and channel ~= '' then redis.call('PUBLISH', channel, table.concat(notice, '\\n')) end
for _, version in ipairs(versions) do statuses[#statuses + 1] = version end
for k = 2, #notice do statuses[#statuses + 1] = notice[k] end
return statuses
`

/**
 * INVALIDATE: delete entries and their locks (so an in-flight fill of them cannot write), set the version
 * of each tag to a new clock value, and publish the invalidation on the bus channel so every process drops
 * its L1 copies. A tag's version keeps the TTL it has (set by the writes of the entries carrying it, so it
 * outlives them), or gets `tagTtlMs` when it has none (no entry carries it: only fills in flight need it).
 *
 * KEYS: entryKey1, lockKey1, ...
 * ARGV: clockKey, tagPrefix, tagTtlMs, channel, origin, tag1, tag2, ...  (channel `''`: the client announces)
 * Returns: the new clock value (0 when no tag was given; on Redis Cluster tags go through CLOCK instead).
 * Guarantee: once this returns, no read returns an entry of these keys or tags written before it, and no
 * fill that started before it writes.
 */
export const INVALIDATE_SCRIPT = `${COMMON}
local clock_key, tag_prefix, tag_ttl, channel, origin = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local message = { 'i ' .. origin }
for i = 1, #KEYS, 2 do
  redis.call('DEL', KEYS[i], KEYS[i + 1], KEYS[i + 1] .. ':w')
  message[#message + 1] = 'k' .. KEYS[i]
end
local clock = 0
if #ARGV > 5 then
  clock = tonumber(redis.call('GET', clock_key) or '0') or 0
  local now = now_us()
  clock = clock + 1
  if now + 1 > clock then clock = now + 1 end
  local version = string.format('%.0f', clock)
  redis.call('SET', clock_key, version)
  for i = 6, #ARGV do
    bump_version(tag_prefix .. ARGV[i], version, tag_ttl)
    message[#message + 1] = 't' .. ARGV[i]
  end
end
if channel ~= '' then redis.call('PUBLISH', channel, table.concat(message, '\\n')) end
return string.format('%.0f', clock)
`

/**
 * PRIME: a write-through. For each item, delete its entry and lock (an in-flight fill of it can no longer
 * write) and store the new entry, unless one of its tags was invalidated after the writer's ticket (the
 * clock reading taken before it wrote to its source: the value may then be older than that invalidation's).
 * Checked first, for every item; then the tags the prime itself invalidates (the key's own tag, the entity
 * tag, their buckets) are bumped to a new clock value, which the stored entries record; then everything is
 * announced on the bus, so every process drops its L1 copies (of the entries, and of values derived from
 * them).
 *
 * KEYS: entryKey1, lockKey1, ...
 * ARGV: since, clockKey, tagPrefix, tagTtlMs, tagMarginMs, channel, origin, checkTags, bumpCount,
 *   bumpTag1..bumpTagN, entry1, pttl1, entry2, pttl2, ...
 *   - since `''`: no ticket, nothing to check (the caller vouches that the values are current);
 *   - entries carry bare tags (the script records versions) when checkTags is `1`; on Redis Cluster
 *     (checkTags `0`, channel `''`, no bump tags) the client has checked and bumped the tags in their own
 *     slots and sends entries with their versions, or `''` for an item it found raced: deleted only.
 * Returns: the new clock value, then one status per item (`w` stored, `s` raced: deleted only), then one
 *   string per item, the versions its tags were stored with.
 * Guarantee: once this returns, no process serves the old entry, and the new one is stored only if no
 *   invalidation of its key or tags happened between the ticket and now (its own excepted).
 */
export const PRIME_SCRIPT = `${COMMON}
local since, clock_key, tag_prefix, tag_ttl = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local tag_margin, channel, origin = tonumber(ARGV[5]), ARGV[6], ARGV[7]
local check_tags, bump_count = ARGV[8] == '1', tonumber(ARGV[9])
local first_item = 10 + bump_count
local items = (#ARGV - first_item + 1) / 2
local raced, headers = {}, {}
for i = 1, items do
  local entry = ARGV[first_item + (i - 1) * 2]
  raced[i] = entry == ''
  if not raced[i] and check_tags then
    local header, payload = split_entry(entry)
    local fields = header and fields_of(header) or {}
    if #fields < 6 then raced[i] = true end
    if since then
      for n = 7, #fields do
        local version = redis.call('GET', tag_prefix .. fields[n])
        if version and moved_since(version, since) then raced[i] = true end
      end
    end
    headers[i] = { fields, payload }
  end
end
local message = { 'i ' .. origin }
local clock = 0
if bump_count > 0 then
  clock = tonumber(redis.call('GET', clock_key) or '0') or 0
  local now = now_us()
  clock = clock + 1
  if now + 1 > clock then clock = now + 1 end
  local version = string.format('%.0f', clock)
  redis.call('SET', clock_key, version)
  for n = 10, 9 + bump_count do
    bump_version(tag_prefix .. ARGV[n], version, tag_ttl)
    message[#message + 1] = 't' .. ARGV[n]
  end
end
local statuses, versions = {}, {}
for i = 1, items do
  local entry_key, lock_key = KEYS[i * 2 - 1], KEYS[i * 2]
  local entry, pttl = ARGV[first_item + (i - 1) * 2], tonumber(ARGV[first_item + (i - 1) * 2 + 1])
  redis.call('DEL', entry_key, lock_key, lock_key .. ':w')
  message[#message + 1] = 'k' .. entry_key
  local status, stored = 's', ''
  if not raced[i] then
    if check_tags then
      local fields, payload = headers[i][1], headers[i][2]
      local need = pttl + tag_margin
      local recorded = {}
      for n = 7, #fields do
        local version = ensure_version(tag_prefix .. fields[n], need)
        recorded[#recorded + 1] = version
        fields[n] = fields[n] .. '=' .. version
      end
      entry = table.concat(fields, ' ') .. '\\n' .. payload
      stored = table.concat(recorded, ' ')
    end
    redis.call('SET', entry_key, entry, 'PX', pttl)
    status = 'w'
  end
  statuses[#statuses + 1] = status
  versions[#versions + 1] = stored
end
if channel ~= '' then redis.call('PUBLISH', channel, table.concat(message, '\\n')) end
local out = { string.format('%.0f', clock) }
for _, status in ipairs(statuses) do out[#out + 1] = status end
for _, version in ipairs(versions) do out[#out + 1] = version end
return out
`

/**
 * CLOCK (Redis Cluster): the tag clock lives in its own slot there, so it is read and bumped by these
 * scripts instead of inside READ/INVALIDATE. Same arithmetic as above.
 * KEYS: clockKey. ARGV: `read` | `bump`. Returns the clock reading (read) or the new version (bump).
 */
export const CLOCK_SCRIPT = `${COMMON}
local clock = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local now = now_us()
if ARGV[1] == 'bump' then
  clock = clock + 1
  if now + 1 > clock then clock = now + 1 end
  redis.call('SET', KEYS[1], string.format('%.0f', clock))
elseif now > clock then
  clock = now
end
return string.format('%.0f', clock)
`

/**
 * TAG (Redis Cluster): one tag's version, in the tag's own slot.
 * - `ensure` (before a write): the version, created (unique, `c<now_us>`) when missing, its TTL extended to
 *   at least ARGV[3] ms.
 * - `bump` (an invalidation): set every key given (tags of one slot) to ARGV[2], each keeping a TTL it has,
 *   else ARGV[3] ms. A huge invalidation's tags then cost a script per slot, not one per tag.
 * - `prime` (a write-through, see PRIME): first whether the version moved after the clock reading ARGV[4]
 *   (`1`/`0`; `0` when ARGV[4] is `''`), then set to ARGV[2] when given, else created when missing; either
 *   way its TTL extended to at least ARGV[3] ms. Returns { moved, version }.
 * KEYS: tagKey (`bump`: tag keys of one slot). ARGV: `ensure` | `bump` | `prime`, version, ttlMs, since.
 * Returns the version.
 */
export const TAG_SCRIPT = `${COMMON}
if ARGV[1] == 'prime' then
  local current = redis.call('GET', KEYS[1])
  local since = tonumber(ARGV[4])
  local moved = (current and since and moved_since(current, since)) and '1' or '0'
  if ARGV[2] ~= '' then
    current = ARGV[2]
    redis.call('SET', KEYS[1], current, 'KEEPTTL')
  elseif not current then
    current = ensure_version(KEYS[1], tonumber(ARGV[3]))
  end
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
  return { moved, current }
end
if ARGV[1] == 'bump' then
  for i = 1, #KEYS do bump_version(KEYS[i], ARGV[2], ARGV[3]) end
  return ARGV[2]
end
local version = ensure_version(KEYS[1], tonumber(ARGV[3]))
return version
`

/**
 * TAG_VERSIONS (Redis Cluster, Redis 7+): the values of tag keys that live on one master, in any of its
 * slots, in one round trip instead of one GET each. Only the first key is declared (it routes the script):
 * Redis refuses declared keys of several slots even with `allow-cross-slot-keys`, which lets the script
 * read the others, passed in ARGV, as long as this node serves them. When the client's slot map is out of
 * date, Redis answers "non local key"; on Redis 6 the shebang does not compile. Either way the caller reads
 * those keys one by one instead.
 * KEYS: a tag key. ARGV: more tag keys of the same master. Returns one value per key (nil when missing).
 */
export const TAG_VERSIONS_SCRIPT = `#!lua flags=no-writes,allow-cross-slot-keys
local values = { redis.call('GET', KEYS[1]) }
for i = 1, #ARGV do values[i + 1] = redis.call('GET', ARGV[i]) end
return values
`

export type RedisClient = Redis | Cluster

/** A script run with EVALSHA, falling back to EVAL once when the server does not know it (NOSCRIPT). */
export class Script {
  readonly source: string
  readonly sha: string

  constructor(source: string) {
    this.source = source
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  async run(
    client: RedisClient,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args)
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
      return await client.eval(this.source, keys.length, ...keys, ...args)
    }
  }
}

/**
 * A script that must run even when Redis is out of memory under `noeviction`. Redis refuses a script whose
 * first write comes while memory is full: an invalidation by tag alone (its first write bumps the clock) was
 * refused whole, and on a Cluster the clock and tag bumps that follow the key deletes were refused after
 * them; either way no bus message went out, and every other process went on serving what it evicts. Flagged
 * `allow-oom` (Redis 7+), it runs whole; a bump adds a few bytes past `maxmemory`. `allow-cross-slot-keys`
 * keeps what a plain script may do on a cluster-enabled server reached as one node (the clock and tag keys
 * live in other slots). A server that cannot compile the flags (Redis 6) gets the plain script from then on,
 * per client: the old behaviour (such invalidations queued and replayed).
 */
export class EvictionScript {
  readonly flagged: Script
  readonly plain: Script
  readonly #plainFor = new WeakSet<object>()

  constructor(source: string) {
    this.plain = new Script(source)
    this.flagged = new Script(`#!lua flags=allow-oom,allow-cross-slot-keys\n${source}`)
  }

  async run(
    client: RedisClient,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    if (!this.#plainFor.has(client)) {
      try {
        return await this.flagged.run(client, keys, args)
      } catch (error) {
        // Redis 6: "Error compiling script (new function): user_script:1: unexpected symbol near '#'".
        if (!(error instanceof Error) || !error.message.includes('Error compiling script')) throw error
        this.#plainFor.add(client)
      }
    }
    return this.plain.run(client, keys, args)
  }
}

export const readScript = new Script(READ_SCRIPT)
export const writeScript = new Script(WRITE_SCRIPT)
export const invalidateScript = new EvictionScript(INVALIDATE_SCRIPT)
/** The clock bumped by an invalidation on Redis Cluster (see EvictionScript). */
export const clockBumpScript = new EvictionScript(CLOCK_SCRIPT)
export const clockScript = clockBumpScript.plain
/** A tag bumped by an invalidation on Redis Cluster (see EvictionScript). */
export const tagBumpScript = new EvictionScript(TAG_SCRIPT)
export const tagScript = tagBumpScript.plain
/**
 * Not flagged: a prime also stores entries, which must not grow a full Redis. Refused there, it falls back
 * to a flagged invalidation of its ids (see WriteThrough), so it still evicts everywhere.
 */
export const primeScript = new Script(PRIME_SCRIPT)
export const tagVersionsScript = new Script(TAG_VERSIONS_SCRIPT)

/** The KEYS of a script that takes entries: each entry key followed by its lock key (the same slot). */
export function withLockKeys(entryKeys: readonly string[]): string[] {
  const keys: string[] = []
  for (const key of entryKeys) keys.push(key, KeySpace.lockKey(key))
  return keys
}
