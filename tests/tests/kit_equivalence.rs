//! Equivalence of the rate limiter implementations: random request sequences (keys,
//! policies, costs, peeks, clock steps, leases) go through
//!
//! 1. the native engine (`Db::rate_limit_all`, `Db::lease_*`) under a manual clock;
//! 2. the kit's Lua scripts on a real `redis-server`, through [`RedisBackend`] with the
//!    test clock (the scripts take `now` as an argument instead of `TIME`);
//! 3. the same Lua scripts on the embedded store's `EVAL` (always: it needs no server),
//!
//! and every decision must be identical. The time seam: `limiter.lua`'s first argument is
//! `now` in µs, empty in production (the script then reads `TIME`); tests pass the manual
//! clock's time, so all implementations decide at identical instants.

mod kit_support;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use embedis::types::limiter::{Decision, Policy};
use embedis::{Db, ManualClock, Reply};
use embedis_kit::backend::{Backend, Check, LeaseRequest, RateLimitRequest, RedisBackend};
use proptest::prelude::*;

const T0: i64 = 1_700_000_000_123_456;

/// The time the Redis leg's scripts are given.
static NOW: AtomicI64 = AtomicI64::new(T0);

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn redis_backend() -> Option<&'static RedisBackend> {
    static B: OnceLock<Option<RedisBackend>> = OnceLock::new();
    B.get_or_init(|| {
        let server = kit_support::redis()?;
        Some(runtime().block_on(async {
            RedisBackend::builder(server.url())
                .test_clock(|| NOW.load(Ordering::SeqCst))
                .build()
                .await
                .unwrap()
        }))
    })
    .as_ref()
}

#[derive(Debug, Clone)]
enum Op {
    /// Advance the clock by µs.
    Step(i64),
    /// A rate limit check on key `key` with the policies selected by `mask`.
    Limit {
        key: usize,
        mask: u8,
        cost: i64,
        charge: bool,
    },
    Acquire {
        key: usize,
        holder: u8,
        max: i64,
        ttl_ms: i64,
    },
    Release {
        key: usize,
        holder: u8,
    },
    Renew {
        key: usize,
        holder: u8,
        ttl_ms: i64,
    },
}

fn policy() -> impl Strategy<Value = Policy> {
    let limit = 1i64..12;
    let ms = 1i64..4_000;
    prop_oneof![
        (limit.clone(), ms.clone()).prop_map(|(l, w)| Policy::FixedWindow {
            limit: l,
            window: w * 1000
        }),
        (limit.clone(), ms.clone()).prop_map(|(l, w)| Policy::SlidingLog {
            limit: l,
            window: w * 1000 + 13
        }),
        (limit.clone(), ms.clone()).prop_map(|(l, w)| Policy::SlidingWindow {
            limit: l,
            window: w * 1000
        }),
        (limit.clone(), 1i64..4, ms.clone()).prop_map(|(c, r, i)| Policy::TokenBucket {
            capacity: c,
            refill: r,
            interval: i * 1000 + 7
        }),
        (limit, ms).prop_map(|(b, e)| Policy::Gcra {
            burst: b,
            emission: e * 333 + 1
        }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop_oneof![Just(0i64), 0i64..3_000, 0i64..400_000, 0i64..9_000_000].prop_map(Op::Step),
        8 => (0usize..3, 1u8..8, 0i64..5, prop::bool::weighted(0.8))
            .prop_map(|(key, mask, cost, charge)| Op::Limit { key, mask, cost, charge }),
        1 => (0usize..2, 0u8..4, 1i64..3, 1i64..3000)
            .prop_map(|(key, holder, max, ttl_ms)| Op::Acquire { key, holder, max, ttl_ms }),
        1 => (0usize..2, 0u8..4).prop_map(|(key, holder)| Op::Release { key, holder }),
        1 => (0usize..2, 0u8..4, 1i64..3000)
            .prop_map(|(key, holder, ttl_ms)| Op::Renew { key, holder, ttl_ms }),
    ]
}

/// What one implementation answered for one op.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Decisions(Vec<Decision>),
    Bool(bool),
    Error,
}

fn decisions_from_ints(v: &[i64]) -> Vec<Decision> {
    v.chunks_exact(5)
        .map(|c| Decision {
            allowed: c[0] == 1,
            limit: c[1],
            remaining: c[2],
            reset_after: c[3],
            retry_after: (c[4] >= 0).then_some(c[4]),
        })
        .collect()
}

