//! The keyspace: 16 (configurable) logical databases, split into shards by key hash.
//!
//! Locking (see DESIGN.md, "every command is atomic"): a command that touches one key locks
//! the one shard that holds it, so single-key commands on different keys run in parallel.
//! A command that touches several keys, or a whole database, locks every shard in ascending
//! order ([`Keyspace::lock_all`]); since a single-key command never holds more than one shard
//! lock, the ascending order rules out deadlock. MULTI/EXEC and scripts hold the all-shards
//! lock for their whole run, which makes them atomic. A shard holds all logical databases for
//! its slice of the hash space, so SWAPDB and MOVE are plain swaps under that same lock.
//!
//! Shard locks are `parking_lot::Mutex`: critical sections are short, never span an
//! `.await`, and an uncontended lock is one atomic operation.

pub mod table;
pub mod value;

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};

pub use table::{Entry, Table, TableCursor};
pub use value::Value;

use crate::blocking::{Blocking, ShardWaiters};
use crate::config::notify;
use crate::pubsub::{Broker, Event};
use crate::stats::Stats;

/// Number of shards. A power of two; 64 keeps contention low on many cores while the
/// all-shards lock stays cheap.
pub const SHARDS: usize = 64;

/// The shard index is taken from hash bits that the hash table itself does not use for
/// bucket positions (low bits) or tags (top 7 bits).
const SHARD_SHIFT: u32 = 40;

/// One slice of the hash space, for every logical database.
#[derive(Debug)]
pub struct Shard {
    tables: Box<[Table]>,
    /// Clients blocked on keys of this shard (see [`crate::blocking`]).
    pub(crate) waiters: ShardWaiters,
    /// A snapshot waiting for this shard's contents (see [`ShardCapture`]).
    capture: Option<Arc<dyn ShardCapture>>,
}

/// A point-in-time snapshot in progress (BGSAVE, AOF rewrite): it is handed each shard's
/// contents by whoever locks that shard first after the snapshot was requested, before any
/// change, so the snapshot is the keyspace as it was at the request (see `persist`).
pub trait ShardCapture: Send + Sync + std::fmt::Debug {
    /// Records shard `idx` as it is now. Called with the shard locked.
    fn capture(&self, idx: usize, shard: &Shard);
}

/// Hands a locked shard to its pending snapshot, if any: a single branch when none is.
#[inline]
fn settle(idx: usize, shard: &mut Shard) {
    if shard.capture.is_some() {
        if let Some(c) = shard.capture.take() {
            c.capture(idx, shard);
        }
    }
}

impl Shard {
    /// Every logical database's table, read-only (snapshots).
    pub fn tables(&self) -> &[Table] {
        &self.tables
    }

    /// Asks for this shard to be handed to `capture` before its next change (the caller
    /// holds the lock; a capture still pending is settled first).
    pub fn request_capture(&mut self, idx: usize, capture: Arc<dyn ShardCapture>) {
        settle(idx, self);
        self.capture = Some(capture);
    }

    /// The table of logical database `db`.
    pub fn table(&mut self, db: usize) -> &mut Table {
        &mut self.tables[db]
    }

    /// The table of logical database `db`, for reading.
    pub fn table_ref(&self, db: usize) -> &Table {
        &self.tables[db]
    }

    /// Swaps two logical databases' tables. Blocked clients stay with their database index,
    /// as in Redis (call [`Access::signal_waited_keys`] for both databases afterwards).
    pub fn swap(&mut self, a: usize, b: usize) {
        self.tables.swap(a, b);
    }
}

/// All keys of all logical databases.
#[derive(Debug)]
pub struct Keyspace {
    shards: Box<[Mutex<Shard>]>,
    hasher: foldhash::fast::FixedState,
    databases: usize,
    /// Where keyspace events go (pub/sub notifications, in-process listeners).
    broker: Arc<Broker>,
    /// Blocked clients: counters, deadlines (the queues are in the shards).
    pub blocking: Arc<Blocking>,
}

