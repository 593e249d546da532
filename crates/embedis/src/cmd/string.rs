//! String commands: the `string` group of Redis 7.0 (GET, SET and its options, counters,
//! ranges, multi-key MGET/MSET/MSETNX, LCS), with Redis's replies, errors and error order.

use bytes::Bytes;

use super::args::{int, is};
use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::error::{self, Error, Result};
use crate::keyspace::{Access, Value};
use crate::num::LongDouble;
use crate::pubsub::Event;
use crate::reply::Reply;
use crate::types::string::Str;

/// The string family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("append", 3, WRITE | DENYOOM | FAST, append).keys(1, 1, 1),
    CommandSpec::new("decr", 2, WRITE | DENYOOM | FAST, decr).keys(1, 1, 1),
    CommandSpec::new("decrby", 3, WRITE | DENYOOM | FAST, decrby).keys(1, 1, 1),
    CommandSpec::new("get", 2, READONLY | FAST, get).keys(1, 1, 1),
    CommandSpec::new("getdel", 2, WRITE | FAST, getdel).keys(1, 1, 1),
    CommandSpec::new("getex", -2, WRITE | FAST, getex).keys(1, 1, 1),
    CommandSpec::new("getrange", 4, READONLY, getrange).keys(1, 1, 1),
    CommandSpec::new("getset", 3, WRITE | DENYOOM | FAST, getset).keys(1, 1, 1),
    CommandSpec::new("incr", 2, WRITE | DENYOOM | FAST, incr).keys(1, 1, 1),
    CommandSpec::new("incrby", 3, WRITE | DENYOOM | FAST, incrby).keys(1, 1, 1),
    CommandSpec::new("incrbyfloat", 3, WRITE | DENYOOM | FAST, incrbyfloat).keys(1, 1, 1),
    CommandSpec::new("lcs", -3, READONLY, lcs).keys(1, 2, 1),
    CommandSpec::new("mget", -2, READONLY | FAST, mget).keys(1, -1, 1),
    CommandSpec::new("mset", -3, WRITE | DENYOOM, mset).keys(1, -1, 2),
    CommandSpec::new("msetnx", -3, WRITE | DENYOOM, msetnx).keys(1, -1, 2),
    CommandSpec::new("psetex", 4, WRITE | DENYOOM, psetex).keys(1, 1, 1),
    CommandSpec::new("set", -3, WRITE | DENYOOM, set).keys(1, 1, 1),
    CommandSpec::new("setex", 4, WRITE | DENYOOM, setex).keys(1, 1, 1),
    CommandSpec::new("setnx", 3, WRITE | DENYOOM | FAST, setnx).keys(1, 1, 1),
    CommandSpec::new("setrange", 4, WRITE | DENYOOM, setrange).keys(1, 1, 1),
    CommandSpec::new("strlen", 2, READONLY | FAST, strlen).keys(1, 1, 1),
    CommandSpec::new("substr", 4, READONLY, getrange).keys(1, 1, 1),
];

// ---------------------------------------------------------------------------------------
// Shared lookups

/// The string at `key` for a read (counts a keyspace hit or miss, like `lookupKeyRead`).
fn read_str<'e>(a: &'e mut Access<'_>, key: &[u8]) -> Result<Option<&'e mut Str>> {
    match a.get(key) {
        None => Ok(None),
        Some(e) => as_str(&mut e.value).map(Some),
    }
}

/// The string at `key` for a write (no hit/miss statistics, like `lookupKeyWrite`).
fn write_str<'e>(a: &'e mut Access<'_>, key: &[u8]) -> Result<Option<&'e mut Str>> {
    match a.get_mut(key) {
        None => Ok(None),
        Some(e) => as_str(&mut e.value).map(Some),
    }
}

fn as_str(v: &mut Value) -> Result<&mut Str> {
    match v {
        Value::Str(s) => Ok(s),
        #[allow(unreachable_patterns)]
        _ => Err(Error::WrongType),
    }
}

fn to_bytes(s: &Str) -> Bytes {
    Bytes::copy_from_slice(&s.as_bytes())
}

/// Runs `f` with the one key's shard locked, or everything locked for several keys.
fn on_keys<R>(ctx: &mut Ctx<'_, '_>, keys: &[&[u8]], f: impl FnOnce(&mut Access<'_>) -> R) -> R {
    match keys {
        [one] => ctx.key(one, f),
        [first, rest @ ..] if rest.iter().all(|k| k == first) => ctx.key(first, f),
        _ => ctx.all(f),
    }
}

fn max_string_len(ctx: &Ctx<'_, '_>) -> u64 {
    ctx.engine().config.read(|c| c.proto_max_bulk_len)
}

// ---------------------------------------------------------------------------------------
// GET, GETDEL, GETSET, STRLEN, GETRANGE

/// The string value of `key`: `Ok(None)` if missing, WRONGTYPE if not a string.
pub fn get_exec(a: &mut Access<'_>, key: &[u8]) -> Result<Option<Bytes>> {
    // A read-only lookup: GET is the hottest command, and it changes nothing.
    match a.get_read(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(s) => Ok(Some(to_bytes(s))),
            _ => Err(Error::WrongType),
        },
    }
}

fn get(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    ctx.key(key, |a| get_exec(a, key)).map(Reply::from)
}

/// GETDEL: the value of `key`, which is then removed.
pub fn getdel_exec(a: &mut Access<'_>, key: &[u8]) -> Result<Option<Bytes>> {
    let old = get_exec(a, key)?;
    if old.is_some() {
        a.remove(key);
        a.touched(key);
        a.notify(Event::Del, key);
    }
    Ok(old)
}

fn getdel(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    ctx.key(key, |a| getdel_exec(a, key)).map(Reply::from)
}

