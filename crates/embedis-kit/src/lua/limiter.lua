-- embedis-kit rate limiter: the algorithms of embedis's types/limiter, in Lua 5.1, deciding
-- exactly as the native versions do. All times are integer microseconds; every value stays
-- below 2^53 (the callers validate policies), so Lua's doubles are exact. Numbers passed to
-- redis.call are formatted with %d: Lua's default formatting (%.14g) would round them.
--
-- KEYS: one key per policy.
-- ARGV[1]  now in µs, or "" to read the server's TIME (always "" in production: many app
--          instances then share one clock; tests pass a time to compare implementations)
-- ARGV[2]  cost
-- ARGV[3]  "1" to charge, "0" to peek
-- ARGV[4]  milliseconds added to every TTL (0 in production; tests that pass ARGV[1] use it
--          so that keys do not expire in real time before the simulated time says so)
-- ARGV[5 + 4i .. 8 + 4i]  policy i: code, p1, p2, p3 (see Policy::code and Policy::params)
-- Returns 5 integers per policy: allowed (1|0), limit, remaining, reset_after µs,
-- retry_after µs (-1 when none).
-- All-or-nothing: state is written only if every policy admits the request; otherwise the
-- admitting policies report their uncharged state.

local function fdiv(a, b) -- exact floor(a / b), b > 0
  local q = math.floor(a / b)
  if q * b > a then
    q = q - 1
  elseif (q + 1) * b <= a then
    q = q + 1
  end
  return q
end

local function cdiv(a, b)
  return -fdiv(-a, b)
end

local function fmt(n)
  return string.format('%d', n)
end

local extra_ttl = 0
local now = 0

local function ttl_ms(expire_at)
  local ms = cdiv(expire_at - now, 1000)
  if ms < 1 then
    ms = 1
  end
  return fmt(ms + extra_ttl)
end

