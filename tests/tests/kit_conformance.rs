//! The embedis-kit backend conformance suite: the same test functions run against
//!
//! - `embedded`: [`EmbeddedBackend`] over an in-process `Db` with a manual clock;
//! - `real_redis`: [`RedisBackend`] against a real `redis-server` this binary starts on a
//!   free port (skipped loudly when redis-server is missing; CI fails instead);
//! - `embedis_server`: [`RedisBackend`] against an `embedis-server --clock manual` started
//!   in-process (the same Lua scripts, run by embedis's EVAL).
//!
//! Real Redis cannot use a manual clock, so every test in [`robust`] holds whatever the
//! real time does (long windows, ranges for the waits); the tests in [`stepping`] move the
//! clock and expect exact values, and run only where the clock can be moved.

mod kit_support;

use kit_support::fixture::*;

use std::time::Duration;

use embedis::{Db, Reply};
use embedis_kit::backend::{
    Backend, Check, EmbeddedBackend, LeaseRequest, RateLimitRequest, RedisBackend, SetCondition,
    SetOptions,
};
use embedis_kit::limiter::{
    CheckOptions, ConcurrencyLimiter, Decision, FailureCause, FailureMode, FailurePolicy, Limiter,
    NamedPolicy, Policy,
};

const HOUR: Duration = Duration::from_secs(3600);
const SEC: Duration = Duration::from_secs(1);

fn within(d: Option<Duration>, lo: Duration, hi: Duration) -> bool {
    d.is_some_and(|d| d > lo.saturating_sub(Duration::ZERO) && d <= hi)
}

fn name(d: &Decision) -> &str {
    &d.policy.as_ref().expect("a deciding policy").name
}

/// Tests that hold on any clock, real time included.
mod robust {
    use super::*;

    /// Every algorithm with a limit of 5 over an hour (its state barely moves during the
    /// test): the burst passes with remaining 4..0, the next is rejected with a sensible
    /// wait, a peek charges nothing, reset restores the full limit.
    pub async fn each_algorithm_admits_up_to_its_limit(f: &Fixture) {
        let cases = [
            ("fixed", Policy::fixed_window(5, HOUR), HOUR),
            ("log", Policy::sliding_log(5, HOUR), HOUR),
            ("sliding", Policy::sliding_window(5, HOUR), 2 * HOUR),
            ("bucket", Policy::token_bucket(5, 5, HOUR), HOUR / 5),
            ("gcra", Policy::gcra(5, 5, HOUR), HOUR / 5),
        ];
        for (n, p, max_wait) in cases {
            let l = f.limiter(&[(n, p)]);
            let key = f.key(n);
            let peek = l.peek(&key).await;
            assert!(peek.allowed, "{} {n}", f.name);
            assert_eq!(peek.remaining, 5, "{} {n}", f.name);
            for left in (0..5).rev() {
                let d = l.check(&key).await;
                assert!(d.allowed, "{} {n}", f.name);
                assert_eq!((d.limit, d.remaining), (5, left), "{} {n}", f.name);
                assert!(d.degraded.is_none());
            }
            let d = l.check(&key).await;
            assert!(!d.allowed, "{} {n}", f.name);
            assert_eq!(d.remaining, 0);
            assert!(
                within(d.retry_after, Duration::ZERO, max_wait),
                "{} {n}: retry_after {:?}",
                f.name,
                d.retry_after
            );
            assert!(d.reset_after > Duration::ZERO && d.reset_after <= 2 * HOUR);
            assert!(!l.peek(&key).await.allowed);
            l.reset(&key).await.unwrap();
            assert_eq!(l.peek(&key).await.remaining, 5, "{} {n}", f.name);
        }
    }

