//! Generic key commands (Redis's `generic` group): DEL, UNLINK, EXISTS, TOUCH, TYPE, the
//! EXPIRE family, TTL family, PERSIST, RENAME, RENAMENX, COPY, MOVE, KEYS, SCAN, RANDOMKEY
//! and OBJECT.
//!
//! Lookups follow Redis's flavours, which clients can observe through OBJECT IDLETIME and the
//! keyspace_hits/misses counters: plain reads ([`Access::get`]: TOUCH, COPY's source),
//! reads that do not touch the access time ([`Access::peek_read`]: EXISTS, TYPE, TTL,
//! OBJECT) and write lookups ([`Access::get_mut`]: EXPIRE, PERSIST, RENAME, MOVE).
//!
//! SCAN's cursor packs (shard, bucket, table epoch) into one `u64`; see [`ScanCursor`].

use bytes::Bytes;

use super::args::{self, Args, is};
use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::db::Db;
use crate::error::{self, Error, Result};
use crate::glob;
use crate::keyspace::{Access, SHARDS, TableCursor, Value, evict};
use crate::pubsub::Event;
use crate::reply::Reply;
use crate::types::string::Str;

/// The generic family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("copy", -3, WRITE | DENYOOM, copy).keys(1, 2, 1),
    CommandSpec::new("del", -2, WRITE, del).keys(1, -1, 1),
    CommandSpec::new("exists", -2, READONLY | FAST, exists).keys(1, -1, 1),
    CommandSpec::new("expire", -3, WRITE | FAST, expire).keys(1, 1, 1),
    CommandSpec::new("expireat", -3, WRITE | FAST, expireat).keys(1, 1, 1),
    CommandSpec::new("expiretime", 2, READONLY | FAST, expiretime).keys(1, 1, 1),
    CommandSpec::new("keys", 2, READONLY, keys),
    CommandSpec::new("move", 3, WRITE | FAST, move_).keys(1, 1, 1),
    CommandSpec::new("object", -2, 0, object).subs(OBJECT_SUBCOMMANDS),
    CommandSpec::new("persist", 2, WRITE | FAST, persist).keys(1, 1, 1),
    CommandSpec::new("pexpire", -3, WRITE | FAST, pexpire).keys(1, 1, 1),
    CommandSpec::new("pexpireat", -3, WRITE | FAST, pexpireat).keys(1, 1, 1),
    CommandSpec::new("pexpiretime", 2, READONLY | FAST, pexpiretime).keys(1, 1, 1),
    CommandSpec::new("pttl", 2, READONLY | FAST, pttl).keys(1, 1, 1),
    CommandSpec::new("randomkey", 1, READONLY, randomkey),
    CommandSpec::new("rename", 3, WRITE, rename).keys(1, 2, 1),
    CommandSpec::new("renamenx", 3, WRITE | FAST, renamenx).keys(1, 2, 1),
    CommandSpec::new("scan", -2, READONLY, scan),
    CommandSpec::new("touch", -2, READONLY | FAST, touch).keys(1, -1, 1),
    CommandSpec::new("ttl", 2, READONLY | FAST, ttl).keys(1, 1, 1),
    CommandSpec::new("type", 2, READONLY | FAST, type_).keys(1, 1, 1),
    CommandSpec::new("unlink", -2, WRITE | FAST, unlink).keys(1, -1, 1),
];

const OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("encoding", 3, READONLY, object_encoding).keys(2, 2, 1),
    CommandSpec::new("freq", 3, READONLY, object_freq).keys(2, 2, 1),
    CommandSpec::new("help", 2, LOADING | STALE, object_help),
    CommandSpec::new("idletime", 3, READONLY, object_idletime).keys(2, 2, 1),
    CommandSpec::new("refcount", 3, READONLY, object_refcount).keys(2, 2, 1),
];

/// Runs `f` under the lock that `keys` need: one shard for one key, all shards otherwise.
fn with_keys<R>(ctx: &mut Ctx<'_, '_>, keys: &[Bytes], f: impl FnOnce(&mut Access<'_>) -> R) -> R {
    match keys {
        [one] => ctx.key(one, f),
        _ => ctx.all(f),
    }
}

// ---------------------------------------------------------------------------------------
// DEL, UNLINK, EXISTS, TOUCH, TYPE

/// Removes `keys`, returning how many existed (DEL and UNLINK: values are freed at once
/// either way, so UNLINK is the same operation).
pub fn del_exec(a: &mut Access<'_>, keys: &[impl AsRef<[u8]>]) -> i64 {
    let mut n = 0;
    for k in keys {
        if a.remove(k.as_ref()).is_some() {
            a.touched(k.as_ref());
            a.notify(Event::Del, k.as_ref());
            n += 1;
        }
    }
    n
}

fn del(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let keys = &args[1..];
    Ok(Reply::Int(with_keys(ctx, keys, |a| del_exec(a, keys))))
}

fn unlink(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    del(ctx, args)
}

/// Counts how many of `keys` exist (a key named twice counts twice). Like Redis, this does
/// not refresh the keys' access times.
pub fn exists_exec(a: &mut Access<'_>, keys: &[impl AsRef<[u8]>]) -> i64 {
    keys.iter()
        .filter(|k| a.peek_read(k.as_ref()).is_some())
        .count() as i64
}

fn exists(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let keys = &args[1..];
    Ok(Reply::Int(with_keys(ctx, keys, |a| exists_exec(a, keys))))
}

/// Refreshes the access time of `keys`, returning how many exist.
pub fn touch_exec(a: &mut Access<'_>, keys: &[impl AsRef<[u8]>]) -> i64 {
    keys.iter().filter(|k| a.get(k.as_ref()).is_some()).count() as i64
}

fn touch(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let keys = &args[1..];
    Ok(Reply::Int(with_keys(ctx, keys, |a| touch_exec(a, keys))))
}

/// The type name of the value at `key` (`string`, `list`...), `None` if there is no key.
pub fn type_exec(a: &mut Access<'_>, key: &[u8]) -> Option<&'static str> {
    a.peek_read(key).map(|e| e.value.type_name())
}

fn type_(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let name = ctx.key(key, |a| type_exec(a, key)).unwrap_or("none");
    Ok(Reply::status(name))
}

// ---------------------------------------------------------------------------------------
// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT

/// Which of the four EXPIRE commands: the unit of the amount and whether it is relative to
/// now or an absolute Unix time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireCommand {
    /// EXPIRE: seconds from now.
    Expire,
    /// PEXPIRE: milliseconds from now.
    PExpire,
    /// EXPIREAT: Unix time in seconds.
    ExpireAt,
    /// PEXPIREAT: Unix time in milliseconds.
    PExpireAt,
}

impl ExpireCommand {
    /// The command name, as Redis quotes it in `invalid expire time in '<name>' command`.
    pub fn name(self) -> &'static str {
        match self {
            ExpireCommand::Expire => "expire",
            ExpireCommand::PExpire => "pexpire",
            ExpireCommand::ExpireAt => "expireat",
            ExpireCommand::PExpireAt => "pexpireat",
        }
    }

    /// The absolute expiry time in Unix ms that `amount` means at `now_ms`, with Redis's
    /// overflow checks (negative results are allowed: they delete the key).
    pub fn deadline_ms(self, amount: i64, now_ms: u64) -> Result<i64> {
        let invalid = || Error::InvalidExpire(self.name().to_string());
        let ms = match self {
            ExpireCommand::Expire | ExpireCommand::ExpireAt => {
                amount.checked_mul(1000).ok_or_else(invalid)?
            }
            ExpireCommand::PExpire | ExpireCommand::PExpireAt => amount,
        };
        let base = match self {
            ExpireCommand::Expire | ExpireCommand::PExpire => now_ms.min(i64::MAX as u64) as i64,
            ExpireCommand::ExpireAt | ExpireCommand::PExpireAt => 0,
        };
        // Redis rejects `when > LLONG_MAX - basetime`; `when` is never below LLONG_MIN/1000*1000
        // for seconds, and the base is not negative, so only the upper bound can overflow.
        ms.checked_add(base).ok_or_else(invalid)
    }
}

