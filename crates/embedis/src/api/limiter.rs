//! Typed rate limiter methods: the native fast path (no command parsing, no Lua) that
//! `embedis-kit`'s embedded backend uses. Same exec functions as the `CL.*` commands.

use std::time::Duration;

use crate::cmd::limiter::{
    LeaseSpec, ThrottleArgs, acquire_exec, limit_all_exec, limit_exec, release_exec, renew_exec,
    throttle_exec,
};
use crate::db::Db;
use crate::error::Result;
use crate::types::limiter::cell::CellReply;
use crate::types::limiter::{Decision, Micros, Policy, micros};

impl Db {
    fn now_micros(&self) -> Micros {
        self.engine().clock.now_micros() as Micros
    }

    /// Locks `key`'s shard with one clock read serving both the limiter (µs) and the
    /// keyspace's expiry checks (ms).
    fn with_key_at<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(&mut crate::keyspace::Access<'_>, Micros) -> R,
    ) -> R {
        let e = &**self.engine();
        let now = e.clock.now_micros();
        let mut a = e.keyspace.lock_key(key, &e.stats, self.index(), now / 1000);
        f(&mut a, now as Micros)
    }

    /// Checks and charges `cost` units against `key` under `policy` (the time is the
    /// engine clock). State is stored under `key` with a TTL, so idle keys expire.
    ///
    /// ```
    /// use std::time::Duration;
    /// use embedis::types::limiter::Policy;
    ///
    /// let db = embedis::Db::new();
    /// // 2 requests per second, bursts of 2.
    /// let policy = Policy::gcra(2, 2, Duration::from_secs(1));
    /// assert!(db.rate_limit("ip:10.0.0.1", &policy, 1).unwrap().allowed);
    /// assert!(db.rate_limit("ip:10.0.0.1", &policy, 1).unwrap().allowed);
    /// let d = db.rate_limit("ip:10.0.0.1", &policy, 1).unwrap();
    /// assert!(!d.allowed);
    /// assert!(d.retry_after.unwrap() <= 500_000); // µs
    /// ```
    pub fn rate_limit(
        &self,
        key: impl AsRef<[u8]>,
        policy: &Policy,
        cost: i64,
    ) -> Result<Decision> {
        let key = key.as_ref();
        let now = self.now_micros();
        self.with_key(key, |a| limit_exec(a, key, policy, now, cost, true))
    }

    /// Like [`rate_limit`](Db::rate_limit) without charging: whether `cost` units would be
    /// admitted now, and what remains.
    pub fn rate_limit_peek(
        &self,
        key: impl AsRef<[u8]>,
        policy: &Policy,
        cost: i64,
    ) -> Result<Decision> {
        let key = key.as_ref();
        self.with_key_at(key, |a, now| limit_exec(a, key, policy, now, cost, false))
    }

    /// Several policies, one key each, atomically and all-or-nothing: the request is
    /// charged to every key only if every policy admits it. One decision per check, in
    /// order; when one rejects, the others report their uncharged state.
    ///
    /// ```
    /// use std::time::Duration;
    /// use embedis::types::limiter::Policy;
    ///
    /// let db = embedis::Db::new();
    /// let checks = [
    ///     ("u:1:burst", Policy::token_bucket(5, 1, Duration::from_secs(1))),
    ///     ("u:1:daily", Policy::fixed_window(3, Duration::from_secs(86_400))),
    /// ];
    /// for _ in 0..3 {
    ///     assert!(db.rate_limit_all(&checks, 1, true).unwrap().iter().all(|d| d.allowed));
    /// }
    /// let ds = db.rate_limit_all(&checks, 1, true).unwrap();
    /// assert!(ds[0].allowed && !ds[1].allowed);
    /// assert_eq!(ds[0].remaining, 2); // the bucket was not charged
    /// ```
    pub fn rate_limit_all<K: AsRef<[u8]>>(
        &self,
        checks: &[(K, Policy)],
        cost: i64,
        charge: bool,
    ) -> Result<Vec<Decision>> {
        let now = self.now_micros();
        match checks {
            [(one, _)] => self.with_key(one.as_ref(), |a| {
                limit_all_exec(a, checks, now, cost, charge)
            }),
            _ => self.with_all(|a| limit_all_exec(a, checks, now, cost, charge)),
        }
    }

    /// redis-cell's `CL.THROTTLE`: GCRA with `count` per `period` seconds and bursts of
    /// `max_burst + 1`, replying like redis-cell.
    ///
    /// ```
    /// use embedis::cmd::limiter::ThrottleArgs;
    ///
    /// let db = embedis::Db::new();
    /// let args = ThrottleArgs { max_burst: 15, count: 30, period: 60, quantity: 1 };
    /// let r = db.throttle("user123", args).unwrap();
    /// assert_eq!((r.limited, r.limit, r.remaining, r.retry_after, r.reset_after), (false, 16, 15, -1, 2));
    /// ```
    pub fn throttle(&self, key: impl AsRef<[u8]>, args: ThrottleArgs) -> Result<CellReply> {
        let key = key.as_ref();
        let now_ns = self.now_micros() as i128 * 1000;
        self.with_key(key, |a| throttle_exec(a, key, args, now_ns))
    }

    /// Takes a lease on `key` for `id` (renewing it if `id` holds one): at most `max`
    /// leases at once, each ending after `ttl` unless renewed or released.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let db = embedis::Db::new();
    /// let ttl = Duration::from_secs(30);
    /// assert!(db.lease_acquire("jobs", 1, "worker-a", ttl).unwrap().allowed);
    /// assert!(!db.lease_acquire("jobs", 1, "worker-b", ttl).unwrap().allowed);
    /// assert!(db.lease_release("jobs", "worker-a").unwrap());
    /// assert!(db.lease_acquire("jobs", 1, "worker-b", ttl).unwrap().allowed);
    /// ```
    pub fn lease_acquire(
        &self,
        key: impl AsRef<[u8]>,
        max: i64,
        id: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> Result<Decision> {
        let key = key.as_ref();
        let now = self.now_micros();
        let spec = LeaseSpec {
            max,
            id: id.as_ref(),
            ttl: micros(ttl),
        };
        self.with_key(key, |a| acquire_exec(a, key, spec, now))
    }

    /// Ends lease `id` on `key`; true if it was held.
    pub fn lease_release(&self, key: impl AsRef<[u8]>, id: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        let now = self.now_micros();
        self.with_key(key, |a| release_exec(a, key, id.as_ref(), now))
    }

    /// Extends lease `id` on `key` to `ttl` from now; true if it was held.
    pub fn lease_renew(
        &self,
        key: impl AsRef<[u8]>,
        id: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> Result<bool> {
        let key = key.as_ref();
        let now = self.now_micros();
        self.with_key(key, |a| renew_exec(a, key, id.as_ref(), micros(ttl), now))
    }
}