impl Keyspace {
    /// A keyspace with `databases` logical databases; `seed` keys the hash function.
    pub fn new(databases: usize, seed: u64) -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    tables: (0..databases).map(|_| Table::default()).collect(),
                    waiters: ShardWaiters::default(),
                    capture: None,
                })
            })
            .collect();
        Keyspace {
            shards,
            hasher: foldhash::fast::FixedState::with_seed(seed),
            databases,
            broker: Arc::new(Broker::new()),
            blocking: Arc::default(),
        }
    }

    /// The pub/sub broker that receives this keyspace's events.
    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Number of logical databases.
    pub fn databases(&self) -> usize {
        self.databases
    }

    /// The hash of a key: picks the shard and the bucket.
    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(key)
    }

    #[inline]
    fn shard_of(hash: u64) -> usize {
        ((hash >> SHARD_SHIFT) as usize) & (SHARDS - 1)
    }

    /// The index of the shard holding `key` (tests that need keys in one shard, diagnostics).
    pub fn shard_index(&self, key: &[u8]) -> usize {
        Self::shard_of(self.hash(key))
    }

    /// Locks the shard holding `key`: enough for a command that touches only that key.
    ///
    /// Except when a blocked client waits on `key` with an operation that writes other keys
    /// (BLMOVE): serving it, which happens before this lock is released, may need any shard,
    /// so every shard is locked instead. Whether that is the case is read under the shard
    /// lock, where no waiter on `key` can appear or go; the atomic load in front keeps the
    /// check free while nobody blocks.
    pub fn lock_key<'a>(
        &'a self,
        key: &[u8],
        stats: &'a Stats,
        db: usize,
        now_ms: u64,
    ) -> Access<'a> {
        let idx = Self::shard_of(self.hash(key));
        let guard = self.lock_index(idx);
        if self.blocking.pending() > 0 && guard.waiters.needs_all(db, key) {
            drop(guard);
            return self.lock_all(stats, db, now_ms);
        }
        Access {
            ks: self,
            stats,
            guards: Guards::One(idx, guard),
            db,
            now_ms,
            ready: VecDeque::new(),
        }
    }

    /// Runs `f` on the waiter queues of `key`'s shard, locking just that shard (withdrawing
    /// a waiter: the caller holds no shard lock).
    pub(crate) fn with_waiters_of<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(&mut ShardWaiters) -> R,
    ) -> R {
        let idx = Self::shard_of(self.hash(key));
        f(&mut self.shards[idx].lock().waiters)
    }

    fn lock_index(&self, idx: usize) -> MutexGuard<'_, Shard> {
        let mut g = self.shards[idx].lock();
        settle(idx, &mut g);
        g
    }

    /// Locks every shard, in ascending order.
    pub fn lock_all<'a>(&'a self, stats: &'a Stats, db: usize, now_ms: u64) -> Access<'a> {
        Access {
            ks: self,
            stats,
            guards: Guards::All((0..SHARDS).map(|i| self.lock_index(i)).collect()),
            db,
            now_ms,
            ready: VecDeque::new(),
        }
    }

    /// Locks one shard by index (active expiry, statistics, memory scans).
    pub fn lock_shard<'a>(&'a self, idx: usize, stats: &'a Stats, now_ms: u64) -> Access<'a> {
        Access {
            ks: self,
            stats,
            guards: Guards::One(idx, self.lock_index(idx)),
            db: 0,
            now_ms,
            ready: VecDeque::new(),
        }
    }
}

enum Guards<'a> {
    One(usize, MutexGuard<'a, Shard>),
    All(Vec<MutexGuard<'a, Shard>>),
}

/// A locked view of the keyspace: what a command executes against.
///
/// Lookups apply lazy expiry (an expired key is removed when touched and counted in
/// `expired_keys`), read lookups count keyspace hits and misses, and every method works on the
/// selected database [`Access::db`] unless it takes one explicitly.
///
/// Dropping an `Access` serves the clients blocked on keys its writes made ready, before the
/// locks are released (see [`crate::blocking`]).
pub struct Access<'a> {
    ks: &'a Keyspace,
    stats: &'a Stats,
    guards: Guards<'a>,
    /// The logical database commands address.
    pub db: usize,
    now_ms: u64,
    /// Keys with blocked clients that writes under this lock made ready, in order.
    ready: VecDeque<(usize, Bytes)>,
}

