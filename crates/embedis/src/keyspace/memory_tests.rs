//! Memory accounting and eviction, end to end through commands.

use std::time::Duration;

use proptest::prelude::*;

use crate::clock::ManualClock;
use crate::db::Db;
use crate::keyspace::Entry;
use crate::reply::Reply;

fn db() -> (Db, ManualClock) {
    let clock = ManualClock::starting_at_micros(1_700_000_000_000_000);
    let db = Db::builder()
        .clock(clock.clone())
        .seed(7)
        .databases(4)
        .active_expiry(false)
        .build();
    (db, clock)
}

/// `used_memory` recomputed from scratch: every entry measured again, every table's own
/// structures, the fixed baseline.
fn recount(db: &Db) -> u64 {
    let e = db.engine();
    let mut a = e.keyspace.lock_all(&e.stats, 0, e.clock.now_millis());
    let mut total = e.keyspace.baseline();
    for d in 0..e.keyspace.databases() {
        for t in a.tables_ref(d) {
            total += t.iter().map(Entry::memory_usage).sum::<usize>() as u64;
            total += t.overhead_bytes() as u64;
        }
    }
    total
}

fn used(db: &Db) -> u64 {
    db.engine().used_memory()
}

#[derive(Debug, Clone)]
enum Op {
    Set(u8, usize, Option<u64>),
    Append(u8, usize),
    SetRange(u8, u16),
    Incr(u8),
    HSet(u8, u8, usize),
    HDel(u8, u8),
    SAdd(u8, u16),
    SRem(u8, u16),
    Expire(u8, u64),
    Persist(u8),
    Del(u8),
    Rename(u8, u8),
    Select(u8),
    Get(u8),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..40u8, 0..100usize, prop::option::of(1..5000u64)).prop_map(|(k, n, t)| Op::Set(k, n, t)),
        (0..40u8, 0..300usize).prop_map(|(k, n)| Op::Append(k, n)),
        (0..40u8, 0..2000u16).prop_map(|(k, n)| Op::SetRange(k, n)),
        (0..40u8).prop_map(Op::Incr),
        (0..40u8, 0..80u8, 0..100usize).prop_map(|(k, f, n)| Op::HSet(k, f, n)),
        (0..40u8, 0..80u8).prop_map(|(k, f)| Op::HDel(k, f)),
        (0..40u8, 0..1000u16).prop_map(|(k, m)| Op::SAdd(k, m)),
        (0..40u8, 0..1000u16).prop_map(|(k, m)| Op::SRem(k, m)),
        (0..40u8, 1..5000u64).prop_map(|(k, t)| Op::Expire(k, t)),
        (0..40u8).prop_map(Op::Persist),
        (0..40u8).prop_map(Op::Del),
        (0..40u8, 0..40u8).prop_map(|(a, b)| Op::Rename(a, b)),
        (0..4u8).prop_map(Op::Select),
        (0..40u8).prop_map(Op::Get),
        (0..3000u64).prop_map(Op::Advance),
    ]
}

