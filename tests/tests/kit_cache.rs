//! The embedis-kit cache on every backend configuration (see `kit_support::fixture`):
//! embedded with a manual clock, a real redis-server, and an embedis-server. Tests that
//! need time to pass move the clock where it can be moved and sleep briefly on real Redis.

mod kit_support;

use kit_support::fixture::*;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use embedis::Reply;
use embedis_kit::backend::{AnyBackend, Backend, SetOptions};
use embedis_kit::cache::{Cache, CacheBuilder, DefaultCodec, LoadOptions, Raw};

const MIN: Duration = Duration::from_secs(60);
const MS: Duration = Duration::from_millis(1);

/// A cache builder on `f`'s backend, in `f`'s namespace, on the clock the backend's TTLs
/// follow (the embedis-server's manual clock; the engine clock embedded; real time).
fn builder(f: &Fixture) -> CacheBuilder<AnyBackend, DefaultCodec> {
    let b = Cache::builder(f.backend.clone()).namespace(f.ns.clone());
    match &f.clock {
        Clock::Server(db) => b.clock(db.engine().clock.clone()),
        _ => b,
    }
}

fn cache(f: &Fixture) -> Cache<AnyBackend> {
    builder(f).build().unwrap()
}

/// Moves the fixture's time by `d` (advancing a manual clock, else really waiting).
type Step = Arc<dyn Fn(Duration) + Send + Sync>;

fn stepper(f: &Fixture) -> Step {
    match &f.clock {
        Clock::Manual(c) => {
            let c = c.clone();
            Arc::new(move |d| c.advance(d))
        }
        Clock::Server(db) => {
            let db = db.clone();
            Arc::new(move |d| {
                db.engine().clock.advance(d);
            })
        }
        Clock::Real => Arc::new(std::thread::sleep),
    }
}

async fn pass(f: &Fixture, d: Duration) {
    if !f.advance(d) {
        tokio::time::sleep(d).await;
    }
}

/// Polls until `cond` holds (background refreshes), at most ~2 s of real time.
async fn eventually<Fut: std::future::Future<Output = bool>>(mut cond: impl FnMut() -> Fut) {
    for _ in 0..200 {
        if cond().await {
            return;
        }
        tokio::time::sleep(10 * MS).await;
    }
    panic!("condition never held");
}

fn counter() -> Arc<AtomicU32> {
    Arc::new(AtomicU32::new(0))
}

fn s(k: &[u8]) -> String {
    String::from_utf8(k.to_vec()).unwrap()
}

async fn exists(f: &Fixture, key: &[u8]) -> bool {
    matches!(f.raw_cmd(&["EXISTS", &s(key)]).await, Reply::Int(1))
}

type Io<T> = Result<T, std::io::Error>;

mod cases {
    use super::*;

    /// Typed set/get with the JSON and raw codecs, misses, TTL on the backend key, expiry.
    pub async fn set_get_ttl_and_codecs(f: &Fixture) {
        let c = cache(f);
        c.set("n", &42u32, MIN).await.unwrap();
        c.set("list", &vec!["a".to_string(), "b".into()], MIN)
            .await
            .unwrap();
        assert_eq!(c.get::<u32>("n").await.unwrap(), Some(42), "{}", f.name);
        assert_eq!(
            c.get::<Vec<String>>("list").await.unwrap(),
            Some(vec!["a".to_string(), "b".into()])
        );
        assert_eq!(c.get::<u32>("none").await.unwrap(), None);
        let ttl = f.pttl(&s(&c.value_key("n"))).await;
        assert!(ttl > 59_000 && ttl <= 60_000, "{} pttl {ttl}", f.name);
        let st = c.stats();
        assert_eq!((st.hits, st.misses), (2, 1));

        let raw = builder(f)
            .namespace(format!("{}-raw", f.ns))
            .codec(Raw)
            .build()
            .unwrap();
        raw.set("bin", &bytes::Bytes::from_static(b"\x00\xff"), MIN)
            .await
            .unwrap();
        assert_eq!(
            raw.get::<bytes::Bytes>("bin").await.unwrap().as_deref(),
            Some(&b"\x00\xff"[..])
        );
        // Not UTF-8: a String read is a decode error, not a panic.
        assert_eq!(raw.get::<String>("bin").await.unwrap(), None);
        assert_eq!(raw.stats().decode_errors, 1);

        c.set("short", &1u32, 200 * MS).await.unwrap();
        pass(f, 250 * MS).await;
        assert_eq!(c.get::<u32>("short").await.unwrap(), None, "{}", f.name);
        assert!(c.delete("n").await.unwrap());
        assert!(!c.delete("n").await.unwrap());
        assert_eq!(c.get::<u32>("n").await.unwrap(), None);
    }

