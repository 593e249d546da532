//! The command table and dispatch.
//!
//! Every command is registered once, in the file of its family, as a [`CommandSpec`]: name,
//! arity, flags, key positions and handler side by side. The table built from those rows
//! drives name lookup, the arity check, AUTH, `COMMAND` and (later) what scripts may call and
//! what OOM refuses.
//!
//! A handler parses its arguments, executes against the keyspace through [`Ctx`], and
//! returns a [`Reply`] value; it never touches a socket and never writes error text (see
//! [`crate::error`]). The typed API calls the same `*_exec` functions the handlers call.

pub mod aggregate;
pub mod args;
pub mod bitmap;
pub mod bzpop;
pub mod connection;
pub mod embedis;
pub mod hash;
pub mod hll;
pub mod keys;
pub mod limiter;
pub mod list;
pub mod persist;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod set;
pub mod sort;
pub mod string;
pub mod transactions;
pub mod zset;

// foldhash: the lookup runs once per command; SipHash showed up at ~2-3% in profiles.
use foldhash::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use crate::db::{ClientState, Engine};
use crate::error::{Error, Result};
use crate::keyspace::Access;
use crate::reply::Reply;

/// Command flags, as `COMMAND INFO` names them.
pub mod flags {
    /// May modify the keyspace.
    pub const WRITE: u32 = 1 << 0;
    /// Never modifies the keyspace.
    pub const READONLY: u32 = 1 << 1;
    /// May grow memory: refused with OOM over maxmemory.
    pub const DENYOOM: u32 = 1 << 2;
    /// Administrative.
    pub const ADMIN: u32 = 1 << 3;
    /// Pub/sub related.
    pub const PUBSUB: u32 = 1 << 4;
    /// Not allowed from scripts.
    pub const NOSCRIPT: u32 = 1 << 5;
    /// May block the client.
    pub const BLOCKING: u32 = 1 << 6;
    /// Allowed while loading.
    pub const LOADING: u32 = 1 << 7;
    /// Allowed on a stale replica.
    pub const STALE: u32 = 1 << 8;
    /// Not shown in MONITOR.
    pub const SKIP_MONITOR: u32 = 1 << 9;
    /// Not recorded in SLOWLOG.
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    /// O(1) or O(log n).
    pub const FAST: u32 = 1 << 11;
    /// Allowed before AUTH.
    pub const NO_AUTH: u32 = 1 << 12;
    /// May replicate even if read-only.
    pub const MAY_REPLICATE: u32 = 1 << 13;
    /// Keys are optional.
    pub const NO_MANDATORY_KEYS: u32 = 1 << 14;
    /// Not allowed while async loading.
    pub const NO_ASYNC_LOADING: u32 = 1 << 15;
    /// Not allowed inside MULTI.
    pub const NO_MULTI: u32 = 1 << 16;
    /// Key positions depend on arguments.
    pub const MOVABLE_KEYS: u32 = 1 << 17;
    /// Allowed while a script is busy.
    pub const ALLOW_BUSY: u32 = 1 << 18;
    /// Runs on the sentinel (never set here, listed for completeness of COMMAND INFO).
    pub const SENTINEL: u32 = 1 << 19;

    /// Names in the order Redis lists them in COMMAND INFO.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (SENTINEL, "sentinel"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// A command handler: `args[0]` is the command name as sent (and `args[1]` the subcommand
/// for container commands).
pub type Handler = fn(&mut Ctx<'_, '_>, &[Bytes]) -> Result<Reply>;

/// One row of the command table.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name (`get`; `setname` for `CLIENT SETNAME`).
    pub name: &'static str,
    /// Redis arity: exact argument count including the name, or `-n` for "at least n".
    pub arity: i32,
    /// Bit set of [`flags`].
    pub flags: u32,
    /// Position of the first key (0: no keys).
    pub first_key: i32,
    /// Position of the last key (negative: counted from the end).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// The handler; for a container command, called only when it is sent alone and its
    /// arity allows that (COMMAND).
    pub handler: Handler,
    /// Subcommands (CLIENT LIST, CONFIG GET, ...).
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// A row with no keys and no subcommands; refine with the struct update syntax.
    pub const fn new(name: &'static str, arity: i32, flags: u32, handler: Handler) -> Self {
        CommandSpec {
            name,
            arity,
            flags,
            first_key: 0,
            last_key: 0,
            step: 0,
            handler,
            subcommands: &[],
        }
    }

