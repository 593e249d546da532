//! embedis-kit locks and sessions on every backend (embedded with a manual clock, a real
//! redis-server, an embedis-server with a manual clock): lock safety (expiry while held,
//! fencing token order), contention with retry and a deadline, release on drop; the
//! tower-sessions store (round trip, expiry, delete, no resurrection); refresh-token
//! rotation with reuse detection; revoke-all per user.
//!
//! Time moves with [`pass`]: the manual clock where the backend has one, real sleeping on
//! real Redis, so every test runs on every backend.

mod kit_support;

use kit_support::fixture::*;

use std::collections::HashMap;
use std::time::Duration;

use embedis_kit::backend::AnyBackend;
use embedis_kit::lock::{Locks, Retry};
use embedis_kit::session::{BackendStore, RefreshTokens, Rotation};
use tower_sessions_core::SessionStore;
use tower_sessions_core::session::{Id, Record};

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

/// Lets `d` pass on the backend's clock: the manual clock where there is one, else waiting.
async fn pass(f: &Fixture, d: Duration) {
    if !f.advance(d) {
        tokio::time::sleep(d).await;
    }
}

fn locks(f: &Fixture) -> Locks<AnyBackend> {
    Locks::new(f.backend.clone()).with_prefix(format!("{}:lock:", f.ns))
}

fn store(f: &Fixture) -> BackendStore<AnyBackend> {
    BackendStore::new(f.backend.clone())
        .with_prefix(format!("{}:sess:", f.ns))
        .index_by("user_id")
}

fn tokens(f: &Fixture) -> RefreshTokens<AnyBackend> {
    RefreshTokens::new(f.backend.clone()).with_prefix(format!("{}:rt:", f.ns))
}

/// A record for `user` expiring `ttl` from now on the backend's clock.
async fn record(f: &Fixture, user: &str, ttl: Duration) -> Record {
    let now_ns = i128::from(f.now_us().await) * 1000;
    let at =
        time::OffsetDateTime::from_unix_timestamp_nanos(now_ns + ttl.as_nanos() as i128).unwrap();
    Record {
        id: Id::default(),
        data: HashMap::from([
            ("user_id".to_string(), serde_json::json!(user)),
            ("n".to_string(), serde_json::json!(1)),
        ]),
        expiry_date: at,
    }
}

mod locking {
    use super::*;

    /// One holder at a time; release frees it; fencing tokens strictly increase across
    /// holders; a released guard's token no longer releases or extends anything.
    pub async fn exclusive_and_fenced(f: &Fixture) {
        let l = locks(f);
        let a = l.try_acquire("job", 10 * SEC).await.unwrap().expect("free");
        assert!(
            l.try_acquire("job", 10 * SEC).await.unwrap().is_none(),
            "{}",
            f.name
        );
        assert!(a.is_held().await.unwrap());
        let pttl = f.pttl(a.key()).await;
        assert!(pttl > 9_000 && pttl <= 10_000, "{} pttl {pttl}", f.name);
        assert!(a.extend(20 * SEC).await.unwrap());
        assert!(f.pttl(a.key()).await > 10_000);
        let mut last = a.fence();
        assert!(a.release().await.unwrap());
        for _ in 0..5 {
            let g = l
                .try_acquire("job", 10 * SEC)
                .await
                .unwrap()
                .expect("released");
            assert!(g.fence() > last, "{}: {} after {last}", f.name, g.fence());
            last = g.fence();
            assert!(g.release().await.unwrap());
        }
        // Another name has its own lock and its own counter.
        let other = l.try_acquire("other", 10 * SEC).await.unwrap().unwrap();
        assert_eq!(other.fence(), 1);
        other.release().await.unwrap();
    }

    /// A holder whose lock expired (paused past its TTL) cannot release or extend the next
    /// holder's lock, and the next holder's fencing token is greater.
    pub async fn expiry_while_held(f: &Fixture) {
        let l = locks(f);
        let old = l.try_acquire("k", 300 * MS).await.unwrap().unwrap();
        pass(f, 450 * MS).await;
        assert!(!old.is_held().await.unwrap(), "{}", f.name);
        let new = l
            .try_acquire("k", 10 * SEC)
            .await
            .unwrap()
            .expect("expired");
        assert!(new.fence() > old.fence());
        assert!(!old.extend(10 * SEC).await.unwrap(), "{}", f.name);
        assert!(!old.release().await.unwrap(), "{}", f.name);
        assert!(
            new.is_held().await.unwrap(),
            "{}: old holder released it",
            f.name
        );
        assert!(f.pttl(new.key()).await > 9_000);
        assert!(new.release().await.unwrap());
    }

