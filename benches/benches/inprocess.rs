//! In-process operations over preloaded keyspaces of 100k and 1M keys, on 1 and 2 threads,
//! with the baselines measured in the same run:
//!
//! - `get`, `set`: the typed API (`db.get`/`db.set`), the command path (`db.call`, 1 thread),
//!   a bare `DashMap<Bytes, Bytes>` with ahash (the physical floor of a concurrent map) and a
//!   `moka::sync::Cache` (a concurrent cache with its own eviction bookkeeping);
//! - `incr`, `hset`, `lpush`, `zadd`, `zrank`: the typed API on keys of that type (small
//!   hashes of 4 fields, lists, sorted sets of 8 members), as a workload of many small
//!   objects would use them.
//!
//! Names read `<op>/<implementation>/<keys>/<threads>t`; the time is per operation and per
//! thread (2 threads run the same loop at once on different keys, see
//! `embedis_benches::threaded`). Keys are visited in a scrambled order.
//!
//! `cargo bench -p embedis-benches --bench inprocess` (about 4 minutes; `EMBEDIS_BENCH_SIZES=
//! 100000` for one size, a criterion filter such as `-- get/` for one operation).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use ahash::RandomState;
use bytes::Bytes;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use dashmap::DashMap;
use embedis::Db;
use embedis_benches::{keys, sizes, threaded, value};

const THREADS: [usize; 2] = [1, 2];

/// Measures `op(index)` on 1 and 2 threads under `name/<n>/<threads>t`.
fn bench_threads<F>(
    g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    n: usize,
    op: F,
) where
    F: Fn(usize) + Send + Sync + 'static,
{
    let op = Arc::new(op);
    for threads in THREADS {
        let op = op.clone();
        g.bench_function(format!("{name}/{n}/{threads}t"), move |b| {
            b.iter_custom(|iters| threaded(threads, n, iters, op.clone()))
        });
    }
}

fn db() -> Db {
    // No background expiry thread: nothing here expires, and it would only add noise.
    Db::builder().active_expiry(false).build()
}

/// Keys named `<prefix>:0000000`.
fn typed_keys(prefix: &str, n: usize) -> Arc<Vec<Bytes>> {
    Arc::new(
        (0..n)
            .map(|i| Bytes::from(format!("{prefix}:{i:07}")))
            .collect(),
    )
}

