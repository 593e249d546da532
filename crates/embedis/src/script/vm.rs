//! One Lua 5.1 state set up as Redis 7.0's scripting environment: the sandbox built by
//! `prelude.lua`, the `redis.*` primitives and Redis's `math.random` written in Rust, the
//! cjson/cmsgpack/bit/struct modules, and the hook that lets SCRIPT KILL and the FUNCTION LOAD
//! timeout interrupt a running script.
//!
//! Errors raised from Rust reach Lua as mlua's wrapped-error userdata. The [`Raise`] inside
//! says what Redis would have raised: a string with the caller's `source:line:` prefix (what
//! `luaL_error` builds) or an `{err=...}` table (what `luaPushError` + `lua_error` build). The
//! prelude's error handler and `pcall` turn the userdata back into that value.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};
use parking_lot::Mutex;

use crate::clock::Stopwatch;
use crate::num::fmt_f64_17g;

/// The chunk name of the prelude: its frames are skipped when locating an error.
pub(crate) const PRELUDE_NAME: &str = "=[embedis]";
const PRELUDE: &str = include_str!("prelude.lua");

/// The hook runs every this many Lua instructions (Redis: 100000). Cheap: an atomic load.
const HOOK_EVERY: u32 = 10_000;

/// How long FUNCTION LOAD may run a library's code (Redis's `LOAD_TIMEOUT_MS`).
const LOAD_TIMEOUT_MICROS: u64 = 500_000;

/// The Redis version scripts see (`redis.REDIS_VERSION`).
pub const REDIS_VERSION: &str = "7.0.15";
/// `redis.REDIS_VERSION_NUM`: 0x00MMmmpp.
pub const REDIS_VERSION_NUM: u32 = 0x0007_000f;

/// Redis's `server.verbosity` default (`notice`): `redis.log` below it is dropped.
const LOG_VERBOSITY: i32 = 2;

/// Which API a state offers: EVAL scripts or FUNCTION libraries (Redis keeps one Lua state for
/// each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// EVAL/EVALSHA scripts: KEYS/ARGV globals, redis.breakpoint/debug/replicate_commands.
    Eval,
    /// FUNCTION LOAD libraries and FCALL.
    Function,
}

/// State shared by the engine's Lua states, their primitives and their hooks.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Redis's rand48 state (`math.random`), one per engine as in Redis (not reset by SCRIPT
    /// FLUSH), starting where Redis starts so that the sequences match.
    pub rand48: AtomicU64,
    /// The protocol the running script asked for with `redis.setresp` (2 or 3).
    pub resp: AtomicU8,
    /// SCRIPT KILL / FUNCTION KILL asked the running script to stop.
    pub kill: AtomicBool,
    /// While FUNCTION LOAD runs a library's code: when it started (500 ms limit).
    pub load_started: Mutex<Option<Stopwatch>>,
    /// The hook fires at every instruction since it interrupted a script: put the normal one
    /// back after the run.
    pub hook_fast: AtomicBool,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            // rand48's default state (0x1234ABCD330E), what Redis's rand.c starts from.
            rand48: AtomicU64::new(0x1234_ABCD_330E),
            resp: AtomicU8::new(2),
            kill: AtomicBool::new(false),
            load_started: Mutex::new(None),
            hook_fast: AtomicBool::new(false),
        }
    }
}

/// What a Rust primitive raises, as Redis would raise it.
#[derive(Debug, Clone)]
pub(crate) enum Raise {
    /// A string error (`luaL_error`), position prefix included.
    Str(String),
    /// An `{err = text}` table (`luaPushError` + `lua_error`).
    Table(String),
}