    /// Many tasks contending: each gets the lock once, never two at a time, and the fencing
    /// tokens follow the order in which they got it.
    pub async fn contention_orders_fences(f: &Fixture) {
        let l = locks(f);
        let inside = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (l, inside, order) = (l.clone(), inside.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let retry = Retry::waiting(20 * SEC).backoff(MS, 20 * MS);
                let g = l
                    .acquire("hot", 10 * SEC, retry)
                    .await
                    .unwrap()
                    .expect("in time");
                assert_eq!(inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst), 0);
                order.lock().unwrap().push(g.fence());
                tokio::time::sleep(5 * MS).await;
                inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                assert!(g.release().await.unwrap());
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        assert_eq!(order.len(), 8);
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "{}: {order:?}",
            f.name
        );
    }

    /// Waiting gives up at the deadline while the lock stays held; a waiter gets the lock
    /// soon after the holder releases it, and after it expires.
    pub async fn retry_and_deadline(f: &Fixture) {
        let l = locks(f);
        let held = l.try_acquire("busy", 10 * SEC).await.unwrap().unwrap();
        let start = tokio::time::Instant::now();
        let none = l
            .acquire("busy", 10 * SEC, Retry::waiting(150 * MS))
            .await
            .unwrap();
        assert!(none.is_none());
        let waited = start.elapsed();
        assert!(
            waited >= 150 * MS && waited < 2 * SEC,
            "{}: {waited:?}",
            f.name
        );

        // Released while waiting.
        let waiter = {
            let l = l.clone();
            tokio::spawn(async move { l.acquire("busy", 10 * SEC, Retry::waiting(5 * SEC)).await })
        };
        tokio::time::sleep(50 * MS).await;
        let first = held.fence();
        assert!(held.release().await.unwrap());
        let got = waiter.await.unwrap().unwrap().expect("released");
        assert!(got.fence() > first);
        got.forget(); // held until its TTL

        // Expired while waiting (the holder never releases).
        let l2 = l.clone();
        let short = l2.try_acquire("short", 400 * MS).await.unwrap().unwrap();
        let waiter = tokio::spawn(async move {
            l2.acquire("short", 10 * SEC, Retry::waiting(10 * SEC))
                .await
        });
        tokio::time::sleep(30 * MS).await;
        pass(f, 500 * MS).await;
        let got = tokio::time::timeout(5 * SEC, waiter)
            .await
            .expect("the waiter saw the expiry")
            .unwrap()
            .unwrap()
            .expect("expired");
        assert!(got.fence() > short.fence());
        assert!(!short.release().await.unwrap());
        assert!(got.release().await.unwrap());
    }

    /// A fencing counter that is not an integer is an error, and the lock is not taken
    /// (nothing half done); any value under the lock key counts as held.
    pub async fn foreign_values(f: &Fixture) {
        let l = locks(f);
        f.raw_cmd(&["SET", &l.fence_key("bad"), "x"]).await;
        assert!(l.try_acquire("bad", 10 * SEC).await.is_err(), "{}", f.name);
        assert_eq!(f.pttl(&l.key("bad")).await, -2, "{}: lock written", f.name);
        f.raw_cmd(&["SADD", &l.key("set"), "m"]).await;
        assert!(l.try_acquire("set", 10 * SEC).await.unwrap().is_none());
    }

    /// Dropping a guard releases the lock (at once in-process, shortly after over the
    /// network); `forget` keeps it until its TTL.
    pub async fn guard_drop_releases(f: &Fixture) {
        let l = locks(f);
        let g = l.try_acquire("d", 10 * SEC).await.unwrap().unwrap();
        let key = g.key().to_string();
        drop(g);
        if f.name == "embedded" {
            assert!(
                l.try_acquire("d", 10 * SEC)
                    .await
                    .unwrap()
                    .is_some_and(|g| {
                        g.forget();
                        true
                    })
            );
        } else {
            let again = l
                .acquire("d", 10 * SEC, Retry::waiting(2 * SEC).backoff(MS, 10 * MS))
                .await
                .unwrap();
            again.expect("released after drop").forget();
        }
        // Forgotten: still held, with its TTL.
        assert!(l.try_acquire("d", 10 * SEC).await.unwrap().is_none());
        assert!(f.pttl(&key).await > 9_000);
    }
}

