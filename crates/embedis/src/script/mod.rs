//! Lua scripting: EVAL/EVALSHA scripts and Redis 7 functions, in Lua 5.1 (mlua, vendored) with
//! the environment of Redis 7.0.
//!
//! # Atomicity and locking
//!
//! A script runs under one all-shards lock of the keyspace (taken by the command, or already
//! held by EXEC) and calls commands through the same `db::run` as clients, with that lock as
//! `held`: every command works from Lua, and no other client observes a partial state. The Lua
//! states live behind [`Scripting`]'s own mutex, always taken after the keyspace lock (or
//! alone, by SCRIPT LOAD/FLUSH and FUNCTION LOAD/DELETE/LIST), so the two never deadlock.
//!
//! # BUSY and SCRIPT KILL
//!
//! While a script runs, other clients' commands would simply wait on the shard locks. Redis
//! instead answers them `BUSY` once the script has run longer than `busy-reply-threshold`
//! (alias `lua-time-limit`, 5000 ms by default), and then accepts SCRIPT KILL, FUNCTION KILL,
//! FUNCTION STATS and the other `allow_busy` commands. Here, dispatch calls [`wait_if_busy`]
//! before running any client command; it costs one atomic load when no script runs. When one
//! does, the command waits (on a condition variable, holding no lock) until either the script
//! ends (then it runs normally) or the threshold passes: then `allow_busy` commands run and
//! every other command gets `BUSY`, as in Redis, where commands sent during a script are only
//! read once the threshold has passed. Of the `allow_busy` commands, SCRIPT KILL, FUNCTION
//! KILL/STATS, MULTI, DISCARD, UNWATCH, AUTH, HELLO, RESET, QUIT and SHUTDOWN need neither the
//! keyspace nor the Lua state; WATCH needs its key's lock and so waits for the script to end.
//! A threshold of 0 disables BUSY replies: commands wait for the script to end. The running
//! time is real elapsed time (a slow script is slow whatever a manual clock says). An async
//! server runs commands that may wait like this off its event loop ([`may_block`]).
//!
//! SHUTDOWN (through `Engine::request_shutdown`) stops the running script even if it wrote,
//! as SHUTDOWN NOSAVE is Redis's way out of an unkillable script.
//!
//! SCRIPT KILL sets a flag that a Lua hook (every 10000 instructions) turns into the error
//! "Script killed by user with SCRIPT KILL..."; after firing, the hook fires on every
//! instruction so that a `pcall` in the script cannot swallow it for long. A script that ran a
//! write command cannot be killed (`UNKILLABLE`), as in Redis. A command that passed the check
//! just before a script started waits on the locks until the script ends: that window is the
//! time between two atomic operations.
//!
//! # Time
//!
//! Redis 7.0 freezes the time a script sees for key expiry: a key that expires while the script
//! runs stays there until it ends. Here the all-shards lock carries the command's time, fixed
//! when the lock is taken, and expiry checks use it. TIME itself is not frozen in Redis 7.0
//! (checked on 7.0.15) and reads the engine's clock.
//!
//! # maxmemory
//!
//! Redis 7.0's rules, checked against redis-server: a script that declared flags (shebang or
//! `register_function` flags) without `no-writes` or `allow-oom` is refused with OOM before it
//! runs when memory is over `maxmemory` ([`oom_check`], [`denies_oom`] for EXEC's queue); a
//! script without a shebang runs, but its first `denyoom` call is refused unless a write
//! command came before it in the same run. Inside EXEC the memory state is taken when each
//! script starts, and a flagged script without `allow-oom`/`no-writes` gets Redis's "allow-oom
//! flag is not set" error.
//!
//! # Lua memory
//!
//! Each run (and each compilation) may grow the Lua state by [`DEFAULT_MEMORY_BUDGET`]
//! (changeable with [`Scripting::set_memory_budget`]); past that, allocations fail and the
//! script ends with `ERR Error running script <sha>, not enough memory: ...` instead of taking
//! the process down. Redis has no such limit.
//!
//! # Randomness
//!
//! `math.random` is Redis's rand48, starting from rand48's default state like Redis does, so a
//! fresh engine gives the same sequence as a fresh Redis 7.0 (397, 841, ... for
//! `math.random(1000)`), and `math.randomseed(n)` reproduces Redis's sequence for `n`. That
//! sequence is already reproducible; it does not use the engine's seed, to stay the same as
//! Redis's.

mod bit;
mod cjson;
mod cmsgpack;
mod convert;
pub mod functions;
pub mod sha1;
pub mod shebang;
mod struct_;
#[cfg(test)]
mod tests;
mod vm;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use mlua::{Function, Lua, MultiValue, Value};
use parking_lot::{Condvar, Mutex};

use crate::clock::Stopwatch;
use crate::cmd::CommandRef;
use crate::cmd::flags::{ALLOW_BUSY, DENYOOM, MAY_REPLICATE, NOSCRIPT, WRITE};
use crate::db::{ClientState, Engine};
use crate::error::{self, Error, Result};
use crate::keyspace::Access;
use crate::reply::Reply;

