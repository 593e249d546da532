//! Quick scaling check for sorted sets: ns per operation at 1k and 1M members, through the
//! typed API (lock + exec, as a command runs). O(log n) operations should cost about the
//! same at both sizes, within cache effects; an O(n) one would be ~1000x slower.
//!
//! Run with `cargo run --release -p embedis --example zset_scaling`.

use std::hint::black_box;
use std::time::Instant;

use embedis::Db;
use embedis::cmd::zset::{ZRange, ZRemRange};
use embedis::types::zset::ScoreRange;

/// A fixed pseudo-random sequence (no rand dependency needed here).
fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Runs `f` in 5 batches of `n / 5` and reports the fastest batch, so that time the process
/// spends preempted on a busy machine counts as little as possible.
fn time(label: &str, n: u64, mut f: impl FnMut(u64)) {
    let batch = n / 5;
    let mut best = f64::MAX;
    for b in 0..5 {
        let start = Instant::now();
        for i in b * batch..(b + 1) * batch {
            f(i);
        }
        best = best.min(start.elapsed().as_nanos() as f64 / batch as f64);
    }
    println!("  {label:<28} {best:>9.0} ns/op");
}

fn main() {
    for size in [1_000u64, 1_000_000] {
        let db = Db::new();
        let members: Vec<String> = (0..size).map(|i| format!("member:{i}")).collect();
        let build = Instant::now();
        for (i, m) in members.iter().enumerate() {
            db.zadd("z", &[((mix(i as u64) % 1_000_000) as f64, m.as_str())])
                .unwrap();
        }
        println!(
            "{size} members (built in {:.0} ms, {:.0} ns/member)",
            build.elapsed().as_secs_f64() * 1e3,
            build.elapsed().as_nanos() as f64 / size as f64
        );
        let ops = 100_000;
        time("ZSCORE", ops, |i| {
            black_box(db.zscore("z", &members[(mix(i) % size) as usize]).unwrap());
        });
        time("ZRANK", ops, |i| {
            black_box(db.zrank("z", &members[(mix(i) % size) as usize]).unwrap());
        });
        time("ZRANGE by index (1 elem)", ops, |i| {
            let r = (mix(i) % size) as i64;
            black_box(db.zrange("z", &ZRange::rank(r, r)).unwrap());
        });
        time("ZCOUNT", ops, |i| {
            let lo = (mix(i) % 1_000_000) as f64;
            black_box(
                db.zcount("z", &ScoreRange::inclusive(lo, lo + 1000.0))
                    .unwrap(),
            );
        });
        time("ZADD update score", ops, |i| {
            let m = &members[(mix(i) % size) as usize];
            black_box(
                db.zadd("z", &[((mix(i + 7) % 1_000_000) as f64, m.as_str())])
                    .unwrap(),
            );
        });
        time("ZADD new + ZREM", ops, |i| {
            let m = format!("extra:{i}");
            db.zadd("z", &[((mix(i) % 1_000_000) as f64, m.as_str())])
                .unwrap();
            black_box(db.zrem("z", &[m.as_str()]).unwrap());
        });
        time("ZPOPMIN + re-ZADD", ops, |_| {
            let popped = db.zpopmin("z", 1).unwrap();
            let (m, s) = &popped[0];
            db.zadd("z", &[(*s + 1_000_000.0, &m[..])]).unwrap();
        });
        time("ZREMRANGEBYRANK 1 + ZADD", ops / 10, |i| {
            let r = (mix(i) % (size - 1)) as i64;
            let got = db.zrange("z", &ZRange::rank(r, r)).unwrap();
            db.zremrange("z", &ZRemRange::Rank(r, r)).unwrap();
            let (m, s) = &got[0];
            db.zadd("z", &[(*s, &m[..])]).unwrap();
        });
        assert_eq!(db.zcard("z").unwrap() as u64, size);
    }
}
