//! WATCH bookkeeping: which clients watch which keys, and the flag each watching client checks
//! at EXEC.
//!
//! Redis 7.0 semantics (multi.c): a watched key is "touched" by every write to it (any client,
//! scripts included), by its deletion on expiry, and by FLUSHDB/FLUSHALL/SWAPDB when it exists
//! in a database they empty or swap. A touched key makes the watcher's next EXEC fail. A key
//! that was already logically expired when it was watched is the exception: its deletion (by
//! expiry or a flush) is no logical change, so it only clears that watch's `expired` mark.
//!
//! Cost: every write calls [`Access::touched`], which reads one atomic counter
//! ([`Watches::is_active`]) and stops there unless some client watches some key. Registration
//! happens under the shard lock of the key, so a writer that takes that lock afterwards sees the
//! counter (the mutex orders them); the registry's own mutex is only taken when someone watches.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use hashbrown::HashMap;
use parking_lot::Mutex;

use super::Access;

/// The per-client "a watched key changed" flag (Redis's `CLIENT_DIRTY_CAS`).
#[derive(Debug, Default)]
pub struct WatchFlag {
    dirty: AtomicBool,
}

impl WatchFlag {
    /// Whether a watched key was touched since the flag was last cleared.
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire)
    }

    /// Clears the flag (UNWATCH, EXEC, DISCARD).
    pub fn clear(&self) {
        self.dirty.store(false, Ordering::Release);
    }

    fn mark(&self) {
        self.dirty.store(true, Ordering::Release);
    }
}

#[derive(Debug)]
struct Watcher {
    flag: Arc<WatchFlag>,
    /// The key was logically expired (but still stored) when it was watched.
    expired: bool,
}

/// Every watched key of every database, with its watchers.
#[derive(Debug)]
pub struct Watches {
    /// Number of (client, key) watches registered: zero means `touched` has nothing to do.
    count: AtomicUsize,
    by_db: Mutex<Vec<HashMap<Bytes, Vec<Watcher>>>>,
}

impl Watches {
    /// An empty registry for `databases` logical databases.
    pub fn new(databases: usize) -> Self {
        Watches {
            count: AtomicUsize::new(0),
            by_db: Mutex::new((0..databases).map(|_| HashMap::new()).collect()),
        }
    }

    /// Whether any client watches any key.
    #[inline]
    pub fn is_active(&self) -> bool {
        self.count.load(Ordering::Acquire) != 0
    }

    /// Removes the watches of `flag`'s client on `keys` (UNWATCH, EXEC, DISCARD, disconnect).
    pub fn unwatch(&self, flag: &Arc<WatchFlag>, keys: &[(usize, Bytes)]) {
        if keys.is_empty() {
            return;
        }
        let mut by_db = self.by_db.lock();
        let mut removed = 0;
        for (db, key) in keys {
            let Some(map) = by_db.get_mut(*db) else {
                continue;
            };
            if let Some(list) = map.get_mut(key.as_ref()) {
                let before = list.len();
                list.retain(|w| !Arc::ptr_eq(&w.flag, flag));
                removed += before - list.len();
                if list.is_empty() {
                    map.remove(key.as_ref());
                }
            }
        }
        self.count.fetch_sub(removed, Ordering::AcqRel);
    }

    /// A key of `db` was removed because its time passed (the active expiry cycle, which has
    /// no [`Access`] per key).
    pub fn key_expired(&self, db: usize, key: &[u8]) {
        if self.is_active() {
            self.touch(db, key, || false);
        }
    }