/// The Backend operations themselves, below the lock and session APIs.
mod ops {
    use super::*;
    use embedis_kit::backend::{Backend, LockAttempt, RotateOutcome, SetCondition};

    pub async fn backend_operations(f: &Fixture) {
        let b = &f.backend;
        let now_ms = (f.now_us().await / 1000) as u64;

        // set_until: PXAT on the backend's clock, with NX / XX.
        let k = f.key("s");
        assert!(
            !b.set_until(k.as_bytes(), b"v", now_ms + 60_000, SetCondition::IfPresent)
                .await
                .unwrap()
        );
        assert!(
            b.set_until(k.as_bytes(), b"v", now_ms + 60_000, SetCondition::IfAbsent)
                .await
                .unwrap()
        );
        assert!(
            !b.set_until(k.as_bytes(), b"w", now_ms + 60_000, SetCondition::IfAbsent)
                .await
                .unwrap()
        );
        assert!(
            b.set_until(
                k.as_bytes(),
                b"w",
                now_ms + 120_000,
                SetCondition::IfPresent
            )
            .await
            .unwrap()
        );
        assert_eq!(
            b.get(k.as_bytes()).await.unwrap().as_deref(),
            Some(&b"w"[..])
        );
        let pttl = f.pttl(&k).await;
        assert!(pttl > 110_000 && pttl <= 120_000, "{}: {pttl}", f.name);
        assert!(
            b.set_until(
                k.as_bytes(),
                b"x",
                now_ms.saturating_sub(1000),
                SetCondition::Always
            )
            .await
            .unwrap()
        );
        assert_eq!(
            b.get(k.as_bytes()).await.unwrap(),
            None,
            "{}: past expiry",
            f.name
        );

        // lock_acquire: held reports the TTL left; the counter never expires.
        let (lk, fk) = (f.key("l"), f.key("l:fence"));
        let a = b
            .lock_acquire(lk.as_bytes(), fk.as_bytes(), b"t1", 5 * SEC)
            .await
            .unwrap();
        assert_eq!(a, LockAttempt::Acquired { fence: 1 });
        let LockAttempt::Held { ttl: Some(left) } = b
            .lock_acquire(lk.as_bytes(), fk.as_bytes(), b"t2", 5 * SEC)
            .await
            .unwrap()
        else {
            panic!("{}: held", f.name)
        };
        assert!(left > 4 * SEC && left <= 5 * SEC);
        assert_eq!(f.pttl(&fk).await, -1);
        assert!(b.compare_and_delete(lk.as_bytes(), b"t1").await.unwrap());
        let a = b
            .lock_acquire(lk.as_bytes(), fk.as_bytes(), b"t2", 5 * SEC)
            .await
            .unwrap();
        assert_eq!(a, LockAttempt::Acquired { fence: 2 });

        // Index: members stand for prefix+member; the set lives as long as asked.
        let (idx, pre) = (f.key("idx"), format!("{}:m:", f.ns));
        for m in ["a", "b"] {
            f.raw_cmd(&["SET", &format!("{pre}{m}"), "1"]).await;
            b.index_add(
                idx.as_bytes(),
                pre.as_bytes(),
                m.as_bytes(),
                now_ms + 50_000,
                Duration::ZERO,
            )
            .await
            .unwrap();
        }
        let pttl = f.pttl(&idx).await;
        assert!(pttl > 40_000 && pttl <= 50_000, "{}: {pttl}", f.name);
        b.index_add(idx.as_bytes(), pre.as_bytes(), b"c", 0, 100 * SEC)
            .await
            .unwrap();
        assert!(f.pttl(&idx).await > 90_000);
        // Never shortened.
        b.index_add(
            idx.as_bytes(),
            pre.as_bytes(),
            b"c",
            now_ms + 1000,
            Duration::ZERO,
        )
        .await
        .unwrap();
        assert!(f.pttl(&idx).await > 90_000);
        // "c" has no key: pruned from the listing.
        let mut live = b
            .index_members(idx.as_bytes(), pre.as_bytes())
            .await
            .unwrap();
        live.sort();
        assert_eq!(live, vec![bytes::Bytes::from("a"), bytes::Bytes::from("b")]);
        assert_eq!(
            b.index_purge(idx.as_bytes(), pre.as_bytes()).await.unwrap(),
            2
        );
        assert_eq!(f.pttl(&idx).await, -2);
        assert_eq!(f.pttl(&format!("{pre}a")).await, -2);

        // Refresh families.
        let fam = f.key("fam");
        assert!(
            b.refresh_create(fam.as_bytes(), b"u", b"d1", 60 * SEC, None)
                .await
                .unwrap()
        );
        assert!(
            !b.refresh_create(fam.as_bytes(), b"u", b"zz", 60 * SEC, None)
                .await
                .unwrap()
        );
        assert_eq!(
            b.refresh_rotate(fam.as_bytes(), b"d1", b"d2", 90 * SEC)
                .await
                .unwrap(),
            RotateOutcome::Rotated { user: "u".into() }
        );
        assert!(f.pttl(&fam).await > 80_000);
        assert_eq!(
            b.refresh_rotate(fam.as_bytes(), b"nope", b"d3", 90 * SEC)
                .await
                .unwrap(),
            RotateOutcome::Invalid
        );
        assert_eq!(
            b.refresh_rotate(fam.as_bytes(), b"d1", b"d3", 90 * SEC)
                .await
                .unwrap(),
            RotateOutcome::Reused { user: "u".into() }
        );
        assert_eq!(f.pttl(&fam).await, -2);
    }
}

