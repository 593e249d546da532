//! Server commands (Redis's `server` group): DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME, ROLE,
//! SHUTDOWN here; INFO, CONFIG, COMMAND, MEMORY and SLOWLOG in the submodules.

mod command_cmd;
pub mod command_data;
mod config_cmd;
pub mod getkeys;
mod info;
mod memory;
mod slowlog_cmd;

use bytes::Bytes;

use super::args::is;
use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::db::ReplyMode;
use crate::error::{self, Error, Result};
use crate::keyspace::{Access, Table};
use crate::reply::Reply;

pub use command_cmd::{docs_reply, info_reply, lookup_by_name};
pub use config_cmd::{
    apply as apply_config, config_get_exec, config_resetstat_exec, config_set_exec,
};
pub use info::{REDIS_VERSION, Selection as InfoSelection, info_exec};
pub use memory::{bytes_to_human, memory_usage_exec};
pub use slowlog_cmd::log_slow;

/// The server family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("dbsize", 1, READONLY | FAST, dbsize),
    CommandSpec::new("flushdb", -1, WRITE, flushdb),
    CommandSpec::new("flushall", -1, WRITE, flushall),
    CommandSpec::new("swapdb", 3, WRITE | FAST, swapdb),
    CommandSpec::new("time", 1, LOADING | STALE | FAST, time),
    CommandSpec::new("role", 1, NOSCRIPT | LOADING | STALE | FAST, role),
    CommandSpec::new(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY,
        shutdown,
    ),
    CommandSpec::new("info", -1, LOADING | STALE, info::info),
    CommandSpec::new("config", -2, 0, no_subcommand).subs(&[
        CommandSpec::new(
            "get",
            -3,
            ADMIN | NOSCRIPT | LOADING | STALE,
            config_cmd::get,
        ),
        CommandSpec::new(
            "set",
            -4,
            ADMIN | NOSCRIPT | LOADING | STALE,
            config_cmd::set,
        ),
        CommandSpec::new(
            "resetstat",
            2,
            ADMIN | NOSCRIPT | LOADING | STALE,
            config_cmd::resetstat,
        ),
        CommandSpec::new("help", 2, LOADING | STALE, config_cmd::help),
    ]),
    CommandSpec::new("command", -1, LOADING | STALE, command_cmd::command).subs(&[
        CommandSpec::new("count", 2, LOADING | STALE, command_cmd::count),
        CommandSpec::new("docs", -2, LOADING | STALE, command_cmd::docs),
        CommandSpec::new("getkeys", -4, LOADING | STALE, command_cmd::getkeys),
        CommandSpec::new(
            "getkeysandflags",
            -4,
            LOADING | STALE,
            command_cmd::getkeysandflags,
        ),
        CommandSpec::new("help", 2, LOADING | STALE, command_cmd::help),
        CommandSpec::new("info", -2, LOADING | STALE, command_cmd::info),
        CommandSpec::new("list", -2, LOADING | STALE, command_cmd::list),
    ]),
    CommandSpec::new("memory", -2, 0, no_subcommand).subs(&[
        CommandSpec::new("help", 2, LOADING | STALE, memory::help),
        CommandSpec::new("stats", 2, 0, memory::stats),
        CommandSpec::new("usage", -3, READONLY, memory::usage).keys(2, 2, 1),
    ]),
    CommandSpec::new("slowlog", -2, 0, no_subcommand).subs(&[
        CommandSpec::new("get", -2, ADMIN | LOADING | STALE, slowlog_cmd::get),
        CommandSpec::new("help", 2, LOADING | STALE, slowlog_cmd::help),
        CommandSpec::new("len", 2, ADMIN | LOADING | STALE, slowlog_cmd::len),
        CommandSpec::new("reset", 2, ADMIN | LOADING | STALE, slowlog_cmd::reset),
    ]),
];

/// Handler of containers that need a subcommand (their arity keeps it from running).
fn no_subcommand(_ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    Err(Error::wrong_arity(&String::from_utf8_lossy(&args[0])))
}

fn dbsize(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    Ok(Reply::Int(ctx.all(|a| a.dbsize(db)) as i64))
}

/// How FLUSHDB/FLUSHALL free the old keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushMode {
    /// Before replying.
    #[default]
    Sync,
    /// On a background thread; the keys are gone at once either way.
    Async,
}

fn flush_mode(args: &[Bytes]) -> Result<FlushMode> {
    match args {
        [_] => Ok(FlushMode::Sync),
        [_, m] if is(m, "sync") => Ok(FlushMode::Sync),
        [_, m] if is(m, "async") => Ok(FlushMode::Async),
        _ => Err(Error::Syntax),
    }
}

/// Empties the tables of `dbs`, returning how many keys were removed.
fn flush(a: &mut Access<'_>, dbs: std::ops::Range<usize>, mode: FlushMode) -> usize {
    let mut removed = 0;
    let mut old: Vec<Table> = Vec::new();
    for shard in a.shards() {
        for db in dbs.clone() {
            let t = shard.table(db);
            removed += t.len();
            if mode == FlushMode::Async && !t.is_empty() {
                old.push(t.take());
            }
            // Also bumps the table's epoch, so SCAN cursors from before restart.
            t.clear();
        }
    }
    if !old.is_empty() {
        // If no thread can be started, the tables are dropped with the error: freed here.
        let _ = std::thread::Builder::new()
            .name("embedis-lazyfree".into())
            .spawn(move || drop(old));
    }
    a.stats().dirty.add(removed as u64);
    removed
}