/// GETSET: stores `value` (dropping any TTL) and returns the previous value.
pub fn getset_exec(a: &mut Access<'_>, key: &[u8], value: &[u8]) -> Result<Option<Bytes>> {
    let old = get_exec(a, key)?;
    a.set(key, Value::Str(Str::from_bytes(value)));
    a.touched(key);
    a.notify(Event::Set, key);
    Ok(old)
}

fn getset(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    ctx.key(key, |a| getset_exec(a, key, &args[2]))
        .map(Reply::from)
}

/// STRLEN: the length of the string at `key`, 0 if missing.
pub fn strlen_exec(a: &mut Access<'_>, key: &[u8]) -> Result<i64> {
    Ok(read_str(a, key)?.map_or(0, |s| s.len() as i64))
}

fn strlen(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    ctx.key(key, |a| strlen_exec(a, key)).map(Reply::Int)
}

/// GETRANGE (and SUBSTR): the bytes from `start` to `end` inclusive, negative offsets counting
/// from the end, clamped to the string; empty if missing.
pub fn getrange_exec(a: &mut Access<'_>, key: &[u8], start: i64, end: i64) -> Result<Bytes> {
    let Some(s) = read_str(a, key)? else {
        return Ok(Bytes::new());
    };
    let bytes = s.as_bytes();
    Ok(match byte_range(bytes.len(), start, end) {
        Some((from, to)) => Bytes::copy_from_slice(&bytes[from..=to]),
        None => Bytes::new(),
    })
}

/// Redis's GETRANGE index rules: the inclusive byte range to return, `None` for nothing.
fn byte_range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end }.max(0).min(len - 1);
    (len > 0 && start <= end).then_some((start as usize, end as usize))
}

fn getrange(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (start, end) = (int(&args[2])?, int(&args[3])?);
    let key = &args[1];
    ctx.key(key, |a| getrange_exec(a, key, start, end))
        .map(Reply::Bulk)
}

// ---------------------------------------------------------------------------------------
// SET and its variants, GETEX

/// An expiry as SET, SETEX, PSETEX and GETEX take it: relative seconds or milliseconds, or an
/// absolute Unix time in seconds or milliseconds. Values must be positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// `EX seconds`
    Ex(i64),
    /// `PX milliseconds`
    Px(i64),
    /// `EXAT unix-seconds`
    ExAt(i64),
    /// `PXAT unix-milliseconds`
    PxAt(i64),
}

impl Expiry {
    fn with_value(self, n: i64) -> Expiry {
        match self {
            Expiry::Ex(_) => Expiry::Ex(n),
            Expiry::Px(_) => Expiry::Px(n),
            Expiry::ExAt(_) => Expiry::ExAt(n),
            Expiry::PxAt(_) => Expiry::PxAt(n),
        }
    }

    fn is_absolute(self) -> bool {
        matches!(self, Expiry::ExAt(_) | Expiry::PxAt(_))
    }

    /// The absolute expiry in Unix ms, with Redis's range checks (`ERR invalid expire time in
    /// '<command>' command` for zero, negative, or overflowing times).
    pub fn resolve(self, now_ms: u64, command: &str) -> Result<u64> {
        let invalid = || Error::InvalidExpire(command.to_string());
        let (n, seconds) = match self {
            Expiry::Ex(n) | Expiry::ExAt(n) => (n, true),
            Expiry::Px(n) | Expiry::PxAt(n) => (n, false),
        };
        if n <= 0 {
            return Err(invalid());
        }
        let ms = if seconds {
            n.checked_mul(1000).ok_or_else(invalid)?
        } else {
            n
        };
        let at = if self.is_absolute() {
            ms
        } else {
            ms.checked_add(i64::try_from(now_ms).map_err(|_| invalid())?)
                .ok_or_else(invalid)?
        };
        Ok(at as u64)
    }
}

/// When SET writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetCondition {
    /// Always (no NX/XX).
    #[default]
    Always,
    /// `NX`: only if the key does not exist.
    IfMissing,
    /// `XX`: only if the key exists.
    IfExists,
}

/// SET's options.
///
/// ```
/// use embedis::cmd::string::SetOptions;
/// let opts = SetOptions::default().if_missing().px(1500).get();
/// assert!(opts.get);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetOptions {
    /// NX / XX.
    pub condition: SetCondition,
    /// EX / PX / EXAT / PXAT; `None` drops the TTL unless `keep_ttl`.
    pub expiry: Option<Expiry>,
    /// KEEPTTL (may not be combined with `expiry`).
    pub keep_ttl: bool,
    /// GET: return the previous value (and fail with WRONGTYPE if it is not a string).
    pub get: bool,
}

impl SetOptions {
    /// NX.
    pub fn if_missing(mut self) -> Self {
        self.condition = SetCondition::IfMissing;
        self
    }

    /// XX.
    pub fn if_exists(mut self) -> Self {
        self.condition = SetCondition::IfExists;
        self
    }

    /// EX `seconds`.
    pub fn ex(mut self, seconds: i64) -> Self {
        self.expiry = Some(Expiry::Ex(seconds));
        self
    }

    /// PX `milliseconds`.
    pub fn px(mut self, milliseconds: i64) -> Self {
        self.expiry = Some(Expiry::Px(milliseconds));
        self
    }

    /// EXAT `unix_seconds`.
    pub fn exat(mut self, unix_seconds: i64) -> Self {
        self.expiry = Some(Expiry::ExAt(unix_seconds));
        self
    }

    /// PXAT `unix_milliseconds`.
    pub fn pxat(mut self, unix_milliseconds: i64) -> Self {
        self.expiry = Some(Expiry::PxAt(unix_milliseconds));
        self
    }