fn ints(r: &Reply) -> Option<Vec<i64>> {
    match r {
        Reply::Array(v) => v
            .iter()
            .map(|x| match x {
                Reply::Int(n) => Some(*n),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

struct Case {
    ns: String,
    policies: Vec<Policy>,
}

impl Case {
    fn key(&self, key: usize, policy: usize) -> String {
        format!("{}:k{key}:p{policy}", self.ns)
    }

    fn lease_key(&self, key: usize) -> String {
        format!("{}:lease{key}", self.ns)
    }

    fn checks(&self, key: usize, mask: u8) -> Vec<(String, Policy)> {
        self.policies
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(i, p)| (self.key(key, i), *p))
            .collect()
    }
}

fn native(db: &Db, case: &Case, op: &Op) -> Option<Answer> {
    let holder = |h: &u8| format!("holder-{h}");
    Some(match op {
        Op::Step(_) => return None,
        Op::Limit {
            key,
            mask,
            cost,
            charge,
        } => {
            let checks = case.checks(*key, *mask);
            if checks.is_empty() {
                return None;
            }
            match db.rate_limit_all(&checks, *cost, *charge) {
                Ok(d) => Answer::Decisions(d),
                Err(_) => Answer::Error,
            }
        }
        Op::Acquire {
            key,
            holder: h,
            max,
            ttl_ms,
        } => match db.lease_acquire(
            case.lease_key(*key),
            *max,
            holder(h),
            Duration::from_millis(*ttl_ms as u64),
        ) {
            Ok(d) => Answer::Decisions(vec![d]),
            Err(_) => Answer::Error,
        },
        Op::Release { key, holder: h } => match db.lease_release(case.lease_key(*key), holder(h)) {
            Ok(b) => Answer::Bool(b),
            Err(_) => Answer::Error,
        },
        Op::Renew {
            key,
            holder: h,
            ttl_ms,
        } => match db.lease_renew(
            case.lease_key(*key),
            holder(h),
            Duration::from_millis(*ttl_ms as u64),
        ) {
            Ok(b) => Answer::Bool(b),
            Err(_) => Answer::Error,
        },
    })
}

async fn via_redis(b: &RedisBackend, case: &Case, op: &Op) -> Option<Answer> {
    let holder = |h: &u8| format!("holder-{h}");
    Some(match op {
        Op::Step(_) => return None,
        Op::Limit {
            key,
            mask,
            cost,
            charge,
        } => {
            let owned = case.checks(*key, *mask);
            if owned.is_empty() {
                return None;
            }
            let checks: Vec<Check<'_>> = owned
                .iter()
                .map(|(k, p)| Check {
                    key: k.as_bytes(),
                    policy: *p,
                })
                .collect();
            let req = RateLimitRequest {
                checks: &checks,
                cost: *cost,
                charge: *charge,
            };
            match b.rate_limit(req).await {
                Ok(d) => Answer::Decisions(d),
                Err(_) => Answer::Error,
            }
        }
        Op::Acquire {
            key,
            holder: h,
            max,
            ttl_ms,
        } => {
            let id = holder(h);
            let req = LeaseRequest {
                id: id.as_bytes(),
                max: *max,
                ttl: Duration::from_millis(*ttl_ms as u64),
            };
            match b.lease_acquire(case.lease_key(*key).as_bytes(), req).await {
                Ok(d) => Answer::Decisions(vec![d]),
                Err(_) => Answer::Error,
            }
        }
        Op::Release { key, holder: h } => {
            let id = holder(h);
            match b
                .lease_release(case.lease_key(*key).as_bytes(), id.as_bytes())
                .await
            {
                Ok(v) => Answer::Bool(v),
                Err(_) => Answer::Error,
            }
        }
        Op::Renew {
            key,
            holder: h,
            ttl_ms,
        } => {
            let id = holder(h);
            let ttl = Duration::from_millis(*ttl_ms as u64);
            match b
                .lease_renew(case.lease_key(*key).as_bytes(), id.as_bytes(), ttl)
                .await
            {
                Ok(v) => Answer::Bool(v),
                Err(_) => Answer::Error,
            }
        }
    })
}

/// The same scripts through the embedded store's EVAL, `now` passed explicitly.
fn via_eval(db: &Db, case: &Case, op: &Op, now: i64) -> Option<Answer> {
    let holder = |h: &u8| format!("holder-{h}");
    let eval = |script: &str, keys: Vec<String>, args: Vec<String>| {
        let mut argv = vec![
            "EVAL".to_string(),
            script.to_string(),
            keys.len().to_string(),
        ];
        argv.extend(keys);
        argv.extend(args);
        db.call(argv)
    };
    let lease = |key: usize, opname: &str, h: &u8, max: i64, ttl_us: i64| {
        eval(
            embedis_kit::backend::LEASE_LUA,
            vec![case.lease_key(key)],
            vec![
                now.to_string(),
                opname.to_string(),
                holder(h),
                max.to_string(),
                ttl_us.to_string(),
                "3600000".into(),
            ],
        )
    };
    let boolean = |r: Reply| match r {
        Reply::Int(n) => Answer::Bool(n == 1),
        _ => Answer::Error,
    };
    Some(match op {
        Op::Step(_) => return None,
        Op::Limit {
            key,
            mask,
            cost,
            charge,
        } => {
            let checks = case.checks(*key, *mask);
            if checks.is_empty() {
                return None;
            }
            let mut args = vec![
                now.to_string(),
                cost.to_string(),
                if *charge { "1" } else { "0" }.to_string(),
                "3600000".to_string(),
            ];
            for (_, p) in &checks {
                args.push(p.code().to_string());
                args.extend(p.params().iter().map(|x| x.to_string()));
            }
            let keys = checks.into_iter().map(|(k, _)| k).collect();
            match ints(&eval(embedis_kit::backend::LIMITER_LUA, keys, args)) {
                Some(v) => Answer::Decisions(decisions_from_ints(&v)),
                None => Answer::Error,
            }
        }
        Op::Acquire {
            key,
            holder: h,
            max,
            ttl_ms,
        } => match ints(&lease(*key, "acquire", h, *max, ttl_ms * 1000)) {
            Some(v) => Answer::Decisions(decisions_from_ints(&v)),
            None => Answer::Error,
        },
        Op::Release { key, holder: h } => boolean(lease(*key, "release", h, 0, 0)),
        Op::Renew {
            key,
            holder: h,
            ttl_ms,
        } => boolean(lease(*key, "renew", h, 0, ttl_ms * 1000)),
    })
}

fn run_case(policies: Vec<Policy>, ops: Vec<Op>) -> Result<(), TestCaseError> {
    static N: AtomicU64 = AtomicU64::new(0);
    // NOW is global: one case at a time.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let case = Case {
        ns: format!(
            "eq{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ),
        policies,
    };
    let clock = ManualClock::starting_at_micros(T0 as u64);
    let db = Db::builder().clock(clock.clone()).build();
    let lua_db = Db::builder().clock(clock.clone()).build();
    let redis = redis_backend();
    for (i, op) in ops.iter().enumerate() {
        if let Op::Step(us) = op {
            clock.advance(Duration::from_micros(*us as u64));
            continue;
        }
        let now = clock.now_micros_i64();
        let Some(want) = native(&db, &case, op) else {
            continue;
        };
        if let Some(b) = redis {
            NOW.store(now, Ordering::SeqCst);
            let got = runtime().block_on(via_redis(b, &case, op));
            prop_assert_eq!(
                got.as_ref(),
                Some(&want),
                "op {} {:?} on real Redis at +{}µs",
                i,
                op,
                now - T0
            );
        }
        let got = via_eval(&lua_db, &case, op, now);
        prop_assert_eq!(
            got.as_ref(),
            Some(&want),
            "op {} {:?} on embedded EVAL at +{}µs",
            i,
            op,
            now - T0
        );
    }
    Ok(())
}

trait NowI64 {
    fn now_micros_i64(&self) -> i64;
}

impl NowI64 for ManualClock {
    fn now_micros_i64(&self) -> i64 {
        use embedis::Clock;
        self.now_micros() as i64
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn native_and_lua_decide_alike(
        policies in prop::collection::vec(policy(), 1..4),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        run_case(policies, ops)?;
    }
}

/// Boundaries the random search may miss: exact window edges, refills landing on the
/// microsecond, costs equal to the limit.
#[test]
fn edges_decide_alike() {
    let policies = vec![
        Policy::FixedWindow {
            limit: 3,
            window: 1_000_000,
        },
        Policy::SlidingWindow {
            limit: 3,
            window: 1_000_000,
        },
        Policy::TokenBucket {
            capacity: 3,
            refill: 1,
            interval: 1_000_000,
        },
    ];
    let mut ops = Vec::new();
    // Align to a window start, then walk across boundaries.
    ops.push(Op::Step(1_000_000 - T0.rem_euclid(1_000_000)));
    for step in [0, 999_999, 1, 1, 998_999, 1_000, 1_000_000, 2_000_000, 1] {
        ops.push(Op::Step(step));
        for mask in [1, 2, 4, 7] {
            for cost in [0, 1, 3, 4] {
                ops.push(Op::Limit {
                    key: 0,
                    mask,
                    cost,
                    charge: cost != 0,
                });
            }
        }
    }
    run_case(policies, ops).unwrap();
}
