-- embedis-kit concurrency limiter: leases in a sorted set scored by expiry (µs), the same
-- decisions as embedis's types/limiter/concurrency. A lease counts while now < expiry.
--
-- KEYS[1]  the limiter key
-- ARGV[1]  now in µs, or "" for the server's TIME (see limiter.lua)
-- ARGV[2]  "acquire" | "release" | "renew"
-- ARGV[3]  lease id
-- ARGV[4]  max leases (acquire)
-- ARGV[5]  ttl in µs (acquire, renew)
-- ARGV[6]  milliseconds added to the key's TTL (0 in production)
-- acquire returns allowed (1|0), max, remaining, reset_after µs, retry_after µs (-1: none);
-- release and renew return 1 if the lease was held, else 0.

local function fmt(n)
  return string.format('%d', n)
end

local key = KEYS[1]
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local op, id = ARGV[2], ARGV[3]
local extra_ttl = tonumber(ARGV[6])

if redis.call('EXISTS', key) == 1 and redis.call('TYPE', key).ok ~= 'zset' then
  return redis.error_reply("ERR the key holds a value that is not this rate limiter's state")
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now))

local function last_expiry()
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if top[2] then
    return tonumber(top[2])
  end
  return nil
end

local function keep_until(at)
  local ms = math.ceil((at - now) / 1000)
  if ms < 1 then
    ms = 1
  end
  redis.call('PEXPIRE', key, fmt(ms + extra_ttl))
end

if op == 'acquire' then
  local max, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
  local held = redis.call('ZCARD', key)
  local mine = redis.call('ZSCORE', key, id)
  if not mine and held >= max then
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local retry = -1
    if first[2] then
      retry = tonumber(first[2]) - now
    end
    local last = last_expiry()
    local reset = 0
    if last then
      reset = last - now
    end
    local remaining = max - held
    if remaining < 0 then
      remaining = 0
    end
    return { 0, max, remaining, reset, retry }
  end
  redis.call('ZADD', key, fmt(now + ttl), id)
  held = redis.call('ZCARD', key)
  local last = last_expiry()
  keep_until(last)
  local remaining = max - held
  if remaining < 0 then
    remaining = 0
  end
  return { 1, max, remaining, last - now, -1 }
elseif op == 'release' then
  return redis.call('ZREM', key, id)
elseif op == 'renew' then
  local ttl = tonumber(ARGV[5])
  if redis.call('ZSCORE', key, id) then
    redis.call('ZADD', key, fmt(now + ttl), id)
    keep_until(last_expiry())
    return 1
  end
  return 0
end
return redis.error_reply('ERR unknown lease operation')