mod sessions {
    use super::*;

    /// create / load / save / delete; the key expires at the record's expiry date; a save
    /// after a delete does not bring the session back.
    pub async fn store_round_trip(f: &Fixture) {
        let s = store(f);
        let mut r = record(f, "ada", 3600 * SEC).await;
        s.create(&mut r).await.unwrap();
        assert_eq!(s.load(&r.id).await.unwrap(), Some(r.clone()), "{}", f.name);
        let pttl = f.pttl(&s.key(&r.id)).await;
        assert!(pttl > 3_590_000 && pttl <= 3_600_000, "{}: {pttl}", f.name);

        r.data.insert("n".into(), serde_json::json!(2));
        r.expiry_date += time::Duration::hours(1);
        s.save(&r).await.unwrap();
        assert_eq!(s.load(&r.id).await.unwrap(), Some(r.clone()));
        assert!(f.pttl(&s.key(&r.id)).await > 7_190_000);

        s.delete(&r.id).await.unwrap();
        assert_eq!(s.load(&r.id).await.unwrap(), None);
        s.save(&r).await.unwrap();
        assert_eq!(
            s.load(&r.id).await.unwrap(),
            None,
            "{}: resurrected",
            f.name
        );
        assert_eq!(s.load(&Id::default()).await.unwrap(), None);
    }

    /// A session is gone once its expiry date passes on the backend's clock; one created
    /// already expired is never seen.
    pub async fn store_expiry(f: &Fixture) {
        let s = store(f);
        let mut r = record(f, "bob", SEC).await;
        s.create(&mut r).await.unwrap();
        assert!(s.load(&r.id).await.unwrap().is_some());
        pass(f, 1200 * MS).await;
        assert_eq!(s.load(&r.id).await.unwrap(), None, "{}", f.name);

        let mut past = record(f, "bob", SEC).await;
        past.expiry_date -= time::Duration::seconds(10);
        s.create(&mut past).await.unwrap();
        assert_eq!(s.load(&past.id).await.unwrap(), None);
    }

    /// create never overwrites: a colliding id is replaced by a fresh one.
    pub async fn store_create_collision(f: &Fixture) {
        let s = store(f);
        let mut a = record(f, "cy", 3600 * SEC).await;
        s.create(&mut a).await.unwrap();
        let mut b = record(f, "cy", 3600 * SEC).await;
        b.id = a.id;
        b.data.insert("n".into(), serde_json::json!(99));
        s.create(&mut b).await.unwrap();
        assert_ne!(a.id, b.id);
        assert_eq!(s.load(&a.id).await.unwrap(), Some(a));
        assert_eq!(s.load(&b.id).await.unwrap(), Some(b));
    }