    pub async fn costs_and_peeks(f: &Fixture) {
        let l = f.limiter(&[("p", Policy::token_bucket(10, 1, HOUR))]);
        let key = f.key("c");
        assert_eq!(l.check_with(&key, CheckOptions::cost(4)).await.remaining, 6);
        let p = l.peek_with(&key, CheckOptions::cost(6)).await;
        assert!(p.allowed);
        assert_eq!(p.remaining, 6);
        let p = l.peek_with(&key, CheckOptions::cost(7)).await;
        assert!(!p.allowed);
        assert!(within(p.retry_after, Duration::ZERO, HOUR));
        assert_eq!(l.check_with(&key, CheckOptions::cost(6)).await.remaining, 0);
        // More than the limit never passes and has no retry time.
        let d = l.check_with(&f.key("c2"), CheckOptions::cost(11)).await;
        assert!(!d.allowed);
        assert_eq!(d.retry_after, None);
        // Cost 0 passes without charging.
        let d = l.check_with(&f.key("c3"), CheckOptions::cost(0)).await;
        assert!(d.allowed);
        assert_eq!(d.remaining, 10);
    }

    pub async fn several_policies_all_or_nothing(f: &Fixture) {
        let l = f.limiter(&[
            ("burst", Policy::gcra(3, 3, HOUR)),
            (
                "daily",
                Policy::fixed_window(4, Duration::from_secs(86_400)),
            ),
        ]);
        let key = f.key("m");
        for left in [2, 1, 0] {
            let d = l.check(&key).await;
            assert!(d.allowed);
            assert_eq!((name(&d), d.remaining), ("burst", left));
        }
        let d = l.check(&key).await;
        assert!(!d.allowed);
        assert_eq!(name(&d), "burst");
        // The rejection charged nothing to the daily window: 3 of 4 used.
        let daily = [NamedPolicy::new(
            "daily",
            Policy::fixed_window(4, Duration::from_secs(86_400)),
        )];
        let d = l
            .peek_with(&key, CheckOptions::default().policies(&daily))
            .await;
        assert_eq!(d.remaining, 1, "{}", f.name);
        // One round trip, raw: the per-policy decisions, in order.
        let k1 = f.key("raw1");
        let k2 = f.key("raw2");
        let checks = [
            Check {
                key: k1.as_bytes(),
                policy: Policy::fixed_window(2, HOUR),
            },
            Check {
                key: k2.as_bytes(),
                policy: Policy::fixed_window(1, HOUR),
            },
        ];
        let req = RateLimitRequest {
            checks: &checks,
            cost: 1,
            charge: true,
        };
        let ds = f.backend.rate_limit(req).await.unwrap();
        assert_eq!((ds[0].remaining, ds[1].remaining), (1, 0));
        let ds = f.backend.rate_limit(req).await.unwrap();
        assert!(ds[0].allowed && !ds[1].allowed);
        assert_eq!(
            ds[0].remaining, 1,
            "uncharged state of the admitting policy"
        );
        // The same key twice is refused.
        let dup = [checks[0], checks[0]];
        let req = RateLimitRequest {
            checks: &dup,
            cost: 1,
            charge: true,
        };
        assert!(f.backend.rate_limit(req).await.is_err());
    }

    /// Per-call limits: tiers and explicit policies.
    pub async fn dynamic_limits(f: &Fixture) {
        let l = Limiter::builder(f.backend.clone())
            .prefix(f.ns.clone())
            .timeout(CALL_TIMEOUT)
            .tier(
                "free",
                vec![NamedPolicy::new("min", Policy::fixed_window(2, HOUR))],
            )
            .tier(
                "pro",
                vec![NamedPolicy::new("min", Policy::fixed_window(100, HOUR))],
            )
            .build()
            .unwrap();
        let free = f.key("free");
        let pro = f.key("pro");
        assert_eq!(
            l.check_with(&free, CheckOptions::default().tier("free"))
                .await
                .remaining,
            1
        );
        assert_eq!(
            l.check_with(&pro, CheckOptions::default().tier("pro"))
                .await
                .remaining,
            99
        );
        let custom = [NamedPolicy::new("x", Policy::sliding_log(7, HOUR))];
        assert_eq!(
            l.check_with(&free, CheckOptions::cost(2).policies(&custom))
                .await
                .remaining,
            5
        );
    }

