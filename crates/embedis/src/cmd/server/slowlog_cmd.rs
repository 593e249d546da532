//! SLOWLOG GET / LEN / RESET / HELP, and recording slow commands (called from dispatch).

use bytes::Bytes;

use super::command_cmd::help_reply;
use crate::cmd::{CommandRef, Ctx};
use crate::db::{ClientState, Engine};
use crate::error::{self, Error, Result};
use crate::reply::Reply;
use crate::slowlog::{SlowlogEntry, entry_args};

const HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

/// Records a command that ran `usec` microseconds (dispatch calls this when the slow log
/// says it is slow).
pub fn log_slow(engine: &Engine, client: &ClientState, cmd: CommandRef, args: &[Bytes], usec: u64) {
    let addr = client
        .conn
        .as_ref()
        .map(|c| c.addr.clone())
        .unwrap_or_default();
    let name = client.name.clone().unwrap_or_default();
    let time = engine.clock.now_millis() / 1000;
    engine
        .slowlog
        .push(entry_args(cmd.full_name, args), usec, time, addr, name);
}

fn entry_reply(e: SlowlogEntry) -> Reply {
    Reply::Array(vec![
        Reply::Int(e.id as i64),
        Reply::Int(e.time as i64),
        Reply::Int(e.duration_us as i64),
        Reply::Array(e.args.into_iter().map(Reply::Bulk).collect()),
        Reply::bulk(e.addr),
        Reply::Bulk(e.name),
    ])
}

pub(super) fn get(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let count = match args.len() {
        2 => 10,
        3 => match crate::num::parse_i64(&args[2]) {
            Some(-1) => usize::MAX,
            Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => return Err(error::SLOWLOG_COUNT),
        },
        _ => return Err(Error::subcommand_syntax(&args[0], &args[1])),
    };
    let entries = ctx.engine().slowlog.get(count);
    Ok(Reply::Array(entries.into_iter().map(entry_reply).collect()))
}

pub(super) fn len(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Int(ctx.engine().slowlog.len() as i64))
}

pub(super) fn reset(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    ctx.engine().slowlog.reset();
    Ok(Reply::Ok)
}

pub(super) fn help(_ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(help_reply(HELP))
}
