//! Bitmap commands: GETBIT, SETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.
//!
//! Bitmaps are strings. Reads see an `int`-encoded string as its decimal text; writes edit the
//! value in place and leave it `raw`, as Redis does (BITOP stores a `raw` string too). Bit
//! offsets are refused when their byte would reach proto-max-bulk-len (2^32 bits by default),
//! before anything is allocated.
//!
//! Redis 7.0 quirks kept on purpose, since replies must match:
//! - BITCOUNT and BITPOS look the key up before reading their range arguments, so a missing
//!   key answers 0 (BITPOS: -1 or 0) whatever those arguments are, and a key of another type
//!   answers WRONGTYPE before any range error. The exec functions therefore take the parsed
//!   range as a `Result` and report its error only for an existing string.
//! - Option words (BIT/BYTE, AND/OR/..., GET/SET/..., WRAP/SAT/FAIL, `i8`) are compared the
//!   way C's `strcasecmp` sees them: up to the first NUL byte.
//! - `#N` field offsets are multiplied in wrapping 64-bit arithmetic, so an index whose
//!   product wraps to a small positive number addresses that bit.
//! - SETBIT and BITFIELD count as modifying the key (dirty counter, WATCH) only when a bit
//!   changed or the string grew; a BITFIELD write refused by OVERFLOW FAIL never counts, even
//!   when the string grew for it.

use bytes::Bytes;

use super::args::{self, is};
use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::error::{
    BIT_ARGUMENT, BIT_OFFSET, BIT_VALUE, BITFIELD_OVERFLOW, BITFIELD_RO_GET_ONLY, BITFIELD_TYPE,
    BITOP_NOT_ONE_KEY, Error, Result,
};
use crate::keyspace::{Access, Value};
use crate::num;
use crate::pubsub::Event;
use crate::reply::Reply;
use crate::types::bitmap::{
    self, BitField, BitOp, BitRange, BitUnit, FieldAction, FieldOp, FieldType, Overflow, PosRange,
};
use crate::types::string::Str;

/// The bitmap family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("getbit", 3, READONLY | FAST, getbit).keys(1, 1, 1),
    CommandSpec::new("setbit", 4, WRITE | DENYOOM, setbit).keys(1, 1, 1),
    CommandSpec::new("bitcount", -2, READONLY, bitcount).keys(1, 1, 1),
    CommandSpec::new("bitpos", -3, READONLY, bitpos).keys(1, 1, 1),
    CommandSpec::new("bitop", -4, WRITE | DENYOOM, bitop).keys(2, -1, 1),
    CommandSpec::new("bitfield", -2, WRITE | DENYOOM, bitfield).keys(1, 1, 1),
    CommandSpec::new("bitfield_ro", -2, READONLY | FAST, bitfield_ro).keys(1, 1, 1),
];

/// An option word as C's `strcasecmp` sees it: up to the first NUL byte.
fn c_word(arg: &[u8]) -> &[u8] {
    match memchr::memchr(0, arg) {
        Some(end) => &arg[..end],
        None => arg,
    }
}

/// Whether an argument is the option word `name`, compared like Redis does.
fn is_word(arg: &[u8], name: &str) -> bool {
    is(c_word(arg), name)
}

/// The configured proto-max-bulk-len, which bounds how far a bit offset may reach.
pub(crate) fn max_bulk_len(engine: &crate::db::Engine) -> u64 {
    engine.config.read(|c| c.proto_max_bulk_len)
}

/// Refuses a bit offset whose byte would make the string reach `max_bulk_len` bytes.
pub fn check_bit_offset(offset: u64, max_bulk_len: u64) -> Result<u64> {
    if offset >> 3 >= max_bulk_len {
        return Err(BIT_OFFSET);
    }
    Ok(offset)
}

