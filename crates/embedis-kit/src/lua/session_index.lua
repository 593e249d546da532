-- embedis-kit per-user index of sessions / refresh-token families: a set whose member m
-- stands for the key prefix..m. Revoking everything of a user walks this set, never KEYS.
-- Member keys are not declared in KEYS (they come from the set), so this needs a standalone
-- Redis (not Redis Cluster).
--
-- KEYS[1]  the index set
-- ARGV[1]  'add' | 'members' | 'purge'
-- ARGV[2]  the member key prefix
-- add:     ARGV[3] member; keeps the set at least until the Unix time ARGV[4] (ms) and at
--          least ARGV[5] ms from now (server TIME); prunes up to 8 members whose key is
--          gone; returns 1
-- members: prunes dead members, returns the live ones
-- purge:   deletes every member's key and the set; returns how many keys existed

local index, op, prefix = KEYS[1], ARGV[1], ARGV[2]

local function prune(members)
  local live = {}
  for _, m in ipairs(members) do
    if redis.call('EXISTS', prefix .. m) == 1 then
      live[#live + 1] = m
    else
      redis.call('SREM', index, m)
    end
  end
  return live
end

if op == 'add' then
  local member, at, keep_for = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
  if keep_for > 0 then
    local t = redis.call('TIME')
    local by = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + keep_for
    if by > at then
      at = by
    end
  end
  if at < 1 then
    at = 1
  end
  if redis.call('SCARD', index) <= 8 then
    prune(redis.call('SMEMBERS', index))
  else
    prune(redis.call('SRANDMEMBER', index, 8))
  end
  redis.call('SADD', index, member)
  local cur = redis.call('PEXPIRETIME', index)
  if cur < 0 or cur < at then
    redis.call('PEXPIREAT', index, string.format('%d', at))
  end
  return 1
elseif op == 'members' then
  return prune(redis.call('SMEMBERS', index))
elseif op == 'purge' then
  local n = 0
  for _, m in ipairs(redis.call('SMEMBERS', index)) do
    n = n + redis.call('DEL', prefix .. m)
  end
  redis.call('DEL', index)
  return n
end
return redis.error_reply('ERR unknown index operation')
