//! Sorted set commands: the `sorted-set` group of Redis 7.0 except the blocking pops
//! (BZPOPMIN/BZPOPMAX/BZMPOP come with the blocking machinery and will reuse
//! [`zpop_exec`]).
//!
//! Argument errors come in Redis's order, which is not always "parse everything first":
//! ZUNION/ZINTER/ZDIFF check their keys' types before reading WEIGHTS/AGGREGATE, and ZSCAN
//! ignores its options when the key does not exist. Those handlers parse up front into a
//! `Result` and raise a parse error only where Redis would.

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::args::{self, is};
use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::db::Engine;
use crate::error::{self, Error, Result};
use crate::keyspace::{Access, Entry, Value};
use crate::num;
use crate::pubsub::Event;
use crate::reply::Reply;
use crate::types::set::Set;
use crate::types::zset::{
    AddFlags, AddOutcome, LexRange, Limits, RangeSpec, ScoreRange, ZSet, cmp_entry,
};

/// The sorted set family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, WRITE | DENYOOM | FAST, zadd).keys(1, 1, 1),
    CommandSpec::new("zcard", 2, READONLY | FAST, zcard).keys(1, 1, 1),
    CommandSpec::new("zcount", 4, READONLY | FAST, zcount).keys(1, 1, 1),
    CommandSpec::new("zdiff", -3, READONLY | MOVABLE_KEYS, zdiff),
    CommandSpec::new("zdiffstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, zdiffstore).keys(1, 1, 1),
    CommandSpec::new("zincrby", 4, WRITE | DENYOOM | FAST, zincrby).keys(1, 1, 1),
    CommandSpec::new("zinter", -3, READONLY | MOVABLE_KEYS, zinter),
    CommandSpec::new("zintercard", -3, READONLY | MOVABLE_KEYS, zintercard),
    CommandSpec::new(
        "zinterstore",
        -4,
        WRITE | DENYOOM | MOVABLE_KEYS,
        zinterstore,
    )
    .keys(1, 1, 1),
    CommandSpec::new("zlexcount", 4, READONLY | FAST, zlexcount).keys(1, 1, 1),
    CommandSpec::new("zmpop", -4, WRITE | MOVABLE_KEYS, zmpop),
    CommandSpec::new("zmscore", -3, READONLY | FAST, zmscore).keys(1, 1, 1),
    CommandSpec::new("zpopmax", -2, WRITE | FAST, zpopmax).keys(1, 1, 1),
    CommandSpec::new("zpopmin", -2, WRITE | FAST, zpopmin).keys(1, 1, 1),
    CommandSpec::new("zrandmember", -2, READONLY, zrandmember).keys(1, 1, 1),
    CommandSpec::new("zrange", -4, READONLY, zrange).keys(1, 1, 1),
    CommandSpec::new("zrangebylex", -4, READONLY, zrangebylex).keys(1, 1, 1),
    CommandSpec::new("zrangebyscore", -4, READONLY, zrangebyscore).keys(1, 1, 1),
    CommandSpec::new("zrangestore", -5, WRITE | DENYOOM, zrangestore).keys(1, 2, 1),
    CommandSpec::new("zrank", 3, READONLY | FAST, zrank).keys(1, 1, 1),
    CommandSpec::new("zrem", -3, WRITE | FAST, zrem).keys(1, 1, 1),
    CommandSpec::new("zremrangebylex", 4, WRITE, zremrangebylex).keys(1, 1, 1),
    CommandSpec::new("zremrangebyrank", 4, WRITE, zremrangebyrank).keys(1, 1, 1),
    CommandSpec::new("zremrangebyscore", 4, WRITE, zremrangebyscore).keys(1, 1, 1),
    CommandSpec::new("zrevrange", -4, READONLY, zrevrange).keys(1, 1, 1),
    CommandSpec::new("zrevrangebylex", -4, READONLY, zrevrangebylex).keys(1, 1, 1),
    CommandSpec::new("zrevrangebyscore", -4, READONLY, zrevrangebyscore).keys(1, 1, 1),
    CommandSpec::new("zrevrank", 3, READONLY | FAST, zrevrank).keys(1, 1, 1),
    CommandSpec::new("zscan", -3, READONLY, zscan).keys(1, 1, 1),
    CommandSpec::new("zscore", 3, READONLY | FAST, zscore).keys(1, 1, 1),
    CommandSpec::new("zunion", -3, READONLY | MOVABLE_KEYS, zunion),
    CommandSpec::new(
        "zunionstore",
        -4,
        WRITE | DENYOOM | MOVABLE_KEYS,
        zunionstore,
    )
    .keys(1, 1, 1),
];

/// The encoding thresholds in effect: `zset-max-listpack-entries` /
/// `zset-max-listpack-value` from the live configuration.
pub fn limits(engine: &Engine) -> Limits {
    engine.config.read(|c| Limits {
        max_listpack_entries: c.zset_max_listpack_entries as usize,
        max_listpack_value: c.zset_max_listpack_value as usize,
    })
}

/// Most elements ZRANDMEMBER with a negative count returns. Redis has no bound and streams
/// the reply (a count of -2^62 never finishes); a reply here is built in memory first, so a
/// count beyond this is refused with `ERR value is out of range`.
pub const RANDMEMBER_MAX_COUNT: u64 = 1 << 24;

// ---------------------------------------------------------------------------------------
// Lookups

fn as_zset(v: &Value) -> Result<&ZSet> {
    match v {
        Value::ZSet(z) => Ok(z),
        _ => Err(Error::WrongType),
    }
}

fn as_zset_mut(v: &mut Value) -> Result<&mut ZSet> {
    match v {
        Value::ZSet(z) => Ok(z),
        _ => Err(Error::WrongType),
    }
}

/// Read lookup (counts a hit or miss): the set, `None` if missing, WRONGTYPE otherwise.
fn read<'a>(a: &'a mut Access<'_>, key: &[u8]) -> Result<Option<&'a ZSet>> {
    a.get(key).map(|e| as_zset(&e.value)).transpose()
}

/// Write lookup (no statistics).
fn write<'a>(a: &'a mut Access<'_>, key: &[u8]) -> Result<Option<&'a mut ZSet>> {
    a.get_mut(key)
        .map(|e| as_zset_mut(&mut e.value))
        .transpose()
}

/// After a write that removed `removed` elements: deletes the key if the set is now empty,
/// and records the change.
fn after_removal(a: &mut Access<'_>, key: &[u8], removed: usize, event: Event) {
    if removed == 0 {
        return;
    }
    let empty = a
        .get_mut(key)
        .is_some_and(|e| matches!(&e.value, Value::ZSet(z) if z.is_empty()));
    if empty {
        a.remove(key);
    }
    a.touched(key);
    a.notify(event, key);
    if empty {
        a.notify(Event::Del, key);
    }
}