pub use shebang::ScriptFlags;
pub use vm::{REDIS_VERSION, REDIS_VERSION_NUM};

use vm::{Kind, Shared, Vm};

/// How much a run may grow the Lua state, by default (256 MiB).
pub const DEFAULT_MEMORY_BUDGET: usize = 256 << 20;

/// A cached EVAL script.
#[derive(Debug)]
struct EvalScript {
    func: Function,
    flags: ScriptFlags,
}

/// The Lua states and what lives in them (behind [`Scripting`]'s mutex).
#[derive(Debug, Default)]
struct States {
    eval: Option<Vm>,
    /// Scripts by lower-case SHA1.
    scripts: HashMap<String, EvalScript>,
    functions: Option<Vm>,
    libraries: functions::Libraries,
    /// The client scripts run commands as (its database and protocol are set per run).
    client: Option<ClientState>,
}

/// The script running now, for BUSY, SCRIPT KILL and FUNCTION STATS.
#[derive(Debug, Clone)]
struct Running {
    started: Stopwatch,
    is_eval: bool,
    /// The SHA1 (EVAL) or function name (FCALL).
    name: String,
    /// The command that started it.
    command: Vec<Bytes>,
}

/// The engine's scripting state: Lua states, script cache, libraries, the running script.
#[derive(Debug)]
pub struct Scripting {
    states: Mutex<States>,
    shared: Arc<Shared>,
    /// A script is running (the one atomic every command reads).
    busy: AtomicBool,
    running: Mutex<Option<Running>>,
    ended: Condvar,
    /// The running script called a write command: it cannot be killed.
    wrote: AtomicBool,
    memory_budget: AtomicUsize,
    /// FUNCTION STATS and INFO counters, readable while a script runs (the states are locked
    /// then).
    library_count: AtomicUsize,
    function_count: AtomicUsize,
    cached_scripts: AtomicUsize,
    eval_memory: AtomicUsize,
    functions_memory: AtomicUsize,
}

/// Scripting figures for INFO (`used_memory_lua`, `number_of_cached_scripts`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScriptingInfo {
    /// Bytes used by the EVAL Lua state.
    pub eval_memory: usize,
    /// Bytes used by the functions Lua state.
    pub functions_memory: usize,
    /// Scripts in the EVAL cache.
    pub cached_scripts: usize,
    /// Loaded libraries.
    pub libraries: usize,
    /// Loaded functions.
    pub functions: usize,
}

impl Default for Scripting {
    fn default() -> Self {
        Scripting {
            states: Mutex::new(States::default()),
            shared: Arc::new(Shared::default()),
            busy: AtomicBool::new(false),
            running: Mutex::new(None),
            ended: Condvar::new(),
            wrote: AtomicBool::new(false),
            memory_budget: AtomicUsize::new(DEFAULT_MEMORY_BUDGET),
            library_count: AtomicUsize::new(0),
            function_count: AtomicUsize::new(0),
            cached_scripts: AtomicUsize::new(0),
            eval_memory: AtomicUsize::new(0),
            functions_memory: AtomicUsize::new(0),
        }
    }
}

impl Scripting {
    /// Sets how many bytes one run may grow a Lua state by.
    pub fn set_memory_budget(&self, bytes: usize) {
        self.memory_budget.store(bytes, Ordering::Relaxed);
    }

    /// Whether a script is running now.
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }

    /// What INFO reports about scripting. Read from counters, never from the Lua states
    /// (INFO may run inside a script, which holds them).
    pub fn info(&self) -> ScriptingInfo {
        ScriptingInfo {
            eval_memory: self.eval_memory.load(Ordering::Relaxed),
            functions_memory: self.functions_memory.load(Ordering::Relaxed),
            cached_scripts: self.cached_scripts.load(Ordering::Relaxed),
            libraries: self.library_count.load(Ordering::Relaxed),
            functions: self.function_count.load(Ordering::Relaxed),
        }
    }

    /// Refreshes the INFO counters from the states (called with them locked).
    fn update_counters(&self, st: &States) {
        let mem = |vm: &Option<Vm>| vm.as_ref().map_or(0, |v| v.lua.used_memory());
        self.eval_memory.store(mem(&st.eval), Ordering::Relaxed);
        self.functions_memory
            .store(mem(&st.functions), Ordering::Relaxed);
        self.cached_scripts
            .store(st.scripts.len(), Ordering::Relaxed);
        self.library_count
            .store(st.libraries.len(), Ordering::Relaxed);
        self.function_count
            .store(st.libraries.function_count(), Ordering::Relaxed);
    }

    fn start(&self, running: Running) -> RunGuard<'_> {
        self.shared.kill.store(false, Ordering::Relaxed);
        self.wrote.store(false, Ordering::Relaxed);
        *self.running.lock() = Some(running);
        self.busy.store(true, Ordering::Release);
        RunGuard { s: self }
    }

    /// SCRIPT KILL (`is_eval`) and FUNCTION KILL.
    pub fn kill(&self, is_eval: bool) -> Result<()> {
        let running = self.running.lock();
        let Some(r) = running.as_ref() else {
            return Err(error::NOTBUSY);
        };
        if self.wrote.load(Ordering::Relaxed) {
            return Err(error::UNKILLABLE);
        }
        if is_eval && !r.is_eval {
            return Err(error::BUSY_FUNCTION);
        }
        if !is_eval && r.is_eval {
            return Err(error::BUSY_SCRIPT);
        }
        self.shared.kill.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Stops the running script, if any, even one that wrote: the engine is shutting down
    /// (SHUTDOWN NOSAVE is how Redis users stop an unkillable script).
    pub fn stop_for_shutdown(&self) {
        if self.running.lock().is_some() {
            self.shared.kill.store(true, Ordering::Relaxed);
        }
    }

    /// Waits while a script runs, until it ends (`Ok`) or has run past the threshold (`Ok` for
    /// `allow_busy` commands, `BUSY` for others).
    fn wait(&self, allow_busy: bool, threshold_ms: impl Fn() -> u64) -> Result<()> {
        let mut running = self.running.lock();
        loop {
            let Some(r) = running.as_ref() else {
                return Ok(());
            };
            let threshold = threshold_ms();
            if threshold == 0 {
                self.ended.wait(&mut running);
                continue;
            }
            let elapsed = r.started.elapsed_micros() / 1000;
            if elapsed >= threshold {
                if allow_busy {
                    return Ok(());
                }
                return Err(if r.is_eval {
                    error::BUSY_SCRIPT
                } else {
                    error::BUSY_FUNCTION
                });
            }
            self.ended
                .wait_for(&mut running, Duration::from_millis(threshold - elapsed));
        }
    }
}

