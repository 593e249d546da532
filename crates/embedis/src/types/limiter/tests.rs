//! Properties every algorithm must have, and hand-checked sequences.

use proptest::prelude::*;

use super::*;

const T0: Micros = 1_700_000_000_000_000;
const MS: Micros = 1000;
const SEC: Micros = 1_000_000;

/// Runs requests through one policy the way storage does (state replaced when charged).
struct Run {
    policy: Policy,
    state: Option<State>,
}

impl Run {
    fn new(policy: Policy) -> Self {
        policy.validate().unwrap();
        Run {
            policy,
            state: None,
        }
    }

    fn hit(&mut self, now: Micros, cost: i64) -> Decision {
        let ev = evaluate(&self.policy, self.state.as_ref(), now, cost, true).unwrap();
        if let Some(s) = ev.state {
            self.state = Some(s);
        }
        ev.decision
    }

    fn peek(&self, now: Micros, cost: i64) -> Decision {
        evaluate(&self.policy, self.state.as_ref(), now, cost, false)
            .unwrap()
            .decision
    }
}

#[test]
fn fixed_window_counts_per_aligned_window() {
    let mut r = Run::new(Policy::fixed_window(3, Duration::from_secs(10)));
    let t = T0; // a multiple of 10 s
    assert_eq!(r.hit(t + SEC, 2).remaining, 1);
    let d = r.hit(t + 2 * SEC, 2);
    assert!(!d.allowed);
    assert_eq!(d.retry_after, Some(8 * SEC));
    assert_eq!(d.reset_after, 8 * SEC);
    assert!(r.hit(t + 3 * SEC, 1).allowed);
    assert!(!r.hit(t + 9 * SEC, 1).allowed);
    // A new window.
    let d = r.hit(t + 10 * SEC, 3);
    assert!(d.allowed);
    assert_eq!(d.remaining, 0);
    assert_eq!(r.hit(t + 10 * SEC, 4).retry_after, None);
}

#[test]
fn sliding_log_is_exact() {
    let mut r = Run::new(Policy::sliding_log(3, Duration::from_secs(10)));
    assert!(r.hit(T0, 1).allowed);
    assert!(r.hit(T0 + SEC, 2).allowed);
    let d = r.hit(T0 + 2 * SEC, 1);
    assert!(!d.allowed);
    // The unit from T0 leaves the window at T0 + 10 s.
    assert_eq!(d.retry_after, Some(8 * SEC));
    assert!(!r.hit(T0 + 10 * SEC - 1, 1).allowed);
    let d = r.hit(T0 + 10 * SEC, 1);
    assert!(d.allowed);
    assert_eq!(d.remaining, 0);
    assert_eq!(d.reset_after, 10 * SEC);
    // Two units: both from T0 + 1 s must leave.
    assert_eq!(r.peek(T0 + 10 * SEC, 2).retry_after, Some(SEC));
}

#[test]
fn sliding_window_weights_the_previous_window() {
    let mut r = Run::new(Policy::sliding_window(10, Duration::from_secs(10)));
    for _ in 0..10 {
        assert!(r.hit(T0 + 5 * SEC, 1).allowed);
    }
    let d = r.hit(T0 + 9 * SEC, 1);
    assert!(!d.allowed);
    // Next window: prev = 10 weighs floor(10 * (10000 - e) / 10000) = 9 from e = 1 ms on.
    assert_eq!(d.retry_after, Some(SEC + MS));
    assert!(!r.peek(T0 + 10 * SEC + MS - 1, 1).allowed);
    let d = r.hit(T0 + 10 * SEC + MS, 1);
    assert!(d.allowed);
    assert_eq!(d.remaining, 0);
    // At 15 s: floor(10 * 5000 / 10000) + 1 = 6.
    assert_eq!(r.peek(T0 + 15 * SEC, 1).remaining, 4);
}

#[test]
fn token_bucket_refills_continuously() {
    // 4 tokens, 1 per 250 ms.
    let mut r = Run::new(Policy::token_bucket(4, 1, Duration::from_millis(250)));
    assert_eq!(r.hit(T0, 4).remaining, 0);
    let d = r.hit(T0, 1);
    assert_eq!(d.retry_after, Some(250 * MS));
    assert_eq!(d.reset_after, SEC);
    assert!(!r.hit(T0 + 249 * MS, 1).allowed);
    assert!(r.hit(T0 + 250 * MS, 1).allowed);
    assert_eq!(r.peek(T0 + 750 * MS, 1).remaining, 2);
    assert_eq!(r.hit(T0, 5).retry_after, None);
}

#[test]
fn gcra_matches_token_bucket_shape() {
    // Burst 5, 10 per second.
    let mut r = Run::new(Policy::gcra(5, 10, Duration::from_secs(1)));
    for i in 0..5 {
        assert_eq!(r.hit(T0, 1).remaining, 4 - i);
    }
    let d = r.hit(T0, 1);
    assert!(!d.allowed);
    assert_eq!(d.retry_after, Some(100 * MS));
    assert_eq!(d.reset_after, 500 * MS);
    assert!(r.hit(T0 + 100 * MS, 1).allowed);
    assert_eq!(r.hit(T0, 6).retry_after, None);
}

