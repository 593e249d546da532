//! Rate limiter commands: redis-cell's `CL.THROTTLE`, and embedis's own `CL.*` commands for
//! the other algorithms, the all-or-nothing multi-policy check and the concurrency limiter.
//!
//! ```text
//! CL.THROTTLE key max_burst count period [quantity]
//!     redis-cell compatible GCRA (see types::limiter::cell): count per period seconds,
//!     bursts of max_burst + 1. Reply [limited 0|1, limit, remaining, retry_after s (-1 if
//!     allowed), reset_after s]. Errors are redis-cell's ("Cell error: ...").
//!
//! CL.LIMIT key <policy> [COST n] [PEEK]
//!     One check. <policy> is one of
//!       FIXED limit window_ms            fixed window
//!       SLIDINGLOG limit window_ms       exact sliding log
//!       SLIDING limit window_ms          sliding window counter (approximate)
//!       TOKENBUCKET capacity refill interval_ms
//!       GCRA burst count period_ms       count per period, bursts of burst
//!     COST (default 1) is the request's weight; PEEK decides without charging. Reply
//!     [limited 0|1, limit, remaining, retry_after ms (-1 if allowed or never), reset_after ms]
//!     with times rounded up to whole milliseconds.
//!
//! CL.LIMITALL numkeys key [key ...] <policy> [<policy> ...] [COST n] [PEEK]
//!     One policy per key, checked together: the request is charged to every key only if
//!     every policy admits it; otherwise nothing is charged. Reply: one CL.LIMIT reply per
//!     key; when one rejects, the others report their uncharged state.
//!
//! CL.ACQUIRE key max lease_id ttl_ms     take (or renew) a lease; reply as CL.LIMIT
//! CL.RELEASE key lease_id                 1 if the lease was held, else 0
//! CL.RENEW key lease_id ttl_ms            1 if the lease was held and is extended, else 0
//! ```
//!
//! State lives in ordinary string keys with a TTL, so idle keys expire (see
//! `types::limiter` for the formats; `DEL key` resets a limiter). Time is the engine clock,
//! in microseconds.

use bytes::Bytes;

use super::args::{Args, int, is};
use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::error::{self, Error, Result};
use crate::keyspace::{Access, Value};
use crate::reply::Reply;
use crate::types::limiter::cell::{self, CellReply, CellWrite};
use crate::types::limiter::concurrency::{self, Lease, MAX_LEASE_ID};
use crate::types::limiter::{
    self, Decision, MAX_AMOUNT, MAX_DURATION, Micros, Policy, State, ceil_div,
};
use crate::types::string::Str;

/// The limiter family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("cl.throttle", -1, WRITE | DENYOOM | FAST, throttle).keys(1, 1, 1),
    CommandSpec::new("cl.limit", -5, WRITE | DENYOOM | FAST, limit).keys(1, 1, 1),
    CommandSpec::new("cl.limitall", -6, WRITE | DENYOOM | MOVABLE_KEYS, limitall),
    CommandSpec::new("cl.acquire", 5, WRITE | DENYOOM | FAST, acquire).keys(1, 1, 1),
    CommandSpec::new("cl.release", 3, WRITE | FAST, release).keys(1, 1, 1),
    CommandSpec::new("cl.renew", 4, WRITE | FAST, renew).keys(1, 1, 1),
];

// ---------------------------------------------------------------------------------------
// Storage

/// The engine keeps limiter keys a little longer than needed, up to the next whole second,
/// so that steady traffic rewrites the TTL index once a second rather than on every request
/// (stale state decides like no state, see `types::limiter`).
fn expiry_ms(expire_at: Micros) -> u64 {
    (ceil_div(expire_at.max(0), 1_000_000) * 1000).max(1) as u64
}

/// The string a limiter key holds (WRONGTYPE for other types).
fn as_str(v: &Value) -> Result<&Str> {
    match v {
        Value::Str(s) => Ok(s),
        #[allow(unreachable_patterns)]
        _ => Err(Error::WrongType),
    }
}

fn state_of(v: &Value, policy: &Policy) -> Result<State> {
    let s = as_str(v)?;
    if let (Policy::Gcra { .. }, Str::Int(tat)) = (policy, s) {
        return Ok(State::Gcra { tat: *tat });
    }
    limiter::decode_state(policy, &s.as_bytes()).ok_or(error::LIMITER_STATE)
}