/// Stores `entries` (in set order, distinct members) at `dst` as the *STORE commands do:
/// replaces whatever is there (dropping its TTL), or deletes `dst` if there is nothing to
/// store. Returns the stored length.
fn store(
    a: &mut Access<'_>,
    limits: &Limits,
    dst: &[u8],
    entries: &[(Vec<u8>, f64)],
    event: Event,
) -> i64 {
    if entries.is_empty() {
        if a.remove(dst).is_some() {
            a.touched(dst);
            a.notify(Event::Del, dst);
        }
        return 0;
    }
    a.set(dst, Value::from(ZSet::from_sorted(entries, limits)));
    a.touched(dst);
    a.notify(event, dst);
    entries.len() as i64
}

fn owned(entries: impl Iterator<Item = (impl AsRef<[u8]>, f64)>) -> Vec<(Bytes, f64)> {
    entries
        .map(|(m, s)| (Bytes::copy_from_slice(m.as_ref()), s))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Replies

/// Members, with their scores when asked: flat in RESP2, [member, score] pairs in RESP3.
fn scored_reply(items: Vec<(Bytes, f64)>, withscores: bool, resp3: bool) -> Reply {
    if !withscores {
        return Reply::Array(items.into_iter().map(|(m, _)| Reply::Bulk(m)).collect());
    }
    if resp3 {
        return Reply::Array(
            items
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                .collect(),
        );
    }
    let mut out = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        out.push(Reply::Bulk(m));
        out.push(Reply::Double(s));
    }
    Reply::Array(out)
}

fn opt_double(s: Option<f64>) -> Reply {
    s.map_or(Reply::Nil, Reply::Double)
}

fn resp3(ctx: &Ctx<'_, '_>) -> bool {
    ctx.client.resp >= 3
}

// ---------------------------------------------------------------------------------------
// Argument helpers

/// `getRangeLongFromObjectOrReply` with a message: `msg` for a non-integer or out of range.
fn long_in(arg: &[u8], min: i64, max: i64, msg: Error) -> Result<i64> {
    match num::parse_i64(arg) {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(msg),
    }
}

/// `getPositiveLongFromObjectOrReply` (0 allowed).
fn positive(arg: &[u8], msg: Error) -> Result<i64> {
    long_in(arg, 0, i64::MAX, msg)
}

fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange> {
    ScoreRange::parse(min, max).ok_or(error::MIN_MAX_NOT_FLOAT)
}

fn lex_range(min: &[u8], max: &[u8]) -> Result<LexRange> {
    LexRange::parse(min, max).ok_or(error::MIN_MAX_NOT_LEX)
}

// ---------------------------------------------------------------------------------------
// ZADD, ZINCRBY

/// ZADD's options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZAddOptions {
    /// Only add new members.
    pub nx: bool,
    /// Only update existing members.
    pub xx: bool,
    /// Only update existing members to a greater score (new members are added).
    pub gt: bool,
    /// Only update existing members to a lesser score (new members are added).
    pub lt: bool,
    /// Count changed members too, not only added ones.
    pub ch: bool,
    /// The score is an increment; one pair only; the reply is the new score.
    pub incr: bool,
}

impl ZAddOptions {
    /// Redis's checks, in its order, for `pairs` score/member pairs.
    fn validate(&self, pairs: usize) -> Result<()> {
        if pairs == 0 {
            return Err(Error::Syntax);
        }
        if self.nx && self.xx {
            return Err(error::XX_AND_NX);
        }
        if (self.nx && (self.gt || self.lt)) || (self.gt && self.lt) {
            return Err(error::GT_LT_NX);
        }
        if self.incr && pairs > 1 {
            return Err(error::INCR_SINGLE_PAIR);
        }
        Ok(())
    }
}

/// What ZADD replies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ZAddReply {
    /// Added members (plus changed ones with CH).
    Count(i64),
    /// With INCR: the new score, `None` when NX/XX/GT/LT prevented the change.
    Score(Option<f64>),
}

/// ZADD: adds or updates `pairs` of (score, member) at `key`.
pub fn zadd_exec<M: AsRef<[u8]>>(
    a: &mut Access<'_>,
    limits: &Limits,
    key: &[u8],
    opts: &ZAddOptions,
    pairs: &[(f64, M)],
) -> Result<ZAddReply> {
    opts.validate(pairs.len())?;
    let nothing = if opts.incr {
        ZAddReply::Score(None)
    } else {
        ZAddReply::Count(0)
    };
    if write(a, key)?.is_none() {
        if opts.xx {
            return Ok(nothing);
        }
        let first = pairs[0].1.as_ref().len();
        a.set(key, Value::from(ZSet::for_first_member(first, limits)));
    }
    let Some(z) = write(a, key)? else {
        return Ok(nothing);
    };
    let flags = AddFlags {
        nx: opts.nx,
        xx: opts.xx,
        gt: opts.gt,
        lt: opts.lt,
        incr: opts.incr,
    };
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut score = 0.0;
    let mut nan = false;
    for (s, m) in pairs {
        match z.add(*s, m.as_ref(), flags, limits) {
            AddOutcome::Added(x) => {
                added += 1;
                processed += 1;
                score = x;
            }
            AddOutcome::Updated(x) => {
                updated += 1;
                processed += 1;
                score = x;
            }
            AddOutcome::Unchanged(x) => {
                processed += 1;
                score = x;
            }
            AddOutcome::Skipped => {}
            AddOutcome::NotANumber => {
                nan = true;
                break;
            }
        }
    }
    if added + updated > 0 {
        a.touched(key);
        // Also after a NaN stopped the loop midway, as in Redis.
        a.notify(if opts.incr { Event::ZIncr } else { Event::ZAdd }, key);
    }
    if nan {
        return Err(error::SCORE_IS_NAN);
    }
    Ok(if opts.incr {
        ZAddReply::Score((processed > 0).then_some(score))
    } else if opts.ch {
        ZAddReply::Count(added + updated)
    } else {
        ZAddReply::Count(added)
    })
}

fn zadd_generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], incr: bool) -> Result<Reply> {
    let key = &args[1];
    let mut opts = ZAddOptions {
        incr,
        ..ZAddOptions::default()
    };
    let mut i = 2;
    while let Some(a) = args.get(i) {
        match () {
            _ if is(a, "nx") => opts.nx = true,
            _ if is(a, "xx") => opts.xx = true,
            _ if is(a, "ch") => opts.ch = true,
            _ if is(a, "incr") => opts.incr = true,
            _ if is(a, "gt") => opts.gt = true,
            _ if is(a, "lt") => opts.lt = true,
            _ => break,
        }
        i += 1;
    }
    let rest = &args[i..];
    if rest.len() % 2 != 0 {
        return Err(Error::Syntax);
    }
    opts.validate(rest.len() / 2)?;
    let pairs = rest
        .chunks_exact(2)
        .map(|p| Ok((args::float(&p[0])?, &p[1][..])))
        .collect::<Result<Vec<_>>>()?;
    let limits = limits(ctx.engine());
    let r = ctx.key(key, |a| zadd_exec(a, &limits, key, &opts, &pairs))?;
    Ok(match r {
        ZAddReply::Count(n) => Reply::Int(n),
        ZAddReply::Score(s) => opt_double(s),
    })
}

