//! Set commands: SADD, SREM, SPOP, SRANDMEMBER, the set algebra (SINTER, SUNION, SDIFF and
//! their STORE forms, SINTERCARD), SSCAN and the rest of the `set` group, with Redis 7.0's
//! replies, errors and encodings.
//!
//! The set algebra follows Redis's algorithms step for step where the result's encoding or
//! order depends on them: results are built into a fresh intset (so few integers give an
//! `intset` whatever the sources were), SINTER walks the smallest set, SDIFF picks between
//! Redis's two algorithms with Redis's cost estimate, and SPOP of most of a set rebuilds the
//! rest as a new set.
//!
//! Multi-key commands need several sets at once, but the keyspace hands out one entry at a
//! time: the walked set's members are copied (only that one), then filtered set by set.

use bytes::Bytes;
use rand::RngCore;

use super::aggregate::{self, ScanOptions};
use super::flags::*;
use super::{CommandSpec, Ctx, args};
use crate::db::Engine;
use crate::error::{self, Error, Result};
use crate::keyspace::{Access, Value};
use crate::pubsub::Event;
use crate::reply::Reply;
use crate::types::bytetable::MemberHasher;
use crate::types::set::{Member, OwnedMember, Set, SetLimits};

/// The set family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sadd", -3, WRITE | DENYOOM | FAST, sadd).keys(1, 1, 1),
    CommandSpec::new("srem", -3, WRITE | FAST, srem).keys(1, 1, 1),
    CommandSpec::new("scard", 2, READONLY | FAST, scard).keys(1, 1, 1),
    CommandSpec::new("sismember", 3, READONLY | FAST, sismember).keys(1, 1, 1),
    CommandSpec::new("smismember", -3, READONLY | FAST, smismember).keys(1, 1, 1),
    CommandSpec::new("smembers", 2, READONLY, smembers).keys(1, 1, 1),
    CommandSpec::new("spop", -2, WRITE | FAST, spop).keys(1, 1, 1),
    CommandSpec::new("srandmember", -2, READONLY, srandmember).keys(1, 1, 1),
    CommandSpec::new("smove", 4, WRITE | FAST, smove).keys(1, 2, 1),
    CommandSpec::new("sdiff", -2, READONLY, sdiff).keys(1, -1, 1),
    CommandSpec::new("sdiffstore", -3, WRITE | DENYOOM, sdiffstore).keys(1, -1, 1),
    CommandSpec::new("sinter", -2, READONLY, sinter).keys(1, -1, 1),
    CommandSpec::new("sinterstore", -3, WRITE | DENYOOM, sinterstore).keys(1, -1, 1),
    CommandSpec::new("sintercard", -3, READONLY | MOVABLE_KEYS, sintercard),
    CommandSpec::new("sunion", -2, READONLY, sunion).keys(1, -1, 1),
    CommandSpec::new("sunionstore", -3, WRITE | DENYOOM, sunionstore).keys(1, -1, 1),
    CommandSpec::new("sscan", -3, READONLY, sscan).keys(1, 1, 1),
];

/// The set at `key` for reading: `None` if missing, WRONGTYPE if another type.
fn read<'a>(a: &'a mut Access<'_>, key: &[u8]) -> Result<Option<&'a Set>> {
    match a.get(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Set(s) => Ok(Some(s)),
            _ => Err(Error::WrongType),
        },
    }
}

/// The set at `key` for writing: `None` if missing, WRONGTYPE if another type.
fn write<'a>(a: &'a mut Access<'_>, key: &[u8]) -> Result<Option<&'a mut Set>> {
    match a.get_mut(key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Set(s) => Ok(Some(s)),
            _ => Err(Error::WrongType),
        },
    }
}

/// A set already looked up (and type-checked) by this command, without touching statistics.
fn peek<'a>(a: &'a mut Access<'_>, key: &[u8]) -> Option<&'a Set> {
    match &a.peek(key)?.value {
        Value::Set(s) => Some(s),
        _ => None,
    }
}

fn member_bytes(m: Member<'_>) -> Bytes {
    match m {
        Member::Int(n) => Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes()),
        Member::Bytes(b) => Bytes::copy_from_slice(b),
    }
}

fn members_reply(members: Vec<Bytes>) -> Reply {
    Reply::Set(members.into_iter().map(Reply::Bulk).collect())
}

/// The configured bound of the intset encoding (`set-max-intset-entries`).
pub fn limits(engine: &Engine) -> SetLimits {
    engine.config.read(|c| SetLimits {
        max_intset_entries: usize::try_from(c.set_max_intset_entries).unwrap_or(usize::MAX),
    })
}

/// SADD: adds members (creating the set); returns how many were new.
pub fn sadd_exec(
    a: &mut Access<'_>,
    limits: &SetLimits,
    key: &[u8],
    members: &[impl AsRef<[u8]>],
) -> Result<i64> {
    let Some(first) = members.first() else {
        return Ok(0);
    };
    let hasher = aggregate::member_hasher(a);
    if write(a, key)?.is_none() {
        a.set(key, Value::Set(Box::new(Set::for_member(first.as_ref()))));
    }
    let Some(set) = write(a, key)? else {
        return Ok(0);
    };
    let mut added = 0;
    for m in members {
        added += set.insert_limited(m.as_ref(), hasher, limits) as i64;
    }
    if added > 0 {
        a.touched(key);
        a.notify(Event::SAdd, key);
    }
    Ok(added)
}

fn sadd(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let l = limits(ctx.engine());
    ctx.key(key, |a| sadd_exec(a, &l, key, &args[2..]))
        .map(Reply::Int)
}

