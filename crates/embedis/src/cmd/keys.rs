//! Generic key commands: DEL, EXISTS, EXPIRE family, TTL, TYPE, RENAME, SCAN, OBJECT, ...

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::error::Result;
use crate::keyspace::Access;
use crate::reply::Reply;

/// The generic family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, WRITE, del).keys(1, -1, 1),
    CommandSpec::new("exists", -2, READONLY | FAST, exists).keys(1, -1, 1),
];

/// Removes `keys`, returning how many existed.
pub fn del_exec(a: &mut Access<'_>, keys: &[impl AsRef<[u8]>]) -> i64 {
    let mut n = 0;
    for k in keys {
        if a.remove(k.as_ref()).is_some() {
            a.touched(k.as_ref());
            n += 1;
        }
    }
    n
}

fn del(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let keys = &args[1..];
    let n = if keys.len() == 1 {
        ctx.key(&keys[0], |a| del_exec(a, keys))
    } else {
        ctx.all(|a| del_exec(a, keys))
    };
    Ok(Reply::Int(n))
}

/// Counts how many of `keys` exist (a key named twice counts twice).
pub fn exists_exec(a: &mut Access<'_>, keys: &[impl AsRef<[u8]>]) -> i64 {
    keys.iter().filter(|k| a.get(k.as_ref()).is_some()).count() as i64
}

fn exists(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let keys = &args[1..];
    let n = if keys.len() == 1 {
        ctx.key(&keys[0], |a| exists_exec(a, keys))
    } else {
        ctx.all(|a| exists_exec(a, keys))
    };
    Ok(Reply::Int(n))
}