/// Parses a bit offset argument. With `field_bits`, `#N` means the N-th field of that width.
fn parse_bit_offset(arg: &[u8], field_bits: Option<u32>, max_bulk_len: u64) -> Result<u64> {
    let (digits, scale) = match (arg.first(), field_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], i64::from(bits)),
        _ => (arg, 1),
    };
    let n = num::parse_i64(digits).ok_or(BIT_OFFSET)?;
    // Wrapping like Redis's `long long` multiplication: a product that wraps negative is
    // refused just below, one that wraps to a small positive offset is used as is.
    let n = n.wrapping_mul(scale);
    let n = u64::try_from(n).map_err(|_| BIT_OFFSET)?;
    check_bit_offset(n, max_bulk_len)
}

/// A byte length from a `u64` already bounded by proto-max-bulk-len.
fn byte_len(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Runs `f` on the bytes of the string at `key` (`None` when missing): a read lookup, which
/// counts a keyspace hit or miss. WRONGTYPE for other types.
fn read_str<R>(a: &mut Access<'_>, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> Result<R> {
    match a.get(key) {
        None => Ok(f(None)),
        Some(e) => match &e.value {
            Value::Str(s) => Ok(f(Some(&s.as_bytes()))),
            #[allow(unreachable_patterns)]
            _ => Err(Error::WrongType),
        },
    }
}

/// Runs `f` on the bytes of the string at `key` for an in-place write, after creating the key
/// or zero-extending it to at least `len` bytes; the value becomes `raw` (even if `f` changes
/// nothing, as in Redis). `f` is told whether the string was created or grew. WRONGTYPE for
/// other types. The caller decides whether to call `touched`.
fn edit_str<R>(
    a: &mut Access<'_>,
    key: &[u8],
    len: usize,
    f: impl FnOnce(&mut Vec<u8>, bool) -> R,
) -> Result<R> {
    if let Some(e) = a.get_mut(key) {
        return match &mut e.value {
            Value::Str(s) => {
                let data = s.make_raw();
                let grew = data.len() < len;
                bitmap::grow_zeroed(data, len);
                Ok(f(data, grew))
            }
            #[allow(unreachable_patterns)]
            _ => Err(Error::WrongType),
        };
    }
    let mut data = vec![0; len];
    let r = f(&mut data, true);
    a.set(key, Value::Str(Str::raw(data)));
    Ok(r)
}

/// GETBIT: the bit at `offset` (0 past the end or for a missing key).
pub fn getbit_exec(a: &mut Access<'_>, key: &[u8], offset: u64) -> Result<bool> {
    read_str(a, key, |d| d.is_some_and(|d| bitmap::get_bit(d, offset)))
}

fn getbit(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let offset = parse_bit_offset(&args[2], None, max_bulk_len(ctx.engine()))?;
    let key = &args[1];
    ctx.key(key, |a| getbit_exec(a, key, offset))
        .map(Reply::from)
}

/// SETBIT: sets the bit at `offset` (already checked with [`check_bit_offset`]), creating or
/// zero-extending the string; returns the previous bit. Like Redis 7.0, the key counts as
/// modified only if the string grew or the bit changed.
pub fn setbit_exec(a: &mut Access<'_>, key: &[u8], offset: u64, on: bool) -> Result<bool> {
    let (old, grew) = edit_str(a, key, byte_len((offset >> 3) + 1), |d, grew| {
        (bitmap::set_bit(d, offset, on), grew)
    })?;
    if grew || old != on {
        a.touched(key);
        a.notify(Event::SetBit, key);
    }
    Ok(old)
}

fn setbit(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let offset = parse_bit_offset(&args[2], None, max_bulk_len(ctx.engine()))?;
    let on = match num::parse_i64(&args[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(BIT_VALUE),
    };
    let key = &args[1];
    ctx.key(key, |a| setbit_exec(a, key, offset, on))
        .map(Reply::from)
}

/// Parses `BYTE` or `BIT`.
fn parse_unit(arg: &[u8]) -> Result<BitUnit> {
    if is_word(arg, "byte") {
        Ok(BitUnit::Byte)
    } else if is_word(arg, "bit") {
        Ok(BitUnit::Bit)
    } else {
        Err(Error::Syntax)
    }
}

/// BITCOUNT's optional `start end [BYTE|BIT]`, errors in Redis's order.
fn parse_count_range(rest: &[Bytes]) -> Result<Option<BitRange>> {
    let (s, e, unit) = match rest {
        [] => return Ok(None),
        [s, e] => (s, e, None),
        [s, e, u] => (s, e, Some(u)),
        _ => return Err(Error::Syntax),
    };
    let start = args::int(s)?;
    let end = args::int(e)?;
    // Two negative indexes in reverse order answer 0 before the unit is even read.
    let reversed = start < 0 && end < 0 && start > end;
    let unit = match unit {
        Some(u) if !reversed => parse_unit(u)?,
        _ => BitUnit::Byte,
    };
    Ok(Some(BitRange { start, end, unit }))
}

/// BITCOUNT: set bits of the string at `key`, or of a range of it. `range` is the parsed range
/// or its parse error, which Redis 7.0 reports only for an existing string.
pub fn bitcount_exec(
    a: &mut Access<'_>,
    key: &[u8],
    range: Result<Option<BitRange>>,
) -> Result<i64> {
    read_str(a, key, |d| match d {
        None => Ok(0),
        Some(d) => Ok(bitmap::count(d, range?) as i64),
    })?
}

fn bitcount(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let range = parse_count_range(&args[2..]);
    let key = &args[1];
    ctx.key(key, |a| bitcount_exec(a, key, range))
        .map(Reply::Int)
}

/// BITPOS's optional `start [end [BYTE|BIT]]`, errors in Redis's order (the unit is checked
/// before the end).
fn parse_pos_range(rest: &[Bytes]) -> Result<PosRange> {
    match rest {
        [] => Ok(PosRange::All),
        [s] => Ok(PosRange::From(args::int(s)?)),
        [s, e] => Ok(BitRange::bytes(args::int(s)?, args::int(e)?).into()),
        [s, e, u] => {
            let start = args::int(s)?;
            let unit = parse_unit(u)?;
            let end = args::int(e)?;
            Ok(BitRange { start, end, unit }.into())
        }
        _ => Err(Error::Syntax),
    }
}

/// BITPOS: first bit equal to `bit`, or -1. A missing key is all zeros (0 for a clear bit,
/// -1 for a set bit). `range` is the parsed range or its parse error, reported only for an
/// existing string as in Redis 7.0.
pub fn bitpos_exec(
    a: &mut Access<'_>,
    key: &[u8],
    bit: bool,
    range: Result<PosRange>,
) -> Result<i64> {
    read_str(a, key, |d| match d {
        None => Ok(if bit { -1 } else { 0 }),
        Some(d) => Ok(bitmap::bitpos(d, bit, range?)),
    })?
}

fn bitpos(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let bit = match args::int(&args[2])? {
        0 => false,
        1 => true,
        _ => return Err(BIT_ARGUMENT),
    };
    let range = parse_pos_range(&args[3..]);
    let key = &args[1];
    ctx.key(key, |a| bitpos_exec(a, key, bit, range))
        .map(Reply::Int)
}

/// BITOP: combines the strings at `keys` (missing keys are empty, shorter strings are
/// zero-padded) into `dest`, replacing whatever it held, or deletes `dest` when the result is
/// empty. Returns the result's length.
pub fn bitop_exec(
    a: &mut Access<'_>,
    op: BitOp,
    dest: &[u8],
    keys: &[impl AsRef<[u8]>],
) -> Result<i64> {
    if op == BitOp::Not && keys.len() != 1 {
        return Err(BITOP_NOT_ONE_KEY);
    }
    let mut acc = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        read_str(a, key.as_ref(), |d| {
            let d = d.unwrap_or_default();
            match (i, op) {
                (0, BitOp::Not) => acc = bitmap::bitop_not(d),
                (0, _) => acc = d.to_vec(),
                _ => bitmap::bitop_fold(op, &mut acc, d),
            }
        })?;
    }
    let len = acc.len() as i64;
    if acc.is_empty() {
        if a.remove(dest).is_some() {
            a.touched(dest);
            a.notify(Event::Del, dest);
        }
    } else {
        a.set(dest, Value::Str(Str::raw(acc)));
        a.touched(dest);
        a.notify(Event::Set, dest);
    }
    Ok(len)
}

fn bitop(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let op = BitOp::parse(c_word(&args[1])).ok_or(Error::Syntax)?;
    if op == BitOp::Not && args.len() != 4 {
        return Err(BITOP_NOT_ONE_KEY);
    }
    let (dest, keys) = (&args[2], &args[3..]);
    ctx.all(|a| bitop_exec(a, op, dest, keys)).map(Reply::Int)
}

/// Parses BITFIELD's operations, with Redis's errors in Redis's order (each operation's type,
/// then offset, then value, left to right).
fn parse_field_ops(rest: &[Bytes], max_bulk_len: u64) -> Result<Vec<FieldOp>> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut i = 0;
    while i < rest.len() {
        let sub = &rest[i];
        let remaining = rest.len() - i - 1;
        let is_get = is_word(sub, "get") && remaining >= 2;
        let is_set = !is_get && is_word(sub, "set") && remaining >= 3;
        let is_incr = !is_get && !is_set && is_word(sub, "incrby") && remaining >= 3;
        if !is_get && !is_set && !is_incr {
            if is_word(sub, "overflow") && remaining >= 1 {
                overflow = Overflow::parse(c_word(&rest[i + 1])).ok_or(BITFIELD_OVERFLOW)?;
                i += 2;
                continue;
            }
            return Err(Error::Syntax);
        }
        let ty = FieldType::parse(c_word(&rest[i + 1])).ok_or(BITFIELD_TYPE)?;
        let offset = parse_bit_offset(&rest[i + 2], Some(ty.bits()), max_bulk_len)?;
        let action = if is_get {
            FieldAction::Get
        } else {
            let v = args::int(&rest[i + 3])?;
            if is_set {
                FieldAction::Set(v)
            } else {
                FieldAction::IncrBy(v)
            }
        };
        ops.push(FieldOp {
            action,
            ty,
            offset,
            overflow,
        });
        i += if is_get { 3 } else { 4 };
    }
    Ok(ops)
}

