/**
 * Lua scripts, so that each step that must be atomic is one round trip.
 * Every key a script touches shares the hash tag `{<name>}`, so the scripts
 * stay valid on a Redis Cluster (all keys of one bus live in one slot).
 *
 * Layout (see the README, "Channels on Redis"):
 * - `{n}:events`        the global stream: one total order, the event ids.
 * - `{n}:ch:<channel>`  the channel's own stream: the same entries with the
 *                       same ids, capped per channel (count and age), so a
 *                       noisy channel never pushes a quiet one's history out.
 * - `{n}:ch-trimmed`    hash channel → id of the newest entry trimmed from
 *                       (or removed with) that channel: the channel's watermark.
 * - `{n}:checkpoints`   hash channel → "<id> <state json>": the state after id.
 * - `{n}:ch-stats`      hash channel → "<events> <bytes> <evictions>": what the
 *                       channel's stream holds (entries; bytes of event names
 *                       and JSON) and how many entries trimming removed from it.
 * - `{n}:channels`      set of channels with a stream.
 * - `{n}:origin`        the id of the first event this data ever held: an id
 *                       older than it comes from before a data loss.
 */

/** Stream ids compare as two decimal numbers without leading zeros: longer is larger, else lexicographic. */
const COMPARE = `
local function cmp(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end
local function cmpid(x, y)
  local xm, xs = string.match(x, '^(%d+)-(%d+)$')
  local ym, ys = string.match(y, '^(%d+)-(%d+)$')
  if not xm or not ym then return nil end
  local c = cmp(xm, ym)
  if c == 0 then c = cmp(xs, ys) end
  return c
end
`;

/** Bytes of an entry's event name and JSON (its `e` and `d` fields): what a replay reads. */
const ENTRY_BYTES = `
local function entrybytes(fields)
  local n = 0
  for i = 1, #fields, 2 do
    if fields[i] == 'e' or fields[i] == 'd' then n = n + #fields[i + 1] end
  end
  return n
end
local function readstats(key, channel, stream)
  local held = redis.call('HGET', key, channel)
  if held then
    local e, b, x = string.match(held, '^(%d+) (%d+) (%d+)$')
    if e then return tonumber(e), tonumber(b), tonumber(x) end
  end
  -- None yet (or a stream written before the figures were kept): count what the stream holds, once.
  local events, bytes = 0, 0
  for _, entry in ipairs(redis.call('XRANGE', stream, '-', '+')) do
    events = events + 1
    bytes = bytes + entrybytes(entry[2])
  end
  return events, bytes, 0
end
`;

/**
 * PUBLISH: one `XADD` to the global stream capped at `streamLength`, the
 * same entry with the same id to the channel's stream capped at `history`
 * entries and `maxAgeMs`. Before trimming, each records the id of the
 * newest entry it removes (the global trimmed id; the channel's watermark),
 * so `since()` can tell "nothing after the client's id was trimmed" from a
 * gap. It also remembers the id given to each publish sequence number of
 * this bus object, so a command that ioredis resends after a lost reply
 * returns the first id instead of appending the event twice. The channel's
 * figures (entries, bytes, evictions) change with it, in the same script:
 * the entries a trim removes are the oldest, so the longer of the count and
 * the age prefixes is what goes.
 *
 * KEYS: stream, trimmed-id key, publish log, channel stream, channel watermarks, channels set, origin, channel stats
 * ARGV: streamLength, sequence, window, event, json, channel, history, maxAgeMs (0: none)
 */
