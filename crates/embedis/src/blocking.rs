//! Blocking pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP; BZPOPMIN, BZPOPMAX and BZMPOP
//! ride on the same machinery): clients that wait for a key to receive data, served in the
//! order they blocked, as Redis does, both for server connections and in-process async callers.
//!
//! # How it works
//!
//! - A blocking command first tries its non-blocking path. When there is nothing to take and
//!   the client may block (not inside MULTI or a script: [`crate::cmd::Ctx::may_block`]), the
//!   handler registers a [`Waiter`] while it still holds the lock of every key it waits on:
//!   the waiter holds its database, keys, deadline, what to do when served (a [`BlockedOp`])
//!   and the `oneshot` sender its reply goes through. The caller gets a [`BlockedCall`] to
//!   await (see `Session::execute_or_block`); dropping it (client gone) withdraws the waiter.
//! - Queues live in the keyspace shards, next to the keys they wait on: per (db, key) a FIFO of
//!   waiters, guarded by that key's shard lock. So registering, signalling and serving need no
//!   global lock, and while nobody blocks the whole machinery costs one atomic load per write
//!   ([`Blocking::pending`]).
//! - Serving: a write calls `Access::touched(key)`; if some waiter is registered on that key,
//!   the key is recorded as ready in the `Access`. When the `Access` is dropped, that is before
//!   the command's locks are released (for MULTI/EXEC and scripts: after the whole block, since
//!   they hold one `Access` throughout), the ready keys are served in the order they became
//!   ready: each key's live waiters in FIFO order run their operation on that same locked
//!   `Access` and get their reply through the oneshot, until none is left or none can take
//!   anything. No other client can take the element between the push and the serving, as in
//!   Redis. Serving may make another key ready (BLMOVE into a list someone BLPOPs): the loop
//!   runs until no ready key remains.
//! - Locks: serving BLPOP-like waiters touches only the ready key, which the writer holds.
//!   Serving a BLMOVE writes its destination, which may live in another shard, so a waiter
//!   whose operation writes other keys marks its source key: `Keyspace::lock_key` on such a key
//!   takes every shard's lock instead of one (checked under the shard lock, after an atomic
//!   load that is zero when nobody blocks). Only commands on keys that a BLMOVE waits on pay
//!   for this; idle BLPOP consumers cost the rest of the keyspace nothing. (The first design
//!   locked everything whenever anyone waited, which serializes a whole server as soon as one
//!   worker idles on a queue.)
//! - A waiter served on one key stays in the queues of its other keys, marked resolved, until
//!   removed: at once when the serving `Access` holds those shards, otherwise by the timer
//!   thread. Resolved entries are skipped everywhere.
//! - Timeouts: one engine thread (started with the first deadline) resolves waiters whose
//!   deadline passed with their timeout reply, sleeping until the earliest deadline; under a manual clock it polls every 10 ms,
//!   so `ManualClock::advance` (and `EMBEDIS.CLOCK ADVANCE`) moves blocking timeouts too.
//!   A std thread rather than a task: the engine must work without an async runtime.
//!
//! Deviations from Redis 7.0 worth knowing: none in replies. Redis rotates waiters of another
//! type (a BZPOPMIN waiter on a key that became a list) to the back of the key's queue; here
//! they keep their place, which only differs when the same key later holds the other type.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;

use crate::clock::Clock;
use crate::db::Engine;
use crate::keyspace::Access;
use crate::reply::Reply;

/// What a blocked command does when a key it waits on receives data.
pub trait BlockedOp: Send + 'static {
    /// Tries to serve the waiter from `key` in database `a.db`, which was just written.
    /// `None` when the key holds nothing this waiter can take (missing, empty, or of another
    /// type): the waiter stays blocked. `Some(reply)` resolves it (an error reply too, e.g.
    /// BLMOVE into a key of the wrong type).
    fn serve(&mut self, a: &mut Access<'_>, key: &Bytes) -> Option<Reply>;

    /// The reply when the timeout passes first (and inside MULTI or a script, where a
    /// blocking command does not block).
    fn timeout_reply(&self) -> Reply;

    /// Whether serving writes keys other than the one served from (BLMOVE to another key):
    /// then commands on the waited keys lock every shard, so that serving can reach them.
    fn writes_other_keys(&self) -> bool {
        false
    }
}

struct Pending {
    op: Box<dyn BlockedOp>,
    tx: oneshot::Sender<Reply>,
}