/// When an EXPIRE applies, relative to the key's current expiry (the NX/XX/GT/LT options).
/// A key without a TTL counts as expiring never, i.e. later than any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpireCondition {
    /// Always (no option).
    #[default]
    Always,
    /// NX: only if the key has no expiry.
    Nx,
    /// XX: only if the key has an expiry.
    Xx,
    /// GT: only if the new expiry is later than the current one (never for a key without
    /// expiry).
    Gt,
    /// LT: only if the new expiry is earlier than the current one (always for a key without
    /// expiry).
    Lt,
}

/// The NX/XX/GT/LT options as given; Redis accepts XX together with GT or LT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExpireFlags {
    /// NX given.
    pub nx: bool,
    /// XX given.
    pub xx: bool,
    /// GT given.
    pub gt: bool,
    /// LT given.
    pub lt: bool,
}

impl From<ExpireCondition> for ExpireFlags {
    fn from(c: ExpireCondition) -> Self {
        let mut f = ExpireFlags::default();
        match c {
            ExpireCondition::Always => {}
            ExpireCondition::Nx => f.nx = true,
            ExpireCondition::Xx => f.xx = true,
            ExpireCondition::Gt => f.gt = true,
            ExpireCondition::Lt => f.lt = true,
        }
        f
    }
}

impl ExpireFlags {
    /// Parses the options after the amount, with Redis's errors (`Unsupported option`, then
    /// the incompatibility errors).
    pub fn parse(opts: &[Bytes]) -> Result<ExpireFlags> {
        let mut f = ExpireFlags::default();
        for o in opts {
            if is(o, "nx") {
                f.nx = true;
            } else if is(o, "xx") {
                f.xx = true;
            } else if is(o, "gt") {
                f.gt = true;
            } else if is(o, "lt") {
                f.lt = true;
            } else {
                return Err(Error::unsupported_option(o));
            }
        }
        if f.nx && (f.xx || f.gt || f.lt) {
            return Err(error::EXPIRE_NX_AND_OTHERS);
        }
        if f.gt && f.lt {
            return Err(error::EXPIRE_GT_AND_LT);
        }
        Ok(f)
    }

    /// Whether an expiry at `when` may replace `current`.
    fn allows(self, current: Option<i64>, when: i64) -> bool {
        if self.nx && current.is_some() {
            return false;
        }
        if self.xx && current.is_none() {
            return false;
        }
        if self.gt && current.is_none_or(|c| when <= c) {
            return false;
        }
        if self.lt && current.is_some_and(|c| when >= c) {
            return false;
        }
        true
    }
}

/// Sets the expiry of `key` to `amount` in `cmd`'s terms. Returns whether the expiry was set
/// (or the key deleted because the time is already past); `false` when the key does not
/// exist or a condition fails.
pub fn expire_exec(
    a: &mut Access<'_>,
    key: &[u8],
    cmd: ExpireCommand,
    amount: i64,
    flags: ExpireFlags,
) -> Result<bool> {
    let now = a.now_ms();
    let when = cmd.deadline_ms(amount, now)?;
    let Some(entry) = a.get_mut(key) else {
        return Ok(false);
    };
    let current = entry.expire_at().map(|t| t as i64);
    if !flags.allows(current, when) {
        return Ok(false);
    }
    if when <= now as i64 {
        a.remove(key);
        a.touched(key);
        a.notify(Event::Del, key);
    } else {
        a.set_expire(key, Some(when as u64));
        a.touched(key);
        a.notify(Event::Expire, key);
    }
    Ok(true)
}

fn expire_generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], cmd: ExpireCommand) -> Result<Reply> {
    let key = &args[1];
    let flags = ExpireFlags::parse(&args[3..])?;
    let amount = args::int(&args[2])?;
    let set = ctx.key(key, |a| expire_exec(a, key, cmd, amount, flags))?;
    Ok(Reply::from(set))
}

fn expire(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    expire_generic(ctx, args, ExpireCommand::Expire)
}

fn pexpire(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    expire_generic(ctx, args, ExpireCommand::PExpire)
}

fn expireat(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    expire_generic(ctx, args, ExpireCommand::ExpireAt)
}

fn pexpireat(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    expire_generic(ctx, args, ExpireCommand::PExpireAt)
}

/// Removes the expiry of `key`; `true` if it had one.
pub fn persist_exec(a: &mut Access<'_>, key: &[u8]) -> bool {
    let had_ttl = a.get_mut(key).is_some_and(|e| e.expire_at().is_some());
    if had_ttl {
        a.set_expire(key, None);
        a.touched(key);
        a.notify(Event::Persist, key);
    }
    had_ttl
}

fn persist(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    Ok(Reply::from(ctx.key(key, |a| persist_exec(a, key))))
}