/// Clears the running state when a run ends (also if it unwinds), waking waiting clients.
struct RunGuard<'a> {
    s: &'a Scripting,
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        let mut running = self.s.running.lock();
        *running = None;
        self.s.busy.store(false, Ordering::Release);
        self.s.ended.notify_all();
    }
}

/// Dispatch hook: holds a client command back while a script runs (see the module docs).
pub(crate) fn wait_if_busy(engine: &Engine, cmd: CommandRef) -> Result<()> {
    let s = &engine.scripting;
    if !s.busy.load(Ordering::Acquire) {
        return Ok(());
    }
    s.wait(cmd.spec.has(ALLOW_BUSY), || {
        engine.config.read(|c| c.busy_reply_threshold)
    })
}

/// The flags a script declared (shebang or `register_function` flags), for the command that
/// runs it: `None` for a command that runs no script, an EVAL script without a shebang
/// (compatibility mode), an unknown script or function. Like Redis's `evalGetCommandFlags`,
/// an EVAL body not cached yet is read for its shebang without compiling it.
pub fn declared_flags(engine: &Engine, name: &str, args: &[Bytes]) -> Option<ScriptFlags> {
    let flags = match name {
        "eval" | "eval_ro" | "evalsha" | "evalsha_ro" => {
            let body = args.get(1)?;
            let by_sha = name.starts_with("evalsha");
            if by_sha && body.len() != 40 {
                return None;
            }
            let sha = if by_sha {
                String::from_utf8_lossy(body).to_ascii_lowercase()
            } else {
                sha1::sha1_hex(body)
            };
            let cached = engine
                .scripting
                .states
                .lock()
                .scripts
                .get(&sha)
                .map(|s| s.flags);
            match cached {
                Some(f) => f,
                None if by_sha => return None,
                None => shebang::eval_flags(body).ok()?.0,
            }
        }
        "fcall" | "fcall_ro" => {
            engine
                .scripting
                .states
                .lock()
                .libraries
                .function(args.get(1)?)?
                .flags
        }
        _ => return None,
    };
    (!flags.has(ScriptFlags::EVAL_COMPAT_MODE)).then_some(flags)
}

/// Whether running `args` is refused when memory is over `maxmemory`: a `denyoom` command, or
/// a script that declared flags without `no-writes` or `allow-oom` (Redis's
/// `scriptFlagsToCmdFlags`).
pub fn denies_oom(engine: &Engine, cmd: CommandRef, args: &[Bytes]) -> bool {
    if cmd.spec.has(DENYOOM) {
        return true;
    }
    declared_denyoom(engine, cmd.full_name, args)
}

fn declared_denyoom(engine: &Engine, name: &str, args: &[Bytes]) -> bool {
    declared_flags(engine, name, args)
        .is_some_and(|f| !f.has(ScriptFlags::ALLOW_OOM) && !f.has(ScriptFlags::NO_WRITES))
}

/// What Redis checks before a script command that is not inside EXEC: whether memory is over
/// `maxmemory` (after evicting what the policy allows), refusing with OOM a script that
/// declared flags without `no-writes`/`allow-oom`. `name` is the lower-case command name,
/// `command` the whole command. `Ok(true)`: over the limit, the script runs in OOM state.
pub(crate) fn oom_check(engine: &Engine, name: &str, command: &[Bytes]) -> Result<bool> {
    let oom = engine.check_maxmemory(None, true).is_err();
    if oom && declared_denyoom(engine, name, command) {
        return Err(Error::Oom);
    }
    Ok(oom)
}