/// One blocked call.
pub struct Waiter {
    id: u64,
    db: usize,
    keys: Vec<Bytes>,
    deadline: Option<u64>,
    needs_all: bool,
    /// Set once served, timed out or withdrawn (the entries left in queues are then skipped).
    done: AtomicBool,
    pending: Mutex<Option<Pending>>,
}

impl fmt::Debug for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter")
            .field("id", &self.id)
            .field("db", &self.db)
            .field("keys", &self.keys)
            .field("deadline", &self.deadline)
            .field("done", &self.is_done())
            .finish()
    }
}

impl Waiter {
    /// Whether the call was served, timed out or withdrawn.
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// The keys waited on, in the order given (duplicates removed).
    pub fn keys(&self) -> &[Bytes] {
        &self.keys
    }

    /// The database of the keys.
    pub fn db(&self) -> usize {
        self.db
    }

    /// Takes the pending operation, marking the waiter resolved; `None` if it already was.
    fn take(&self) -> Option<Pending> {
        let mut slot = self.pending.lock();
        let taken = slot.take();
        if taken.is_some() {
            self.done.store(true, Ordering::Release);
        }
        taken
    }
}

/// The waiter queues of one shard: per database and key, waiters in the order they blocked.
#[derive(Default)]
pub(crate) struct ShardWaiters {
    by_db: HashMap<usize, HashMap<Bytes, VecDeque<Arc<Waiter>>>>,
}

impl fmt::Debug for ShardWaiters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardWaiters")
            .field(
                "keys",
                &self.by_db.values().map(HashMap::len).sum::<usize>(),
            )
            .finish()
    }
}

impl ShardWaiters {
    fn queue(&self, db: usize, key: &[u8]) -> Option<&VecDeque<Arc<Waiter>>> {
        self.by_db.get(&db)?.get(key)
    }

    /// Whether a live waiter waits on `key`.
    pub(crate) fn has_live(&self, db: usize, key: &[u8]) -> bool {
        self.queue(db, key)
            .is_some_and(|q| q.iter().any(|w| !w.is_done()))
    }

    /// Whether a live waiter on `key` needs every shard locked to be served.
    pub(crate) fn needs_all(&self, db: usize, key: &[u8]) -> bool {
        self.queue(db, key)
            .is_some_and(|q| q.iter().any(|w| w.needs_all && !w.is_done()))
    }