impl std::fmt::Display for Raise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Raise::Str(s) | Raise::Table(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for Raise {}

/// Raises `{err = text}`.
pub(crate) fn raise_table(text: impl Into<String>) -> mlua::Error {
    mlua::Error::external(Raise::Table(text.into()))
}

/// Raises `msg` prefixed with the caller's position, like `luaL_error`.
pub(crate) fn raise_str(lua: &Lua, msg: impl std::fmt::Display) -> mlua::Error {
    mlua::Error::external(Raise::Str(format!("{}{msg}", where_prefix(lua))))
}

/// `luaL_where(L, 1)`: `source:line: ` of the Lua function calling the running C function.
fn where_prefix(lua: &Lua) -> String {
    lua.inspect_stack(1, |d| {
        let line = d.current_line().unwrap_or(0);
        if line == 0 {
            return String::new();
        }
        let src = d
            .source()
            .short_src
            .map(|s| s.into_owned())
            .unwrap_or_default();
        format!("{src}:{line}: ")
    })
    .unwrap_or_default()
}

/// `luaL_argerror`: `bad argument #n to 'name' (msg)`, named as the caller called it.
pub(crate) fn arg_error(lua: &Lua, n: usize, msg: impl std::fmt::Display) -> mlua::Error {
    let (name, method) = lua
        .inspect_stack(0, |d| {
            let names = d.names();
            (
                names.name.map(|c| c.into_owned()),
                names.name_what == Some("method"),
            )
        })
        .unwrap_or((None, false));
    let name = name.unwrap_or_else(|| "?".into());
    if method {
        if n == 1 {
            return raise_str(lua, format_args!("calling '{name}' on bad self ({msg})"));
        }
        return raise_str(
            lua,
            format_args!("bad argument #{} to '{name}' ({msg})", n - 1),
        );
    }
    raise_str(lua, format_args!("bad argument #{n} to '{name}' ({msg})"))
}

/// Lua's name for the type of argument `n` (1-based) of `args`: `no value` when absent.
pub(crate) fn arg_type(args: &MultiValue, n: usize) -> &'static str {
    match args.get(n - 1) {
        None => "no value",
        Some(v) => type_name(v),
    }
}

/// `lua_typename` of a value.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::LightUserData(_) | Value::UserData(_) | Value::Error(_) => "userdata",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// `lua_tonumber`: numbers, and strings that read as numbers.
pub(crate) fn to_number(lua: &Lua, v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::String(_) => lua.coerce_number(v.clone()).ok().flatten(),
        _ => None,
    }
}