/// Whether running the command named `name` may keep the calling thread for long: a script or
/// transaction, or any command while a script runs (it may wait up to the BUSY threshold). An
/// async server runs such commands where blocking does not stall other connections (tokio's
/// `block_in_place`).
pub fn may_block(engine: &Engine, name: &[u8]) -> bool {
    if engine.scripting.is_busy() {
        return true;
    }
    const LONG: &[&[u8]] = &[
        b"eval",
        b"evalsha",
        b"eval_ro",
        b"evalsha_ro",
        b"fcall",
        b"fcall_ro",
        b"exec",
        b"function",
        b"script",
    ];
    LONG.iter().any(|n| n.eq_ignore_ascii_case(name))
}

// ---------------------------------------------------------------------------------------
// Running a script

/// Which script or function to run and with what.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// KEYS (EVAL) or the keys argument (FCALL).
    pub keys: &'a [Bytes],
    /// ARGV (EVAL) or the args argument (FCALL).
    pub args: &'a [Bytes],
    /// EVAL_RO, EVALSHA_RO, FCALL_RO.
    pub read_only: bool,
    /// The whole command, for FUNCTION STATS.
    pub command: &'a [Bytes],
    /// Memory was over `maxmemory` when the command started (Redis's
    /// `pre_command_oom_state`): until the script writes, it may not call `denyoom` commands
    /// unless it declared `allow-oom`.
    pub oom: bool,
}

/// What a script runs commands with.
struct RunCtx<'x, 'g> {
    engine: &'x Engine,
    access: &'x mut Access<'g>,
    client: &'x mut ClientState,
    read_only: bool,
    /// Refuse `denyoom` commands until the first write (Redis's `scriptVerifyOOM`).
    deny_oom: bool,
}

/// The `err` text Redis gives a command's error reply inside Lua.
fn error_text_of(e: &Error) -> String {
    String::from_utf8_lossy(&vm::error_text(format!("-{e}").as_bytes())).into_owned()
}

/// `redis.call` (`raise`) and `redis.pcall`: run one command as the script's client.
fn dispatch(
    lua: &Lua,
    rc: &mut RunCtx<'_, '_>,
    args: MultiValue,
    raise: bool,
) -> mlua::Result<Value> {
    let fail = |lua: &Lua, text: &str| -> mlua::Result<Value> {
        if raise {
            Err(vm::raise_table(text))
        } else {
            let t = lua.create_table()?;
            t.raw_set("err", text)?;
            Ok(Value::Table(t))
        }
    };
    let argv = match vm::command_args(&args) {
        Ok(a) => a,
        Err(text) => return fail(lua, text),
    };
    let table = crate::cmd::table();
    let cmd = match table.resolve(&argv) {
        Ok(c) => c,
        Err(e) => {
            if let Some(c) = table.get(&argv[0]) {
                rc.engine.command_stats[c.id].rejected_calls.inc();
            }
            return match e {
                Error::WrongArity(_) => fail(
                    lua,
                    "ERR Wrong number of args calling Redis command from script",
                ),
                _ => fail(lua, "ERR Unknown Redis command called from script"),
            };
        }
    };
    let refuse = |lua: &Lua, text: &str| {
        rc.engine.command_stats[cmd.id].rejected_calls.inc();
        fail(lua, text)
    };
    if cmd.spec.has(NOSCRIPT) {
        return refuse(lua, "ERR This Redis command is not allowed from script");
    }
    if rc.read_only && cmd.spec.has(WRITE | MAY_REPLICATE) {
        return refuse(
            lua,
            "ERR Write commands are not allowed from read-only scripts.",
        );
    }
    if rc.deny_oom && cmd.spec.has(DENYOOM) && !rc.engine.scripting.wrote.load(Ordering::Relaxed) {
        return refuse(lua, &error_text_of(&Error::Oom));
    }
    if cmd.spec.has(WRITE) {
        rc.engine.scripting.wrote.store(true, Ordering::Relaxed);
    }
    let resp = rc.engine.scripting.shared.resp.load(Ordering::Relaxed);
    rc.client.resp = resp;
    let reply = crate::db::run(rc.engine, rc.client, cmd, &argv, Some(&mut *rc.access));
    if raise && let Reply::Error(e) = &reply {
        return Err(vm::raise_table(error_text_of(e)));
    }
    convert::reply_to_lua(lua, &reply, resp)
}

/// A string-like field of an error table (`lua_getfield` + `lua_isstring` + `lua_tostring`),
/// cut at a NUL like the C string Redis copies it into.
fn field_text(lua: &Lua, t: &mlua::Table, key: &str) -> Option<Vec<u8>> {
    let v: Value = t.get(key).ok()?;
    if !matches!(v, Value::String(_) | Value::Integer(_) | Value::Number(_)) {
        return None;
    }
    let s = lua.coerce_string(v).ok().flatten()?;
    let b = s.as_bytes();
    Some(b[..memchr::memchr(0, &b).unwrap_or(b.len())].to_vec())
}

