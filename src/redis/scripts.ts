import { createHash } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'

/**
 * Every Redis script loadcache runs lives here. Each one is a single round trip and states what it
 * guarantees. Keys are passed in pairs `entryKey, lockKey` (same hash tag, so same slot); tag keys and the
 * clock key are built inside the script from prefixes, because an entry's tags are only known once it is
 * read.
 *
 * The tag clock. A tag's version is the value of `<ns>:clock` when the tag was last invalidated; the clock
 * only moves forward (`max(clock + 1, now_us + 1)`, so it keeps moving forward even if the clock key is
 * evicted or Redis restarts). A filler reads `max(clock, now_us)` in the same script that takes its lock,
 * *before* it fetches, and stores it in the entry. The entry is valid while every tag's version is <= that
 * reading. An invalidation that lands during the fetch gets a larger version, so the fill's write is
 * refused and, should it slip through, every later read rejects it: tags are O(1) to invalidate and are
 * checked lazily, with no sets of keys.
 */

/** Shared Lua: is the encoded entry `raw` well-formed and not invalidated by any of its tags? */
const ENTRY_IS_VALID = `
local function entry_is_valid(raw, tag_prefix, check_tags)
  local newline = string.find(raw, '\\n', 1, true)
  if not newline then return false end
  local header = string.sub(raw, 1, newline - 1)
  local n = 0
  local seen = nil
  for field in string.gmatch(header, '[^ ]+') do
    n = n + 1
    if n == 1 then
      if field ~= '2' then return false end
    elseif n == 3 then
      seen = tonumber(field)
      if not seen then return false end
    elseif n >= 7 and check_tags then
      local version = tonumber(redis.call('GET', tag_prefix .. field) or '0')
      if (not version) or version > seen then return false end
    end
  end
  return n >= 6
end

local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
`

/**
 * READ: for each entry key, return the entry if valid; otherwise delete it (corrupt or invalidated by a
 * tag) and, in `lock` mode, try to take its lock with a token and TTL (`SET NX PX`).
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
export const READ_SCRIPT = `${ENTRY_IS_VALID}
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
    out[#out + 1] = 'b'
    out[#out + 1] = tostring(redis.call('PTTL', lock_key))
  end
end
return out
`

/**
 * WRITE: for each key this caller locked, write the entry only if the lock still holds our token and every
 * tag is still at or below the clock read before the fetch; release the lock either way (compare-and-delete);
 * then announce the keys on the bus channel so waiters in every process re-read at once.
 *
 * KEYS: entryKey1, lockKey1, ...
 * ARGV: token, tagPrefix, channel, checkTags, entry1, pttl1, entry2, pttl2, ...  (entry `''` = release only;
 *   checkTags `0` on Redis Cluster, where the read-time check is the guarantee)
 * Returns: one status per key: `w` written, `r` released without writing, `s` refused because a tag was
 *   invalidated during the fetch, `x` refused because the lock was no longer ours (the key was invalidated,
 *   which deletes its lock, or the lock expired and someone else may be filling).
 * Guarantee: a fill that raced an invalidation of its key or of one of its tags never writes.
 */
export const WRITE_SCRIPT = `${ENTRY_IS_VALID}
local token, tag_prefix, channel = ARGV[1], ARGV[2], ARGV[3]
local check_tags = ARGV[4] == '1'
local out = {}
local notice = { 'f' }
for i = 1, #KEYS, 2 do
  local entry_key, lock_key = KEYS[i], KEYS[i + 1]
  local j = 4 + i
  local entry, pttl = ARGV[j], ARGV[j + 1]
  if redis.call('GET', lock_key) ~= token then
    out[#out + 1] = 'x'
  else
    redis.call('DEL', lock_key)
    if entry == '' then
      out[#out + 1] = 'r'
    elseif entry_is_valid(entry, tag_prefix, check_tags) then
      redis.call('SET', entry_key, entry, 'PX', pttl)
      out[#out + 1] = 'w'
    else
      out[#out + 1] = 's'
    end
  end
  notice[#notice + 1] = entry_key
end
redis.call('PUBLISH', channel, table.concat(notice, '\\n'))
return out
`

/**
 * INVALIDATE: delete entries and their locks (so an in-flight fill of them cannot write), bump the version
 * of each tag to a new clock value, and publish the invalidation on the bus channel so every process drops
 * its L1 copies.
 *
 * KEYS: entryKey1, lockKey1, ...
 * ARGV: clockKey, tagPrefix, tagTtlMs, channel, origin, tag1, tag2, ...
 * Returns: the new clock value (0 when no tag was given; on Redis Cluster tags go through CLOCK instead).
 * Guarantee: once this returns, no read returns an entry of these keys or tags written before it, and no
 * fill that started before it writes.
 */
export const INVALIDATE_SCRIPT = `${ENTRY_IS_VALID}
local clock_key, tag_prefix, tag_ttl, channel, origin = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local message = { 'i ' .. origin }
for i = 1, #KEYS, 2 do
  redis.call('DEL', KEYS[i], KEYS[i + 1])
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
    redis.call('SET', tag_prefix .. ARGV[i], version, 'PX', tag_ttl)
    message[#message + 1] = 't' .. ARGV[i]
  end
end
redis.call('PUBLISH', channel, table.concat(message, '\\n'))
return string.format('%.0f', clock)
`

/**
 * CLOCK (Redis Cluster): the tag clock lives in its own slot there, so it is read and bumped by these
 * scripts instead of inside READ/INVALIDATE. Same arithmetic as above.
 * KEYS: clockKey. ARGV: `read` | `bump`. Returns the clock reading (read) or the new version (bump).
 */
export const CLOCK_SCRIPT = `${ENTRY_IS_VALID}
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

export const readScript = new Script(READ_SCRIPT)
export const writeScript = new Script(WRITE_SCRIPT)
export const invalidateScript = new Script(INVALIDATE_SCRIPT)
export const clockScript = new Script(CLOCK_SCRIPT)
