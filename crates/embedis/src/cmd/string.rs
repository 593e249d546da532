//! String commands: GET, SET and the rest of the `string` group.

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::error::{Error, Result};
use crate::keyspace::{Access, Value};
use crate::reply::Reply;
use crate::types::string::Str;

/// The string family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, READONLY | FAST, get).keys(1, 1, 1),
    CommandSpec::new("set", -3, WRITE | DENYOOM, set).keys(1, 1, 1),
];

/// The string value of `key`: `Ok(None)` if missing, WRONGTYPE if not a string.
pub fn get_exec(a: &mut Access<'_>, key: &[u8]) -> Result<Option<Bytes>> {
    match a.get(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(s) => Ok(Some(Bytes::copy_from_slice(&s.as_bytes()))),
            #[allow(unreachable_patterns)]
            _ => Err(Error::WrongType),
        },
    }
}

fn get(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    ctx.key(key, |a| get_exec(a, key)).map(Reply::from)
}

/// Stores a string under `key` (plain SET: no options), dropping any TTL.
pub fn set_exec(a: &mut Access<'_>, key: &[u8], value: &[u8]) {
    a.set(key, Value::Str(Str::from_bytes(value)));
    a.touched(key);
}

fn set(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    if args.len() != 3 {
        return Err(Error::Syntax);
    }
    let (key, value) = (&args[1], &args[2]);
    ctx.key(key, |a| set_exec(a, key, value));
    Ok(Reply::Ok)
}
