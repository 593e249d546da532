//! Cache hit latency: `embedis_kit::cache::Cache` over the embedded backend vs the redis
//! backend (a redis-server on loopback), same value (a ~100-byte JSON string), 1k keys.
//!
//! - `embedded/get_hit`, `embedded/get_or_load_hit`: polled once (the futures are ready).
//! - `redis/get_hit`, `redis/get_or_load_hit`: one GET round trip each, on a current-thread
//!   Tokio runtime.
//! - `redis_near/get_hit`: the redis backend with the near cache on (no round trip).
//!
//! redis-server is started on EMBEDIS_BENCH_REDIS_PORT (default 7101); the redis groups
//! are skipped when it is not installed.
//!
//! Run: `cargo bench -p embedis-benches --bench cache`.
//!
//! Measured 2026-11-23 on the shared 2-core dev machine under load average ~20 (so every
//! number is inflated; compare the ratios), lto off: embedded get hit 3.0 µs,
//! embedded get_or_load hit 2.3 µs, redis get hit 152 µs, redis get_or_load hit 192 µs,
//! redis + near cache get hit 2.9 µs.

use std::hint::black_box;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use embedis_kit::backend::{Backend, EmbeddedBackend, RedisBackend};
use embedis_kit::cache::Cache;

const KEYS: usize = 1_000;
const TTL: Duration = Duration::from_secs(3600);

fn ready<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the embedded backend's futures are ready at once"),
    }
}

fn keys() -> Vec<String> {
    (0..KEYS).map(|i| format!("user:{i}")).collect()
}

fn value() -> String {
    "x".repeat(100)
}

async fn fill<B: Backend>(cache: &Cache<B>, keys: &[String]) {
    for k in keys {
        cache.set(k, &value(), TTL).await.unwrap();
    }
}

fn embedded(c: &mut Criterion) {
    let keys = keys();
    let cache = Cache::new(EmbeddedBackend::new(embedis::Db::new()));
    ready(fill(&cache, &keys));
    let mut g = c.benchmark_group("embedded");
    g.bench_function("get_hit", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 7) % KEYS;
            black_box(ready(cache.get::<String>(&keys[i])).unwrap().unwrap())
        })
    });
    g.bench_function("get_or_load_hit", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 7) % KEYS;
            black_box(
                ready(
                    cache.get_or_load(&keys[i], TTL, || async { Ok::<_, std::io::Error>(value()) }),
                )
                .unwrap(),
            )
        })
    });
    g.finish();
}

fn redis(c: &mut Criterion) {
    let Some((_server, port)) = embedis_benches::RedisProcess::start(7101, "redis cache benches")
    else {
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
    let keys = keys();
    let cache = Cache::new(backend.clone());
    let near = Cache::builder(backend)
        .near_cache(10_000, Duration::from_secs(60))
        .build()
        .unwrap();
    rt.block_on(fill(&cache, &keys));
    let mut g = c.benchmark_group("redis");
    g.bench_function("get_hit", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 7) % KEYS;
            black_box(rt.block_on(cache.get::<String>(&keys[i])).unwrap().unwrap())
        })
    });
    g.bench_function("get_or_load_hit", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 7) % KEYS;
            black_box(
                rt.block_on(
                    cache.get_or_load(&keys[i], TTL, || async { Ok::<_, std::io::Error>(value()) }),
                )
                .unwrap(),
            )
        })
    });
    g.finish();
    let mut g = c.benchmark_group("redis_near");
    g.bench_function("get_hit", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 7) % KEYS;
            black_box(rt.block_on(near.get::<String>(&keys[i])).unwrap().unwrap())
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = embedded, redis
}
criterion_main!(benches);
