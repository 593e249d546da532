//! Limiter behaviour over the embedded backend (manual clock) and over a failing backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use embedis::{Db, ManualClock};

use super::*;
use crate::backend::{LeaseRequest, SetOptions};

fn embedded() -> (EmbeddedBackend, ManualClock) {
    let clock = ManualClock::starting_at_micros(1_700_000_000_000_000);
    let db = Db::builder().clock(clock.clone()).build();
    (EmbeddedBackend::new(db), clock)
}

/// A backend that fails (or hangs) while `down` is set, else delegates to an embedded one.
#[derive(Clone)]
struct Flaky {
    inner: EmbeddedBackend,
    down: Arc<AtomicBool>,
    hang: bool,
}

impl Flaky {
    async fn gate(&self) -> Result<()> {
        if self.down.load(Ordering::SeqCst) {
            if self.hang {
                std::future::pending::<()>().await;
            }
            return Err(Error::Protocol("down".into()));
        }
        Ok(())
    }
}

impl Backend for Flaky {
    async fn rate_limit(&self, req: RateLimitRequest<'_>) -> Result<Vec<RawDecision>> {
        self.gate().await?;
        self.inner.rate_limit(req).await
    }
    async fn lease_acquire(&self, key: &[u8], lease: LeaseRequest<'_>) -> Result<RawDecision> {
        self.gate().await?;
        self.inner.lease_acquire(key, lease).await
    }
    async fn lease_release(&self, key: &[u8], id: &[u8]) -> Result<bool> {
        self.inner.lease_release(key, id).await
    }
    async fn lease_renew(&self, key: &[u8], id: &[u8], ttl: Duration) -> Result<bool> {
        self.inner.lease_renew(key, id, ttl).await
    }
    async fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner.get(key).await
    }
    async fn set(&self, key: &[u8], value: &[u8], opts: SetOptions) -> Result<bool> {
        self.inner.set(key, value, opts).await
    }
    async fn delete(&self, keys: &[&[u8]]) -> Result<u64> {
        self.inner.delete(keys).await
    }
    async fn compare_and_delete(&self, key: &[u8], expected: &[u8]) -> Result<bool> {
        self.inner.compare_and_delete(key, expected).await
    }
    async fn compare_and_expire(&self, key: &[u8], expected: &[u8], ttl: Duration) -> Result<bool> {
        self.inner.compare_and_expire(key, expected, ttl).await
    }
    async fn expire(&self, key: &[u8], ttl: Duration) -> Result<bool> {
        self.inner.expire(key, ttl).await
    }
    fn is_remote(&self) -> bool {
        true
    }

    // --- locks and sessions ---

    async fn lock_acquire(
        &self,
        key: &[u8],
        fence_key: &[u8],
        token: &[u8],
        ttl: Duration,
    ) -> Result<crate::backend::LockAttempt> {
        self.inner.lock_acquire(key, fence_key, token, ttl).await
    }
    async fn set_until(
        &self,
        key: &[u8],
        value: &[u8],
        at: u64,
        condition: crate::backend::SetCondition,
    ) -> Result<bool> {
        self.inner.set_until(key, value, at, condition).await
    }
    async fn index_add(
        &self,
        index: &[u8],
        prefix: &[u8],
        member: &[u8],
        until: u64,
        keep_for: Duration,
    ) -> Result<()> {
        self.inner
            .index_add(index, prefix, member, until, keep_for)
            .await
    }
    async fn index_members(&self, index: &[u8], prefix: &[u8]) -> Result<Vec<Bytes>> {
        self.inner.index_members(index, prefix).await
    }
    async fn index_purge(&self, index: &[u8], prefix: &[u8]) -> Result<u64> {
        self.inner.index_purge(index, prefix).await
    }
    async fn refresh_create(
        &self,
        key: &[u8],
        user: &[u8],
        digest: &[u8],
        ttl: Duration,
        max_life: Option<Duration>,
    ) -> Result<bool> {
        self.inner
            .refresh_create(key, user, digest, ttl, max_life)
            .await
    }
    async fn refresh_rotate(
        &self,
        key: &[u8],
        presented: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> Result<crate::backend::RotateOutcome> {
        self.inner.refresh_rotate(key, presented, new, ttl).await
    }
}

fn flaky(hang: bool) -> (Flaky, Arc<AtomicBool>) {
    let down = Arc::new(AtomicBool::new(false));
    (
        Flaky {
            inner: embedded().0,
            down: down.clone(),
            hang,
        },
        down,
    )
}