// ---------------------------------------------------------------------------------------
// TTL, PTTL, EXPIRETIME, PEXPIRETIME

/// What TTL-like commands report about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// The key does not exist (Redis replies -2).
    Missing,
    /// The key exists and has no expiry (Redis replies -1).
    Persistent,
    /// The key expires: the time left (TTL, PTTL) or the absolute Unix time (EXPIRETIME,
    /// PEXPIRETIME), in the command's unit.
    Expires(i64),
}

impl Ttl {
    /// The integer Redis replies with.
    pub fn to_redis(self) -> i64 {
        match self {
            Ttl::Missing => -2,
            Ttl::Persistent => -1,
            Ttl::Expires(n) => n,
        }
    }
}

/// The time left before `key` expires (`absolute`: its expiry time instead), in ms or (rounded
/// to nearest, like Redis) in seconds.
pub fn ttl_exec(a: &mut Access<'_>, key: &[u8], millis: bool, absolute: bool) -> Ttl {
    let now = a.now_ms() as i128;
    let Some(entry) = a.peek_read(key) else {
        return Ttl::Missing;
    };
    let Some(at) = entry.expire_at() else {
        return Ttl::Persistent;
    };
    let at = at as i128;
    let ms = if absolute { at } else { (at - now).max(0) };
    let n = if millis { ms } else { (ms + 500) / 1000 };
    Ttl::Expires(n.clamp(0, i64::MAX as i128) as i64)
}

fn ttl_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &[Bytes],
    millis: bool,
    absolute: bool,
) -> Result<Reply> {
    let key = &args[1];
    let t = ctx.key(key, |a| ttl_exec(a, key, millis, absolute));
    Ok(Reply::Int(t.to_redis()))
}

fn ttl(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    ttl_generic(ctx, args, false, false)
}

fn pttl(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    ttl_generic(ctx, args, true, false)
}

fn expiretime(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    ttl_generic(ctx, args, false, true)
}

fn pexpiretime(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    ttl_generic(ctx, args, true, true)
}

// ---------------------------------------------------------------------------------------
// RENAME, RENAMENX, COPY, MOVE

/// Renames `src` to `dst`, carrying its TTL. With `nx`, does nothing if `dst` exists. Returns
/// whether the rename happened (a rename onto itself counts as done for RENAME and not for
/// RENAMENX, as in Redis); `ERR no such key` if `src` does not exist.
pub fn rename_exec(a: &mut Access<'_>, src: &[u8], dst: &[u8], nx: bool) -> Result<bool> {
    if a.get_mut(src).is_none() {
        return Err(Error::NoSuchKey);
    }
    if src == dst {
        return Ok(!nx);
    }
    if nx && a.get_mut(dst).is_some() {
        return Ok(false);
    }
    let Some(entry) = a.remove(src) else {
        return Err(Error::NoSuchKey);
    };
    let db = a.db;
    let expire_at = entry.expire_at();
    // Like Redis, an existing destination is deleted and the key added anew (a `new`
    // event), silently.
    a.remove(dst);
    a.set_in(db, dst, entry.value, expire_at);
    a.touched(src);
    a.touched(dst);
    a.notify(Event::RenameFrom, src);
    a.notify(Event::RenameTo, dst);
    Ok(true)
}

fn rename(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (src, dst) = (&args[1], &args[2]);
    ctx.all(|a| rename_exec(a, src, dst, false))?;
    Ok(Reply::Ok)
}

fn renamenx(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (src, dst) = (&args[1], &args[2]);
    Ok(Reply::from(ctx.all(|a| rename_exec(a, src, dst, true))?))
}

/// Reads a database index argument like Redis's `getIntFromObjectOrReply` + `selectDb`.
fn parse_db_index(arg: &[u8], databases: usize) -> Result<usize> {
    let n = args::int(arg)?;
    let n = i32::try_from(n).map_err(|_| error::NOT_INT32)?;
    usize::try_from(n)
        .ok()
        .filter(|&i| i < databases)
        .ok_or(Error::DbIndexOutOfRange)
}

/// Copies the value (and TTL) of `src` to `dst` in database `dst_db` (default: the current
/// one). Returns whether it copied: `false` if `src` is missing, or `dst` exists and not
/// `replace`.
pub fn copy_exec(
    a: &mut Access<'_>,
    src: &[u8],
    dst: &[u8],
    dst_db: Option<usize>,
    replace: bool,
) -> Result<bool> {
    let dst_db = dst_db.unwrap_or(a.db);
    if dst_db >= a.keyspace().databases() {
        return Err(Error::DbIndexOutOfRange);
    }
    if dst_db == a.db && src == dst {
        return Err(error::SAME_OBJECT);
    }
    let Some(entry) = a.get(src) else {
        return Ok(false);
    };
    let (value, expire_at) = (entry.value.clone(), entry.expire_at());
    if a.get_in(dst_db, dst).is_some() {
        if !replace {
            return Ok(false);
        }
        // Redis deletes the old destination and adds the copy anew (a `new` event).
        a.remove_in(dst_db, dst);
    }
    a.set_in(dst_db, dst, value, expire_at);
    a.touched_in(dst_db, dst);
    a.notify_in(dst_db, Event::CopyTo, dst);
    // Clients blocked on `dst` in the destination database may take from it now.
    a.signal_ready(dst_db, dst);
    Ok(true)
}

