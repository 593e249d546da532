//! Hash commands: HSET, HGET, HGETALL, HINCRBY, HRANDFIELD, HSCAN and the rest of the `hash`
//! group, with Redis 7.0's replies, errors and encodings.

use bytes::Bytes;
use rand::RngCore;

use super::aggregate::{self, ScanOptions};
use super::flags::*;
use super::{CommandSpec, Ctx, args};
use crate::db::Engine;
use crate::error::{self, Error, Result};
use crate::keyspace::{Access, Value};
use crate::num::LongDouble;
use crate::pubsub::Event;
use crate::reply::Reply;
use crate::types::hash::{Hash, HashLimits};

/// The hash family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, WRITE | DENYOOM | FAST, hset).keys(1, 1, 1),
    CommandSpec::new("hmset", -4, WRITE | DENYOOM | FAST, hset).keys(1, 1, 1),
    CommandSpec::new("hsetnx", 4, WRITE | DENYOOM | FAST, hsetnx).keys(1, 1, 1),
    CommandSpec::new("hget", 3, READONLY | FAST, hget).keys(1, 1, 1),
    CommandSpec::new("hmget", -3, READONLY | FAST, hmget).keys(1, 1, 1),
    CommandSpec::new("hgetall", 2, READONLY, hgetall).keys(1, 1, 1),
    CommandSpec::new("hdel", -3, WRITE | FAST, hdel).keys(1, 1, 1),
    CommandSpec::new("hexists", 3, READONLY | FAST, hexists).keys(1, 1, 1),
    CommandSpec::new("hlen", 2, READONLY | FAST, hlen).keys(1, 1, 1),
    CommandSpec::new("hstrlen", 3, READONLY | FAST, hstrlen).keys(1, 1, 1),
    CommandSpec::new("hincrby", 4, WRITE | DENYOOM | FAST, hincrby).keys(1, 1, 1),
    CommandSpec::new("hincrbyfloat", 4, WRITE | DENYOOM | FAST, hincrbyfloat).keys(1, 1, 1),
    CommandSpec::new("hkeys", 2, READONLY, hkeys).keys(1, 1, 1),
    CommandSpec::new("hvals", 2, READONLY, hvals).keys(1, 1, 1),
    CommandSpec::new("hrandfield", -2, READONLY, hrandfield).keys(1, 1, 1),
    CommandSpec::new("hscan", -3, READONLY, hscan).keys(1, 1, 1),
];

/// The configured bounds of the compact (listpack) encoding.
pub fn limits(engine: &Engine) -> HashLimits {
    engine.config.read(|c| HashLimits {
        max_listpack_entries: usize::try_from(c.hash_max_listpack_entries).unwrap_or(usize::MAX),
        max_listpack_value: usize::try_from(c.hash_max_listpack_value).unwrap_or(usize::MAX),
    })
}

/// The hash at `key` for reading: `None` if missing, WRONGTYPE if another type.
fn read<'a>(a: &'a mut Access<'_>, key: &[u8]) -> Result<Option<&'a Hash>> {
    match a.get(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Hash(h) => Ok(Some(h)),
            _ => Err(Error::WrongType),
        },
    }
}

/// The hash at `key` for writing: `None` if missing, WRONGTYPE if another type.
fn write<'a>(a: &'a mut Access<'_>, key: &[u8]) -> Result<Option<&'a mut Hash>> {
    match a.get_mut(key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Hash(h) => Ok(Some(h)),
            _ => Err(Error::WrongType),
        },
    }
}

/// The hash at `key` for writing, created empty if missing (Redis's
/// `hashTypeLookupWriteOrCreate`); callers always add a field before returning.
fn write_or_create<'a>(a: &'a mut Access<'_>, key: &[u8]) -> Result<&'a mut Hash> {
    if write(a, key)?.is_none() {
        a.set(key, Value::Hash(Box::default()));
    }
    match write(a, key)? {
        Some(h) => Ok(h),
        None => unreachable!("created above"),
    }
}

fn bytes(b: &[u8]) -> Bytes {
    Bytes::copy_from_slice(b)
}

/// HSET: sets fields; returns how many were new.
pub fn hset_exec<'f>(
    a: &mut Access<'_>,
    limits: &HashLimits,
    key: &[u8],
    pairs: impl IntoIterator<Item = (&'f [u8], &'f [u8])>,
) -> Result<i64> {
    let hasher = aggregate::member_hasher(a);
    let h = write_or_create(a, key)?;
    let mut created = 0;
    for (f, v) in pairs {
        created += h.insert_limited(f, v, hasher, limits) as i64;
    }
    a.touched(key);
    a.notify(Event::HSet, key);
    Ok(created)
}