    /// The same row with key positions.
    pub const fn keys(mut self, first: i32, last: i32, step: i32) -> Self {
        self.first_key = first;
        self.last_key = last;
        self.step = step;
        self
    }

    /// The same row as a container of subcommands.
    pub const fn subs(mut self, subcommands: &'static [CommandSpec]) -> Self {
        self.subcommands = subcommands;
        self
    }

    /// Whether `argc` arguments (including the name) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = self.arity as i64;
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// Whether a flag is set.
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

/// Every family's rows.
const FAMILIES: &[&[CommandSpec]] = &[
    string::COMMANDS,
    bitmap::COMMANDS,
    keys::COMMANDS,
    list::COMMANDS,
    sort::COMMANDS,
    bzpop::COMMANDS,
    limiter::COMMANDS,
    connection::COMMANDS,
    server::COMMANDS,
    transactions::COMMANDS,
    scripting::COMMANDS,
    hash::COMMANDS,
    set::COMMANDS,
    embedis::COMMANDS,
    persist::COMMANDS,
    zset::COMMANDS,
    pubsub::COMMANDS,
    hll::COMMANDS,
];

/// A resolved command: its row, its full name (`client|list`) and its index for statistics.
#[derive(Debug, Clone, Copy)]
pub struct CommandRef {
    /// The row.
    pub spec: &'static CommandSpec,
    /// `name` or `container|name`.
    pub full_name: &'static str,
    /// Dense index of this command or subcommand (per-command statistics).
    pub id: usize,
}

/// The command table.
#[derive(Debug)]
pub struct CommandTable {
    by_name: HashMap<&'static str, CommandRef>,
    subs: HashMap<(&'static str, &'static str), CommandRef>,
    all: Vec<CommandRef>,
}

impl CommandTable {
    fn build() -> CommandTable {
        let mut t = CommandTable {
            by_name: HashMap::default(),
            subs: HashMap::default(),
            all: Vec::new(),
        };
        for family in FAMILIES {
            for spec in family.iter() {
                let r = CommandRef {
                    spec,
                    full_name: spec.name,
                    id: t.all.len(),
                };
                t.all.push(r);
                let dup = t.by_name.insert(spec.name, r);
                debug_assert!(dup.is_none(), "command {} registered twice", spec.name);
                for sub in spec.subcommands {
                    let full: &'static str =
                        Box::leak(format!("{}|{}", spec.name, sub.name).into_boxed_str());
                    let r = CommandRef {
                        spec: sub,
                        full_name: full,
                        id: t.all.len(),
                    };
                    t.all.push(r);
                    let dup = t.subs.insert((spec.name, sub.name), r);
                    debug_assert!(dup.is_none(), "subcommand {full} registered twice");
                }
            }
        }
        t
    }

    /// Looks up a top-level command, case-insensitively.
    pub fn get(&self, name: &[u8]) -> Option<CommandRef> {
        let mut buf = [0u8; 32];
        if name.len() > buf.len() {
            return None;
        }
        for (d, s) in buf.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        let lower = std::str::from_utf8(&buf[..name.len()]).ok()?;
        self.by_name.get(lower).copied()
    }

    /// Looks up a subcommand of `container`, case-insensitively.
    pub fn get_sub(&self, container: &'static str, name: &[u8]) -> Option<CommandRef> {
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        self.subs.get(&(container, lower.as_str())).copied()
    }

    /// Every command and subcommand, in registration order.
    pub fn all(&self) -> &[CommandRef] {
        &self.all
    }

    /// Top-level commands only.
    pub fn commands(&self) -> impl Iterator<Item = &CommandRef> {
        self.all.iter().filter(|r| !r.full_name.contains('|'))
    }

