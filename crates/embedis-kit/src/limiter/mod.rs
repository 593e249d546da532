//! Rate limiting over any [`Backend`]: named policies checked together, per-call tiers,
//! cost per request, peek and reset, and a failure policy for when the backend is down.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use std::time::Duration;
//! use embedis_kit::backend::EmbeddedBackend;
//! use embedis_kit::limiter::{Limiter, Policy};
//!
//! let backend = EmbeddedBackend::new(embedis::Db::new());
//! let limiter = Limiter::builder(backend)
//!     .policy("burst", Policy::gcra(10, 10, Duration::from_secs(1)))
//!     .policy("hourly", Policy::sliding_window(1000, Duration::from_secs(3600)))
//!     .build()
//!     .unwrap();
//! let d = limiter.check("203.0.113.7").await;
//! assert!(d.allowed);
//! assert_eq!(d.remaining, 9); // the tightest policy ("burst") decided
//! # });
//! ```
//!
//! Each algorithm has a runnable example on its [`Policy`] constructor; the module docs of
//! `embedis::types::limiter` give the exact semantics (units, rounding, bounds).
//!
//! # Several policies
//!
//! All policies of a check are decided in one atomic backend call (one round trip to
//! Redis): the request is charged to every policy only if every policy admits it. The
//! reported [`Decision`] is the deciding policy's: when rejected, the rejecting policy with
//! the longest wait; when admitted, the one with the fewest units left.
//!
//! # Keys
//!
//! A policy's state lives under `{prefix}:{<key>}:{policy name}`. The `{...}` is a Redis
//! Cluster hash tag: all policies of one key share a slot, so one script can check them
//! atomically. Keys carry a TTL on every backend, so idle keys (one per client IP, say)
//! disappear.
//!
//! # When the backend fails
//!
//! A remote backend call is bounded by a timeout (default 50 ms) and guarded by a circuit
//! breaker. When it fails, the [`FailurePolicy`] decides: reject ([`FailClosed`]), admit
//! ([`FailOpen`]) or decide with an in-process limiter ([`Local`]). Such decisions carry
//! [`Decision::degraded`], and [`Limiter::metrics`] counts them.
//!
//! [`FailClosed`]: FailurePolicy::FailClosed
//! [`FailOpen`]: FailurePolicy::FailOpen
//! [`Local`]: FailurePolicy::Local

mod breaker;
mod concurrency;
mod metrics;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use embedis::types::limiter::{Policy, PolicyError};

use self::breaker::Breaker;
pub use self::breaker::{CircuitBreakerConfig, CircuitState};
pub use self::concurrency::{ConcurrencyLimiter, ConcurrencyLimiterBuilder, Permit};
pub use self::metrics::MetricsSnapshot;
use self::metrics::{Metrics, inc};
use crate::backend::{Backend, Check, EmbeddedBackend, RateLimitRequest, RawDecision};
use crate::error::{Error, Result};

/// A policy with the name that identifies it in keys and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPolicy {
    /// Printable ASCII without `:`, `{`, `}`, `"` or `\` (it appears in keys and in
    /// structured header fields).
    pub name: Arc<str>,
    /// The algorithm and its parameters.
    pub policy: Policy,
}

impl NamedPolicy {
    /// A named policy.
    pub fn new(name: impl Into<Arc<str>>, policy: Policy) -> Self {
        NamedPolicy {
            name: name.into(),
            policy,
        }
    }

    /// Checks the name and the policy's bounds.
    pub fn validate(&self) -> Result<()> {
        let ok = !self.name.is_empty()
            && self.name.bytes().all(|b| {
                (0x21..=0x7e).contains(&b) && !matches!(b, b':' | b'{' | b'}' | b'"' | b'\\')
            });
        if !ok {
            return Err(Error::Invalid(format!("policy name {:?}", self.name)));
        }
        Ok(self.policy.validate()?)
    }

    fn info(&self) -> PolicyInfo {
        PolicyInfo {
            name: self.name.clone(),
            limit: self.policy.limit().max(0) as u64,
            window: us(self.policy.window()),
        }
    }
}