fn read_state(a: &mut Access<'_>, key: &[u8], policy: &Policy) -> Result<Option<State>> {
    match a.get_mut(key) {
        None => Ok(None),
        Some(e) => state_of(&e.value, policy).map(Some),
    }
}

fn write_str(s: &mut Str, state: &State) {
    match state {
        State::Gcra { tat } => *s = Str::Int(*tat),
        other => limiter::encode_state(other, s.make_raw()),
    }
}

/// Writes the state with `write` under `key` (reusing the existing string's buffer when there
/// is one) and sets the expiry.
fn store(a: &mut Access<'_>, key: &[u8], expire_at: Micros, write: impl FnOnce(&mut Str)) {
    let at = expiry_ms(expire_at);
    if let Some(e) = a.get_mut(key) {
        match &mut e.value {
            Value::Str(s) => write(s),
            // Callers read the key as a string first; this is only for completeness.
            #[allow(unreachable_patterns)]
            other => {
                let mut s = Str::Int(0);
                write(&mut s);
                *other = Value::Str(s);
            }
        }
        if e.expire_at() != Some(at) {
            a.set_expire(key, Some(at));
        }
    } else {
        let mut s = Str::Int(0);
        write(&mut s);
        let db = a.db;
        a.set_in(db, key, Value::Str(s), Some(at));
    }
    a.touched(key);
}

fn store_state(a: &mut Access<'_>, key: &[u8], state: &State, expire_at: Micros) {
    store(a, key, expire_at, |s| write_str(s, state));
}

// ---------------------------------------------------------------------------------------
// Exec functions (the typed API calls these too)

/// Checks that a policy and cost are usable (bounds in `types::limiter`).
pub fn validate(policy: &Policy, cost: i64) -> Result<()> {
    policy.validate().map_err(|e| Error::limiter_invalid(&e))?;
    limiter::validate_cost(cost).map_err(|e| Error::limiter_invalid(&e))
}

fn validate_now(now: Micros) -> Result<()> {
    limiter::validate_now(now).map_err(|e| Error::limiter_invalid(&e))
}

/// One check of `cost` units against `key` under `policy` at `now` (µs). With `charge`
/// false it is a peek and nothing is written.
///
/// The hot path of the embedded backend: one lookup reads the state and, when charged,
/// rewrites it in place (an integer for GCRA, the same buffer for the others); the TTL
/// index is touched only when the rounded expiry moves (about once a second per key).
pub fn limit_exec(
    a: &mut Access<'_>,
    key: &[u8],
    policy: &Policy,
    now: Micros,
    cost: i64,
    charge: bool,
) -> Result<Decision> {
    validate(policy, cost)?;
    validate_now(now)?;
    let mut new_expiry = None;
    let decision = match a.get_mut(key) {
        Some(e) => {
            let state = state_of(&e.value, policy)?;
            let ev = limiter::evaluate(policy, Some(&state), now, cost, charge)
                .map_err(|_| error::LIMITER_STATE)?;
            if let Some(s) = &ev.state {
                match &mut e.value {
                    Value::Str(st) => write_str(st, s),
                    // state_of accepted only strings.
                    #[allow(unreachable_patterns)]
                    other => {
                        let mut st = Str::Int(0);
                        write_str(&mut st, s);
                        *other = Value::Str(st);
                    }
                }
                let at = expiry_ms(ev.expire_at);
                new_expiry = Some((e.expire_at() != Some(at)).then_some(at));
            }
            ev.decision
        }
        None => {
            let ev = limiter::evaluate(policy, None, now, cost, charge)
                .map_err(|_| error::LIMITER_STATE)?;
            if let Some(s) = &ev.state {
                store_state(a, key, s, ev.expire_at);
            }
            return Ok(ev.decision);
        }
    };
    if let Some(expiry) = new_expiry {
        if let Some(at) = expiry {
            a.set_expire(key, Some(at));
        }
        a.touched(key);
    }
    Ok(decision)
}

