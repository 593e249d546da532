-- embedis-kit lock acquisition with a fencing token (Redis 7.0 Lua; embedis-server runs it
-- too). The counter is incremented before the lock is written so that an error (the counter
-- key holding something else) leaves nothing half done.
--
-- KEYS[1]  the lock key
-- KEYS[2]  the lock's fencing counter (never expires)
-- ARGV[1]  the holder's random token
-- ARGV[2]  ttl in ms
-- returns {1, fence} when acquired, {0, pttl} when held (pttl -1: the key has no TTL)

if redis.call('EXISTS', KEYS[1]) == 1 then
  return { 0, redis.call('PTTL', KEYS[1]) }
end
local fence = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return { 1, fence }