/// SREM: removes members (the key goes with its last member); returns how many existed.
pub fn srem_exec(a: &mut Access<'_>, key: &[u8], members: &[impl AsRef<[u8]>]) -> Result<i64> {
    let Some(set) = write(a, key)? else {
        return Ok(0);
    };
    let mut removed = 0;
    for m in members {
        if set.remove(m.as_ref()) {
            removed += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    let emptied = set.is_empty();
    if emptied {
        a.remove(key);
    }
    if removed > 0 {
        a.touched(key);
        a.notify(Event::SRem, key);
        if emptied {
            a.notify(Event::Del, key);
        }
    }
    Ok(removed)
}

fn srem(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    ctx.key(key, |a| srem_exec(a, key, &args[2..]))
        .map(Reply::Int)
}

/// SCARD: number of members.
pub fn scard_exec(a: &mut Access<'_>, key: &[u8]) -> Result<i64> {
    Ok(read(a, key)?.map_or(0, |s| s.len() as i64))
}

fn scard(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    ctx.key(key, |a| scard_exec(a, key)).map(Reply::Int)
}

/// SISMEMBER: whether `member` is in the set.
pub fn sismember_exec(a: &mut Access<'_>, key: &[u8], member: &[u8]) -> Result<bool> {
    Ok(read(a, key)?.is_some_and(|s| s.contains(member)))
}

fn sismember(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (key, member) = (&args[1], &args[2]);
    ctx.key(key, |a| sismember_exec(a, key, member))
        .map(Reply::from)
}

/// SMISMEMBER: for each member, whether it is in the set.
pub fn smismember_exec(
    a: &mut Access<'_>,
    key: &[u8],
    members: &[impl AsRef<[u8]>],
) -> Result<Vec<bool>> {
    let set = read(a, key)?;
    Ok(members
        .iter()
        .map(|m| set.is_some_and(|s| s.contains(m.as_ref())))
        .collect())
}

fn smismember(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let found = ctx.key(key, |a| smismember_exec(a, key, &args[2..]))?;
    Ok(Reply::Array(found.into_iter().map(Reply::from).collect()))
}

/// SMEMBERS: every member (ascending for an intset).
pub fn smembers_exec(a: &mut Access<'_>, key: &[u8]) -> Result<Vec<Bytes>> {
    Ok(read(a, key)?
        .map(|s| s.iter().map(member_bytes).collect())
        .unwrap_or_default())
}

fn smembers(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    ctx.key(key, |a| smembers_exec(a, key)).map(members_reply)
}

/// SPOP without a count: removes and returns a random member.
pub fn spop_one_exec(
    a: &mut Access<'_>,
    key: &[u8],
    rng: &mut impl RngCore,
) -> Result<Option<Bytes>> {
    let Some(set) = write(a, key)? else {
        return Ok(None);
    };
    let popped = set.pop_random(rng);
    let emptied = set.is_empty();
    if emptied {
        a.remove(key);
    }
    a.touched(key);
    a.notify(Event::SPop, key);
    if emptied {
        a.notify(Event::Del, key);
    }
    Ok(popped.map(|m| Bytes::from(m.into_vec())))
}

/// Where Redis's SPOP with a count switches from popping members one by one to rebuilding
/// the kept ones as a new set (`SPOP_MOVE_STRATEGY_MUL`).
const SPOP_MOVE_STRATEGY_MUL: u64 = 5;

/// SPOP with a count: removes and returns up to `count` random members.
pub fn spop_exec(
    a: &mut Access<'_>,
    limits: &SetLimits,
    key: &[u8],
    count: u64,
    rng: &mut impl RngCore,
) -> Result<Vec<Bytes>> {
    let hasher = aggregate::member_hasher(a);
    let Some(set) = write(a, key)? else {
        return Ok(Vec::new());
    };
    if count == 0 {
        return Ok(Vec::new());
    }
    let size = set.len() as u64;
    if count >= size {
        // Redis answers with SUNION of the set (hence an intset-built, sorted reply when the
        // members are few integers) and deletes the key.
        let mut all = Set::new_intset();
        for m in set.iter() {
            all.insert_member_limited(m, hasher, limits);
        }
        a.remove(key);
        a.touched(key);
        a.notify(Event::SPop, key);
        a.notify(Event::Del, key);
        return Ok(all.iter().map(member_bytes).collect());
    }
    let remaining = size - count;
    let popped = if remaining * SPOP_MOVE_STRATEGY_MUL > count {
        (0..count)
            .filter_map(|_| set.pop_random(rng))
            .map(|m| Bytes::from(m.into_vec()))
            .collect()
    } else {
        // Most of the set goes: move the few kept members to a new set (created for its first
        // member, like Redis's setTypeCreate) and return what is left of the old one.
        let mut kept: Option<Set> = None;
        for _ in 0..remaining {
            let Some(m) = set.pop_random(rng) else { break };
            kept.get_or_insert_with(|| Set::for_first(m.as_member()))
                .insert_member_limited(m.as_member(), hasher, limits);
        }
        let popped = set.iter().map(member_bytes).collect();
        if let Some(kept) = kept {
            *set = kept;
        }
        popped
    };
    a.touched(key);
    a.notify(Event::SPop, key);
    Ok(popped)
}

fn spop(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let mut rng = aggregate::rng(ctx);
    match args.len() {
        2 => ctx
            .key(key, |a| spop_one_exec(a, key, &mut rng))
            .map(Reply::from),
        3 => {
            let count = crate::num::parse_i64(&args[2])
                .and_then(|n| u64::try_from(n).ok())
                .ok_or(error::MUST_BE_POSITIVE)?;
            let l = limits(ctx.engine());
            ctx.key(key, |a| spop_exec(a, &l, key, count, &mut rng))
                .map(members_reply)
        }
        _ => Err(Error::Syntax),
    }
}

/// SRANDMEMBER without a count: a random member.
pub fn srandmember_one_exec(
    a: &mut Access<'_>,
    key: &[u8],
    rng: &mut impl RngCore,
) -> Result<Option<Bytes>> {
    Ok(read(a, key)?.and_then(|s| s.random(rng)).map(member_bytes))
}

/// SRANDMEMBER with a count: up to `count` distinct random members, or exactly `-count`
/// members with repetitions when `count` is negative. A count covering the whole set returns
/// it in its own order, as Redis does.
pub fn srandmember_exec(
    a: &mut Access<'_>,
    key: &[u8],
    count: i64,
    rng: &mut impl RngCore,
) -> Result<Vec<Bytes>> {
    let Some(set) = read(a, key)? else {
        return Ok(Vec::new());
    };
    if count == 0 {
        return Ok(Vec::new());
    }
    if count < 0 || count == 1 {
        let picks = count.unsigned_abs();
        aggregate::check_repeats(picks)?;
        let mut out = Vec::with_capacity(picks as usize);
        set.random_with_repeats(picks as usize, rng, |m| out.push(member_bytes(m)));
        return Ok(out);
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    Ok(set
        .random_distinct(count, rng)
        .into_iter()
        .map(member_bytes)
        .collect())
}

fn srandmember(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let mut rng = aggregate::rng(ctx);
    match args.len() {
        2 => ctx
            .key(key, |a| srandmember_one_exec(a, key, &mut rng))
            .map(Reply::from),
        3 => {
            let count = aggregate::random_count(&args[2])?;
            ctx.key(key, |a| srandmember_exec(a, key, count, &mut rng))
                .map(Reply::from)
        }
        _ => Err(Error::Syntax),
    }
}

/// SMOVE: moves `member` from `src` to `dst`; false if it was not in `src`.
pub fn smove_exec(
    a: &mut Access<'_>,
    limits: &SetLimits,
    src: &[u8],
    dst: &[u8],
    member: &[u8],
) -> Result<bool> {
    let hasher = aggregate::member_hasher(a);
    // A missing source answers 0 before the destination's type is looked at.
    if write(a, src)?.is_none() {
        return Ok(false);
    }
    write(a, dst)?;
    let Some(source) = write(a, src)? else {
        return Ok(false);
    };
    if src == dst {
        return Ok(source.contains(member));
    }
    if !source.remove(member) {
        return Ok(false);
    }
    let emptied = source.is_empty();
    if emptied {
        a.remove(src);
    }
    a.touched(src);
    a.notify(Event::SRem, src);
    if emptied {
        a.notify(Event::Del, src);
    }
    if write(a, dst)?.is_none() {
        a.set(dst, Value::Set(Box::new(Set::for_member(member))));
    }
    if let Some(target) = write(a, dst)? {
        if target.insert_limited(member, hasher, limits) {
            a.touched(dst);
            a.notify(Event::SAdd, dst);
        }
    }
    Ok(true)
}

fn smove(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    let l = limits(ctx.engine());
    aggregate::with_keys(ctx, &args[1..3], |a| smove_exec(a, &l, src, dst, member)).map(Reply::from)
}

/// Looks every key up once (counting hits and misses, like Redis's lookups): the size of
/// each set, `None` for a missing key, WRONGTYPE at the first key of another type.
fn lookup_sets(a: &mut Access<'_>, keys: &[impl AsRef<[u8]>]) -> Result<Vec<Option<usize>>> {
    keys.iter()
        .map(|k| Ok(read(a, k.as_ref())?.map(Set::len)))
        .collect()
}

/// The members of the intersection of `keys`, in the order of the smallest set (Redis's
/// SINTER walks it and probes the others). Empty when a key is missing.
fn intersection(a: &mut Access<'_>, keys: &[impl AsRef<[u8]>]) -> Result<Vec<OwnedMember>> {
    let sizes = lookup_sets(a, keys)?;
    if sizes.iter().any(Option::is_none) {
        return Ok(Vec::new());
    }
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| sizes[i]);
    let Some((&first, rest)) = order.split_first() else {
        return Ok(Vec::new());
    };
    let first_key = keys[first].as_ref();
    let Some(smallest) = peek(a, first_key) else {
        return Ok(Vec::new());
    };
    let mut members: Vec<OwnedMember> = smallest.iter().map(|m| m.to_owned()).collect();
    for &j in rest {
        if members.is_empty() {
            break;
        }
        let key = keys[j].as_ref();
        if key == first_key {
            continue;
        }
        match peek(a, key) {
            Some(s) => members.retain(|m| s.contains_member(m.as_member())),
            None => members.clear(),
        }
    }
    Ok(members)
}

/// The union of `keys`, built like Redis's into a fresh intset.
fn union(
    a: &mut Access<'_>,
    keys: &[impl AsRef<[u8]>],
    hasher: MemberHasher,
    limits: &SetLimits,
) -> Result<Set> {
    lookup_sets(a, keys)?;
    let mut out = Set::new_intset();
    for k in keys {
        if let Some(s) = peek(a, k.as_ref()) {
            for m in s.iter() {
                out.insert_member_limited(m, hasher, limits);
            }
        }
    }
    Ok(out)
}

/// The first set minus the others, built into a fresh intset with whichever of Redis's two
/// algorithms Redis would pick (the choice shows in the result's encoding: the second adds
/// the whole first set before removing).
fn difference(
    a: &mut Access<'_>,
    keys: &[impl AsRef<[u8]>],
    hasher: MemberHasher,
    limits: &SetLimits,
) -> Result<Set> {
    let sizes = lookup_sets(a, keys)?;
    let mut out = Set::new_intset();
    let (Some(first_key), Some(Some(size0))) = (keys.first(), sizes.first()) else {
        return Ok(out);
    };
    let first_key = first_key.as_ref();
    let others: Vec<usize> = (1..keys.len()).filter(|&j| sizes[j].is_some()).collect();
    if others.iter().any(|&j| keys[j].as_ref() == first_key) {
        return Ok(out); // A set minus itself.
    }
    let existing = others.len() + 1;
    let algo_one_work = size0.saturating_mul(existing) / 2;
    let algo_two_work: usize = sizes.iter().flatten().sum();
    if algo_one_work <= algo_two_work {
        // Keep the members of the first set that no other set has.
        let Some(s0) = peek(a, first_key) else {
            return Ok(out);
        };
        let mut members: Vec<OwnedMember> = s0.iter().map(|m| m.to_owned()).collect();
        for &j in &others {
            if let Some(s) = peek(a, keys[j].as_ref()) {
                members.retain(|m| !s.contains_member(m.as_member()));
            }
        }
        for m in &members {
            out.insert_member_limited(m.as_member(), hasher, limits);
        }
    } else {
        // Add the whole first set, then remove every member of the others.
        if let Some(s0) = peek(a, first_key) {
            for m in s0.iter() {
                out.insert_member_limited(m, hasher, limits);
            }
        }
        for &j in &others {
            if out.is_empty() {
                break;
            }
            if let Some(s) = peek(a, keys[j].as_ref()) {
                for m in s.iter() {
                    out.remove_member(m);
                }
            }
        }
    }
    Ok(out)
}

/// Stores a set-algebra result at `dst` (replacing any value and TTL), or deletes `dst` when
/// the result is empty; returns the result's size.
fn store(a: &mut Access<'_>, dst: &[u8], result: Set, event: Event) -> i64 {
    if result.is_empty() {
        if a.remove(dst).is_some() {
            a.touched(dst);
            a.notify(Event::Del, dst);
        }
        return 0;
    }
    let n = result.len() as i64;
    a.set(dst, Value::Set(Box::new(result)));
    a.touched(dst);
    a.notify(event, dst);
    n
}

/// SINTER: the members every set has.
pub fn sinter_exec(a: &mut Access<'_>, keys: &[impl AsRef<[u8]>]) -> Result<Vec<Bytes>> {
    Ok(intersection(a, keys)?
        .iter()
        .map(|m| member_bytes(m.as_member()))
        .collect())
}

fn sinter(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let keys = &args[1..];
    aggregate::with_keys(ctx, keys, |a| sinter_exec(a, keys)).map(members_reply)
}

/// SINTERSTORE: stores the intersection of `keys` at `dst`; returns its size.
pub fn sinterstore_exec(
    a: &mut Access<'_>,
    limits: &SetLimits,
    dst: &[u8],
    keys: &[impl AsRef<[u8]>],
) -> Result<i64> {
    let hasher = aggregate::member_hasher(a);
    let mut result = Set::new_intset();
    for m in intersection(a, keys)? {
        result.insert_member_limited(m.as_member(), hasher, limits);
    }
    Ok(store(a, dst, result, Event::SInterStore))
}

fn sinterstore(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (dst, keys) = (&args[1], &args[2..]);
    let l = limits(ctx.engine());
    aggregate::with_keys(ctx, &args[1..], |a| sinterstore_exec(a, &l, dst, keys)).map(Reply::Int)
}

/// SINTERCARD: the size of the intersection, counting at most `limit` (0: no limit).
pub fn sintercard_exec(a: &mut Access<'_>, keys: &[impl AsRef<[u8]>], limit: u64) -> Result<i64> {
    let n = intersection(a, keys)?.len() as u64;
    Ok(if limit > 0 { n.min(limit) } else { n } as i64)
}

fn sintercard(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let numkeys = crate::num::parse_i64(&args[1])
        .filter(|&n| n >= 1)
        .ok_or(error::NUMKEYS_NOT_POSITIVE)?;
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > args.len() - 2 {
        return Err(error::NUMKEYS_TOO_MANY);
    }
    let keys = &args[2..2 + numkeys];
    let mut limit = 0u64;
    let mut opts = args::Args::new(args, 2 + numkeys);
    while let Some(opt) = opts.next() {
        if args::is(opt, "limit") && opts.remaining() > 0 {
            limit = crate::num::parse_i64(opts.value()?)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or(error::LIMIT_NEGATIVE)?;
        } else {
            return Err(Error::Syntax);
        }
    }
    aggregate::with_keys(ctx, keys, |a| sintercard_exec(a, keys, limit)).map(Reply::Int)
}

/// SUNION: the members any set has.
pub fn sunion_exec(
    a: &mut Access<'_>,
    limits: &SetLimits,
    keys: &[impl AsRef<[u8]>],
) -> Result<Vec<Bytes>> {
    let hasher = aggregate::member_hasher(a);
    Ok(union(a, keys, hasher, limits)?
        .iter()
        .map(member_bytes)
        .collect())
}

fn sunion(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let keys = &args[1..];
    let l = limits(ctx.engine());
    aggregate::with_keys(ctx, keys, |a| sunion_exec(a, &l, keys)).map(members_reply)
}

/// SUNIONSTORE: stores the union of `keys` at `dst`; returns its size.
pub fn sunionstore_exec(
    a: &mut Access<'_>,
    limits: &SetLimits,
    dst: &[u8],
    keys: &[impl AsRef<[u8]>],
) -> Result<i64> {
    let hasher = aggregate::member_hasher(a);
    let result = union(a, keys, hasher, limits)?;
    Ok(store(a, dst, result, Event::SUnionStore))
}

fn sunionstore(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (dst, keys) = (&args[1], &args[2..]);
    let l = limits(ctx.engine());
    aggregate::with_keys(ctx, &args[1..], |a| sunionstore_exec(a, &l, dst, keys)).map(Reply::Int)
}

/// SDIFF: the members of the first set that no other set has.
pub fn sdiff_exec(
    a: &mut Access<'_>,
    limits: &SetLimits,
    keys: &[impl AsRef<[u8]>],
) -> Result<Vec<Bytes>> {
    let hasher = aggregate::member_hasher(a);
    Ok(difference(a, keys, hasher, limits)?
        .iter()
        .map(member_bytes)
        .collect())
}

fn sdiff(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let keys = &args[1..];
    let l = limits(ctx.engine());
    aggregate::with_keys(ctx, keys, |a| sdiff_exec(a, &l, keys)).map(members_reply)
}

/// SDIFFSTORE: stores the difference of `keys` at `dst`; returns its size.
pub fn sdiffstore_exec(
    a: &mut Access<'_>,
    limits: &SetLimits,
    dst: &[u8],
    keys: &[impl AsRef<[u8]>],
) -> Result<i64> {
    let hasher = aggregate::member_hasher(a);
    let result = difference(a, keys, hasher, limits)?;
    Ok(store(a, dst, result, Event::SDiffStore))
}

fn sdiffstore(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (dst, keys) = (&args[1], &args[2..]);
    let l = limits(ctx.engine());
    aggregate::with_keys(ctx, &args[1..], |a| sdiffstore_exec(a, &l, dst, keys)).map(Reply::Int)
}

/// SSCAN: one step of an iteration over the members. Returns the next cursor (0 when done)
/// and the members that passed MATCH. An intset (or small set) comes back whole.
pub fn sscan_exec(
    a: &mut Access<'_>,
    key: &[u8],
    cursor: u64,
    opts: &ScanOptions,
) -> Result<(u64, Vec<Bytes>)> {
    let Some(set) = read(a, key)? else {
        return Ok((0, Vec::new()));
    };
    let mut out = Vec::new();
    let next = set.scan(cursor, opts.count, |m| {
        let b = member_bytes(m);
        if opts.matches(&b) {
            out.push(b);
        }
    });
    Ok((next, out))
}

fn sscan(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let cursor = aggregate::parse_cursor(&args[2])?;
    // As HSCAN: options are read only once a set was found.
    let opts = aggregate::parse_scan_options(args, 3);
    let (next, members) = ctx.key(key, |a| match opts {
        Ok(opts) => sscan_exec(a, key, cursor, &opts),
        Err(e) => match read(a, key)? {
            None => Ok((0, Vec::new())),
            Some(_) => Err(e),
        },
    })?;
    Ok(aggregate::scan_reply(
        next,
        members.into_iter().map(Reply::Bulk).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn bulk(s: &str) -> Reply {
        Reply::bulk(s)
    }

    fn encoding(db: &Db, key: &str) -> Option<&'static str> {
        db.with_key(key.as_bytes(), |a| {
            a.peek(key.as_bytes()).map(|e| e.value.encoding())
        })
    }

    #[test]
    fn commands_through_call() {
        let db = Db::new();
        assert_eq!(db.call(["SADD", "s", "3", "1", "2", "1"]), Reply::Int(3));
        assert_eq!(
            db.call(["SMEMBERS", "s"]),
            Reply::Set(vec![bulk("1"), bulk("2"), bulk("3")])
        );
        assert_eq!(encoding(&db, "s"), Some("intset"));
        assert_eq!(db.call(["SADD", "s", "x"]), Reply::Int(1));
        assert_eq!(encoding(&db, "s"), Some("hashtable"));
        assert_eq!(db.call(["SREM", "s", "1", "2", "3", "x"]), Reply::Int(4));
        assert_eq!(db.call(["EXISTS", "s"]), Reply::Int(0));
        db.call(["SET", "str", "x"]);
        assert_eq!(
            db.call(["SADD", "str", "a"]),
            Reply::Error(Error::WrongType)
        );
        assert_eq!(
            db.call(["SINTERCARD", "0", "a"]),
            Reply::Error(error::NUMKEYS_NOT_POSITIVE)
        );
        assert_eq!(
            db.call(["SPOP", "s", "-1"]),
            Reply::Error(error::MUST_BE_POSITIVE)
        );
    }

    #[test]
    fn spop_of_most_of_a_big_set_rebuilds_an_intset() {
        let db = Db::builder().seed(5).build();
        let members: Vec<String> = (0..600).map(|i| i.to_string()).collect();
        assert_eq!(db.sadd("s", &members).unwrap(), 600);
        assert_eq!(encoding(&db, "s"), Some("hashtable"));
        // 150 kept * 5 > 450 popped: popped one by one, the set stays a table.
        assert_eq!(db.spop_count("s", 450).unwrap().len(), 450);
        assert_eq!(encoding(&db, "s"), Some("hashtable"));
        // 10 kept * 5 <= 140 popped: the kept ones move to a new set, an intset.
        assert_eq!(db.spop_count("s", 140).unwrap().len(), 140);
        assert_eq!(encoding(&db, "s"), Some("intset"));
        assert_eq!(db.scard("s").unwrap(), 10);
    }

    #[test]
    fn sdiff_algorithm_choice_shows_in_the_encoding() {
        let db = Db::new();
        let mut first: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        first.push("a".into());
        db.sadd("s0", &first).unwrap();
        db.sadd("s1", &["a"]).unwrap();
        db.sadd("s2", &["b"]).unwrap();
        // 11 * 2 / 2 <= 11 + 1: Redis keeps the first set's survivors only: an intset.
        assert_eq!(db.sdiffstore("d1", &["s0", "s1"]).unwrap(), 10);
        assert_eq!(encoding(&db, "d1"), Some("intset"));
        // 11 * 3 / 2 > 11 + 1 + 1: Redis adds all of s0 ("a" included), then removes.
        assert_eq!(db.sdiffstore("d2", &["s0", "s1", "s2"]).unwrap(), 10);
        assert_eq!(encoding(&db, "d2"), Some("hashtable"));
    }

    #[test]
    fn seeded_engines_pop_the_same_members() {
        let pops = |seed| {
            let db = Db::builder().seed(seed).build();
            let members: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
            db.sadd("s", &members).unwrap();
            (
                db.spop_count("s", 7).unwrap(),
                db.srandmember_count("s", -5).unwrap(),
            )
        };
        assert_eq!(pops(9), pops(9));
    }

    #[test]
    fn huge_negative_counts_are_refused_only_when_there_is_something_to_pick() {
        let db = Db::new();
        assert_eq!(
            db.call(["SRANDMEMBER", "nokey", "-9223372036854775807"]),
            Reply::Array(vec![])
        );
        db.call(["SADD", "s", "a"]);
        assert_eq!(
            db.call(["SRANDMEMBER", "s", "-9223372036854775807"]),
            Reply::Error(error::RANDOM_COUNT_TOO_LARGE)
        );
        assert_eq!(db.srandmember_count("s", -3).unwrap(), ["a", "a", "a"]);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(usize, Vec<usize>),
        Rem(usize, Vec<usize>),
        Card(usize),
        IsMember(usize, usize),
        MIsMember(usize, Vec<usize>),
        Members(usize),
        Pop(usize),
        PopCount(usize, u64),
        RandMember(usize, i64),
        Move(usize, usize, usize),
        Algebra(&'static str, Vec<usize>),
        Store(&'static str, usize, Vec<usize>),
        InterCard(Vec<usize>, u64),
        Scan(usize, usize),
        /// SADD of `n` integers (`ints`) or words from 0.
        Bulk(usize, bool, usize),
    }

    const KEYS: [&str; 4] = ["k0", "k1", "k2", "str"];
    const MEMBERS: [&str; 10] = ["0", "1", "2", "7", "-1", "600", "a", "b", "01", ""];
    const INTSET_LIMIT: usize = crate::types::set::SET_MAX_INTSET_ENTRIES;

    fn op() -> impl Strategy<Value = Op> {
        let key = 0..KEYS.len();
        let m = 0..MEMBERS.len();
        let ms = prop::collection::vec(m.clone(), 1..4);
        let keys = prop::collection::vec(key.clone(), 1..6);
        prop_oneof![
            1 => (key.clone(), ms.clone()).prop_map(|(k, m)| Op::Add(k, m)),
            1 => (key.clone(), ms.clone()).prop_map(|(k, m)| Op::Rem(k, m)),
            1 => key.clone().prop_map(Op::Card),
            1 => (key.clone(), m.clone()).prop_map(|(k, m)| Op::IsMember(k, m)),
            1 => (key.clone(), ms).prop_map(|(k, m)| Op::MIsMember(k, m)),
            1 => key.clone().prop_map(Op::Members),
            1 => key.clone().prop_map(Op::Pop),
            3 => (key.clone(), 0..12u64).prop_map(|(k, n)| Op::PopCount(k, n)),
            1 => (key.clone(), -8i64..8).prop_map(|(k, n)| Op::RandMember(k, n)),
            1 => (key.clone(), key.clone(), m).prop_map(|(a, b, m)| Op::Move(a, b, m)),
            1 => (prop_oneof![Just("SINTER"), Just("SUNION"), Just("SDIFF")], keys.clone())
                .prop_map(|(c, k)| Op::Algebra(c, k)),
            3 => (
                prop_oneof![Just("SINTERSTORE"), Just("SUNIONSTORE"), Just("SDIFFSTORE")],
                key.clone(),
                keys.clone()
            )
                .prop_map(|(c, d, k)| Op::Store(c, d, k)),
            1 => (keys, 0..4u64).prop_map(|(k, l)| Op::InterCard(k, l)),
            1 => (key.clone(), 1..40usize).prop_map(|(k, c)| Op::Scan(k, c)),
            1 => (
                key,
                any::<bool>(),
                prop_oneof![
                    Just(INTSET_LIMIT - 1),
                    Just(INTSET_LIMIT),
                    Just(INTSET_LIMIT + 1),
                    Just(130usize),
                    1..20usize,
                    1..700usize
                ]
            )
                .prop_map(|(k, ints, n)| Op::Bulk(k, ints, n)),
        ]
    }

    fn is_int(m: &str) -> bool {
        crate::num::parse_i64(m.as_bytes()).is_some()
    }

    /// The reference: members, and whether Redis 7.0 would report `hashtable`.
    #[derive(Debug, Default, Clone)]
    struct ModelSet {
        members: BTreeSet<String>,
        table: bool,
    }

    impl ModelSet {
        fn add(&mut self, m: &str) -> bool {
            let new = self.members.insert(m.to_string());
            if !is_int(m) || self.members.len() > INTSET_LIMIT {
                self.table = true;
            }
            new
        }

        /// A set built from scratch as an intset (set algebra results).
        fn built(members: BTreeSet<String>) -> ModelSet {
            let table = members.len() > INTSET_LIMIT || members.iter().any(|m| !is_int(m));
            ModelSet { members, table }
        }
    }

    type Model = BTreeMap<usize, ModelSet>;

    fn wrong(k: usize) -> bool {
        KEYS[k] == "str"
    }

    fn members_of(model: &Model, k: usize) -> BTreeSet<String> {
        model.get(&k).map(|s| s.members.clone()).unwrap_or_default()
    }

    /// Sorted bulk strings of a reply, for comparing unordered replies.
    fn sorted(r: &Reply) -> Vec<String> {
        let items = match r {
            Reply::Set(v) | Reply::Array(v) => v,
            other => panic!("not a list: {other:?}"),
        };
        let mut out: Vec<String> = items
            .iter()
            .map(|i| match i {
                Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        out.sort();
        out
    }

    /// What Redis's set algebra gives (members and the result's encoding); `None` for an
    /// empty result.
    fn algebra(model: &Model, cmd: &str, keys: &[usize]) -> Option<ModelSet> {
        let sets: Vec<Option<&ModelSet>> = keys.iter().map(|k| model.get(k)).collect();
        let result = match cmd {
            "SINTER" | "SINTERSTORE" => {
                if sets.iter().any(Option::is_none) {
                    return None;
                }
                let mut acc = sets[0].unwrap().members.clone();
                for s in &sets[1..] {
                    acc.retain(|m| s.unwrap().members.contains(m));
                }
                ModelSet::built(acc)
            }
            "SUNION" | "SUNIONSTORE" => ModelSet::built(
                sets.iter()
                    .flatten()
                    .flat_map(|s| s.members.clone())
                    .collect(),
            ),
            _ => {
                let first = sets[0]?;
                if keys[1..].iter().any(|k| *k == keys[0]) {
                    return None;
                }
                let mut acc = first.members.clone();
                for s in sets[1..].iter().flatten() {
                    acc.retain(|m| !s.members.contains(m));
                }
                let existing = sets.iter().flatten().count();
                let one = first.members.len() * existing / 2;
                let two: usize = sets.iter().flatten().map(|s| s.members.len()).sum();
                let mut r = ModelSet::built(acc);
                if one > two {
                    // Algorithm 2 added the whole first set before removing.
                    r.table |= ModelSet::built(first.members.clone()).table;
                }
                r
            }
        };
        (!result.members.is_empty()).then_some(result)
    }

    fn run(ops: Vec<Op>) {
        let db = Db::builder().seed(1).active_expiry(false).build();
        db.call(["SET", "str", "x"]);
        let mut model: Model = BTreeMap::new();
        for op in ops {
            let key = |k: usize| KEYS[k];
            let wt = Reply::Error(Error::WrongType);
            match &op {
                Op::Add(k, ms) | Op::Rem(k, ms) => {
                    let add = matches!(op, Op::Add(..));
                    let mut args = vec![if add { "SADD" } else { "SREM" }, key(*k)];
                    args.extend(ms.iter().map(|m| MEMBERS[*m]));
                    let exp = if wrong(*k) {
                        wt
                    } else if add {
                        let s = model.entry(*k).or_default();
                        Reply::Int(ms.iter().filter(|m| s.add(MEMBERS[**m])).count() as i64)
                    } else {
                        let mut n = 0;
                        if let Some(s) = model.get_mut(k) {
                            n = ms.iter().filter(|m| s.members.remove(MEMBERS[**m])).count();
                            if s.members.is_empty() {
                                model.remove(k);
                            }
                        }
                        Reply::Int(n as i64)
                    };
                    assert_eq!(db.call(&args), exp, "{op:?}");
                }
                Op::Bulk(k, ints, n) => {
                    let ms: Vec<String> = (0..*n)
                        .map(|i| {
                            if *ints {
                                i.to_string()
                            } else {
                                format!("w{i}")
                            }
                        })
                        .collect();
                    let mut args = vec!["SADD".to_string(), key(*k).into()];
                    args.extend(ms.iter().cloned());
                    let exp = if wrong(*k) {
                        wt
                    } else {
                        let s = model.entry(*k).or_default();
                        Reply::Int(ms.iter().filter(|m| s.add(m)).count() as i64)
                    };
                    assert_eq!(db.call(&args), exp, "{op:?}");
                }
                Op::Card(k) => {
                    let exp = if wrong(*k) {
                        wt
                    } else {
                        Reply::Int(members_of(&model, *k).len() as i64)
                    };
                    assert_eq!(db.call(["SCARD", key(*k)]), exp, "{op:?}");
                }
                Op::IsMember(k, m) => {
                    let exp = if wrong(*k) {
                        wt
                    } else {
                        Reply::from(members_of(&model, *k).contains(MEMBERS[*m]))
                    };
                    assert_eq!(db.call(["SISMEMBER", key(*k), MEMBERS[*m]]), exp, "{op:?}");
                }
                Op::MIsMember(k, ms) => {
                    let mut args = vec!["SMISMEMBER", key(*k)];
                    args.extend(ms.iter().map(|m| MEMBERS[*m]));
                    let exp = if wrong(*k) {
                        wt
                    } else {
                        let s = members_of(&model, *k);
                        Reply::Array(
                            ms.iter()
                                .map(|m| Reply::from(s.contains(MEMBERS[*m])))
                                .collect(),
                        )
                    };
                    assert_eq!(db.call(&args), exp, "{op:?}");
                }
                Op::Members(k) => {
                    let r = db.call(["SMEMBERS", key(*k)]);
                    if wrong(*k) {
                        assert_eq!(r, wt);
                    } else {
                        let s = model.get(k).cloned().unwrap_or_default();
                        if !s.table && !s.members.is_empty() {
                            // An intset answers in ascending numeric order.
                            let mut want: Vec<i64> =
                                s.members.iter().map(|m| m.parse().unwrap()).collect();
                            want.sort();
                            let want: Vec<Reply> =
                                want.iter().map(|n| bulk(&n.to_string())).collect();
                            assert_eq!(r, Reply::Set(want), "{op:?}");
                        } else {
                            assert_eq!(
                                sorted(&r),
                                s.members.iter().cloned().collect::<Vec<_>>(),
                                "{op:?}"
                            );
                        }
                    }
                }
                Op::Pop(k) => {
                    let r = db.call(["SPOP", key(*k)]);
                    if wrong(*k) {
                        assert_eq!(r, wt);
                    } else if let Some(s) = model.get_mut(k) {
                        let Reply::Bulk(b) = r else { panic!("{r:?}") };
                        let m = String::from_utf8(b.to_vec()).unwrap();
                        assert!(s.members.remove(&m), "{op:?} popped {m}");
                        if s.members.is_empty() {
                            model.remove(k);
                        }
                    } else {
                        assert_eq!(r, Reply::Nil);
                    }
                }
                Op::PopCount(k, n) => {
                    let r = db.call(["SPOP", key(*k), &n.to_string()]);
                    if wrong(*k) {
                        assert_eq!(r, wt);
                    } else if let Some(s) = model.get_mut(k) {
                        let got = sorted(&r);
                        let size = s.members.len() as u64;
                        assert_eq!(got.len() as u64, (*n).min(size), "{op:?}");
                        for m in &got {
                            assert!(s.members.remove(m), "{op:?} popped {m}");
                        }
                        let remaining = s.members.len() as u64;
                        if s.members.is_empty() {
                            model.remove(k);
                        } else if *n > 0 && remaining * 5 <= *n {
                            // The kept members were moved to a new set.
                            *s = ModelSet::built(s.members.clone());
                        }
                    } else {
                        assert_eq!(r, Reply::Set(vec![]));
                    }
                }
                Op::RandMember(k, n) => {
                    let r = db.call(["SRANDMEMBER", key(*k), &n.to_string()]);
                    if wrong(*k) {
                        assert_eq!(r, wt);
                    } else {
                        let s = members_of(&model, *k);
                        let got = sorted(&r);
                        let want_len = if s.is_empty() {
                            0
                        } else if *n < 0 {
                            n.unsigned_abs() as usize
                        } else {
                            (*n as usize).min(s.len())
                        };
                        assert_eq!(got.len(), want_len, "{op:?}");
                        assert!(got.iter().all(|m| s.contains(m)), "{op:?}");
                        if *n > 0 {
                            let distinct: BTreeSet<&String> = got.iter().collect();
                            assert_eq!(distinct.len(), got.len(), "{op:?}");
                        }
                    }
                }
                Op::Move(src, dst, m) => {
                    let member = MEMBERS[*m];
                    let exp = if !model.contains_key(src) && !wrong(*src) {
                        Reply::Int(0)
                    } else if wrong(*src) || wrong(*dst) {
                        wt
                    } else if src == dst {
                        Reply::from(members_of(&model, *src).contains(member))
                    } else if model.get_mut(src).is_some_and(|s| s.members.remove(member)) {
                        if model[src].members.is_empty() {
                            model.remove(src);
                        }
                        model.entry(*dst).or_default().add(member);
                        Reply::Int(1)
                    } else {
                        Reply::Int(0)
                    };
                    assert_eq!(
                        db.call(["SMOVE", key(*src), key(*dst), member]),
                        exp,
                        "{op:?}"
                    );
                }
                Op::Algebra(cmd, keys) => {
                    let mut args = vec![*cmd];
                    args.extend(keys.iter().map(|k| key(*k)));
                    let r = db.call(&args);
                    if keys.iter().any(|k| wrong(*k)) {
                        assert_eq!(r, wt, "{op:?}");
                    } else {
                        let want = algebra(&model, cmd, keys)
                            .map(|s| s.members)
                            .unwrap_or_default();
                        assert_eq!(sorted(&r), want.into_iter().collect::<Vec<_>>(), "{op:?}");
                    }
                }
                Op::Store(cmd, dst, keys) => {
                    let mut args = vec![*cmd, key(*dst)];
                    args.extend(keys.iter().map(|k| key(*k)));
                    let r = db.call(&args);
                    if keys.iter().any(|k| wrong(*k)) {
                        assert_eq!(r, wt, "{op:?}");
                    } else {
                        let result = algebra(&model, cmd, keys);
                        let n = result.as_ref().map_or(0, |s| s.members.len());
                        assert_eq!(r, Reply::Int(n as i64), "{op:?}");
                        match result {
                            Some(s) => {
                                model.insert(*dst, s);
                            }
                            None => {
                                model.remove(dst);
                            }
                        }
                        if wrong(*dst) {
                            // The string was replaced or deleted: put one back for later ops.
                            db.call(["SET", "str", "x"]);
                            model.remove(dst);
                        }
                    }
                }
                Op::InterCard(keys, limit) => {
                    let mut args = vec!["SINTERCARD".to_string(), keys.len().to_string()];
                    args.extend(keys.iter().map(|k| key(*k).to_string()));
                    args.extend(["LIMIT".to_string(), limit.to_string()]);
                    let r = db.call(&args);
                    if keys.iter().any(|k| wrong(*k)) {
                        assert_eq!(r, wt, "{op:?}");
                    } else {
                        let n =
                            algebra(&model, "SINTER", keys).map_or(0, |s| s.members.len() as u64);
                        let n = if *limit > 0 { n.min(*limit) } else { n };
                        assert_eq!(r, Reply::Int(n as i64), "{op:?}");
                    }
                }
                Op::Scan(k, count) => {
                    if wrong(*k) {
                        assert_eq!(db.call(["SSCAN", key(*k), "0"]), wt);
                    } else {
                        let mut cursor = "0".to_string();
                        let mut seen = BTreeSet::new();
                        loop {
                            let r =
                                db.call(["SSCAN", key(*k), &cursor, "COUNT", &count.to_string()]);
                            let Reply::Array(parts) = r else {
                                panic!("{r:?}")
                            };
                            let [Reply::Bulk(c), items] = &parts[..] else {
                                panic!("{parts:?}")
                            };
                            seen.extend(sorted(items));
                            cursor = String::from_utf8(c.to_vec()).unwrap();
                            if cursor == "0" {
                                break;
                            }
                        }
                        assert_eq!(seen, members_of(&model, *k), "{op:?}");
                    }
                }
            }
            for (i, name) in KEYS.iter().enumerate() {
                if *name == "str" {
                    continue;
                }
                let want = model
                    .get(&i)
                    .map(|s| if s.table { "hashtable" } else { "intset" });
                assert_eq!(encoding(&db, name), want, "encoding of {name} after {op:?}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn sets_match_a_reference_model(ops in prop::collection::vec(op(), 1..40)) {
            run(ops);
        }
    }
}