fn zadd(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    zadd_generic(ctx, args, false)
}

fn zincrby(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    zadd_generic(ctx, args, true)
}

// ---------------------------------------------------------------------------------------
// ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK, ZCOUNT, ZLEXCOUNT

/// ZREM: removes `members`; how many were there.
pub fn zrem_exec<M: AsRef<[u8]>>(a: &mut Access<'_>, key: &[u8], members: &[M]) -> Result<i64> {
    let Some(z) = write(a, key)? else {
        return Ok(0);
    };
    let mut n = 0;
    for m in members {
        if z.remove(m.as_ref()) {
            n += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    after_removal(a, key, n, Event::ZRem);
    Ok(n as i64)
}

fn zrem(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    ctx.key(key, |a| zrem_exec(a, key, &args[2..]))
        .map(Reply::Int)
}

/// ZCARD: number of members (0 for a missing key).
pub fn zcard_exec(a: &mut Access<'_>, key: &[u8]) -> Result<i64> {
    Ok(read(a, key)?.map_or(0, |z| z.len() as i64))
}

fn zcard(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    ctx.key(key, |a| zcard_exec(a, key)).map(Reply::Int)
}

/// ZSCORE: the score of `member`.
pub fn zscore_exec(a: &mut Access<'_>, key: &[u8], member: &[u8]) -> Result<Option<f64>> {
    Ok(read(a, key)?.and_then(|z| z.score(member)))
}

fn zscore(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (key, member) = (&args[1], &args[2]);
    ctx.key(key, |a| zscore_exec(a, key, member))
        .map(opt_double)
}

/// ZMSCORE: the score of each member.
pub fn zmscore_exec<M: AsRef<[u8]>>(
    a: &mut Access<'_>,
    key: &[u8],
    members: &[M],
) -> Result<Vec<Option<f64>>> {
    let z = read(a, key)?;
    Ok(members
        .iter()
        .map(|m| z.and_then(|z| z.score(m.as_ref())))
        .collect())
}

fn zmscore(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let scores = ctx.key(key, |a| zmscore_exec(a, key, &args[2..]))?;
    Ok(Reply::Array(scores.into_iter().map(opt_double).collect()))
}

/// ZRANK (`rev` false) / ZREVRANK: 0-based rank of `member`.
pub fn zrank_exec(a: &mut Access<'_>, key: &[u8], member: &[u8], rev: bool) -> Result<Option<i64>> {
    let Some(z) = read(a, key)? else {
        return Ok(None);
    };
    Ok(z.rank(member).map(|r| {
        if rev {
            (z.len() - 1 - r) as i64
        } else {
            r as i64
        }
    }))
}

fn zrank_generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], rev: bool) -> Result<Reply> {
    let (key, member) = (&args[1], &args[2]);
    let r = ctx.key(key, |a| zrank_exec(a, key, member, rev))?;
    Ok(r.map_or(Reply::Nil, Reply::Int))
}

fn zrank(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    zrank_generic(ctx, args, false)
}

fn zrevrank(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    zrank_generic(ctx, args, true)
}

/// ZCOUNT: members with a score in `range`.
pub fn zcount_exec(a: &mut Access<'_>, key: &[u8], range: &ScoreRange) -> Result<i64> {
    Ok(read(a, key)?.map_or(0, |z| z.count_in(range)))
}

fn zcount(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let range = score_range(&args[2], &args[3])?;
    ctx.key(key, |a| zcount_exec(a, key, &range))
        .map(Reply::Int)
}

/// ZLEXCOUNT: members in the lexicographic `range`.
pub fn zlexcount_exec(a: &mut Access<'_>, key: &[u8], range: &LexRange) -> Result<i64> {
    Ok(read(a, key)?.map_or(0, |z| z.count_in(range)))
}

fn zlexcount(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let range = lex_range(&args[2], &args[3])?;
    ctx.key(key, |a| zlexcount_exec(a, key, &range))
        .map(Reply::Int)
}

// ---------------------------------------------------------------------------------------
// ZRANGE and friends

/// How a ZRANGE selects elements.
#[derive(Debug, Clone, PartialEq)]
pub enum ZRangeBy {
    /// By 0-based rank, both ends inclusive; negative counts from the end.
    Rank(i64, i64),
    /// By score.
    Score(ScoreRange),
    /// By member bytes (all scores equal).
    Lex(LexRange),
}

/// A ZRANGE query: what to select, in which direction, which slice of it.
///
/// ```
/// use embedis::cmd::zset::ZRange;
/// use embedis::types::zset::ScoreRange;
/// let top3 = ZRange::rank(0, 2).rev();
/// let page = ZRange::score(ScoreRange::inclusive(10.0, 20.0)).limit(20, 10);
/// # let _ = (top3, page);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ZRange {
    /// The selection.
    pub by: ZRangeBy,
    /// Highest first. For score and lex ranges the range itself is unchanged (min is still
    /// the low end); only the order of the result is.
    pub rev: bool,
    /// Elements of the selection to skip (BYSCORE/BYLEX only; negative: nothing returned).
    pub offset: i64,
    /// Most elements returned (negative: all).
    pub count: i64,
}

impl ZRange {
    fn new(by: ZRangeBy) -> Self {
        ZRange {
            by,
            rev: false,
            offset: 0,
            count: -1,
        }
    }

    /// By rank, `start` and `stop` inclusive, negative from the end (`0, -1`: everything).
    pub fn rank(start: i64, stop: i64) -> Self {
        Self::new(ZRangeBy::Rank(start, stop))
    }

    /// By score.
    pub fn score(range: ScoreRange) -> Self {
        Self::new(ZRangeBy::Score(range))
    }

    /// By member bytes.
    pub fn lex(range: LexRange) -> Self {
        Self::new(ZRangeBy::Lex(range))
    }

    /// Highest first.
    pub fn rev(mut self) -> Self {
        self.rev = true;
        self
    }

    /// LIMIT offset count (score and lex ranges).
    pub fn limit(mut self, offset: i64, count: i64) -> Self {
        self.offset = offset;
        self.count = count;
        self
    }
}

