-- embedis-kit cache: store an entry and replace its tag memberships, atomically (the same
-- steps as EmbeddedBackend::cache_set).
--
-- KEYS[1]     the value key
-- KEYS[2]     the entry's index: the set of tag set keys it belongs to
-- KEYS[3..n]  the tag sets it belongs to after the write (hashes: value key -> index key)
-- ARGV[1]     the value
-- ARGV[2]     TTL in ms (of the value and the index; tag sets live at least as long)
-- All keys share one hash tag, so the script runs on one cluster slot.

local key, index = KEYS[1], KEYS[2]
local ttl = tonumber(ARGV[2])
for _, old in ipairs(redis.call('SMEMBERS', index)) do
  redis.call('HDEL', old, key)
end
redis.call('DEL', index)
redis.call('SET', key, ARGV[1], 'PX', ttl)
for i = 3, #KEYS do
  local tag = KEYS[i]
  redis.call('SADD', index, tag)
  redis.call('HSET', tag, key, index)
  if redis.call('PTTL', tag) < ttl then
    redis.call('PEXPIRE', tag, ttl)
  end
end
if #KEYS > 2 then
  redis.call('PEXPIRE', index, ttl)
end
return 1
