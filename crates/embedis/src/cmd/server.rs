//! Server commands: DBSIZE, FLUSHDB, FLUSHALL, INFO, CONFIG, COMMAND, TIME, SLOWLOG, ...

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::error::Result;
use crate::reply::Reply;

/// The server family's rows.
pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("dbsize", 1, READONLY | FAST, dbsize)];

fn dbsize(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    Ok(Reply::Int(ctx.all(|a| a.dbsize(db)) as i64))
}