/// Several policies, one key each, checked together: charged to every key only if every
/// policy admits the request. When one rejects, the admitting ones report their uncharged
/// state (as a peek would).
pub fn limit_all_exec<K: AsRef<[u8]>>(
    a: &mut Access<'_>,
    checks: &[(K, Policy)],
    now: Micros,
    cost: i64,
    charge: bool,
) -> Result<Vec<Decision>> {
    validate_now(now)?;
    for (i, (key, policy)) in checks.iter().enumerate() {
        validate(policy, cost)?;
        if checks[..i].iter().any(|(k, _)| k.as_ref() == key.as_ref()) {
            return Err(error::LIMITER_DUPLICATE_KEY);
        }
    }
    let mut states = Vec::with_capacity(checks.len());
    let mut evals = Vec::with_capacity(checks.len());
    for (key, policy) in checks {
        let state = read_state(a, key.as_ref(), policy)?;
        let ev = limiter::evaluate(policy, state.as_ref(), now, cost, charge)
            .map_err(|_| error::LIMITER_STATE)?;
        states.push(state);
        evals.push(ev);
    }
    let all = evals.iter().all(|e| e.decision.allowed);
    let mut out = Vec::with_capacity(checks.len());
    for (i, ev) in evals.into_iter().enumerate() {
        let (key, policy) = &checks[i];
        if all {
            if let Some(s) = &ev.state {
                store_state(a, key.as_ref(), s, ev.expire_at);
            }
            out.push(ev.decision);
        } else if ev.decision.allowed && charge {
            let peek = limiter::evaluate(policy, states[i].as_ref(), now, cost, false)
                .map_err(|_| error::LIMITER_STATE)?;
            out.push(peek.decision);
        } else {
            out.push(ev.decision);
        }
    }
    Ok(out)
}

/// Arguments of `CL.THROTTLE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleArgs {
    /// Largest burst minus one (redis-cell's `max_burst`).
    pub max_burst: i64,
    /// Units per period.
    pub count: i64,
    /// Period in seconds.
    pub period: i64,
    /// Units this request takes (0 peeks, in effect).
    pub quantity: i64,
}

fn cell_stored(v: &Value) -> Result<i64> {
    let s = as_str(v)?;
    if let Str::Int(n) = s {
        return Ok(*n);
    }
    let bytes = s.as_bytes();
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| {
            let e = String::from_utf8(bytes.to_vec()).expect_err("not UTF-8");
            Error::cell_bad_value(&e.to_string())
        })?
        .to_owned();
    text.parse::<i64>()
        .map_err(|e| Error::cell_bad_value(&e.to_string()))
}

/// redis-cell's `CL.THROTTLE` at `now_ns` (Unix nanoseconds).
pub fn throttle_exec(
    a: &mut Access<'_>,
    key: &[u8],
    args: ThrottleArgs,
    now_ns: i128,
) -> Result<CellReply> {
    let stored = match a.get_mut(key) {
        None => None,
        Some(e) => Some(cell_stored(&e.value)?),
    };
    let out = cell::throttle(
        stored,
        now_ns,
        args.max_burst,
        args.count,
        args.period,
        args.quantity,
    );
    let now_ms = a.now_ms();
    match out.write {
        CellWrite::None => {}
        CellWrite::Set { tat, ttl_ms } => {
            let at = match cell::ttl_effect(ttl_ms) {
                Some(Some(ms)) => Some(now_ms.saturating_add(ms as u64)),
                // -1 removes the TTL; a failing SetExpire leaves the value written by
                // StringSet, which had already dropped the TTL.
                Some(None) | None => None,
            };
            let db = a.db;
            a.set_in(db, key, Value::Str(Str::Int(tat)), at);
            a.touched(key);
        }
        CellWrite::Expire { ttl_ms } => {
            if let Some(effect) = cell::ttl_effect(ttl_ms) {
                a.set_expire(key, effect.map(|ms| now_ms.saturating_add(ms as u64)));
                a.touched(key);
            }
        }
    }
    out.reply.map_err(|e| match e {
        cell::CellError::ZeroRate => error::CELL_ZERO_RATE,
        cell::CellError::CasExhausted => error::CELL_CAS_EXHAUSTED,
        cell::CellError::ExpireFailed => error::CELL_EXPIRE_FAILED,
    })
}

/// Parameters of a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseSpec<'a> {
    /// Most leases held at once.
    pub max: i64,
    /// The holder's id.
    pub id: &'a [u8],
    /// Time to live.
    pub ttl: Micros,
}