    /// A value that is not a record is a decode error, not a panic.
    pub async fn store_rejects_garbage(f: &Fixture) {
        let s = store(f);
        let id = Id::default();
        f.raw_cmd(&["SET", &s.key(&id), "not json"]).await;
        assert!(s.load(&id).await.is_err());
    }

    /// Rotation invalidates the old token; replaying it revokes the family; malformed and
    /// unknown tokens are invalid.
    pub async fn rotation_and_reuse(f: &Fixture) {
        let t = tokens(f);
        let t1 = t.issue("ada").await.unwrap();
        assert_eq!(t1.user, "ada");
        let Rotation::Rotated(t2) = t.rotate(&t1.token).await.unwrap() else {
            panic!("{}: first rotation", f.name)
        };
        assert_eq!(
            (t2.family.as_str(), t2.user.as_str()),
            (t1.family.as_str(), "ada")
        );
        assert_ne!(t2.token, t1.token);
        let Rotation::Rotated(t3) = t.rotate(&t2.token).await.unwrap() else {
            panic!("{}: second rotation", f.name)
        };
        assert_eq!(
            t.rotate(&t1.token).await.unwrap(),
            Rotation::Reused {
                family: t1.family.clone(),
                user: "ada".into()
            },
            "{}",
            f.name
        );
        assert_eq!(
            t.rotate(&t3.token).await.unwrap(),
            Rotation::Invalid,
            "family revoked"
        );
        assert_eq!(t.rotate(&t2.token).await.unwrap(), Rotation::Invalid);

        // Other families are untouched; garbage is invalid.
        let other = t.issue("ada").await.unwrap();
        assert_eq!(t.rotate("nonsense").await.unwrap(), Rotation::Invalid);
        let forged = format!("{}.{}", other.family, "0".repeat(64));
        assert_eq!(t.rotate(&forged).await.unwrap(), Rotation::Invalid);
        assert!(matches!(
            t.rotate(&other.token).await.unwrap(),
            Rotation::Rotated(_)
        ));

        // Two concurrent rotations of one token: exactly one wins, the other is a replay.
        let t4 = t.issue("ada").await.unwrap();
        let (a, b) = tokio::join!(t.rotate(&t4.token), t.rotate(&t4.token));
        let outcomes = [a.unwrap(), b.unwrap()];
        assert_eq!(
            outcomes
                .iter()
                .filter(|o| matches!(o, Rotation::Rotated(_)))
                .count(),
            1,
            "{}: {outcomes:?}",
            f.name
        );
        assert!(
            outcomes
                .iter()
                .any(|o| matches!(o, Rotation::Reused { .. }))
        );
        assert!(t.revoke_family(&t4.family).await.is_ok());
    }

    /// A family remembers its last 128 retired tokens: an older replay is refused without
    /// revoking, a recent one revokes; the family's size stays bounded.
    pub async fn long_families_stay_bounded(f: &Fixture) {
        let t = tokens(f);
        let first = t.issue("long").await.unwrap();
        let mut all = vec![first.clone()];
        for _ in 0..130 {
            let Rotation::Rotated(next) = t.rotate(&all.last().unwrap().token).await.unwrap()
            else {
                panic!("{}", f.name)
            };
            all.push(next);
        }
        let len = match f.raw_cmd(&["HLEN", &t.family_key(&first.family)]).await {
            embedis::Reply::Int(n) => n,
            other => panic!("{other:?}"),
        };
        // user, cur, end, n, and two fields per remembered retired token.
        assert_eq!(len, 4 + 2 * 128, "{}", f.name);
        assert_eq!(
            t.rotate(&all[0].token).await.unwrap(),
            Rotation::Invalid,
            "{}",
            f.name
        );
        assert!(matches!(
            t.rotate(&all[130].token).await.unwrap(),
            Rotation::Rotated(_)
        ));
        assert!(
            matches!(
                t.rotate(&all[5].token).await.unwrap(),
                Rotation::Reused { .. }
            ),
            "{}",
            f.name
        );
    }