export const PUBLISH_SCRIPT = `${COMPARE}${ENTRY_BYTES}
local done = redis.call('HGET', KEYS[3], ARGV[2])
if done then return done end
local maxlen = tonumber(ARGV[1])
local len = redis.call('XLEN', KEYS[1])
if len >= maxlen then
  local old = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', len - maxlen + 1)
  if #old > 0 then redis.call('SET', KEYS[2], old[#old][1]) end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', maxlen, '*', 'e', ARGV[4], 'd', ARGV[5], 'c', ARGV[6])
redis.call('SET', KEYS[7], id, 'NX')
local history = tonumber(ARGV[7])
local events, bytes, evictions = readstats(KEYS[8], ARGV[6], KEYS[4])
local clen = redis.call('XLEN', KEYS[4])
local dropped = {}
if clen >= history then dropped = redis.call('XRANGE', KEYS[4], '-', '+', 'COUNT', clen - history + 1) end
local age = tonumber(ARGV[8])
local minid
if age > 0 then
  local ms = tonumber(string.match(id, '^(%d+)-'))
  minid = string.format('%d-0', ms - age)
  local aged = redis.call('XRANGE', KEYS[4], '-', '(' .. minid)
  if #aged > #dropped then dropped = aged end
end
local newest
if #dropped > 0 then newest = dropped[#dropped][1] end
for _, entry in ipairs(dropped) do bytes = bytes - entrybytes(entry[2]) end
if minid then redis.call('XTRIM', KEYS[4], 'MINID', minid) end
if newest then
  local mark = redis.call('HGET', KEYS[5], ARGV[6])
  if not mark or cmpid(newest, mark) > 0 then redis.call('HSET', KEYS[5], ARGV[6], newest) end
end
redis.call('XADD', KEYS[4], 'MAXLEN', history, id, 'e', ARGV[4], 'd', ARGV[5])
events = clen - #dropped + 1
bytes = bytes + #ARGV[4] + #ARGV[5]
evictions = evictions + #dropped
redis.call('HSET', KEYS[8], ARGV[6], string.format('%d %d %d', events, bytes, evictions))
redis.call('SADD', KEYS[6], ARGV[6])
redis.call('HSET', KEYS[3], ARGV[2], id)
local stale = tonumber(ARGV[2]) - tonumber(ARGV[3])
if stale > 0 then redis.call('HDEL', KEYS[3], tostring(stale)) end
redis.call('EXPIRE', KEYS[3], 86400)
return id
`;

/**
 * SAVE CHECKPOINT: store a channel's folded state after event `id`, unless
 * the stored one is at or after `id` (several instances write the same
 * checkpoints; the newest wins whatever order their writes arrive in).
 *
 * KEYS: checkpoints hash
 * ARGV: channel, id, json
 */
export const SAVE_CHECKPOINT_SCRIPT = `${COMPARE}
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local oldid = string.match(old, '^(%S+)')
  local c = oldid and cmpid(oldid, ARGV[2])
  if c and c >= 0 then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
return 1
`;

/**
 * REMOVE CHANNEL: forget a channel's history and checkpoint up to the
 * removal event `id`, and raise its watermark to `id` (a resume from before
 * the removal is a gap). Idempotent: every instance runs it when it folds
 * the removal, and a lagging one never deletes what was published after.
 * The channel's figures start again from what is left (as in memory, a
 * removed channel's evictions are forgotten with it).
 *
 * KEYS: channel stream, channel watermarks, checkpoints, channels set, channel stats
 * ARGV: channel, id
 */
export const REMOVE_CHANNEL_SCRIPT = `${COMPARE}${ENTRY_BYTES}
local mark = redis.call('HGET', KEYS[2], ARGV[1])
if not mark or cmpid(ARGV[2], mark) > 0 then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end
local ms, seq = string.match(ARGV[2], '^(%d+)-(%d+)$')
redis.call('XTRIM', KEYS[1], 'MINID', ms .. '-' .. (tonumber(seq) + 1))
local cp = redis.call('HGET', KEYS[3], ARGV[1])
if cp then
  local cpid = string.match(cp, '^(%S+)')
  if cpid and cmpid(cpid, ARGV[2]) <= 0 then redis.call('HDEL', KEYS[3], ARGV[1]) end
end
redis.call('HDEL', KEYS[5], ARGV[1])
if redis.call('XLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[4], ARGV[1])
else
  local events, bytes = readstats(KEYS[5], ARGV[1], KEYS[1])
  redis.call('HSET', KEYS[5], ARGV[1], string.format('%d %d 0', events, bytes))
end
return 1
`;