/// The reply for a script that raised `err` (Redis's `luaCallFunction` error branch).
fn failure(lua: &Lua, err: &Value, name: &str, budget: usize) -> Error {
    match err {
        Value::Table(t) => {
            let mut text = field_text(lua, t, "err").unwrap_or_else(|| {
                // Redis 7.0 crashes on an error table without `err`; say what happened.
                b"ERR the script raised an error object without an 'err' field".to_vec()
            });
            if let (Some(source), Some(line)) =
                (field_text(lua, t, "source"), field_text(lua, t, "line"))
            {
                text.extend_from_slice(format!(" script: {name}, on ").as_bytes());
                text.extend_from_slice(&source);
                text.push(b':');
                text.extend_from_slice(&line);
                text.push(b'.');
            }
            Error::script(&text)
        }
        other => {
            let msg = lua
                .coerce_string(other.clone())
                .ok()
                .flatten()
                .map(|s| s.to_string_lossy())
                .unwrap_or_else(|| "execution failure".into());
            if msg == "not enough memory" {
                return Error::err_msg(format_args!(
                    "Error running script {name}, not enough memory: the script went over the Lua memory budget of {budget} bytes"
                ));
            }
            let msg: String = msg.chars().take(100).collect();
            Error::script(format!("ERR Error running script {name}, {msg}").as_bytes())
        }
    }
}

fn script_client<'s>(engine: &Engine, slot: &'s mut Option<ClientState>) -> &'s mut ClientState {
    slot.get_or_insert_with(|| {
        let mut c = ClientState::new(engine);
        c.authenticated = true;
        // Like Redis's Lua client: commands never block, and SORT knows it runs for a script.
        c.deny_blocking = true;
        c.is_script = true;
        c
    })
}

/// Limits how much the next run or compilation may grow `lua`.
fn set_budget(lua: &Lua, budget: usize) {
    let _ = lua.set_memory_limit(lua.used_memory().saturating_add(budget));
}

/// Runs `func` of state `kind` under the lock `a`: the common part of EVAL and FCALL.
#[allow(clippy::too_many_arguments)]
fn run_script(
    engine: &Engine,
    states: &mut States,
    kind: Kind,
    func: &Function,
    a: &mut Access<'_>,
    call: &Call<'_>,
    read_only: bool,
    allow_oom: bool,
    name: &str,
) -> Reply {
    let s = &engine.scripting;
    let budget = s.memory_budget.load(Ordering::Relaxed);
    let States {
        eval,
        functions,
        client,
        ..
    } = states;
    let Some(vm) = (match kind {
        Kind::Eval => eval.as_ref(),
        Kind::Function => functions.as_ref(),
    }) else {
        return Reply::Error(Error::err_msg("the Lua state is not available"));
    };
    let client = script_client(engine, client);
    client.db = a.db;
    client.resp = 2;
    s.shared.resp.store(2, Ordering::Relaxed);
    let lua = &vm.lua;
    set_budget(lua, budget);

    let make_list = |items: &[Bytes]| -> mlua::Result<mlua::Table> {
        let t = lua.create_table_with_capacity(items.len(), 0)?;
        for (i, k) in items.iter().enumerate() {
            t.raw_set(i + 1, lua.create_string(k)?)?;
        }
        Ok(t)
    };
    let args = (|| -> mlua::Result<MultiValue> {
        let keys = make_list(call.keys)?;
        let argv = make_list(call.args)?;
        Ok(match kind {
            Kind::Eval => {
                vm.globals.raw_set("KEYS", keys)?;
                vm.globals.raw_set("ARGV", argv)?;
                MultiValue::new()
            }
            Kind::Function => MultiValue::from_vec(vec![Value::Table(keys), Value::Table(argv)]),
        })
    })();
    let args = match args {
        Ok(a) => a,
        Err(e) => return Reply::Error(failure(lua, &error_value(lua, &e), name, budget)),
    };

    let guard = s.start(Running {
        started: Stopwatch::start(),
        is_eval: kind == Kind::Eval,
        name: name.to_string(),
        command: call.command.to_vec(),
    });
    let outcome = {
        let rc = std::cell::RefCell::new(RunCtx {
            engine,
            access: a,
            client,
            read_only,
            deny_oom: call.oom && !allow_oom,
        });
        lua.scope(|scope| {
            let call_fn = scope.create_function(|lua, args: MultiValue| {
                dispatch(lua, &mut rc.borrow_mut(), args, true)
            })?;
            let pcall_fn = scope.create_function(|lua, args: MultiValue| {
                dispatch(lua, &mut rc.borrow_mut(), args, false)
            })?;
            vm.set_dispatch(Some((call_fn, pcall_fn)))?;
            let r = vm.call(func, args);
            vm.set_dispatch(None)?;
            Ok(r)
        })
    };
    drop(guard);
    let _ = vm::reset_hook(lua, &s.shared);
    let resp = s.shared.resp.load(Ordering::Relaxed);
    let reply = match outcome {
        Ok(Ok(v)) => convert::lua_to_reply(&v, resp),
        Ok(Err(e)) => Reply::Error(failure(lua, &e, name, budget)),
        Err(e) => Reply::Error(failure(lua, &error_value(lua, &e), name, budget)),
    };
    s.update_counters(states);
    reply
}