impl Drop for Access<'_> {
    fn drop(&mut self) {
        // Not while unwinding: a panic under the lock must not run more commands.
        if !self.ready.is_empty() && !std::thread::panicking() {
            crate::blocking::serve_ready(self);
        }
    }
}

impl std::fmt::Debug for Access<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl<'a> Access<'a> {
    /// The command's time, in Unix milliseconds (fixed for the whole command, as in Redis).
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The LRU clock value for an access now.
    pub(crate) fn lru_now(&self) -> u32 {
        (self.now_ms / 1000) as u32
    }

    /// Whether every shard is locked (multi-key commands, EXEC, scripts).
    pub fn holds_all(&self) -> bool {
        matches!(self.guards, Guards::All(_))
    }

    /// The shard for `hash`. Panics if this view does not hold it: a command that declared a
    /// single-key lock touched another key, a bug caught by the tests of that command.
    fn shard(&mut self, hash: u64) -> &mut Shard {
        self.shard_at(Keyspace::shard_of(hash))
    }

    fn shard_at(&mut self, idx: usize) -> &mut Shard {
        match &mut self.guards {
            Guards::One(held, g) => {
                assert_eq!(*held, idx, "command touched a key outside its locked shard");
                g
            }
            Guards::All(gs) => &mut gs[idx],
        }
    }

    fn table_for(&mut self, db: usize, key: &[u8]) -> (u64, &mut Table) {
        let hash = self.ks.hash(key);
        (hash, self.shard(hash).table(db))
    }

    /// Removes `key` from `db` if its TTL has passed; true if it was expired.
    fn expire_if_due(&mut self, db: usize, key: &[u8]) -> bool {
        let now = self.now_ms;
        let (hash, table) = self.table_for(db, key);
        let due = table.get(hash, key).is_some_and(|e| e.is_expired(now));
        if due {
            table.remove(hash, key);
            self.stats.expired_keys.inc();
            self.notify_in(db, Event::Expired, key);
        }
        due
    }

    /// Looks a key up for reading: counts a hit or a miss, refreshes its access time.
    pub fn get(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let stats = self.stats;
        if self.wants(notify::KEY_MISS) && self.peek(key).is_none() {
            stats.keyspace_misses.inc();
            self.notify(Event::KeyMiss, key);
            return None;
        }
        let found = self.get_in(self.db, key);
        if found.is_some() {
            stats.keyspace_hits.inc();
        } else {
            stats.keyspace_misses.inc();
        }
        found
    }

    /// Looks a key up in `db` for reading without touching statistics (OBJECT, TYPE-like
    /// introspection and writes use this).
    pub fn get_in(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        self.expire_if_due(db, key);
        let lru = self.lru_now();
        let (hash, table) = self.table_for(db, key);
        let e = table.get_mut(hash, key)?;
        e.access = lru;
        Some(e)
    }

    /// Looks several keys up for reading at once, for commands that read all their inputs
    /// together (ZUNION, SINTER...): each key is counted and expired like [`Access::get`],
    /// then all are returned as shared references (a key named twice appears twice).
    pub fn get_many<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> Vec<Option<&Entry>> {
        let mut hashes = Vec::with_capacity(keys.len());
        for k in keys {
            let found = self.get(k.as_ref()).is_some();
            hashes.push(found.then(|| self.ks.hash(k.as_ref())));
        }
        let db = self.db;
        let this: &Self = self;
        keys.iter()
            .zip(hashes)
            .map(|(k, hash)| {
                let hash = hash?;
                this.shard_ref(hash).table_ref(db).get(hash, k.as_ref())
            })
            .collect()
    }

