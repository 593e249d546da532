//! A concurrency limiter: at most `max` requests in flight per key, over any backend.
//!
//! Each admitted request holds a lease with a time-to-live. [`Permit::release`] ends it;
//! a holder that dies (crash, lost connection, dropped future) never releases, and its
//! slot frees itself when the lease expires. Long tasks call [`Permit::renew`].
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use std::time::Duration;
//! use embedis_kit::backend::EmbeddedBackend;
//! use embedis_kit::limiter::ConcurrencyLimiter;
//!
//! let limiter = ConcurrencyLimiter::builder(EmbeddedBackend::new(embedis::Db::new()))
//!     .max_in_flight(2)
//!     .lease_ttl(Duration::from_secs(30))
//!     .build()
//!     .unwrap();
//! let a = limiter.acquire("reports").await;
//! let b = limiter.acquire("reports").await;
//! let c = limiter.acquire("reports").await;
//! assert!(a.decision.allowed && b.decision.allowed && !c.decision.allowed);
//! a.release().await.unwrap();
//! assert!(limiter.acquire("reports").await.decision.allowed);
//! # });
//! ```

use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::breaker::Breaker;
use super::metrics::{Metrics, MetricsSnapshot};
use super::{
    CircuitBreakerConfig, Decision, Degraded, FailureMode, FailurePolicy, Guard, PolicyInfo,
    storage_key,
};
use crate::backend::{Backend, EmbeddedBackend, LeaseRequest};
use crate::error::{Error, Result};

/// Builds a [`ConcurrencyLimiter`].
#[derive(Debug)]
pub struct ConcurrencyLimiterBuilder<B> {
    backend: B,
    prefix: String,
    name: String,
    max: i64,
    ttl: Duration,
    failure: FailurePolicy,
    timeout: Duration,
    breaker: CircuitBreakerConfig,
}

impl<B: Backend> ConcurrencyLimiterBuilder<B> {
    /// Most leases held at once per key (default 1).
    pub fn max_in_flight(mut self, max: i64) -> Self {
        self.max = max;
        self
    }

    /// How long a lease lasts unless renewed or released (default 60 s): the time a dead
    /// holder keeps its slot.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The name in keys and headers (default `concurrency`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Key prefix (default `rl`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// What to do when the backend cannot decide (default fail closed).
    pub fn failure_policy(mut self, f: FailurePolicy) -> Self {
        self.failure = f;
        self
    }

    /// Bound on a remote backend call (default 50 ms).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Circuit breaker settings.
    pub fn circuit_breaker(mut self, cfg: CircuitBreakerConfig) -> Self {
        self.breaker = cfg;
        self
    }

    /// Validates and builds.
    pub fn build(self) -> Result<ConcurrencyLimiter<B>> {
        if !(1..=embedis::types::limiter::MAX_AMOUNT).contains(&self.max) {
            return Err(Error::Invalid("max in flight is out of range".into()));
        }
        let ttl = embedis::types::limiter::micros(self.ttl);
        if !(1..=embedis::types::limiter::MAX_DURATION).contains(&ttl) {
            return Err(Error::Invalid("lease ttl is out of range".into()));
        }
        super::NamedPolicy::new(
            self.name.as_str(),
            embedis::types::limiter::Policy::fixed_window(1, Duration::from_secs(1)),
        )
        .validate()?;
        let local = match self.failure {
            FailurePolicy::Local { .. } => Some(EmbeddedBackend::new(embedis::Db::new())),
            _ => None,
        };
        let salt = std::collections::hash_map::RandomState::new().hash_one(0u64);
        Ok(ConcurrencyLimiter {
            inner: Arc::new(Inner {
                backend: self.backend,
                prefix: self.prefix,
                name: self.name.into(),
                max: self.max,
                ttl: self.ttl,
                failure: self.failure,
                local,
                guard: Guard {
                    timeout: self.timeout,
                    breaker: Breaker::new(self.breaker),
                    metrics: Metrics::default(),
                },
                id_prefix: format!("{salt:016x}"),
                next_id: AtomicU64::new(0),
            }),
        })
    }
}

#[derive(Debug)]
struct Inner<B> {
    backend: B,
    prefix: String,
    name: Arc<str>,
    max: i64,
    ttl: Duration,
    failure: FailurePolicy,
    local: Option<EmbeddedBackend>,
    guard: Guard,
    id_prefix: String,
    next_id: AtomicU64,
}

/// Limits requests in flight per key. Cheap to clone.
#[derive(Debug)]
pub struct ConcurrencyLimiter<B> {
    inner: Arc<Inner<B>>,
}

impl<B> Clone for ConcurrencyLimiter<B> {
    fn clone(&self) -> Self {
        ConcurrencyLimiter {
            inner: self.inner.clone(),
        }
    }
}

/// Where a permit's lease is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    Backend,
    Local,
    Nowhere,
}