/// The elements `q` selects from `z`, in reply order (Redis's `genericZrangeby*Command`).
fn select<'z>(z: &'z ZSet, q: &ZRange) -> Vec<(&'z [u8], f64)> {
    let len = z.len() as i64;
    match &q.by {
        ZRangeBy::Rank(start, end) => {
            let mut start = if *start < 0 { len + start } else { *start };
            let mut end = if *end < 0 { len + end } else { *end };
            if start < 0 {
                start = 0;
            }
            if start > end || start >= len {
                return Vec::new();
            }
            if end >= len {
                end = len - 1;
            }
            let n = (end - start + 1) as usize;
            let from = if q.rev { len - 1 - start } else { start };
            z.iter_from(from as usize, q.rev).take(n).collect()
        }
        ZRangeBy::Score(r) => select_range(z, r, q),
        ZRangeBy::Lex(r) => select_range(z, r, q),
    }
}

fn select_range<'z>(z: &'z ZSet, r: &impl RangeSpec, q: &ZRange) -> Vec<(&'z [u8], f64)> {
    let len = z.len() as i64;
    // A negative offset makes Redis skip to the end of the set: nothing.
    if q.offset < 0 || (q.offset > 0 && q.offset >= len) {
        return Vec::new();
    }
    let first = if q.rev { z.last_in(r) } else { z.first_in(r) };
    let Some(first) = first else {
        return Vec::new();
    };
    let start = if q.rev {
        first as i64 - q.offset
    } else {
        first as i64 + q.offset
    };
    if start < 0 || start >= len {
        return Vec::new();
    }
    let count = usize::try_from(q.count).unwrap_or(usize::MAX);
    z.iter_from(start as usize, q.rev)
        .take_while(|(m, s)| {
            if q.rev {
                r.gte_min(*s, m)
            } else {
                r.lte_max(*s, m)
            }
        })
        .take(count)
        .collect()
}

/// ZRANGE (and ZRANGEBYSCORE, ZREVRANGE...): the selected members with their scores.
pub fn zrange_exec(a: &mut Access<'_>, key: &[u8], q: &ZRange) -> Result<Vec<(Bytes, f64)>> {
    let Some(z) = read(a, key)? else {
        return Ok(Vec::new());
    };
    Ok(owned(select(z, q).into_iter()))
}

/// ZRANGESTORE: stores the selection from `src` at `dst`; returns its length.
pub fn zrangestore_exec(
    a: &mut Access<'_>,
    limits: &Limits,
    dst: &[u8],
    src: &[u8],
    q: &ZRange,
) -> Result<i64> {
    // Built the way Redis builds it: a listpack unless a rank range is known to be larger,
    // then one add per element in reply order. The order matters: a -0 score added while
    // the set is still a listpack becomes 0, as in Redis.
    let built = match read(a, src)? {
        None => None,
        Some(z) => {
            let items = select(z, q);
            let hint = match q.by {
                ZRangeBy::Rank(..) => items.len() as i64,
                _ => -1,
            };
            let mut out = ZSet::for_result(hint, limits);
            for (m, s) in &items {
                out.set(*s, m, limits);
            }
            (!out.is_empty()).then_some(out)
        }
    };
    let Some(out) = built else {
        return Ok(store(a, limits, dst, &[], Event::ZRangeStore));
    };
    let n = out.len() as i64;
    a.set(dst, Value::from(out));
    a.touched(dst);
    a.notify(Event::ZRangeStore, dst);
    Ok(n)
}

#[derive(Clone, Copy, PartialEq)]
enum RangeKind {
    Auto,
    Rank,
    Score,
    Lex,
}