    /// Whether no queue is left (tests).
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.by_db.is_empty()
    }

    fn push(&mut self, db: usize, key: Bytes, w: Arc<Waiter>) {
        let q = self.by_db.entry(db).or_default().entry(key).or_default();
        q.retain(|w| !w.is_done());
        q.push_back(w);
    }

    /// The live waiters on `key`, oldest first (resolved entries are pruned on the way).
    fn live(&mut self, db: usize, key: &[u8]) -> Vec<Arc<Waiter>> {
        let Some(keys) = self.by_db.get_mut(&db) else {
            return Vec::new();
        };
        let Some(q) = keys.get_mut(key) else {
            return Vec::new();
        };
        q.retain(|w| !w.is_done());
        let live = q.iter().cloned().collect();
        if q.is_empty() {
            keys.remove(key);
            if keys.is_empty() {
                self.by_db.remove(&db);
            }
        }
        live
    }

    /// Removes `w` from the queue of `key`.
    pub(crate) fn remove(&mut self, db: usize, key: &[u8], w: &Arc<Waiter>) {
        let Some(keys) = self.by_db.get_mut(&db) else {
            return;
        };
        let Some(q) = keys.get_mut(key) else {
            return;
        };
        q.retain(|x| !Arc::ptr_eq(x, w));
        if q.is_empty() {
            keys.remove(key);
            if keys.is_empty() {
                self.by_db.remove(&db);
            }
        }
    }

    /// Keys of `db` with a live waiter.
    pub(crate) fn waited_keys(&self, db: usize) -> Vec<Bytes> {
        self.by_db
            .get(&db)
            .map(|keys| {
                keys.iter()
                    .filter(|(_, q)| q.iter().any(|w| !w.is_done()))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct Timers {
    by_deadline: BTreeMap<(u64, u64), Arc<Waiter>>,
    /// Resolved waiters whose entries in other shards' queues are still to be removed.
    cleanup: Vec<Arc<Waiter>>,
}

/// The engine-wide part of blocking: counters, deadlines and the timer thread's wake-up.
#[derive(Default)]
pub struct Blocking {
    pending: AtomicUsize,
    next_id: AtomicU64,
    /// What the timer thread needs, until it is started: lazily, on the first deadline or
    /// deferred cleanup, so that stores that never block cost no thread.
    timer_start: Mutex<Option<(Weak<Engine>, Arc<dyn Clock>)>>,
    timers: Mutex<Timers>,
    wake: Condvar,
}

impl fmt::Debug for Blocking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blocking")
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

impl Blocking {
    /// Waiters registered and not yet resolved (INFO `blocked_clients`). Zero means that no
    /// write pays anything for blocking.
    #[inline]
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Waiters with a deadline (INFO `clients_in_timeout_table`).
    pub fn with_deadline(&self) -> usize {
        self.timers.lock().by_deadline.len()
    }

    /// Resolves `w` if still pending: `reply` makes the reply from its operation (`None`
    /// withdraws it silently). Returns whether this call resolved it.
    fn resolve(&self, w: &Arc<Waiter>, reply: Option<&dyn Fn(&dyn BlockedOp) -> Reply>) -> bool {
        let Some(p) = w.take() else {
            return false;
        };
        let reply = reply.map(|make| make(&*p.op));
        self.finish(w, p, reply);
        true
    }

    /// Bookkeeping after `w` was taken: counters, deadline index, and the reply.
    fn finish(&self, w: &Waiter, p: Pending, reply: Option<Reply>) {
        self.pending.fetch_sub(1, Ordering::AcqRel);
        if let Some(at) = w.deadline {
            self.timers.lock().by_deadline.remove(&(at, w.id));
        }
        if let Some(reply) = reply {
            // The receiver may be gone already (client disconnected): nothing to do then.
            let _ = p.tx.send(reply);
        }
    }

    /// Queues a resolved waiter for the timer thread to remove from the queues of shards the
    /// resolver did not hold.
    fn defer_cleanup(self: &Arc<Self>, w: Arc<Waiter>) {
        self.timers.lock().cleanup.push(w);
        self.start_timer();
        self.wake.notify_one();
    }

    /// Records what the timer thread will need (called once, when the engine is built).
    pub(crate) fn prepare_timer(&self, engine: Weak<Engine>, clock: Arc<dyn Clock>) {
        *self.timer_start.lock() = Some((engine, clock));
    }

    /// Starts the timer thread if it is not running yet.
    fn start_timer(self: &Arc<Self>) {
        let Some((engine, clock)) = self.timer_start.lock().take() else {
            return;
        };
        let blocking = self.clone();
        let spawned = std::thread::Builder::new()
            .name("embedis-blocking".into())
            .spawn(move || timer_loop(engine, blocking, clock));
        if let Err(e) = spawned {
            // Without the thread, blocked calls still get served; only timeouts would not
            // fire.
            eprintln!("embedis: could not start the blocking timeout thread: {e}");
        }
    }
}

/// A registered waiter and the receiving end of its reply, between the handler that
/// registered it and the caller that awaits it (see `Session::execute_or_block`).
pub struct PendingBlock {
    waiter: Option<Arc<Waiter>>,
    rx: Option<oneshot::Receiver<Reply>>,
    blocking: Arc<Blocking>,
}

impl fmt::Debug for PendingBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingBlock")
            .field("waiter", &self.waiter)
            .finish()
    }
}

impl PendingBlock {
    /// The call to await; `engine` is used to withdraw the waiter if the call is dropped.
    pub(crate) fn into_call(mut self, engine: Arc<Engine>) -> BlockedCall {
        BlockedCall {
            engine,
            waiter: self.waiter.take(),
            rx: self.rx.take(),
        }
    }
}

impl Drop for PendingBlock {
    fn drop(&mut self) {
        // Never turned into a call: withdraw (its queue entries are pruned when next seen).
        if let Some(w) = self.waiter.take() {
            self.blocking.resolve(&w, None);
        }
    }
}

/// A command that blocked: await it for its reply. Dropping it before it completes
/// withdraws the waiter, leaving no trace (a client that disconnects while blocked).
pub struct BlockedCall {
    engine: Arc<Engine>,
    waiter: Option<Arc<Waiter>>,
    rx: Option<oneshot::Receiver<Reply>>,
}

impl fmt::Debug for BlockedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockedCall")
            .field("waiter", &self.waiter)
            .finish()
    }
}

impl BlockedCall {
    /// Waits for the reply: the served value, or the timeout reply.
    pub async fn wait(self) -> Reply {
        self.await
    }

    /// The keys the call waits on.
    pub fn keys(&self) -> &[Bytes] {
        self.waiter.as_deref().map(Waiter::keys).unwrap_or(&[])
    }
}