/// The result of [`ConcurrencyLimiter::acquire`]: the decision and, when admitted, the
/// lease to release. Dropping a permit does not release it (that needs an async call): its
/// slot then frees itself when the lease expires.
#[derive(Debug)]
#[must_use = "release the permit when the work is done"]
pub struct Permit<B> {
    /// The decision (`allowed` tells whether a lease is held).
    pub decision: Decision,
    limiter: ConcurrencyLimiter<B>,
    key: Vec<u8>,
    id: String,
    holder: Holder,
}

impl<B: Backend> Permit<B> {
    /// The lease id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Ends the lease; true if it was still held.
    pub async fn release(self) -> Result<bool> {
        match self.holder {
            Holder::Nowhere => Ok(false),
            Holder::Local => match &self.limiter.inner.local {
                Some(l) => l.lease_release(&self.key, self.id.as_bytes()).await,
                None => Ok(false),
            },
            Holder::Backend => {
                let b = &self.limiter.inner.backend;
                b.lease_release(&self.key, self.id.as_bytes()).await
            }
        }
    }

    /// Extends the lease by the limiter's TTL from now; false if it had already expired
    /// (the slot may have gone to someone else: stop the work or acquire again).
    pub async fn renew(&self) -> Result<bool> {
        let ttl = self.limiter.inner.ttl;
        match self.holder {
            Holder::Nowhere => Ok(false),
            Holder::Local => match &self.limiter.inner.local {
                Some(l) => l.lease_renew(&self.key, self.id.as_bytes(), ttl).await,
                None => Ok(false),
            },
            Holder::Backend => {
                let b = &self.limiter.inner.backend;
                b.lease_renew(&self.key, self.id.as_bytes(), ttl).await
            }
        }
    }
}

impl<B: Backend> ConcurrencyLimiter<B> {
    /// A builder over `backend`.
    pub fn builder(backend: B) -> ConcurrencyLimiterBuilder<B> {
        ConcurrencyLimiterBuilder {
            backend,
            prefix: "rl".into(),
            name: "concurrency".into(),
            max: 1,
            ttl: Duration::from_secs(60),
            failure: FailurePolicy::default(),
            timeout: Duration::from_millis(50),
            breaker: CircuitBreakerConfig::default(),
        }
    }

    fn info(&self) -> PolicyInfo {
        PolicyInfo {
            name: self.inner.name.clone(),
            limit: self.inner.max as u64,
            window: self.inner.ttl,
        }
    }

    /// Takes a slot for `key` if one is free.
    pub async fn acquire(&self, key: impl AsRef<[u8]>) -> Permit<B> {
        let inner = &self.inner;
        let key = storage_key(&inner.prefix, key.as_ref(), &inner.name);
        let n = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{n}", inner.id_prefix);
        let req = LeaseRequest {
            id: id.as_bytes(),
            max: inner.max,
            ttl: inner.ttl,
        };
        let g = &inner.guard;
        let (decision, holder) = match g
            .call(
                inner.backend.is_remote(),
                inner.backend.lease_acquire(&key, req),
            )
            .await
        {
            Ok(raw) => (Decision::from_raw(&raw, Some(self.info())), Holder::Backend),
            Err(f) => {
                let mode = match inner.failure {
                    FailurePolicy::FailOpen => FailureMode::FailedOpen,
                    FailurePolicy::FailClosed => FailureMode::FailedClosed,
                    FailurePolicy::Local { .. } => FailureMode::Local,
                };
                let degraded = Degraded {
                    cause: f.cause,
                    mode,
                };
                let local = match (inner.failure, &inner.local) {
                    (FailurePolicy::Local { instances }, Some(l)) => {
                        let max = (inner.max / i64::from(instances.max(1))).max(1);
                        l.lease_acquire(&key, LeaseRequest { max, ..req })
                            .await
                            .ok()
                    }
                    _ => None,
                };
                match local {
                    Some(raw) => {
                        let mut d = Decision::from_raw(&raw, Some(self.info()));
                        d.degraded = Some(degraded);
                        (d, Holder::Local)
                    }
                    None => {
                        let open = inner.failure == FailurePolicy::FailOpen;
                        let mut d = Decision::from_raw(
                            &embedis::types::limiter::Decision {
                                allowed: open,
                                limit: inner.max,
                                remaining: if open { inner.max } else { 0 },
                                reset_after: 0,
                                retry_after: None,
                            },
                            Some(self.info()),
                        );
                        d.retry_after = if open { None } else { f.retry_in };
                        d.degraded = Some(degraded);
                        (d, Holder::Nowhere)
                    }
                }
            }
        };
        g.count(&decision);
        let holder = if decision.allowed {
            holder
        } else {
            Holder::Nowhere
        };
        Permit {
            decision,
            limiter: self.clone(),
            key,
            id,
            holder,
        }
    }

    /// The limiter's counters and circuit state.
    pub fn metrics(&self) -> MetricsSnapshot {
        let g = &self.inner.guard;
        g.metrics.snapshot(g.breaker.state())
    }
}