fn copy(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (src, dst) = (&args[1], &args[2]);
    let databases = ctx.engine().keyspace.databases();
    let mut replace = false;
    let mut dst_db = None;
    let mut opts = Args::new(args, 3);
    while let Some(o) = opts.next() {
        if is(o, "replace") {
            replace = true;
        } else if is(o, "db") && opts.remaining() >= 1 {
            dst_db = Some(parse_db_index(opts.value()?, databases)?);
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok(Reply::from(
        ctx.all(|a| copy_exec(a, src, dst, dst_db, replace))?,
    ))
}

/// Moves `key` with its TTL to database `dst_db`. Returns whether it moved: `false` if the
/// key does not exist here or already exists there.
pub fn move_exec(a: &mut Access<'_>, key: &[u8], dst_db: usize) -> Result<bool> {
    if dst_db >= a.keyspace().databases() {
        return Err(Error::DbIndexOutOfRange);
    }
    if dst_db == a.db {
        return Err(error::SAME_OBJECT);
    }
    if a.get_mut(key).is_none() || a.get_in(dst_db, key).is_some() {
        return Ok(false);
    }
    let Some(entry) = a.remove(key) else {
        return Ok(false);
    };
    let expire_at = entry.expire_at();
    a.set_in(dst_db, key, entry.value, expire_at);
    a.touched(key);
    a.notify_watchers(dst_db, key);
    a.notify(Event::MoveFrom, key);
    a.notify_in(dst_db, Event::MoveTo, key);
    // Clients blocked on `key` in the destination database may take from it now.
    a.signal_ready(dst_db, key);
    Ok(true)
}

fn move_(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let dst_db = parse_db_index(&args[2], ctx.engine().keyspace.databases())?;
    // A key lives in the same shard in every database, so one shard lock covers both.
    Ok(Reply::from(ctx.key(key, |a| move_exec(a, key, dst_db))?))
}

// ---------------------------------------------------------------------------------------
// KEYS, RANDOMKEY

/// Every live key of the current database matching the glob `pattern`. Expired keys are
/// skipped but, like Redis, not removed here. Needs every shard locked.
pub fn keys_exec(a: &mut Access<'_>, pattern: &[u8]) -> Vec<Bytes> {
    debug_assert!(a.holds_all(), "KEYS needs every shard");
    let all = pattern == b"*";
    let (db, now) = (a.db, a.now_ms());
    let mut out = Vec::new();
    for table in a.tables(db) {
        for e in table.iter() {
            if (all || glob::matches(pattern, e.key(), false)) && !e.is_expired(now) {
                out.push(Bytes::copy_from_slice(e.key()));
            }
        }
    }
    out
}

fn keys(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let pattern = &args[1];
    let found = ctx.all(|a| keys_exec(a, pattern));
    Ok(Reply::Array(found.into_iter().map(Reply::Bulk).collect()))
}

/// A uniformly random live key of the current database, `None` if it has none. Needs every
/// shard locked. Expired keys drawn on the way are removed, as Redis does.
pub fn randomkey_exec(a: &mut Access<'_>, mut rand: impl FnMut() -> u64) -> Option<Bytes> {
    debug_assert!(a.holds_all(), "RANDOMKEY needs every shard");
    let (db, now) = (a.db, a.now_ms());
    loop {
        // Pick a shard with probability proportional to its size, then a key in it.
        let sizes: Vec<usize> = a.tables(db).map(|t| t.len()).collect();
        let total: usize = sizes.iter().sum();
        if total == 0 {
            return None;
        }
        let mut pick = (rand() % total as u64) as usize;
        let shard = sizes.iter().position(|&n| {
            if pick < n {
                true
            } else {
                pick -= n;
                false
            }
        })?;
        let entry = a.shard_table(shard, db).random(&mut rand)?;
        let key = Bytes::copy_from_slice(entry.key());
        if !entry.is_expired(now) {
            return Some(key);
        }
        // Removes it (lazy expiry) and draws again: the table shrank, so this ends.
        a.remove_in(db, &key);
    }
}

fn randomkey(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    let engine = ctx.engine;
    let key = ctx.all(|a| randomkey_exec(a, || engine.random_u64()));
    Ok(Reply::from(key))
}

// ---------------------------------------------------------------------------------------
// SCAN

/// A SCAN cursor: which shard, which bucket of that shard's table, and the table's epoch when
/// the bucket index was handed out.
///
/// Layout of the `u64` the client sees: bits 0..6 the shard, 6..40 the bucket, 40..64 the low
/// 24 bits of the epoch. Shard and bucket 0 (the whole cursor 0) is the start, as in Redis.
/// Every `u64` decodes to something: a bucket past the end of a table finishes that table,
/// and a stale epoch restarts it (keys may then come twice, which SCAN allows, but a key
/// present for the whole scan is never missed). The epoch comparison is modulo 2^24: a table
/// would have to be resized exactly a multiple of 16 million times between two calls to fool
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanCursor {
    /// Shard index, `0..SHARDS`.
    pub shard: usize,
    /// Next bucket of the shard's table.
    pub bucket: usize,
    /// Low [`ScanCursor::EPOCH_BITS`] bits of the table epoch `bucket` belongs to.
    pub epoch: u32,
}

impl ScanCursor {
    const SHARD_BITS: u32 = SHARDS.trailing_zeros();
    const BUCKET_BITS: u32 = 34;
    /// Bits of the table epoch kept in the cursor.
    pub const EPOCH_BITS: u32 = 64 - Self::SHARD_BITS - Self::BUCKET_BITS;
    const EPOCH_MASK: u32 = (1 << Self::EPOCH_BITS) - 1;
    const BUCKET_MASK: u64 = (1 << Self::BUCKET_BITS) - 1;

    /// Reads a cursor value.
    pub fn decode(c: u64) -> ScanCursor {
        ScanCursor {
            shard: (c & (SHARDS as u64 - 1)) as usize,
            bucket: ((c >> Self::SHARD_BITS) & Self::BUCKET_MASK) as usize,
            epoch: (c >> (Self::SHARD_BITS + Self::BUCKET_BITS)) as u32,
        }
    }

    /// The cursor value.
    pub fn encode(self) -> u64 {
        // A table with more than 2^34 buckets in one shard would need terabytes of memory.
        debug_assert!((self.bucket as u64) <= Self::BUCKET_MASK);
        self.shard as u64
            | (self.bucket as u64 & Self::BUCKET_MASK) << Self::SHARD_BITS
            | ((self.epoch & Self::EPOCH_MASK) as u64) << (Self::SHARD_BITS + Self::BUCKET_BITS)
    }
}

const _: () = assert!(SHARDS == 1 << ScanCursor::SHARD_BITS);

/// SCAN's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    /// MATCH: a glob the keys must match.
    pub pattern: Option<Bytes>,
    /// COUNT: roughly how many keys to look at per call (Redis's default is 10).
    pub count: usize,
    /// TYPE: only keys of this type (compared case-insensitively, like Redis).
    pub type_name: Option<Bytes>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            pattern: None,
            count: 10,
            type_name: None,
        }
    }
}