/// The shared parser of ZRANGE, ZRANGESTORE, ZRANGEBYSCORE, ZREVRANGE... (Redis's
/// `zrangeGenericCommand`): `key_at` is the source key's position; `kind`/`rev` are fixed
/// by the command name or `Auto`/`None` for ZRANGE's options.
fn zrange_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &[Bytes],
    key_at: usize,
    store_to: Option<&Bytes>,
    mut kind: RangeKind,
    mut rev: Option<bool>,
) -> Result<Reply> {
    let key = &args[key_at];
    let (mut withscores, mut offset, mut count) = (false, 0i64, -1i64);
    let mut j = key_at + 3;
    while j < args.len() {
        let a = &args[j];
        let left = args.len() - j - 1;
        if store_to.is_none() && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            offset = args::int(&args[j + 1])?;
            count = args::int(&args[j + 2])?;
            j += 2;
        } else if rev.is_none() && is(a, "rev") {
            rev = Some(true);
        } else if kind == RangeKind::Auto && is(a, "bylex") {
            kind = RangeKind::Lex;
        } else if kind == RangeKind::Auto && is(a, "byscore") {
            kind = RangeKind::Score;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if kind == RangeKind::Auto {
        kind = RangeKind::Rank;
    }
    if count != -1 && kind == RangeKind::Rank {
        return Err(error::LIMIT_NEEDS_BY);
    }
    if withscores && kind == RangeKind::Lex {
        return Err(error::WITHSCORES_BYLEX);
    }
    let (mut lo, mut hi) = (&args[key_at + 1], &args[key_at + 2]);
    if rev && kind != RangeKind::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let by = match kind {
        RangeKind::Score => ZRangeBy::Score(score_range(lo, hi)?),
        RangeKind::Lex => ZRangeBy::Lex(lex_range(lo, hi)?),
        _ => ZRangeBy::Rank(args::int(lo)?, args::int(hi)?),
    };
    let q = ZRange {
        by,
        rev,
        offset,
        count,
    };
    match store_to {
        Some(dst) => {
            let limits = limits(ctx.engine());
            ctx.all(|a| zrangestore_exec(a, &limits, dst, key, &q))
                .map(Reply::Int)
        }
        None => {
            let items = ctx.key(key, |a| zrange_exec(a, key, &q))?;
            Ok(scored_reply(items, withscores, resp3(ctx)))
        }
    }
}

fn zrange(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    zrange_generic(ctx, args, 1, None, RangeKind::Auto, None)
}

fn zrangestore(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    zrange_generic(ctx, args, 2, Some(&args[1]), RangeKind::Auto, None)
}

fn zrevrange(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    zrange_generic(ctx, args, 1, None, RangeKind::Rank, Some(true))
}

fn zrangebyscore(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    zrange_generic(ctx, args, 1, None, RangeKind::Score, Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    zrange_generic(ctx, args, 1, None, RangeKind::Score, Some(true))
}

fn zrangebylex(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    zrange_generic(ctx, args, 1, None, RangeKind::Lex, Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    zrange_generic(ctx, args, 1, None, RangeKind::Lex, Some(true))
}

// ---------------------------------------------------------------------------------------
// ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX

/// What a ZREMRANGEBY* command removes.
#[derive(Debug, Clone, PartialEq)]
pub enum ZRemRange {
    /// 0-based ranks, inclusive, negative from the end.
    Rank(i64, i64),
    /// A score range.
    Score(ScoreRange),
    /// A lexicographic range.
    Lex(LexRange),
}

/// ZREMRANGEBYRANK/SCORE/LEX: removes the selected members; how many.
pub fn zremrange_exec(a: &mut Access<'_>, key: &[u8], range: &ZRemRange) -> Result<i64> {
    let Some(z) = write(a, key)? else {
        return Ok(0);
    };
    let n = match range {
        ZRemRange::Rank(start, end) => {
            let len = z.len() as i64;
            let start = if *start < 0 { len + start } else { *start }.max(0);
            let end = if *end < 0 { len + end } else { *end };
            if start > end || start >= len {
                0
            } else {
                z.remove_rank_range(start as usize, end.min(len - 1) as usize)
            }
        }
        ZRemRange::Score(r) => z.remove_in(r),
        ZRemRange::Lex(r) => z.remove_in(r),
    };
    let event = match range {
        ZRemRange::Rank(..) => Event::ZRemRangeByRank,
        ZRemRange::Score(_) => Event::ZRemRangeByScore,
        ZRemRange::Lex(_) => Event::ZRemRangeByLex,
    };
    after_removal(a, key, n, event);
    Ok(n as i64)
}

fn zremrange_generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], range: ZRemRange) -> Result<Reply> {
    let key = &args[1];
    ctx.key(key, |a| zremrange_exec(a, key, &range))
        .map(Reply::Int)
}

fn zremrangebyrank(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let range = ZRemRange::Rank(args::int(&args[2])?, args::int(&args[3])?);
    zremrange_generic(ctx, args, range)
}

fn zremrangebyscore(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let range = ZRemRange::Score(score_range(&args[2], &args[3])?);
    zremrange_generic(ctx, args, range)
}

fn zremrangebylex(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let range = ZRemRange::Lex(lex_range(&args[2], &args[3])?);
    zremrange_generic(ctx, args, range)
}

// ---------------------------------------------------------------------------------------
// ZPOPMIN, ZPOPMAX, ZMPOP

/// The first existing key of `keys` and up to `count` elements popped from it, lowest
/// first (`max` false) or highest first; `None` if no key exists. A key is deleted when
/// emptied. ZPOPMIN/ZPOPMAX pass one key, ZMPOP several; BZPOPMIN/BZPOPMAX/BZMPOP will call
/// this with the key that became ready.
pub fn zpop_exec<K: AsRef<[u8]>>(
    a: &mut Access<'_>,
    keys: &[K],
    max: bool,
    count: usize,
) -> Result<Option<(Bytes, Vec<(Bytes, f64)>)>> {
    let mut found = None;
    for k in keys {
        if write(a, k.as_ref())?.is_some() {
            found = Some(k.as_ref());
            break;
        }
    }
    let Some(key) = found else {
        return Ok(None);
    };
    let mut popped = Vec::new();
    if let Some(z) = write(a, key)? {
        for _ in 0..count.min(z.len()) {
            match z.pop(max) {
                Some((m, s)) => popped.push((Bytes::from(m), s)),
                None => break,
            }
        }
    }
    let event = if max { Event::ZPopMax } else { Event::ZPopMin };
    after_removal(a, key, popped.len(), event);
    Ok(Some((Bytes::copy_from_slice(key), popped)))
}

fn zpop_generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], max: bool) -> Result<Reply> {
    if args.len() > 3 {
        return Err(Error::Syntax);
    }
    let count = match args.get(2) {
        Some(c) => Some(positive(c, error::MUST_BE_POSITIVE)?),
        None => None,
    };
    let key = &args[1];
    let n = count.unwrap_or(1) as usize;
    let popped = ctx.key(key, |a| zpop_exec(a, &[key], max, n))?;
    let items = popped.map(|(_, items)| items).unwrap_or_default();
    // With a count, RESP3 nests [member, score] pairs; without, the reply stays flat.
    Ok(scored_reply(items, true, count.is_some() && resp3(ctx)))
}

fn zpopmin(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    zpop_generic(ctx, args, false)
}

fn zpopmax(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    zpop_generic(ctx, args, true)
}

/// The reply of ZMPOP (and BZMPOP): `[key, [[member, score], ...]]`, or a null array.
pub fn zmpop_reply(popped: Option<(Bytes, Vec<(Bytes, f64)>)>) -> Reply {
    match popped {
        None => Reply::NilArray,
        Some((key, items)) => Reply::Array(vec![Reply::Bulk(key), scored_reply(items, true, true)]),
    }
}