/// `luaL_checknumber`.
pub(crate) fn check_number(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<f64> {
    match args.get(n - 1).and_then(|v| to_number(lua, v)) {
        Some(x) => Ok(x),
        None => Err(arg_error(
            lua,
            n,
            format_args!("number expected, got {}", arg_type(args, n)),
        )),
    }
}

/// `luaL_checkinteger` (`lua_Integer` is 64-bit; conversion truncates like a C cast on x86-64).
pub(crate) fn check_integer(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<i64> {
    check_number(lua, args, n).map(c_i64)
}

/// `luaL_checkint`: `luaL_checkinteger` cast to a C `int` (low 32 bits).
pub(crate) fn check_int(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<i32> {
    check_integer(lua, args, n).map(|i| i as i32)
}

/// A C `(long long)` cast of a double on x86-64: out of range or NaN gives `i64::MIN`.
pub(crate) fn c_i64(n: f64) -> i64 {
    // 2^63 is exactly representable: the valid range is [-2^63, 2^63).
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if n.is_nan() || !(-TWO_63..TWO_63).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// A C `(int)` cast of a double on x86-64: out of range or NaN gives `i32::MIN`.
pub(crate) fn c_int(n: f64) -> i32 {
    if n.is_nan() || !(-2_147_483_648.0..2_147_483_648.0).contains(&n) {
        i32::MIN
    } else {
        n as i32
    }
}

/// Arguments of `redis.call`/`pcall`/`acl_check_cmd` as a command line (Redis's
/// `luaArgsToRedisArgv`): strings as they are, numbers as `%.17g`.
pub(crate) fn command_args(args: &MultiValue) -> Result<Vec<Bytes>, &'static str> {
    if args.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    let mut argv = Vec::with_capacity(args.len());
    for v in args.iter() {
        argv.push(match v {
            Value::String(s) => Bytes::copy_from_slice(&s.as_bytes()),
            Value::Integer(i) => Bytes::from(fmt_f64_17g(*i as f64)),
            Value::Number(n) => Bytes::from(fmt_f64_17g(*n)),
            _ => return Err("ERR Lua redis lib command arguments must be strings or integers"),
        });
    }
    Ok(argv)
}

/// Redis's `luaPushErrorBuff` text for an error string: `-CODE msg` or `msg` becomes
/// `CODE msg` (code `ERR` when the text has no space), CR/LF trimmed from the message ends.
/// The text stops at a NUL byte, as the C string it is in Redis.
pub(crate) fn error_text(e: &[u8]) -> Vec<u8> {
    let e = &e[..memchr::memchr(0, e).unwrap_or(e.len())];
    let body = e.strip_prefix(b"-").unwrap_or(e);
    let (code, msg): (&[u8], &[u8]) = match memchr::memchr(b' ', body) {
        Some(sp) => (&body[..sp], &body[sp + 1..]),
        None => (b"ERR", body),
    };
    let is_crlf = |c: &u8| *c == b'\r' || *c == b'\n';
    let start = msg.iter().position(|c| !is_crlf(c)).unwrap_or(msg.len());
    let end = msg
        .iter()
        .rposition(|c| !is_crlf(c))
        .map_or(start, |i| i + 1);
    let mut out = Vec::with_capacity(code.len() + 1 + end - start);
    out.extend_from_slice(code);
    out.push(b' ');
    out.extend_from_slice(&msg[start..end]);
    out
}

/// The next value of Redis's `redisLrand48` (31 bits).
fn lrand48(state: &AtomicU64) -> u32 {
    let x = state.load(Ordering::Relaxed);
    let next = x.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB) & ((1 << 48) - 1);
    state.store(next, Ordering::Relaxed);
    (next >> 17) as u32
}

/// A Lua state with Redis's environment.
pub(crate) struct Vm {
    pub lua: Lua,
    /// What scripts see as their globals.
    pub env: Table,
    /// The table behind `env`: KEYS and ARGV are set here for each EVAL.
    pub globals: Table,
    /// The real `redis` table: `call`/`pcall` are swapped in for each run.
    pub redis: Table,
    /// The load-time `redis` table of a functions state (`register_function`).
    pub load_redis: Option<Table>,
    run: Function,
    run_plain: Function,
    use_load_api: Option<Function>,
    use_runtime: Option<Function>,
    /// The primitives that raise "can only be called inside a script invocation" / "on
    /// FUNCTION LOAD", put back after each run.
    outside_call: Function,
    outside_register: Function,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("used_memory", &self.lua.used_memory())
            .finish_non_exhaustive()
    }
}

impl Vm {
    /// A new state for `kind`.
    pub fn new(kind: Kind, shared: Arc<Shared>) -> mlua::Result<Vm> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        let prim = primitives(&lua, &shared)?;
        let kind_name = match kind {
            Kind::Eval => "eval",
            Kind::Function => "function",
        };
        let handles: Table = lua
            .load(PRELUDE)
            .set_name(PRELUDE_NAME)
            .call((prim.clone(), kind_name))?;
        for name in ["real_of", "view_of", "string_meta_view", "env"] {
            let v: Value = handles.get(name)?;
            lua.set_named_registry_value(&format!("embedis.{name}"), v)?;
        }
        install_hook(&lua, shared, HOOK_EVERY)?;
        Ok(Vm {
            env: handles.get("env")?,
            globals: handles.get("globals")?,
            redis: handles.get("redis")?,
            load_redis: handles.get("load_redis")?,
            run: handles.get("run")?,
            run_plain: handles.get("run_plain")?,
            use_load_api: handles.get("use_load_api")?,
            use_runtime: handles.get("use_runtime")?,
            outside_call: prim.get("outside_call")?,
            outside_register: prim.get("outside_register")?,
            lua,
        })
    }

    /// Compiles `code` in the scripts' environment under `chunk_name` (`@user_script`,
    /// `@user_function`). `Err` carries Lua's message (`user_script:1: ...`).
    pub fn compile(&self, chunk_name: &str, code: &[u8]) -> Result<Function, String> {
        // Redis's Lua parses precompiled chunks as text (and fails); a leading space makes
        // stock Lua do the same without changing line numbers.
        let spaced;
        let code = if code.first() == Some(&0x1b) {
            spaced = [b" ", code].concat();
            &spaced[..]
        } else {
            code
        };
        self.lua
            .load(code)
            .set_name(chunk_name)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => message,
                mlua::Error::MemoryError(_) => "not enough memory".into(),
                other => other.to_string(),
            })
    }

    /// Runs `f(args...)` with Redis's error handler: `Ok(result)` or `Err(error value)` (an
    /// `{err, source, line}` table, or a string for errors the handler never sees, such as
    /// running out of memory).
    pub fn call(&self, f: &Function, args: MultiValue) -> Result<Value, Value> {
        let mut all = MultiValue::with_capacity(args.len() + 1);
        all.push_back(Value::Function(f.clone()));
        all.extend(args);
        match self.run.call::<(bool, Value)>(all) {
            Ok((true, v)) => Ok(v),
            Ok((false, e)) => Err(e),
            Err(e) => Err(error_value(&self.lua, &e)),
        }
    }

    /// Runs a library's code for FUNCTION LOAD (no error handler, the load API as globals).
    pub fn call_for_load(&self, f: &Function) -> Result<(), Value> {
        if let Some(u) = &self.use_load_api {
            let _ = u.call::<()>(());
        }
        let r = match self.run_plain.call::<(bool, Value)>(f.clone()) {
            Ok((true, _)) => Ok(()),
            Ok((false, e)) => Err(e),
            Err(e) => Err(error_value(&self.lua, &e)),
        };
        if let Some(u) = &self.use_runtime {
            let _ = u.call::<()>(());
        }
        r
    }

    /// Puts the run's dispatchers in `redis.call`/`redis.pcall` (or the outside-a-run ones
    /// back when `None`).
    pub fn set_dispatch(&self, call: Option<(Function, Function)>) -> mlua::Result<()> {
        let (c, p) = call.unwrap_or_else(|| (self.outside_call.clone(), self.outside_call.clone()));
        self.redis.raw_set("call", c)?;
        self.redis.raw_set("pcall", p)
    }

    /// Puts the load's registrar in `redis.register_function` (or the outside one back).
    pub fn set_register(&self, register: Option<Function>) -> mlua::Result<()> {
        if let Some(t) = &self.load_redis {
            t.raw_set(
                "register_function",
                register.unwrap_or_else(|| self.outside_register.clone()),
            )?;
        }
        Ok(())
    }
}