fn validate_lease(id: &[u8], ttl: Option<Micros>, max: Option<i64>) -> Result<()> {
    if id.len() > MAX_LEASE_ID {
        return Err(Error::limiter_invalid(&"lease id is too long"));
    }
    if ttl.is_some_and(|t| !(1..=MAX_DURATION).contains(&t)) {
        return Err(Error::limiter_invalid(&"lease ttl is out of range"));
    }
    if max.is_some_and(|m| !(1..=MAX_AMOUNT).contains(&m)) {
        return Err(Error::limiter_invalid(&"max is out of range"));
    }
    Ok(())
}

fn read_leases(a: &mut Access<'_>, key: &[u8]) -> Result<Vec<Lease>> {
    match a.get_mut(key) {
        None => Ok(Vec::new()),
        Some(e) => concurrency::decode(&as_str(&e.value)?.as_bytes()).ok_or(error::LIMITER_STATE),
    }
}

fn store_leases(a: &mut Access<'_>, key: &[u8], leases: &[Lease]) {
    match concurrency::expire_at(leases) {
        None => {
            a.remove(key);
            a.touched(key);
        }
        Some(at) => store(a, key, at, |s| concurrency::encode(leases, s.make_raw())),
    }
}

/// Takes (or renews) lease `spec.id` on `key` at `now`.
pub fn acquire_exec(
    a: &mut Access<'_>,
    key: &[u8],
    spec: LeaseSpec<'_>,
    now: Micros,
) -> Result<Decision> {
    validate_lease(spec.id, Some(spec.ttl), Some(spec.max))?;
    validate_now(now)?;
    let mut leases = read_leases(a, key)?;
    let d = concurrency::acquire(&mut leases, now, spec.max, spec.id, spec.ttl);
    if d.allowed {
        store_leases(a, key, &leases);
    }
    Ok(d)
}

/// Ends lease `id` on `key`; true if it was held.
pub fn release_exec(a: &mut Access<'_>, key: &[u8], id: &[u8], now: Micros) -> Result<bool> {
    validate_lease(id, None, None)?;
    let mut leases = read_leases(a, key)?;
    let released = concurrency::release(&mut leases, now, id);
    if released {
        store_leases(a, key, &leases);
    }
    Ok(released)
}

/// Extends lease `id` on `key` to `now + ttl`; true if it was held.
pub fn renew_exec(
    a: &mut Access<'_>,
    key: &[u8],
    id: &[u8],
    ttl: Micros,
    now: Micros,
) -> Result<bool> {
    validate_lease(id, Some(ttl), None)?;
    let mut leases = read_leases(a, key)?;
    let renewed = concurrency::renew(&mut leases, now, id, ttl);
    if renewed {
        store_leases(a, key, &leases);
    }
    Ok(renewed)
}

// ---------------------------------------------------------------------------------------
// Handlers

fn now_us(ctx: &Ctx<'_, '_>) -> Micros {
    ctx.engine().clock.now_micros() as Micros
}

fn ms_arg(arg: &[u8]) -> Result<Micros> {
    int(arg)?
        .checked_mul(1000)
        .ok_or_else(|| Error::limiter_invalid(&"duration is out of range"))
}

/// Reads one `<policy>` at `args`; the number of arguments it took.
fn parse_policy(args: &[Bytes]) -> Result<(Policy, usize)> {
    let name = args.first().ok_or(Error::Syntax)?;
    let need = |n: usize| {
        if args.len() > n {
            Ok(())
        } else {
            Err(Error::Syntax)
        }
    };
    if is(name, "fixed") || is(name, "slidinglog") || is(name, "sliding") {
        need(2)?;
        let limit = int(&args[1])?;
        let window = ms_arg(&args[2])?;
        let p = if is(name, "fixed") {
            Policy::FixedWindow { limit, window }
        } else if is(name, "slidinglog") {
            Policy::SlidingLog { limit, window }
        } else {
            Policy::SlidingWindow { limit, window }
        };
        Ok((p, 3))
    } else if is(name, "tokenbucket") {
        need(3)?;
        Ok((
            Policy::TokenBucket {
                capacity: int(&args[1])?,
                refill: int(&args[2])?,
                interval: ms_arg(&args[3])?,
            },
            4,
        ))
    } else if is(name, "gcra") {
        need(3)?;
        let burst = int(&args[1])?;
        let count = int(&args[2])?;
        let period = ms_arg(&args[3])?;
        if count <= 0 {
            return Err(Error::limiter_invalid(&"count is out of range"));
        }
        Ok((
            Policy::Gcra {
                burst,
                emission: period / count,
            },
            4,
        ))
    } else {
        Err(Error::Syntax)
    }
}

