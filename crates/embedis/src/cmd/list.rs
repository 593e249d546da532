//! List commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LLEN, LINDEX, LSET, LRANGE, LTRIM,
//! LINSERT, LREM, LPOS, LMOVE, RPOPLPUSH, LMPOP, and the blocking BLPOP, BRPOP, BLMOVE,
//! BRPOPLPUSH, BLMPOP (see [`crate::blocking`] for how blocked clients are served).
//!
//! Redis 7.0 details kept on purpose, since replies must match:
//! - Argument checks follow Redis's order, which is not always "parse everything first":
//!   LINDEX and LSET look the key up before reading the index (a missing key answers nil or
//!   `no such key` whatever the index is); LPOP/RPOP read their count first; BLPOP reads its
//!   timeout first; LMPOP/BLMPOP read numkeys, the direction and COUNT, then the timeout.
//! - A list is never stored empty: a command that removes the last element deletes the key.
//! - Reads (LLEN, LINDEX, LRANGE, LPOS) count keyspace hits and misses; writes do not.
//! - LPOS negates a negative RANK and LREM a negative count in C's wrapping arithmetic, so
//!   `RANK -9223372036854775808` matches from the tail with every match past the rank check,
//!   and `LREM key -9223372036854775808 x` removes every `x` from the tail.

use bytes::Bytes;

use super::args::{self, is};
use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::blocking::{self, BlockedOp, PendingBlock};
use crate::error::{
    COUNT_NEGATIVE, COUNT_NOT_POSITIVE, Error, INDEX_OUT_OF_RANGE, LPOS_RANK_ZERO, MAXLEN_NEGATIVE,
    MUST_BE_POSITIVE, NUMKEYS_NOT_POSITIVE, Result,
};
use crate::keyspace::{Access, Value};
use crate::num;
use crate::pubsub::Event;
use crate::reply::Reply;
use crate::types::list::{List, ListEnd};

/// The list family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lpush", -3, WRITE | DENYOOM | FAST, lpush).keys(1, 1, 1),
    CommandSpec::new("rpush", -3, WRITE | DENYOOM | FAST, rpush).keys(1, 1, 1),
    CommandSpec::new("lpushx", -3, WRITE | DENYOOM | FAST, lpushx).keys(1, 1, 1),
    CommandSpec::new("rpushx", -3, WRITE | DENYOOM | FAST, rpushx).keys(1, 1, 1),
    CommandSpec::new("lpop", -2, WRITE | FAST, lpop).keys(1, 1, 1),
    CommandSpec::new("rpop", -2, WRITE | FAST, rpop).keys(1, 1, 1),
    CommandSpec::new("llen", 2, READONLY | FAST, llen).keys(1, 1, 1),
    CommandSpec::new("lindex", 3, READONLY, lindex).keys(1, 1, 1),
    CommandSpec::new("lset", 4, WRITE | DENYOOM, lset).keys(1, 1, 1),
    CommandSpec::new("lrange", 4, READONLY, lrange).keys(1, 1, 1),
    CommandSpec::new("ltrim", 4, WRITE, ltrim).keys(1, 1, 1),
    CommandSpec::new("linsert", 5, WRITE | DENYOOM, linsert).keys(1, 1, 1),
    CommandSpec::new("lrem", 4, WRITE, lrem).keys(1, 1, 1),
    CommandSpec::new("lpos", -3, READONLY, lpos).keys(1, 1, 1),
    CommandSpec::new("lmove", 5, WRITE | DENYOOM, lmove).keys(1, 2, 1),
    CommandSpec::new("rpoplpush", 3, WRITE | DENYOOM, rpoplpush).keys(1, 2, 1),
    CommandSpec::new("lmpop", -4, WRITE | MOVABLE_KEYS, lmpop),
    CommandSpec::new("blpop", -3, WRITE | NOSCRIPT | BLOCKING, blpop).keys(1, -2, 1),
    CommandSpec::new("brpop", -3, WRITE | NOSCRIPT | BLOCKING, brpop).keys(1, -2, 1),
    CommandSpec::new("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, blmove).keys(1, 2, 1),
    CommandSpec::new(
        "brpoplpush",
        4,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        brpoplpush,
    )
    .keys(1, 2, 1),
    CommandSpec::new("blmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, blmpop),
];

/// The list at `key` for writing: `None` if missing, WRONGTYPE if another type.
fn list_mut<'e>(a: &'e mut Access<'_>, key: &[u8]) -> Result<Option<&'e mut List>> {
    match a.get_mut(key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(Error::WrongType),
        },
    }
}

/// The list at `key` for reading (counts a keyspace hit or miss).
fn list_read<'e>(a: &'e mut Access<'_>, key: &[u8]) -> Result<Option<&'e List>> {
    match a.get(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(Error::WrongType),
        },
    }
}

/// Deletes `key` if its list became empty; whether it did.
fn remove_if_empty(a: &mut Access<'_>, key: &[u8]) -> bool {
    let empty =
        matches!(a.peek(key), Some(e) if matches!(&e.value, Value::List(l) if l.is_empty()));
    if empty {
        a.remove(key);
    }
    empty
}

fn push_event(end: ListEnd) -> Event {
    match end {
        ListEnd::Left => Event::LPush,
        ListEnd::Right => Event::RPush,
    }
}

fn pop_event(end: ListEnd) -> Event {
    match end {
        ListEnd::Left => Event::LPop,
        ListEnd::Right => Event::RPop,
    }
}

/// Resolves a Redis index (negative counts from the tail) against a length.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if index < 0 {
        index.checked_add(len)?
    } else {
        index
    };
    (0..len).contains(&i).then_some(i as usize)
}