fn hset(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    if args.len() % 2 == 1 {
        return Err(Error::wrong_arity(&String::from_utf8_lossy(&args[0])));
    }
    let key = &args[1];
    let pairs = args[2..].chunks_exact(2).map(|p| (&p[0][..], &p[1][..]));
    let limits = limits(ctx.engine());
    let created = ctx.key(key, |a| hset_exec(a, &limits, key, pairs))?;
    // HMSET is HSET with the old reply.
    if args[0].eq_ignore_ascii_case(b"hmset") {
        Ok(Reply::Ok)
    } else {
        Ok(Reply::Int(created))
    }
}

/// HSETNX: sets `field` only if it does not exist; true if it was set.
pub fn hsetnx_exec(
    a: &mut Access<'_>,
    limits: &HashLimits,
    key: &[u8],
    field: &[u8],
    value: &[u8],
) -> Result<bool> {
    let hasher = aggregate::member_hasher(a);
    let h = write_or_create(a, key)?;
    if h.contains(field) {
        return Ok(false);
    }
    h.insert_limited(field, value, hasher, limits);
    a.touched(key);
    a.notify(Event::HSet, key);
    Ok(true)
}

fn hsetnx(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (key, field, value) = (&args[1], &args[2], &args[3]);
    let limits = limits(ctx.engine());
    ctx.key(key, |a| hsetnx_exec(a, &limits, key, field, value))
        .map(Reply::from)
}

/// HGET: the value of `field`.
pub fn hget_exec(a: &mut Access<'_>, key: &[u8], field: &[u8]) -> Result<Option<Bytes>> {
    Ok(read(a, key)?.and_then(|h| h.get(field)).map(bytes))
}

fn hget(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (key, field) = (&args[1], &args[2]);
    ctx.key(key, |a| hget_exec(a, key, field)).map(Reply::from)
}

/// HMGET: the values of `fields`, `None` for missing ones.
pub fn hmget_exec(
    a: &mut Access<'_>,
    key: &[u8],
    fields: &[impl AsRef<[u8]>],
) -> Result<Vec<Option<Bytes>>> {
    let h = read(a, key)?;
    Ok(fields
        .iter()
        .map(|f| h.and_then(|h| h.get(f.as_ref())).map(bytes))
        .collect())
}

fn hmget(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let values = ctx.key(key, |a| hmget_exec(a, key, &args[2..]))?;
    Ok(Reply::Array(values.into_iter().map(Reply::from).collect()))
}

/// HGETALL: every field and value (insertion order for a small hash).
pub fn hgetall_exec(a: &mut Access<'_>, key: &[u8]) -> Result<Vec<(Bytes, Bytes)>> {
    Ok(read(a, key)?
        .map(|h| h.iter().map(|(f, v)| (bytes(f), bytes(v))).collect())
        .unwrap_or_default())
}

fn hgetall(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let pairs = ctx.key(key, |a| hgetall_exec(a, key))?;
    Ok(Reply::Map(
        pairs
            .into_iter()
            .map(|(f, v)| (Reply::Bulk(f), Reply::Bulk(v)))
            .collect(),
    ))
}

/// HKEYS: every field.
pub fn hkeys_exec(a: &mut Access<'_>, key: &[u8]) -> Result<Vec<Bytes>> {
    Ok(read(a, key)?
        .map(|h| h.iter().map(|(f, _)| bytes(f)).collect())
        .unwrap_or_default())
}

fn hkeys(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    ctx.key(key, |a| hkeys_exec(a, key)).map(Reply::from)
}

/// HVALS: every value.
pub fn hvals_exec(a: &mut Access<'_>, key: &[u8]) -> Result<Vec<Bytes>> {
    Ok(read(a, key)?
        .map(|h| h.iter().map(|(_, v)| bytes(v)).collect())
        .unwrap_or_default())
}

fn hvals(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    ctx.key(key, |a| hvals_exec(a, key)).map(Reply::from)
}