local function fields(v, n)
  local out = {}
  for part in string.gmatch(v, '[^:]+') do
    out[#out + 1] = tonumber(part)
  end
  if #out ~= n then
    return nil
  end
  for i = 1, n do
    if out[i] == nil then
      return nil
    end
  end
  return out
end

local BAD_STATE = "ERR the key holds a value that is not this rate limiter's state"

local function decision(allowed, limit, remaining, reset, retry)
  if remaining < 0 then
    remaining = 0
  end
  return { allowed and 1 or 0, limit, remaining, reset, retry }
end

-- 1: fixed window
local function fixed_window(limit, window, _, key, cost, charge)
  local start = fdiv(now, window) * window
  local stop = start + window
  local count = 0
  local v = redis.call('GET', key)
  if v then
    local f = fields(v, 2)
    if not f then
      return nil, nil, BAD_STATE
    end
    if f[1] == start then
      count = f[2]
    end
  end
  local allowed = cost <= limit and count + cost <= limit
  local retry = -1
  if not allowed and cost <= limit then
    retry = stop - now
  end
  local charged = allowed and charge
  local used = count
  if charged then
    used = count + cost
  end
  local reset = 0
  if used > 0 then
    reset = stop - now
  end
  local write = nil
  if charged then
    write = function()
      redis.call('SET', key, fmt(start) .. ':' .. fmt(used), 'PX', ttl_ms(stop))
    end
  end
  return decision(allowed, limit, limit - used, reset, retry), write
end

-- 2: sliding log (a sorted set: one member per unit, scored by time)
local function sliding_log(limit, window, _, key, cost, charge)
  local cutoff = now - window
  if redis.call('EXISTS', key) == 1 and redis.call('TYPE', key).ok ~= 'zset' then
    return nil, nil, BAD_STATE
  end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(cutoff))
  local used = redis.call('ZCARD', key)
  local allowed = false
  local retry = -1
  if cost > limit then
    allowed = false
  elseif used + cost <= limit then
    allowed = true
  else
    local need = used + cost - limit
    local e = redis.call('ZRANGE', key, need - 1, need - 1, 'WITHSCORES')
    retry = tonumber(e[2]) + window - now
  end
  local charged = allowed and charge
  local used_after = used
  local last = nil
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if top[2] then
    last = tonumber(top[2])
  end
  if charged then
    used_after = used + cost
    if cost > 0 and (last == nil or now > last) then
      last = now
    end
  end
  local reset = 0
  if last then
    reset = last + window - now
    if reset < 0 then
      reset = 0
    end
  end
  local write = nil
  if charged and cost > 0 then
    write = function()
      local score = fmt(now)
      local i = 0
      while i < cost do
        local args = {}
        local n = 0
        while i < cost and n < 500 do
          i = i + 1
          n = n + 1
          args[#args + 1] = score
          args[#args + 1] = score .. ':' .. fmt(used + i)
        end
        redis.call('ZADD', key, unpack(args))
      end
      redis.call('PEXPIRE', key, ttl_ms(last + window))
    end
  end
  return decision(allowed, limit, limit - used_after, reset, retry), write
end

-- smallest elapsed ms e in 0..w with floor(p * (w - e) / w) <= room
local function fits_at(p, w, room)
  if p <= room then
    return 0
  end
  return w - cdiv((room + 1) * w, p) + 1
end

-- 3: sliding window counter
local function sliding_window(limit, window, _, key, cost, charge)
  local start = fdiv(now, window) * window
  local p, c = 0, 0
  local v = redis.call('GET', key)
  if v then
    local f = fields(v, 3)
    if not f then
      return nil, nil, BAD_STATE
    end
    if f[1] == start then
      p, c = f[2], f[3]
    elseif f[1] == start - window then
      p, c = f[3], 0
    end
  end
  if p > limit then
    p = limit
  end
  local w = window / 1000
  local e = fdiv(now - start, 1000)
  local est = fdiv(p * (w - e), w) + c
  local allowed = cost <= limit and est + cost <= limit
  local retry = -1
  if not allowed and cost <= limit then
    local room = limit - c - cost
    local found = false
    if room >= 0 then
      local e2 = fits_at(p, w, room)
      if e2 < w then
        retry = start + e2 * 1000 - now
        found = true
      end
    end
    if not found then
      local nxt = start + window
      local pc = c
      if pc > limit then
        pc = limit
      end
      local e3 = fits_at(pc, w, limit - cost)
      if e3 < w then
        retry = nxt + e3 * 1000 - now
      else
        retry = nxt + window - now
      end
    end
  end
  local charged = allowed and charge
  local c_after, est_after = c, est
  if charged then
    c_after = c + cost
    est_after = est + cost
  end
  local reset = 0
  if c_after > 0 then
    local ca = c_after
    if ca > limit then
      ca = limit
    end
    local e4 = fits_at(ca, w, 0)
    if e4 < w then
      reset = start + window + e4 * 1000 - now
    else
      reset = start + 2 * window - now
    end
  elseif p > 0 then
    local e5 = fits_at(p, w, 0)
    if e5 < w then
      reset = start + e5 * 1000 - now
      if reset < 0 then
        reset = 0
      end
    else
      reset = start + window - now
    end
  end
  local write = nil
  if charged then
    write = function()
      redis.call('SET', key, fmt(start) .. ':' .. fmt(p) .. ':' .. fmt(c_after), 'PX',
        ttl_ms(start + 2 * window))
    end
  end
  return decision(allowed, limit, limit - est_after, reset, retry), write
end

-- 4: token bucket (level in units where one token is `interval`)
local function token_bucket(capacity, refill, interval, key, cost, charge)
  local full = capacity * interval
  local level = full
  local v = redis.call('GET', key)
  if v then
    local f = fields(v, 2)
    if not f then
      return nil, nil, BAD_STATE
    end
    local lvl, last = f[1], f[2]
    if lvl < 0 then
      lvl = 0
    elseif lvl > full then
      lvl = full
    end
    local elapsed = now - last
    if elapsed < 0 then
      elapsed = 0
    end
    if elapsed >= cdiv(full - lvl, refill) then
      level = full
    else
      level = lvl + elapsed * refill
    end
  end
  local allowed = false
  local retry = -1
  if cost <= capacity then
    local need = cost * interval
    if level >= need then
      allowed = true
    else
      retry = cdiv(need - level, refill)
    end
  end
  local charged = allowed and charge
  local after = level
  if charged then
    after = level - cost * interval
  end
  local reset = cdiv(full - after, refill)
  local write = nil
  if charged then
    write = function()
      redis.call('SET', key, fmt(after) .. ':' .. fmt(now), 'PX', ttl_ms(now + reset))
    end
  end
  return decision(allowed, capacity, fdiv(after, interval), reset, retry), write
end

-- 5: GCRA (the state is the theoretical arrival time)
local function gcra(burst, emission, _, key, cost, charge)
  local tolerance = emission * burst
  local tat = now
  local v = redis.call('GET', key)
  if v then
    tat = tonumber(v)
    if tat == nil then
      return nil, nil, BAD_STATE
    end
    if tat < now then
      tat = now
    end
  end
  local allowed = false
  local retry = -1
  local new_tat = tat
  if cost <= burst then
    new_tat = tat + emission * cost
    local allow_at = new_tat - tolerance
    if now < allow_at then
      retry = allow_at - now
    else
      allowed = true
    end
  end
  local charged = allowed and charge
  local after = tat
  if charged then
    after = new_tat
  end
  local ttl = after - now
  local write = nil
  if charged then
    write = function()
      redis.call('SET', key, fmt(after), 'PX', ttl_ms(after))
    end
  end
  return decision(allowed, burst, fdiv(tolerance - ttl, emission), ttl, retry), write
end

local ALGORITHMS = { fixed_window, sliding_log, sliding_window, token_bucket, gcra }

if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local cost = tonumber(ARGV[2])
local charge = ARGV[3] == '1'
extra_ttl = tonumber(ARGV[4])

local n = #KEYS
for i = 1, n do
  for j = 1, i - 1 do
    if KEYS[i] == KEYS[j] then
      return redis.error_reply('ERR the same key appears twice in one rate limit check')
    end
  end
end

local function run(i, with_charge)
  local base = 4 + (i - 1) * 4
  local algo = ALGORITHMS[tonumber(ARGV[base + 1])]
  if algo == nil then
    return nil, nil, 'ERR unknown rate limit algorithm'
  end
  return algo(tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4]),
    KEYS[i], cost, with_charge)
end

local results, writes = {}, {}
local all = true
for i = 1, n do
  local d, w, err = run(i, charge)
  if err then
    return redis.error_reply(err)
  end
  results[i] = d
  writes[i] = w
  if d[1] == 0 then
    all = false
  end
end
if all then
  for i = 1, n do
    if writes[i] then
      writes[i]()
    end
  end
elseif charge then
  for i = 1, n do
    if results[i][1] == 1 then
      results[i] = run(i, false)
    end
  end
end
local out = {}
for i = 1, n do
  for j = 1, 5 do
    out[#out + 1] = results[i][j]
  end
end
return out