/// Resolves LRANGE/LTRIM's start and stop: `Some(start..end)` or `None` when empty.
fn resolve_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut start = if start < 0 {
        start.saturating_add(llen)
    } else {
        start
    };
    let mut end = if stop < 0 {
        stop.saturating_add(llen)
    } else {
        stop
    };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some((start as usize, end as usize + 1))
}

/// LPUSH/RPUSH (and the X forms with `existing_only`): pushes `values` in order at `end`,
/// creating the list unless `existing_only`; returns the new length (0 when nothing was
/// pushed because the key is missing).
pub fn push_exec(
    a: &mut Access<'_>,
    key: &[u8],
    values: &[impl AsRef<[u8]>],
    end: ListEnd,
    existing_only: bool,
) -> Result<usize> {
    let front = end == ListEnd::Left;
    let len = match list_mut(a, key)? {
        Some(l) => {
            for v in values {
                l.push(v.as_ref(), front);
            }
            l.len()
        }
        None if existing_only => return Ok(0),
        None => {
            let mut l = List::new();
            for v in values {
                l.push(v.as_ref(), front);
            }
            let len = l.len();
            a.set(key, Value::List(Box::new(l)));
            len
        }
    };
    a.touched(key);
    a.notify(push_event(end), key);
    Ok(len)
}

/// LPOP/RPOP with a count: up to `count` elements from `end`; `None` if the key is missing.
/// Deletes the key when it empties.
pub fn pop_exec(
    a: &mut Access<'_>,
    key: &[u8],
    end: ListEnd,
    count: usize,
) -> Result<Option<Vec<Bytes>>> {
    let Some(l) = list_mut(a, key)? else {
        return Ok(None);
    };
    let front = end == ListEnd::Left;
    let n = count.min(l.len());
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        if let Some(v) = l.pop(front) {
            out.push(v);
        }
    }
    if n > 0 {
        let emptied = remove_if_empty(a, key);
        a.touched(key);
        a.notify(pop_event(end), key);
        if emptied {
            a.notify(Event::Del, key);
        }
    }
    Ok(Some(out))
}

/// LLEN: the length of the list (0 if missing).
pub fn llen_exec(a: &mut Access<'_>, key: &[u8]) -> Result<usize> {
    Ok(list_read(a, key)?.map_or(0, List::len))
}

/// LINDEX: the element at `index` (negative from the tail); the index is only read once the
/// key is known to be a list, as in Redis.
pub fn lindex_exec(a: &mut Access<'_>, key: &[u8], index: Result<i64>) -> Result<Option<Bytes>> {
    let Some(l) = list_read(a, key)? else {
        return Ok(None);
    };
    let index = index?;
    Ok(resolve_index(index, l.len())
        .and_then(|i| l.get(i))
        .map(Bytes::copy_from_slice))
}

/// LSET: replaces the element at `index`. `ERR no such key` for a missing key (before the
/// index is read), `ERR index out of range` past either end.
pub fn lset_exec(a: &mut Access<'_>, key: &[u8], index: Result<i64>, value: &[u8]) -> Result<()> {
    let Some(l) = list_mut(a, key)? else {
        return Err(Error::NoSuchKey);
    };
    let index = index?;
    let i = resolve_index(index, l.len()).ok_or(INDEX_OUT_OF_RANGE)?;
    l.set(i, value);
    a.touched(key);
    a.notify(Event::LSet, key);
    Ok(())
}

/// LRANGE: elements `start..=stop` (negative from the tail, clamped).
pub fn lrange_exec(a: &mut Access<'_>, key: &[u8], start: i64, stop: i64) -> Result<Vec<Bytes>> {
    let Some(l) = list_read(a, key)? else {
        return Ok(Vec::new());
    };
    Ok(match resolve_range(start, stop, l.len()) {
        Some((s, e)) => l.range(s, e).map(Bytes::copy_from_slice).collect(),
        None => Vec::new(),
    })
}

/// LTRIM: keeps elements `start..=stop` only (deleting the key if none remain).
pub fn ltrim_exec(a: &mut Access<'_>, key: &[u8], start: i64, stop: i64) -> Result<()> {
    let Some(l) = list_mut(a, key)? else {
        return Ok(());
    };
    let len = l.len();
    let (ltrim, rtrim) = match resolve_range(start, stop, len) {
        Some((s, e)) => (s, len - e),
        None => (len, 0),
    };
    l.drop_front(ltrim);
    l.drop_back(rtrim);
    let emptied = remove_if_empty(a, key);
    // Redis signals the key as modified even when nothing was trimmed.
    a.touched(key);
    a.notify(Event::LTrim, key);
    if emptied {
        a.notify(Event::Del, key);
    }
    Ok(())
}

/// LINSERT: inserts `value` before or after the first `pivot`. Returns the new length, 0 if
/// the key is missing, -1 if the pivot is not found.
pub fn linsert_exec(
    a: &mut Access<'_>,
    key: &[u8],
    after: bool,
    pivot: &[u8],
    value: &[u8],
) -> Result<i64> {
    let Some(l) = list_mut(a, key)? else {
        return Ok(0);
    };
    let Some(i) = l.position(pivot) else {
        return Ok(-1);
    };
    l.insert(i + after as usize, value);
    let len = l.len() as i64;
    a.touched(key);
    a.notify(Event::LInsert, key);
    Ok(len)
}