    /// KEEPTTL.
    pub fn keep_ttl(mut self) -> Self {
        self.keep_ttl = true;
        self
    }

    /// GET.
    pub fn get(mut self) -> Self {
        self.get = true;
        self
    }
}

/// What SET did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOutcome {
    /// Whether the value was stored (false when NX/XX prevented it).
    pub written: bool,
    /// With [`SetOptions::get`]: the previous value, `None` if there was none.
    pub previous: Option<Bytes>,
}

/// SET with options (the errors name the `set` command).
pub fn set_exec(
    a: &mut Access<'_>,
    key: &[u8],
    value: &[u8],
    opts: &SetOptions,
) -> Result<SetOutcome> {
    set_generic(a, key, value, opts, "set")
}

/// SET, SETEX, PSETEX, SETNX: `command` names the command in expire errors. Order as in
/// Redis: expiry range, then GET's lookup (WRONGTYPE), then NX/XX.
fn set_generic(
    a: &mut Access<'_>,
    key: &[u8],
    value: &[u8],
    opts: &SetOptions,
    command: &str,
) -> Result<SetOutcome> {
    if opts.keep_ttl && opts.expiry.is_some() {
        return Err(Error::Syntax);
    }
    let expire_at = match opts.expiry {
        Some(e) => Some(e.resolve(a.now_ms(), command)?),
        None => None,
    };
    let previous = if opts.get { get_exec(a, key)? } else { None };
    let found = if opts.get {
        previous.is_some()
    } else {
        a.contains(key)
    };
    let allowed = match opts.condition {
        SetCondition::Always => true,
        SetCondition::IfMissing => !found,
        SetCondition::IfExists => found,
    };
    if allowed {
        let v = Value::Str(Str::from_bytes(value));
        if opts.keep_ttl {
            a.set_keep_ttl(key, v);
        } else {
            // A time already past is stored as is: the key reads as missing from now on and
            // is reclaimed as expired, which is what Redis does for SET ... EXAT <past>.
            a.set_in(a.db, key, v, expire_at);
        }
        a.touched(key);
        a.notify(Event::Set, key);
        if expire_at.is_some() {
            a.notify(Event::Expire, key);
        }
    }
    Ok(SetOutcome {
        written: allowed,
        previous,
    })
}

/// Which of SET's or GETEX's options a parser accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OptionsOf {
    Set,
    GetEx,
}

/// The TTL part of SET/GETEX options as parsed, before the expiry value is read as a number
/// (Redis reads it only after every option is known to be valid).
#[derive(Default)]
struct ParsedOptions<'a> {
    condition: SetCondition,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expiry: Option<(Expiry, &'a [u8])>,
}

impl ParsedOptions<'_> {
    fn expiry(&self) -> Result<Option<Expiry>> {
        self.expiry
            .map(|(kind, arg)| int(arg).map(|n| kind.with_value(n)))
            .transpose()
    }
}

/// Parses SET's (from `args[3]`) or GETEX's (from `args[2]`) options with Redis's rules for
/// which may be combined: a repeated option is allowed, conflicting ones are a syntax error.
fn parse_options(args: &[Bytes], of: OptionsOf) -> Result<ParsedOptions<'_>> {
    let mut p = ParsedOptions::default();
    let mut i = if of == OptionsOf::Set { 3 } else { 2 };
    while i < args.len() {
        let opt = &args[i];
        let has_next = i + 1 < args.len();
        let set = of == OptionsOf::Set;
        if set && is(opt, "nx") && p.condition != SetCondition::IfExists {
            p.condition = SetCondition::IfMissing;
        } else if set && is(opt, "xx") && p.condition != SetCondition::IfMissing {
            p.condition = SetCondition::IfExists;
        } else if set && is(opt, "get") {
            p.get = true;
        } else if set && is(opt, "keepttl") && p.expiry.is_none() {
            p.keep_ttl = true;
        } else if !set && is(opt, "persist") && p.expiry.is_none() {
            p.persist = true;
        } else {
            let e = [
                ("ex", Expiry::Ex(0)),
                ("px", Expiry::Px(0)),
                ("exat", Expiry::ExAt(0)),
                ("pxat", Expiry::PxAt(0)),
            ]
            .into_iter()
            .find(|(name, _)| is(opt, name))
            .map(|(_, e)| e);
            // Only the same unit may repeat (the last one wins).
            let same_unit = |e: Expiry| {
                p.expiry
                    .is_none_or(|(k, _)| k.with_value(0) == e.with_value(0))
            };
            match e {
                Some(e) if has_next && !p.keep_ttl && !p.persist && same_unit(e) => {
                    p.expiry = Some((e, &args[i + 1]));
                    i += 1;
                }
                _ => return Err(Error::Syntax),
            }
        }
        i += 1;
    }
    Ok(p)
}

fn set_reply(outcome: SetOutcome, opts: &SetOptions, ok: Reply, aborted: Reply) -> Reply {
    if opts.get {
        Reply::from(outcome.previous)
    } else if outcome.written {
        ok
    } else {
        aborted
    }
}

fn set(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let p = parse_options(args, OptionsOf::Set)?;
    let opts = SetOptions {
        condition: p.condition,
        expiry: p.expiry()?,
        keep_ttl: p.keep_ttl,
        get: p.get,
    };
    let (key, value) = (&args[1], &args[2]);
    let outcome = ctx.key(key, |a| set_exec(a, key, value, &opts))?;
    Ok(set_reply(outcome, &opts, Reply::Ok, Reply::Nil))
}