/// The value an mlua error stands for in Lua (what `normalize_error` gives).
fn error_value(lua: &Lua, e: &mlua::Error) -> Value {
    normalize(lua, e).unwrap_or(Value::Nil)
}

/// Finds the [`Raise`] (or memory error) inside an mlua error.
fn classify(e: &mlua::Error) -> Option<Result<Raise, ()>> {
    match e {
        mlua::Error::CallbackError { cause, .. } => classify(cause),
        mlua::Error::WithContext { cause, .. } => classify(cause),
        mlua::Error::ExternalError(inner) => inner.downcast_ref::<Raise>().cloned().map(Ok),
        mlua::Error::MemoryError(_) => Some(Err(())),
        _ => None,
    }
}

fn innermost(e: &mlua::Error) -> &mlua::Error {
    match e {
        mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => {
            innermost(cause)
        }
        other => other,
    }
}

/// The Lua value a raised mlua error stands for: the string or `{err=...}` table of its
/// [`Raise`], "not enough memory" for memory errors, else the error's message.
fn normalize(lua: &Lua, e: &mlua::Error) -> mlua::Result<Value> {
    match classify(e) {
        Some(Ok(Raise::Str(s))) => Ok(Value::String(lua.create_string(s)?)),
        Some(Ok(Raise::Table(t))) => {
            let table = lua.create_table()?;
            table.raw_set("err", lua.create_string(t)?)?;
            Ok(Value::Table(table))
        }
        Some(Err(())) => Ok(Value::String(lua.create_string("not enough memory")?)),
        None => Ok(Value::String(lua.create_string(innermost(e).to_string())?)),
    }
}

/// Why the hook stopped a script.
#[derive(Debug, Clone, Copy)]
enum Interrupt {
    Killed,
    LoadTimeout,
}

/// Installs the interrupt hook, every `every` instructions. Once it fires it reinstalls itself
/// for every instruction, so that a `pcall` in the script cannot swallow the interruption and
/// go on (Redis switches to a line hook for the same reason).
fn install_hook(lua: &Lua, shared: Arc<Shared>, every: u32) -> mlua::Result<()> {
    lua.set_global_hook(
        HookTriggers::new().every_nth_instruction(every),
        move |lua, _| {
            let why = if shared.kill.load(Ordering::Relaxed) {
                Some(Interrupt::Killed)
            } else {
                let started = *shared.load_started.lock();
                started
                    .filter(|w| w.elapsed_micros() > LOAD_TIMEOUT_MICROS)
                    .map(|_| Interrupt::LoadTimeout)
            };
            let Some(why) = why else {
                return Ok(VmState::Continue);
            };
            if every != 1 {
                shared.hook_fast.store(true, Ordering::Relaxed);
                install_hook(lua, shared.clone(), 1)?;
            }
            Err(raise_table(match why {
                Interrupt::Killed => "ERR Script killed by user with SCRIPT KILL...",
                Interrupt::LoadTimeout => "ERR FUNCTION LOAD timeout",
            }))
        },
    )
}