/// LREM: removes up to |count| elements equal to `value` (all when 0), from the head, or from
/// the tail when `count` is negative; returns how many were removed.
pub fn lrem_exec(a: &mut Access<'_>, key: &[u8], count: i64, value: &[u8]) -> Result<usize> {
    let Some(l) = list_mut(a, key)? else {
        return Ok(0);
    };
    let limit = match count {
        0 => usize::MAX,
        n => usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX),
    };
    let removed = l.remove_matching(value, limit, count < 0);
    if removed > 0 {
        let emptied = remove_if_empty(a, key);
        a.touched(key);
        a.notify(Event::LRem, key);
        if emptied {
            a.notify(Event::Del, key);
        }
    }
    Ok(removed)
}

/// LPOS options: which match to start from, how many to return, how far to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LposOptions {
    /// 1 for the first match from the head, 2 for the second...; negative from the tail.
    /// Never 0.
    pub rank: i64,
    /// `None`: only the first match (a single reply); `Some(0)`: all matches.
    pub count: Option<u64>,
    /// Compare at most this many elements (0: all).
    pub maxlen: u64,
}

impl Default for LposOptions {
    fn default() -> Self {
        LposOptions {
            rank: 1,
            count: None,
            maxlen: 0,
        }
    }
}

/// LPOS: indexes of elements equal to `element`, per `opts` (an empty list when none, or when
/// the key is missing).
pub fn lpos_exec(
    a: &mut Access<'_>,
    key: &[u8],
    element: &[u8],
    opts: LposOptions,
) -> Result<Vec<i64>> {
    if opts.rank == 0 {
        return Err(LPOS_RANK_ZERO);
    }
    let Some(l) = list_read(a, key)? else {
        return Ok(Vec::new());
    };
    // Redis negates in C: RANK -9223372036854775808 stays negative (see the module docs).
    let (rank, from_tail) = if opts.rank < 0 {
        (opts.rank.wrapping_neg(), true)
    } else {
        (opts.rank, false)
    };
    let count = opts.count.map(|c| c.min(i64::MAX as u64) as i64);
    let llen = l.len() as i64;
    let mut out = Vec::new();
    let mut matches: i64 = 0;
    let mut visit = |index: i64, e: &[u8]| -> bool {
        if opts.maxlen != 0 && index as u64 >= opts.maxlen {
            return false;
        }
        if e == element {
            matches += 1;
            if matches >= rank {
                out.push(if from_tail { llen - index - 1 } else { index });
                match count {
                    None => return false,
                    Some(c) if c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c => {
                        return false;
                    }
                    _ => {}
                }
            }
        }
        true
    };
    if from_tail {
        for (i, e) in l.iter().rev().enumerate() {
            if !visit(i as i64, e) {
                break;
            }
        }
    } else {
        for (i, e) in l.iter().enumerate() {
            if !visit(i as i64, e) {
                break;
            }
        }
    }
    Ok(out)
}

/// LMOVE: pops from `from` of `src` and pushes to `to` of `dst`; `None` if `src` is missing.
/// Both types are checked before anything moves.
pub fn lmove_exec(
    a: &mut Access<'_>,
    src: &[u8],
    dst: &[u8],
    from: ListEnd,
    to: ListEnd,
) -> Result<Option<Bytes>> {
    if list_mut(a, src)?.is_none() {
        return Ok(None);
    }
    if src != dst {
        list_mut(a, dst)?;
    }
    let Some(value) = list_mut(a, src)?.and_then(|l| l.pop(from == ListEnd::Left)) else {
        return Ok(None);
    };
    // Events as Redis sends them: the push on `dst` first, then the pop on `src`.
    let mut emptied = false;
    if src == dst {
        if let Some(l) = list_mut(a, src)? {
            l.push(&value, to == ListEnd::Left);
        }
        a.notify(push_event(to), dst);
    } else {
        emptied = remove_if_empty(a, src);
        push_exec(a, dst, &[&value], to, false)?;
    }
    a.touched(dst);
    a.touched(src);
    a.notify(pop_event(from), src);
    if emptied {
        a.notify(Event::Del, src);
    }
    Ok(Some(value))
}

/// LMPOP (and the non-blocking part of BLPOP/BRPOP/BLMPOP): up to `count` elements from the
/// first non-empty list among `keys`. A key of another type met before one is found is an
/// error.
pub fn lmpop_exec(
    a: &mut Access<'_>,
    keys: &[impl AsRef<[u8]>],
    end: ListEnd,
    count: usize,
) -> Result<Option<(Bytes, Vec<Bytes>)>> {
    for k in keys {
        let k = k.as_ref();
        if let Some(values) = pop_exec(a, k, end, count)? {
            return Ok(Some((Bytes::copy_from_slice(k), values)));
        }
    }
    Ok(None)
}