/// HDEL: removes fields (the key goes with its last field); returns how many existed.
pub fn hdel_exec(a: &mut Access<'_>, key: &[u8], fields: &[impl AsRef<[u8]>]) -> Result<i64> {
    let Some(h) = write(a, key)? else {
        return Ok(0);
    };
    let mut deleted = 0;
    for f in fields {
        if h.remove(f.as_ref()) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    let emptied = h.is_empty();
    if emptied {
        a.remove(key);
    }
    if deleted > 0 {
        a.touched(key);
        a.notify(Event::HDel, key);
        if emptied {
            a.notify(Event::Del, key);
        }
    }
    Ok(deleted)
}

fn hdel(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    ctx.key(key, |a| hdel_exec(a, key, &args[2..]))
        .map(Reply::Int)
}

/// HEXISTS: whether `field` exists.
pub fn hexists_exec(a: &mut Access<'_>, key: &[u8], field: &[u8]) -> Result<bool> {
    Ok(read(a, key)?.is_some_and(|h| h.contains(field)))
}

fn hexists(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (key, field) = (&args[1], &args[2]);
    ctx.key(key, |a| hexists_exec(a, key, field))
        .map(Reply::from)
}

/// HLEN: number of fields.
pub fn hlen_exec(a: &mut Access<'_>, key: &[u8]) -> Result<i64> {
    Ok(read(a, key)?.map_or(0, |h| h.len() as i64))
}

fn hlen(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    ctx.key(key, |a| hlen_exec(a, key)).map(Reply::Int)
}

/// HSTRLEN: length of the value of `field` (0 if missing).
pub fn hstrlen_exec(a: &mut Access<'_>, key: &[u8], field: &[u8]) -> Result<i64> {
    Ok(read(a, key)?
        .and_then(|h| h.get(field))
        .map_or(0, |v| v.len() as i64))
}

fn hstrlen(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (key, field) = (&args[1], &args[2]);
    ctx.key(key, |a| hstrlen_exec(a, key, field))
        .map(Reply::Int)
}

/// HINCRBY: adds `incr` to the integer in `field` (0 if missing); returns the new value.
pub fn hincrby_exec(
    a: &mut Access<'_>,
    limits: &HashLimits,
    key: &[u8],
    field: &[u8],
    incr: i64,
) -> Result<i64> {
    let hasher = aggregate::member_hasher(a);
    let h = write_or_create(a, key)?;
    let current = match h.get(field) {
        Some(v) => crate::num::parse_i64(v).ok_or(error::HASH_VALUE_NOT_INTEGER)?,
        None => 0,
    };
    let new = current.checked_add(incr).ok_or(Error::Overflow)?;
    h.insert_limited(
        field,
        itoa::Buffer::new().format(new).as_bytes(),
        hasher,
        limits,
    );
    a.touched(key);
    a.notify(Event::HIncrBy, key);
    Ok(new)
}

fn hincrby(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (key, field) = (&args[1], &args[2]);
    let incr = args::int(&args[3])?;
    let limits = limits(ctx.engine());
    ctx.key(key, |a| hincrby_exec(a, &limits, key, field, incr))
        .map(Reply::Int)
}

/// Adds `incr` to the field's current text in 80-bit `long double` arithmetic, as Redis
/// does (the same arithmetic as INCRBYFLOAT), returning the new text.
fn incr_by_float(current: Option<&[u8]>, incr: LongDouble) -> Result<Vec<u8>> {
    let value = match current {
        Some(v) => LongDouble::parse(v).ok_or(error::HASH_VALUE_NOT_FLOAT)?,
        None => LongDouble::ZERO,
    };
    let sum = value
        .checked_add(incr)
        .filter(LongDouble::is_finite)
        .ok_or(error::NAN_OR_INFINITY)?;
    Ok(sum.to_human_string().into_bytes())
}

/// HINCRBYFLOAT: adds the float `incr` (given as text) to the number in `field` (0 if
/// missing); returns the new value as stored.
pub fn hincrbyfloat_exec(
    a: &mut Access<'_>,
    limits: &HashLimits,
    key: &[u8],
    field: &[u8],
    incr: &[u8],
) -> Result<Bytes> {
    // The increment is checked before the key is looked at, as in Redis.
    let incr = LongDouble::parse(incr).ok_or(Error::NotFloat)?;
    if !incr.is_finite() {
        return Err(error::VALUE_NAN_OR_INFINITY);
    }
    let hasher = aggregate::member_hasher(a);
    let h = write_or_create(a, key)?;
    let new = incr_by_float(h.get(field), incr)?;
    h.insert_limited(field, &new, hasher, limits);
    a.touched(key);
    a.notify(Event::HIncrByFloat, key);
    Ok(Bytes::from(new))
}

fn hincrbyfloat(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (key, field, incr) = (&args[1], &args[2], &args[3]);
    let limits = limits(ctx.engine());
    ctx.key(key, |a| hincrbyfloat_exec(a, &limits, key, field, incr))
        .map(Reply::Bulk)
}

/// HRANDFIELD without a count: a random field, `None` if the key is missing.
pub fn hrandfield_one_exec(
    a: &mut Access<'_>,
    key: &[u8],
    rng: &mut impl RngCore,
) -> Result<Option<Bytes>> {
    Ok(read(a, key)?
        .and_then(|h| h.random(rng))
        .map(|(f, _)| bytes(f)))
}

/// HRANDFIELD with a count: up to `count` distinct random fields, or exactly `-count` fields
/// with repetitions when `count` is negative; each with its value when `with_values`.
/// A count covering the whole hash returns it in its own order, as Redis does.
pub fn hrandfield_exec(
    a: &mut Access<'_>,
    key: &[u8],
    count: i64,
    with_values: bool,
    rng: &mut impl RngCore,
) -> Result<Vec<(Bytes, Option<Bytes>)>> {
    let Some(h) = read(a, key)? else {
        return Ok(Vec::new());
    };
    let pair = |f: &[u8], v: &[u8]| (bytes(f), with_values.then(|| bytes(v)));
    let mut out = Vec::new();
    if count < 0 || count == 1 {
        let picks = count.unsigned_abs();
        aggregate::check_repeats(picks)?;
        out.reserve(picks as usize);
        h.random_with_repeats(picks as usize, rng, |f, v| out.push(pair(f, v)));
    } else {
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        out = h
            .random_distinct(count, rng)
            .into_iter()
            .map(|(f, v)| pair(f, v))
            .collect();
    }
    Ok(out)
}

fn hrandfield(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let mut rng = aggregate::rng(ctx);
    if args.len() == 2 {
        return ctx
            .key(key, |a| hrandfield_one_exec(a, key, &mut rng))
            .map(Reply::from);
    }
    let count = aggregate::random_count(&args[2])?;
    if args.len() > 4 || (args.len() == 4 && !args::is(&args[3], "withvalues")) {
        return Err(Error::Syntax);
    }
    let with_values = args.len() == 4;
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(error::VALUE_OUT_OF_RANGE);
    }
    let picked = ctx.key(key, |a| {
        hrandfield_exec(a, key, count, with_values, &mut rng)
    })?;
    let resp3 = ctx.client.resp >= 3;
    let mut items = Vec::with_capacity(picked.len() * if with_values { 2 } else { 1 });
    for (f, v) in picked {
        match v {
            // RESP3 nests each pair; RESP2 flattens them.
            Some(v) if resp3 => items.push(Reply::Array(vec![Reply::Bulk(f), Reply::Bulk(v)])),
            Some(v) => {
                items.push(Reply::Bulk(f));
                items.push(Reply::Bulk(v));
            }
            None => items.push(Reply::Bulk(f)),
        }
    }
    Ok(Reply::Array(items))
}

