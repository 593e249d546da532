-- embedis-kit refresh-token families with reuse detection. A family is a hash:
--   user  the family's user
--   cur   the digest of the current (only valid) token
--   end   Unix time in ms past which the family cannot be rotated (0: no limit)
--   n     how many rotations the family had
--   u:<d> the rotation number that retired digest d, for the last 128 rotations
--   h:<n> the digest retired by rotation n (to forget the oldest), for the last 128
-- Remembering only the last 128 retired digests bounds a family's size: an older token
-- replayed is refused (invalid) without revoking the family.
-- Time is the server's TIME, so every app instance agrees.
--
-- KEYS[1]  the family
-- ARGV[1]  'create' | 'rotate'
-- create:  ARGV[2] user, ARGV[3] digest, ARGV[4] ttl ms, ARGV[5] max life ms (0: none);
--          returns 1, or 0 if the family exists
-- rotate:  ARGV[2] presented digest, ARGV[3] new digest, ARGV[4] ttl ms;
--          returns {1, user} rotated, {2, user} replay (family deleted), {0} invalid

local key, op = KEYS[1], ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function fmt(n)
  return string.format('%d', n)
end

if op == 'create' then
  if redis.call('EXISTS', key) == 1 then
    return 0
  end
  local ttl, life = tonumber(ARGV[4]), tonumber(ARGV[5])
  local ends = 0
  if life > 0 then
    ends = now + life
    if life < ttl then
      ttl = life
    end
  end
  redis.call('HSET', key, 'user', ARGV[2], 'cur', ARGV[3], 'end', fmt(ends))
  redis.call('PEXPIRE', key, fmt(ttl))
  return 1
elseif op == 'rotate' then
  if redis.call('EXISTS', key) == 0 or redis.call('TYPE', key).ok ~= 'hash' then
    return { 0 }
  end
  local presented, new, ttl = ARGV[2], ARGV[3], tonumber(ARGV[4])
  local user = redis.call('HGET', key, 'user')
  if redis.call('HGET', key, 'cur') == presented then
    local ends = tonumber(redis.call('HGET', key, 'end'))
    if ends > 0 then
      if now >= ends then
        redis.call('DEL', key)
        return { 0 }
      end
      if ends - now < ttl then
        ttl = ends - now
      end
    end
    local n = redis.call('HINCRBY', key, 'n', 1)
    redis.call('HSET', key, 'cur', new, 'u:' .. presented, fmt(n), 'h:' .. fmt(n), presented)
    if n > 128 then
      local gone = 'h:' .. fmt(n - 128)
      local old = redis.call('HGET', key, gone)
      if old then
        redis.call('HDEL', key, gone, 'u:' .. old)
      end
    end
    redis.call('PEXPIRE', key, fmt(ttl))
    return { 1, user }
  end
  if redis.call('HEXISTS', key, 'u:' .. presented) == 1 then
    redis.call('DEL', key)
    return { 2, user }
  end
  return { 0 }
end
return redis.error_reply('ERR unknown refresh operation')