/// The policy behind a decision, for headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo {
    /// The policy's name.
    pub name: Arc<str>,
    /// Its limit (quota).
    pub limit: u64,
    /// Its window (the refill time for bucket algorithms).
    pub window: Duration,
}

/// How the failure policy stood in for the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureCause {
    /// The backend call timed out.
    Timeout,
    /// The circuit breaker is open: no call was made.
    CircuitOpen,
    /// The backend call failed.
    Error,
}

/// What the failure policy did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureMode {
    /// Admitted without a decision.
    FailedOpen,
    /// Rejected without a decision.
    FailedClosed,
    /// Decided by the in-process fallback limiter.
    Local,
}

/// A decision taken without the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Degraded {
    /// Why the backend did not decide.
    pub cause: FailureCause,
    /// What decided instead.
    pub mode: FailureMode,
}

/// What to do when the backend cannot decide (error, timeout, open circuit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Reject: protects what the limiter guards, at the cost of availability.
    #[default]
    FailClosed,
    /// Admit: availability first.
    FailOpen,
    /// Decide with an in-process limiter holding the same policies, each limit divided by
    /// `instances` (the number of app instances sharing the real limit), at least 1.
    Local {
        /// App instances that share the limit.
        instances: u32,
    },
}

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Decision {
    /// Whether the request is admitted (for a peek: would be).
    pub allowed: bool,
    /// The deciding policy's limit.
    pub limit: u64,
    /// Units left under the deciding policy (after this request when charged).
    pub remaining: u64,
    /// Time until the deciding policy is back to its full limit.
    pub reset_after: Duration,
    /// When rejected: how long to wait before retrying (`None` when admitted, or when no
    /// wait will do: the cost exceeds the limit, or the decision is degraded and unknown).
    pub retry_after: Option<Duration>,
    /// The deciding policy.
    pub policy: Option<PolicyInfo>,
    /// Set when the failure policy decided instead of the backend.
    pub degraded: Option<Degraded>,
}

fn us(v: i64) -> Duration {
    Duration::from_micros(v.max(0) as u64)
}

impl Decision {
    fn from_raw(raw: &RawDecision, policy: Option<PolicyInfo>) -> Decision {
        Decision {
            allowed: raw.allowed,
            limit: raw.limit.max(0) as u64,
            remaining: raw.remaining.max(0) as u64,
            reset_after: us(raw.reset_after),
            retry_after: if raw.allowed {
                None
            } else {
                raw.retry_after.map(us)
            },
            policy,
            degraded: None,
        }
    }

    /// Picks the deciding policy among several decisions (see the module docs).
    fn aggregate(raws: &[RawDecision], policies: &[NamedPolicy]) -> Decision {
        let allowed = raws.iter().all(|d| d.allowed);
        let pick = if allowed {
            (0..raws.len()).min_by_key(|&i| raws[i].remaining)
        } else {
            // Longest wait first; "never" is longest.
            (0..raws.len())
                .filter(|&i| !raws[i].allowed)
                .max_by_key(|&i| (raws[i].retry_after.is_none(), raws[i].retry_after))
        };
        let i = pick.unwrap_or(0);
        let mut d = Decision::from_raw(&raws[i], policies.get(i).map(NamedPolicy::info));
        d.allowed = allowed;
        if allowed {
            d.retry_after = None;
        }
        d
    }

    fn unknown(
        allowed: bool,
        policies: &[NamedPolicy],
        degraded: Degraded,
        retry: Option<Duration>,
    ) -> Decision {
        let info = policies.first().map(NamedPolicy::info);
        let limit = info.as_ref().map_or(0, |p| p.limit);
        Decision {
            allowed,
            limit,
            remaining: if allowed { limit } else { 0 },
            reset_after: Duration::ZERO,
            retry_after: if allowed { None } else { retry },
            policy: info,
            degraded: Some(degraded),
        }
    }
}

/// Options of one check.
#[derive(Debug, Clone, Copy)]
pub struct CheckOptions<'a> {
    /// The request's weight (default 1).
    pub cost: i64,
    /// The tier whose policies apply (default: the limiter's default policies).
    pub tier: Option<&'a str>,
    /// Explicit policies for this call, decided by the caller (e.g. from a customer's
    /// plan); they take precedence over `tier`.
    pub policies: Option<&'a [NamedPolicy]>,
}