impl Future for BlockedCall {
    type Output = Reply;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        let Some(rx) = self.rx.as_mut() else {
            return Poll::Ready(Reply::NilArray);
        };
        match Pin::new(rx).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                self.rx = None;
                // A resolved waiter always sends; a closed channel can only mean it was
                // withdrawn, which cannot happen while this call is alive.
                Poll::Ready(r.unwrap_or(Reply::NilArray))
            }
        }
    }
}

impl Drop for BlockedCall {
    fn drop(&mut self) {
        if let Some(w) = self.waiter.take() {
            if self.engine.keyspace.blocking.resolve(&w, None) {
                forget(&self.engine, &w);
            }
        }
    }
}

/// Registers a waiter on `keys` of database `db`; the caller holds the lock of every key's
/// shard (a single-key command its shard, others all of them).
pub fn register(
    a: &mut Access<'_>,
    db: usize,
    keys: &[Bytes],
    deadline: Option<u64>,
    op: Box<dyn BlockedOp>,
) -> PendingBlock {
    let blocking = a.keyspace().blocking.clone();
    let mut unique: Vec<Bytes> = Vec::with_capacity(keys.len());
    for k in keys {
        if !unique.contains(k) {
            unique.push(k.clone());
        }
    }
    let needs_all = op.writes_other_keys();
    let (tx, rx) = oneshot::channel();
    let w = Arc::new(Waiter {
        id: blocking.next_id.fetch_add(1, Ordering::Relaxed),
        db,
        keys: unique,
        deadline,
        needs_all,
        done: AtomicBool::new(false),
        pending: Mutex::new(Some(Pending { op, tx })),
    });
    for k in &w.keys {
        a.waiters_of(k).push(db, k.clone(), w.clone());
    }
    blocking.pending.fetch_add(1, Ordering::AcqRel);
    if let Some(at) = deadline {
        let mut t = blocking.timers.lock();
        let earliest = t
            .by_deadline
            .keys()
            .next()
            .is_none_or(|&(first, _)| at < first);
        t.by_deadline.insert((at, w.id), w.clone());
        drop(t);
        blocking.start_timer();
        if earliest {
            blocking.wake.notify_one();
        }
    }
    PendingBlock {
        waiter: Some(w),
        rx: Some(rx),
        blocking,
    }
}

/// Removes a resolved waiter from every queue, locking one shard at a time. The caller holds
/// no shard lock.
fn forget(engine: &Engine, w: &Arc<Waiter>) {
    for k in &w.keys {
        engine.keyspace.with_waiters_of(k, |q| q.remove(w.db, k, w));
    }
}

/// Serves the keys made ready under `a`, in the order they became ready (called when the
/// `Access` is dropped, before its locks are released).
pub(crate) fn serve_ready(a: &mut Access<'_>) {
    let saved_db = a.db;
    while let Some((db, key)) = a.take_ready() {
        a.db = db;
        serve_key(a, db, &key);
    }
    a.db = saved_db;
}

fn serve_key(a: &mut Access<'_>, db: usize, key: &Bytes) {
    let blocking = a.keyspace().blocking.clone();
    for w in a.waiters_of(key).live(db, key) {
        if w.needs_all && !a.holds_all() {
            // `lock_key` upgrades to every shard for such keys; a lock taken some other way
            // cannot serve this waiter now. It stays blocked until the next write.
            continue;
        }
        // Serving and resolving happen under one hold of the waiter's slot, so a timeout
        // cannot resolve it in between and lose the element taken for it.
        let served = {
            let mut slot = w.pending.lock();
            let Some(p) = slot.as_mut() else { continue };
            match p.op.serve(a, key) {
                Some(reply) => {
                    w.done.store(true, Ordering::Release);
                    slot.take().map(|p| (p, reply))
                }
                None => continue,
            }
        };
        if let Some((p, reply)) = served {
            blocking.finish(&w, p, Some(reply));
        }
        for k in &w.keys {
            if a.holds_shard_of(k) {
                a.waiters_of(k).remove(db, k, &w);
            } else {
                blocking.defer_cleanup(w.clone());
                break;
            }
        }
    }
}