fn strings(c: &mut Criterion, n: usize) {
    let keys = Arc::new(keys(n));
    let value = value();
    let db = db();
    let map: Arc<DashMap<Bytes, Bytes, RandomState>> =
        Arc::new(DashMap::with_capacity_and_hasher(n, RandomState::new()));
    let cache: moka::sync::Cache<Bytes, Bytes> = moka::sync::Cache::new(2 * n as u64);
    for k in keys.iter() {
        db.set(k, &value);
        map.insert(k.clone(), value.clone());
        cache.insert(k.clone(), value.clone());
    }
    cache.run_pending_tasks();

    let mut g = c.benchmark_group("get");
    g.throughput(Throughput::Elements(1));
    {
        let (map, keys) = (map.clone(), keys.clone());
        bench_threads(&mut g, "dashmap_ahash", n, move |i| {
            black_box(map.get(&keys[i]).map(|v| v.value().clone()));
        });
    }
    {
        let (cache, keys) = (cache.clone(), keys.clone());
        bench_threads(&mut g, "moka", n, move |i| {
            black_box(cache.get(&keys[i]));
        });
    }
    {
        let (db, keys) = (db.clone(), keys.clone());
        bench_threads(&mut g, "typed", n, move |i| {
            black_box(db.get(&keys[i]).ok());
        });
    }
    {
        let (db, keys) = (db.clone(), keys.clone());
        g.bench_function(format!("call/{n}/1t"), move |b| {
            b.iter_custom(|iters| {
                let (db, keys) = (db.clone(), keys.clone());
                threaded(
                    1,
                    n,
                    iters,
                    Arc::new(move |i: usize| {
                        let args: [&[u8]; 2] = [b"GET", &keys[i]];
                        black_box(db.call(args));
                    }),
                )
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("set");
    g.throughput(Throughput::Elements(1));
    {
        let (map, keys, value) = (map.clone(), keys.clone(), value.clone());
        bench_threads(&mut g, "dashmap_ahash", n, move |i| {
            black_box(map.insert(keys[i].clone(), value.clone()));
        });
    }
    {
        let (cache, keys, value) = (cache.clone(), keys.clone(), value.clone());
        bench_threads(&mut g, "moka", n, move |i| {
            cache.insert(keys[i].clone(), value.clone());
        });
    }
    {
        let (db, keys, value) = (db.clone(), keys.clone(), value.clone());
        bench_threads(&mut g, "typed", n, move |i| db.set(&keys[i], &value));
    }
    {
        let (db, keys, value) = (db.clone(), keys.clone(), value.clone());
        g.bench_function(format!("call/{n}/1t"), move |b| {
            b.iter_custom(|iters| {
                let (db, keys, value) = (db.clone(), keys.clone(), value.clone());
                threaded(
                    1,
                    n,
                    iters,
                    Arc::new(move |i: usize| {
                        let args: [&[u8]; 3] = [b"SET", &keys[i], &value];
                        black_box(db.call(args));
                    }),
                )
            })
        });
    }
    g.finish();
}

fn incr(c: &mut Criterion, n: usize) {
    let keys = typed_keys("ctr", n);
    let db = db();
    for k in keys.iter() {
        db.set(k, "0");
    }
    let mut g = c.benchmark_group("incr");
    g.throughput(Throughput::Elements(1));
    bench_threads(&mut g, "typed", n, move |i| {
        black_box(db.incr(&keys[i]).ok());
    });
    g.finish();
}

const FIELDS: [&str; 4] = ["f0", "f1", "f2", "f3"];

fn hset(c: &mut Criterion, n: usize) {
    let keys = typed_keys("h", n);
    let db = db();
    for k in keys.iter() {
        let pairs: Vec<(&str, &str)> = FIELDS.iter().map(|f| (*f, "value-0123456789")).collect();
        db.hset(k, &pairs).unwrap();
    }
    let mut g = c.benchmark_group("hset");
    g.throughput(Throughput::Elements(1));
    bench_threads(&mut g, "typed", n, move |i| {
        // Overwrites one of the 4 fields: the hash keeps its size.
        black_box(
            db.hset(&keys[i], &[(FIELDS[i & 3], "value-9876543210")])
                .ok(),
        );
    });
    g.finish();
}

fn lpush(c: &mut Criterion, n: usize) {
    let keys = typed_keys("l", n);
    let db = db();
    for k in keys.iter() {
        db.lpush(k, &["v"]).unwrap();
    }
    let mut g = c.benchmark_group("lpush");
    g.throughput(Throughput::Elements(1));
    bench_threads(&mut g, "typed", n, move |i| {
        black_box(db.lpush(&keys[i], &["value-0123456789"]).ok());
    });
    g.finish();
}

const MEMBERS: [&str; 8] = ["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"];

fn zsets(c: &mut Criterion, n: usize) {
    let keys = typed_keys("z", n);
    let db = db();
    for k in keys.iter() {
        let members: Vec<(f64, &str)> = MEMBERS
            .iter()
            .enumerate()
            .map(|(s, m)| (s as f64, *m))
            .collect();
        db.zadd(k, &members).unwrap();
    }
    let mut g = c.benchmark_group("zadd");
    g.throughput(Throughput::Elements(1));
    {
        let (db, keys) = (db.clone(), keys.clone());
        bench_threads(&mut g, "typed", n, move |i| {
            // A new score for an existing member: the set keeps its size, the member moves.
            let score = (i % 17) as f64;
            black_box(db.zadd(&keys[i], &[(score, MEMBERS[i & 7])]).ok());
        });
    }
    g.finish();
    let mut g = c.benchmark_group("zrank");
    g.throughput(Throughput::Elements(1));
    bench_threads(&mut g, "typed", n, move |i| {
        black_box(db.zrank(&keys[i], MEMBERS[i & 7]).ok());
    });
    g.finish();
}

fn inprocess(c: &mut Criterion) {
    for n in sizes() {
        strings(c, n);
        incr(c, n);
        hset(c, n);
        lpush(c, n);
        zsets(c, n);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = inprocess
}
criterion_main!(benches);