    /// Garbage under a cache key, or a value of another type, is a miss plus a counter;
    /// get_or_load then replaces it.
    pub async fn malformed_values_are_misses(f: &Fixture) {
        let c = cache(f);
        let vkey = s(&c.value_key("k"));
        f.raw_cmd(&["SET", &vkey, "not an entry"]).await;
        assert_eq!(c.get::<u32>("k").await.unwrap(), None);
        c.set("k", &"text".to_string(), MIN).await.unwrap();
        assert_eq!(c.get::<u32>("k").await.unwrap(), None);
        let st = c.stats();
        assert_eq!((st.decode_errors, st.misses), (2, 2), "{}", f.name);
        let v: u32 = c
            .get_or_load("k", MIN, || async { Io::Ok(5) })
            .await
            .unwrap();
        assert_eq!(v, 5);
        assert_eq!(c.get::<u32>("k").await.unwrap(), Some(5));
    }

    /// 100 concurrent get_or_load calls for one key in one process run the loader once and
    /// all get its value.
    pub async fn single_flight_in_process(f: &Fixture) {
        let c = cache(f);
        let calls = counter();
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let (c, calls) = (c.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                c.get_or_load("hot", MIN, move || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(30 * MS).await;
                    Io::Ok("value".to_string())
                })
                .await
                .unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), "value");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{}", f.name);
        assert_eq!(c.stats().loads, 1);
        eprintln!(
            "{}: 100 concurrent get_or_load, loader calls = {}",
            f.name,
            calls.load(Ordering::SeqCst)
        );
    }

    /// A loader error reaches every waiter and is not cached: the next call loads again.
    pub async fn loader_errors_are_shared_not_cached(f: &Fixture) {
        let c = cache(f);
        let calls = counter();
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (c, calls) = (c.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                c.get_or_load::<u32, _, _, _>("bad", MIN, move || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(20 * MS).await;
                    Err(std::io::Error::other("db down"))
                })
                .await
            }));
        }
        for t in tasks {
            let e = t.await.unwrap().unwrap_err();
            assert!(e.to_string().contains("db down"), "{e}");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{}", f.name);
        assert_eq!(c.stats().load_errors, 1);
        assert!(!exists(f, &c.value_key("bad")).await);
        let v: u32 = c
            .get_or_load("bad", MIN, || async { Io::Ok(1) })
            .await
            .unwrap();
        assert_eq!(v, 1);
    }

    /// Two cache instances (two processes) over one backend: for each key, concurrent
    /// get_or_load calls in both run the loader once (the backend lock).
    pub async fn single_flight_across_instances(f: &Fixture) {
        let (a, b) = (cache(f), cache(f));
        let calls = counter();
        let mut tasks = Vec::new();
        for key in 0..5 {
            for inst in [&a, &b, &a, &b] {
                let (c, calls) = (inst.clone(), calls.clone());
                tasks.push(tokio::spawn(async move {
                    c.get_or_load(format!("k{key}"), MIN, move || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(50 * MS).await;
                        Io::Ok(key)
                    })
                    .await
                    .unwrap()
                }));
            }
        }
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), i / 4);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 5, "{}", f.name);
        assert_eq!(a.stats().loads + b.stats().loads, 5);
        eprintln!(
            "{}: 2 instances x 2 callers x 5 keys, loader calls = {}",
            f.name,
            calls.load(Ordering::SeqCst)
        );
    }

    /// A lock left by a process that died holds the others off until its TTL, then one of
    /// them loads: at most one load per lock TTL.
    pub async fn abandoned_lock_expires(f: &Fixture) {
        let c = builder(f)
            .lock_ttl(Some(300 * MS))
            .lock_wait(Duration::from_secs(5))
            .build()
            .unwrap();
        let lock = format!("{{{}}}:l:k", f.ns);
        assert!(
            f.backend
                .set(lock.as_bytes(), b"dead", SetOptions::if_absent(300 * MS))
                .await
                .unwrap()
        );
        let calls = counter();
        let task = {
            let (c, calls) = (c.clone(), calls.clone());
            tokio::spawn(async move {
                c.get_or_load("k", MIN, move || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Io::Ok(9u32)
                })
                .await
                .unwrap()
            })
        };
        tokio::time::sleep(100 * MS).await;
        assert_eq!(calls.load(Ordering::SeqCst), 0, "{}: waits", f.name);
        // Past the dead holder's lock TTL (on real Redis 100 ms have passed already).
        pass(f, if f.can_step() { 350 * MS } else { 250 * MS }).await;
        assert_eq!(task.await.unwrap(), 9);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // The loader's own lock is released after the load.
        assert!(!exists(f, lock.as_bytes()).await);
    }

    /// Stale-while-revalidate: within the grace period the stale value comes at once and a
    /// background refresh replaces it; past the grace it is a miss.
    pub async fn stale_while_revalidate(f: &Fixture) {
        let c = builder(f)
            .stale_grace(MIN)
            .xfetch_beta(0.0)
            .build()
            .unwrap();
        let ttl = 200 * MS;
        let v: u32 = c
            .get_or_load("k", ttl, || async { Io::Ok(1) })
            .await
            .unwrap();
        assert_eq!(v, 1);
        let pttl = f.pttl(&s(&c.value_key("k"))).await;
        assert!(pttl > 60_000 && pttl <= 60_200, "{} {pttl}", f.name);
        pass(f, 250 * MS).await;
        assert_eq!(
            c.get::<u32>("k").await.unwrap(),
            None,
            "get serves fresh only"
        );
        let v: u32 = c
            .get_or_load("k", ttl, || async { Io::Ok(2) })
            .await
            .unwrap();
        assert_eq!(v, 1, "{}: stale value first", f.name);
        assert_eq!(c.stats().stale, 1);
        eventually(|| async { c.get::<u32>("k").await.unwrap() == Some(2) }).await;
        assert_eq!(c.stats().loads, 2);

        // Without a grace period an expired value is a plain miss.
        let strict = builder(f)
            .namespace(format!("{}-strict", f.ns))
            .build()
            .unwrap();
        strict.set("k", &1u32, ttl).await.unwrap();
        pass(f, 250 * MS).await;
        let v: u32 = strict
            .get_or_load("k", ttl, || async { Io::Ok(3) })
            .await
            .unwrap();
        assert_eq!(v, 3);
    }

    /// XFetch: a value whose load took time is refreshed early in the background; with
    /// beta 0 (or an instant load) never.
    pub async fn xfetch_refreshes_early(f: &Fixture) {
        let step = stepper(f);
        // A huge beta makes the early refresh certain for any load time > 0.
        let c = builder(f).xfetch_beta(1e9).seed(7).build().unwrap();
        let slow = |v: u32, step: Step| {
            move || async move {
                step(20 * MS);
                Io::Ok(v)
            }
        };
        let v: u32 = c
            .get_or_load("k", MIN, slow(1, step.clone()))
            .await
            .unwrap();
        assert_eq!(v, 1);
        let v: u32 = c
            .get_or_load("k", MIN, slow(2, step.clone()))
            .await
            .unwrap();
        assert_eq!(v, 1, "{}: the fresh value is returned", f.name);
        assert_eq!(c.stats().early_refreshes, 1);
        eventually(|| async { c.get::<u32>("k").await.unwrap() == Some(2) }).await;

        let off = builder(f)
            .namespace(format!("{}-off", f.ns))
            .xfetch_beta(0.0)
            .build()
            .unwrap();
        let _: u32 = off
            .get_or_load("k", MIN, slow(1, step.clone()))
            .await
            .unwrap();
        let v: u32 = off.get_or_load("k", MIN, slow(2, step)).await.unwrap();
        assert_eq!(v, 1);
        assert_eq!((off.stats().early_refreshes, off.stats().loads), (0, 1));
    }

    /// Negative caching: a loader's None is remembered for the negative TTL only.
    pub async fn negative_caching(f: &Fixture) {
        let c = builder(f).negative_ttl(200 * MS).build().unwrap();
        let calls = counter();
        let load = |calls: Arc<AtomicU32>| {
            move || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                Io::Ok(None::<u32>)
            }
        };
        assert_eq!(
            c.get_or_load_opt("ghost", MIN, load(calls.clone()))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            c.get_or_load_opt("ghost", MIN, load(calls.clone()))
                .await
                .unwrap(),
            None
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{}", f.name);
        assert_eq!(c.stats().negative_hits, 1);
        let pttl = f.pttl(&s(&c.value_key("ghost"))).await;
        assert!(pttl > 0 && pttl <= 200, "{} {pttl}", f.name);
        pass(f, 250 * MS).await;
        assert_eq!(
            c.get_or_load_opt("ghost", MIN, load(calls.clone()))
                .await
                .unwrap(),
            None
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // Without a negative TTL nothing is stored.
        let plain = builder(f)
            .namespace(format!("{}-plain", f.ns))
            .build()
            .unwrap();
        assert_eq!(
            plain
                .get_or_load_opt("ghost", MIN, load(calls.clone()))
                .await
                .unwrap(),
            None
        );
        assert!(!exists(f, &plain.value_key("ghost")).await);
    }

    /// Tags: invalidation removes exactly the tagged keys; a rewrite moves a key's tags; a
    /// deleted key leaves its tags; tag sets outlive their members' TTL.
    pub async fn tag_invalidation(f: &Fixture) {
        let c = cache(f);
        let ttl = MIN;
        c.set_tagged("a", &1u32, ttl, &["t1", "t2"]).await.unwrap();
        c.set_tagged("b", &2u32, 2 * ttl, &["t2"]).await.unwrap();
        c.set("c", &3u32, ttl).await.unwrap();
        let tag_ttl = f.pttl(&s(&c.tag_key("t2"))).await;
        assert!(
            tag_ttl > 119_000 && tag_ttl <= 120_000,
            "{} {tag_ttl}",
            f.name
        );
        assert_eq!(c.invalidate_tag("t1").await.unwrap(), 1);
        assert_eq!(c.get::<u32>("a").await.unwrap(), None);
        assert_eq!(c.get::<u32>("b").await.unwrap(), Some(2));
        assert_eq!(c.get::<u32>("c").await.unwrap(), Some(3));
        assert!(!exists(f, &c.tag_key("t1")).await);
        // a left t2 with t1's invalidation.
        assert_eq!(c.invalidate_tag("t2").await.unwrap(), 1);
        assert_eq!(c.get::<u32>("b").await.unwrap(), None);

        // Rewriting a key replaces its tags.
        c.set_tagged("a", &1u32, ttl, &["old"]).await.unwrap();
        c.set_tagged("a", &2u32, ttl, &["new"]).await.unwrap();
        assert_eq!(c.invalidate_tag("old").await.unwrap(), 0);
        assert_eq!(c.get::<u32>("a").await.unwrap(), Some(2));
        c.set("a", &3u32, ttl).await.unwrap();
        assert_eq!(c.invalidate_tag("new").await.unwrap(), 0);
        assert_eq!(c.get::<u32>("a").await.unwrap(), Some(3));

        // A deleted key leaves its tag sets.
        c.set_tagged("d", &4u32, ttl, &["t4"]).await.unwrap();
        assert!(c.delete("d").await.unwrap());
        assert!(!exists(f, &c.tag_key("t4")).await);

        // Loaded values are tagged too.
        let v: Option<u32> = c
            .get_or_load_with("e", LoadOptions::ttl(ttl).tags(["t5"]), || async {
                Io::Ok(Some(5))
            })
            .await
            .unwrap();
        assert_eq!(v, Some(5));
        assert_eq!(c.invalidate_tag("t5").await.unwrap(), 1);
        assert_eq!(c.get::<u32>("e").await.unwrap(), None);
    }

    /// Prefix invalidation walks SCAN (many keys, several steps) and treats glob
    /// characters in the prefix literally.
    pub async fn prefix_invalidation(f: &Fixture) {
        let c = cache(f);
        for i in 0..450 {
            c.set(format!("p:{i}"), &i, MIN).await.unwrap();
        }
        c.set_tagged("p:tagged", &1u32, MIN, &["tp"]).await.unwrap();
        c.set("q:1", &1u32, MIN).await.unwrap();
        c.set("a*b:1", &1u32, MIN).await.unwrap();
        c.set("aXb:1", &1u32, MIN).await.unwrap();
        assert_eq!(c.invalidate_prefix("p:").await.unwrap(), 451, "{}", f.name);
        assert_eq!(c.get::<u32>("p:7").await.unwrap(), None);
        assert_eq!(c.get::<u32>("q:1").await.unwrap(), Some(1));
        assert!(!exists(f, &c.tag_key("tp")).await);
        assert_eq!(c.invalidate_prefix("a*b").await.unwrap(), 1);
        assert_eq!(c.get::<u32>("aXb:1").await.unwrap(), Some(1));
    }

    /// The near cache answers repeated reads without the backend, follows this instance's
    /// writes at once and other instances' after its TTL.
    pub async fn near_cache(f: &Fixture) {
        let near = builder(f).near_cache(100, 200 * MS).build().unwrap();
        let other = cache(f);
        near.set("k", &1u32, MIN).await.unwrap();
        assert_eq!(near.get::<u32>("k").await.unwrap(), Some(1));
        assert_eq!(near.get::<u32>("k").await.unwrap(), Some(1));
        assert_eq!(near.stats().near_hits, 2, "{}", f.name);
        near.set("k", &2u32, MIN).await.unwrap();
        assert_eq!(near.get::<u32>("k").await.unwrap(), Some(2));
        other.set("k", &3u32, MIN).await.unwrap();
        assert_eq!(near.get::<u32>("k").await.unwrap(), Some(2), "not tracked");
        pass(f, 250 * MS).await;
        assert_eq!(near.get::<u32>("k").await.unwrap(), Some(3));
        near.set_tagged("t", &1u32, MIN, &["tag"]).await.unwrap();
        near.invalidate_tag("tag").await.unwrap();
        assert_eq!(near.get::<u32>("t").await.unwrap(), None);
        near.delete("k").await.unwrap();
        assert_eq!(near.get::<u32>("k").await.unwrap(), None);
        let v: u32 = near
            .get_or_load("l", MIN, || async { Io::Ok(4) })
            .await
            .unwrap();
        assert_eq!(v, 4);
        assert_eq!(near.get::<u32>("l").await.unwrap(), Some(4));
    }
}

