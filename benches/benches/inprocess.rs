//! In-process GET and SET over 100k preloaded keys, single thread: the typed API
//! (`db.get`/`db.set`), the command path (`db.call`), and a bare `DashMap<Bytes, Bytes>`
//! with ahash as the physical floor, measured side by side so the ratio is visible.
//!
//! `cargo bench -p embedis-benches` (add `-- --quick` for a fast look).

use std::hint::black_box;

use ahash::RandomState;
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dashmap::DashMap;
use embedis::Db;
use embedis_benches::{KEYS, Scrambled, keys, value};

struct Fixture {
    keys: Vec<Bytes>,
    value: Bytes,
    db: Db,
    map: DashMap<Bytes, Bytes, RandomState>,
}

fn fixture() -> Fixture {
    let keys = keys(KEYS);
    let value = value();
    let db = Db::new();
    let map = DashMap::with_capacity_and_hasher(KEYS, RandomState::new());
    for k in &keys {
        db.set(k, &value);
        map.insert(k.clone(), value.clone());
    }
    Fixture {
        keys,
        value,
        db,
        map,
    }
}

fn get(c: &mut Criterion, f: &Fixture) {
    let mut g = c.benchmark_group("get");
    g.throughput(Throughput::Elements(1));
    g.bench_function("dashmap_ahash", |b| {
        let mut i = Scrambled::new(KEYS);
        b.iter(|| black_box(f.map.get(&f.keys[i.next()]).map(|v| v.value().clone())))
    });
    g.bench_function("typed", |b| {
        let mut i = Scrambled::new(KEYS);
        b.iter(|| black_box(f.db.get(&f.keys[i.next()])))
    });
    g.bench_function("call", |b| {
        let mut i = Scrambled::new(KEYS);
        b.iter(|| black_box(f.db.call([&b"GET"[..], &f.keys[i.next()]])))
    });
    g.finish();
}

fn set(c: &mut Criterion, f: &Fixture) {
    let mut g = c.benchmark_group("set");
    g.throughput(Throughput::Elements(1));
    g.bench_function("dashmap_ahash", |b| {
        let mut i = Scrambled::new(KEYS);
        b.iter(|| black_box(f.map.insert(f.keys[i.next()].clone(), f.value.clone())))
    });
    g.bench_function("typed", |b| {
        let mut i = Scrambled::new(KEYS);
        b.iter(|| f.db.set(&f.keys[i.next()], &f.value))
    });
    g.bench_function("call", |b| {
        let mut i = Scrambled::new(KEYS);
        b.iter(|| black_box(f.db.call([&b"SET"[..], &f.keys[i.next()], &f.value])))
    });
    g.finish();
}

fn inprocess(c: &mut Criterion) {
    let f = fixture();
    get(c, &f);
    set(c, &f);
}

criterion_group!(benches, inprocess);
criterion_main!(benches);