/// Resolves a typed-API [`BitField`] into operations, checking each offset like the command.
pub fn resolve_field_ops(request: &BitField, max_bulk_len: u64) -> Result<Vec<FieldOp>> {
    request
        .ops()
        .iter()
        .map(|&(action, ty, offset, overflow)| {
            let offset = offset.resolve(ty).ok_or(BIT_OFFSET)?;
            Ok(FieldOp {
                action,
                ty,
                offset: check_bit_offset(offset, max_bulk_len)?,
                overflow,
            })
        })
        .collect()
}

/// BITFIELD (and BITFIELD_RO when `read_only`): runs `ops` in order on the string at `key`.
/// Only GETs: a read (a missing key reads as zeros, nothing is created). Any write: the key is
/// created or zero-extended to hold every written field, even if OVERFLOW FAIL then refuses
/// all of them. Each reply is the value, or `None` where FAIL refused a write. As in Redis
/// 7.0, each write that FAIL did not refuse and that changed the field (or found the string
/// grown) counts as a change; the key is modified only if there was one.
pub fn bitfield_exec(
    a: &mut Access<'_>,
    key: &[u8],
    ops: &[FieldOp],
    read_only: bool,
) -> Result<Vec<Option<i64>>> {
    let needed = ops
        .iter()
        .filter(|op| op.writes())
        .map(FieldOp::bytes_needed)
        .max();
    match needed {
        None => read_str(a, key, |d| {
            let d = d.unwrap_or_default();
            ops.iter()
                .map(|op| Some(bitmap::get_field(d, op.ty, op.offset)))
                .collect()
        }),
        Some(_) if read_only => Err(BITFIELD_RO_GET_ONLY),
        Some(len) => {
            let (out, changes) = edit_str(a, key, byte_len(len), |d, grew| {
                let mut changes = 0u64;
                let out = ops
                    .iter()
                    .map(|op| {
                        let r = bitmap::apply_field_op(d, op);
                        if op.writes() && r.reply.is_some() && (grew || r.changed) {
                            changes += 1;
                        }
                        r.reply
                    })
                    .collect();
                (out, changes)
            })?;
            if changes > 0 {
                // One modification signal, but the dirty counter grows per change like Redis.
                a.touched(key);
                a.notify(Event::SetBit, key);
                a.stats().dirty.add(changes - 1);
            }
            Ok(out)
        }
    }
}

