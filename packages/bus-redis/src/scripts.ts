/**
 * Lua scripts, so that each step that must be atomic is one round trip.
 *
 * PUBLISH: one `XADD` capped at exactly `history` entries. Before trimming
 * it records the id of the newest entry it removes, so `since()` can tell
 * "the client's last id was trimmed but nothing after it was" (no gap) from
 * "events after it were trimmed" (gap). It also remembers the id given to
 * each publish sequence number of this bus object, so a command that
 * ioredis resends after a lost reply returns the first id instead of
 * appending the event twice.
 *
 * KEYS: stream, trimmed-id key, publish log (per bus object)
 * ARGV: maxlen, sequence, window, event, json
 */
export const PUBLISH_SCRIPT = `
local done = redis.call('HGET', KEYS[3], ARGV[2])
if done then return done end
local maxlen = tonumber(ARGV[1])
local len = redis.call('XLEN', KEYS[1])
if len >= maxlen then
  local old = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', len - maxlen + 1)
  if #old > 0 then redis.call('SET', KEYS[2], old[#old][1]) end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', maxlen, '*', 'e', ARGV[4], 'd', ARGV[5])
redis.call('HSET', KEYS[3], ARGV[2], id)
local stale = tonumber(ARGV[2]) - tonumber(ARGV[3])
if stale > 0 then redis.call('HDEL', KEYS[3], tostring(stale)) end
redis.call('EXPIRE', KEYS[3], 86400)
return id
`;

/**
 * SAVE CHECKPOINT: store the folded state after event `id`, unless the
 * stored checkpoint is at or after `id` (several instances write the same
 * checkpoints; the newest wins whatever order their writes arrive in).
 * Stream ids compare as two decimal numbers without leading zeros: longer
 * is larger, else lexicographic (they can exceed Lua's 2^53 numbers).
 *
 * KEYS: checkpoint hash
 * ARGV: id, json
 */
export const SAVE_CHECKPOINT_SCRIPT = `
local function cmp(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end
local old = redis.call('HGET', KEYS[1], 'id')
if old then
  local om, os = string.match(old, '^(%d+)-(%d+)$')
  local nm, ns = string.match(ARGV[1], '^(%d+)-(%d+)$')
  if om and nm then
    local c = cmp(om, nm)
    if c == 0 then c = cmp(os, ns) end
    if c >= 0 then return 0 end
  end
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'json', ARGV[2])
return 1
`;