impl Default for CheckOptions<'_> {
    fn default() -> Self {
        CheckOptions {
            cost: 1,
            tier: None,
            policies: None,
        }
    }
}

impl<'a> CheckOptions<'a> {
    /// A check of `cost` units.
    pub fn cost(cost: i64) -> Self {
        CheckOptions {
            cost,
            ..Default::default()
        }
    }

    /// The same check under `tier`.
    pub fn tier(mut self, tier: &'a str) -> Self {
        self.tier = Some(tier);
        self
    }

    /// The same check under explicit policies.
    pub fn policies(mut self, policies: &'a [NamedPolicy]) -> Self {
        self.policies = Some(policies);
        self
    }

    /// The same check with another cost.
    pub fn with_cost(mut self, cost: i64) -> Self {
        self.cost = cost;
        self
    }
}

/// Why a guarded backend call did not return a value.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) cause: FailureCause,
    /// For an open circuit: the time until the next probe.
    pub(crate) retry_in: Option<Duration>,
    pub(crate) error: Error,
}

/// Timeout, circuit breaker and metrics around backend calls; shared by the limiters.
#[derive(Debug)]
pub(crate) struct Guard {
    pub(crate) timeout: Duration,
    pub(crate) breaker: Breaker,
    pub(crate) metrics: Metrics,
}

impl Guard {
    /// Runs a backend call under the timeout and circuit breaker (remote backends only).
    pub(crate) async fn call<T>(
        &self,
        remote: bool,
        fut: impl Future<Output = Result<T>>,
    ) -> std::result::Result<T, Failure> {
        let fail = |cause, retry_in, error| Failure {
            cause,
            retry_in,
            error,
        };
        if !remote {
            return fut.await.map_err(|e| {
                inc(&self.metrics.backend_errors);
                fail(FailureCause::Error, None, e)
            });
        }
        if let breaker::Permit::Refused { retry_in } = self.breaker.permit() {
            inc(&self.metrics.short_circuited);
            return Err(fail(
                FailureCause::CircuitOpen,
                Some(retry_in),
                Error::CircuitOpen,
            ));
        }
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(v)) => {
                self.breaker.success();
                Ok(v)
            }
            Ok(Err(e)) => {
                inc(&self.metrics.backend_errors);
                self.breaker.failure();
                Err(fail(FailureCause::Error, None, e))
            }
            Err(_) => {
                inc(&self.metrics.timeouts);
                self.breaker.failure();
                Err(fail(FailureCause::Timeout, None, Error::Timeout))
            }
        }
    }

    pub(crate) fn count(&self, d: &Decision) {
        inc(&self.metrics.checks);
        inc(if d.allowed {
            &self.metrics.allowed
        } else {
            &self.metrics.rejected
        });
        if d.degraded.is_some() {
            inc(&self.metrics.degraded);
        }
    }
}

/// Divides a policy's limit by `n` (at least 1) for a local fallback.
pub(crate) fn scale_down(p: &Policy, n: u32) -> Policy {
    let n = i64::from(n.max(1));
    let div = |v: i64| (v / n).max(1);
    match *p {
        Policy::FixedWindow { limit, window } => Policy::FixedWindow {
            limit: div(limit),
            window,
        },
        Policy::SlidingLog { limit, window } => Policy::SlidingLog {
            limit: div(limit),
            window,
        },
        Policy::SlidingWindow { limit, window } => Policy::SlidingWindow {
            limit: div(limit),
            window,
        },
        Policy::TokenBucket {
            capacity,
            refill,
            interval,
        } => Policy::TokenBucket {
            capacity: div(capacity),
            refill: div(refill),
            interval,
        },
        Policy::Gcra { burst, emission } => Policy::Gcra {
            burst: div(burst),
            emission: emission.saturating_mul(n),
        },
        other => other,
    }
}

/// Builds a [`Limiter`].
#[derive(Debug)]
pub struct LimiterBuilder<B> {
    backend: B,
    prefix: String,
    default: Vec<NamedPolicy>,
    tiers: Vec<(String, Vec<NamedPolicy>)>,
    failure: FailurePolicy,
    timeout: Duration,
    breaker: CircuitBreakerConfig,
}