/// Runs `f` locking one shard when every key is the same, else every shard.
pub(crate) fn with_keys<R>(
    ctx: &mut Ctx<'_, '_>,
    keys: &[Bytes],
    f: impl FnOnce(&mut Access<'_>) -> R,
) -> R {
    match keys.split_first() {
        Some((first, rest)) if rest.iter().all(|k| k == first) => ctx.key(first, f),
        _ => ctx.all(f),
    }
}

/// `LEFT` or `RIGHT`, as Redis reads them (`ERR syntax error` otherwise).
fn parse_end(arg: &[u8]) -> Result<ListEnd> {
    if is(arg, "left") {
        Ok(ListEnd::Left)
    } else if is(arg, "right") {
        Ok(ListEnd::Right)
    } else {
        Err(Error::Syntax)
    }
}

/// A count read like Redis's `getPositiveLongFromObjectOrReply` with no custom message.
fn positive_count(arg: &[u8]) -> Result<usize> {
    match num::parse_i64(arg) {
        Some(n) if n >= 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => Err(MUST_BE_POSITIVE),
    }
}

fn push(ctx: &mut Ctx<'_, '_>, args: &[Bytes], end: ListEnd, existing_only: bool) -> Result<Reply> {
    let key = &args[1];
    let values = &args[2..];
    let n = ctx.key(key, |a| push_exec(a, key, values, end, existing_only))?;
    Ok(Reply::Int(n as i64))
}

fn lpush(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    push(ctx, args, ListEnd::Left, false)
}

fn rpush(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    push(ctx, args, ListEnd::Right, false)
}

fn lpushx(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    push(ctx, args, ListEnd::Left, true)
}

fn rpushx(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    push(ctx, args, ListEnd::Right, true)
}

fn pop(ctx: &mut Ctx<'_, '_>, args: &[Bytes], end: ListEnd) -> Result<Reply> {
    let key = &args[1];
    match args.len() {
        2 => {
            let popped = ctx.key(key, |a| pop_exec(a, key, end, 1))?;
            Ok(popped
                .and_then(|mut v| v.pop())
                .map_or(Reply::Nil, Reply::Bulk))
        }
        3 => {
            let count = positive_count(&args[2])?;
            let popped = ctx.key(key, |a| pop_exec(a, key, end, count))?;
            Ok(popped.map_or(Reply::NilArray, Reply::from))
        }
        _ => Err(Error::wrong_arity(if end == ListEnd::Left {
            "lpop"
        } else {
            "rpop"
        })),
    }
}

fn lpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    pop(ctx, args, ListEnd::Left)
}

fn rpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    pop(ctx, args, ListEnd::Right)
}

fn llen(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let n = ctx.key(key, |a| llen_exec(a, key))?;
    Ok(Reply::Int(n as i64))
}

fn lindex(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let index = args::int(&args[2]);
    ctx.key(key, |a| lindex_exec(a, key, index))
        .map(Reply::from)
}

fn lset(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let index = args::int(&args[2]);
    ctx.key(key, |a| lset_exec(a, key, index, &args[3]))?;
    Ok(Reply::Ok)
}

fn lrange(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let start = args::int(&args[2])?;
    let stop = args::int(&args[3])?;
    ctx.key(key, |a| lrange_exec(a, key, start, stop))
        .map(Reply::from)
}

fn ltrim(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let start = args::int(&args[2])?;
    let stop = args::int(&args[3])?;
    ctx.key(key, |a| ltrim_exec(a, key, start, stop))?;
    Ok(Reply::Ok)
}

fn linsert(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let after = if is(&args[2], "after") {
        true
    } else if is(&args[2], "before") {
        false
    } else {
        return Err(Error::Syntax);
    };
    let n = ctx.key(key, |a| linsert_exec(a, key, after, &args[3], &args[4]))?;
    Ok(Reply::Int(n))
}

fn lrem(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let count = args::int(&args[2])?;
    let n = ctx.key(key, |a| lrem_exec(a, key, count, &args[3]))?;
    Ok(Reply::Int(n as i64))
}