    /// Watched keys of `db` (flush and swap walk them).
    fn keys_of(&self, db: usize) -> Vec<Bytes> {
        let by_db = self.by_db.lock();
        by_db
            .get(db)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Marks the watchers of `key` in `db`. A watcher of an already-expired key whose key is
    /// now gone (`exists` false) only loses its `expired` mark.
    fn touch(&self, db: usize, key: &[u8], exists: impl FnOnce() -> bool) {
        let mut by_db = self.by_db.lock();
        let Some(list) = by_db.get_mut(db).and_then(|m| m.get_mut(key)) else {
            return;
        };
        let mut exists = Some(exists);
        let mut exists_now = None;
        for w in list.iter_mut() {
            if w.expired {
                let gone = !*exists_now.get_or_insert_with(|| exists.take().is_some_and(|f| f()));
                if gone {
                    w.expired = false;
                    continue;
                }
            }
            w.flag.mark();
        }
    }
}

impl Access<'_> {
    /// Watches `key` in the selected database for the client owning `flag`. Must run under the
    /// key's lock so that no write slips between the snapshot and the registration.
    pub fn watch(&mut self, key: &[u8], flag: &Arc<WatchFlag>) {
        let db = self.db;
        let now = self.now_ms;
        let expired = {
            let (hash, table) = self.table_for(db, key);
            table.get(hash, key).is_some_and(|e| e.is_expired(now))
        };
        let mut by_db = self.ks.watches.by_db.lock();
        let Some(map) = by_db.get_mut(db) else {
            return;
        };
        let list = map.entry(Bytes::copy_from_slice(key)).or_default();
        if list.iter().any(|w| Arc::ptr_eq(&w.flag, flag)) {
            return;
        }
        list.push(Watcher {
            flag: flag.clone(),
            expired,
        });
        self.ks.watches.count.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether a key watched in `db` has expired since (Redis's `isWatchedKeyExpired`, checked
    /// by EXEC): it is still stored but its time has passed. Does not remove it.
    pub fn is_stored_but_expired(&mut self, db: usize, key: &[u8]) -> bool {
        let now = self.now_ms;
        let (hash, table) = self.table_for(db, key);
        table.get(hash, key).is_some_and(|e| e.is_expired(now))
    }

    /// Whether `key` is stored in `db`, expired or not (what a flush removes).
    fn is_stored(&mut self, db: usize, key: &[u8]) -> bool {
        let (hash, table) = self.table_for(db, key);
        table.get(hash, key).is_some()
    }

    /// Tells the watchers of `key` in `db` that it changed. Called by [`Access::touched`] and
    /// lazy expiry once someone watches something.
    pub(super) fn touch_watchers(&mut self, db: usize, key: &[u8]) {
        let ks = self.ks;
        ks.watches.touch(db, key, || self.is_stored(db, key));
    }

    /// Records that a write changed `key` in database `db` (COPY writes in another database
    /// than the selected one): the dirty counter and the watchers, like [`Access::touched`].
    pub fn touched_in(&mut self, db: usize, key: &[u8]) {
        self.stats.dirty.inc();
        self.notify_watchers(db, key);
    }

    /// Tells the watchers of `key` in `db` that it changed, without counting another write
    /// (MOVE changes the key in two databases but is one write).
    pub fn notify_watchers(&mut self, db: usize, key: &[u8]) {
        if self.ks.watches.is_active() {
            self.touch_watchers(db, key);
        }
    }

    /// To call before FLUSHDB/FLUSHALL empties `db` (under the all-shards lock): invalidates the
    /// watches on keys stored there, as Redis's `touchAllWatchedKeysInDb(db, NULL)`.
    pub fn before_flush(&mut self, db: usize) {
        if self.ks.watches.is_active() {
            self.touch_all_in_db(db, None);
        }
    }

    /// To call before SWAPDB exchanges `a` and `b` (under the all-shards lock): invalidates the
    /// watches on keys stored in either, as Redis does for both databases.
    pub fn before_swap(&mut self, a: usize, b: usize) {
        if self.ks.watches.is_active() {
            self.touch_all_in_db(a, Some(b));
            self.touch_all_in_db(b, Some(a));
        }
    }

    fn touch_all_in_db(&mut self, emptied: usize, replaced_with: Option<usize>) {
        let ks = self.ks;
        for key in ks.watches.keys_of(emptied) {
            let in_emptied = self.is_stored(emptied, &key);
            let in_replacement = replaced_with.is_some_and(|r| self.is_stored(r, &key));
            if !in_emptied && !in_replacement {
                continue;
            }
            // A key watched while already expired that is now deleted (not replaced by a key
            // of the other database) is no logical change.
            ks.watches.touch(emptied, &key, || in_replacement);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{Keyspace, Value};
    use crate::stats::Stats;
    use crate::types::string::Str;

    fn sv(s: &str) -> Value {
        Value::Str(Str::from_bytes(s.as_bytes()))
    }

    #[test]
    fn inactive_until_watched_and_after_unwatch() {
        let ks = Keyspace::new(2, 1);
        let stats = Stats::default();
        let flag = Arc::new(WatchFlag::default());
        assert!(!ks.watches.is_active());
        ks.lock_key(b"k", &stats, 0, 0).watch(b"k", &flag);
        ks.lock_key(b"k", &stats, 0, 0).watch(b"k", &flag);
        assert!(ks.watches.is_active());
        ks.watches.unwatch(&flag, &[(0, Bytes::from_static(b"k"))]);
        assert!(!ks.watches.is_active());
        ks.lock_key(b"k", &stats, 0, 0).touched(b"k");
        assert!(!flag.is_dirty());
    }

    #[test]
    fn writes_in_the_watched_db_mark_only_that_key() {
        let ks = Keyspace::new(2, 1);
        let stats = Stats::default();
        let flag = Arc::new(WatchFlag::default());
        ks.lock_key(b"k", &stats, 0, 0).watch(b"k", &flag);
        ks.lock_key(b"other", &stats, 0, 0).touched(b"other");
        assert!(!flag.is_dirty());
        ks.lock_key(b"k", &stats, 1, 0).touched(b"k");
        assert!(!flag.is_dirty(), "another database");
        ks.lock_key(b"k", &stats, 0, 0).touched(b"k");
        assert!(flag.is_dirty());
    }

    #[test]
    fn expired_when_watched_then_deleted_is_no_change() {
        let ks = Keyspace::new(1, 1);
        let stats = Stats::default();
        let flag = Arc::new(WatchFlag::default());
        {
            let mut a = ks.lock_key(b"k", &stats, 0, 100);
            a.set(b"k", sv("v"));
            a.set_expire(b"k", Some(150));
        }
        // Logically expired at 200 but still stored.
        ks.lock_key(b"k", &stats, 0, 200).watch(b"k", &flag);
        // Lazy expiry deletes it: no logical change.
        assert!(ks.lock_key(b"k", &stats, 0, 200).get(b"k").is_none());
        assert!(!flag.is_dirty());
        // Now a real write counts.
        let mut a = ks.lock_key(b"k", &stats, 0, 200);
        a.set(b"k", sv("new"));
        a.touched(b"k");
        assert!(flag.is_dirty());
    }

    #[test]
    fn flush_touches_only_stored_keys_and_swap_either_side() {
        let ks = Keyspace::new(3, 1);
        let stats = Stats::default();
        let f_present = Arc::new(WatchFlag::default());
        let f_absent = Arc::new(WatchFlag::default());
        let f_other = Arc::new(WatchFlag::default());
        {
            let mut a = ks.lock_all(&stats, 0, 0);
            a.set(b"present", sv("v"));
            a.watch(b"present", &f_present);
            a.watch(b"absent", &f_absent);
            a.db = 1;
            a.watch(b"only_in_2", &f_other);
            a.db = 2;
            a.set(b"only_in_2", sv("v"));
        }
        let mut a = ks.lock_all(&stats, 0, 0);
        a.before_flush(0);
        assert!(f_present.is_dirty());
        assert!(!f_absent.is_dirty());
        a.before_swap(1, 2);
        assert!(f_other.is_dirty());
    }
}