#[tokio::test]
async fn deciding_policy_and_all_or_nothing() {
    let (b, clock) = embedded();
    let l = Limiter::builder(b)
        .policy("burst", Policy::token_bucket(3, 1, Duration::from_secs(1)))
        .policy("minute", Policy::fixed_window(4, Duration::from_secs(60)))
        .build()
        .unwrap();
    let d = l.check("k").await;
    assert!(d.allowed);
    assert_eq!(d.policy.as_ref().unwrap().name.as_ref(), "burst");
    assert_eq!(d.remaining, 2);
    l.check("k").await;
    l.check("k").await;
    let d = l.check("k").await;
    assert!(!d.allowed);
    assert_eq!(&*d.policy.as_ref().unwrap().name, "burst");
    assert_eq!(d.retry_after, Some(Duration::from_secs(1)));
    clock.advance(Duration::from_secs(5));
    // The bucket is full again; the minute window has one left.
    let d = l.check("k").await;
    assert!(d.allowed);
    assert_eq!(
        (&*d.policy.as_ref().unwrap().name, d.remaining),
        ("minute", 0)
    );
    // Rejected by the window: the bucket is not charged.
    let d = l.check("k").await;
    assert!(!d.allowed);
    assert_eq!(&*d.policy.as_ref().unwrap().name, "minute");
    assert!(!l.peek_with("k", CheckOptions::cost(2)).await.allowed);
    let m = l.metrics();
    assert_eq!((m.checks, m.allowed, m.rejected, m.degraded), (7, 4, 3, 0));
    // Reset forgets every policy's state.
    l.reset("k").await.unwrap();
    assert_eq!(l.peek("k").await.remaining, 3);
}

#[tokio::test]
async fn tiers_costs_and_explicit_policies() {
    let (b, _) = embedded();
    let l = Limiter::builder(b)
        .policy("d", Policy::gcra(5, 5, Duration::from_secs(1)))
        .tier(
            "pro",
            vec![NamedPolicy::new(
                "d",
                Policy::gcra(50, 50, Duration::from_secs(1)),
            )],
        )
        .build()
        .unwrap();
    assert_eq!(l.check_with("a", CheckOptions::cost(3)).await.remaining, 2);
    assert_eq!(
        l.check_with("b", CheckOptions::cost(3).tier("pro"))
            .await
            .remaining,
        47
    );
    let custom = [NamedPolicy::new(
        "x",
        Policy::fixed_window(2, Duration::from_secs(9)),
    )];
    let d = l
        .check_with("c", CheckOptions::default().policies(&custom))
        .await;
    assert_eq!((d.limit, d.remaining), (2, 1));
    // Misconfiguration rejects, marked degraded.
    let d = l
        .check_with("a", CheckOptions::default().tier("nope"))
        .await;
    assert!(!d.allowed && d.degraded.is_some());
    let d = l
        .check_with("a", CheckOptions::default().policies(&[]))
        .await;
    assert!(!d.allowed && d.degraded.is_some());
    let d = l.check_with("a", CheckOptions::cost(-1)).await;
    assert!(!d.allowed && d.degraded.is_some());
    assert!(
        l.try_check_with("a", CheckOptions::default().tier("nope"), true)
            .await
            .is_err()
    );
    // A cost above the limit can never pass.
    let d = l.check_with("z", CheckOptions::cost(6)).await;
    assert!(!d.allowed);
    assert_eq!(d.retry_after, None);
}