fn lpos(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let mut opts = LposOptions::default();
    let mut i = 3;
    while i < args.len() {
        let opt = &args[i];
        let has_value = i + 1 < args.len();
        if is(opt, "rank") && has_value {
            opts.rank = args::int(&args[i + 1])?;
            if opts.rank == 0 {
                return Err(LPOS_RANK_ZERO);
            }
        } else if is(opt, "count") && has_value {
            let n = num::parse_i64(&args[i + 1]).filter(|&n| n >= 0);
            opts.count = Some(n.ok_or(COUNT_NEGATIVE)? as u64);
        } else if is(opt, "maxlen") && has_value {
            let n = num::parse_i64(&args[i + 1]).filter(|&n| n >= 0);
            opts.maxlen = n.ok_or(MAXLEN_NEGATIVE)? as u64;
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    let found = ctx.key(key, |a| lpos_exec(a, key, &args[2], opts))?;
    Ok(match opts.count {
        Some(_) => Reply::from(found),
        None => found.first().map_or(Reply::Nil, |&i| Reply::Int(i)),
    })
}

fn lmove(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let from = parse_end(&args[3])?;
    let to = parse_end(&args[4])?;
    move_command(ctx, &args[1], &args[2], from, to)
}

fn rpoplpush(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    move_command(ctx, &args[1], &args[2], ListEnd::Right, ListEnd::Left)
}

fn move_command(
    ctx: &mut Ctx<'_, '_>,
    src: &Bytes,
    dst: &Bytes,
    from: ListEnd,
    to: ListEnd,
) -> Result<Reply> {
    let keys = [src.clone(), dst.clone()];
    with_keys(ctx, &keys, |a| lmove_exec(a, src, dst, from, to)).map(Reply::from)
}

/// LMPOP/BLMPOP arguments after the command name (and BLMPOP's timeout).
struct MpopArgs<'a> {
    keys: &'a [Bytes],
    end: ListEnd,
    count: usize,
}

/// Reads `numkeys key... LEFT|RIGHT [COUNT n]` starting at `args[at]`, in Redis's order.
fn parse_mpop(args: &[Bytes], at: usize) -> Result<MpopArgs<'_>> {
    let numkeys = num::parse_i64(&args[at])
        .filter(|&n| n > 0)
        .ok_or(NUMKEYS_NOT_POSITIVE)?;
    let first_key = at + 1;
    let available = (args.len() - first_key) as i64;
    if numkeys >= available {
        return Err(Error::Syntax);
    }
    let where_at = first_key + numkeys as usize;
    let end = parse_end(&args[where_at])?;
    let mut count = None;
    let mut i = where_at + 1;
    while i < args.len() {
        if count.is_none() && is(&args[i], "count") && i + 1 < args.len() {
            let n = num::parse_i64(&args[i + 1])
                .filter(|&n| n > 0)
                .ok_or(COUNT_NOT_POSITIVE)?;
            count = Some(usize::try_from(n).unwrap_or(usize::MAX));
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok(MpopArgs {
        keys: &args[first_key..where_at],
        end,
        count: count.unwrap_or(1),
    })
}

fn mpop_reply(key: Bytes, values: Vec<Bytes>) -> Reply {
    Reply::Array(vec![Reply::Bulk(key), Reply::from(values)])
}

fn lmpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let p = parse_mpop(args, 1)?;
    let popped = with_keys(ctx, p.keys, |a| lmpop_exec(a, p.keys, p.end, p.count))?;
    Ok(popped.map_or(Reply::NilArray, |(k, v)| mpop_reply(k, v)))
}

/// What a blocked BLPOP, BRPOP or BLMPOP does when served.
#[derive(Debug)]
struct PopWaiter {
    end: ListEnd,
    /// `None` for BLPOP/BRPOP (reply `[key, value]`), the count for BLMPOP (`[key, [values]]`).
    count: Option<usize>,
}

impl PopWaiter {
    fn reply(&self, key: Bytes, mut values: Vec<Bytes>) -> Reply {
        match self.count {
            Some(_) => mpop_reply(key, values),
            None => Reply::Array(vec![
                Reply::Bulk(key),
                values.pop().map_or(Reply::Nil, Reply::Bulk),
            ]),
        }
    }
}

impl BlockedOp for PopWaiter {
    fn serve(&mut self, a: &mut Access<'_>, key: &Bytes) -> Option<Reply> {
        match pop_exec(a, key, self.end, self.count.unwrap_or(1)) {
            Ok(Some(values)) if !values.is_empty() => Some(self.reply(key.clone(), values)),
            _ => None,
        }
    }

    fn timeout_reply(&self) -> Reply {
        Reply::NilArray
    }
}

/// What a blocked BLMOVE or BRPOPLPUSH does when served.
#[derive(Debug)]
struct MoveWaiter {
    dst: Bytes,
    from: ListEnd,
    to: ListEnd,
    other_key: bool,
}

impl BlockedOp for MoveWaiter {
    fn serve(&mut self, a: &mut Access<'_>, key: &Bytes) -> Option<Reply> {
        let is_list = matches!(a.peek(key), Some(e) if matches!(e.value, Value::List(_)));
        if !is_list {
            return None;
        }
        // A destination of the wrong type answers WRONGTYPE and unblocks, moving nothing,
        // as in Redis 7.0.
        match lmove_exec(a, key, &self.dst, self.from, self.to) {
            Ok(Some(v)) => Some(Reply::Bulk(v)),
            Ok(None) => None,
            Err(e) => Some(Reply::Error(e)),
        }
    }

    fn timeout_reply(&self) -> Reply {
        // A timed-out BLMOVE answers a null array, like every list blocking command in Redis
        // 7.0 (`replyToBlockedClientTimedOut`), although inside MULTI it answers a null bulk.
        Reply::NilArray
    }

    fn writes_other_keys(&self) -> bool {
        self.other_key
    }
}

/// What the non-blocking attempt of a blocking command came to.
pub(crate) enum Attempt {
    Done(Reply),
    Blocked(PendingBlock),
}

/// Pops from the first non-empty list of `keys`, or blocks on them.
fn pop_or_block(
    ctx: &mut Ctx<'_, '_>,
    keys: &[Bytes],
    waiter: PopWaiter,
    timeout_ms: Option<u64>,
) -> Result<Reply> {
    let may_block = ctx.may_block();
    let db = ctx.db();
    let attempt = with_keys(ctx, keys, |a| -> Result<Attempt> {
        let count = waiter.count.unwrap_or(1);
        if let Some((k, values)) = lmpop_exec(a, keys, waiter.end, count)? {
            return Ok(Attempt::Done(waiter.reply(k, values)));
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

/// The reply of a blocking command's attempt; a registered waiter goes to the caller.
pub(crate) fn finish_attempt(ctx: &mut Ctx<'_, '_>, attempt: Attempt) -> Reply {
    match attempt {
        Attempt::Done(reply) => reply,
        Attempt::Blocked(pending) => {
            ctx.set_blocked(pending);
            // Not sent: the caller awaits the blocked call instead.
            Reply::NilArray
        }
    }
}

fn blpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    bpop(ctx, args, ListEnd::Left)
}

fn brpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    bpop(ctx, args, ListEnd::Right)
}

fn bpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes], end: ListEnd) -> Result<Reply> {
    let timeout = blocking::parse_timeout(&args[args.len() - 1])?;
    let keys = &args[1..args.len() - 1];
    pop_or_block(ctx, keys, PopWaiter { end, count: None }, timeout)
}

fn blmpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let p = parse_mpop(args, 2)?;
    let timeout = blocking::parse_timeout(&args[1])?;
    let waiter = PopWaiter {
        end: p.end,
        count: Some(p.count),
    };
    pop_or_block(ctx, p.keys, waiter, timeout)
}

fn blmove(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let from = parse_end(&args[3])?;
    let to = parse_end(&args[4])?;
    let timeout = blocking::parse_timeout(&args[5])?;
    move_or_block(ctx, &args[1], &args[2], from, to, timeout)
}

fn brpoplpush(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let timeout = blocking::parse_timeout(&args[3])?;
    move_or_block(
        ctx,
        &args[1],
        &args[2],
        ListEnd::Right,
        ListEnd::Left,
        timeout,
    )
}