/// Puts the normal hook back after a run that was interrupted.
pub(crate) fn reset_hook(lua: &Lua, shared: &Arc<Shared>) -> mlua::Result<()> {
    if shared.hook_fast.swap(false, Ordering::Relaxed) {
        install_hook(lua, shared.clone(), HOOK_EVERY)?;
    }
    Ok(())
}

/// The Rust primitives and modules handed to the prelude.
fn primitives(lua: &Lua, shared: &Arc<Shared>) -> mlua::Result<Table> {
    let prim = lua.create_table()?;
    prim.set("version", REDIS_VERSION)?;
    prim.set("version_num", REDIS_VERSION_NUM)?;

    prim.set(
        "outside_call",
        lua.create_function(|_, _: MultiValue| -> mlua::Result<()> {
            Err(raise_table(
                "ERR redis.call/pcall can only be called inside a script invocation",
            ))
        })?,
    )?;
    prim.set(
        "outside_register",
        lua.create_function(|_, _: MultiValue| -> mlua::Result<()> {
            Err(raise_table(
                "ERR redis.register_function can only be called on FUNCTION LOAD command",
            ))
        })?,
    )?;

    prim.set(
        "normalize_error",
        lua.create_function(|lua, v: Value| match &v {
            Value::Error(e) => normalize(lua, e),
            _ => Ok(v),
        })?,
    )?;

    prim.set(
        "where",
        lua.create_function(|lua, ()| Ok(error_position(lua)))?,
    )?;

    // The script is unwinding to the top: the interruption did its work, stop raising it
    // (the rest of the unwinding runs prelude code, which would be interrupted again).
    let sh = shared.clone();
    prim.set(
        "interrupted",
        lua.create_function(move |_, ()| {
            sh.kill.store(false, Ordering::Relaxed);
            *sh.load_started.lock() = None;
            Ok(())
        })?,
    )?;

    prim.set(
        "error_text",
        lua.create_function(|lua, s: mlua::LuaString| {
            lua.create_string(error_text(&s.as_bytes()))
        })?,
    )?;

    prim.set(
        "sha1hex",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise_table("ERR wrong number of arguments"));
            }
            let s = lua.coerce_string(args[0].clone()).ok().flatten();
            let bytes = s.map(|s| s.as_bytes().to_vec()).unwrap_or_default();
            Ok(super::sha1::sha1_hex(&bytes))
        })?,
    )?;

    prim.set("log", lua.create_function(redis_log)?)?;

    let sh = shared.clone();
    prim.set(
        "setresp",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise_table("ERR redis.setresp() requires one argument."));
            }
            let resp = c_int(to_number(lua, &args[0]).unwrap_or(0.0));
            if resp != 2 && resp != 3 {
                return Err(raise_table("ERR RESP version must be 2 or 3."));
            }
            sh.resp.store(resp as u8, Ordering::Relaxed);
            Ok(())
        })?,
    )?;

    prim.set(
        "set_repl",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(raise_table("ERR redis.set_repl() requires two arguments."));
            }
            let flags = c_int(to_number(lua, &args[0]).unwrap_or(0.0));
            if flags & !3 != 0 {
                return Err(raise_table(
                    "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                ));
            }
            // Accepted: embedis has no replication or AOF to propagate to.
            Ok(())
        })?,
    )?;

    prim.set(
        "acl_check_cmd",
        lua.create_function(|_, args: MultiValue| {
            let argv = command_args(&args).map_err(raise_table)?;
            match crate::cmd::table().resolve(&argv) {
                // embedis has one user, allowed everything: a known command is permitted.
                Ok(_) | Err(crate::error::Error::WrongArity(_)) => Ok(true),
                Err(_) => Err(raise_table(
                    "ERR Invalid command passed to redis.acl_check_cmd()",
                )),
            }
        })?,
    )?;

    let sh = shared.clone();
    prim.set(
        "random",
        lua.create_function(move |lua, args: MultiValue| {
            // The value is drawn before the arguments are checked, as in Redis.
            let r = (lrand48(&sh.rand48) % i32::MAX as u32) as f64 / i32::MAX as f64;
            match args.len() {
                0 => Ok(r),
                1 => {
                    let u = check_int(lua, &args, 1)?;
                    if u < 1 {
                        return Err(arg_error(lua, 1, "interval is empty"));
                    }
                    Ok((r * u as f64).floor() + 1.0)
                }
                2 => {
                    let l = check_int(lua, &args, 1)?;
                    let u = check_int(lua, &args, 2)?;
                    if l > u {
                        return Err(arg_error(lua, 2, "interval is empty"));
                    }
                    let span = u.wrapping_sub(l).wrapping_add(1);
                    Ok((r * span as f64).floor() + l as f64)
                }
                _ => Err(raise_str(lua, "wrong number of arguments")),
            }
        })?,
    )?;

    let sh = shared.clone();
    prim.set(
        "randomseed",
        lua.create_function(move |lua, args: MultiValue| {
            let seed = check_int(lua, &args, 1)? as u32 as u64;
            sh.rand48.store((seed << 16) | 0x330E, Ordering::Relaxed);
            Ok(())
        })?,
    )?;

    raw_accessors(lua, &prim)?;
    prim.set("bit", super::bit::module(lua)?)?;
    prim.set("cjson", super::cjson::module(lua)?)?;
    prim.set("cmsgpack", super::cmsgpack::module(lua)?)?;
    prim.set("struct", super::struct_::module(lua)?)?;
    Ok(prim)
}

