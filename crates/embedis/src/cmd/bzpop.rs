//! The blocking sorted-set pops: BZPOPMIN, BZPOPMAX and BZMPOP, on top of the sorted-set
//! family's `zpop_exec` and the blocking machinery of [`crate::blocking`] (served FIFO per key
//! when a ZADD, ZUNIONSTORE... gives a waited key members).
//!
//! Like Redis 7.0: the timeout is read first for BZPOPMIN/BZPOPMAX, after numkeys, MIN|MAX
//! and COUNT for BZMPOP; keys are tried in order and one of another type is an error; the
//! reply is `[key, member, score]` (BZPOPMIN/BZPOPMAX) or `[key, [[member, score], ...]]`
//! (BZMPOP); a timeout answers a null array, and so does a call inside MULTI or a script.

use bytes::Bytes;

use super::flags::*;
use super::list::{Attempt, finish_attempt, with_keys};
use super::zset::{parse_zmpop, zmpop_reply, zpop_exec};
use super::{CommandSpec, Ctx};
use crate::blocking::{self, BlockedOp};
use crate::error::Result;
use crate::keyspace::{Access, Value};
use crate::reply::Reply;

/// The blocking sorted-set pops' rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("bzpopmin", -3, WRITE | NOSCRIPT | BLOCKING | FAST, bzpopmin).keys(1, -2, 1),
    CommandSpec::new("bzpopmax", -3, WRITE | NOSCRIPT | BLOCKING | FAST, bzpopmax).keys(1, -2, 1),
    CommandSpec::new("bzmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, bzmpop),
];

/// What a blocked BZPOPMIN, BZPOPMAX or BZMPOP does when served.
#[derive(Debug)]
pub(crate) struct ZPopWaiter {
    /// Pop the highest scores (MAX) rather than the lowest.
    pub(crate) max: bool,
    /// `None` for BZPOPMIN/BZPOPMAX (one member, flat reply), the count for BZMPOP.
    pub(crate) count: Option<usize>,
}

impl ZPopWaiter {
    fn reply(&self, key: Bytes, mut items: Vec<(Bytes, f64)>) -> Reply {
        match self.count {
            Some(_) => zmpop_reply(Some((key, items))),
            None => match items.pop() {
                Some((member, score)) => Reply::Array(vec![
                    Reply::Bulk(key),
                    Reply::Bulk(member),
                    Reply::Double(score),
                ]),
                None => Reply::NilArray,
            },
        }
    }

    /// Pops from the first sorted set of `keys` that exists, if any.
    fn attempt(&self, a: &mut Access<'_>, keys: &[Bytes]) -> Result<Option<Reply>> {
        let count = self.count.unwrap_or(1);
        Ok(zpop_exec(a, keys, self.max, count)?
            .filter(|(_, items)| !items.is_empty())
            .map(|(k, items)| self.reply(k, items)))
    }
}

impl BlockedOp for ZPopWaiter {
    fn serve(&mut self, a: &mut Access<'_>, key: &Bytes) -> Option<Reply> {
        let is_zset = matches!(a.peek(key), Some(e) if matches!(e.value, Value::ZSet(_)));
        if !is_zset {
            return None;
        }
        self.attempt(a, std::slice::from_ref(key)).ok().flatten()
    }

    fn timeout_reply(&self) -> Reply {
        Reply::NilArray
    }
}

/// Pops from the first non-empty sorted set of `keys`, or blocks on them.
fn zpop_or_block(
    ctx: &mut Ctx<'_, '_>,
    keys: &[Bytes],
    waiter: ZPopWaiter,
    timeout_ms: Option<u64>,
) -> Result<Reply> {
    let may_block = ctx.may_block();
    let db = ctx.db();
    let attempt = with_keys(ctx, keys, |a| -> Result<Attempt> {
        if let Some(reply) = waiter.attempt(a, keys)? {
            return Ok(Attempt::Done(reply));
        }
        if !may_block {
            return Ok(Attempt::Done(waiter.timeout_reply()));
        }
        let deadline = blocking::deadline(a.now_ms(), timeout_ms);
        Ok(Attempt::Blocked(blocking::register(
            a,
            db,
            keys,
            deadline,
            Box::new(waiter),
        )))
    })?;
    Ok(finish_attempt(ctx, attempt))
}

fn bzpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes], max: bool) -> Result<Reply> {
    let timeout = blocking::parse_timeout(&args[args.len() - 1])?;
    let keys = &args[1..args.len() - 1];
    zpop_or_block(ctx, keys, ZPopWaiter { max, count: None }, timeout)
}

fn bzpopmin(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    bzpop(ctx, args, false)
}

fn bzpopmax(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    bzpop(ctx, args, true)
}

fn bzmpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (keys, max, count) = parse_zmpop(args, 2)?;
    let timeout = blocking::parse_timeout(&args[1])?;
    let waiter = ZPopWaiter {
        max,
        count: Some(count),
    };
    zpop_or_block(ctx, keys, waiter, timeout)
}

/// Registers a blocked sorted-set pop for the typed async API.
pub(crate) fn register_zpop(
    a: &mut Access<'_>,
    keys: &[Bytes],
    max: bool,
    count: Option<usize>,
    deadline: Option<u64>,
) -> blocking::PendingBlock {
    let db = a.db;
    blocking::register(a, db, keys, deadline, Box::new(ZPopWaiter { max, count }))
}

/// The first non-empty sorted set of `keys`, popped (typed API): `[key, items]`.
pub(crate) fn zpop_attempt(
    a: &mut Access<'_>,
    keys: &[Bytes],
    max: bool,
    count: usize,
) -> Result<Option<(Bytes, Vec<(Bytes, f64)>)>> {
    Ok(zpop_exec(a, keys, max, count)?.filter(|(_, items)| !items.is_empty()))
}