fn move_or_block(
    ctx: &mut Ctx<'_, '_>,
    src: &Bytes,
    dst: &Bytes,
    from: ListEnd,
    to: ListEnd,
    timeout_ms: Option<u64>,
) -> Result<Reply> {
    let may_block = ctx.may_block();
    let denied = ctx.blocking_denied();
    let db = ctx.db();
    let keys = [src.clone(), dst.clone()];
    let attempt = with_keys(ctx, &keys, |a| -> Result<Attempt> {
        if let Some(v) = lmove_exec(a, src, dst, from, to)? {
            return Ok(Attempt::Done(Reply::Bulk(v)));
        }
        let waiter = MoveWaiter {
            dst: dst.clone(),
            from,
            to,
            other_key: src != dst,
        };
        if !may_block {
            // Inside MULTI or a script Redis answers a null bulk, not the timeout's null array;
            // a caller that cannot wait gets what the timeout would give.
            return Ok(Attempt::Done(if denied {
                Reply::Nil
            } else {
                waiter.timeout_reply()
            }));
        }
        let deadline = blocking::deadline(a.now_ms(), timeout_ms);
        Ok(Attempt::Blocked(blocking::register(
            a,
            db,
            std::slice::from_ref(src),
            deadline,
            Box::new(waiter),
        )))
    })?;
    Ok(finish_attempt(ctx, attempt))
}

/// Registers a blocked pop for the typed async API (see `api/list.rs`): the same waiter the
/// commands register.
pub(crate) fn register_pop(
    a: &mut Access<'_>,
    keys: &[Bytes],
    end: ListEnd,
    count: Option<usize>,
    deadline: Option<u64>,
) -> PendingBlock {
    let db = a.db;
    blocking::register(a, db, keys, deadline, Box::new(PopWaiter { end, count }))
}