/// `redis.log(level, ...)`: checked like Redis, then written to `tracing` (target
/// `embedis::lua`) at the matching level when at or above Redis's default verbosity.
fn redis_log(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    if args.len() < 2 {
        return Err(raise_table(
            "ERR redis.log() requires two arguments or more.",
        ));
    }
    let Some(level) = to_number(lua, &args[0]) else {
        return Err(raise_table(
            "ERR First argument must be a number (log level).",
        ));
    };
    let level = c_int(level);
    if !(0..=3).contains(&level) {
        return Err(raise_table("ERR Invalid debug level."));
    }
    if level < LOG_VERBOSITY {
        return Ok(());
    }
    let mut msg = Vec::new();
    for (j, v) in args.iter().enumerate().skip(1) {
        if let Ok(Some(s)) = lua.coerce_string(v.clone()) {
            if j != 1 {
                msg.push(b' ');
            }
            msg.extend_from_slice(&s.as_bytes());
        }
    }
    let msg = String::from_utf8_lossy(&msg);
    if level == 3 {
        tracing::warn!(target: "embedis::lua", "{msg}");
    } else {
        tracing::info!(target: "embedis::lua", "{msg}");
    }
    Ok(())
}

/// The table a read-only proxy stands for (`None` for anything else).
fn real_of(lua: &Lua, t: &Table) -> mlua::Result<Option<Table>> {
    let map: Table = lua.named_registry_value("embedis.real_of")?;
    match map.raw_get::<Value>(t.clone())? {
        Value::Table(real) => Ok(Some(real)),
        _ => Ok(None),
    }
}