/// FLUSHDB: removes every key of `db`; returns how many there were.
pub fn flushdb_exec(a: &mut Access<'_>, db: usize, mode: FlushMode) -> usize {
    flush(a, db..db + 1, mode)
}

/// FLUSHALL: removes every key of every database; returns how many there were.
pub fn flushall_exec(a: &mut Access<'_>, mode: FlushMode) -> usize {
    let dbs = a.keyspace().databases();
    let removed = flush(a, 0..dbs, mode);
    a.stats().dirty.inc();
    removed
}

fn flushdb(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let mode = flush_mode(args)?;
    let db = ctx.db();
    ctx.all(|a| flushdb_exec(a, db, mode));
    Ok(Reply::Ok)
}

fn flushall(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let mode = flush_mode(args)?;
    ctx.all(|a| flushall_exec(a, mode));
    Ok(Reply::Ok)
}

/// SWAPDB: exchanges the contents of two databases (`DbIndexOutOfRange` if either does not
/// exist).
pub fn swapdb_exec(a: &mut Access<'_>, db1: i64, db2: i64) -> Result<()> {
    let dbs = a.keyspace().databases() as i64;
    if !(0..dbs).contains(&db1) || !(0..dbs).contains(&db2) {
        return Err(Error::DbIndexOutOfRange);
    }
    for shard in a.shards() {
        shard.swap(db1 as usize, db2 as usize);
    }
    // Blocked clients stay with their database index: the swapped-in keys may serve them.
    a.signal_waited_keys(db1 as usize);
    a.signal_waited_keys(db2 as usize);
    a.stats().dirty.inc();
    Ok(())
}

/// An `int` argument (Redis's `getIntFromObjectOrReply`), with the command's own error.
fn int_arg(arg: &[u8], err: Error) -> Result<i64> {
    crate::num::parse_i64(arg)
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or(err)
}

fn swapdb(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let db1 = int_arg(&args[1], error::INVALID_FIRST_DB)?;
    let db2 = int_arg(&args[2], error::INVALID_SECOND_DB)?;
    ctx.all(|a| swapdb_exec(a, db1, db2))?;
    Ok(Reply::Ok)
}

/// TIME: the engine clock as (Unix seconds, microseconds within the second).
pub fn time_exec(now_micros: u64) -> (u64, u64) {
    (now_micros / 1_000_000, now_micros % 1_000_000)
}

fn time(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    let (secs, micros) = time_exec(ctx.engine().clock.now_micros());
    Ok(Reply::Array(vec![
        Reply::bulk_int(secs as i64),
        Reply::bulk_int(micros as i64),
    ]))
}

fn role(_ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    // A master with no replicas and nothing replicated.
    Ok(Reply::Array(vec![
        Reply::bulk("master"),
        Reply::Int(0),
        Reply::Array(Vec::new()),
    ]))
}

fn shutdown(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (mut nosave, mut save, mut now, mut force, mut abort) = (false, false, false, false, false);
    for a in &args[1..] {
        match a {
            _ if is(a, "nosave") => nosave = true,
            _ if is(a, "save") => save = true,
            _ if is(a, "now") => now = true,
            _ if is(a, "force") => force = true,
            _ if is(a, "abort") => abort = true,
            _ => return Err(Error::Syntax),
        }
    }
    if (abort && (nosave || save || now || force)) || (nosave && save) {
        return Err(Error::Syntax);
    }
    if abort {
        // Shutdown never waits (no replicas to catch up), so none is ever in progress.
        return Err(error::NO_SHUTDOWN_IN_PROGRESS);
    }
    // Inside EXEC or a script the client cannot be blocked while the shutdown proceeds.
    if !now && ctx.held.is_some() {
        return Err(error::SHUTDOWN_DENY_BLOCKING);
    }
    // Persistence: flush the AOF, and save the RDB when SAVE says so or save points are
    // configured (NOSAVE skips it). A failure refuses to shut down unless FORCE.
    let want_save = if nosave {
        Some(false)
    } else {
        save.then_some(true)
    };
    let persisted = match ctx.engine().persist.state() {
        // Inside EXEC or a script every shard is held: no snapshot can be taken here, so
        // only the AOF is synced.
        Some(_) if ctx.held.is_some() => {
            crate::persist::shutdown(ctx.engine(), Some(false)).is_ok() && !save
        }
        Some(_) => crate::persist::shutdown(ctx.engine(), want_save).is_ok(),
        // No directory to save into: SAVE cannot be honoured.
        None => !save,
    };
    if !persisted && !force {
        return Err(error::SHUTDOWN_FAILED);
    }
    ctx.engine().request_shutdown();
    // Redis exits without replying: the connection just closes.
    ctx.client.reply_mode = ReplyMode::Skipping;
    ctx.client.close_after_reply = true;
    Ok(Reply::Ok)
}

#[cfg(test)]
mod tests;