    /// Every key a limiter writes carries a TTL no longer than its state needs (plus the
    /// embedded engine's rounding to the next second).
    pub async fn keys_carry_ttls(f: &Fixture) {
        let window = Duration::from_secs(120);
        let cases = [
            ("fixed", Policy::fixed_window(5, window), window),
            ("log", Policy::sliding_log(5, window), window),
            ("sliding", Policy::sliding_window(5, window), 2 * window),
            ("bucket", Policy::token_bucket(5, 5, window), window),
            ("gcra", Policy::gcra(5, 5, window), window),
        ];
        for (n, p, bound) in cases {
            let l = f.limiter(&[(n, p)]);
            l.check(f.key("ttl")).await;
            let ttl = f.pttl(&f.storage_key(&f.key("ttl"), n)).await;
            let max = bound.as_millis() as i64 + 1000;
            assert!(ttl > 0 && ttl <= max, "{} {n}: PTTL {ttl}", f.name);
        }
        let c = ConcurrencyLimiter::builder(f.backend.clone())
            .prefix(f.ns.clone())
            .timeout(CALL_TIMEOUT)
            .lease_ttl(window)
            .build()
            .unwrap();
        let _p = c.acquire(f.key("ttl")).await;
        let ttl = f.pttl(&f.storage_key(&f.key("ttl"), "concurrency")).await;
        assert!(ttl > 0 && ttl <= window.as_millis() as i64 + 1000, "{ttl}");
    }

    pub async fn leases(f: &Fixture) {
        let c = ConcurrencyLimiter::builder(f.backend.clone())
            .prefix(f.ns.clone())
            .timeout(CALL_TIMEOUT)
            .max_in_flight(2)
            .lease_ttl(HOUR)
            .build()
            .unwrap();
        let key = f.key("jobs");
        let a = c.acquire(&key).await;
        assert!(a.decision.allowed);
        assert_eq!(a.decision.remaining, 1);
        let b = c.acquire(&key).await;
        assert_eq!(b.decision.remaining, 0);
        let x = c.acquire(&key).await;
        assert!(!x.decision.allowed);
        assert!(within(x.decision.retry_after, Duration::ZERO, HOUR));
        assert!(b.renew().await.unwrap());
        assert!(b.release().await.unwrap());
        assert!(c.acquire(&key).await.decision.allowed);
        // Raw: re-acquiring with the same id renews instead of taking a second slot.
        let k = f.key("raw");
        let req = LeaseRequest {
            id: b"me",
            max: 1,
            ttl: HOUR,
        };
        assert!(
            f.backend
                .lease_acquire(k.as_bytes(), req)
                .await
                .unwrap()
                .allowed
        );
        assert!(
            f.backend
                .lease_acquire(k.as_bytes(), req)
                .await
                .unwrap()
                .allowed
        );
        assert!(f.backend.lease_release(k.as_bytes(), b"me").await.unwrap());
        assert!(!f.backend.lease_release(k.as_bytes(), b"me").await.unwrap());
        assert!(
            !f.backend
                .lease_renew(k.as_bytes(), b"me", HOUR)
                .await
                .unwrap()
        );
        drop(a);
    }

