//! ZADD and ZRANK on one sorted set of 1k and of 1M members: with O(log n) operations the
//! 1M-member times stay within a small factor of the 1k ones (log₂ 1M / log₂ 1k = 2, plus
//! cache misses), instead of growing 1000× as an O(n) structure would.
//!
//! - `zrank/<members>`: ZRANK of a member drawn in scrambled order;
//! - `zadd_update/<members>`: ZADD of an existing member with a new score (it moves);
//! - `zadd_new_rem/<members>`: ZADD of a new member, then ZREM of it (size kept).
//!
//! `cargo bench -p embedis-benches --bench zset_scaling`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use embedis::Db;
use embedis_benches::Scrambled;

fn member(i: usize) -> String {
    format!("member:{i:08}")
}

fn zset_scaling(c: &mut Criterion) {
    let mut g = c.benchmark_group("zset_scaling");
    for n in [1_000usize, 1_000_000] {
        let db = Db::builder().active_expiry(false).build();
        let members: Vec<String> = (0..n).map(member).collect();
        for chunk in members.chunks(1000).enumerate() {
            let (base, chunk) = chunk;
            let pairs: Vec<(f64, &str)> = chunk
                .iter()
                .enumerate()
                .map(|(j, m)| (((base * 1000 + j) * 7919 % n) as f64, m.as_str()))
                .collect();
            db.zadd("z", &pairs).unwrap();
        }
        assert_eq!(db.zcard("z").unwrap(), n as i64);
        g.bench_with_input(BenchmarkId::new("zrank", n), &n, |b, &n| {
            let mut i = Scrambled::new(n);
            b.iter(|| black_box(db.zrank("z", &members[i.next()]).unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("zadd_update", n), &n, |b, &n| {
            let mut i = Scrambled::new(n);
            let mut score = 0u64;
            b.iter(|| {
                score = score.wrapping_add(7919) % (n as u64 * 2);
                black_box(db.zadd("z", &[(score as f64, &members[i.next()])]).unwrap())
            })
        });
        g.bench_with_input(BenchmarkId::new("zadd_new_rem", n), &n, |b, &n| {
            let mut i = Scrambled::new(n);
            b.iter(|| {
                let s = i.next() as f64 + 0.5;
                black_box(db.zadd("z", &[(s, "newcomer")]).unwrap());
                black_box(db.zrem("z", &["newcomer"]).unwrap())
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = zset_scaling
}
criterion_main!(benches);