fn setnx(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let opts = SetOptions::default().if_missing();
    let (key, value) = (&args[1], &args[2]);
    let outcome = ctx.key(key, |a| set_generic(a, key, value, &opts, "setnx"))?;
    Ok(set_reply(outcome, &opts, Reply::Int(1), Reply::Int(0)))
}

fn setex(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    set_with_expiry(ctx, args, Expiry::Ex(int(&args[2])?), "setex")
}

fn psetex(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    set_with_expiry(ctx, args, Expiry::Px(int(&args[2])?), "psetex")
}

fn set_with_expiry(
    ctx: &mut Ctx<'_, '_>,
    args: &[Bytes],
    expiry: Expiry,
    command: &str,
) -> Result<Reply> {
    let opts = SetOptions {
        expiry: Some(expiry),
        ..SetOptions::default()
    };
    let (key, value) = (&args[1], &args[3]);
    ctx.key(key, |a| set_generic(a, key, value, &opts, command))?;
    Ok(Reply::Ok)
}

/// What GETEX does to the TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GetExTtl {
    /// No option: the TTL is untouched.
    #[default]
    Keep,
    /// `PERSIST`: the TTL is removed.
    Persist,
    /// `EX`/`PX`/`EXAT`/`PXAT`: a new expiry; an absolute time already past deletes the key.
    Expire(Expiry),
}

/// GETEX: the value of `key` (`None` if missing), then the TTL change.
pub fn getex_exec(a: &mut Access<'_>, key: &[u8], ttl: GetExTtl) -> Result<Option<Bytes>> {
    let Some(value) = get_exec(a, key)? else {
        return Ok(None);
    };
    match ttl {
        GetExTtl::Keep => {}
        GetExTtl::Persist => {
            if a.peek(key).is_some_and(|e| e.expire_at().is_some()) {
                a.set_expire(key, None);
                a.touched(key);
                a.notify(Event::Persist, key);
            }
        }
        GetExTtl::Expire(e) => {
            let now = a.now_ms();
            let at = e.resolve(now, "getex")?;
            if e.is_absolute() && at <= now {
                a.remove(key);
                a.touched(key);
                a.notify(Event::Del, key);
            } else {
                a.set_expire(key, Some(at));
                a.touched(key);
                a.notify(Event::Expire, key);
            }
        }
    }
    Ok(Some(value))
}

fn getex(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let p = parse_options(args, OptionsOf::GetEx)?;
    let key = &args[1];
    // Redis reads the expiry's number only once the key is known to be a string: a missing
    // key answers nil even for `EX abc`.
    let ttl = match p.expiry() {
        Ok(Some(e)) => Ok(GetExTtl::Expire(e)),
        Ok(None) if p.persist => Ok(GetExTtl::Persist),
        Ok(None) => Ok(GetExTtl::Keep),
        Err(e) => Err(e),
    };
    ctx.key(key, |a| match ttl {
        Ok(ttl) => getex_exec(a, key, ttl),
        Err(e) => match get_exec(a, key)? {
            None => Ok(None),
            Some(_) => Err(e),
        },
    })
    .map(Reply::from)
}

// ---------------------------------------------------------------------------------------
// Counters

/// INCRBY / DECRBY / INCR / DECR: adds `delta` to the integer at `key` (0 if missing),
/// keeping its TTL; the result is `int`-encoded.
pub fn incr_by_exec(a: &mut Access<'_>, key: &[u8], delta: i64) -> Result<i64> {
    let n = match write_str(a, key)? {
        Some(s) => {
            let n = s
                .as_i64()
                .ok_or(Error::NotInteger)?
                .checked_add(delta)
                .ok_or(Error::Overflow)?;
            *s = Str::Int(n);
            n
        }
        None => {
            a.set(key, Value::Str(Str::Int(delta)));
            delta
        }
    };
    a.touched(key);
    a.notify(Event::IncrBy, key);
    Ok(n)
}

/// DECRBY's own check: negating `i64::MIN` would overflow.
pub fn negate_decrement(n: i64) -> Result<i64> {
    n.checked_neg().ok_or(error::DECREMENT_OVERFLOW)
}

fn incr(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    ctx.key(key, |a| incr_by_exec(a, key, 1)).map(Reply::Int)
}

fn decr(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    ctx.key(key, |a| incr_by_exec(a, key, -1)).map(Reply::Int)
}

fn incrby(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let delta = int(&args[2])?;
    let key = &args[1];
    ctx.key(key, |a| incr_by_exec(a, key, delta))
        .map(Reply::Int)
}

fn decrby(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let delta = negate_decrement(int(&args[2])?)?;
    let key = &args[1];
    ctx.key(key, |a| incr_by_exec(a, key, delta))
        .map(Reply::Int)
}

/// INCRBYFLOAT: adds `incr` to the number at `key` (0 if missing) in 80-bit `long double`
/// arithmetic like Redis, stores the result as text (never `int`-encoded), keeps the TTL, and
/// returns the text.
pub fn incr_by_float_exec(a: &mut Access<'_>, key: &[u8], incr: LongDouble) -> Result<Bytes> {
    let slot = write_str(a, key)?;
    let current = match &slot {
        None => LongDouble::ZERO,
        Some(Str::Int(n)) => LongDouble::from_i64(*n),
        Some(s) => LongDouble::parse(&s.as_bytes()).ok_or(Error::NotFloat)?,
    };
    let sum = current
        .checked_add(incr)
        .filter(LongDouble::is_finite)
        .ok_or(error::NAN_OR_INFINITY)?;
    let text = sum.to_human_string().into_bytes();
    let reply = Bytes::copy_from_slice(&text);
    match slot {
        Some(s) => *s = Str::plain(text),
        None => {
            a.set(key, Value::Str(Str::plain(text)));
        }
    }
    a.touched(key);
    a.notify(Event::IncrByFloat, key);
    Ok(reply)
}