    /// The key-value operations caches, sessions and locks use.
    pub async fn key_value_operations(f: &Fixture) {
        let b = &f.backend;
        let k = f.key("kv");
        let k = k.as_bytes();
        assert_eq!(b.get(k).await.unwrap(), None);
        assert!(b.set(k, b"v1", SetOptions::default()).await.unwrap());
        assert_eq!(b.get(k).await.unwrap().as_deref(), Some(&b"v1"[..]));
        assert!(!b.set(k, b"v2", SetOptions::if_absent(HOUR)).await.unwrap());
        let present = SetOptions {
            ttl: Some(HOUR),
            condition: SetCondition::IfPresent,
        };
        assert!(b.set(k, b"v2", present).await.unwrap());
        let ttl = f.pttl(&f.key("kv")).await;
        assert!(ttl > 3_590_000 && ttl <= 3_600_000, "{ttl}");
        assert!(b.expire(k, SEC * 100).await.unwrap());
        assert!(f.pttl(&f.key("kv")).await <= 100_000);
        assert!(!b.compare_and_delete(k, b"other").await.unwrap());
        assert!(!b.compare_and_expire(k, b"other", HOUR).await.unwrap());
        assert!(b.compare_and_expire(k, b"v2", HOUR).await.unwrap());
        assert!(f.pttl(&f.key("kv")).await > 100_000);
        assert!(b.compare_and_delete(k, b"v2").await.unwrap());
        assert_eq!(b.get(k).await.unwrap(), None);
        let lock = f.key("lock");
        assert!(
            b.set(lock.as_bytes(), b"me", SetOptions::if_absent(HOUR))
                .await
                .unwrap()
        );
        assert!(
            !b.set(lock.as_bytes(), b"you", SetOptions::if_absent(HOUR))
                .await
                .unwrap()
        );
        let absent = SetOptions {
            ttl: None,
            condition: SetCondition::IfPresent,
        };
        assert!(!b.set(f.key("nope").as_bytes(), b"x", absent).await.unwrap());
        assert!(!b.expire(f.key("nope").as_bytes(), HOUR).await.unwrap());
        let k2 = f.key("kv2");
        assert_eq!(
            b.delete(&[lock.as_bytes(), k2.as_bytes()]).await.unwrap(),
            1
        );
    }

    /// A limiter key holding something else is an error, not a silent reset.
    pub async fn foreign_values_are_errors(f: &Fixture) {
        let l = f.limiter(&[("p", Policy::gcra(5, 5, HOUR))]);
        let key = f.key("foreign");
        f.backend
            .set(
                f.storage_key(&key, "p").as_bytes(),
                b"not a number",
                SetOptions::default(),
            )
            .await
            .unwrap();
        assert!(
            l.try_check_with(&key, CheckOptions::default(), true)
                .await
                .is_err()
        );
        // The failure policy (fail closed by default) decides, and says so.
        let d = l.check(&key).await;
        assert!(!d.allowed);
        assert_eq!(d.degraded.unwrap().mode, FailureMode::FailedClosed);
    }
}

/// Tests that move the clock and expect exact values (embedded, embedis-server).
mod stepping {
    use super::*;

    pub async fn gcra_exact(f: &Fixture) {
        // Burst 2, one per 100 ms.
        let l = f.limiter(&[("g", Policy::gcra(2, 10, SEC))]);
        let key = f.key("g");
        assert_eq!(l.check(&key).await.remaining, 1);
        assert_eq!(l.check(&key).await.remaining, 0);
        let d = l.check(&key).await;
        assert_eq!(d.retry_after, Some(Duration::from_millis(100)));
        assert_eq!(d.reset_after, Duration::from_millis(200));
        f.advance(Duration::from_millis(99));
        assert!(!l.check(&key).await.allowed);
        f.advance(Duration::from_millis(1));
        assert!(l.check(&key).await.allowed);
        f.advance(Duration::from_secs(5));
        assert_eq!(l.peek(&key).await.remaining, 2);
    }

    pub async fn fixed_window_rolls(f: &Fixture) {
        let w = Duration::from_secs(10);
        f.align(w).await;
        let l = f.limiter(&[("f", Policy::fixed_window(3, w))]);
        let key = f.key("f");
        f.advance(Duration::from_secs(4));
        assert_eq!(l.check_with(&key, CheckOptions::cost(3)).await.remaining, 0);
        let d = l.check(&key).await;
        assert_eq!(d.retry_after, Some(Duration::from_secs(6)));
        f.advance(Duration::from_secs(6) - Duration::from_micros(1));
        assert!(!l.check(&key).await.allowed);
        f.advance(Duration::from_micros(1));
        assert_eq!(l.check(&key).await.remaining, 2);
    }

