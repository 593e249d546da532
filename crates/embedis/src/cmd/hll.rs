//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, over string values in Redis's HLL byte
//! format ([`crate::types::hll`]), with Redis 7.0's replies, errors and side effects (a
//! single-key PFCOUNT stores the cardinality it computed in the value's header).
//!
//! PFDEBUG and PFSELFTEST are Redis's own debugging aids and are not provided.

use bytes::Bytes;

use super::aggregate;
use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::db::Engine;
use crate::error::{self, Error, Result};
use crate::keyspace::{Access, Value};
use crate::pubsub::Event;
use crate::reply::Reply;
use crate::types::hll::{self, REGISTERS};
use crate::types::string::Str;

/// The HyperLogLog family's rows. PFCOUNT is `may_replicate` (hidden in COMMAND INFO, like
/// Redis): it may store the cardinality it computed, so read-only scripts may not call it.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("pfadd", -2, WRITE | DENYOOM | FAST, pfadd).keys(1, 1, 1),
    CommandSpec::new("pfcount", -2, READONLY | MAY_REPLICATE, pfcount).keys(1, -1, 1),
    CommandSpec::new("pfmerge", -2, WRITE | DENYOOM, pfmerge).keys(1, -1, 1),
];

/// `hll-sparse-max-bytes`: the longest a sparse HLL grows before it goes dense.
pub fn sparse_max_bytes(engine: &Engine) -> usize {
    engine
        .config
        .read(|c| usize::try_from(c.hll_sparse_max_bytes).unwrap_or(usize::MAX))
}

/// The bytes of a value that must be an HLL: WRONGTYPE for another type, Redis's HLL
/// WRONGTYPE for a string that is not one (`isHLLObjectOrReply`).
fn hll_bytes(value: &Value) -> Result<&[u8]> {
    match value {
        Value::Str(Str::Bytes { data }) if hll::is_hll(data) => Ok(&data[..]),
        Value::Str(_) => Err(error::HLL_WRONGTYPE),
        _ => Err(Error::WrongType),
    }
}

/// The HLL at `key` for in-place edits (`dbUnshareStringValue`: the value becomes `raw`);
/// `None` if the key is missing.
fn hll_mut<'a>(a: &'a mut Access<'_>, key: &[u8]) -> Result<Option<&'a mut Vec<u8>>> {
    let Some(e) = a.get_mut(key) else {
        return Ok(None);
    };
    hll_bytes(&e.value)?;
    match &mut e.value {
        Value::Str(s) => Ok(Some(s.make_raw())),
        _ => unreachable!("checked by hll_bytes"),
    }
}

/// PFADD: adds elements to the HLL at `key` (created if missing); true if the key was
/// created or a register changed.
pub fn pfadd_exec(
    a: &mut Access<'_>,
    sparse_max: usize,
    key: &[u8],
    elements: &[impl AsRef<[u8]>],
) -> Result<bool> {
    let mut updated = false;
    if hll_mut(a, key)?.is_none() {
        a.set(key, Value::Str(Str::raw(hll::new_sparse())));
        updated = true;
    }
    let Some(h) = hll_mut(a, key)? else {
        unreachable!("created above")
    };
    for e in elements {
        // A corrupt HLL stops at the first element that finds it so; what changed before
        // stays, unannounced, as in Redis.
        updated |= hll::add(h, e.as_ref(), sparse_max).map_err(|_| error::HLL_INVALID)?;
    }
    if updated {
        hll::invalidate_cache(h);
        a.touched(key);
        a.notify(Event::PfAdd, key);
    }
    Ok(updated)
}

fn pfadd(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let sparse_max = sparse_max_bytes(ctx.engine());
    ctx.key(key, |a| pfadd_exec(a, sparse_max, key, &args[2..]))
        .map(|u| Reply::Int(u as i64))
}

/// PFCOUNT of one key: the cached cardinality, or a fresh estimate that is then cached in
/// the value (a write Redis propagates, although the command is read-only).
fn count_one(a: &mut Access<'_>, key: &[u8]) -> Result<u64> {
    let Some(e) = a.get(key) else {
        return Ok(0);
    };
    hll_bytes(&e.value)?;
    let Value::Str(s) = &mut e.value else {
        unreachable!("checked by hll_bytes")
    };
    // Redis unshares the value (making it `raw`) before it looks at the cache.
    let h = s.make_raw();
    if let Some(n) = hll::cached_count(h) {
        return Ok(n);
    }
    let n = hll::count(h).map_err(|_| error::HLL_INVALID)?;
    hll::set_cached_count(h, n);
    a.touched(key);
    Ok(n)
}

/// Merges the registers of every existing key into `max` (missing keys are empty HLLs);
/// returns whether one of them was dense.
fn merge_keys(
    a: &mut Access<'_>,
    keys: &[impl AsRef<[u8]>],
    max: &mut [u8; REGISTERS],
) -> Result<bool> {
    let mut any_dense = false;
    for key in keys {
        let Some(e) = a.get(key.as_ref()) else {
            continue;
        };
        let h = hll_bytes(&e.value)?;
        any_dense |= h[4] == hll::DENSE;
        hll::merge_into(max, h).map_err(|_| error::HLL_INVALID)?;
    }
    Ok(any_dense)
}

/// PFCOUNT: the estimated cardinality of one HLL, or of the union of several.
pub fn pfcount_exec(a: &mut Access<'_>, keys: &[impl AsRef<[u8]>]) -> Result<u64> {
    match keys {
        [] => Ok(0),
        [one] => count_one(a, one.as_ref()),
        _ => {
            let mut max = Box::new([0u8; REGISTERS]);
            merge_keys(a, keys, &mut max)?;
            Ok(hll::count_registers(&max))
        }
    }
}

fn pfcount(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let keys = &args[1..];
    aggregate::with_keys(ctx, keys, |a| pfcount_exec(a, keys)).map(|n| Reply::Int(n as i64))
}

/// PFMERGE: stores at `dst` the union of `dst` and `sources` (`dst` created if missing; dense
/// if any input was dense).
pub fn pfmerge_exec(
    a: &mut Access<'_>,
    sparse_max: usize,
    dst: &[u8],
    sources: &[impl AsRef<[u8]>],
) -> Result<()> {
    let mut max = Box::new([0u8; REGISTERS]);
    // The destination is an input too (Redis reads its keys from argv[1] on).
    let mut any_dense = merge_keys(a, &[dst], &mut max)?;
    any_dense |= merge_keys(a, sources, &mut max)?;
    if hll_mut(a, dst)?.is_none() {
        a.set(dst, Value::Str(Str::raw(hll::new_sparse())));
    }
    let Some(h) = hll_mut(a, dst)? else {
        unreachable!("created above")
    };
    if any_dense {
        hll::sparse_to_dense(h).map_err(|_| error::HLL_INVALID)?;
    }
    for (i, &m) in max.iter().enumerate() {
        if m != 0 {
            // Redis ignores a failure here: the inputs were all checked above.
            let _ = hll::set_register(h, i, m, sparse_max);
        }
    }
    hll::invalidate_cache(h);
    a.touched(dst);
    a.notify(Event::PfAdd, dst);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (dst, sources) = (&args[1], &args[2..]);
    let sparse_max = sparse_max_bytes(ctx.engine());
    aggregate::with_keys(ctx, &args[1..], |a| {
        pfmerge_exec(a, sparse_max, dst, sources)
    })
    .map(|()| Reply::Ok)
}