fn incrbyfloat(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let incr = LongDouble::parse(&args[2]);
    ctx.key(key, |a| match incr {
        Some(incr) => incr_by_float_exec(a, key, incr),
        // The stored value is checked first: a wrong type wins over a bad increment.
        None => write_str(a, key).and(Err(Error::NotFloat)),
    })
    .map(Reply::Bulk)
}

// ---------------------------------------------------------------------------------------
// APPEND, SETRANGE

/// APPEND: appends `value` (the key is created if missing) and returns the new length;
/// `max_len` is proto-max-bulk-len.
pub fn append_exec(a: &mut Access<'_>, key: &[u8], value: &[u8], max_len: u64) -> Result<i64> {
    let len = match write_str(a, key)? {
        Some(s) => {
            if (s.len() as u64).saturating_add(value.len() as u64) > max_len {
                return Err(error::STRING_TOO_LONG);
            }
            let data = s.make_raw();
            data.extend_from_slice(value);
            data.len()
        }
        None => {
            a.set(key, Value::Str(Str::from_bytes(value)));
            value.len()
        }
    };
    a.touched(key);
    a.notify(Event::Append, key);
    Ok(len as i64)
}

fn append(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let max = max_string_len(ctx);
    let key = &args[1];
    ctx.key(key, |a| append_exec(a, key, &args[2], max))
        .map(Reply::Int)
}

/// SETRANGE: overwrites the string at `offset` with `value`, zero-padding as needed, and
/// returns the new length; `max_len` is proto-max-bulk-len, checked before allocating.
pub fn setrange_exec(
    a: &mut Access<'_>,
    key: &[u8],
    offset: i64,
    value: &[u8],
    max_len: u64,
) -> Result<i64> {
    let offset = u64::try_from(offset).map_err(|_| error::OFFSET_OUT_OF_RANGE)?;
    let end = offset.saturating_add(value.len() as u64);
    let len = match write_str(a, key)? {
        Some(s) if value.is_empty() => return Ok(s.len() as i64),
        None if value.is_empty() => return Ok(0),
        _ if end > max_len => return Err(error::STRING_TOO_LONG),
        Some(s) => {
            let data = s.make_raw();
            overwrite(data, offset as usize, value);
            data.len()
        }
        None => {
            let mut data = Vec::new();
            overwrite(&mut data, offset as usize, value);
            let len = data.len();
            a.set(key, Value::Str(Str::raw(data)));
            len
        }
    };
    a.touched(key);
    a.notify(Event::SetRange, key);
    Ok(len as i64)
}

fn overwrite(data: &mut Vec<u8>, offset: usize, value: &[u8]) {
    let end = offset + value.len();
    if data.len() < end {
        data.resize(end, 0);
    }
    data[offset..end].copy_from_slice(value);
}

fn setrange(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let offset = int(&args[2])?;
    let max = max_string_len(ctx);
    let key = &args[1];
    ctx.key(key, |a| setrange_exec(a, key, offset, &args[3], max))
        .map(Reply::Int)
}

// ---------------------------------------------------------------------------------------
// MGET, MSET, MSETNX

/// MGET: each key's string value; `None` for missing keys and for keys of other types.
pub fn mget_exec<K: AsRef<[u8]>>(a: &mut Access<'_>, keys: &[K]) -> Vec<Option<Bytes>> {
    keys.iter()
        .map(|k| get_exec(a, k.as_ref()).unwrap_or(None))
        .collect()
}

fn mget(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let keys: Vec<&[u8]> = args[1..].iter().map(|k| &k[..]).collect();
    let values = on_keys(ctx, &keys, |a| mget_exec(a, &keys));
    Ok(Reply::from(values))
}

/// MSET (`only_if_none_exist == false`) or MSETNX (`true`): stores every pair, dropping TTLs;
/// MSETNX stores nothing and returns false if any key exists. Later pairs win.
pub fn mset_exec<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    a: &mut Access<'_>,
    pairs: &[(K, V)],
    only_if_none_exist: bool,
) -> bool {
    if only_if_none_exist && pairs.iter().any(|(k, _)| a.contains(k.as_ref())) {
        return false;
    }
    for (k, v) in pairs {
        a.set(k.as_ref(), Value::Str(Str::from_bytes(v.as_ref())));
        a.touched(k.as_ref());
        a.notify(Event::Set, k.as_ref());
    }
    true
}

fn mset_generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], nx: bool) -> Result<bool> {
    if args.len() % 2 == 0 {
        return Err(Error::wrong_arity(if nx { "msetnx" } else { "mset" }));
    }
    let pairs: Vec<(&[u8], &[u8])> = args[1..]
        .chunks_exact(2)
        .map(|p| (&p[0][..], &p[1][..]))
        .collect();
    let keys: Vec<&[u8]> = pairs.iter().map(|(k, _)| *k).collect();
    Ok(on_keys(ctx, &keys, |a| mset_exec(a, &pairs, nx)))
}

fn mset(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    mset_generic(ctx, args, false).map(|_| Reply::Ok)
}

fn msetnx(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    mset_generic(ctx, args, true).map(Reply::from)
}

// ---------------------------------------------------------------------------------------
// LCS

/// What LCS replies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LcsMode {
    /// The common subsequence itself.
    #[default]
    Text,
    /// `LEN`: its length.
    Len,
    /// `IDX`: the matching ranges and the length.
    Idx,
}

/// LCS options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LcsOptions {
    /// What to compute.
    pub mode: LcsMode,
    /// `MINMATCHLEN`: with IDX, ranges shorter than this are left out.
    pub min_match_len: u64,
    /// `WITHMATCHLEN`: with IDX, each range carries its length.
    pub with_match_len: bool,
}

