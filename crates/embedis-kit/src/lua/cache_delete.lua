-- embedis-kit cache: remove one entry, its index and its tag memberships, atomically.
--
-- KEYS[1]  the value key
-- KEYS[2]  the entry's index (set of tag set keys)
-- Returns 1 if the value existed, else 0.

local key, index = KEYS[1], KEYS[2]
for _, tag in ipairs(redis.call('SMEMBERS', index)) do
  redis.call('HDEL', tag, key)
end
redis.call('DEL', index)
return redis.call('DEL', key)