impl<B: Backend> LimiterBuilder<B> {
    /// Adds a default policy (used when a check names no tier).
    pub fn policy(mut self, name: impl Into<Arc<str>>, policy: Policy) -> Self {
        self.default.push(NamedPolicy::new(name, policy));
        self
    }

    /// Defines a tier: the policies that apply to checks naming it (free, pro...).
    pub fn tier(mut self, tier: impl Into<String>, policies: Vec<NamedPolicy>) -> Self {
        self.tiers.push((tier.into(), policies));
        self
    }

    /// Key prefix (default `rl`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// What to do when the backend cannot decide (default [`FailurePolicy::FailClosed`]).
    pub fn failure_policy(mut self, f: FailurePolicy) -> Self {
        self.failure = f;
        self
    }

    /// Bound on a remote backend call (default 50 ms).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Circuit breaker settings (default: open after 5 failures, for 1 s).
    pub fn circuit_breaker(mut self, cfg: CircuitBreakerConfig) -> Self {
        self.breaker = cfg;
        self
    }

    /// Validates every policy and builds the limiter.
    pub fn build(self) -> Result<Limiter<B>> {
        if self.default.is_empty() && self.tiers.is_empty() {
            return Err(Error::Invalid("a limiter needs at least one policy".into()));
        }
        check_policies(&self.default)?;
        let mut tiers = HashMap::new();
        for (name, ps) in self.tiers {
            check_policies(&ps)?;
            if ps.is_empty() {
                return Err(Error::Invalid(format!("tier {name:?} has no policy")));
            }
            tiers.insert(name, Arc::<[NamedPolicy]>::from(ps));
        }
        let local = match self.failure {
            FailurePolicy::Local { .. } => Some(EmbeddedBackend::new(embedis::Db::new())),
            _ => None,
        };
        Ok(Limiter {
            inner: Arc::new(Inner {
                backend: self.backend,
                prefix: self.prefix,
                default: self.default.into(),
                tiers,
                failure: self.failure,
                local,
                guard: Guard {
                    timeout: self.timeout,
                    breaker: Breaker::new(self.breaker),
                    metrics: Metrics::default(),
                },
            }),
        })
    }
}

fn check_policies(ps: &[NamedPolicy]) -> Result<()> {
    for (i, p) in ps.iter().enumerate() {
        p.validate()?;
        if ps[..i].iter().any(|q| q.name == p.name) {
            return Err(Error::Invalid(format!("policy {:?} named twice", p.name)));
        }
    }
    Ok(())
}

#[derive(Debug)]
struct Inner<B> {
    backend: B,
    prefix: String,
    default: Arc<[NamedPolicy]>,
    tiers: HashMap<String, Arc<[NamedPolicy]>>,
    failure: FailurePolicy,
    local: Option<EmbeddedBackend>,
    guard: Guard,
}

/// A rate limiter: cheap to clone, shareable across tasks. See the module docs.
#[derive(Debug)]
pub struct Limiter<B> {
    inner: Arc<Inner<B>>,
}

impl<B> Clone for Limiter<B> {
    fn clone(&self) -> Self {
        Limiter {
            inner: self.inner.clone(),
        }
    }
}

/// The storage key of policy `name` for `key`: `{prefix}:{<key>}:{name}`.
pub(crate) fn storage_key(prefix: &str, key: &[u8], name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + key.len() + name.len() + 4);
    k.extend_from_slice(prefix.as_bytes());
    k.extend_from_slice(b":{");
    k.extend_from_slice(key);
    k.extend_from_slice(b"}:");
    k.extend_from_slice(name.as_bytes());
    k
}

impl<B: Backend> Limiter<B> {
    /// A builder over `backend`.
    pub fn builder(backend: B) -> LimiterBuilder<B> {
        LimiterBuilder {
            backend,
            prefix: "rl".into(),
            default: Vec::new(),
            tiers: Vec::new(),
            failure: FailurePolicy::default(),
            timeout: Duration::from_millis(50),
            breaker: CircuitBreakerConfig::default(),
        }
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.inner.backend
    }