/// HSCAN: one step of an iteration over fields and values. Returns the next cursor (0 when
/// done) and the pairs that passed MATCH. A small (compact) hash comes back whole.
pub fn hscan_exec(
    a: &mut Access<'_>,
    key: &[u8],
    cursor: u64,
    opts: &ScanOptions,
) -> Result<(u64, Vec<(Bytes, Bytes)>)> {
    let Some(h) = read(a, key)? else {
        return Ok((0, Vec::new()));
    };
    let mut out = Vec::new();
    let next = h.scan(cursor, opts.count, |f, v| {
        if opts.matches(f) {
            out.push((bytes(f), bytes(v)));
        }
    });
    Ok((next, out))
}

fn hscan(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let cursor = aggregate::parse_cursor(&args[2])?;
    // Redis reads the options only once it found a hash: a missing key answers an empty scan
    // whatever follows, and a key of another type WRONGTYPE.
    let opts = aggregate::parse_scan_options(args, 3);
    let (next, pairs) = ctx.key(key, |a| match opts {
        Ok(opts) => hscan_exec(a, key, cursor, &opts),
        Err(e) => match read(a, key)? {
            None => Ok((0, Vec::new())),
            Some(_) => Err(e),
        },
    })?;
    let mut items = Vec::with_capacity(pairs.len() * 2);
    for (f, v) in pairs {
        items.push(Reply::Bulk(f));
        items.push(Reply::Bulk(v));
    }
    Ok(aggregate::scan_reply(next, items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use proptest::prelude::*;

    #[test]
    fn float_increments_use_long_double() {
        let f = |cur: Option<&str>, incr: &str| {
            incr_by_float(
                cur.map(str::as_bytes),
                LongDouble::parse(incr.as_bytes()).unwrap(),
            )
            .map(|v| String::from_utf8(v).unwrap())
        };
        assert_eq!(f(Some("10.5"), "0.1").unwrap(), "10.6");
        // Values checked against redis-server 7.0: long double keeps digits f64 loses.
        assert_eq!(f(Some("5.6"), "300").unwrap(), "305.60000000000000001");
        assert_eq!(f(Some("5"), "-5").unwrap(), "0");
        assert_eq!(f(Some("3"), "2.5").unwrap(), "5.5");
        assert_eq!(f(Some("abc"), "1"), Err(error::HASH_VALUE_NOT_FLOAT));
    }

    fn encoding(db: &Db, key: &str) -> Option<&'static str> {
        db.with_key(key.as_bytes(), |a| {
            a.peek(key.as_bytes()).map(|e| e.value.encoding())
        })
    }

    fn bulk(s: &str) -> Reply {
        Reply::bulk(s)
    }

    #[test]
    fn commands_through_call() {
        let db = Db::new();
        assert_eq!(db.call(["HSET", "h", "a", "1", "b", "2"]), Reply::Int(2));
        assert_eq!(db.call(["HMSET", "h", "a", "3"]), Reply::Ok);
        assert_eq!(
            db.call(["HGETALL", "h"]),
            Reply::Map(vec![(bulk("a"), bulk("3")), (bulk("b"), bulk("2"))])
        );
        assert_eq!(
            db.call(["HSET", "h", "a"]),
            Reply::Error(Error::wrong_arity("hset"))
        );
        assert_eq!(db.call(["HINCRBY", "h", "b", "40"]), Reply::Int(42));
        assert_eq!(db.call(["HINCRBYFLOAT", "h", "b", "0.5"]), bulk("42.5"));
        assert_eq!(
            db.call(["HINCRBY", "h", "b", "1"]),
            Reply::Error(error::HASH_VALUE_NOT_INTEGER)
        );
        assert_eq!(db.call(["HDEL", "h", "a", "b", "c"]), Reply::Int(2));
        assert_eq!(db.call(["EXISTS", "h"]), Reply::Int(0));
        db.call(["SET", "s", "x"]);
        assert_eq!(db.call(["HGET", "s", "f"]), Reply::Error(Error::WrongType));
        assert_eq!(db.call(["HSET", "h", "f", "v"]), Reply::Int(1));
        assert_eq!(db.call(["GET", "h"]), Reply::Error(Error::WrongType));
    }

    #[test]
    fn hrandfield_shapes_follow_the_protocol() {
        let db = Db::builder().seed(3).build();
        db.call(["HSET", "h", "a", "1", "b", "2"]);
        let mut s = db.session();
        s.state.authenticated = true;
        let args = |v: &[&str]| {
            v.iter()
                .map(|a| Bytes::from(a.to_string()))
                .collect::<Vec<_>>()
        };
        let flat = s.execute(&args(&["HRANDFIELD", "h", "-3", "WITHVALUES"]));
        assert!(matches!(&flat, Reply::Array(v) if v.len() == 6));
        s.state.resp = 3;
        let nested = s.execute(&args(&["HRANDFIELD", "h", "-3", "WITHVALUES"]));
        match nested {
            Reply::Array(v) => {
                assert_eq!(v.len(), 3);
                assert!(
                    v.iter()
                        .all(|p| matches!(p, Reply::Array(p) if p.len() == 2))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn huge_negative_counts_are_refused_only_when_there_is_something_to_pick() {
        let db = Db::new();
        assert_eq!(
            db.call(["HRANDFIELD", "nokey", "-9223372036854775807"]),
            Reply::Array(vec![])
        );
        db.call(["HSET", "h", "a", "1"]);
        assert_eq!(
            db.call(["HRANDFIELD", "h", "-9223372036854775807"]),
            Reply::Error(error::RANDOM_COUNT_TOO_LARGE)
        );
    }

    #[test]
    fn seeded_engines_pick_the_same_fields() {
        let picks = |seed| {
            let db = Db::builder().seed(seed).build();
            for i in 0..600 {
                db.call(["HSET", "h", &format!("f{i}"), "v"]);
            }
            db.call(["HRANDFIELD", "h", "-20"])
        };
        assert_eq!(picks(11), picks(11));
    }

    /// One step of the model test.
    #[derive(Debug, Clone)]
    enum Op {
        Set(usize, Vec<(usize, usize)>),
        SetNx(usize, usize, usize),
        Del(usize, Vec<usize>),
        IncrBy(usize, usize, i64),
        Get(usize, usize),
        MGet(usize, Vec<usize>),
        Len(usize),
        Exists(usize, usize),
        StrLen(usize, usize),
        GetAll(usize),
        Keys(usize),
        Vals(usize),
        RandField(usize, i64),
        Scan(usize, usize),
        /// HSET of fields `from..from+n` (crosses the listpack limit).
        Bulk(usize, usize, usize),
    }

    const KEYS: [&str; 3] = ["k0", "k1", "str"];
    const VALUES: [&str; 5] = [
        "v",
        "",
        "12",
        "-3",
        "a value that is longer than sixty-four bytes, so it needs a table",
    ];

    fn field(i: usize) -> String {
        format!("f{i}")
    }

    const LIMIT: usize = crate::types::hash::HASH_MAX_LISTPACK_ENTRIES;

    fn op() -> impl Strategy<Value = Op> {
        let key = 0..KEYS.len();
        let f = 0..6usize;
        let v = 0..VALUES.len();
        prop_oneof![
            (
                key.clone(),
                prop::collection::vec((f.clone(), v.clone()), 1..4)
            )
                .prop_map(|(k, p)| Op::Set(k, p)),
            (key.clone(), f.clone(), v).prop_map(|(k, f, v)| Op::SetNx(k, f, v)),
            (key.clone(), prop::collection::vec(f.clone(), 1..4)).prop_map(|(k, f)| Op::Del(k, f)),
            (key.clone(), f.clone(), -5i64..5).prop_map(|(k, f, n)| Op::IncrBy(k, f, n)),
            (key.clone(), f.clone()).prop_map(|(k, f)| Op::Get(k, f)),
            (key.clone(), prop::collection::vec(f.clone(), 1..4)).prop_map(|(k, f)| Op::MGet(k, f)),
            key.clone().prop_map(Op::Len),
            (key.clone(), f.clone()).prop_map(|(k, f)| Op::Exists(k, f)),
            (key.clone(), f).prop_map(|(k, f)| Op::StrLen(k, f)),
            key.clone().prop_map(Op::GetAll),
            key.clone().prop_map(Op::Keys),
            key.clone().prop_map(Op::Vals),
            (key.clone(), -8i64..8).prop_map(|(k, n)| Op::RandField(k, n)),
            (key.clone(), 1..50usize).prop_map(|(k, c)| Op::Scan(k, c)),
            (
                key,
                prop_oneof![Just(0usize), Just(6)],
                prop_oneof![Just(LIMIT - 6), Just(LIMIT), Just(LIMIT + 1), 1..LIMIT + 50],
            )
                .prop_map(|(k, from, n)| Op::Bulk(k, from, n)),
        ]
    }

    /// The reference: fields in insertion order, and the encoding Redis would report.
    #[derive(Debug, Default, Clone)]
    struct ModelHash {
        pairs: Vec<(String, String)>,
        table: bool,
    }

    impl ModelHash {
        fn get(&self, f: &str) -> Option<&String> {
            self.pairs.iter().find(|(k, _)| k == f).map(|(_, v)| v)
        }
        fn set(&mut self, f: &str, v: &str) -> bool {
            if f.len() > 64 || v.len() > 64 {
                self.table = true;
            }
            let new = match self.pairs.iter_mut().find(|(k, _)| k == f) {
                Some(p) => {
                    p.1 = v.to_string();
                    false
                }
                None => {
                    self.pairs.push((f.to_string(), v.to_string()));
                    true
                }
            };
            if self.pairs.len() > crate::types::hash::HASH_MAX_LISTPACK_ENTRIES {
                self.table = true;
            }
            new
        }
    }

    fn wrong(k: usize) -> bool {
        KEYS[k] == "str"
    }

    fn run(ops: Vec<Op>) {
        let db = Db::builder().seed(1).active_expiry(false).build();
        db.call(["SET", "str", "x"]);
        let mut model: std::collections::BTreeMap<usize, ModelHash> = Default::default();
        for op in ops {
            let key = |k: usize| KEYS[k];
            let (reply, expected): (Reply, Option<Reply>) = match &op {
                Op::Set(k, pairs) => {
                    let mut args = vec!["HSET".to_string(), key(*k).into()];
                    for (f, v) in pairs {
                        args.push(field(*f));
                        args.push(VALUES[*v].into());
                    }
                    let exp = if wrong(*k) {
                        Reply::Error(Error::WrongType)
                    } else {
                        let m = model.entry(*k).or_default();
                        Reply::Int(
                            pairs
                                .iter()
                                .filter(|(f, v)| m.set(&field(*f), VALUES[*v]))
                                .count() as i64,
                        )
                    };
                    (db.call(&args), Some(exp))
                }
                Op::Bulk(k, from, n) => {
                    let mut args = vec!["HSET".to_string(), key(*k).into()];
                    for i in *from..from + n {
                        args.push(field(i));
                        args.push("b".into());
                    }
                    let exp = if wrong(*k) {
                        Reply::Error(Error::WrongType)
                    } else {
                        let m = model.entry(*k).or_default();
                        Reply::Int(
                            (*from..from + n).filter(|i| m.set(&field(*i), "b")).count() as i64
                        )
                    };
                    (db.call(&args), Some(exp))
                }
                Op::SetNx(k, f, v) => {
                    let exp = if wrong(*k) {
                        Reply::Error(Error::WrongType)
                    } else {
                        let m = model.entry(*k).or_default();
                        if m.get(&field(*f)).is_some() {
                            Reply::Int(0)
                        } else {
                            m.set(&field(*f), VALUES[*v]);
                            Reply::Int(1)
                        }
                    };
                    (
                        db.call(["HSETNX", key(*k), &field(*f), VALUES[*v]]),
                        Some(exp),
                    )
                }
                Op::Del(k, fs) => {
                    let mut args = vec!["HDEL".to_string(), key(*k).into()];
                    args.extend(fs.iter().map(|f| field(*f)));
                    let exp = if wrong(*k) {
                        Reply::Error(Error::WrongType)
                    } else {
                        let mut n = 0;
                        if let Some(m) = model.get_mut(k) {
                            for f in fs {
                                let before = m.pairs.len();
                                m.pairs.retain(|(x, _)| *x != field(*f));
                                n += before - m.pairs.len();
                            }
                            if m.pairs.is_empty() {
                                model.remove(k);
                            }
                        }
                        Reply::Int(n as i64)
                    };
                    (db.call(&args), Some(exp))
                }
                Op::IncrBy(k, f, by) => {
                    let exp = if wrong(*k) {
                        Reply::Error(Error::WrongType)
                    } else {
                        let m = model.entry(*k).or_default();
                        let cur = m
                            .get(&field(*f))
                            .map(|v| crate::num::parse_i64(v.as_bytes()));
                        match cur {
                            None => {
                                m.set(&field(*f), &by.to_string());
                                Reply::Int(*by)
                            }
                            Some(Some(cur)) => {
                                m.set(&field(*f), &(cur + by).to_string());
                                Reply::Int(cur + by)
                            }
                            Some(None) => Reply::Error(error::HASH_VALUE_NOT_INTEGER),
                        }
                    };
                    if model.get(k).is_some_and(|m| m.pairs.is_empty()) {
                        model.remove(k);
                    }
                    (
                        db.call(["HINCRBY", key(*k), &field(*f), &by.to_string()]),
                        Some(exp),
                    )
                }
                Op::Get(k, f) => {
                    let exp = if wrong(*k) {
                        Reply::Error(Error::WrongType)
                    } else {
                        Reply::opt_bulk(model.get(k).and_then(|m| m.get(&field(*f))))
                    };
                    (db.call(["HGET", key(*k), &field(*f)]), Some(exp))
                }
                Op::MGet(k, fs) => {
                    let mut args = vec!["HMGET".to_string(), key(*k).into()];
                    args.extend(fs.iter().map(|f| field(*f)));
                    let exp = if wrong(*k) {
                        Reply::Error(Error::WrongType)
                    } else {
                        Reply::Array(
                            fs.iter()
                                .map(|f| {
                                    Reply::opt_bulk(model.get(k).and_then(|m| m.get(&field(*f))))
                                })
                                .collect(),
                        )
                    };
                    (db.call(&args), Some(exp))
                }
                Op::Len(k) => {
                    let exp = if wrong(*k) {
                        Reply::Error(Error::WrongType)
                    } else {
                        Reply::Int(model.get(k).map_or(0, |m| m.pairs.len() as i64))
                    };
                    (db.call(["HLEN", key(*k)]), Some(exp))
                }
                Op::Exists(k, f) => {
                    let exp = if wrong(*k) {
                        Reply::Error(Error::WrongType)
                    } else {
                        Reply::from(model.get(k).and_then(|m| m.get(&field(*f))).is_some())
                    };
                    (db.call(["HEXISTS", key(*k), &field(*f)]), Some(exp))
                }
                Op::StrLen(k, f) => {
                    let exp = if wrong(*k) {
                        Reply::Error(Error::WrongType)
                    } else {
                        Reply::Int(
                            model
                                .get(k)
                                .and_then(|m| m.get(&field(*f)))
                                .map_or(0, |v| v.len() as i64),
                        )
                    };
                    (db.call(["HSTRLEN", key(*k), &field(*f)]), Some(exp))
                }
                Op::GetAll(k) | Op::Keys(k) | Op::Vals(k) => {
                    let name = match op {
                        Op::GetAll(_) => "HGETALL",
                        Op::Keys(_) => "HKEYS",
                        _ => "HVALS",
                    };
                    let reply = db.call([name, key(*k)]);
                    if wrong(*k) {
                        (reply, Some(Reply::Error(Error::WrongType)))
                    } else {
                        let m = model.get(k).cloned().unwrap_or_default();
                        let mut pairs = m.pairs.clone();
                        let mut got: Vec<(Reply, Option<Reply>)> = match reply {
                            Reply::Map(v) => v.into_iter().map(|(a, b)| (a, Some(b))).collect(),
                            Reply::Array(v) => v.into_iter().map(|a| (a, None)).collect(),
                            other => panic!("{other:?}"),
                        };
                        let mut want: Vec<(Reply, Option<Reply>)> = pairs
                            .drain(..)
                            .map(|(f, v)| match name {
                                "HGETALL" => (bulk(&f), Some(bulk(&v))),
                                "HKEYS" => (bulk(&f), None),
                                _ => (bulk(&v), None),
                            })
                            .collect();
                        if m.table {
                            let key = |p: &(Reply, Option<Reply>)| format!("{p:?}");
                            got.sort_by_key(key);
                            want.sort_by_key(key);
                        }
                        assert_eq!(got, want, "{op:?}");
                        (Reply::Ok, None)
                    }
                }
                Op::RandField(k, n) => {
                    let reply = db.call(["HRANDFIELD", key(*k), &n.to_string()]);
                    if wrong(*k) {
                        (reply, Some(Reply::Error(Error::WrongType)))
                    } else {
                        let m = model.get(k).cloned().unwrap_or_default();
                        let Reply::Array(got) = reply else {
                            panic!("{reply:?}")
                        };
                        let want_len = if m.pairs.is_empty() {
                            0
                        } else if *n < 0 {
                            n.unsigned_abs() as usize
                        } else {
                            (*n as usize).min(m.pairs.len())
                        };
                        assert_eq!(got.len(), want_len, "{op:?}");
                        let fields: Vec<Reply> = m.pairs.iter().map(|(f, _)| bulk(f)).collect();
                        assert!(got.iter().all(|f| fields.contains(f)), "{op:?}");
                        if *n > 0 {
                            let distinct: std::collections::HashSet<String> =
                                got.iter().map(|f| format!("{f:?}")).collect();
                            assert_eq!(distinct.len(), got.len(), "{op:?}");
                        }
                        (Reply::Ok, None)
                    }
                }
                Op::Scan(k, count) => {
                    if wrong(*k) {
                        (
                            db.call(["HSCAN", key(*k), "0"]),
                            Some(Reply::Error(Error::WrongType)),
                        )
                    } else {
                        let mut cursor = "0".to_string();
                        let mut seen = std::collections::BTreeMap::new();
                        loop {
                            let r =
                                db.call(["HSCAN", key(*k), &cursor, "COUNT", &count.to_string()]);
                            let Reply::Array(parts) = r else {
                                panic!("{r:?}")
                            };
                            let [Reply::Bulk(c), Reply::Array(items)] = &parts[..] else {
                                panic!("{parts:?}")
                            };
                            for p in items.chunks(2) {
                                seen.insert(format!("{:?}", p[0]), format!("{:?}", p[1]));
                            }
                            cursor = String::from_utf8(c.to_vec()).unwrap();
                            if cursor == "0" {
                                break;
                            }
                        }
                        let want: std::collections::BTreeMap<String, String> = model
                            .get(k)
                            .map(|m| {
                                m.pairs
                                    .iter()
                                    .map(|(f, v)| {
                                        (format!("{:?}", bulk(f)), format!("{:?}", bulk(v)))
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        assert_eq!(seen, want, "{op:?}");
                        (Reply::Ok, None)
                    }
                }
            };
            if let Some(exp) = expected {
                assert_eq!(reply, exp, "{op:?}");
            }
            for (i, name) in KEYS.iter().enumerate() {
                if *name == "str" {
                    continue;
                }
                let want = model
                    .get(&i)
                    .map(|m| if m.table { "hashtable" } else { "listpack" });
                assert_eq!(encoding(&db, name), want, "encoding of {name} after {op:?}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn hashes_match_a_reference_model(ops in prop::collection::vec(op(), 1..40)) {
            run(ops);
        }
    }
}