#[test]
fn builder_validates() {
    let (b, _) = embedded();
    assert!(Limiter::builder(b.clone()).build().is_err());
    assert!(
        Limiter::builder(b.clone())
            .policy("a:b", Policy::gcra(1, 1, Duration::from_secs(1)))
            .build()
            .is_err()
    );
    assert!(
        Limiter::builder(b.clone())
            .policy("a", Policy::gcra(0, 1, Duration::from_secs(1)))
            .build()
            .is_err()
    );
    assert!(
        Limiter::builder(b)
            .policy("a", Policy::gcra(1, 1, Duration::from_secs(1)))
            .policy("a", Policy::gcra(1, 1, Duration::from_secs(1)))
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn failure_policies() {
    for (policy, allowed, mode) in [
        (FailurePolicy::FailOpen, true, FailureMode::FailedOpen),
        (FailurePolicy::FailClosed, false, FailureMode::FailedClosed),
        (
            FailurePolicy::Local { instances: 2 },
            true,
            FailureMode::Local,
        ),
    ] {
        let (b, down) = flaky(false);
        let l = Limiter::builder(b)
            .policy("p", Policy::fixed_window(4, Duration::from_secs(60)))
            .failure_policy(policy)
            .build()
            .unwrap();
        assert!(l.check("k").await.degraded.is_none());
        down.store(true, Ordering::SeqCst);
        let d = l.check("k").await;
        assert_eq!(d.allowed, allowed, "{policy:?}");
        assert_eq!(
            d.degraded,
            Some(Degraded {
                cause: FailureCause::Error,
                mode
            })
        );
        if let FailurePolicy::Local { .. } = policy {
            // Half of the limit locally: 2 per minute.
            assert_eq!(d.remaining, 1);
            assert!(l.check("k").await.allowed);
            assert!(!l.check("k").await.allowed);
        }
        let m = l.metrics();
        assert!(m.degraded >= 1 && m.backend_errors >= 1);
        assert!(matches!(
            l.try_check_with("k", CheckOptions::default(), true).await,
            Err(Error::Protocol(_))
        ));
    }
}

#[tokio::test(start_paused = true)]
async fn timeout_and_circuit_breaker() {
    let (b, down) = flaky(true);
    let l = Limiter::builder(b)
        .policy("p", Policy::fixed_window(4, Duration::from_secs(60)))
        .failure_policy(FailurePolicy::FailOpen)
        .timeout(Duration::from_millis(20))
        .circuit_breaker(CircuitBreakerConfig {
            failure_threshold: 2,
            open_for: Duration::from_secs(1),
        })
        .build()
        .unwrap();
    down.store(true, Ordering::SeqCst);
    for _ in 0..2 {
        let d = l.check("k").await;
        assert_eq!(d.degraded.unwrap().cause, FailureCause::Timeout);
    }
    // Open: no call, no wait.
    let before = tokio::time::Instant::now();
    let d = l.check("k").await;
    assert_eq!(d.degraded.unwrap().cause, FailureCause::CircuitOpen);
    assert_eq!(tokio::time::Instant::now(), before);
    assert_eq!(l.metrics().circuit, CircuitState::Open);
    // Back up: after the cool-down a probe closes the circuit.
    down.store(false, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(1)).await;
    let d = l.check("k").await;
    assert!(d.degraded.is_none());
    assert_eq!(l.metrics().circuit, CircuitState::Closed);
    let m = l.metrics();
    assert_eq!((m.timeouts, m.short_circuited), (2, 1));
}

#[tokio::test]
async fn concurrency_limiter_leases() {
    let (b, clock) = embedded();
    let l = ConcurrencyLimiter::builder(b)
        .max_in_flight(2)
        .lease_ttl(Duration::from_secs(10))
        .build()
        .unwrap();
    let a = l.acquire("q").await;
    let b2 = l.acquire("q").await;
    let c = l.acquire("q").await;
    assert!(a.decision.allowed && b2.decision.allowed);
    assert!(!c.decision.allowed);
    assert_eq!(c.decision.retry_after, Some(Duration::from_secs(10)));
    assert!(!c.release().await.unwrap());
    assert!(a.release().await.unwrap());
    // b2's holder dies: its slot frees itself after the TTL.
    clock.advance(Duration::from_secs(9));
    assert!(b2.renew().await.unwrap());
    clock.advance(Duration::from_secs(10));
    assert!(!b2.renew().await.unwrap());
    let d = l.acquire("q").await;
    assert_eq!(d.decision.remaining, 1);
}

#[tokio::test]
async fn concurrency_failure_policies() {
    let (b, down) = flaky(false);
    let l = ConcurrencyLimiter::builder(b)
        .max_in_flight(4)
        .failure_policy(FailurePolicy::Local { instances: 4 })
        .build()
        .unwrap();
    down.store(true, Ordering::SeqCst);
    let p = l.acquire("q").await;
    assert!(p.decision.allowed);
    assert_eq!(p.decision.degraded.unwrap().mode, FailureMode::Local);
    assert!(!l.acquire("q").await.decision.allowed);
    assert!(p.release().await.unwrap());
    assert!(l.acquire("q").await.decision.allowed);
}

#[test]
fn storage_keys_share_a_hash_tag() {
    assert_eq!(
        storage_key("rl", b"1.2.3.4", "burst"),
        b"rl:{1.2.3.4}:burst"
    );
    let d = Decision::aggregate(
        &[
            RawDecision {
                allowed: false,
                limit: 5,
                remaining: 0,
                reset_after: 10,
                retry_after: Some(10),
            },
            RawDecision {
                allowed: false,
                limit: 9,
                remaining: 0,
                reset_after: 10,
                retry_after: None,
            },
        ],
        &[
            NamedPolicy::new("a", Policy::gcra(5, 5, Duration::from_secs(1))),
            NamedPolicy::new("b", Policy::gcra(9, 9, Duration::from_secs(1))),
        ],
    );
    assert_eq!((d.limit, d.retry_after), (9, None));
}