    pub async fn sliding_window_weights(f: &Fixture) {
        let w = Duration::from_secs(10);
        f.align(w).await;
        let l = f.limiter(&[("s", Policy::sliding_window(10, w))]);
        let key = f.key("s");
        f.advance(Duration::from_secs(5));
        assert_eq!(
            l.check_with(&key, CheckOptions::cost(10)).await.remaining,
            0
        );
        f.advance(Duration::from_secs(4));
        let d = l.check(&key).await;
        assert_eq!(d.retry_after, Some(Duration::from_millis(1001)));
        f.advance(Duration::from_millis(1001));
        let d = l.check(&key).await;
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        f.advance(Duration::from_millis(4999));
        // floor(10 * 5000 / 10000) + 1 = 6 used.
        assert_eq!(l.peek(&key).await.remaining, 4);
    }

    pub async fn token_bucket_refills(f: &Fixture) {
        let l = f.limiter(&[("t", Policy::token_bucket(4, 1, Duration::from_millis(250)))]);
        let key = f.key("t");
        assert_eq!(l.check_with(&key, CheckOptions::cost(4)).await.remaining, 0);
        let d = l.check(&key).await;
        assert_eq!(d.retry_after, Some(Duration::from_millis(250)));
        f.advance(Duration::from_millis(249));
        assert!(!l.check(&key).await.allowed);
        f.advance(Duration::from_millis(1));
        assert!(l.check(&key).await.allowed);
        f.advance(Duration::from_millis(500));
        assert_eq!(l.peek(&key).await.remaining, 2);
    }

    pub async fn sliding_log_forgets_old_units(f: &Fixture) {
        let l = f.limiter(&[("l", Policy::sliding_log(3, Duration::from_secs(10)))]);
        let key = f.key("l");
        l.check(&key).await;
        f.advance(SEC);
        l.check_with(&key, CheckOptions::cost(2)).await;
        f.advance(SEC);
        let d = l.check(&key).await;
        assert_eq!(d.retry_after, Some(Duration::from_secs(8)));
        f.advance(Duration::from_secs(8));
        let d = l.check(&key).await;
        assert!(d.allowed);
        assert_eq!(d.reset_after, Duration::from_secs(10));
        assert_eq!(
            l.peek_with(&key, CheckOptions::cost(2)).await.retry_after,
            Some(SEC)
        );
    }

    /// No unbounded growth: keys of clients that went quiet disappear.
    pub async fn idle_keys_expire(f: &Fixture) {
        let policies = [
            ("fixed", Policy::fixed_window(5, SEC)),
            ("log", Policy::sliding_log(5, SEC)),
            ("sliding", Policy::sliding_window(5, SEC)),
            ("bucket", Policy::token_bucket(5, 5, SEC)),
            ("gcra", Policy::gcra(5, 5, SEC)),
        ];
        let l = f.limiter(&policies);
        for ip in 0..20 {
            assert!(l.check(f.key(&format!("10.0.0.{ip}"))).await.allowed);
        }
        let c = ConcurrencyLimiter::builder(f.backend.clone())
            .prefix(f.ns.clone())
            .timeout(CALL_TIMEOUT)
            .lease_ttl(SEC)
            .build()
            .unwrap();
        let _held = c.acquire(f.key("x")).await;
        let probe = f.storage_key(&f.key("10.0.0.3"), "sliding");
        assert_eq!(f.raw_cmd(&["EXISTS", &probe]).await, Reply::Int(1));
        f.advance(Duration::from_secs(4));
        for ip in 0..20 {
            for (n, _) in &policies {
                let k = f.storage_key(&f.key(&format!("10.0.0.{ip}")), n);
                assert_eq!(f.raw_cmd(&["EXISTS", &k]).await, Reply::Int(0), "{k}");
            }
        }
        let k = f.storage_key(&f.key("x"), "concurrency");
        assert_eq!(f.raw_cmd(&["EXISTS", &k]).await, Reply::Int(0));
    }