    /// Resolves `args` to the command (or subcommand) to run, applying Redis's unknown
    /// command, unknown subcommand and arity errors, in Redis's order.
    pub fn resolve(&self, args: &[Bytes]) -> Result<CommandRef> {
        let Some(cmd) = self.get(&args[0]) else {
            return Err(Error::unknown_command(&args[0], &args[1..]));
        };
        if cmd.spec.subcommands.is_empty() {
            if !cmd.spec.arity_ok(args.len()) {
                return Err(Error::wrong_arity(cmd.spec.name));
            }
            return Ok(cmd);
        }
        if args.len() < 2 {
            // A container alone runs its own handler when its arity allows it (COMMAND).
            if cmd.spec.arity_ok(args.len()) {
                return Ok(cmd);
            }
            return Err(Error::wrong_arity(cmd.spec.name));
        }
        let Some(sub) = self.get_sub(cmd.spec.name, &args[1]) else {
            return Err(Error::unknown_subcommand(cmd.spec.name, &args[1]));
        };
        if !sub.spec.arity_ok(args.len()) {
            return Err(Error::wrong_arity(sub.full_name));
        }
        Ok(sub)
    }
}

/// The command table, built once.
pub fn table() -> &'static CommandTable {
    static TABLE: OnceLock<CommandTable> = OnceLock::new();
    TABLE.get_or_init(CommandTable::build)
}

/// What a handler executes against: the engine, the calling client's state, and the keyspace
/// (locked per command, or already held by EXEC or a script).
pub struct Ctx<'a, 'g> {
    pub(crate) engine: &'a Engine,
    /// The calling client.
    pub client: &'a mut ClientState,
    pub(crate) held: Option<&'a mut Access<'g>>,
}

impl std::fmt::Debug for Ctx<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("client", &self.client.id)
            .finish_non_exhaustive()
    }
}

impl<'a, 'g> Ctx<'a, 'g> {
    /// A context for `client`; `held` is the all-shards lock when running inside EXEC or a
    /// script.
    pub(crate) fn new(
        engine: &'a Engine,
        client: &'a mut ClientState,
        held: Option<&'a mut Access<'g>>,
    ) -> Self {
        Ctx {
            engine,
            client,
            held,
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        self.engine
    }

    /// The command's time in Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        match &self.held {
            Some(a) => a.now_ms(),
            None => self.engine.clock.now_millis(),
        }
    }

    /// The selected database.
    pub fn db(&self) -> usize {
        self.client.db
    }

    /// Whether a blocking command may block now: only for a caller that can wait
    /// (`Session::execute_or_block`), never inside MULTI/EXEC or a script (which run under a
    /// held lock, or set `deny_blocking`). Otherwise blocking commands reply as their timeout
    /// would.
    pub fn may_block(&self) -> bool {
        self.client.block_allowed && !self.client.deny_blocking && self.held.is_none()
    }

    /// Whether blocking is refused because of MULTI/EXEC or a script (where some commands
    /// reply differently from a timeout: BLMOVE answers a null bulk, not a null array).
    pub fn blocking_denied(&self) -> bool {
        self.client.deny_blocking || self.held.is_some()
    }

    /// Hands a waiter registered by a blocking command to the caller (see
    /// `Session::execute_or_block`).
    pub fn set_blocked(&mut self, pending: crate::blocking::PendingBlock) {
        self.client.blocked = Some(pending);
    }

    /// Runs `f` with the shard holding `key` locked (or with the held lock).
    pub fn key<R>(&mut self, key: &[u8], f: impl FnOnce(&mut Access<'_>) -> R) -> R {
        let db = self.client.db;
        match self.held.as_deref_mut() {
            Some(a) => with_db(a, db, f),
            None => {
                let now = self.engine.clock.now_millis();
                let mut a = self
                    .engine
                    .keyspace
                    .lock_key(key, &self.engine.stats, db, now);
                f(&mut a)
            }
        }
    }

    /// Runs `f` with every shard locked (or with the held lock): multi-key and whole-database
    /// commands.
    pub fn all<R>(&mut self, f: impl FnOnce(&mut Access<'_>) -> R) -> R {
        let db = self.client.db;
        match self.held.as_deref_mut() {
            Some(a) => with_db(a, db, f),
            None => {
                let now = self.engine.clock.now_millis();
                let mut a = self.engine.keyspace.lock_all(&self.engine.stats, db, now);
                f(&mut a)
            }
        }
    }
}

fn with_db<R>(a: &mut Access<'_>, db: usize, f: impl FnOnce(&mut Access<'_>) -> R) -> R {
    let saved = std::mem::replace(&mut a.db, db);
    let r = f(a);
    a.db = saved;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_registered_twice() {
        let mut seen = std::collections::HashSet::new();
        for r in table().all() {
            assert!(seen.insert(r.full_name), "{} registered twice", r.full_name);
        }
    }
}