/// One SCAN step from `cursor`: the next cursor (0 when done) and the keys found. Needs every
/// shard locked.
pub fn scan_exec(a: &mut Access<'_>, cursor: u64, opts: &ScanOptions) -> (u64, Vec<Bytes>) {
    debug_assert!(a.holds_all(), "SCAN needs every shard");
    let (db, now) = (a.db, a.now_ms());
    let count = opts.count.max(1);
    let pattern = opts.pattern.as_deref().filter(|p| *p != b"*");
    let start = ScanCursor::decode(cursor);
    let mut shard = start.shard;
    let mut resume = Some(start);
    // (key, expired when seen)
    let mut seen: Vec<(Bytes, bool)> = Vec::new();
    let mut fetched = 0usize;
    let next = loop {
        if shard >= SHARDS {
            break 0;
        }
        let table = a.shard_table(shard, db);
        let epoch = table.epoch();
        let from = match resume.take() {
            Some(c) if c.bucket != 0 => TableCursor {
                bucket: c.bucket,
                epoch: if c.epoch == epoch & ScanCursor::EPOCH_MASK {
                    epoch
                } else {
                    epoch.wrapping_add(1) // stale: Table::scan restarts the table
                },
            },
            _ => TableCursor { bucket: 0, epoch },
        };
        let stopped = table.scan(from, count - fetched, |e| {
            fetched += 1;
            if pattern.is_none_or(|p| glob::matches(p, e.key(), false)) {
                seen.push((Bytes::copy_from_slice(e.key()), e.is_expired(now)));
            }
        });
        if let Some(c) = stopped {
            break ScanCursor {
                shard,
                bucket: c.bucket,
                epoch: c.epoch,
            }
            .encode();
        }
        shard += 1;
        if fetched >= count {
            break if shard == SHARDS {
                0
            } else {
                ScanCursor {
                    shard,
                    bucket: 0,
                    epoch: 0,
                }
                .encode()
            };
        }
    };
    let mut keys = Vec::with_capacity(seen.len());
    for (key, mut expired) in seen {
        if let Some(want) = &opts.type_name {
            // Redis reads the type through a lookup that counts a hit or miss and removes the
            // key if expired; an expired key then has type "none", and since it is already
            // gone, the expiry check below lets it through: `TYPE none` returns it.
            let name = a.peek_read(&key).map_or("none", |e| e.value.type_name());
            expired = false;
            if !name.as_bytes().eq_ignore_ascii_case(want) {
                continue;
            }
        }
        if expired {
            a.remove_in(db, &key);
            continue;
        }
        keys.push(key);
    }
    (next, keys)
}

/// The keys of a SCAN, step by step: see [`Db::scan_iter`].
#[derive(Debug)]
pub struct ScanIter {
    db: Db,
    opts: ScanOptions,
    cursor: u64,
    batch: std::vec::IntoIter<Bytes>,
    done: bool,
}

impl ScanIter {
    pub(crate) fn new(db: Db, opts: ScanOptions) -> ScanIter {
        ScanIter {
            db,
            opts,
            cursor: 0,
            batch: Vec::new().into_iter(),
            done: false,
        }
    }
}

impl Iterator for ScanIter {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(k) = self.batch.next() {
                return Some(k);
            }
            if self.done {
                return None;
            }
            let (next, keys) = self.db.scan(self.cursor, &self.opts);
            self.cursor = next;
            self.done = next == 0;
            self.batch = keys.into_iter();
        }
    }
}

/// Parses a SCAN cursor like Redis's `strtoul` based parser: the text up to the first NUL,
/// no leading space, an optional sign (a negative value wraps), digits, nothing after.
pub fn parse_cursor(arg: &[u8]) -> Result<u64> {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
    let s = &arg[..end];
    let Some(&first) = s.first() else {
        return Ok(0);
    };
    if matches!(first, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        return Err(error::INVALID_CURSOR);
    }
    let (neg, digits) = match first {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return Err(error::INVALID_CURSOR);
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(error::INVALID_CURSOR);
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((c - b'0') as u64))
            .ok_or(error::INVALID_CURSOR)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

fn scan(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let cursor = parse_cursor(&args[1])?;
    let mut opts = ScanOptions::default();
    let mut it = Args::new(args, 2);
    while let Some(o) = it.next() {
        if is(o, "count") && it.remaining() >= 1 {
            let n = args::int(it.value()?)?;
            if n < 1 {
                return Err(Error::Syntax);
            }
            opts.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(o, "match") && it.remaining() >= 1 {
            opts.pattern = Some(it.value()?.clone());
        } else if is(o, "type") && it.remaining() >= 1 {
            opts.type_name = Some(it.value()?.clone());
        } else {
            return Err(Error::Syntax);
        }
    }
    let (next, keys) = ctx.all(|a| scan_exec(a, cursor, &opts));
    Ok(Reply::Array(vec![
        Reply::Bulk(Bytes::copy_from_slice(
            itoa::Buffer::new().format(next).as_bytes(),
        )),
        Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
    ]))
}

// ---------------------------------------------------------------------------------------
// OBJECT

fn object(_ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    // The table resolves every subcommand; this row only answers names it does not know.
    Err(Error::unknown_subcommand("object", &args[1]))
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

fn object_help(_ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Array(
        OBJECT_HELP.iter().map(|l| Reply::status(l)).collect(),
    ))
}

/// What OBJECT reports about a key's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectField {
    /// OBJECT ENCODING.
    Encoding,
    /// OBJECT IDLETIME.
    IdleTime,
    /// OBJECT REFCOUNT.
    RefCount,
    /// OBJECT FREQ.
    Freq,
}

/// An OBJECT answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectInfo {
    /// An encoding name.
    Encoding(&'static str),
    /// A number (idle seconds, reference count).
    Int(i64),
}

/// The memory policy facts OBJECT depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryPolicy {
    /// `maxmemory` is non-zero.
    pub maxmemory: bool,
    /// The policy is `allkeys-lfu` or `volatile-lfu`.
    pub lfu: bool,
    /// The policy is `allkeys-lru` or `volatile-lru`.
    pub lru: bool,
}

impl MemoryPolicy {
    fn of(ctx: &Ctx<'_, '_>) -> MemoryPolicy {
        ctx.engine().config.read(|c| MemoryPolicy {
            maxmemory: c.maxmemory != 0,
            lfu: c.maxmemory_policy.contains("lfu"),
            lru: c.maxmemory_policy.contains("lru"),
        })
    }
}

/// Redis shares the objects of the integers 0..10000 (refcount `INT_MAX`) unless maxmemory
/// with an LRU or LFU policy needs a per-object access clock.
const OBJ_SHARED_INTEGERS: i64 = 10_000;
const OBJ_SHARED_REFCOUNT: i64 = i32::MAX as i64;