/// The timer thread: resolves waiters whose deadline passed and cleans queues, until the
/// engine is dropped.
fn timer_loop(engine: Weak<Engine>, blocking: Arc<Blocking>, clock: Arc<dyn Clock>) {
    let mut t = blocking.timers.lock();
    loop {
        let now = clock.now_millis();
        let mut due = Vec::new();
        while let Some(entry) = t.by_deadline.first_entry() {
            if entry.key().0 > now {
                break;
            }
            due.push(entry.remove());
        }
        let cleanup = std::mem::take(&mut t.cleanup);
        if !due.is_empty() || !cleanup.is_empty() {
            drop(t);
            let Some(e) = engine.upgrade() else { return };
            for w in &due {
                blocking.resolve(w, Some(&|op| op.timeout_reply()));
                forget(&e, w);
            }
            for w in &cleanup {
                forget(&e, w);
            }
            drop(e);
            t = blocking.timers.lock();
            continue;
        }
        if engine.strong_count() == 0 {
            return;
        }
        let wait = match t.by_deadline.keys().next() {
            None => Duration::from_secs(1),
            Some(_) if clock.is_manual() => Duration::from_millis(10),
            Some(&(at, _)) => Duration::from_millis((at - now).clamp(1, 1000)),
        };
        blocking.wake.wait_for(&mut t, wait);
    }
}

/// Reads a blocking command's timeout in seconds (a float; 0 waits forever) as Redis 7.0 does:
/// `long double` parsing, truncated to milliseconds, so values under a millisecond also mean
/// forever; a value whose milliseconds do not fit in 64 bits (including `inf`) is "negative".
/// Returns the timeout in milliseconds, `None` for forever.
pub fn parse_timeout(arg: &[u8]) -> crate::Result<Option<u64>> {
    use crate::error::{TIMEOUT_NEGATIVE, TIMEOUT_NOT_FLOAT};
    let seconds = parse_long_double(arg).ok_or(TIMEOUT_NOT_FLOAT)?;
    // C converts with `(long long)`: out of range (and infinities) become LLONG_MIN on x86.
    // Plain decimals are scaled exactly (an f64 would round 9223372036854775 seconds up to
    // 2^63 ms, where the long double does not).
    let ms = match decimal_millis(arg) {
        Some(Some(ms)) => ms,
        Some(None) => i64::MIN,
        None => {
            let ms = seconds * 1000.0;
            if ms.is_finite() && ms > -9.223_372_036_854_776e18 && ms < 9.223_372_036_854_776e18 {
                ms as i64
            } else {
                i64::MIN
            }
        }
    };
    if ms < 0 {
        return Err(TIMEOUT_NEGATIVE);
    }
    Ok((ms > 0).then_some(ms as u64))
}

/// Seconds written as a plain decimal (`[sign] digits [. digits] [e exp]`, already validated)
/// to whole milliseconds, truncated toward zero: `Some(None)` when they do not fit in an
/// `i64`, `None` for other spellings (hex, inf).
fn decimal_millis(arg: &[u8]) -> Option<Option<i64>> {
    let (negative, body) = match arg.first()? {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if !body.first()?.is_ascii_digit() && body[0] != b'.'
        || body.len() > 1 && body[1].eq_ignore_ascii_case(&b'x')
    {
        return None;
    }
    let (mantissa, exp) = match body.iter().position(|&c| c == b'e' || c == b'E') {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, &b""[..]),
    };
    let mut exp10: i64 = if exp.is_empty() {
        0
    } else {
        let (neg, digits) = match exp[0] {
            b'-' => (true, &exp[1..]),
            b'+' => (false, &exp[1..]),
            _ => (false, exp),
        };
        let v = digits.iter().fold(0i64, |v, &d| {
            v.saturating_mul(10).saturating_add((d - b'0') as i64)
        });
        if neg { -v } else { v }
    };
    // value = m * 10^exp10, keeping at most 36 significant digits (the rest only truncates).
    let mut m: u128 = 0;
    let mut significant = 0;
    let mut seen_point = false;
    for &c in mantissa {
        match c {
            b'.' => seen_point = true,
            d => {
                if significant < 36 {
                    m = m * 10 + (d - b'0') as u128;
                    if m > 0 {
                        significant += 1;
                    }
                    if seen_point {
                        exp10 -= 1;
                    }
                } else if !seen_point {
                    exp10 += 1;
                }
            }
        }
    }
    let scale = exp10.saturating_add(3);
    let ms: Option<u128> = if m == 0 {
        Some(0)
    } else if scale >= 0 {
        u32::try_from(scale)
            .ok()
            .and_then(|s| 10u128.checked_pow(s))
            .and_then(|p| m.checked_mul(p))
    } else {
        Some(
            u32::try_from(-scale)
                .ok()
                .and_then(|s| 10u128.checked_pow(s))
                .map_or(0, |p| m / p),
        )
    };
    Some(match ms.and_then(|v| i64::try_from(v).ok()) {
        Some(v) if negative => Some(-v),
        Some(v) => Some(v),
        None => None,
    })
}