#[test]
fn validation_bounds() {
    assert!(
        Policy::gcra(0, 1, Duration::from_secs(1))
            .validate()
            .is_err()
    );
    assert!(
        Policy::gcra(1, 0, Duration::from_secs(1))
            .validate()
            .is_err()
    );
    assert_eq!(
        Policy::sliding_window(1, Duration::from_micros(1500)).validate(),
        Err(PolicyError::NotWholeMillis)
    );
    assert!(
        Policy::sliding_window(MAX_AMOUNT, Duration::from_secs(86_400))
            .validate()
            .is_err()
    );
    assert!(
        Policy::token_bucket(MAX_AMOUNT, 1, Duration::from_secs(3600))
            .validate()
            .is_err()
    );
    assert!(validate_cost(-1).is_err());
    assert!(validate_now(MAX_NOW + 1).is_err());
    for p in [
        Policy::fixed_window(5, Duration::from_secs(1)),
        Policy::token_bucket(5, 2, Duration::from_secs(1)),
    ] {
        assert_eq!(Policy::from_code(p.code(), p.params()), Some(p));
    }
}

#[test]
fn encodings_round_trip() {
    let states = [
        (
            Policy::gcra(1, 1, Duration::from_secs(1)),
            State::Gcra { tat: T0 },
        ),
        (
            Policy::fixed_window(1, Duration::from_secs(1)),
            State::FixedWindow {
                start: T0,
                count: 3,
            },
        ),
        (
            Policy::sliding_window(1, Duration::from_secs(1)),
            State::SlidingWindow {
                start: T0,
                prev: 2,
                curr: 1,
            },
        ),
        (
            Policy::token_bucket(1, 1, Duration::from_secs(1)),
            State::TokenBucket {
                level: -5,
                last: T0,
            },
        ),
        (
            Policy::sliding_log(1, Duration::from_secs(1)),
            State::SlidingLog(vec![(T0, 1), (T0 + 1, 7)]),
        ),
    ];
    let mut buf = Vec::new();
    for (p, s) in states {
        encode_state(&s, &mut buf);
        assert_eq!(decode_state(&p, &buf), Some(s));
    }
    let fixed = Policy::fixed_window(1, Duration::from_secs(1));
    assert_eq!(decode_state(&fixed, b"1:2:3"), None);
    assert_eq!(decode_state(&fixed, b"x:2"), None);
    assert_eq!(
        evaluate(&fixed, Some(&State::Gcra { tat: 0 }), T0, 1, true),
        Err(StateMismatch)
    );
}

fn policy() -> impl Strategy<Value = Policy> {
    let limit = 1i64..20;
    let ms = 1i64..5_000;
    prop_oneof![
        (limit.clone(), ms.clone()).prop_map(|(l, w)| Policy::FixedWindow {
            limit: l,
            window: w * MS
        }),
        (limit.clone(), ms.clone()).prop_map(|(l, w)| Policy::SlidingLog {
            limit: l,
            window: w * MS + 7
        }),
        (limit.clone(), ms.clone()).prop_map(|(l, w)| Policy::SlidingWindow {
            limit: l,
            window: w * MS
        }),
        (limit.clone(), 1i64..5, ms.clone()).prop_map(|(c, r, i)| Policy::TokenBucket {
            capacity: c,
            refill: r,
            interval: i * MS + 3
        }),
        (limit, ms).prop_map(|(b, e)| Policy::Gcra {
            burst: b,
            emission: e * MS / 3 + 1
        }),
    ]
}

fn steps() -> impl Strategy<Value = Vec<(i64, i64)>> {
    // (time step in µs, cost)
    prop::collection::vec(
        (
            prop_oneof![Just(0i64), 0i64..2_000, 0i64..2_000_000, 0i64..20_000_000],
            0i64..6,
        ),
        1..60,
    )
}

proptest! {
    #[test]
    fn stale_state_decides_like_none(p in policy(), steps in steps(), cost in 0i64..6) {
        let mut r = Run::new(p);
        let mut now = T0;
        for (dt, c) in steps {
            now += dt;
            r.hit(now, c);
        }
        let Some(state) = r.state.clone() else { return Ok(()) };
        let exp = evaluate(&p, Some(&state), now, 0, false).unwrap().expire_at;
        for later in [exp.max(now), exp.max(now) + 1, exp.max(now) + 12_345_678] {
            let a = evaluate(&p, Some(&state), later, cost, true).unwrap();
            let b = evaluate(&p, None, later, cost, true).unwrap();
            prop_assert_eq!(a.decision, b.decision, "at {}", later - now);
            prop_assert_eq!(a.state, b.state);
        }
    }

    #[test]
    fn decisions_are_consistent(p in policy(), steps in steps()) {
        let mut r = Run::new(p);
        let mut now = T0;
        for (dt, cost) in steps {
            now += dt;
            let peek = r.peek(now, cost);
            prop_assert_eq!(peek.allowed, cost <= peek.remaining && cost <= p.limit());
            prop_assert!(peek.remaining >= 0 && peek.remaining <= p.limit());
            prop_assert!(peek.reset_after >= 0);
            // Full quota back after reset_after.
            let full = r.peek(now + peek.reset_after, 0);
            prop_assert_eq!(full.remaining, p.limit(), "reset_after {}", peek.reset_after);
            if let Some(wait) = peek.retry_after {
                prop_assert!(wait > 0);
                prop_assert!(r.peek(now + wait, cost).allowed, "retry_after {} too short", wait);
                prop_assert!(!r.peek(now + wait - 1, cost).allowed, "retry_after {} too long", wait);
            } else if !peek.allowed {
                prop_assert!(cost > p.limit());
            }
            let d = r.hit(now, cost);
            prop_assert_eq!(d.allowed, peek.allowed);
            if d.allowed {
                prop_assert_eq!(d.remaining, (peek.remaining - cost).max(0));
            }
        }
    }
}
