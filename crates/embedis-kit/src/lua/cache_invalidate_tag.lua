-- embedis-kit cache: remove every entry of a tag, atomically: each value, its index, its
-- membership in its other tags; then the tag set.
--
-- KEYS[1]  the tag set (hash: value key -> index key)
-- Returns the value keys the tag held.
-- The member keys are not in KEYS (they are only known inside the script); they share the
-- tag set's hash tag, so they live on the same cluster slot.

local tag = KEYS[1]
local flat = redis.call('HGETALL', tag)
local keys = {}
for i = 1, #flat, 2 do
  local key, index = flat[i], flat[i + 1]
  for _, other in ipairs(redis.call('SMEMBERS', index)) do
    if other ~= tag then
      redis.call('HDEL', other, key)
    end
  end
  redis.call('DEL', index, key)
  keys[#keys + 1] = key
end
redis.call('DEL', tag)
return keys