fn run(session: &mut crate::db::Session, clock: &ManualClock, op: &Op) {
    // Long keys (over the inline limit) for some numbers, so both layouts are exercised.
    let key = |k: u8| {
        if k % 3 == 0 {
            format!("a-rather-long-key-name-that-lives-on-the-heap:{k}")
        } else {
            format!("k{k}")
        }
    };
    let args: Vec<String> = match op {
        Op::Set(k, n, None) => vec!["SET".into(), key(*k), "v".repeat(*n)],
        Op::Set(k, n, Some(t)) => {
            vec![
                "SET".into(),
                key(*k),
                "v".repeat(*n),
                "PX".into(),
                t.to_string(),
            ]
        }
        Op::Append(k, n) => vec!["APPEND".into(), key(*k), "x".repeat(*n)],
        Op::SetRange(k, n) => vec!["SETRANGE".into(), key(*k), n.to_string(), "y".into()],
        Op::Incr(k) => vec!["INCR".into(), key(*k)],
        Op::HSet(k, f, n) => vec!["HSET".into(), key(*k), format!("f{f}"), "h".repeat(*n)],
        Op::HDel(k, f) => vec!["HDEL".into(), key(*k), format!("f{f}")],
        Op::SAdd(k, m) => vec!["SADD".into(), key(*k), m.to_string(), format!("m{m}")],
        Op::SRem(k, m) => vec!["SREM".into(), key(*k), m.to_string(), format!("m{m}")],
        Op::Expire(k, t) => vec!["PEXPIRE".into(), key(*k), t.to_string()],
        Op::Persist(k) => vec!["PERSIST".into(), key(*k)],
        Op::Del(k) => vec!["DEL".into(), key(*k)],
        Op::Rename(a, b) => vec!["RENAME".into(), key(*a), key(*b)],
        Op::Select(d) => vec!["SELECT".into(), d.to_string()],
        Op::Get(k) => vec!["GET".into(), key(*k)],
        Op::Advance(ms) => {
            clock.advance(Duration::from_millis(*ms));
            return;
        }
    };
    let args: Vec<bytes::Bytes> = args.into_iter().map(bytes::Bytes::from).collect();
    session.execute(&args);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever commands ran, the running total equals a fresh count, and it comes back to
    /// the baseline once every key expired, and after FLUSHALL.
    #[test]
    fn used_memory_is_exact_and_returns_to_baseline(ops in prop::collection::vec(op(), 1..200)) {
        let (db, clock) = db();
        let baseline = used(&db);
        prop_assert_eq!(baseline, db.engine().keyspace.baseline());
        let mut s = db.session();
        for op in &ops {
            run(&mut s, &clock, op);
            prop_assert_eq!(used(&db), recount(&db), "after {:?}", op);
        }
        // Everything gets a TTL, then time passes: the expiry cycle reclaims it all.
        for d in 0..4 {
            let dbd = db.select(d).unwrap();
            for k in dbd.keys("*") {
                dbd.call(["PEXPIRE".as_bytes(), &k, b"10"]);
            }
        }
        clock.advance(Duration::from_millis(20));
        db.run_active_expiry();
        prop_assert_eq!(used(&db), baseline);
        for op in &ops {
            run(&mut s, &clock, op);
        }
        db.call(["FLUSHALL"]);
        prop_assert_eq!(used(&db), baseline);
        prop_assert_eq!(recount(&db), baseline);
    }
}

#[test]
fn flushall_async_and_swapdb_keep_totals() {
    let (db, _clock) = db();
    let base = used(&db);
    for i in 0..2000 {
        db.call(["SET".to_string(), format!("key:{i:012}"), "xxx".into()]);
    }
    let full = used(&db);
    assert_eq!(full, recount(&db));
    db.call(["SWAPDB", "0", "2"]);
    assert_eq!(
        (used(&db), db.engine().keyspace.totals(2).keys()),
        (full, 2000)
    );
    assert_eq!(db.engine().keyspace.totals(0).keys(), 0);
    db.call(["FLUSHALL", "ASYNC"]);
    assert_eq!(used(&db), base);
}

#[test]
fn per_key_cost_of_small_strings() {
    let (db, _clock) = db();
    let base = used(&db);
    let n = 100_000u64;
    for i in 0..n {
        db.call(["SET".to_string(), format!("key:{i:012}"), "xxx".into()]);
    }
    let per_key = (used(&db) - base) / n;
    // A 64-byte entry plus 9 to 19 bytes of buckets.
    assert!((70..=84).contains(&per_key), "{per_key} bytes per key");
    for i in 0..n {
        db.call([
            "PEXPIRE".to_string(),
            format!("key:{i:012}"),
            "100000".into(),
        ]);
    }
    let with_ttl = (used(&db) - base) / n;
    assert!(
        with_ttl - per_key <= 40,
        "a TTL costs {}",
        with_ttl - per_key
    );
}