/// `[COST n] [PEEK]`: (cost, charge).
fn parse_options(args: &[Bytes], from: usize) -> Result<(i64, bool)> {
    let mut cost = 1;
    let mut charge = true;
    let mut it = Args::new(args, from);
    while let Some(opt) = it.next() {
        if is(opt, "cost") {
            cost = int(it.value()?)?;
        } else if is(opt, "peek") {
            charge = false;
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok((cost, charge))
}

fn ms_up(us: Micros) -> i64 {
    ceil_div(us, 1000)
}

/// The 5-integer reply shared by CL.LIMIT, CL.LIMITALL and CL.ACQUIRE.
pub fn decision_reply(d: &Decision) -> Reply {
    Reply::Array(vec![
        Reply::Int(i64::from(!d.allowed)),
        Reply::Int(d.limit),
        Reply::Int(d.remaining),
        Reply::Int(match (d.allowed, d.retry_after) {
            (false, Some(us)) => ms_up(us),
            _ => -1,
        }),
        Reply::Int(ms_up(d.reset_after)),
    ])
}

fn cell_int(arg: &[u8]) -> Result<i64> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| Error::cell_not_integer(arg))
}

fn throttle(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    if args.len() != 5 && args.len() != 6 {
        return Err(error::CELL_USAGE);
    }
    let key = &args[1];
    let t = ThrottleArgs {
        max_burst: cell_int(&args[2])?,
        count: cell_int(&args[3])?,
        period: cell_int(&args[4])?,
        quantity: match args.get(5) {
            Some(q) => cell_int(q)?,
            None => 1,
        },
    };
    let now_ns = now_us(ctx) as i128 * 1000;
    let r = ctx.key(key, |a| throttle_exec(a, key, t, now_ns))?;
    Ok(Reply::Array(vec![
        Reply::Int(i64::from(r.limited)),
        Reply::Int(r.limit),
        Reply::Int(r.remaining),
        Reply::Int(r.retry_after),
        Reply::Int(r.reset_after),
    ]))
}

fn limit(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let (policy, used) = parse_policy(&args[2..])?;
    let (cost, charge) = parse_options(args, 2 + used)?;
    let now = now_us(ctx);
    let d = ctx.key(key, |a| limit_exec(a, key, &policy, now, cost, charge))?;
    Ok(decision_reply(&d))
}

fn limitall(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let n = int(&args[1])?;
    if n <= 0 {
        return Err(Error::limiter_invalid(&"numkeys must be positive"));
    }
    let n = n as usize;
    if args.len() < 2 + n {
        return Err(Error::Syntax);
    }
    let keys = &args[2..2 + n];
    let mut pos = 2 + n;
    let mut checks = Vec::with_capacity(n);
    for key in keys {
        let (policy, used) = parse_policy(&args[pos..])?;
        pos += used;
        checks.push((key.clone(), policy));
    }
    let (cost, charge) = parse_options(args, pos)?;
    let now = now_us(ctx);
    let ds = if n == 1 {
        ctx.key(&keys[0], |a| limit_all_exec(a, &checks, now, cost, charge))?
    } else {
        ctx.all(|a| limit_all_exec(a, &checks, now, cost, charge))?
    };
    Ok(Reply::Array(ds.iter().map(decision_reply).collect()))
}

fn acquire(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let max = int(&args[2])?;
    let id = &args[3];
    let ttl = ms_arg(&args[4])?;
    let now = now_us(ctx);
    let spec = LeaseSpec { max, id, ttl };
    let d = ctx.key(key, |a| acquire_exec(a, key, spec, now))?;
    Ok(decision_reply(&d))
}

fn release(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let now = now_us(ctx);
    let done = ctx.key(key, |a| release_exec(a, key, &args[2], now))?;
    Ok(Reply::from(done))
}

fn renew(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    let ttl = ms_arg(&args[3])?;
    let now = now_us(ctx);
    let done = ctx.key(key, |a| renew_exec(a, key, &args[2], ttl, now))?;
    Ok(Reply::from(done))
}

#[cfg(test)]
mod tests;