    pub async fn dead_holders_lose_their_lease(f: &Fixture) {
        let c = ConcurrencyLimiter::builder(f.backend.clone())
            .prefix(f.ns.clone())
            .timeout(CALL_TIMEOUT)
            .max_in_flight(1)
            .lease_ttl(Duration::from_secs(10))
            .build()
            .unwrap();
        let key = f.key("q");
        let held = c.acquire(&key).await;
        assert!(held.decision.allowed);
        f.advance(Duration::from_secs(9));
        let x = c.acquire(&key).await;
        assert_eq!(x.decision.retry_after, Some(SEC));
        assert!(held.renew().await.unwrap());
        f.advance(Duration::from_secs(10));
        // Not renewed: gone.
        assert!(!held.renew().await.unwrap());
        assert!(c.acquire(&key).await.decision.allowed);
    }
}

/// A redis backend whose server is gone: every failure policy answers within the timeout.
async fn unreachable_backend_degrades(f: &Fixture) {
    if f.name == "embedded" {
        return;
    }
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = RedisBackend::builder(format!("redis://127.0.0.1:{port}/"))
        .connection_timeout(Duration::from_millis(100))
        .retries(0)
        .build()
        .await
        .unwrap();
    for (policy, allowed) in [
        (FailurePolicy::FailOpen, true),
        (FailurePolicy::FailClosed, false),
        (FailurePolicy::Local { instances: 1 }, true),
    ] {
        let l = Limiter::builder(dead.clone())
            .policy("p", Policy::gcra(5, 5, SEC))
            .failure_policy(policy)
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let started = std::time::Instant::now();
        let d = l.check("k").await;
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(d.allowed, allowed, "{policy:?}");
        let g = d.degraded.expect("degraded");
        assert!(matches!(
            g.cause,
            FailureCause::Error | FailureCause::Timeout
        ));
    }
}

macro_rules! robust_tests {
    ($config:ident, $make:expr) => {
        run_on!($config, $make, [
            robust::each_algorithm_admits_up_to_its_limit => each_algorithm_admits_up_to_its_limit,
            robust::costs_and_peeks => costs_and_peeks,
            robust::several_policies_all_or_nothing => several_policies_all_or_nothing,
            robust::dynamic_limits => dynamic_limits,
            robust::keys_carry_ttls => keys_carry_ttls,
            robust::leases => leases,
            robust::key_value_operations => key_value_operations,
            robust::foreign_values_are_errors => foreign_values_are_errors,
            crate::unreachable_backend_degrades => unreachable_backend_degrades,
        ]);
    };
}

macro_rules! stepping_tests {
    ($config:ident, $make:expr) => {
        run_on!($config, $make, [
            stepping::gcra_exact => gcra_exact,
            stepping::fixed_window_rolls => fixed_window_rolls,
            stepping::sliding_window_weights => sliding_window_weights,
            stepping::token_bucket_refills => token_bucket_refills,
            stepping::sliding_log_forgets_old_units => sliding_log_forgets_old_units,
            stepping::idle_keys_expire => idle_keys_expire,
            stepping::dead_holders_lose_their_lease => dead_holders_lose_their_lease,
        ]);
    };
}

robust_tests!(embedded, make_embedded);
stepping_tests!(embedded_stepping, make_embedded);
robust_tests!(real_redis, make_real_redis);
robust_tests!(embedis_server, make_embedis_server);
stepping_tests!(embedis_server_stepping, make_embedis_server);

#[test]
fn real_redis_cannot_step() {
    // Documented limitation, checked so that a stepping test is never silently run on it.
    let f = Fixture {
        name: "real_redis",
        backend: EmbeddedBackend::new(Db::new()).into(),
        clock: Clock::Real,
        raw: Raw::Db(Db::new()),
        ns: String::new(),
        _keep: None,
    };
    assert!(!f.can_step());
    assert!(!f.advance(SEC));
}