/// The deadline (Unix ms) for a timeout of `ms` from `now`; `None` for none. A deadline past
/// the 64-bit signed range never fires, as in Redis.
pub fn deadline(now: u64, ms: Option<u64>) -> Option<u64> {
    let at = now.checked_add(ms?)?;
    (at <= i64::MAX as u64).then_some(at)
}

/// Parses a number the way Redis's `string2ld` does (`strtold` over the whole argument, no
/// leading space, no NaN, no overflow or underflow of the 80-bit `long double` range), and
/// returns it as an `f64`: values beyond the `f64` range come back infinite, values below it
/// as zero, which is all a timeout needs.
fn parse_long_double(arg: &[u8]) -> Option<f64> {
    // Redis copies into a 5 KiB buffer with room for the terminating NUL.
    if arg.is_empty() || arg.len() >= 5 * 1024 || arg[0].is_ascii_whitespace() || arg[0] == 0x0b {
        return None;
    }
    let (negative, body) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    let sign = if negative { -1.0 } else { 1.0 };
    let lower = body.to_ascii_lowercase();
    if lower == b"inf" || lower == b"infinity" {
        return Some(sign * f64::INFINITY);
    }
    if lower.starts_with(b"nan") {
        return None;
    }
    if lower.starts_with(b"0x") {
        return parse_hex_float(&lower[2..]).map(|v| sign * v);
    }
    // Decimal: digits [. digits] [e [sign] digits], at least one mantissa digit.
    let mut i = 0;
    let int_start = i;
    while i < lower.len() && lower[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = &lower[int_start..i];
    let mut frac_digits: &[u8] = &[];
    if i < lower.len() && lower[i] == b'.' {
        i += 1;
        let s = i;
        while i < lower.len() && lower[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = &lower[s..i];
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    let mut exp: i64 = 0;
    if i < lower.len() && lower[i] == b'e' {
        i += 1;
        let exp_negative = match lower.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let s = i;
        while i < lower.len() && lower[i].is_ascii_digit() {
            exp = exp
                .saturating_mul(10)
                .saturating_add((lower[i] - b'0') as i64);
            i += 1;
        }
        if i == s {
            return None;
        }
        if exp_negative {
            exp = -exp;
        }
    }
    if i != lower.len() {
        return None;
    }
    // Decimal exponent of the first significant digit, to check the long double range.
    let digits: Vec<u8> = int_digits.iter().chain(frac_digits).copied().collect();
    let Some(first) = digits.iter().position(|&d| d != b'0') else {
        return Some(sign * 0.0);
    };
    let magnitude = (int_digits.len() as i64 - 1 - first as i64).saturating_add(exp);
    let lead: f64 = std::str::from_utf8(&digits[first..(first + 17).min(digits.len())])
        .ok()?
        .parse::<f64>()
        .ok()?
        / 10f64.powi((digits.len() - first).min(17) as i32 - 1);
    // LDBL_MAX is 1.18973149535723176502e4932; the smallest subnormal 3.6452e-4951, and
    // anything under half of it rounds to zero (ERANGE with a zero result).
    if magnitude > 4932 || (magnitude == 4932 && lead > 1.189_731_495_357_231_8) {
        return None;
    }
    if magnitude < -4951 || (magnitude == -4951 && lead < 1.822_599_765_941_237) {
        return None;
    }
    let text = std::str::from_utf8(arg).ok()?;
    let v: f64 = text.parse().ok()?;
    Some(v)
}

/// The part of a hex float after `0x`: hex digits [. hex digits] [p [sign] decimal digits].
fn parse_hex_float(s: &[u8]) -> Option<f64> {
    let mut i = 0;
    let mut mantissa = 0f64;
    let mut any = false;
    let mut scale: i64 = 0;
    while i < s.len() && s[i].is_ascii_hexdigit() {
        mantissa = mantissa * 16.0 + (s[i] as char).to_digit(16)? as f64;
        any = true;
        i += 1;
    }
    if i < s.len() && s[i] == b'.' {
        i += 1;
        while i < s.len() && s[i].is_ascii_hexdigit() {
            mantissa = mantissa * 16.0 + (s[i] as char).to_digit(16)? as f64;
            scale -= 4;
            any = true;
            i += 1;
        }
    }
    if !any {
        return None;
    }
    let mut exp: i64 = 0;
    if i < s.len() && s[i] == b'p' {
        i += 1;
        let negative = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while i < s.len() && s[i].is_ascii_digit() {
            exp = exp.saturating_mul(10).saturating_add((s[i] - b'0') as i64);
            i += 1;
        }
        if i == start {
            return None;
        }
        if negative {
            exp = -exp;
        }
    }
    if i != s.len() {
        return None;
    }
    if mantissa == 0.0 {
        return Some(0.0);
    }
    let bits = mantissa.log2().floor() as i64 + scale.saturating_add(exp);
    // long double: largest finite below 2^16384, smallest subnormal 2^-16445.
    if !(-16446..16384).contains(&bits) {
        return None;
    }
    Some(mantissa * 2f64.powi(scale.saturating_add(exp).clamp(-2000, 2000) as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_like_redis() {
        let ms = |s: &str| parse_timeout(s.as_bytes()).map_err(|e| e.to_string());
        assert_eq!(ms("0"), Ok(None));
        assert_eq!(ms("1"), Ok(Some(1000)));
        assert_eq!(ms("0.5"), Ok(Some(500)));
        assert_eq!(ms("0.0001"), Ok(None));
        assert_eq!(ms("-0.0001"), Ok(None));
        assert_eq!(ms("1e-400"), Ok(None));
        assert_eq!(ms("0x10"), Ok(Some(16000)));
        assert_eq!(ms("9223372036854775"), Ok(Some(9_223_372_036_854_775_000)));
        let negative = Err("ERR timeout is negative".to_string());
        let not_float = Err("ERR timeout is not a float or out of range".to_string());
        for s in [
            "-1", "1e300", "1e400", "-1e400", "inf", "-inf", "+inf", "9.3e15",
        ] {
            assert_eq!(ms(s), negative, "{s}");
        }
        for s in [
            "abc", "", " 1", "1 ", "nan", "1_0", "1e5000", "1e-5000", "0x", "1e", ".",
        ] {
            assert_eq!(ms(s), not_float, "{s}");
        }
    }

    use crate::db::{Db, Execution};
    use crate::reply::Reply;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct ThreadWaker(std::thread::Thread);

    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    /// Runs a future on this thread, parking between polls (no runtime needed).
    fn block_on<F: Future>(f: F) -> F::Output {
        let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park_timeout(Duration::from_millis(100));
        }
    }

    fn args(a: &[&str]) -> Vec<Bytes> {
        a.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn sessions_block_only_when_allowed() {
        let db = Db::new();
        let mut s = db.session();
        s.state.authenticated = true;
        // A synchronous caller gets the timeout reply at once.
        assert_eq!(s.execute(&args(&["BLPOP", "q", "0"])), Reply::NilArray);
        assert_eq!(
            s.execute(&args(&["BLMOVE", "q", "d", "LEFT", "LEFT", "0"])),
            Reply::NilArray
        );
        // So does MULTI (deny_blocking), where BLMOVE answers a null bulk as in Redis.
        s.state.deny_blocking = true;
        for (cmd, reply) in [
            (&["BLPOP", "q", "0"][..], Reply::NilArray),
            (&["BLMPOP", "0", "1", "q", "LEFT"], Reply::NilArray),
            (&["BLMOVE", "q", "d", "LEFT", "LEFT", "0"], Reply::Nil),
            (&["BRPOPLPUSH", "q", "d", "0"], Reply::Nil),
        ] {
            match s.execute_or_block(&args(cmd)) {
                Execution::Reply(r) => assert_eq!(r, reply, "{cmd:?}"),
                Execution::Blocked(_) => panic!("{cmd:?} blocked despite deny_blocking"),
            }
        }
        s.state.deny_blocking = false;
        // Errors and data answer at once.
        db.call(["SET", "s", "v"]);
        let Execution::Reply(Reply::Error(_)) = s.execute_or_block(&args(&["BLPOP", "s", "0"]))
        else {
            panic!("WRONGTYPE expected")
        };
        db.call(["RPUSH", "q", "x"]);
        let Execution::Reply(r) = s.execute_or_block(&args(&["BLPOP", "q", "0"])) else {
            panic!("data present, yet blocked")
        };
        assert_eq!(r, Reply::Array(vec![Reply::bulk("q"), Reply::bulk("x")]));
        assert_eq!(db.engine().blocked_clients(), 0);
    }

    #[test]
    fn blocked_sessions_are_served_fifo_across_commands() {
        let db = Db::new();
        let mut calls = Vec::new();
        for cmd in [
            &["BLPOP", "a", "q", "0"][..],
            &["BRPOP", "q", "0"],
            &["BLMPOP", "0", "1", "q", "LEFT", "COUNT", "2"],
            &["BLMOVE", "q", "d", "RIGHT", "LEFT", "0"],
        ] {
            let mut s = db.session();
            s.state.authenticated = true;
            let Execution::Blocked(call) = s.execute_or_block(&args(cmd)) else {
                panic!("{cmd:?} did not block")
            };
            calls.push(call);
        }
        assert_eq!(db.engine().blocked_clients(), 4);
        // One command pushing five elements serves everybody, in order, before it returns.
        assert_eq!(
            db.call(["RPUSH", "q", "1", "2", "3", "4", "5"]),
            Reply::Int(5)
        );
        assert_eq!(db.engine().blocked_clients(), 0);
        let replies: Vec<Reply> = calls.into_iter().map(block_on).collect();
        assert_eq!(
            replies,
            vec![
                Reply::Array(vec![Reply::bulk("q"), Reply::bulk("1")]),
                Reply::Array(vec![Reply::bulk("q"), Reply::bulk("5")]),
                Reply::Array(vec![
                    Reply::bulk("q"),
                    Reply::Array(vec![Reply::bulk("2"), Reply::bulk("3")])
                ]),
                Reply::bulk("4"),
            ]
        );
        assert_eq!(db.call(["EXISTS", "q"]), Reply::Int(0));
        assert_eq!(
            db.call(["LRANGE", "d", "0", "-1"]),
            Reply::Array(vec![Reply::bulk("4")])
        );
    }

    #[test]
    fn waiters_stay_in_their_database() {
        let db = Db::new();
        let mut s = db.session();
        s.state.authenticated = true;
        s.execute(&args(&["SELECT", "1"]));
        let Execution::Blocked(call) = s.execute_or_block(&args(&["BLPOP", "q", "0"])) else {
            panic!("did not block")
        };
        db.call(["RPUSH", "q", "db0"]);
        assert_eq!(db.engine().blocked_clients(), 1);
        // MOVE into database 1 serves it.
        assert_eq!(db.call(["MOVE", "q", "1"]), Reply::Int(1));
        assert_eq!(
            block_on(call),
            Reply::Array(vec![Reply::bulk("q"), Reply::bulk("db0")])
        );
    }

    #[test]
    fn concurrent_producers_consumers_and_movers_lose_nothing() {
        use std::collections::HashSet;
        let db = Db::new();
        let queues = ["q0", "q1", "q2"];
        let per_producer = 1500;
        let producers: Vec<_> = (0..3)
            .map(|p| {
                let db = db.clone();
                std::thread::spawn(move || {
                    for i in 0..per_producer {
                        let q = queues[(i * 7 + p) % 3];
                        let v = format!("{p}-{i}");
                        if i % 2 == 0 {
                            db.rpush(q, &[&v]).unwrap();
                        } else {
                            db.lpush(q, &[&v]).unwrap();
                        }
                    }
                })
            })
            .collect();
        let timeout = Some(Duration::from_millis(300));
        let movers: Vec<_> = (0..2)
            .map(|m| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let (src, dst) = (queues[m], queues[m + 1]);
                    let end = crate::types::list::ListEnd::Left;
                    while block_on(db.blmove(src, dst, end, end, timeout))
                        .unwrap()
                        .is_some()
                    {}
                })
            })
            .collect();
        let consumers: Vec<_> = (0..3)
            .map(|_| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while let Some((_, v)) = block_on(db.blpop(&queues, timeout)).unwrap() {
                        got.push(v);
                    }
                    got
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        for m in movers {
            m.join().unwrap();
        }
        let mut seen = HashSet::new();
        for c in consumers {
            for v in c.join().unwrap() {
                assert!(seen.insert(v.clone()), "{v:?} delivered twice");
            }
        }
        for q in queues {
            for v in db.lrange(q, 0, -1).unwrap() {
                assert!(seen.insert(v.clone()), "{v:?} both delivered and left");
            }
        }
        assert_eq!(seen.len(), 3 * per_producer);
        assert_eq!(db.engine().blocked_clients(), 0);
    }

    #[test]
    fn deadlines() {
        assert_eq!(deadline(1000, None), None);
        assert_eq!(deadline(1000, Some(500)), Some(1500));
        assert_eq!(deadline(1000, Some(u64::MAX)), None);
        assert_eq!(deadline(1000, Some(i64::MAX as u64)), None);
    }
}
