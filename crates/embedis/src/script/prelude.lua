-- The Lua environment of Redis 7.0 scripts (EVAL) and functions (FCALL), built once per Lua
-- state by script/vm.rs. `prim` holds the Rust primitives and modules, `kind` is "eval" or
-- "function". Returns the handles vm.rs needs. Scripts never see this chunk's locals.
--
-- Redis 7.0 makes the globals and every library table read-only inside its Lua VM. Stock Lua
-- 5.1 has no read-only tables, so scripts see proxies: empty tables whose metatable reads
-- through to the real table and refuses writes. The raw accessors (rawget, rawset, next, pairs,
-- ipairs, setmetatable, getmetatable) are wrapped to see through proxies and refuse writes.
--
-- Errors raised by Rust primitives reach Lua as userdata (mlua's wrapped errors); the error
-- handler and pcall below turn them back into the string or {err=...} table Redis gives.
local prim, kind = ...

local type, error, select, tostring = type, error, select, tostring
local next, ipairs = next, ipairs
local setmetatable, setfenv = setmetatable, setfenv
local pcall, xpcall, unpack = pcall, xpcall, unpack
local load = load
local sbyte = string.byte

local READONLY = "Attempt to modify a readonly table"

-- proxy -> the table it protects; proxy -> what getmetatable() shows for it.
local real_of, view_of = {}, {}

local function refuse_write()
  error(READONLY, 2)
end

local function protect(t, view)
  local p = {}
  setmetatable(p, { __index = t, __newindex = refuse_write })
  real_of[p] = t
  view_of[p] = view
  return p
end

-- Makes missing keys of `t` raise Redis's "nonexistent global variable" error.
local function nonexistent_global(_, k)
  local tk = type(k)
  if tk ~= "string" and tk ~= "number" then
    error("Second argument to luaProtectedTableError must be a string or number", 2)
  end
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end

local function strict(t)
  return setmetatable(t, { __index = nonexistent_global })
end

-- Argument errors with lauxlib's messages, raised at the caller of the wrapper that checks.
local function typename(n, ...)
  if select("#", ...) < n then
    return "no value"
  end
  return type((select(n, ...)))
end

local function argerror(fname, n, msg)
  error("bad argument #" .. n .. " to '" .. fname .. "' (" .. msg .. ")", 3)
end

local normalize = prim.normalize_error

local function normalize_error(e)
  if type(e) == "userdata" then
    return normalize(e)
  end
  return e
end

-- Library tables -------------------------------------------------------------------------

-- Redis replaces math.random/randomseed with its own generator (rand48: the same sequence on
-- every platform).
math.random = prim.random
math.randomseed = prim.randomseed

local redis = {
  -- Replaced by the run's dispatcher while a script runs (see vm.rs).
  call = prim.outside_call,
  pcall = prim.outside_call,
  sha1hex = prim.sha1hex,
  log = prim.log,
  setresp = prim.setresp,
  set_repl = prim.set_repl,
  acl_check_cmd = prim.acl_check_cmd,
  LOG_DEBUG = 0,
  LOG_VERBOSE = 1,
  LOG_NOTICE = 2,
  LOG_WARNING = 3,
  REPL_NONE = 0,
  REPL_AOF = 1,
  REPL_SLAVE = 2,
  REPL_REPLICA = 2,
  REPL_ALL = 3,
  REDIS_VERSION = prim.version,
  REDIS_VERSION_NUM = prim.version_num,
}

-- redis.error_reply: Redis's luaPushErrorBuff (the text up to the first space is the code,
-- ERR when there is none; CR and LF trimmed from both ends of the message).
function redis.error_reply(...)
  if select("#", ...) ~= 1 or type((...)) ~= "string" then
    return { err = "ERR wrong number or type of arguments" }
  end
  return { err = prim.error_text((...)) }
end

function redis.status_reply(...)
  if select("#", ...) ~= 1 or type((...)) ~= "string" then
    return { err = "ERR wrong number or type of arguments" }
  end
  return { ok = (...) }
end

if kind == "eval" then
  -- Outside the Lua debugger these do nothing, as in Redis.
  function redis.breakpoint()
    return false
  end
  function redis.debug() end
  function redis.replicate_commands()
    return true
  end
end

local libs = {
  string = string,
  table = table,
  math = math,
  coroutine = coroutine,
  bit = prim.bit,
  cjson = prim.cjson,
  cmsgpack = prim.cmsgpack,
  struct = prim.struct,
  redis = redis,
}

-- Builtins -------------------------------------------------------------------------------

local G = {} -- the scripts' globals (they see them through the read-only proxy `env`)
local env -- the scripts' environment

for _, name in ipairs({
  "assert", "collectgarbage", "error", "gcinfo", "select", "tonumber", "tostring", "type",
  "unpack", "xpcall", "rawequal",
}) do
  G[name] = _G[name]