/// One OBJECT field of `key`'s value; `Ok(None)` if there is no key. Does not refresh the
/// key's access time.
pub fn object_exec(
    a: &mut Access<'_>,
    key: &[u8],
    field: ObjectField,
    policy: MemoryPolicy,
) -> Result<Option<ObjectInfo>> {
    let now = a.now_ms();
    let decay = a.keyspace().lfu_decay_time();
    let Some(entry) = a.peek_read_silent(key) else {
        return Ok(None);
    };
    let info = match field {
        ObjectField::Encoding => ObjectInfo::Encoding(entry.value.encoding()),
        ObjectField::IdleTime => {
            if policy.lfu {
                return Err(error::LFU_SELECTED);
            }
            ObjectInfo::Int(evict::lru_idle_secs(entry.meta(), now) as i64)
        }
        ObjectField::RefCount => {
            // Whether the value was shared depends on the policy when it was stored; the
            // policy now is what is known (they agree unless it changed in between).
            let shared_allowed = !policy.maxmemory || !(policy.lru || policy.lfu);
            let shared = matches!(&entry.value, Value::Str(Str::Int(n))
                if shared_allowed && (0..OBJ_SHARED_INTEGERS).contains(n));
            ObjectInfo::Int(if shared { OBJ_SHARED_REFCOUNT } else { 1 })
        }
        ObjectField::Freq => {
            if !policy.lfu {
                return Err(error::LFU_NOT_SELECTED);
            }
            ObjectInfo::Int(i64::from(evict::lfu_counter(entry.meta(), now, decay)))
        }
    };
    Ok(Some(info))
}

fn object_field(ctx: &mut Ctx<'_, '_>, args: &[Bytes], field: ObjectField) -> Result<Reply> {
    let key = &args[2];
    let policy = MemoryPolicy::of(ctx);
    Ok(
        match ctx.key(key, |a| object_exec(a, key, field, policy))? {
            None => Reply::Nil,
            Some(ObjectInfo::Encoding(e)) => Reply::bulk(e),
            Some(ObjectInfo::Int(n)) => Reply::Int(n),
        },
    )
}

fn object_encoding(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    object_field(ctx, args, ObjectField::Encoding)
}

fn object_freq(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    object_field(ctx, args, ObjectField::Freq)
}

fn object_idletime(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    object_field(ctx, args, ObjectField::IdleTime)
}