    /// Families expire when idle for their TTL and cannot be rotated past their maximum life.
    pub async fn refresh_expiry(f: &Fixture) {
        let t = tokens(f).ttl(300 * MS).max_life(None);
        let a = t.issue("u").await.unwrap();
        pass(f, 450 * MS).await;
        assert_eq!(
            t.rotate(&a.token).await.unwrap(),
            Rotation::Invalid,
            "{}",
            f.name
        );

        let t = tokens(f).ttl(10 * SEC).max_life(Some(SEC));
        let a = t.issue("u").await.unwrap();
        assert!(f.pttl(&t.family_key(&a.family)).await <= 1000);
        let Rotation::Rotated(b) = t.rotate(&a.token).await.unwrap() else {
            panic!("{}", f.name)
        };
        pass(f, 1100 * MS).await;
        assert_eq!(
            t.rotate(&b.token).await.unwrap(),
            Rotation::Invalid,
            "{}",
            f.name
        );
    }

    /// Revoke-all for a user takes every session and every family of that user and nothing
    /// else, through the per-user index (never KEYS); deleted sessions drop out of it.
    pub async fn revoke_all(f: &Fixture) {
        let s = store(f);
        let t = tokens(f);
        let mut mine = Vec::new();
        for _ in 0..4 {
            let mut r = record(f, "eve", 3600 * SEC).await;
            s.create(&mut r).await.unwrap();
            mine.push(r);
        }
        let mut theirs = record(f, "mal", 3600 * SEC).await;
        s.create(&mut theirs).await.unwrap();
        let mut anonymous = record(f, "x", 3600 * SEC).await;
        anonymous.data.remove("user_id");
        s.create(&mut anonymous).await.unwrap();

        s.delete(&mine[3].id).await.unwrap();
        let mut listed = s.user_sessions("eve").await.unwrap();
        listed.sort_by_key(|id| id.to_string());
        let mut expected: Vec<Id> = mine[..3].iter().map(|r| r.id).collect();
        expected.sort_by_key(|id| id.to_string());
        assert_eq!(listed, expected, "{}", f.name);
        let index_ttl = f.pttl(&s.index_key("eve")).await;
        assert!(index_ttl > 3_590_000, "{}: index ttl {index_ttl}", f.name);

        let fam: Vec<_> = [t.issue("eve").await.unwrap(), t.issue("eve").await.unwrap()].into();
        let kept = t.issue("mal").await.unwrap();
        assert_eq!(t.families("eve").await.unwrap().len(), 2);

        assert_eq!(s.revoke_user("eve").await.unwrap(), 3, "{}", f.name);
        assert_eq!(t.revoke_user("eve").await.unwrap(), 2, "{}", f.name);
        for r in &mine {
            assert_eq!(s.load(&r.id).await.unwrap(), None);
            // An in-flight request saving a revoked session does not bring it back.
            s.save(r).await.unwrap();
            assert_eq!(s.load(&r.id).await.unwrap(), None);
        }
        for x in &fam {
            assert_eq!(t.rotate(&x.token).await.unwrap(), Rotation::Invalid);
        }
        assert!(s.user_sessions("eve").await.unwrap().is_empty());
        assert!(t.families("eve").await.unwrap().is_empty());
        assert_eq!(s.revoke_user("eve").await.unwrap(), 0);

        assert_eq!(s.load(&theirs.id).await.unwrap(), Some(theirs));
        assert!(s.load(&anonymous.id).await.unwrap().is_some());
        assert!(matches!(
            t.rotate(&kept.token).await.unwrap(),
            Rotation::Rotated(_)
        ));
    }
}

macro_rules! all_tests {
    ($config:ident, $make:expr) => {
        run_on!($config, $make, [
            locking::exclusive_and_fenced => exclusive_and_fenced,
            locking::expiry_while_held => expiry_while_held,
            locking::contention_orders_fences => contention_orders_fences,
            locking::retry_and_deadline => retry_and_deadline,
            locking::guard_drop_releases => guard_drop_releases,
            locking::foreign_values => foreign_values,
            ops::backend_operations => backend_operations,
            sessions::store_round_trip => store_round_trip,
            sessions::store_expiry => store_expiry,
            sessions::store_create_collision => store_create_collision,
            sessions::store_rejects_garbage => store_rejects_garbage,
            sessions::rotation_and_reuse => rotation_and_reuse,
            sessions::refresh_expiry => refresh_expiry,
            sessions::long_families_stay_bounded => long_families_stay_bounded,
            sessions::revoke_all => revoke_all,
        ]);
    };
}

all_tests!(embedded, make_embedded);
all_tests!(real_redis, make_real_redis);
all_tests!(embedis_server, make_embedis_server);
