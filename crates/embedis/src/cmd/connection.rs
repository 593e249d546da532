//! Connection commands: PING, ECHO, SELECT, QUIT, AUTH, HELLO, RESET, CLIENT ...

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx, args};
use crate::error::{Error, Result};
use crate::reply::Reply;

/// The connection family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, FAST, ping),
    CommandSpec::new("echo", 2, LOADING | STALE | FAST, echo),
    CommandSpec::new("select", 2, LOADING | STALE | FAST, select),
];

fn ping(_ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    match args.len() {
        1 => Ok(Reply::status("PONG")),
        2 => Ok(Reply::Bulk(args[1].clone())),
        _ => Err(Error::wrong_arity("ping")),
    }
}

fn echo(_ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Bulk(args[1].clone()))
}

fn select(ctx: &mut Ctx<'_, '_>, a: &[Bytes]) -> Result<Reply> {
    let idx = args::int(&a[1]).map_err(|_| Error::NotInteger)?;
    if idx < 0 || idx as usize >= ctx.engine.keyspace.databases() {
        return Err(Error::DbIndexOutOfRange);
    }
    ctx.client.db = idx as usize;
    Ok(Reply::Ok)
}