    /// The policies a check with `opts` uses.
    pub fn policies_for<'a>(&'a self, opts: &CheckOptions<'a>) -> Result<&'a [NamedPolicy]> {
        if let Some(ps) = opts.policies {
            return Ok(ps);
        }
        match opts.tier {
            None => Ok(&self.inner.default),
            Some(t) => self
                .inner
                .tiers
                .get(t)
                .map(|ps| &**ps)
                .ok_or_else(|| Error::Invalid(format!("unknown tier {t:?}"))),
        }
    }

    /// Checks and charges one unit under the default policies.
    pub async fn check(&self, key: impl AsRef<[u8]>) -> Decision {
        self.check_with(key, CheckOptions::default()).await
    }

    /// Checks and charges with options (cost, tier, explicit policies). Backend failures
    /// are handled by the failure policy; configuration errors (an unknown tier, an invalid
    /// explicit policy or cost) reject, with `degraded` set.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// use std::time::Duration;
    /// use embedis_kit::backend::EmbeddedBackend;
    /// use embedis_kit::limiter::{CheckOptions, Limiter, NamedPolicy, Policy};
    ///
    /// let limiter = Limiter::builder(EmbeddedBackend::new(embedis::Db::new()))
    ///     .tier("free", vec![NamedPolicy::new("min", Policy::fixed_window(10, Duration::from_secs(60)))])
    ///     .tier("pro", vec![NamedPolicy::new("min", Policy::fixed_window(1000, Duration::from_secs(60)))])
    ///     .build()
    ///     .unwrap();
    /// let d = limiter.check_with("acct:42", CheckOptions::cost(5).tier("free")).await;
    /// assert_eq!(d.remaining, 5);
    /// let d = limiter.check_with("acct:43", CheckOptions::cost(5).tier("pro")).await;
    /// assert_eq!(d.remaining, 995);
    /// # });
    /// ```
    pub async fn check_with(&self, key: impl AsRef<[u8]>, opts: CheckOptions<'_>) -> Decision {
        self.decide(key.as_ref(), opts, true).await
    }

    /// Whether one unit would be admitted now, without charging.
    pub async fn peek(&self, key: impl AsRef<[u8]>) -> Decision {
        self.peek_with(key, CheckOptions::default()).await
    }

    /// [`peek`](Limiter::peek) with options.
    pub async fn peek_with(&self, key: impl AsRef<[u8]>, opts: CheckOptions<'_>) -> Decision {
        self.decide(key.as_ref(), opts, false).await
    }

    /// Like [`check_with`](Limiter::check_with), but backend failures are returned as
    /// errors instead of going through the failure policy (timeout and circuit breaker
    /// still apply).
    pub async fn try_check_with(
        &self,
        key: impl AsRef<[u8]>,
        opts: CheckOptions<'_>,
        charge: bool,
    ) -> Result<Decision> {
        let policies = self.policies_for(&opts)?;
        if policies.is_empty() {
            return Err(Error::Invalid("no policy to check".into()));
        }
        check_policies(policies)?;
        embedis::types::limiter::validate_cost(opts.cost)?;
        let keys = self.keys(key.as_ref(), policies);
        let checks = checks(&keys, policies, None);
        let req = RateLimitRequest {
            checks: &checks,
            cost: opts.cost,
            charge,
        };
        let g = &self.inner.guard;
        let raws = g
            .call(
                self.inner.backend.is_remote(),
                self.inner.backend.rate_limit(req),
            )
            .await
            .map_err(|f| f.error)?;
        let d = Decision::aggregate(&raws, policies);
        g.count(&d);
        Ok(d)
    }

    fn keys(&self, key: &[u8], policies: &[NamedPolicy]) -> Vec<Vec<u8>> {
        policies
            .iter()
            .map(|p| storage_key(&self.inner.prefix, key, &p.name))
            .collect()
    }