/// `luaL_checktype(L, n, LUA_TTABLE)`.
fn check_table(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<Table> {
    match args.get(n - 1) {
        Some(Value::Table(t)) => Ok(t.clone()),
        _ => Err(arg_error(
            lua,
            n,
            format_args!("table expected, got {}", arg_type(args, n)),
        )),
    }
}

/// `luaL_checkany(L, n)`.
fn check_any(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<()> {
    if args.len() < n {
        return Err(arg_error(lua, n, "value expected"));
    }
    Ok(())
}

/// A Lua error raised inside a C function (`luaG_runerror` there adds no position).
fn c_error(e: mlua::Error) -> mlua::Error {
    match innermost(&e) {
        mlua::Error::RuntimeError(msg) => {
            // mlua appends a traceback to errors of calls made from Rust.
            let msg = msg.split("\nstack traceback:").next().unwrap_or_default();
            mlua::Error::external(Raise::Str(msg.to_string()))
        }
        _ => e,
    }
}

const READONLY: &str = "Attempt to modify a readonly table";

/// next, pairs, ipairs, rawget, rawset, setmetatable, getmetatable: the stock functions,
/// seeing through read-only proxies and refusing to write to them, with lauxlib's errors.
fn raw_accessors(lua: &Lua, prim: &Table) -> mlua::Result<()> {
    let globals = lua.globals();
    let stock_next: Function = globals.get("next")?;
    let stock_ipairs: Function = globals.get("ipairs")?;
    let (ipairs_aux, _, _): (Function, Value, Value) = stock_ipairs.call(lua.create_table()?)?;
    lua.set_named_registry_value("embedis.next", stock_next)?;
    lua.set_named_registry_value("embedis.ipairs_aux", ipairs_aux)?;

    lua.set_named_registry_value("embedis.loadstring", globals.get::<Function>("loadstring")?)?;
    prim.set(
        "loadstring",
        lua.create_function(|lua, args: MultiValue| {
            let as_bytes = |v: Option<&Value>| -> mlua::Result<Option<Vec<u8>>> {
                Ok(match v {
                    Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => {
                        lua.coerce_string(v.clone())?.map(|s| s.as_bytes().to_vec())
                    }
                    _ => None,
                })
            };
            let Some(mut code) = as_bytes(args.front())? else {
                return Err(arg_error(
                    lua,
                    1,
                    format_args!("string expected, got {}", arg_type(&args, 1)),
                ));
            };
            let name = match args.get(1) {
                None | Some(Value::Nil) => code.clone(),
                other => match as_bytes(other)? {
                    Some(n) => n,
                    None => {
                        return Err(arg_error(
                            lua,
                            2,
                            format_args!("string expected, got {}", arg_type(&args, 2)),
                        ));
                    }
                },
            };
            // Redis's Lua parses precompiled chunks as text (and fails); a leading space makes
            // stock Lua do the same, with the same message and line.
            if code.first() == Some(&0x1b) {
                code.insert(0, b' ');
            }
            let stock: Function = lua.named_registry_value("embedis.loadstring")?;
            let (f, e): (Value, Value) = stock
                .call((lua.create_string(&code)?, lua.create_string(&name)?))
                .map_err(c_error)?;
            if let Value::Function(f) = &f {
                let env: Table = lua.named_registry_value("embedis.env")?;
                f.set_environment(env)?;
            }
            Ok((f, e))
        })?,
    )?;
    prim.set(
        "next",
        lua.create_function(|lua, args: MultiValue| {
            let t = check_table(lua, &args, 1)?;
            let t = real_of(lua, &t)?.unwrap_or(t);
            let key = args.get(1).cloned().unwrap_or(Value::Nil);
            let next: Function = lua.named_registry_value("embedis.next")?;
            next.call::<MultiValue>((t, key)).map_err(c_error)
        })?,
    )?;
    prim.set(
        "pairs",
        lua.create_function(|lua, args: MultiValue| {
            let t = check_table(lua, &args, 1)?;
            let t = real_of(lua, &t)?.unwrap_or(t);
            let next: Function = lua.named_registry_value("embedis.next")?;
            Ok((next, t, Value::Nil))
        })?,
    )?;
    prim.set(
        "ipairs",
        lua.create_function(|lua, args: MultiValue| {
            let t = check_table(lua, &args, 1)?;
            let t = real_of(lua, &t)?.unwrap_or(t);
            let aux: Function = lua.named_registry_value("embedis.ipairs_aux")?;
            Ok((aux, t, 0))
        })?,
    )?;
    prim.set(
        "rawget",
        lua.create_function(|lua, args: MultiValue| {
            let t = check_table(lua, &args, 1)?;
            check_any(lua, &args, 2)?;
            let t = real_of(lua, &t)?.unwrap_or(t);
            t.raw_get::<Value>(args[1].clone())
        })?,
    )?;
    prim.set(
        "rawset",
        lua.create_function(|lua, args: MultiValue| {
            let t = check_table(lua, &args, 1)?;
            check_any(lua, &args, 2)?;
            check_any(lua, &args, 3)?;
            if real_of(lua, &t)?.is_some() {
                return Err(mlua::Error::external(Raise::Str(READONLY.into())));
            }
            match &args[1] {
                Value::Nil => {
                    return Err(mlua::Error::external(Raise::Str(
                        "table index is nil".into(),
                    )));
                }
                Value::Number(n) if n.is_nan() => {
                    return Err(mlua::Error::external(Raise::Str(
                        "table index is NaN".into(),
                    )));
                }
                _ => {}
            }
            t.raw_set(args[1].clone(), args[2].clone())
                .map_err(c_error)?;
            Ok(t)
        })?,
    )?;
    prim.set(
        "setmetatable",
        lua.create_function(|lua, args: MultiValue| {
            let mt_type = args.get(1).map(type_name);
            let t = check_table(lua, &args, 1)?;
            let mt = match args.get(1) {
                Some(Value::Nil) => None,
                Some(Value::Table(mt)) => Some(mt.clone()),
                _ => {
                    let _ = mt_type;
                    return Err(arg_error(lua, 2, "nil or table expected"));
                }
            };
            if let Some(current) = t.metatable()
                && !matches!(current.raw_get::<Value>("__metatable")?, Value::Nil)
            {
                return Err(raise_str(lua, "cannot change a protected metatable"));
            }
            if real_of(lua, &t)?.is_some() {
                return Err(mlua::Error::external(Raise::Str(READONLY.into())));
            }
            t.set_metatable(mt)?;
            Ok(t)
        })?,
    )?;
    prim.set(
        "getmetatable",
        lua.create_function(|lua, args: MultiValue| {
            check_any(lua, &args, 1)?;
            match &args[0] {
                Value::Table(t) => {
                    if real_of(lua, t)?.is_some() {
                        let views: Table = lua.named_registry_value("embedis.view_of")?;
                        return views.raw_get::<Value>(t.clone());
                    }
                    match t.metatable() {
                        None => Ok(Value::Nil),
                        Some(mt) => match mt.raw_get::<Value>("__metatable")? {
                            Value::Nil => Ok(Value::Table(mt)),
                            shown => Ok(shown),
                        },
                    }
                }
                Value::String(_) => lua.named_registry_value::<Value>("embedis.string_meta_view"),
                // Other values' metatables (mlua's error userdata) are not the script's.
                _ => Ok(Value::Nil),
            }
        })?,
    )?;
    Ok(())
}

/// Where an error was raised, as Redis's error handler reports it: the frame that raised it,
/// or its caller when that frame is a C function (`error`, `redis.call`...). Frames of the
/// prelude (the handler itself, wrappers) are not the script's and are skipped.
fn error_position(lua: &Lua) -> (Option<String>, Option<i64>) {
    struct Frame {
        is_c: bool,
        source: String,
        line: i64,
    }
    let mut frames: Vec<Frame> = Vec::with_capacity(2);
    let mut level = 1;
    while frames.len() < 2 {
        let Some((what, source, line)) = lua.inspect_stack(level, |d| {
            let s = d.source();
            (
                s.what,
                s.source.map(|c| c.into_owned()).unwrap_or_default(),
                d.current_line().map_or(-1, |l| l as i64),
            )
        }) else {
            break;
        };
        level += 1;
        if source == PRELUDE_NAME {
            continue;
        }
        frames.push(Frame {
            is_c: what == "C",
            source,
            line,
        });
    }
    let chosen = match frames.first() {
        Some(f) if f.is_c => frames.get(1),
        other => other,
    };
    match chosen {
        Some(f) => (Some(f.source.clone()), Some(f.line)),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_like_lua_push_error_buff() {
        assert_eq!(error_text(b"boom"), b"ERR boom");
        assert_eq!(error_text(b"-X boom"), b"X boom");
        assert_eq!(error_text(b"-WRONGTYPE Operation"), b"WRONGTYPE Operation");
        assert_eq!(error_text(b"- x"), b" x");
        assert_eq!(error_text(b"CODE msg\r\n"), b"CODE msg");
        assert_eq!(error_text(b"a\0b c"), b"ERR a");
    }

    #[test]
    fn rand48_matches_redis() {
        let s = AtomicU64::new(0x1234_ABCD_330E);
        let r = |s: &AtomicU64| (lrand48(s) % i32::MAX as u32) as f64 / i32::MAX as f64;
        // A fresh Redis 7.0 answers 397 then 841 to math.random(1000).
        assert_eq!((r(&s) * 1000.0).floor() + 1.0, 397.0);
        assert_eq!((r(&s) * 1000.0).floor() + 1.0, 841.0);
        assert_eq!(format!("{:.14}", r(&s)), "0.35333609737146");
    }

    #[test]
    fn c_casts() {
        assert_eq!(c_i64(f64::INFINITY), i64::MIN);
        assert_eq!(c_i64(f64::NAN), i64::MIN);
        assert_eq!(c_i64(-3.9), -3);
        assert_eq!(c_i64(9.3e18), i64::MIN);
        assert_eq!(c_int(4_294_967_301.0), i32::MIN);
        assert_eq!(c_int(-2.5), -2);
    }
}