/// Parses ZMPOP's `numkeys key... MIN|MAX [COUNT count]` from `args[at]` on (BZMPOP has
/// its timeout first): the keys, whether MAX, the count.
pub fn parse_zmpop(args: &[Bytes], at: usize) -> Result<(&[Bytes], bool, usize)> {
    let numkeys = long_in(&args[at], 1, i64::MAX, error::NUMKEYS_NOT_POSITIVE)? as u64;
    let first = at + 1;
    if numkeys >= (args.len() - first) as u64 {
        return Err(Error::Syntax);
    }
    let where_at = first + numkeys as usize;
    let max = match &args[where_at] {
        w if is(w, "min") => false,
        w if is(w, "max") => true,
        _ => return Err(Error::Syntax),
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && is(&args[j], "count") && j + 1 < args.len() {
            j += 1;
            count = Some(long_in(&args[j], 1, i64::MAX, error::COUNT_NOT_POSITIVE)?);
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    Ok((&args[first..where_at], max, count.unwrap_or(1) as usize))
}

fn zmpop(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (keys, max, count) = parse_zmpop(args, 1)?;
    let popped = match keys {
        [one] => ctx.key(one, |a| zpop_exec(a, keys, max, count))?,
        _ => ctx.all(|a| zpop_exec(a, keys, max, count))?,
    };
    Ok(zmpop_reply(popped))
}

// ---------------------------------------------------------------------------------------
// ZRANDMEMBER

/// ZRANDMEMBER without a count: one random member.
pub fn zrandmember_exec(
    a: &mut Access<'_>,
    key: &[u8],
    rng: &mut impl Rng,
) -> Result<Option<Bytes>> {
    let Some(z) = read(a, key)?.filter(|z| !z.is_empty()) else {
        return Ok(None);
    };
    let r = rng.random_range(0..z.len());
    Ok(z.get(r).map(|(m, _)| Bytes::copy_from_slice(m)))
}

/// ZRANDMEMBER with a count: up to `count` distinct members, or with a negative count
/// exactly `-count` members that may repeat. Orders follow Redis where Redis's order is
/// defined (a count covering the whole set returns it highest first).
pub fn zrandmember_count_exec(
    a: &mut Access<'_>,
    key: &[u8],
    count: i64,
    rng: &mut impl Rng,
) -> Result<Vec<(Bytes, f64)>> {
    let Some(z) = read(a, key)?.filter(|z| !z.is_empty()) else {
        return Ok(Vec::new());
    };
    let size = z.len();
    if count == 0 {
        return Ok(Vec::new());
    }
    if count < 0 {
        let n = count.unsigned_abs();
        if n > RANDMEMBER_MAX_COUNT {
            return Err(error::VALUE_OUT_OF_RANGE);
        }
        return Ok(owned(
            (0..n).filter_map(|_| z.get(rng.random_range(0..size))),
        ));
    }
    let count = count as u64;
    if count == 1 {
        return Ok(owned(z.get(rng.random_range(0..size)).into_iter()));
    }
    if count >= size as u64 {
        return Ok(owned(z.iter_from(size - 1, true)));
    }
    let count = count as usize;
    let ranks: Vec<usize> = if count * 3 > size {
        // Most of the set: shuffle the first `count` of all ranks (Redis copies the set and
        // deletes random members until `count` are left).
        let mut all: Vec<usize> = (0..size).collect();
        for i in 0..count {
            let j = rng.random_range(i..size);
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        // Few of many: draw until `count` distinct ones.
        let mut seen = std::collections::HashSet::with_capacity(count);
        let mut picks = Vec::with_capacity(count);
        while picks.len() < count {
            let r = rng.random_range(0..size);
            if seen.insert(r) {
                picks.push(r);
            }
        }
        if z.is_listpack() {
            // Redis samples a listpack in order.
            picks.sort_unstable();
        }
        picks
    };
    Ok(owned(ranks.into_iter().filter_map(|r| z.get(r))))
}

fn zrandmember(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let mut rng = SmallRng::seed_from_u64(ctx.engine().random_u64());
    let Some(count) = args.get(2) else {
        let m = ctx.key(key, |a| zrandmember_exec(a, key, &mut rng))?;
        return Ok(Reply::from(m));
    };
    let count = match num::parse_i64(count) {
        None => return Err(Error::NotInteger),
        Some(i64::MIN) => return Err(error::VALUE_NOT_IN_LONG_RANGE),
        Some(n) => n,
    };
    let withscores = match args.len() {
        3 => false,
        4 if is(&args[3], "withscores") => true,
        _ => return Err(Error::Syntax),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(error::VALUE_OUT_OF_RANGE);
    }
    let items = ctx.key(key, |a| zrandmember_count_exec(a, key, count, &mut rng))?;
    Ok(scored_reply(items, withscores, resp3(ctx)))
}

// ---------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD

/// How ZUNION/ZINTER combine the scores of a member found in several sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Aggregate {
    /// Add them (NaN from `inf + -inf` becomes 0, as in Redis).
    #[default]
    Sum,
    /// Keep the lowest.
    Min,
    /// Keep the highest.
    Max,
}

/// WEIGHTS and AGGREGATE of ZUNION/ZINTER (ZDIFF takes neither).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SetOpOptions {
    /// One weight per key (all 1 when `None`); each score is multiplied by its key's weight
    /// (`inf * 0` gives 0, as in Redis).
    pub weights: Option<Vec<f64>>,
    /// How scores are combined.
    pub aggregate: Aggregate,
}

/// Which set operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    /// Members of any input.
    Union,
    /// Members of every input.
    Inter,
    /// Members of the first input and of no other.
    Diff,
}

impl SetOp {
    /// The keyspace event of the *STORE form.
    fn store_event(self) -> Event {
        match self {
            SetOp::Union => Event::ZUnionStore,
            SetOp::Inter => Event::ZInterStore,
            SetOp::Diff => Event::ZDiffStore,
        }
    }
}

/// An input of a set operation. (Plain sets are valid inputs too, every member with score
/// 1: a `Set` source belongs here once the set type exists.)
enum Source<'a> {
    Missing,
    ZSet(&'a ZSet),
    /// A plain set: every member scores 1, as in Redis. `members` is its members' text
    /// (an intset keeps integers, not text).
    Set {
        set: &'a Set,
        members: &'a [Vec<u8>],
    },
}

impl Source<'_> {
    fn len(&self) -> usize {
        match self {
            Source::Missing => 0,
            Source::ZSet(z) => z.len(),
            Source::Set { set, .. } => set.len(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::ZSet(z) => z.score(member),
            Source::Set { set, .. } => set.contains(member).then_some(1.0),
        }
    }

    fn for_each<'s>(&'s self, mut f: impl FnMut(&'s [u8], f64)) {
        match self {
            Source::Missing => {}
            Source::ZSet(z) => {
                for (m, s) in z.iter() {
                    f(m, s);
                }
            }
            Source::Set { members, .. } => {
                for m in members.iter() {
                    f(m, 1.0);
                }
            }
        }
    }
}

