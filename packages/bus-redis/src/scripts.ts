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
 * SAVE STATE: bump the version, store the JSON, and announce both, so every
 * instance applies states in version order whatever order messages arrive in.
 *
 * KEYS: state hash
 * ARGV: json, channel, origin instance id
 */
export const SAVE_STATE_SCRIPT = `
local v = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HSET', KEYS[1], 'json', ARGV[1])
redis.call('PUBLISH', ARGV[2], v .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[1])
return v
`;