/// One matching range: inclusive byte positions in each string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LcsMatch {
    /// Start and end in the first string.
    pub a: (u64, u64),
    /// Start and end in the second string.
    pub b: (u64, u64),
    /// Length of the range.
    pub len: u64,
}

/// LCS's result, by [`LcsMode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LcsResult {
    /// The subsequence.
    Text(Bytes),
    /// Its length.
    Len(u64),
    /// Ranges, from the end of the strings backwards as Redis lists them, and the length.
    Idx { matches: Vec<LcsMatch>, len: u64 },
}

/// The two values LCS compares (missing keys are empty); a non-string is an error.
fn lcs_values(a: &mut Access<'_>, k1: &[u8], k2: &[u8]) -> Result<(Bytes, Bytes)> {
    let x = get_exec(a, k1);
    let y = get_exec(a, k2);
    match (x, y) {
        (Ok(x), Ok(y)) => Ok((x.unwrap_or_default(), y.unwrap_or_default())),
        _ => Err(error::LCS_NOT_STRINGS),
    }
}

/// LCS of the strings at `k1` and `k2`; `max_table` is proto-max-bulk-len, the most memory
/// the dynamic-programming table may take.
pub fn lcs_exec(
    a: &mut Access<'_>,
    k1: &[u8],
    k2: &[u8],
    opts: &LcsOptions,
    max_table: u64,
) -> Result<LcsResult> {
    let (x, y) = lcs_values(a, k1, k2)?;
    lcs_compute(&x, &y, opts, max_table)
}