    /// The shard for `hash`, for reading (same rule as [`Access::shard`]).
    fn shard_ref(&self, hash: u64) -> &Shard {
        let idx = Keyspace::shard_of(hash);
        match &self.guards {
            Guards::One(held, g) => {
                assert_eq!(*held, idx, "command touched a key outside its locked shard");
                g
            }
            Guards::All(gs) => &gs[idx],
        }
    }

    /// Looks a key up for writing (no hit/miss statistics).
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.get_in(self.db, key)
    }

    /// Looks a key up without refreshing its access time (OBJECT IDLETIME, TTL-like reads).
    pub fn peek(&mut self, key: &[u8]) -> Option<&Entry> {
        let db = self.db;
        self.expire_if_due(db, key);
        let (hash, table) = self.table_for(db, key);
        table.get(hash, key)
    }

    /// Looks a key up for reading without refreshing its access time, counting a hit or a
    /// miss: Redis's `LOOKUP_NOTOUCH` reads (EXISTS, TYPE, TTL, OBJECT, SCAN's TYPE filter).
    pub fn peek_read(&mut self, key: &[u8]) -> Option<&Entry> {
        let stats = self.stats;
        if self.wants(notify::KEY_MISS) && self.peek(key).is_none() {
            stats.keyspace_misses.inc();
            self.notify(Event::KeyMiss, key);
            return None;
        }
        let found = self.peek(key);
        if found.is_some() {
            stats.keyspace_hits.inc();
        } else {
            stats.keyspace_misses.inc();
        }
        found
    }

    /// [`Access::peek_read`] without a `keymiss` event: Redis's `LOOKUP_NONOTIFY` reads
    /// (OBJECT), which count a miss but do not report it.
    pub fn peek_read_silent(&mut self, key: &[u8]) -> Option<&Entry> {
        let stats = self.stats;
        let found = self.peek(key);
        if found.is_some() {
            stats.keyspace_hits.inc();
        } else {
            stats.keyspace_misses.inc();
        }
        found
    }

    /// Whether the key exists (after lazy expiry).
    pub fn contains(&mut self, key: &[u8]) -> bool {
        self.peek(key).is_some()
    }

    /// Stores `value` under `key`, dropping any TTL (SET without KEEPTTL); returns the old value.
    pub fn set(&mut self, key: &[u8], value: Value) -> Option<Value> {
        self.set_in(self.db, key, value, None)
    }

    /// Stores `value` under `key` in `db` with an optional absolute expiry (Unix ms).
    pub fn set_in(
        &mut self,
        db: usize,
        key: &[u8],
        value: Value,
        expire_at: Option<u64>,
    ) -> Option<Value> {
        self.expire_if_due(db, key);
        let lru = self.lru_now();
        let ks = self.ks;
        let (hash, table) = self.table_for(db, key);
        let old = table.insert(hash, key, value, expire_at.unwrap_or(0), lru, &|k| {
            ks.hash(k)
        });
        if old.is_none() {
            // Redis's `dbAdd`: a key came into existence.
            self.notify_in(db, Event::New, key);
        }
        old
    }

    /// Stores `value` under `key`, keeping the key's current TTL if it has one.
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value) -> Option<Value> {
        let ttl = self.peek(key).and_then(Entry::expire_at);
        self.set_in(self.db, key, value, ttl)
    }

    /// Removes a key from the selected database.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.remove_in(self.db, key)
    }

    /// Removes a key from `db` (an already expired key counts as absent).
    pub fn remove_in(&mut self, db: usize, key: &[u8]) -> Option<Entry> {
        if self.expire_if_due(db, key) {
            return None;
        }
        let (hash, table) = self.table_for(db, key);
        table.remove(hash, key)
    }

    /// Sets or clears the expiry (absolute Unix ms) of a key; false if it does not exist.
    pub fn set_expire(&mut self, key: &[u8], at: Option<u64>) -> bool {
        let db = self.db;
        if self.expire_if_due(db, key) {
            return false;
        }
        let (hash, table) = self.table_for(db, key);
        table.set_expire(hash, key, at)
    }

    /// Every shard's table of `db`, for whole-database commands. Only with [`holds_all`].
    ///
    /// [`holds_all`]: Access::holds_all
    pub fn tables(&mut self, db: usize) -> impl Iterator<Item = &mut Table> {
        let gs = match &mut self.guards {
            Guards::All(gs) => gs.as_mut_slice(),
            Guards::One(_, g) => std::slice::from_mut(g),
        };
        gs.iter_mut().map(move |g| g.table(db))
    }

    /// The table of `db` in shard `idx` (SCAN walks shards in order). Only with [`holds_all`],
    /// or on the shard locked by [`Keyspace::lock_shard`].
    ///
    /// [`holds_all`]: Access::holds_all
    pub fn shard_table(&mut self, idx: usize, db: usize) -> &mut Table {
        match &mut self.guards {
            Guards::All(gs) => gs[idx].table(db),
            Guards::One(held, g) => {
                assert_eq!(*held, idx, "shard not locked");
                g.table(db)
            }
        }
    }

    /// Every locked shard (SWAPDB, FLUSHALL).
    pub fn shards(&mut self) -> impl Iterator<Item = &mut Shard> {
        let gs = match &mut self.guards {
            Guards::All(gs) => gs.as_mut_slice(),
            Guards::One(_, g) => std::slice::from_mut(g),
        };
        gs.iter_mut().map(|g| &mut **g)
    }

    /// Number of keys in `db` across the locked shards.
    pub fn dbsize(&mut self, db: usize) -> usize {
        self.tables(db).map(|t| t.len()).sum()
    }

    /// Statistics counters.
    pub fn stats(&self) -> &Stats {
        self.stats
    }

    /// The keyspace (hashing, number of databases).
    pub fn keyspace(&self) -> &Keyspace {
        self.ks
    }

    /// Records that a write changed `key` (dirty counter, WATCH), and marks it ready if
    /// clients are blocked on it.
    pub fn touched(&mut self, key: &[u8]) {
        self.stats.dirty.inc();
        self.signal_ready(self.db, key);
    }

    /// Marks `key` of `db` ready for the clients blocked on it, if any: they are served when
    /// this `Access` is dropped. `touched` does this for the selected database; commands that
    /// write keys of another database (MOVE, COPY ... DB) call it for that one.
    pub fn signal_ready(&mut self, db: usize, key: &[u8]) {
        if self.ks.blocking.pending() == 0 {
            return;
        }
        let hash = self.ks.hash(key);
        if !self.shard(hash).waiters.has_live(db, key) {
            return;
        }
        if !self
            .ready
            .iter()
            .any(|(d, k)| *d == db && k.as_ref() == key)
        {
            self.ready.push_back((db, Bytes::copy_from_slice(key)));
        }
    }

    /// Marks every key of `db` that clients wait on as ready (after SWAPDB, whose swapped-in
    /// keys may satisfy them). Only with [`Access::holds_all`].
    pub fn signal_waited_keys(&mut self, db: usize) {
        if self.ks.blocking.pending() == 0 {
            return;
        }
        let keys: Vec<Bytes> = self
            .shards()
            .flat_map(|s| s.waiters.waited_keys(db))
            .collect();
        for k in keys {
            if !self.ready.iter().any(|(d, r)| *d == db && *r == k) {
                self.ready.push_back((db, k));
            }
        }
    }

    /// The next key made ready, oldest first.
    pub(crate) fn take_ready(&mut self) -> Option<(usize, Bytes)> {
        self.ready.pop_front()
    }

    /// The waiter queues of the shard holding `key` (which this view must hold).
    pub(crate) fn waiters_of(&mut self, key: &[u8]) -> &mut ShardWaiters {
        let hash = self.ks.hash(key);
        &mut self.shard(hash).waiters
    }

    /// Whether this view holds the shard of `key`.
    pub fn holds_shard_of(&self, key: &[u8]) -> bool {
        match &self.guards {
            Guards::All(_) => true,
            Guards::One(held, _) => *held == Keyspace::shard_of(self.ks.hash(key)),
        }
    }

    /// Whether anyone wants events of `class` (a [`notify`] bit): lets a command skip work
    /// that only an event needs.
    #[inline]
    pub fn wants(&self, class: u32) -> bool {
        self.ks.broker.wanted_classes() & class != 0
    }

    /// Reports a keyspace event on `key` in the selected database, like Redis's
    /// `notifyKeyspaceEvent`: call it after the change, with the event Redis uses for that
    /// command. Costs one atomic load when nobody listens to the event's class.
    #[inline]
    pub fn notify(&mut self, event: Event, key: &[u8]) {
        self.notify_in(self.db, event, key);
    }

    /// [`Access::notify`] for a key in database `db` (MOVE, COPY ... DB).
    #[inline]
    pub fn notify_in(&mut self, db: usize, event: Event, key: &[u8]) {
        if self.wants(event.class()) {
            self.ks.broker.notify(db, event, key, self.now_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::string::Str;

    fn sv(s: &str) -> Value {
        Value::Str(Str::from_bytes(s.as_bytes()))
    }

    #[test]
    fn set_get_expire_and_lazy_removal() {
        let ks = Keyspace::new(16, 7);
        let stats = Stats::default();
        {
            let mut a = ks.lock_key(b"k", &stats, 0, 1000);
            a.set(b"k", sv("v"));
            assert!(a.set_expire(b"k", Some(1500)));
            assert!(a.get(b"k").is_some());
        }
        // Alive through its expiry millisecond, like Redis; gone after it.
        assert!(ks.lock_key(b"k", &stats, 0, 1500).get(b"k").is_some());
        let mut a = ks.lock_key(b"k", &stats, 0, 1501);
        assert!(a.get(b"k").is_none());
        assert_eq!(stats.expired_keys.get(), 1);
        assert_eq!(stats.keyspace_hits.get(), 2);
        assert_eq!(stats.keyspace_misses.get(), 1);
    }

    #[test]
    fn databases_are_separate_and_swap() {
        let ks = Keyspace::new(16, 7);
        let stats = Stats::default();
        let mut a = ks.lock_all(&stats, 0, 0);
        a.set(b"k", sv("zero"));
        a.db = 3;
        assert!(a.get(b"k").is_none());
        for s in a.shards() {
            s.swap(0, 3);
        }
        assert!(a.get(b"k").is_some());
        assert_eq!(a.dbsize(3), 1);
        assert_eq!(a.dbsize(0), 0);
    }

    #[test]
    fn scan_visits_every_key_once_without_changes() {
        let ks = Keyspace::new(1, 1);
        let stats = Stats::default();
        let mut a = ks.lock_all(&stats, 0, 0);
        for i in 0..1000 {
            a.set(format!("k{i}").as_bytes(), sv("v"));
        }
        let mut seen = std::collections::HashSet::new();
        for idx in 0..SHARDS {
            let t = a.shard_table(idx, 0);
            let mut c = Some(TableCursor {
                bucket: 0,
                epoch: t.epoch(),
            });
            while let Some(cur) = c {
                c = t.scan(cur, 7, |e| assert!(seen.insert(e.key().to_vec())));
            }
        }
        assert_eq!(seen.len(), 1000);
    }

    #[test]
    fn expire_due_pops_in_time_order() {
        let ks = Keyspace::new(1, 1);
        let stats = Stats::default();
        let mut a = ks.lock_all(&stats, 0, 0);
        for i in 0..100u64 {
            let k = format!("k{i}");
            a.set(k.as_bytes(), sv("v"));
            a.set_expire(k.as_bytes(), Some(1000 + i));
        }
        let mut n = 0;
        for t in a.tables(0) {
            n += t.expire_due(1050, usize::MAX, |_| {});
        }
        assert_eq!(n, 50);
        assert_eq!(a.dbsize(0), 50);
    }
}