fn info_field(db: &Db, section: &str, field: &str) -> u64 {
    let Reply::Verbatim(text) = db.call(["INFO", section]) else {
        panic!("INFO reply")
    };
    let text = String::from_utf8_lossy(&text).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn eviction_keeps_memory_within_maxmemory() {
    for policy in [
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let (db, _clock) = db();
        let limit = used(&db) + 200_000;
        db.call(["CONFIG", "SET", "maxmemory-policy", policy]);
        db.call(["CONFIG", "SET", "maxmemory", &limit.to_string()]);
        for i in 0..20_000 {
            let r = db.call([
                "SET".to_string(),
                format!("key:{i:012}"),
                "some value".into(),
                "EX".into(),
                "1000".into(),
            ]);
            assert_eq!(r, Reply::Ok, "{policy}");
            // At most one command's growth over the limit.
            assert!(used(&db) <= limit + 4096, "{policy}: {}", used(&db));
        }
        let evicted = info_field(&db, "stats", "evicted_keys");
        assert!(evicted > 15_000, "{policy}: {evicted}");
        assert_eq!(info_field(&db, "memory", "maxmemory"), limit, "{policy}");
    }
}

#[test]
fn lru_keeps_hot_keys() {
    let (db, clock) = db();
    let limit = used(&db) + 400_000;
    db.call(["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    db.call(["CONFIG", "SET", "maxmemory", &limit.to_string()]);
    for i in 0..1000 {
        db.call(["SET".to_string(), format!("hot:{i}"), "v".into()]);
    }
    for i in 0..20_000 {
        clock.advance(Duration::from_millis(1));
        if i % 10 == 0 {
            for h in 0..1000 {
                if h % 20 == i / 10 % 20 {
                    db.call(["GET".to_string(), format!("hot:{h}")]);
                }
            }
        }
        db.call(["SET".to_string(), format!("cold:{i}"), "v".into()]);
    }
    let hot = (0..1000)
        .filter(|h| db.call(["EXISTS".to_string(), format!("hot:{h}")]) == Reply::Int(1))
        .count();
    assert!(hot > 950, "{hot} of 1000 hot keys kept");
}

#[test]
fn lfu_keeps_frequent_keys_and_object_freq_counts() {
    let (db, _clock) = db();
    db.call(["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    db.call(["SET", "k", "v"]);
    assert_eq!(db.call(["OBJECT", "FREQ", "k"]), Reply::Int(5));
    db.call(["GET", "k"]);
    assert_eq!(db.call(["OBJECT", "FREQ", "k"]), Reply::Int(6));
    let limit = used(&db) + 300_000;
    db.call(["CONFIG", "SET", "maxmemory", &limit.to_string()]);
    for i in 0..500 {
        db.call(["SET".to_string(), format!("freq:{i}"), "v".into()]);
        for _ in 0..50 {
            db.call(["GET".to_string(), format!("freq:{i}")]);
        }
    }
    for i in 0..20_000 {
        db.call(["SET".to_string(), format!("once:{i}"), "v".into()]);
    }
    let kept = (0..500)
        .filter(|h| db.call(["EXISTS".to_string(), format!("freq:{h}")]) == Reply::Int(1))
        .count();
    assert!(kept > 480, "{kept} of 500 frequent keys kept");
}

#[test]
fn volatile_ttl_evicts_nearest_expiry_first() {
    let (db, _clock) = db();
    let limit = used(&db) + 100_000;
    db.call(["CONFIG", "SET", "maxmemory-policy", "volatile-ttl"]);
    db.call(["CONFIG", "SET", "maxmemory", &limit.to_string()]);
    for i in 0..5000u64 {
        db.call([
            "SET".to_string(),
            format!("k:{i}"),
            "value".into(),
            "PX".into(),
            (1_000_000 - i * 100).to_string(),
        ]);
    }
    // The latest keys expire soonest: they are the ones evicted.
    let kept_early = (0..500)
        .filter(|i| db.call(["EXISTS".to_string(), format!("k:{i}")]) == Reply::Int(1))
        .count();
    assert!(kept_early > 450, "{kept_early}");
}

#[test]
fn oom_and_recovery() {
    let (db, _clock) = db();
    db.call(["SET", "a", "1"]);
    db.call(["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(
        db.call(["SET", "b", "1"]),
        Reply::Error(crate::error::Error::Oom)
    );
    assert_eq!(db.call(["GET", "a"]), Reply::bulk("1"));
    assert_eq!(db.call(["DEL", "a"]), Reply::Int(1));
    db.call(["CONFIG", "SET", "maxmemory", "0"]);
    assert_eq!(db.call(["SET", "b", "1"]), Reply::Ok);
}