/// The Lua value standing for an mlua error raised outside the script's protected call.
fn error_value(lua: &Lua, e: &mlua::Error) -> Value {
    match e {
        mlua::Error::MemoryError(_) => lua
            .create_string("not enough memory")
            .map(Value::String)
            .unwrap_or(Value::Nil),
        other => lua
            .create_string(other.to_string())
            .map(Value::String)
            .unwrap_or(Value::Nil),
    }
}

// ---------------------------------------------------------------------------------------
// EVAL

/// The Lua state for `kind`, created on first use.
fn state<'s>(engine: &Engine, slot: &'s mut Option<Vm>, kind: Kind) -> Result<&'s Vm> {
    if slot.is_none() {
        let vm = Vm::new(kind, engine.scripting.shared.clone())
            .map_err(|e| Error::err_msg(format_args!("could not create the Lua state: {e}")))?;
        *slot = Some(vm);
    }
    slot.as_ref()
        .ok_or_else(|| Error::err_msg("could not create the Lua state"))
}

/// Compiles an EVAL script (shebang flags checked) and caches it under `sha`.
fn compile_script(engine: &Engine, st: &mut States, sha: &str, body: &[u8]) -> Result<()> {
    let (flags, shebang_len) = shebang::eval_flags(body)?;
    let budget = engine.scripting.memory_budget.load(Ordering::Relaxed);
    let vm = state(engine, &mut st.eval, Kind::Eval)?;
    set_budget(&vm.lua, budget);
    let func = vm
        .compile("@user_script", &body[shebang_len..])
        .map_err(|m| {
            Error::script(format!("ERR Error compiling script (new function): {m}").as_bytes())
        })?;
    st.scripts
        .insert(sha.to_string(), EvalScript { func, flags });
    Ok(())
}

/// What an EVAL-family command runs.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// EVAL: the script itself.
    Body(&'a [u8]),
    /// EVALSHA: a cached script's SHA1 (any case).
    Sha(&'a [u8]),
}

/// EVAL/EVALSHA/EVAL_RO/EVALSHA_RO under the all-shards lock `a`.
pub fn eval_exec(
    engine: &Engine,
    a: &mut Access<'_>,
    source: Source<'_>,
    call: &Call<'_>,
) -> Reply {
    let mut guard = engine.scripting.states.lock();
    let st = &mut *guard;
    let sha = match source {
        Source::Body(body) => {
            let sha = sha1::sha1_hex(body);
            if !st.scripts.contains_key(&sha)
                && let Err(e) = compile_script(engine, st, &sha, body)
            {
                return Reply::Error(e);
            }
            sha
        }
        Source::Sha(sha) => {
            let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
            if !st.scripts.contains_key(&sha) {
                return Reply::Error(error::NOSCRIPT);
            }
            sha
        }
    };
    let Some(script) = st.scripts.get(&sha) else {
        return Reply::Error(error::NOSCRIPT);
    };
    let (func, flags) = (script.func.clone(), script.flags);
    let compat = flags.has(ScriptFlags::EVAL_COMPAT_MODE);
    if !compat && !flags.has(ScriptFlags::NO_WRITES) && call.read_only {
        return Reply::Error(error::WRITE_SCRIPT_RO);
    }
    if !compat && call.oom && !flags.has(ScriptFlags::ALLOW_OOM | ScriptFlags::NO_WRITES) {
        return Reply::Error(error::OOM_SCRIPT_FLAG);
    }
    let read_only = call.read_only || (!compat && flags.has(ScriptFlags::NO_WRITES));
    let allow_oom = !compat && flags.has(ScriptFlags::ALLOW_OOM);
    run_script(
        engine,
        st,
        Kind::Eval,
        &func,
        a,
        call,
        read_only,
        allow_oom,
        &sha,
    )
}

/// SCRIPT LOAD: compiles and caches `body`, returning its SHA1.
pub fn script_load_exec(engine: &Engine, body: &[u8]) -> Result<String> {
    let sha = sha1::sha1_hex(body);
    let mut st = engine.scripting.states.lock();
    if !st.scripts.contains_key(&sha) {
        compile_script(engine, &mut st, &sha, body)?;
        engine.scripting.update_counters(&st);
    }
    Ok(sha)
}

/// SCRIPT EXISTS: whether each SHA1 (any case) is cached.
pub fn script_exists_exec(engine: &Engine, shas: &[impl AsRef<[u8]>]) -> Vec<bool> {
    let st = engine.scripting.states.lock();
    shas.iter()
        .map(|s| {
            let sha = String::from_utf8_lossy(s.as_ref()).to_ascii_lowercase();
            st.scripts.contains_key(&sha)
        })
        .collect()
}

/// SCRIPT FLUSH: forgets every script and starts a new Lua state for EVAL (as Redis does).
pub fn script_flush_exec(engine: &Engine) {
    let old = {
        let mut st = engine.scripting.states.lock();
        st.scripts.clear();
        let vm = st.eval.take();
        engine.scripting.update_counters(&st);
        vm
    };
    drop(old);
}

// ---------------------------------------------------------------------------------------
// Functions

/// FUNCTION LOAD: loads (or with `replace`, replaces) a library; returns its name.
pub fn function_load_exec(engine: &Engine, payload: &Bytes, replace: bool) -> Result<String> {
    let s = &engine.scripting;
    let budget = s.memory_budget.load(Ordering::Relaxed);
    let mut guard = s.states.lock();
    let st = &mut *guard;
    let vm = state(engine, &mut st.functions, Kind::Function)?;
    set_budget(&vm.lua, budget);
    s.shared.kill.store(false, Ordering::Relaxed);
    *s.shared.load_started.lock() = Some(Stopwatch::start());
    let r = functions::load(vm, &mut st.libraries, payload, replace);
    *s.shared.load_started.lock() = None;
    // A load timeout leaves the hook firing at every instruction: put the normal one back.
    let _ = vm::reset_hook(&vm.lua, &s.shared);
    s.update_counters(st);
    r
}

/// How FUNCTION RESTORE treats the libraries already loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestorePolicy {
    /// Add the payload's libraries; a library name already loaded fails (the default).
    #[default]
    Append,
    /// Add them, replacing loaded libraries of the same name.
    Replace,
    /// Drop every loaded library first.
    Flush,
}