macro_rules! all_cases {
    ($config:ident, $make:expr) => {
        run_on!($config, $make, [
            cases::set_get_ttl_and_codecs => set_get_ttl_and_codecs,
            cases::malformed_values_are_misses => malformed_values_are_misses,
            cases::single_flight_in_process => single_flight_in_process,
            cases::loader_errors_are_shared_not_cached => loader_errors_are_shared_not_cached,
            cases::single_flight_across_instances => single_flight_across_instances,
            cases::abandoned_lock_expires => abandoned_lock_expires,
            cases::stale_while_revalidate => stale_while_revalidate,
            cases::xfetch_refreshes_early => xfetch_refreshes_early,
            cases::negative_caching => negative_caching,
            cases::tag_invalidation => tag_invalidation,
            cases::prefix_invalidation => prefix_invalidation,
            cases::near_cache => near_cache,
        ]);
    };
}

all_cases!(embedded, make_embedded);
all_cases!(real_redis, make_real_redis);
all_cases!(embedis_server, make_embedis_server);

/// Property: after random tagged writes, deletes and tag invalidations over a tiny key and
/// tag space, exactly the keys a model says survive are cached.
mod tag_model {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, u8),
        Delete(u8),
        Invalidate(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u8..4, 0u8..8).prop_map(|(k, tags)| Op::Set(k, tags)),
            1 => (0u8..4).prop_map(Op::Delete),
            2 => (0u8..3).prop_map(Op::Invalidate),
        ]
    }

    fn run(f: &Fixture, rt: &tokio::runtime::Runtime, cases: u32) {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases,
            ..ProptestConfig::default()
        });
        let n = std::sync::atomic::AtomicU32::new(0);
        runner
            .run(&proptest::collection::vec(op(), 1..24), |ops| {
                let ns = format!("{}-{}", f.ns, n.fetch_add(1, Ordering::Relaxed));
                let c = builder(f).namespace(ns).build().unwrap();
                let mut model: BTreeMap<u8, u8> = BTreeMap::new();
                rt.block_on(async {
                    for op in &ops {
                        match *op {
                            Op::Set(k, mask) => {
                                let tags: Vec<String> = (0..3)
                                    .filter(|t| mask & (1 << t) != 0)
                                    .map(|t| format!("t{t}"))
                                    .collect();
                                c.set_tagged(format!("k{k}"), &u32::from(k), MIN, &tags)
                                    .await
                                    .unwrap();
                                model.insert(k, mask);
                            }
                            Op::Delete(k) => {
                                let existed = c.delete(format!("k{k}")).await.unwrap();
                                prop_assert_eq!(existed, model.remove(&k).is_some());
                            }
                            Op::Invalidate(t) => {
                                let n = c.invalidate_tag(format!("t{t}")).await.unwrap();
                                let before = model.len();
                                model.retain(|_, mask| *mask & (1 << t) == 0);
                                prop_assert_eq!(n as usize, before - model.len());
                            }
                        }
                    }
                    for k in 0..4u8 {
                        let got = c.get::<u32>(format!("k{k}")).await.unwrap();
                        prop_assert_eq!(
                            got,
                            model.contains_key(&k).then_some(u32::from(k)),
                            "k{}",
                            k
                        );
                    }
                    Ok(())
                })
            })
            .unwrap();
    }

    #[test]
    fn embedded() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let f = Fixture::embedded("tag_model");
        run(&f, &rt, 256);
    }

    #[test]
    fn real_redis() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let Some(f) = rt.block_on(Fixture::real_redis("tag_model")) else {
            return;
        };
        run(&f, &rt, 48);
    }
}