/// The text of the members of every plain set among `entries` (empty for other entries), for
/// [`Source::Set`].
fn set_members(entries: &[Option<&Entry>]) -> Vec<Vec<Vec<u8>>> {
    entries
        .iter()
        .map(|e| match e.map(|e| &e.value) {
            Some(Value::Set(s)) => s.iter().map(|m| m.to_bytes().into_owned()).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The inputs of a set operation: sorted sets, and plain sets whose members score 1 (Redis's
/// `zsetConvert`-free path in `zunionInterDiffGenericCommand`); WRONGTYPE for anything else.
fn sources<'a>(
    entries: &[Option<&'a Entry>],
    set_members: &'a [Vec<Vec<u8>>],
) -> Result<Vec<Source<'a>>> {
    entries
        .iter()
        .zip(set_members)
        .map(|(e, members)| match e {
            None => Ok(Source::Missing),
            Some(e) => match &e.value {
                Value::ZSet(z) => Ok(Source::ZSet(z)),
                Value::Set(set) => Ok(Source::Set { set, members }),
                _ => Err(Error::WrongType),
            },
        })
        .collect()
}

/// `zunionInterAggregate`.
#[inline]
fn aggregate(target: &mut f64, val: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += val;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// A score times a weight, 0 where that is NaN (`inf * 0`).
#[inline]
fn weighted(score: f64, weight: f64) -> f64 {
    let v = score * weight;
    if v.is_nan() { 0.0 } else { v }
}

/// What a set operation computes: the elements (sorted) or only their number.
enum SetOpOut<'a> {
    Elements(Vec<(&'a [u8], f64)>),
    Cardinality(i64),
}

/// Redis's `zunionInterDiffGenericCommand` on looked-up sources. `card_limit`:
/// `Some(limit)` for ZINTERCARD (0: no limit).
fn compute<'a>(
    op: SetOp,
    srcs: &'a [Source<'a>],
    opts: &SetOpOptions,
    card_limit: Option<u64>,
) -> SetOpOut<'a> {
    let weight = |i: usize| {
        opts.weights
            .as_ref()
            .and_then(|w| w.get(i))
            .copied()
            .unwrap_or(1.0)
    };
    // Union and intersection visit the inputs smallest first, which decides the order in
    // which scores are summed (and so the last bits of a sum).
    let mut order: Vec<usize> = (0..srcs.len()).collect();
    if op != SetOp::Diff {
        order.sort_by_key(|&i| srcs[i].len());
    }
    let mut out: Vec<(&[u8], f64)> = Vec::new();
    match op {
        SetOp::Inter => {
            let (first, rest) = order.split_first().expect("at least one input key");
            let mut card: u64 = 0;
            let mut done = false;
            srcs[*first].for_each(|m, s| {
                if done {
                    return;
                }
                let mut score = weighted(s, weight(*first));
                for &j in rest {
                    match srcs[j].score(m) {
                        Some(v) => aggregate(&mut score, v * weight(j), opts.aggregate),
                        None => return,
                    }
                }
                match card_limit {
                    Some(limit) => {
                        card += 1;
                        if limit != 0 && card >= limit {
                            done = true;
                        }
                    }
                    None => out.push((m, score)),
                }
            });
            if card_limit.is_some() {
                return SetOpOut::Cardinality(card as i64);
            }
        }
        SetOp::Union => {
            let mut acc: hashbrown::HashMap<&[u8], f64, foldhash::fast::RandomState> =
                hashbrown::HashMap::default();
            for &i in &order {
                let w = weight(i);
                srcs[i].for_each(|m, s| {
                    let v = weighted(s, w);
                    acc.entry(m)
                        .and_modify(|t| aggregate(t, v, opts.aggregate))
                        .or_insert(v);
                });
            }
            out = acc.into_iter().collect();
        }
        SetOp::Diff => {
            srcs[0].for_each(|m, s| {
                if !srcs[1..].iter().any(|o| o.score(m).is_some()) {
                    out.push((m, s));
                }
            });
        }
    }
    out.sort_by(|(m1, s1), (m2, s2)| cmp_entry(*s1, m1, *s2, m2));
    SetOpOut::Elements(out)
}

/// Runs a set operation; `opts` is a parse result that, like in Redis, only counts once
/// every key passed the type check.
fn setop<R>(
    a: &mut Access<'_>,
    op: SetOp,
    keys: &[impl AsRef<[u8]>],
    opts: Result<&SetOpOptions>,
    card_limit: Option<u64>,
    finish: impl FnOnce(SetOpOut<'_>) -> R,
) -> Result<R> {
    let entries = a.get_many(keys);
    // A wrong type is refused before any set is read.
    if entries
        .iter()
        .flatten()
        .any(|e| !matches!(e.value, Value::ZSet(_) | Value::Set(_)))
    {
        return Err(Error::WrongType);
    }
    let members = set_members(&entries);
    let srcs = sources(&entries, &members)?;
    let opts = opts?;
    Ok(finish(compute(op, &srcs, opts, card_limit)))
}

fn elements(out: SetOpOut<'_>) -> Vec<(&[u8], f64)> {
    match out {
        SetOpOut::Elements(v) => v,
        SetOpOut::Cardinality(_) => Vec::new(),
    }
}

fn setop_read(
    a: &mut Access<'_>,
    op: SetOp,
    keys: &[impl AsRef<[u8]>],
    opts: Result<&SetOpOptions>,
) -> Result<Vec<(Bytes, f64)>> {
    setop(a, op, keys, opts, None, |out| {
        owned(elements(out).into_iter())
    })
}

fn setop_store(
    a: &mut Access<'_>,
    limits: &Limits,
    dst: &[u8],
    op: SetOp,
    keys: &[impl AsRef<[u8]>],
    opts: Result<&SetOpOptions>,
) -> Result<i64> {
    let entries: Vec<(Vec<u8>, f64)> = setop(a, op, keys, opts, None, |out| {
        elements(out)
            .into_iter()
            .map(|(m, s)| (m.to_vec(), s))
            .collect()
    })?;
    Ok(store(a, limits, dst, &entries, op.store_event()))
}

/// ZUNION / ZINTER / ZDIFF: the resulting members with scores, in set order.
pub fn zsetop_exec<K: AsRef<[u8]>>(
    a: &mut Access<'_>,
    op: SetOp,
    keys: &[K],
    opts: &SetOpOptions,
) -> Result<Vec<(Bytes, f64)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    setop_read(a, op, keys, Ok(opts))
}

/// ZUNIONSTORE / ZINTERSTORE / ZDIFFSTORE: stores the result at `dst`; its length.
pub fn zsetop_store_exec<K: AsRef<[u8]>>(
    a: &mut Access<'_>,
    limits: &Limits,
    dst: &[u8],
    op: SetOp,
    keys: &[K],
    opts: &SetOpOptions,
) -> Result<i64> {
    if keys.is_empty() {
        return Ok(store(a, limits, dst, &[], op.store_event()));
    }
    setop_store(a, limits, dst, op, keys, Ok(opts))
}

/// ZINTERCARD: the size of the intersection, counting stops at `limit` (0: no limit).
pub fn zintercard_exec<K: AsRef<[u8]>>(a: &mut Access<'_>, keys: &[K], limit: u64) -> Result<i64> {
    if keys.is_empty() {
        return Ok(0);
    }
    let opts = SetOpOptions::default();
    setop(
        a,
        SetOp::Inter,
        keys,
        Ok(&opts),
        Some(limit),
        |out| match out {
            SetOpOut::Cardinality(n) => n,
            SetOpOut::Elements(v) => v.len() as i64,
        },
    )
}

/// Options after the keys of a set operation.
struct SetOpArgs {
    opts: SetOpOptions,
    withscores: bool,
    limit: u64,
}

/// Parses `numkeys key... [options]` from `args[at]` on: the keys, and the options as a
/// result (raised only after the type check, like Redis).
fn parse_setop(
    args: &[Bytes],
    at: usize,
    op: SetOp,
    store: bool,
    card: bool,
) -> Result<(&[Bytes], Result<SetOpArgs>)> {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let setnum = args::int(&args[at])?;
    if setnum < 1 {
        return Err(Error::no_input_keys(&name));
    }
    let first = at + 1;
    if setnum as u64 > (args.len() - first) as u64 {
        return Err(Error::Syntax);
    }
    let setnum = setnum as usize;
    let keys = &args[first..first + setnum];
    let parse = || -> Result<SetOpArgs> {
        let mut out = SetOpArgs {
            opts: SetOpOptions::default(),
            withscores: false,
            limit: 0,
        };
        let mut j = first + setnum;
        while j < args.len() {
            let remaining = args.len() - j;
            let a = &args[j];
            if op != SetOp::Diff && !card && remaining > setnum && is(a, "weights") {
                let w = args[j + 1..j + 1 + setnum]
                    .iter()
                    .map(|x| num::parse_f64(x).ok_or(error::WEIGHT_NOT_FLOAT))
                    .collect::<Result<Vec<_>>>()?;
                out.opts.weights = Some(w);
                j += 1 + setnum;
            } else if op != SetOp::Diff && !card && remaining >= 2 && is(a, "aggregate") {
                let v = &args[j + 1];
                out.opts.aggregate = match () {
                    _ if is(v, "sum") => Aggregate::Sum,
                    _ if is(v, "min") => Aggregate::Min,
                    _ if is(v, "max") => Aggregate::Max,
                    _ => return Err(Error::Syntax),
                };
                j += 2;
            } else if !store && !card && is(a, "withscores") {
                out.withscores = true;
                j += 1;
            } else if card && remaining >= 2 && is(a, "limit") {
                out.limit = positive(&args[j + 1], error::LIMIT_NEGATIVE)? as u64;
                j += 2;
            } else {
                return Err(Error::Syntax);
            }
        }
        Ok(out)
    };
    Ok((keys, parse()))
}

fn setop_cmd(ctx: &mut Ctx<'_, '_>, args: &[Bytes], op: SetOp) -> Result<Reply> {
    let (keys, parsed) = parse_setop(args, 1, op, false, false)?;
    let withscores = parsed.as_ref().is_ok_and(|p| p.withscores);
    let opts = parsed.as_ref().map(|p| &p.opts).map_err(Clone::clone);
    let items = ctx.all(|a| setop_read(a, op, keys, opts))?;
    Ok(scored_reply(items, withscores, resp3(ctx)))
}

fn setop_store_cmd(ctx: &mut Ctx<'_, '_>, args: &[Bytes], op: SetOp) -> Result<Reply> {
    let dst = &args[1];
    let (keys, parsed) = parse_setop(args, 2, op, true, false)?;
    let opts = parsed.as_ref().map(|p| &p.opts).map_err(Clone::clone);
    let limits = limits(ctx.engine());
    ctx.all(|a| setop_store(a, &limits, dst, op, keys, opts))
        .map(Reply::Int)
}

fn zunion(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    setop_cmd(ctx, args, SetOp::Union)
}

fn zinter(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    setop_cmd(ctx, args, SetOp::Inter)
}

fn zdiff(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    setop_cmd(ctx, args, SetOp::Diff)
}

fn zunionstore(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    setop_store_cmd(ctx, args, SetOp::Union)
}

fn zinterstore(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    setop_store_cmd(ctx, args, SetOp::Inter)
}

fn zdiffstore(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    setop_store_cmd(ctx, args, SetOp::Diff)
}

fn zintercard(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (keys, parsed) = parse_setop(args, 1, SetOp::Inter, false, true)?;
    let limit = parsed.as_ref().map_or(0, |p| p.limit);
    let opts = parsed.as_ref().map(|p| &p.opts).map_err(Clone::clone);
    ctx.all(|a| {
        setop(a, SetOp::Inter, keys, opts, Some(limit), |out| match out {
            SetOpOut::Cardinality(n) => n,
            SetOpOut::Elements(v) => v.len() as i64,
        })
    })
    .map(Reply::Int)
}

// ---------------------------------------------------------------------------------------
// ZSCAN

/// ZSCAN's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    /// MATCH pattern (glob).
    pub pattern: Option<Vec<u8>>,
    /// COUNT hint (default 10).
    pub count: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            pattern: None,
            count: 10,
        }
    }
}