    async fn decide(&self, key: &[u8], opts: CheckOptions<'_>, charge: bool) -> Decision {
        let g = &self.inner.guard;
        let policies = match self.policies_for(&opts) {
            Ok(p) => p,
            Err(_) => return self.misconfigured(&[]),
        };
        if policies.is_empty()
            || opts.policies.is_some() && check_policies(policies).is_err()
            || embedis::types::limiter::validate_cost(opts.cost).is_err()
        {
            return self.misconfigured(policies);
        }
        let keys = self.keys(key, policies);
        let checks = checks(&keys, policies, None);
        let req = RateLimitRequest {
            checks: &checks,
            cost: opts.cost,
            charge,
        };
        let d = match g
            .call(
                self.inner.backend.is_remote(),
                self.inner.backend.rate_limit(req),
            )
            .await
        {
            Ok(raws) => Decision::aggregate(&raws, policies),
            Err(f) => {
                self.degrade(&keys, policies, opts.cost, charge, f.cause, f.retry_in)
                    .await
            }
        };
        g.count(&d);
        d
    }

    fn misconfigured(&self, policies: &[NamedPolicy]) -> Decision {
        let d = Decision::unknown(
            false,
            policies,
            Degraded {
                cause: FailureCause::Error,
                mode: FailureMode::FailedClosed,
            },
            None,
        );
        self.inner.guard.count(&d);
        d
    }

    async fn degrade(
        &self,
        keys: &[Vec<u8>],
        policies: &[NamedPolicy],
        cost: i64,
        charge: bool,
        cause: FailureCause,
        retry: Option<Duration>,
    ) -> Decision {
        let mode = match self.inner.failure {
            FailurePolicy::FailOpen => FailureMode::FailedOpen,
            FailurePolicy::FailClosed => FailureMode::FailedClosed,
            FailurePolicy::Local { .. } => FailureMode::Local,
        };
        let degraded = Degraded { cause, mode };
        match (self.inner.failure, &self.inner.local) {
            (FailurePolicy::Local { instances }, Some(local)) => {
                let checks = checks(keys, policies, Some(instances));
                let req = RateLimitRequest {
                    checks: &checks,
                    cost,
                    charge,
                };
                match local.rate_limit_now(req) {
                    Ok(raws) => {
                        let mut d = Decision::aggregate(&raws, policies);
                        d.degraded = Some(degraded);
                        d
                    }
                    Err(_) => Decision::unknown(false, policies, degraded, retry),
                }
            }
            (FailurePolicy::FailOpen, _) => Decision::unknown(true, policies, degraded, None),
            _ => Decision::unknown(false, policies, degraded, retry),
        }
    }

    /// Forgets the state of `key` under every configured policy (all tiers).
    pub async fn reset(&self, key: impl AsRef<[u8]>) -> Result<()> {
        let mut names: Vec<&str> = self.inner.default.iter().map(|p| &*p.name).collect();
        for ps in self.inner.tiers.values() {
            names.extend(ps.iter().map(|p| &*p.name));
        }
        names.sort_unstable();
        names.dedup();
        let keys: Vec<Vec<u8>> = names
            .iter()
            .map(|n| storage_key(&self.inner.prefix, key.as_ref(), n))
            .collect();
        self.delete_keys(&keys).await
    }

    /// Forgets the state of `key` under explicit policies.
    pub async fn reset_policies(
        &self,
        key: impl AsRef<[u8]>,
        policies: &[NamedPolicy],
    ) -> Result<()> {
        let keys = self.keys(key.as_ref(), policies);
        self.delete_keys(&keys).await
    }

    async fn delete_keys(&self, keys: &[Vec<u8>]) -> Result<()> {
        let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
        if let Some(local) = &self.inner.local {
            local.delete(&refs).await?;
        }
        self.inner.backend.delete(&refs).await.map(|_| ())
    }

    /// The limiter's counters and circuit state.
    pub fn metrics(&self) -> MetricsSnapshot {
        let g = &self.inner.guard;
        g.metrics.snapshot(g.breaker.state())
    }
}

fn checks<'a>(keys: &'a [Vec<u8>], policies: &[NamedPolicy], scale: Option<u32>) -> Vec<Check<'a>> {
    keys.iter()
        .zip(policies)
        .map(|(k, p)| Check {
            key: k,
            policy: match scale {
                Some(n) => scale_down(&p.policy, n),
                None => p.policy,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests;