end
G._VERSION = _VERSION

-- The raw accessors see through proxies and refuse writes to them; they are written in Rust
-- (vm.rs) so that errors keep the caller's position even when called as `return rawset(...)`.
for _, name in ipairs({ "next", "pairs", "ipairs", "rawget", "rawset", "setmetatable", "getmetatable" }) do
  G[name] = prim[name]
end

-- What getmetatable("") shows: a read-only table whose __index is the read-only string
-- library (set once the library proxies exist). The real string metatable stays hidden.
local string_meta_view

-- Redis's pcall returns the message of an {err=...} error table (redis.call errors) rather
-- than the table, as Redis 6 did.
local function pcall_result(ok, ...)
  if ok then
    return ok, ...
  end
  local e = normalize_error((...))
  if type(e) == "table" then
    local m = e.err
    local tm = type(m)
    if tm == "string" or tm == "number" then
      e = m
    end
  end
  return false, e
end

G.pcall = function(...)
  if select("#", ...) == 0 then
    -- What Redis's pcall answers (it calls its own placeholder).
    return false, "attempt to call a boolean value"
  end
  return pcall_result(pcall(...))
end

-- Loaded chunks run in the scripts' environment. Redis's Lua refuses precompiled chunks by
-- parsing them as text; a leading space makes stock Lua do the same (same message, same line).
G.loadstring = prim.loadstring

G.load = function(...)
  local reader, name = ...
  if type(reader) ~= "function" then
    argerror("load", 1, "function expected, got " .. typename(1, ...))
  end
  local first = true
  local f, e = load(function()
    local piece = reader()
    if first and piece ~= nil and piece ~= "" then
      first = false
      if type(piece) == "string" and sbyte(piece, 1) == 27 then
        piece = " " .. piece
      end
    end
    return piece
  end, name)
  if f then
    setfenv(f, env)
  end
  return f, e
end

for name, t in next, libs do
  G[name] = protect(t)
end
string_meta_view = protect({ __index = G.string })

-- The error handler ----------------------------------------------------------------------

-- Redis's __redis__err__handler: the error becomes {err=..., source=..., line=...} with the
-- position of the script line that raised it (the caller of a C function such as error or
-- redis.call). prim.where walks the stack, skipping this file's frames.
local function error_handler(e)
  e = normalize_error(e)
  if type(e) ~= "table" then
    e = { err = "ERR " .. tostring(e) }
  end
  local source, line = prim.where()
  if source then
    e.source = source
    e.line = line
  end
  return e
end

-- The handler of a whole run: the error ends the script, so a SCRIPT KILL or load timeout
-- has done its work and must not fire again while the run unwinds through this file.
local interrupted = prim.interrupted
local function top_error_handler(e)
  interrupted()
  local t = error_handler(e) -- not a tail call: its frame must stay for prim.where
  return t
end

-- Runs f(...) for EVAL and FCALL: `true, result` or `false, error table`.
local function run(f, ...)
  local n, args = select("#", ...), { ... }
  return xpcall(function()
    return f(unpack(args, 1, n))
  end, top_error_handler)
end

-- Runs a library's code for FUNCTION LOAD, which Redis runs without the error handler.
local function run_plain(f)
  local ok, e = pcall(f)
  if ok then
    return true
  end
  interrupted()
  return false, normalize_error(e)
end

-- Environments ---------------------------------------------------------------------------

local handles = {
  run = run,
  run_plain = run_plain,
  globals = G,
  redis = redis,
  real_of = real_of,
  view_of = view_of,
  string_meta_view = string_meta_view,
}

if kind == "eval" then
  G.__redis__err__handler = error_handler
  env = protect(G, protect({ __index = nonexistent_global }))
  G._G = env
  strict(G)
  handles.env = env
else
  -- Functions: one environment table for every library, whose reads go to the runtime globals
  -- or, while FUNCTION LOAD runs a library's code, to the load API (redis.register_function,
  -- redis.log and the version only), as Redis swaps the __index of its globals' metatable.
  G._G = protect(G, protect({ __index = nonexistent_global }))
  strict(G)

  local load_redis = strict({
    register_function = prim.outside_register,
    log = prim.log,
    LOG_DEBUG = 0,
    LOG_VERBOSE = 1,
    LOG_NOTICE = 2,
    LOG_WARNING = 3,
    REDIS_VERSION = prim.version,
    REDIS_VERSION_NUM = prim.version_num,
  })
  local load_api = strict({ redis = protect(load_redis) })

  local env_meta = { __index = G, __newindex = refuse_write }
  env = setmetatable({}, env_meta)
  real_of[env] = G
  view_of[env] = protect({ __index = G })

  handles.env = env
  handles.load_redis = load_redis
  handles.use_load_api = function()
    env_meta.__index = load_api
  end
  handles.use_runtime = function()
    env_meta.__index = G
  end
end

return handles