/// A score as ZSCAN shows it: a listpack reports the string Redis stored (an integer for
/// integral scores within ±2^62, `%.17g` otherwise); a skiplist formats with `%.17g`.
fn scan_score(score: f64, listpack: bool) -> Vec<u8> {
    const LIMIT: f64 = 4_611_686_018_427_387_904.0; // LLONG_MAX / 2 as a double
    if listpack && score.fract() == 0.0 && (-LIMIT..=LIMIT).contains(&score) {
        return itoa::Buffer::new().format(score as i64).as_bytes().to_vec();
    }
    num::fmt_f64_17g(score).into_bytes()
}

/// ZSCAN: the next cursor and the (member, score text) pairs of this step.
pub fn zscan_exec(
    a: &mut Access<'_>,
    key: &[u8],
    cursor: u64,
    opts: &ScanOptions,
) -> Result<(u64, Vec<(Bytes, Bytes)>)> {
    zscan_run(a, key, cursor, Ok(opts))
}

fn zscan_run(
    a: &mut Access<'_>,
    key: &[u8],
    cursor: u64,
    opts: Result<&ScanOptions>,
) -> Result<(u64, Vec<(Bytes, Bytes)>)> {
    let Some(z) = read(a, key)? else {
        return Ok((0, Vec::new()));
    };
    let opts = opts?;
    let listpack = z.is_listpack();
    let mut out = Vec::new();
    let next = z.scan(cursor, opts.count, |m, s| {
        let keep = match &opts.pattern {
            Some(p) => crate::glob::matches(p, m, false),
            None => true,
        };
        if keep {
            out.push((
                Bytes::copy_from_slice(m),
                Bytes::from(scan_score(s, listpack)),
            ));
        }
    });
    Ok((next, out))
}

fn parse_scan_options(args: &[Bytes]) -> Result<ScanOptions> {
    let mut opts = ScanOptions::default();
    let mut i = 0;
    while i < args.len() {
        let more = args.len() - i >= 2;
        if more && is(&args[i], "count") {
            let n = args::int(&args[i + 1])?;
            if n < 1 {
                return Err(Error::Syntax);
            }
            opts.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if more && is(&args[i], "match") {
            let p = &args[i + 1];
            // `*` matches everything: skip the matching, as Redis does.
            opts.pattern = (&p[..] != b"*").then(|| p.to_vec());
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    Ok(opts)
}

fn zscan(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let cursor = num::parse_cursor(&args[2]).ok_or(error::INVALID_CURSOR)?;
    let opts = parse_scan_options(&args[3..]);
    let (next, items) = ctx.key(key, |a| {
        zscan_run(a, key, cursor, opts.as_ref().map_err(Clone::clone))
    })?;
    let mut flat = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        flat.push(Reply::Bulk(m));
        flat.push(Reply::Bulk(s));
    }
    Ok(Reply::Array(vec![
        Reply::Bulk(Bytes::copy_from_slice(
            itoa::Buffer::new().format(next).as_bytes(),
        )),
        Reply::Array(flat),
    ]))
}

#[cfg(test)]
mod tests;