/// The LCS algorithm of Redis 7.0 (a full table, then a walk back from the end), so that
/// among several longest subsequences the same one, and the same ranges, are reported.
fn lcs_compute(a: &[u8], b: &[u8], opts: &LcsOptions, max_table: u64) -> Result<LcsResult> {
    if a.len() as u64 >= u32::MAX as u64 - 1 || b.len() as u64 >= u32::MAX as u64 - 1 {
        return Err(error::LCS_TOO_LONG);
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells.saturating_mul(4) > max_table {
        return Err(error::LCS_TABLE_TOO_BIG);
    }
    let mut table: Vec<u32> = Vec::new();
    table
        .try_reserve_exact(cells as usize)
        .map_err(|_| error::LCS_ALLOC_FAILED)?;
    table.resize(cells as usize, 0);
    let at = |i: usize, j: usize| j + i * (blen + 1);
    for i in 1..=alen {
        for j in 1..=blen {
            table[at(i, j)] = if a[i - 1] == b[j - 1] {
                table[at(i - 1, j - 1)] + 1
            } else {
                table[at(i - 1, j)].max(table[at(i, j - 1)])
            };
        }
    }
    let total = table[at(alen, blen)] as usize;
    if opts.mode == LcsMode::Len {
        return Ok(LcsResult::Len(total as u64));
    }
    let mut text = vec![0u8; total];
    let mut matches = Vec::new();
    let mut idx = total;
    // The current range, walking backwards; `None` when no range is open.
    let mut range: Option<(usize, usize, usize, usize)> = None;
    let (mut i, mut j) = (alen, blen);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            text[idx - 1] = a[i - 1];
            range = match range {
                None => Some((i - 1, i - 1, j - 1, j - 1)),
                Some((a_start, a_end, b_start, b_end)) if a_start == i && b_start == j => {
                    Some((a_start - 1, a_end, b_start - 1, b_end))
                }
                other => {
                    emit = true;
                    other
                }
            };
            if range.is_some_and(|(a_start, _, b_start, _)| a_start == 0 || b_start == 0) {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[at(i - 1, j)] > table[at(i, j - 1)] {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = range.is_some();
        }
        if emit {
            if let Some((a_start, a_end, b_start, b_end)) = range.take() {
                let len = (a_end - a_start + 1) as u64;
                if opts.min_match_len == 0 || len >= opts.min_match_len {
                    matches.push(LcsMatch {
                        a: (a_start as u64, a_end as u64),
                        b: (b_start as u64, b_end as u64),
                        len,
                    });
                }
            }
        }
    }
    Ok(match opts.mode {
        LcsMode::Idx => LcsResult::Idx {
            matches,
            len: total as u64,
        },
        _ => LcsResult::Text(Bytes::from(text)),
    })
}

fn parse_lcs_options(args: &[Bytes]) -> Result<LcsOptions> {
    let (mut idx, mut len) = (false, false);
    let mut opts = LcsOptions::default();
    let mut i = 3;
    while i < args.len() {
        let opt = &args[i];
        if is(opt, "idx") {
            idx = true;
        } else if is(opt, "len") {
            len = true;
        } else if is(opt, "withmatchlen") {
            opts.with_match_len = true;
        } else if is(opt, "minmatchlen") && i + 1 < args.len() {
            opts.min_match_len = int(&args[i + 1])?.max(0) as u64;
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if idx && len {
        return Err(error::LCS_LEN_AND_IDX);
    }
    opts.mode = match (idx, len) {
        (true, _) => LcsMode::Idx,
        (_, true) => LcsMode::Len,
        _ => LcsMode::Text,
    };
    Ok(opts)
}

fn lcs(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let (k1, k2) = (&args[1][..], &args[2][..]);
    // Redis checks the keys' types before it reads the options.
    let (x, y) = on_keys(ctx, &[k1, k2], |a| lcs_values(a, k1, k2))?;
    let opts = parse_lcs_options(args)?;
    let max = max_string_len(ctx);
    Ok(match lcs_compute(&x, &y, &opts, max)? {
        LcsResult::Text(t) => Reply::Bulk(t),
        LcsResult::Len(n) => Reply::Int(n as i64),
        LcsResult::Idx { matches, len } => {
            let pair =
                |(s, e): (u64, u64)| Reply::Array(vec![Reply::Int(s as i64), Reply::Int(e as i64)]);
            let matches = matches
                .into_iter()
                .map(|m| {
                    let mut entry = vec![pair(m.a), pair(m.b)];
                    if opts.with_match_len {
                        entry.push(Reply::Int(m.len as i64));
                    }
                    Reply::Array(entry)
                })
                .collect();
            Reply::Map(vec![
                (Reply::bulk("matches"), Reply::Array(matches)),
                (Reply::bulk("len"), Reply::Int(len as i64)),
            ])
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigValues;
    use crate::{Clock, Db, ManualClock};

    fn db() -> (Db, ManualClock) {
        let clock = ManualClock::new();
        let db = Db::builder()
            .clock(clock.clone())
            .active_expiry(false)
            .build();
        (db, clock)
    }

    fn call(db: &Db, args: &[&str]) -> Reply {
        db.call(args)
    }

    /// The entry's OBJECT ENCODING and absolute expiry, `None` if the key is missing.
    fn entry(db: &Db, key: &str) -> Option<(&'static str, Option<u64>)> {
        let e = db.engine();
        let mut a = e
            .keyspace
            .lock_key(key.as_bytes(), &e.stats, 0, e.clock.now_millis());
        a.peek(key.as_bytes())
            .map(|e| (e.value.encoding(), e.expire_at()))
    }

    fn encoding(db: &Db, key: &str) -> &'static str {
        entry(db, key).map_or("none", |(enc, _)| enc)
    }

    fn ttl(db: &Db, key: &str) -> Option<u64> {
        entry(db, key).and_then(|(_, at)| at)
    }

    #[test]
    fn encodings_follow_redis() {
        let (db, _) = db();
        call(&db, &["SET", "n", "123"]);
        assert_eq!(encoding(&db, "n"), "int");
        call(&db, &["INCRBYFLOAT", "n", "1"]);
        assert_eq!(encoding(&db, "n"), "embstr");
        call(&db, &["INCR", "n"]);
        assert_eq!(encoding(&db, "n"), "int");
        call(&db, &["SETRANGE", "n", "0", ""]);
        assert_eq!(encoding(&db, "n"), "int");
        call(&db, &["APPEND", "n", ""]);
        assert_eq!(encoding(&db, "n"), "raw");
        call(&db, &["APPEND", "fresh", "77"]);
        assert_eq!(encoding(&db, "fresh"), "int");
        call(&db, &["SETRANGE", "sr", "0", "77"]);
        assert_eq!(encoding(&db, "sr"), "raw");
        call(&db, &["MSET", "a", "x", "b", &"y".repeat(45)]);
        assert_eq!((encoding(&db, "a"), encoding(&db, "b")), ("embstr", "raw"));
        call(&db, &["GETRANGE", "a", "0", "-1"]);
        assert_eq!(encoding(&db, "a"), "embstr");
        let big = "9".repeat(60);
        call(&db, &["INCRBYFLOAT", "f", &format!("{big}.5")]);
        assert_eq!(encoding(&db, "f"), "raw");
    }

    #[test]
    fn ttls_kept_or_dropped_like_redis() {
        let (db, clock) = db();
        let now = clock.now_millis();
        call(&db, &["SET", "k", "1", "EX", "10"]);
        assert_eq!(ttl(&db, "k"), Some(now + 10_000));
        for cmd in [
            &["INCR", "k"][..],
            &["INCRBYFLOAT", "k", "1.5"],
            &["APPEND", "k", "0"],
            &["SETRANGE", "k", "0", "7"],
            &["SET", "k", "v", "KEEPTTL"],
            &["GETEX", "k"],
        ] {
            call(&db, cmd);
            assert_eq!(ttl(&db, "k"), Some(now + 10_000), "{cmd:?}");
        }
        call(&db, &["GETSET", "k", "v"]);
        assert_eq!(ttl(&db, "k"), None);
        call(&db, &["PSETEX", "k", "1500", "v"]);
        assert_eq!(ttl(&db, "k"), Some(now + 1500));
        call(&db, &["MSET", "k", "v"]);
        assert_eq!(ttl(&db, "k"), None);
        call(&db, &["GETEX", "k", "PXAT", &(now + 5).to_string()]);
        assert_eq!(ttl(&db, "k"), Some(now + 5));
        call(&db, &["GETEX", "k", "PERSIST"]);
        assert_eq!(ttl(&db, "k"), None);
        call(&db, &["SETEX", "k", "2", "v"]);
        clock.advance(std::time::Duration::from_millis(2000));
        // Alive through its expiry millisecond, like Redis.
        assert_eq!(call(&db, &["GET", "k"]), Reply::bulk("v"));
        clock.advance(std::time::Duration::from_millis(1));
        assert_eq!(call(&db, &["GET", "k"]), Reply::Nil);
    }

    #[test]
    fn absolute_times_in_the_past() {
        let (db, clock) = db();
        let now = clock.now_millis().to_string();
        // Like Redis 7.0, SET does not check for a time already reached: the key lives
        // through its expiry millisecond (PTTL 0) and is gone after it.
        call(&db, &["SET", "k", "v", "PXAT", &now]);
        assert_eq!(call(&db, &["GET", "k"]), Reply::bulk("v"));
        assert_eq!(call(&db, &["PTTL", "k"]), Reply::Int(0));
        clock.advance(std::time::Duration::from_millis(1));
        assert_eq!(call(&db, &["GET", "k"]), Reply::Nil);
        // GETEX does check: a time not in the future deletes at once.
        let now = clock.now_millis().to_string();
        call(&db, &["SET", "k", "v"]);
        assert_eq!(call(&db, &["GETEX", "k", "PXAT", &now]), Reply::bulk("v"));
        assert_eq!(entry(&db, "k"), None);
        assert_eq!(db.engine().stats.expired_keys.get(), 1);
    }

    #[test]
    fn expiry_ranges() {
        let now = 1_700_000_000_000;
        assert_eq!(Expiry::Ex(1).resolve(now, "set"), Ok(now + 1000));
        assert_eq!(Expiry::PxAt(5).resolve(now, "set"), Ok(5));
        let invalid = Err(Error::InvalidExpire("getex".into()));
        assert_eq!(Expiry::Ex(0).resolve(now, "getex"), invalid);
        assert_eq!(
            Expiry::ExAt(i64::MAX / 1000 + 1).resolve(now, "getex"),
            invalid
        );
        assert_eq!(Expiry::Px(i64::MAX - 5).resolve(now, "getex"), invalid);
        assert_eq!(
            Expiry::ExAt(i64::MAX / 1000).resolve(now, "getex"),
            Ok(i64::MAX as u64 / 1000 * 1000)
        );
        let (db, _) = db();
        assert_eq!(
            call(&db, &["SETEX", "k", "0", "v"]),
            Reply::Error(Error::InvalidExpire("setex".into()))
        );
        assert_eq!(
            call(&db, &["PSETEX", "k", "-1", "v"]),
            Reply::Error(Error::InvalidExpire("psetex".into()))
        );
    }

    #[test]
    fn size_limits_come_from_proto_max_bulk_len() {
        let db = Db::builder()
            .config(ConfigValues {
                proto_max_bulk_len: 100,
                ..ConfigValues::default()
            })
            .build();
        let too_long = Reply::Error(error::STRING_TOO_LONG);
        assert_eq!(call(&db, &["SETRANGE", "k", "95", "123456"]), too_long);
        assert_eq!(
            call(&db, &["SETRANGE", "k", "94", "123456"]),
            Reply::Int(100)
        );
        assert_eq!(call(&db, &["APPEND", "k", "x"]), too_long);
        assert_eq!(call(&db, &["STRLEN", "k"]), Reply::Int(100));
        call(&db, &["MSET", "a", "abcd", "b", "abcd", "c", "abcde"]);
        assert_eq!(call(&db, &["LCS", "a", "b", "LEN"]), Reply::Int(4));
        assert_eq!(
            call(&db, &["LCS", "a", "c", "LEN"]),
            Reply::Error(error::LCS_TABLE_TOO_BIG)
        );
    }

    #[test]
    fn repeated_keys_lock_one_shard() {
        let (db, _) = db();
        assert_eq!(call(&db, &["MSETNX", "a", "1", "a", "2"]), Reply::Int(1));
        assert_eq!(call(&db, &["GET", "a"]), Reply::bulk("2"));
        assert_eq!(call(&db, &["MSETNX", "a", "3", "b", "4"]), Reply::Int(0));
        assert_eq!(call(&db, &["MSET", "b", "1", "b", "5"]), Reply::Ok);
        assert_eq!(
            call(&db, &["MGET", "a", "b", "a", "zz"]),
            Reply::Array(vec![
                Reply::bulk("2"),
                Reply::bulk("5"),
                Reply::bulk("2"),
                Reply::Nil
            ])
        );
        assert_eq!(call(&db, &["LCS", "a", "a"]), Reply::bulk("2"));
    }

    #[test]
    fn hits_and_misses_like_redis() {
        let (db, _) = db();
        let stats = &db.engine().stats;
        call(&db, &["INCR", "n"]);
        call(&db, &["APPEND", "n", "1"]);
        assert_eq!(
            (stats.keyspace_hits.get(), stats.keyspace_misses.get()),
            (0, 0)
        );
        call(&db, &["GET", "n"]);
        call(&db, &["MGET", "n", "x"]);
        call(&db, &["SET", "n", "v", "GET"]);
        assert_eq!(
            (stats.keyspace_hits.get(), stats.keyspace_misses.get()),
            (3, 1)
        );
    }

    #[test]
    fn typed_set_options() {
        let (db, _) = db();
        let opts = SetOptions::default().keep_ttl().ex(5);
        assert_eq!(db.set_with("k", "v", opts), Err(Error::Syntax));
        assert_eq!(
            db.set_with("k", "v", SetOptions::default().px(0)),
            Err(Error::InvalidExpire("set".into()))
        );
        let out = db.set_with("k", "v", SetOptions::default().if_exists().get());
        assert_eq!(
            out,
            Ok(SetOutcome {
                written: false,
                previous: None
            })
        );
        assert_eq!(db.decr_by("k", i64::MIN), Err(error::DECREMENT_OVERFLOW));
        assert_eq!(
            db.incr_by_float("f", f64::INFINITY),
            Err(error::NAN_OR_INFINITY)
        );
        assert_eq!(db.incr_by_float("f", f64::NAN), Err(Error::NotFloat));
        assert_eq!(db.incr_by_float("f", 10.5), Ok(10.5));
        assert_eq!(db.incr_by_float("f", 0.1), Ok(10.6));
        assert_eq!(db.getrange("f", -2, -1).as_deref(), Ok(&b".6"[..]));
        assert_eq!(db.setrange("f", 0, "2"), Ok(4));
        assert_eq!(
            db.getex("f", GetExTtl::Persist),
            Ok(Some(Bytes::from("20.6")))
        );
        assert!(db.msetnx(&[("m1", "a"), ("m2", "b")]));
        assert_eq!(db.getdel("m1"), Ok(Some(Bytes::from("a"))));
    }
}
