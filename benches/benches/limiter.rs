//! Rate limiter decision latency.
//!
//! - `engine/<algo>/<threads>t`: `Db::rate_limit` (the native typed API the embedded
//!   backend uses), 10k keys, 1 and 2 threads (per-thread latency under contention).
//! - `kit/<algo>/1t`: the same through `embedis_kit::Limiter` over the embedded backend
//!   (key building, aggregation, metrics), polled once: the future is ready.
//! - `governor/gcra/<threads>t`: governor's keyed GCRA limiter (DashMap store), same keys.
//! - `redis/gcra/1t`: the kit's redis backend (EVALSHA of the Lua GCRA) to a redis-server
//!   on loopback. Skipped when redis-server is not installed. Port: EMBEDIS_BENCH_REDIS_PORT
//!   (default 7111).
//!
//! Run: `cargo bench -p embedis-benches --bench limiter`.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use embedis::Db;
use embedis::types::limiter::Policy;
use embedis_kit::backend::{EmbeddedBackend, RedisBackend};
use embedis_kit::limiter::Limiter;

const KEYS: usize = 10_000;

fn keys() -> Arc<Vec<String>> {
    Arc::new(
        (0..KEYS)
            .map(|i| format!("ip:10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255))
            .collect(),
    )
}

/// Policies generous enough that steady benchmark traffic is mostly admitted (like a
/// limiter in normal operation).
fn policies() -> Vec<(&'static str, Policy)> {
    let s = Duration::from_secs(1);
    vec![
        ("gcra", Policy::gcra(1_000_000, 1_000_000, s)),
        (
            "token_bucket",
            Policy::token_bucket(1_000_000, 1_000_000, s),
        ),
        ("fixed_window", Policy::fixed_window(1_000_000, s)),
        ("sliding_window", Policy::sliding_window(1_000_000, s)),
        // The log keeps one entry per unit: a small limit keeps each key's log short.
        (
            "sliding_log",
            Policy::sliding_log(100, Duration::from_millis(100)),
        ),
    ]
}

/// Runs `op(i)` `iters` times on each of `threads` threads; the slowest thread's time.
fn threaded(threads: usize, iters: u64, op: impl Fn(usize) + Send + Sync + 'static) -> Duration {
    let op = Arc::new(op);
    let start = Arc::new(std::sync::Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let op = op.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                let t0 = Instant::now();
                for i in 0..iters as usize {
                    op(i.wrapping_mul(7919).wrapping_add(t * 4999) % KEYS);
                }
                t0.elapsed()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .max()
        .unwrap()
}

fn ready<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the embedded backend's futures are ready at once"),
    }
}

fn engine(c: &mut Criterion) {
    let keys = keys();
    let mut g = c.benchmark_group("engine");
    for (name, policy) in policies() {
        let db = Db::builder().active_expiry(false).build();
        for threads in [1, 2] {
            let (db, keys) = (db.clone(), keys.clone());
            g.bench_function(format!("{name}/{threads}t"), move |b| {
                let (db, keys) = (db.clone(), keys.clone());
                b.iter_custom(move |iters| {
                    let (db, keys) = (db.clone(), keys.clone());
                    threaded(threads, iters, move |i| {
                        black_box(db.rate_limit(&keys[i], &policy, 1).unwrap());
                    })
                })
            });
        }
    }
    g.finish();
}

fn kit(c: &mut Criterion) {
    let keys = keys();
    let mut g = c.benchmark_group("kit");
    for (name, policy) in policies() {
        let limiter = Limiter::builder(EmbeddedBackend::new(
            Db::builder().active_expiry(false).build(),
        ))
        .policy(name, policy)
        .build()
        .unwrap();
        let keys = keys.clone();
        g.bench_function(format!("{name}/1t"), move |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 7919) % KEYS;
                black_box(ready(limiter.check(&keys[i])))
            })
        });
    }
    g.finish();
}

fn governor_keyed(c: &mut Criterion) {
    use governor::{Quota, RateLimiter};
    let keys = keys();
    let mut g = c.benchmark_group("governor");
    let quota = Quota::per_second(NonZeroU32::new(1_000_000).unwrap());
    let limiter = Arc::new(RateLimiter::keyed(quota));
    for threads in [1, 2] {
        let (limiter, keys) = (limiter.clone(), keys.clone());
        g.bench_function(format!("gcra/{threads}t"), move |b| {
            let (limiter, keys) = (limiter.clone(), keys.clone());
            b.iter_custom(move |iters| {
                let (limiter, keys) = (limiter.clone(), keys.clone());
                threaded(threads, iters, move |i| {
                    let _ = black_box(limiter.check_key(&keys[i]));
                })
            })
        });
    }
    g.finish();
}

/// The comparison that matters, robust to a loaded machine: engine GCRA and governor
/// alternate in short rounds in one process, so both see the same load; medians of the
/// per-op times and their ratio are printed. `floor/db_get` is the engine's plain GET on
/// the same keys: the cost of any single-key engine operation.
fn interleaved(_: &mut Criterion) {
    use governor::{Quota, RateLimiter};
    let keys = keys();
    let db = Db::builder().active_expiry(false).build();
    let policy = Policy::gcra(1_000_000, 1_000_000, Duration::from_secs(1));
    let quota = Quota::per_second(NonZeroU32::new(1_000_000).unwrap());
    let gov = RateLimiter::keyed(quota);
    for k in keys.iter() {
        db.set(k.as_str(), "x");
    }
    let limiter_db = Db::builder().active_expiry(false).build();
    const OPS: usize = 50_000;
    let round = |f: &mut dyn FnMut(usize)| {
        let t0 = Instant::now();
        for i in 0..OPS {
            f(i.wrapping_mul(7919) % KEYS);
        }
        t0.elapsed().as_nanos() as f64 / OPS as f64
    };
    let (mut e, mut g, mut floor) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..25 {
        e.push(round(&mut |i| {
            black_box(limiter_db.rate_limit(&keys[i], &policy, 1).unwrap());
        }));
        g.push(round(&mut |i| {
            let _ = black_box(gov.check_key(&keys[i]));
        }));
        floor.push(round(&mut |i| {
            black_box(db.get(&keys[i]).unwrap());
        }));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (e, g, f) = (median(&mut e), median(&mut g), median(&mut floor));
    println!(
        "interleaved medians, 1 thread, 10k keys: engine GCRA {e:.0} ns, governor {g:.0} ns \
         (ratio {:.2}), floor/db_get {f:.0} ns",
        e / g
    );
}

fn redis(c: &mut Criterion) {
    let Some((_server, port)) = embedis_benches::RedisProcess::start(7111, "redis/gcra") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let backend = rt.block_on(async {
        RedisBackend::builder(format!("redis://127.0.0.1:{port}/"))
            .build()
            .await
            .unwrap()
    });
    let limiter = Limiter::builder(backend)
        .policy(
            "gcra",
            Policy::gcra(1_000_000, 1_000_000, Duration::from_secs(1)),
        )
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let keys = keys();
    let mut g = c.benchmark_group("redis");
    g.bench_function("gcra/1t", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 7919) % KEYS;
            let d = rt.block_on(limiter.check(&keys[i]));
            assert!(d.degraded.is_none());
            black_box(d)
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = interleaved, engine, kit, governor_keyed, redis
}
criterion_main!(benches);