fn field_reply(values: Vec<Option<i64>>) -> Reply {
    Reply::Array(
        values
            .into_iter()
            .map(|v| v.map_or(Reply::Nil, Reply::Int))
            .collect(),
    )
}

fn bitfield_generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], read_only: bool) -> Result<Reply> {
    let ops = parse_field_ops(&args[2..], max_bulk_len(ctx.engine()))?;
    let key = &args[1];
    ctx.key(key, |a| bitfield_exec(a, key, &ops, read_only))
        .map(field_reply)
}

fn bitfield(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    bitfield_generic(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    bitfield_generic(ctx, args, true)
}

#[cfg(test)]
mod tests {
    use crate::config::ConfigValues;
    use crate::{Db, Error, Reply};

    fn call(db: &Db, line: &str) -> Reply {
        db.call(line.split(' '))
    }

    fn err(r: Reply) -> String {
        match r {
            Reply::Error(e) => e.to_string(),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn setbit_getbit_and_encoding() {
        let db = Db::new();
        assert_eq!(call(&db, "SETBIT k 7 1"), Reply::Int(0));
        assert_eq!(call(&db, "SETBIT k 7 1"), Reply::Int(1));
        assert_eq!(call(&db, "GET k"), Reply::bulk("\x01"));
        assert_eq!(call(&db, "GETBIT k 7"), Reply::Int(1));
        assert_eq!(call(&db, "GETBIT k 100"), Reply::Int(0));
        assert_eq!(call(&db, "GETBIT nokey 0"), Reply::Int(0));
        // An int-encoded string is read as its text; a write leaves it raw.
        db.set("n", "123");
        assert_eq!(call(&db, "GETBIT n 2"), Reply::Int(1));
        assert_eq!(call(&db, "SETBIT n 2 1"), Reply::Int(1));
        db.with_key(b"n", |a| {
            assert_eq!(a.get(b"n").map(|e| e.value.encoding()), Some("raw"));
        });
    }

    #[test]
    fn offsets_respect_proto_max_bulk_len() {
        let db = Db::new();
        assert_eq!(
            err(call(&db, "SETBIT k 4294967296 1")),
            "ERR bit offset is not an integer or out of range"
        );
        assert_eq!(
            err(call(&db, "SETBIT k -1 1")),
            "ERR bit offset is not an integer or out of range"
        );
        assert_eq!(
            err(call(&db, "SETBIT k 0 2")),
            "ERR bit is not an integer or out of range"
        );
        let small = Db::builder()
            .config(ConfigValues {
                proto_max_bulk_len: 4,
                ..ConfigValues::default()
            })
            .build();
        assert_eq!(call(&small, "SETBIT k 31 1"), Reply::Int(0));
        assert!(call(&small, "SETBIT k 32 1").is_error());
        assert!(call(&small, "BITFIELD k SET u8 #4 1").is_error());
        assert_eq!(
            call(&small, "BITFIELD k SET u8 #3 1"),
            Reply::Array(vec![Reply::Int(1)])
        );
        assert_eq!(small.setbit("k", 32, true), Err(crate::error::BIT_OFFSET));
    }

    #[test]
    fn bitop_stores_raw_and_deletes_on_empty() {
        let db = Db::new();
        db.set("a", "abc");
        db.set("b", "xy");
        assert_eq!(call(&db, "BITOP AND d a b nokey"), Reply::Int(3));
        assert_eq!(call(&db, "GET d"), Reply::bulk("\0\0\0"));
        assert_eq!(call(&db, "BITOP OR d a b"), Reply::Int(3));
        assert_eq!(call(&db, "GET d"), Reply::bulk("y{c"));
        assert_eq!(call(&db, "BITOP AND d x y"), Reply::Int(0));
        assert_eq!(call(&db, "EXISTS d"), Reply::Int(0));
        assert_eq!(
            err(call(&db, "BITOP NOT d a b")),
            "ERR BITOP NOT must be called with a single source key."
        );
        assert_eq!(err(call(&db, "BITOP NOR d a")), "ERR syntax error");
    }

    #[test]
    fn bitfield_errors_in_redis_order() {
        let db = Db::new();
        let bad_type = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
        assert_eq!(err(call(&db, "BITFIELD k GET u64 0")), bad_type);
        assert_eq!(err(call(&db, "BITFIELD k GET x 0 GET u8 x")), bad_type);
        assert_eq!(
            err(call(&db, "BITFIELD k GET u8 x SET x 0 0")),
            "ERR bit offset is not an integer or out of range"
        );
        assert_eq!(
            err(call(&db, "BITFIELD k OVERFLOW foo")),
            "ERR Invalid OVERFLOW type specified"
        );
        assert_eq!(err(call(&db, "BITFIELD k SET i8 0")), "ERR syntax error");
        assert_eq!(
            err(call(&db, "BITFIELD_RO k INCRBY i8 0 1")),
            "ERR BITFIELD_RO only supports the GET subcommand"
        );
        assert_eq!(call(&db, "EXISTS k"), Reply::Int(0));
        // FAIL refuses the write but the key is still created.
        assert_eq!(
            call(&db, "BITFIELD k OVERFLOW FAIL INCRBY u2 0 10"),
            Reply::Array(vec![Reply::Nil])
        );
        assert_eq!(call(&db, "GET k"), Reply::bulk("\0"));
    }

    #[test]
    fn modifications_count_like_redis() {
        // Deltas of the dirty counter measured on redis-server 7.0 for the same sequence.
        let db = Db::new();
        let dirty = || db.engine().stats.dirty.get();
        db.set("k", "a");
        let steps = [
            ("BITFIELD k SET u8 0 98 SET u8 0 99 SET u8 0 99 GET u8 0", 2),
            ("BITFIELD k OVERFLOW FAIL SET u8 8 300", 0),
            ("BITFIELD k SET u8 16 0 SET u8 16 0", 2),
            ("SETBIT k 0 0", 0),
            ("SETBIT k 100 0", 1),
            ("SETBIT k 100 1", 1),
            ("BITOP AND k nokey", 1),
            ("BITOP AND k nokey", 0),
        ];
        for (line, delta) in steps {
            let before = dirty();
            assert!(!call(&db, line).is_error(), "{line}");
            assert_eq!(dirty() - before, delta, "{line}");
        }
    }

    #[test]
    fn positional_offsets_wrap_like_redis() {
        let db = Db::new();
        db.set("k", "abcdefgh");
        // 2^61 + 1 fields of 8 bits wrap to bit 8.
        assert_eq!(
            call(&db, "BITFIELD k GET u8 #2305843009213693953"),
            Reply::Array(vec![Reply::Int(98)])
        );
        assert!(call(&db, "BITFIELD k GET i64 #144115188075855873").is_error());
    }

    #[test]
    fn missing_key_ignores_bad_range_arguments() {
        let db = Db::new();
        assert_eq!(call(&db, "BITCOUNT nokey a b"), Reply::Int(0));
        assert_eq!(call(&db, "BITPOS nokey 0 a b c d"), Reply::Int(0));
        db.set("s", "hello");
        assert_eq!(
            err(call(&db, "BITCOUNT s a b")),
            Error::NotInteger.to_string()
        );
        assert_eq!(call(&db, "BITCOUNT s -1 -2 foo"), Reply::Int(0));
        assert_eq!(err(call(&db, "BITPOS s 1 0 b foo")), "ERR syntax error");
        assert_eq!(
            err(call(&db, "BITPOS s 2")),
            "ERR The bit argument must be 1 or 0."
        );
    }
}