fn object_refcount(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    object_field(ctx, args, ObjectField::RefCount)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;

    fn db_with_clock() -> (Db, ManualClock) {
        let clock = ManualClock::starting_at_micros(1_700_000_000_000_000);
        let db = Db::builder()
            .clock(clock.clone())
            .seed(1)
            .active_expiry(false)
            .build();
        (db, clock)
    }

    fn int(r: Reply) -> i64 {
        match r {
            Reply::Int(n) => n,
            other => panic!("not an integer: {other:?}"),
        }
    }

    #[test]
    fn cursor_parsing_follows_strtoul() {
        assert_eq!(parse_cursor(b"0"), Ok(0));
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"00"), Ok(0));
        assert_eq!(parse_cursor(b"+5"), Ok(5));
        assert_eq!(parse_cursor(b"5\x00junk"), Ok(5));
        assert_eq!(parse_cursor(b"\x00junk"), Ok(0));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"-18446744073709551615"), Ok(1));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [
            &b"18446744073709551616"[..],
            b"-18446744073709551616",
            b"-",
            b"+",
            b" 1",
            b"\t1",
            b"1 ",
            b"0x1",
            b"1.5",
            b"abc",
        ] {
            assert_eq!(parse_cursor(bad), Err(error::INVALID_CURSOR), "{bad:?}");
        }
    }

    #[test]
    fn cursor_round_trips() {
        for c in [
            ScanCursor {
                shard: 0,
                bucket: 0,
                epoch: 0,
            },
            ScanCursor {
                shard: 63,
                bucket: (1 << 34) - 1,
                epoch: (1 << 24) - 1,
            },
            ScanCursor {
                shard: 5,
                bucket: 12345,
                epoch: 77,
            },
        ] {
            assert_eq!(ScanCursor::decode(c.encode()), c);
        }
        assert_eq!(ScanCursor::decode(0).encode(), 0);
        assert_ne!(
            ScanCursor {
                shard: 1,
                bucket: 0,
                epoch: 0
            }
            .encode(),
            0
        );
    }

    /// Runs a whole SCAN, calling `between` with the cursor after every step; returns every
    /// key returned.
    fn full_scan(db: &Db, count: usize, mut between: impl FnMut(u64)) -> HashSet<Bytes> {
        let opts = ScanOptions {
            count,
            ..Default::default()
        };
        let mut seen = HashSet::new();
        let mut cursor = 0;
        for step in 0.. {
            assert!(step < 1_000_000, "scan does not terminate");
            let (next, keys) = db.scan(cursor, &opts);
            seen.extend(keys);
            if next == 0 {
                break;
            }
            cursor = next;
            between(cursor);
        }
        seen
    }

    #[test]
    fn scan_without_changes_returns_every_key() {
        let db = Db::builder().seed(3).build();
        for i in 0..3000 {
            db.set(format!("k{i}"), "v");
        }
        for count in [1, 7, 10, 1000, 100_000] {
            let seen = full_scan(&db, count, |_| {});
            assert_eq!(seen.len(), 3000, "count {count}");
        }
    }

    #[test]
    fn scan_never_misses_a_key_present_throughout() {
        for seed in 0..8u64 {
            let db = Db::builder().seed(seed).build();
            let stable: Vec<String> = (0..500).map(|i| format!("stable:{i}")).collect();
            for k in &stable {
                db.set(k, "v");
            }
            let mut added = 0usize;
            let mut removed = 0usize;
            let mut step = 0;
            let seen = full_scan(&db, 1 + seed as usize % 5, |_| {
                step += 1;
                // Keys come and go while the scan runs; the tables grow several times over.
                if step % 3 == 0 && added < 20_000 {
                    for _ in 0..60 {
                        db.set(format!("churn:{added}"), "v");
                        added += 1;
                    }
                }
                if step % 2 == 0 {
                    for _ in 0..20 {
                        if removed < added {
                            db.del(&[format!("churn:{removed}")]);
                            removed += 1;
                        }
                    }
                }
            });
            for k in &stable {
                assert!(seen.contains(k.as_bytes()), "seed {seed}: missed {k}");
            }
            assert!(
                added > 1000,
                "the scan should have run long enough to grow tables"
            );
        }
    }

    #[test]
    fn scan_never_misses_a_key_while_the_scanned_table_churns() {
        // Deletes leave tombstones; when they use up the spare capacity, the next insert
        // rehashes the table in place, which moves entries to other buckets (possibly before
        // the cursor); inserts also grow the table. The table epoch makes the scan restart
        // that table instead of missing keys. Here every change lands in the shard the cursor
        // is in, with small tables and one bucket per step, where a scan that ignored the
        // epoch misses keys.
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for seed in 0..6u64 {
            let db = Db::builder().seed(seed).build();
            let stable: Vec<String> = (0..640).map(|i| format!("stable:{i}")).collect();
            for k in &stable {
                db.set(k, "v");
            }
            let ks = &db.engine().keyspace;
            let mut live: Vec<Vec<String>> = vec![Vec::new(); SHARDS];
            let mut fresh = 0usize;
            let mut new_key_in = |shard: usize| loop {
                let k = format!("churn:{fresh}");
                fresh += 1;
                if ks.shard_index(k.as_bytes()) == shard {
                    return k;
                }
            };
            let seen = full_scan(&db, 1, |cursor| {
                let shard = ScanCursor::decode(cursor).shard;
                for _ in 0..rnd() % 5 {
                    let keys = &mut live[shard];
                    if rnd() % 2 == 0 || keys.is_empty() {
                        let k = new_key_in(shard);
                        db.set(&k, "v");
                        keys.push(k);
                    } else {
                        let k = keys.swap_remove(rnd() as usize % keys.len());
                        db.del(&[k]);
                    }
                }
            });
            for k in &stable {
                assert!(seen.contains(k.as_bytes()), "seed {seed}: missed {k}");
            }
        }
    }

    #[test]
    fn scan_filters_and_lazily_expires() {
        let (db, clock) = db_with_clock();
        db.set("a1", "v");
        db.set("a2", "v");
        db.set("b1", "v");
        db.pexpire("a2", 100, ExpireCondition::Always).unwrap();
        clock.advance(Duration::from_millis(200));
        let opts = ScanOptions {
            pattern: Some(Bytes::from_static(b"a*")),
            count: 1000,
            type_name: None,
        };
        let (next, keys) = db.scan(0, &opts);
        assert_eq!(next, 0);
        assert_eq!(keys, vec![Bytes::from_static(b"a1")]);
        // The expired key met by SCAN was removed, not just skipped.
        assert_eq!(db.engine().stats.expired_keys.get(), 1);
        assert_eq!(db.call(["DBSIZE"]), Reply::Int(2));
    }

    #[test]
    fn scan_type_none_returns_expired_keys_like_redis() {
        let (db, clock) = db_with_clock();
        db.set("k", "v");
        db.set("live", "v");
        db.pexpire("k", 1, ExpireCondition::Always).unwrap();
        clock.advance(Duration::from_millis(10));
        let r = db.call(["SCAN", "0", "TYPE", "none"]);
        assert_eq!(
            r,
            Reply::Array(vec![Reply::bulk("0"), Reply::Array(vec![Reply::bulk("k")])])
        );
        assert_eq!(db.call(["DBSIZE"]), Reply::Int(1));
        let hits = db.engine().stats.keyspace_hits.get();
        db.call(["SCAN", "0", "TYPE", "STRING"]);
        assert_eq!(db.engine().stats.keyspace_hits.get(), hits + 1);
    }

    #[test]
    fn keys_skips_expired_without_removing() {
        let (db, clock) = db_with_clock();
        db.set("a", "v");
        db.set("b", "v");
        db.pexpire("b", 5, ExpireCondition::Always).unwrap();
        // Like Redis, a key lives through its expiry millisecond.
        clock.advance(Duration::from_millis(6));
        assert_eq!(db.keys("*"), vec![Bytes::from_static(b"a")]);
        assert_eq!(db.call(["DBSIZE"]), Reply::Int(2));
    }

    #[test]
    fn randomkey_is_spread_over_shards_and_expires_lazily() {
        let (db, clock) = db_with_clock();
        assert_eq!(db.random_key(), None);
        for i in 0..200 {
            db.set(format!("k{i}"), "v");
        }
        let mut seen = HashSet::new();
        for _ in 0..4000 {
            seen.insert(db.random_key().unwrap());
        }
        // 4000 draws over 200 keys: missing any key is a ~1e-9 event when uniform.
        assert_eq!(seen.len(), 200);
        for i in 0..199 {
            db.pexpire(format!("k{i}"), 1, ExpireCondition::Always)
                .unwrap();
        }
        clock.advance(Duration::from_millis(2));
        assert_eq!(db.random_key(), Some(Bytes::from_static(b"k199")));
        for i in 199..200 {
            db.pexpire(format!("k{i}"), 1, ExpireCondition::Always)
                .unwrap();
        }
        clock.advance(Duration::from_millis(2));
        assert_eq!(db.random_key(), None);
        assert_eq!(db.call(["DBSIZE"]), Reply::Int(0));
    }

    #[test]
    fn randomkey_is_reproducible_with_a_seed() {
        let draw = || {
            let db = Db::builder().seed(99).build();
            for i in 0..50 {
                db.set(format!("k{i}"), "v");
            }
            (0..20).map(|_| db.random_key()).collect::<Vec<_>>()
        };
        assert_eq!(draw(), draw());
    }

    #[test]
    fn expire_flags_parse_and_combine() {
        let p = |opts: &[&str]| {
            ExpireFlags::parse(
                &opts
                    .iter()
                    .map(|o| Bytes::copy_from_slice(o.as_bytes()))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(p(&[]), Ok(ExpireFlags::default()));
        assert_eq!(p(&["nx", "NX"]), Ok(ExpireCondition::Nx.into()));
        assert_eq!(p(&["xx", "gt"]).map(|f| (f.xx, f.gt)), Ok((true, true)));
        assert_eq!(p(&["nx", "xx"]), Err(error::EXPIRE_NX_AND_OTHERS));
        assert_eq!(p(&["lt", "nx"]), Err(error::EXPIRE_NX_AND_OTHERS));
        assert_eq!(p(&["gt", "lt"]), Err(error::EXPIRE_GT_AND_LT));
        assert_eq!(
            p(&["bad", "nx", "xx"]).unwrap_err().to_string(),
            "ERR Unsupported option bad"
        );
        let f = ExpireFlags::from(ExpireCondition::Lt);
        assert!(f.allows(None, 5));
        assert!(!f.allows(Some(5), 5));
        assert!(f.allows(Some(6), 5));
        let f = ExpireFlags::from(ExpireCondition::Gt);
        assert!(!f.allows(None, 5));
        assert!(f.allows(Some(4), 5));
    }

    #[test]
    fn deadline_overflow_matches_redis() {
        use ExpireCommand::*;
        assert!(
            Expire
                .deadline_ms(i64::MAX / 1000, 1_700_000_000_000)
                .is_err()
        );
        assert!(Expire.deadline_ms(i64::MAX / 1000, 1).is_ok());
        assert!(Expire.deadline_ms(i64::MAX / 1000 + 1, 0).is_err());
        assert_eq!(
            ExpireAt.deadline_ms(i64::MAX / 1000, 0),
            Ok(i64::MAX / 1000 * 1000)
        );
        assert_eq!(PExpireAt.deadline_ms(i64::MAX, 0), Ok(i64::MAX));
        assert!(PExpire.deadline_ms(i64::MAX, 1).is_err());
        assert_eq!(PExpire.deadline_ms(i64::MIN, 5), Ok(i64::MIN + 5));
        assert_eq!(
            Expire.deadline_ms(i64::MAX, 0).unwrap_err().to_string(),
            "ERR invalid expire time in 'expire' command"
        );
    }

    #[test]
    fn ttl_rounding_and_far_expiry() {
        let (db, clock) = db_with_clock();
        db.set("k", "v");
        db.pexpire("k", 1500, ExpireCondition::Always).unwrap();
        assert_eq!(db.ttl("k"), Ttl::Expires(2));
        clock.advance(Duration::from_millis(1));
        assert_eq!(db.ttl("k"), Ttl::Expires(1));
        assert_eq!(db.pttl("k"), Ttl::Expires(1499));
        db.pexpire_at("k", i64::MAX, ExpireCondition::Always)
            .unwrap();
        assert_eq!(db.pexpire_time("k"), Ttl::Expires(i64::MAX));
        assert_eq!(db.expire_time("k"), Ttl::Expires(9_223_372_036_854_776));
        assert!(db.persist("k"));
        assert_eq!(db.ttl("k"), Ttl::Persistent);
        assert_eq!(db.ttl("nokey").to_redis(), -2);
    }

    #[test]
    fn object_idletime_reads_without_touching() {
        let (db, clock) = db_with_clock();
        db.set("k", "v");
        clock.advance(Duration::from_secs(5));
        // None of these refresh the access time.
        db.exists(&["k"]);
        db.key_type("k");
        db.ttl("k");
        db.object_encoding("k");
        assert_eq!(int(db.call(["OBJECT", "IDLETIME", "k"])), 5);
        db.touch(&["k"]);
        assert_eq!(db.object_idletime("k"), Some(0));
        clock.advance(Duration::from_secs(3));
        db.expire("k", 100, ExpireCondition::Always).unwrap();
        assert_eq!(db.object_idletime("k"), Some(0));
        assert_eq!(db.object_idletime("nokey"), None);
    }

    #[test]
    fn object_under_memory_policies() {
        let db = Db::builder().build();
        db.set("n", "5");
        db.set("s", "str");
        assert_eq!(int(db.call(["OBJECT", "REFCOUNT", "n"])), i32::MAX as i64);
        assert_eq!(int(db.call(["OBJECT", "REFCOUNT", "s"])), 1);
        assert_eq!(
            db.call(["OBJECT", "FREQ", "n"]),
            Reply::Error(error::LFU_NOT_SELECTED)
        );
        db.engine().config.update(|c| {
            c.maxmemory = 1 << 30;
            c.maxmemory_policy = "allkeys-lfu".into();
        });
        assert_eq!(int(db.call(["OBJECT", "REFCOUNT", "n"])), 1);
        assert_eq!(
            db.call(["OBJECT", "IDLETIME", "n"]),
            Reply::Error(error::LFU_SELECTED)
        );
        assert_eq!(db.call(["OBJECT", "IDLETIME", "nokey"]), Reply::Nil);
        assert_eq!(db.call(["OBJECT", "FREQ", "nokey"]), Reply::Nil);
        db.engine().config.update(|c| {
            c.maxmemory_policy = "allkeys-random".into();
        });
        assert_eq!(int(db.call(["OBJECT", "REFCOUNT", "n"])), i32::MAX as i64);
    }

    #[test]
    fn rename_copy_move_carry_ttl() {
        let (db, _clock) = db_with_clock();
        db.set("a", "1");
        db.pexpire_at("a", 4_000_000_000_000, ExpireCondition::Always)
            .unwrap();
        db.rename("a", "b").unwrap();
        assert_eq!(db.pexpire_time("b"), Ttl::Expires(4_000_000_000_000));
        assert_eq!(db.copy("b", "c", Some(2), false), Ok(true));
        let db2 = db.select(2).unwrap();
        assert_eq!(db2.pexpire_time("c"), Ttl::Expires(4_000_000_000_000));
        assert_eq!(db2.move_to("c", 0), Ok(true));
        assert_eq!(db.pexpire_time("c"), Ttl::Expires(4_000_000_000_000));
        assert_eq!(db.move_to("c", 0), Err(error::SAME_OBJECT));
        assert_eq!(db.move_to("c", 99), Err(Error::DbIndexOutOfRange));
        assert_eq!(
            db.copy("c", "d", Some(99), false),
            Err(Error::DbIndexOutOfRange)
        );
        assert_eq!(db.renamenx("c", "b"), Ok(false));
        assert_eq!(db.renamenx("zz", "b"), Err(Error::NoSuchKey));
        let mut keys = db.keys("*");
        keys.sort();
        assert_eq!(keys, ["b", "c"]);
    }

    #[test]
    fn expire_in_the_past_deletes_and_counts_as_a_write() {
        let (db, _clock) = db_with_clock();
        db.set("k", "v");
        let dirty = db.engine().stats.dirty.get();
        assert_eq!(db.expire("k", -1, ExpireCondition::Always), Ok(true));
        assert_eq!(db.exists(&["k"]), 0);
        assert_eq!(db.engine().stats.dirty.get(), dirty + 1);
        assert_eq!(db.expire("k", 10, ExpireCondition::Always), Ok(false));
    }
}