/// FUNCTION DUMP: every library's code in Redis 7.0's payload format (what FUNCTION RESTORE,
/// here or in Redis, takes).
pub fn function_dump_exec(engine: &Engine) -> Vec<u8> {
    let st = engine.scripting.states.lock();
    crate::persist::dump::dump_functions(st.libraries.iter().map(|l| &l.code[..]))
}

/// The library codes of a FUNCTION RESTORE payload, read like Redis's `functionRestoreCommand`:
/// records are read while more than the 10-byte footer is left, and a record may run into the
/// footer (Redis reads from the whole buffer), which gives its errors for cut payloads.
fn restore_payload(payload: &[u8]) -> Result<Vec<Bytes>> {
    use crate::persist::rdb::{Input, opcodes};
    if crate::persist::dump::verify(payload).is_none() {
        return Err(error::DUMP_PAYLOAD);
    }
    let mut i = Input::new(payload);
    let mut codes = Vec::new();
    while i.remaining() > 10 {
        match i.u8() {
            Ok(opcodes::FUNCTION2) => {}
            Ok(opcodes::FUNCTION_PRE_GA) => return Err(pre_ga_error(&mut i)),
            Ok(_) => return Err(error::NOT_A_FUNCTION_PAYLOAD),
            Err(_) => return Err(error::FUNCTION_PAYLOAD_TYPE),
        }
        let code = i
            .string()
            .map_err(|_| Error::err_msg("Failed loading library payload"))?;
        codes.push(Bytes::copy_from_slice(&code));
    }
    Ok(codes)
}

/// A record of Redis 7.0's release candidates (`RDB_OPCODE_FUNCTION`): read like Redis 7.0
/// reads it (for its errors about a cut record), then refused.
fn pre_ga_error(i: &mut crate::persist::rdb::Input<'_>) -> Error {
    let failed = |what: &str| Error::err_msg(format_args!("Failed loading {what}"));
    if i.string().is_err() {
        return failed("library name");
    }
    if i.string().is_err() {
        return failed("engine name");
    }
    match i.length() {
        Err(_) => return failed("library description"),
        Ok(0) => {}
        Ok(_) => {
            if i.string().is_err() {
                return failed("library description");
            }
        }
    }
    if i.string().is_err() {
        return failed("library code");
    }
    Error::err_msg("Pre-GA function format not supported")
}

/// FUNCTION RESTORE: loads every library of a FUNCTION DUMP payload (from here or from
/// Redis 7.0) with `policy`. All or nothing: on any error nothing changes.
pub fn function_restore_exec(engine: &Engine, payload: &[u8], policy: RestorePolicy) -> Result<()> {
    let codes = restore_payload(payload)?;
    let s = &engine.scripting;
    let budget = s.memory_budget.load(Ordering::Relaxed);
    let mut guard = s.states.lock();
    let st = &mut *guard;
    let vm = state(engine, &mut st.functions, Kind::Function)?;
    set_budget(&vm.lua, budget);
    let mut fresh = functions::Libraries::default();
    let mut loaded = Ok(());
    for code in &codes {
        s.shared.kill.store(false, Ordering::Relaxed);
        *s.shared.load_started.lock() = Some(Stopwatch::start());
        let r = functions::load(vm, &mut fresh, code, false);
        *s.shared.load_started.lock() = None;
        let _ = vm::reset_hook(&vm.lua, &s.shared);
        if let Err(e) = r {
            loaded = Err(e);
            break;
        }
    }
    let r = loaded.and_then(|()| match policy {
        RestorePolicy::Flush => {
            st.libraries = fresh;
            Ok(())
        }
        RestorePolicy::Append => st.libraries.join(fresh, false),
        RestorePolicy::Replace => st.libraries.join(fresh, true),
    });
    s.update_counters(st);
    r
}