/// Registers a blocked move for the typed async API.
pub(crate) fn register_move(
    a: &mut Access<'_>,
    src: &Bytes,
    dst: &Bytes,
    from: ListEnd,
    to: ListEnd,
    deadline: Option<u64>,
) -> PendingBlock {
    let db = a.db;
    let waiter = MoveWaiter {
        dst: dst.clone(),
        from,
        to,
        other_key: src != dst,
    };
    blocking::register(a, db, std::slice::from_ref(src), deadline, Box::new(waiter))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Db;
    use proptest::prelude::*;
    use std::collections::{HashMap, VecDeque};

    #[test]
    fn ranges_resolve_like_redis() {
        assert_eq!(resolve_range(0, -1, 3), Some((0, 3)));
        assert_eq!(resolve_range(-100, 100, 3), Some((0, 3)));
        assert_eq!(resolve_range(2, 1, 3), None);
        assert_eq!(resolve_range(3, 5, 3), None);
        assert_eq!(resolve_range(i64::MIN, i64::MAX, 3), Some((0, 3)));
        assert_eq!(resolve_range(-1, -1, 3), Some((2, 3)));
        assert_eq!(resolve_index(-1, 3), Some(2));
        assert_eq!(resolve_index(-4, 3), None);
        assert_eq!(resolve_index(i64::MIN, 3), None);
        assert_eq!(resolve_index(i64::MAX, 3), None);
    }

    /// A list command and the arguments it is sent with.
    #[derive(Debug, Clone)]
    enum Op {
        Push {
            key: usize,
            left: bool,
            values: Vec<Vec<u8>>,
        },
        Pop {
            key: usize,
            left: bool,
            count: Option<usize>,
        },
        Index {
            key: usize,
            index: i64,
        },
        Set {
            key: usize,
            index: i64,
            value: Vec<u8>,
        },
        Range {
            key: usize,
            start: i64,
            stop: i64,
        },
        Trim {
            key: usize,
            start: i64,
            stop: i64,
        },
        Insert {
            key: usize,
            after: bool,
            pivot: Vec<u8>,
            value: Vec<u8>,
        },
        Rem {
            key: usize,
            count: i64,
            value: Vec<u8>,
        },
        Pos {
            key: usize,
            value: Vec<u8>,
            rank: i64,
            count: Option<usize>,
            maxlen: usize,
        },
        Move {
            src: usize,
            dst: usize,
            from_left: bool,
            to_left: bool,
        },
        Mpop {
            keys: Vec<usize>,
            left: bool,
            count: usize,
        },
        Len {
            key: usize,
        },
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => prop::sample::select(vec![b"a".to_vec(), b"b".to_vec(), b"".to_vec(), b"\x00\r\n".to_vec()]),
            1 => prop::collection::vec(any::<u8>(), 0..40),
            1 => prop::collection::vec(Just(b'z'), 3000..9000),
        ]
    }

    fn index() -> impl Strategy<Value = i64> {
        prop_oneof![8 => -12i64..12, 1 => Just(i64::MIN), 1 => Just(i64::MAX)]
    }

    fn op() -> impl Strategy<Value = Op> {
        let key = 0usize..3;
        prop_oneof![
            6 => (key.clone(), any::<bool>(), prop::collection::vec(value(), 1..6))
                .prop_map(|(key, left, values)| Op::Push { key, left, values }),
            3 => (key.clone(), any::<bool>(), prop::option::of(0usize..6))
                .prop_map(|(key, left, count)| Op::Pop { key, left, count }),
            2 => (key.clone(), index()).prop_map(|(key, index)| Op::Index { key, index }),
            2 => (key.clone(), index(), value())
                .prop_map(|(key, index, value)| Op::Set { key, index, value }),
            2 => (key.clone(), index(), index())
                .prop_map(|(key, start, stop)| Op::Range { key, start, stop }),
            1 => (key.clone(), index(), index())
                .prop_map(|(key, start, stop)| Op::Trim { key, start, stop }),
            2 => (key.clone(), any::<bool>(), value(), value())
                .prop_map(|(key, after, pivot, value)| Op::Insert { key, after, pivot, value }),
            2 => (key.clone(), -3i64..3, value())
                .prop_map(|(key, count, value)| Op::Rem { key, count, value }),
            2 => (key.clone(), value(), prop_oneof![-3i64..0, 1i64..4], prop::option::of(0usize..3), 0usize..6)
                .prop_map(|(key, value, rank, count, maxlen)| Op::Pos { key, value, rank, count, maxlen }),
            2 => (key.clone(), key.clone(), any::<bool>(), any::<bool>())
                .prop_map(|(src, dst, from_left, to_left)| Op::Move { src, dst, from_left, to_left }),
            1 => (prop::collection::vec(key.clone(), 1..4), any::<bool>(), 1usize..4)
                .prop_map(|(keys, left, count)| Op::Mpop { keys, left, count }),
            1 => key.prop_map(|key| Op::Len { key }),
        ]
    }

    type Model = HashMap<usize, VecDeque<Vec<u8>>>;

    fn name(key: usize) -> Vec<u8> {
        format!("k{key}").into_bytes()
    }

    fn bulk(v: &[u8]) -> Reply {
        Reply::bulk(v)
    }

    fn model_index(index: i64, len: usize) -> Option<usize> {
        let len = len as i64;
        let i = if index < 0 {
            index.checked_add(len)?
        } else {
            index
        };
        (0..len).contains(&i).then_some(i as usize)
    }

    fn model_range(start: i64, stop: i64, len: usize) -> std::ops::Range<usize> {
        let len = len as i64;
        let s = if start < 0 {
            start.saturating_add(len).max(0)
        } else {
            start
        };
        let e = if stop < 0 {
            stop.saturating_add(len)
        } else {
            stop
        };
        if s > e || s >= len {
            return 0..0;
        }
        s as usize..(e.min(len - 1) + 1) as usize
    }

    /// The command for `op` and the reply the model expects, applying it to the model.
    fn apply(m: &mut Model, op: &Op) -> (Vec<Vec<u8>>, Reply) {
        let mut cmd: Vec<Vec<u8>> = Vec::new();
        let reply = match op {
            Op::Push { key, left, values } => {
                cmd.push(if *left {
                    b"LPUSH".to_vec()
                } else {
                    b"RPUSH".to_vec()
                });
                cmd.push(name(*key));
                cmd.extend(values.iter().cloned());
                let l = m.entry(*key).or_default();
                for v in values {
                    if *left {
                        l.push_front(v.clone())
                    } else {
                        l.push_back(v.clone())
                    }
                }
                Reply::Int(l.len() as i64)
            }
            Op::Pop { key, left, count } => {
                cmd.push(if *left {
                    b"LPOP".to_vec()
                } else {
                    b"RPOP".to_vec()
                });
                cmd.push(name(*key));
                if let Some(c) = count {
                    cmd.push(c.to_string().into_bytes());
                }
                match (m.get_mut(key), count) {
                    (None, None) => Reply::Nil,
                    (None, Some(_)) => Reply::NilArray,
                    (Some(l), c) => {
                        let n = c.unwrap_or(1).min(l.len());
                        let popped: Vec<Reply> = (0..n)
                            .filter_map(|_| if *left { l.pop_front() } else { l.pop_back() })
                            .map(|v| bulk(&v))
                            .collect();
                        if l.is_empty() {
                            m.remove(key);
                        }
                        match c {
                            None => popped.into_iter().next().unwrap_or(Reply::Nil),
                            Some(_) => Reply::Array(popped),
                        }
                    }
                }
            }
            Op::Index { key, index } => {
                cmd = vec![
                    b"LINDEX".to_vec(),
                    name(*key),
                    index.to_string().into_bytes(),
                ];
                m.get(key)
                    .and_then(|l| model_index(*index, l.len()).map(|i| bulk(&l[i])))
                    .unwrap_or(Reply::Nil)
            }
            Op::Set { key, index, value } => {
                cmd = vec![
                    b"LSET".to_vec(),
                    name(*key),
                    index.to_string().into_bytes(),
                    value.clone(),
                ];
                match m.get_mut(key) {
                    None => Reply::Error(Error::NoSuchKey),
                    Some(l) => match model_index(*index, l.len()) {
                        None => Reply::Error(INDEX_OUT_OF_RANGE),
                        Some(i) => {
                            l[i] = value.clone();
                            Reply::Ok
                        }
                    },
                }
            }
            Op::Range { key, start, stop } => {
                cmd = vec![
                    b"LRANGE".to_vec(),
                    name(*key),
                    start.to_string().into_bytes(),
                    stop.to_string().into_bytes(),
                ];
                let items = m.get(key).map(|l| {
                    l.range(model_range(*start, *stop, l.len()))
                        .map(|v| bulk(v))
                        .collect()
                });
                Reply::Array(items.unwrap_or_default())
            }
            Op::Trim { key, start, stop } => {
                cmd = vec![
                    b"LTRIM".to_vec(),
                    name(*key),
                    start.to_string().into_bytes(),
                    stop.to_string().into_bytes(),
                ];
                if let Some(l) = m.get_mut(key) {
                    let r = model_range(*start, *stop, l.len());
                    *l = l.range(r).cloned().collect();
                    if l.is_empty() {
                        m.remove(key);
                    }
                }
                Reply::Ok
            }
            Op::Insert {
                key,
                after,
                pivot,
                value,
            } => {
                let side: &[u8] = if *after { b"AFTER" } else { b"BEFORE" };
                cmd = vec![
                    b"LINSERT".to_vec(),
                    name(*key),
                    side.to_vec(),
                    pivot.clone(),
                    value.clone(),
                ];
                match m.get_mut(key) {
                    None => Reply::Int(0),
                    Some(l) => match l.iter().position(|v| v == pivot) {
                        None => Reply::Int(-1),
                        Some(i) => {
                            l.insert(i + *after as usize, value.clone());
                            Reply::Int(l.len() as i64)
                        }
                    },
                }
            }
            Op::Rem { key, count, value } => {
                cmd = vec![
                    b"LREM".to_vec(),
                    name(*key),
                    count.to_string().into_bytes(),
                    value.clone(),
                ];
                let Some(l) = m.get_mut(key) else {
                    return (cmd, Reply::Int(0));
                };
                let limit = if *count == 0 {
                    usize::MAX
                } else {
                    count.unsigned_abs() as usize
                };
                let mut removed = 0;
                if *count < 0 {
                    let mut i = l.len();
                    while i > 0 && removed < limit {
                        i -= 1;
                        if &l[i] == value {
                            l.remove(i);
                            removed += 1;
                        }
                    }
                } else {
                    let mut i = 0;
                    while i < l.len() && removed < limit {
                        if &l[i] == value {
                            l.remove(i);
                            removed += 1;
                        } else {
                            i += 1;
                        }
                    }
                }
                if l.is_empty() {
                    m.remove(key);
                }
                Reply::Int(removed as i64)
            }
            Op::Pos {
                key,
                value,
                rank,
                count,
                maxlen,
            } => {
                cmd = vec![
                    b"LPOS".to_vec(),
                    name(*key),
                    value.clone(),
                    b"RANK".to_vec(),
                    rank.to_string().into_bytes(),
                    b"MAXLEN".to_vec(),
                    maxlen.to_string().into_bytes(),
                ];
                if let Some(c) = count {
                    cmd.push(b"COUNT".to_vec());
                    cmd.push(c.to_string().into_bytes());
                }
                let empty = VecDeque::new();
                let l = m.get(key).unwrap_or(&empty);
                let n = l.len();
                let order: Vec<usize> = if *rank < 0 {
                    (0..n).rev().collect()
                } else {
                    (0..n).collect()
                };
                let scanned = if *maxlen == 0 { n } else { (*maxlen).min(n) };
                let found: Vec<i64> = order[..scanned]
                    .iter()
                    .filter(|&&i| &l[i] == value)
                    .skip(rank.unsigned_abs() as usize - 1)
                    .map(|&i| i as i64)
                    .collect();
                match count {
                    None => found.first().map_or(Reply::Nil, |&i| Reply::Int(i)),
                    Some(0) => Reply::Array(found.into_iter().map(Reply::Int).collect()),
                    Some(c) => Reply::Array(found.into_iter().take(*c).map(Reply::Int).collect()),
                }
            }
            Op::Move {
                src,
                dst,
                from_left,
                to_left,
            } => {
                let side = |left: bool| {
                    if left {
                        b"LEFT".to_vec()
                    } else {
                        b"RIGHT".to_vec()
                    }
                };
                cmd = vec![
                    b"LMOVE".to_vec(),
                    name(*src),
                    name(*dst),
                    side(*from_left),
                    side(*to_left),
                ];
                let Some(l) = m.get_mut(src) else {
                    return (cmd, Reply::Nil);
                };
                let v = if *from_left {
                    l.pop_front()
                } else {
                    l.pop_back()
                };
                let Some(v) = v else { return (cmd, Reply::Nil) };
                if l.is_empty() {
                    m.remove(src);
                }
                let d = m.entry(*dst).or_default();
                if *to_left {
                    d.push_front(v.clone())
                } else {
                    d.push_back(v.clone())
                }
                bulk(&v)
            }
            Op::Mpop { keys, left, count } => {
                cmd = vec![b"LMPOP".to_vec(), keys.len().to_string().into_bytes()];
                cmd.extend(keys.iter().map(|k| name(*k)));
                cmd.push(if *left {
                    b"LEFT".to_vec()
                } else {
                    b"RIGHT".to_vec()
                });
                cmd.push(b"COUNT".to_vec());
                cmd.push(count.to_string().into_bytes());
                let Some(&k) = keys.iter().find(|k| m.contains_key(k)) else {
                    return (cmd, Reply::NilArray);
                };
                let l = m.get_mut(&k).expect("found above");
                let n = (*count).min(l.len());
                let popped: Vec<Reply> = (0..n)
                    .filter_map(|_| if *left { l.pop_front() } else { l.pop_back() })
                    .map(|v| bulk(&v))
                    .collect();
                if l.is_empty() {
                    m.remove(&k);
                }
                Reply::Array(vec![bulk(&name(k)), Reply::Array(popped)])
            }
            Op::Len { key } => {
                cmd = vec![b"LLEN".to_vec(), name(*key)];
                Reply::Int(m.get(key).map_or(0, |l| l.len() as i64))
            }
        };
        (cmd, reply)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn commands_match_a_vecdeque_model(ops in prop::collection::vec(op(), 1..120)) {
            let db = Db::new();
            let mut model = Model::new();
            for op in &ops {
                let (cmd, expected) = apply(&mut model, op);
                let got = db.call(&cmd);
                prop_assert_eq!(&got, &expected, "{:?}", op);
            }
            for k in 0..3 {
                let expected: Vec<Reply> = model
                    .get(&k)
                    .map(|l| l.iter().map(|v| bulk(v)).collect())
                    .unwrap_or_default();
                let key = name(k);
                prop_assert_eq!(db.call([&b"LRANGE"[..], &key, b"0", b"-1"]), Reply::Array(expected));
                prop_assert_eq!(db.call([&b"EXISTS"[..], &key]), Reply::Int(model.contains_key(&k) as i64));
            }
        }
    }
}