/// FUNCTION DELETE.
pub fn function_delete_exec(engine: &Engine, library: &[u8]) -> Result<()> {
    let s = &engine.scripting;
    let mut st = s.states.lock();
    if !st.libraries.delete(library) {
        return Err(error::LIBRARY_NOT_FOUND);
    }
    s.update_counters(&st);
    Ok(())
}

/// FUNCTION FLUSH: removes every library and starts a new functions Lua state.
pub fn function_flush_exec(engine: &Engine) {
    let s = &engine.scripting;
    let old = {
        let mut st = s.states.lock();
        let libs = std::mem::take(&mut st.libraries);
        let vm = st.functions.take();
        s.update_counters(&st);
        (libs, vm)
    };
    drop(old);
}

/// A library as FUNCTION LIST shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryInfo {
    /// Library name.
    pub name: String,
    /// Its functions: name, description, flags.
    pub functions: Vec<(String, Option<Bytes>, Vec<&'static str>)>,
    /// The code given to FUNCTION LOAD.
    pub code: Bytes,
}

/// FUNCTION LIST: libraries whose name matches `pattern` (a glob, any case).
pub fn function_list_exec(engine: &Engine, pattern: Option<&[u8]>) -> Vec<LibraryInfo> {
    let st = engine.scripting.states.lock();
    st.libraries
        .iter()
        .filter(|l| pattern.is_none_or(|p| crate::glob::matches(p, l.name.as_bytes(), true)))
        .map(|l| LibraryInfo {
            name: l.name.clone(),
            functions: l
                .functions
                .iter()
                .map(|f| {
                    (
                        f.name.clone(),
                        f.description.clone(),
                        f.flags.names().collect(),
                    )
                })
                .collect(),
            code: l.code.clone(),
        })
        .collect()
}

/// What FUNCTION STATS reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionStats {
    /// The running function: name, command, milliseconds so far.
    pub running: Option<(String, Vec<Bytes>, u64)>,
    /// Number of libraries.
    pub libraries: usize,
    /// Number of functions.
    pub functions: usize,
}

/// FUNCTION STATS (BUSY while an EVAL script runs, as in Redis). Never takes the Lua states'
/// lock: it must answer while a function runs.
pub fn function_stats_exec(engine: &Engine) -> Result<FunctionStats> {
    let s = &engine.scripting;
    let running = s.running.lock().clone();
    if let Some(r) = &running
        && r.is_eval
    {
        return Err(error::BUSY_SCRIPT);
    }
    Ok(FunctionStats {
        running: running.map(|r| (r.name, r.command, r.started.elapsed_micros() / 1000)),
        libraries: s.library_count.load(Ordering::Relaxed),
        functions: s.function_count.load(Ordering::Relaxed),
    })
}

/// Whether a function called `name` (any case) is loaded.
pub fn function_exists_exec(engine: &Engine, name: &[u8]) -> bool {
    engine
        .scripting
        .states
        .lock()
        .libraries
        .function(name)
        .is_some()
}

/// FCALL/FCALL_RO of function `name` under the all-shards lock `a`.
pub fn fcall_exec(engine: &Engine, a: &mut Access<'_>, name: &[u8], call: &Call<'_>) -> Reply {
    let mut guard = engine.scripting.states.lock();
    let st = &mut *guard;
    let Some(f) = st.libraries.function(name) else {
        return Reply::Error(error::FUNCTION_NOT_FOUND);
    };
    let (callback, flags, fname) = (f.callback.clone(), f.flags, f.name.clone());
    if !flags.has(ScriptFlags::NO_WRITES) && call.read_only {
        return Reply::Error(error::WRITE_SCRIPT_RO);
    }
    if call.oom && !flags.has(ScriptFlags::ALLOW_OOM | ScriptFlags::NO_WRITES) {
        return Reply::Error(error::OOM_SCRIPT_FLAG);
    }
    let read_only = call.read_only || flags.has(ScriptFlags::NO_WRITES);
    run_script(
        engine,
        st,
        Kind::Function,
        &callback,
        a,
        call,
        read_only,
        flags.has(ScriptFlags::ALLOW_OOM),
        &fname,
    )
}

/// Splits `numkeys keys... args...` (EVAL, FCALL) with Redis's checks.
pub fn split_keys<'a>(
    numkeys: &[u8],
    rest: &'a [Bytes],
    bad_number: Error,
) -> Result<(&'a [Bytes], &'a [Bytes])> {
    let n = crate::num::parse_i64(numkeys).ok_or(bad_number)?;
    if n > rest.len() as i64 {
        return Err(error::TOO_MANY_KEYS);
    }
    if n < 0 {
        return Err(error::NEGATIVE_KEYS);
    }
    Ok(rest.split_at(n as usize))
}
