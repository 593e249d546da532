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

pub mod entry;
pub mod evict;
#[cfg(test)]
mod memory_tests;
pub mod table;
pub mod value;
pub mod watch;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};

pub use entry::Entry;
pub use table::{Table, TableCursor};
pub use value::Value;

use crate::blocking::{Blocking, ShardWaiters};
use crate::config::notify;
use crate::pubsub::{Broker, Event};
use crate::stats::Stats;
use table::Counts;

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
/// contents by whoever first takes that shard for writing after the snapshot was requested,
/// before any change, so the snapshot is the keyspace as it was at the request (see
/// `persist`). Readers (DBSIZE, KEYS, a GET without lazy expiry) do not capture: only a
/// mutable view of a shard ([`Access`]'s `shard_mut` paths) does, so a command that locks
/// every shard right after a BGSAVE pays only for the shards it changes.
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

/// `shard`, settled first: what every mutable path of [`Access`] hands out.
#[inline]
fn settled(idx: usize, shard: &mut Shard) -> &mut Shard {
    settle(idx, shard);
    shard
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

/// Keyspace-wide totals of one logical database.
#[derive(Debug, Default)]
pub struct DbTotals {
    keys: AtomicI64,
    volatile: AtomicI64,
    bytes: AtomicI64,
}

impl DbTotals {
    /// Number of keys (including expired ones not yet reclaimed).
    pub fn keys(&self) -> u64 {
        self.keys.load(Ordering::Relaxed).max(0) as u64
    }

    /// Number of keys with a TTL.
    pub fn volatile(&self) -> u64 {
        self.volatile.load(Ordering::Relaxed).max(0) as u64
    }

    /// Bytes of this database's tables and entries.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed).max(0) as u64
    }
}

/// All keys of all logical databases.
#[derive(Debug)]
pub struct Keyspace {
    shards: Box<[Mutex<Shard>]>,
    hasher: foldhash::fast::FixedState,
    databases: usize,
    /// WATCHed keys and their watchers (MULTI/EXEC).
    pub watches: std::sync::Arc<watch::Watches>,
    /// Where keyspace events go (pub/sub notifications, in-process listeners).
    broker: Arc<Broker>,
    /// Blocked clients: counters, deadlines (the queues are in the shards).
    pub blocking: Arc<Blocking>,
    /// Bytes of every table and entry (what `used_memory` adds to [`Keyspace::baseline`]).
    used: AtomicI64,
    /// Per-database totals.
    totals: Box<[DbTotals]>,
    /// Bytes of the keyspace's fixed structures.
    baseline: u64,
    /// Whether entries' metadata words count LFU (else LRU): follows `maxmemory-policy`.
    lfu: AtomicBool,
    lfu_log_factor: AtomicU32,
    lfu_decay_time: AtomicU32,
    /// `maxmemory`, `maxmemory-policy` and `maxmemory-samples`, read before every command.
    maxmemory: AtomicU64,
    policy: Mutex<evict::Policy>,
    samples: AtomicU32,
    /// The earliest expiry time set since the active expiry cycle last looked (it sleeps
    /// until then, see `db::spawn_active_expiry`).
    expiry_hint: AtomicU64,
    /// Eviction state (candidate pool, next database): see [`evict`].
    pub(crate) evictor: Mutex<evict::Evictor>,
}

impl Keyspace {
    /// A keyspace with `databases` logical databases; `seed` keys the hash function.
    pub fn new(databases: usize, seed: u64) -> Self {
        let hasher = foldhash::fast::FixedState::with_seed(seed);
        let shards: Box<[Mutex<Shard>]> = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    tables: (0..databases)
                        .map(|_| Table::with_hasher(hasher.clone()))
                        .collect(),
                    waiters: ShardWaiters::default(),
                    capture: None,
                })
            })
            .collect();
        let baseline = (std::mem::size_of::<Keyspace>()
            + crate::types::heap::block(SHARDS * std::mem::size_of::<Mutex<Shard>>())
            + SHARDS * crate::types::heap::block(databases * std::mem::size_of::<Table>()))
            as u64;
        Keyspace {
            shards,
            hasher,
            databases,
            watches: std::sync::Arc::new(watch::Watches::new(databases)),
            broker: Arc::new(Broker::new()),
            blocking: Arc::default(),
            used: AtomicI64::new(0),
            totals: (0..databases).map(|_| DbTotals::default()).collect(),
            baseline,
            lfu: AtomicBool::new(false),
            lfu_log_factor: AtomicU32::new(10),
            lfu_decay_time: AtomicU32::new(1),
            maxmemory: AtomicU64::new(0),
            policy: Mutex::new(evict::Policy::NoEviction),
            samples: AtomicU32::new(5),
            expiry_hint: AtomicU64::new(u64::MAX),
            evictor: Mutex::new(evict::Evictor::default()),
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

    /// Bytes the keyspace holds: its fixed structures plus every table and entry. O(1): the
    /// tables keep their sizes and every locked view publishes changes before it unlocks.
    pub fn used_memory(&self) -> u64 {
        self.baseline + self.used.load(Ordering::Relaxed).max(0) as u64
    }

    /// Bytes of the keyspace's fixed structures (`used_memory` of an empty keyspace).
    pub fn baseline(&self) -> u64 {
        self.baseline
    }

    /// Totals of logical database `db`.
    pub fn totals(&self, db: usize) -> &DbTotals {
        &self.totals[db]
    }

    /// Applies the memory settings: the eviction limits, and what entries' metadata words
    /// track (LFU for the LFU policies, with `lfu-log-factor` and `lfu-decay-time`, else LRU).
    /// Switching between LRU and LFU leaves old words to be reinterpreted until keys are
    /// touched again, as in Redis.
    pub fn configure(&self, limits: evict::Limits, lfu_log_factor: u32, lfu_decay_time: u32) {
        self.maxmemory.store(limits.maxmemory, Ordering::Relaxed);
        *self.policy.lock() = limits.policy;
        self.samples.store(limits.samples as u32, Ordering::Relaxed);
        self.lfu.store(limits.policy.is_lfu(), Ordering::Relaxed);
        self.lfu_log_factor.store(lfu_log_factor, Ordering::Relaxed);
        self.lfu_decay_time.store(lfu_decay_time, Ordering::Relaxed);
    }

    /// `maxmemory` (0: no limit).
    #[inline]
    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Ordering::Relaxed)
    }

    /// The eviction settings in force.
    pub fn limits(&self) -> evict::Limits {
        evict::Limits {
            maxmemory: self.maxmemory(),
            policy: *self.policy.lock(),
            samples: self.samples.load(Ordering::Relaxed) as usize,
        }
    }

    /// Whether metadata words count LFU.
    pub fn lfu(&self) -> bool {
        self.lfu.load(Ordering::Relaxed)
    }

    /// `lfu-decay-time` in minutes.
    pub fn lfu_decay_time(&self) -> u32 {
        self.lfu_decay_time.load(Ordering::Relaxed)
    }

    /// The metadata word of a key created now.
    #[inline]
    fn new_meta(&self, now_ms: u64) -> u32 {
        if self.lfu() {
            evict::lfu_new(now_ms)
        } else {
            evict::lru_clock(now_ms)
        }
    }

    /// The metadata word of a key accessed now (Redis's `updateLFU` or LRU clock).
    #[inline]
    fn touched_meta(&self, meta: u32, now_ms: u64) -> u32 {
        if self.lfu() {
            evict::lfu_touch(
                meta,
                now_ms,
                self.lfu_log_factor.load(Ordering::Relaxed),
                self.lfu_decay_time(),
            )
        } else {
            evict::lru_clock(now_ms)
        }
    }

    fn note_expiry(&self, at: u64) {
        if at < self.expiry_hint.load(Ordering::Relaxed) {
            self.expiry_hint.fetch_min(at, Ordering::Relaxed);
        }
    }

    /// The earliest expiry set since the last [`Keyspace::take_expiry_hint`].
    pub fn expiry_hint(&self) -> u64 {
        self.expiry_hint.load(Ordering::Relaxed)
    }

    /// Resets the hint before an expiry pass (which then lowers it to what it found).
    pub fn take_expiry_hint(&self) {
        self.expiry_hint.store(u64::MAX, Ordering::Relaxed);
    }

    fn add_totals(&self, db: usize, old: Counts, new: Counts) {
        let d = |a: usize, b: usize| b as i64 - a as i64;
        let t = &self.totals[db];
        if old.keys != new.keys {
            t.keys.fetch_add(d(old.keys, new.keys), Ordering::Relaxed);
        }
        if old.volatile != new.volatile {
            t.volatile
                .fetch_add(d(old.volatile, new.volatile), Ordering::Relaxed);
        }
        if old.bytes != new.bytes {
            let bytes = d(old.bytes, new.bytes);
            t.bytes.fetch_add(bytes, Ordering::Relaxed);
            self.used.fetch_add(bytes, Ordering::Relaxed);
        }
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
            pending: None,
            resync: false,
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
        self.shards[idx].lock()
    }

    /// Locks shard `idx` just long enough to hand it to its pending snapshot, if any (the
    /// snapshot's own thread settles the shards no writer took).
    pub fn settle_shard(&self, idx: usize) {
        settle(idx, &mut self.shards[idx].lock());
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
            pending: None,
            resync: false,
        }
    }

    /// Locks one shard by index (active expiry, eviction, statistics, memory scans).
    pub fn lock_shard<'a>(&'a self, idx: usize, stats: &'a Stats, now_ms: u64) -> Access<'a> {
        Access {
            ks: self,
            stats,
            guards: Guards::One(idx, self.lock_index(idx)),
            db: 0,
            now_ms,
            ready: VecDeque::new(),
            pending: None,
            resync: false,
        }
    }
}

enum Guards<'a> {
    One(usize, MutexGuard<'a, Shard>),
    All(Vec<MutexGuard<'a, Shard>>),
}

/// The shard `idx` of `guards`. Panics if the view does not hold it: a command that declared
/// a single-key lock touched another key, a bug caught by the tests of that command.
fn shard_mut<'g>(guards: &'g mut Guards<'_>, idx: usize) -> &'g mut Shard {
    match guards {
        Guards::One(held, g) => {
            assert_eq!(*held, idx, "command touched a key outside its locked shard");
            settled(idx, g)
        }
        Guards::All(gs) => settled(idx, &mut gs[idx]),
    }
}

/// An entry handed out for modification, to measure again once the caller is done with it.
#[derive(Debug, Clone, Copy)]
struct Pending {
    idx: usize,
    db: usize,
    hash: u64,
    addr: usize,
    before: usize,
}

/// A locked view of the keyspace: what a command executes against.
///
/// Lookups apply lazy expiry (an expired key is removed when touched and counted in
/// `expired_keys`), read lookups count keyspace hits and misses and refresh the key's LRU/LFU
/// data, and every method works on the selected database [`Access::db`] unless it takes one
/// explicitly.
///
/// Memory accounting: every change is measured and published to the keyspace totals before
/// the lock is released. An entry handed out by [`Access::get`] or [`Access::get_mut`] may
/// change size in the caller's hands, so it is measured again at the next call on this view or
/// when the view is dropped: O(1) per command, since every value type keeps its size as it
/// changes. Tables handed out directly ([`Access::tables`], [`Access::shards`],
/// [`Access::shard_table`]) are re-summed the same way.
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
    pending: Option<Pending>,
    resync: bool,
}

impl Drop for Access<'_> {
    fn drop(&mut self) {
        // Serve blocked clients first (their pops change sizes too), then publish what every
        // change of this view did to the memory totals. Not while unwinding: a panic under the
        // lock must not run more commands.
        if !self.ready.is_empty() && !std::thread::panicking() {
            crate::blocking::serve_ready(self);
        }
        self.settle_accounts();
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

    /// Whether every shard is locked (multi-key commands, EXEC, scripts).
    pub fn holds_all(&self) -> bool {
        matches!(self.guards, Guards::All(_))
    }

    /// Measures the entry handed out last and re-sums tables handed out directly, publishing
    /// the changes to the keyspace totals.
    fn settle_accounts(&mut self) {
        if let Some(p) = self.pending.take() {
            shard_mut(&mut self.guards, p.idx)
                .table(p.db)
                .remeasure_at(p.hash, p.addr, p.before);
            self.publish(p.idx, p.db);
        }
        if self.resync {
            self.resync = false;
            self.resync_tables();
        }
    }

    /// The shard for `hash`. Panics if this view does not hold it: a command that declared a
    /// single-key lock touched another key, a bug caught by the tests of that command.
    fn shard(&mut self, hash: u64) -> &mut Shard {
        self.shard_at(Keyspace::shard_of(hash))
    }

    fn shard_at(&mut self, idx: usize) -> &mut Shard {
        shard_mut(&mut self.guards, idx)
    }

    /// Adds what changed in table (`idx`, `db`) since it was last published to the totals.
    fn publish(&mut self, idx: usize, db: usize) {
        let t = shard_mut(&mut self.guards, idx).table(db);
        let now = t.counts();
        if now != t.published {
            let old = std::mem::replace(&mut t.published, now);
            self.ks.add_totals(db, old, now);
        }
    }

    fn resync_tables(&mut self) {
        let ks = self.ks;
        match &mut self.guards {
            Guards::One(_, g) => {
                for (db, t) in g.tables.iter_mut().enumerate() {
                    let now = t.counts();
                    if now != t.published {
                        let old = std::mem::replace(&mut t.published, now);
                        ks.add_totals(db, old, now);
                    }
                }
            }
            Guards::All(gs) => {
                // Tables may have been swapped between databases (SWAPDB) or replaced
                // (FLUSHALL ASYNC): with every shard held, sum them afresh.
                let mut sums = vec![Counts::default(); ks.databases];
                for g in gs.iter_mut() {
                    for (db, t) in g.tables.iter_mut().enumerate() {
                        let c = t.counts();
                        t.published = c;
                        sums[db].keys += c.keys;
                        sums[db].volatile += c.volatile;
                        sums[db].bytes += c.bytes;
                    }
                }
                let mut used = 0;
                for (db, c) in sums.iter().enumerate() {
                    let t = &ks.totals[db];
                    t.keys.store(c.keys as i64, Ordering::Relaxed);
                    t.volatile.store(c.volatile as i64, Ordering::Relaxed);
                    t.bytes.store(c.bytes as i64, Ordering::Relaxed);
                    used += c.bytes as i64;
                }
                ks.used.store(used, Ordering::Relaxed);
            }
        }
    }

    /// Where `key` lives: (hash, shard index).
    #[inline]
    fn locate(&self, key: &[u8]) -> (u64, usize) {
        let hash = self.ks.hash(key);
        (hash, Keyspace::shard_of(hash))
    }

    /// The hash of `key` and its table in `db` (read-only uses: WATCH's checks).
    fn table_for(&mut self, db: usize, key: &[u8]) -> (u64, &mut Table) {
        let (hash, idx) = self.locate(key);
        (hash, shard_mut(&mut self.guards, idx).table(db))
    }

    /// Removes `key` from `db` if its TTL has passed; true if it was expired.
    fn expire_if_due(&mut self, db: usize, key: &[u8]) -> bool {
        let (hash, idx) = self.locate(key);
        self.expire_if_due_at(db, key, hash, idx)
    }

    /// [`Access::expire_if_due`] for a key already located: whether it was expired (and
    /// removed now). One probe of the table when the key is alive or missing.
    #[inline]
    fn expire_if_due_at(&mut self, db: usize, key: &[u8], hash: u64, idx: usize) -> bool {
        let now = self.now_ms;
        let table = shard_mut(&mut self.guards, idx).table(db);
        let due = table.get(hash, key).is_some_and(|e| e.is_expired(now));
        if due {
            self.remove_expired(idx, db, hash, key);
            if self.ks.watches.is_active() {
                self.touch_watchers(db, key);
            }
            self.notify_in(db, Event::Expired, key);
        }
        due
    }

    /// Removes a key whose TTL has passed: the one place lazy expiry removes keys (active
    /// expiry goes through [`Access::expire_shard`]).
    fn remove_expired(&mut self, idx: usize, db: usize, hash: u64, key: &[u8]) {
        let ks = self.ks;
        let table = shard_mut(&mut self.guards, idx).table(db);
        if table.remove(hash, key).is_some() {
            table.shrink_if_sparse(&|k| ks.hash(k));
            self.stats.expired_keys.inc();
        }
        self.publish(idx, db);
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

    /// [`Access::get`] for commands that only read the value (GET, STRLEN...): the same
    /// statistics, expiry and LRU/LFU refresh, but the entry is handed out read-only, so it
    /// needs no re-measuring afterwards (one hash-table probe less per command).
    pub fn get_read(&mut self, key: &[u8]) -> Option<&Entry> {
        let stats = self.stats;
        if self.wants(notify::KEY_MISS) && self.peek(key).is_none() {
            stats.keyspace_misses.inc();
            self.notify(Event::KeyMiss, key);
            return None;
        }
        self.settle_accounts();
        let db = self.db;
        let (hash, idx) = self.locate(key);
        if self.expire_if_due_at(db, key, hash, idx) {
            stats.keyspace_misses.inc();
            return None;
        }
        let (ks, now) = (self.ks, self.now_ms);
        let Some(e) = shard_mut(&mut self.guards, idx)
            .table(db)
            .get_mut(hash, key)
        else {
            stats.keyspace_misses.inc();
            return None;
        };
        // The metadata word is not part of the entry's measured size.
        e.set_meta(ks.touched_meta(e.meta(), now));
        stats.keyspace_hits.inc();
        Some(e)
    }

    /// Looks a key up in `db` for reading without touching statistics (OBJECT, TYPE-like
    /// introspection and writes use this). Refreshes the key's LRU/LFU data.
    pub fn get_in(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        self.settle_accounts();
        // Hashed once: the same hash serves the expiry check and the lookup.
        let (hash, idx) = self.locate(key);
        if self.expire_if_due_at(db, key, hash, idx) {
            return None;
        }
        let (ks, now) = (self.ks, self.now_ms);
        let e = shard_mut(&mut self.guards, idx)
            .table(db)
            .get_mut(hash, key)?;
        e.set_meta(ks.touched_meta(e.meta(), now));
        self.pending = Some(Pending {
            idx,
            db,
            hash,
            addr: Table::entry_addr(e),
            before: e.memory_usage(),
        });
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
        self.peek_in(self.db, key)
    }

    /// [`Access::peek`] in database `db`.
    pub fn peek_in(&mut self, db: usize, key: &[u8]) -> Option<&Entry> {
        self.settle_accounts();
        let (hash, idx) = self.locate(key);
        self.expire_if_due_at(db, key, hash, idx);
        shard_mut(&mut self.guards, idx).table(db).get(hash, key)
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
        self.settle_accounts();
        self.expire_if_due(db, key);
        let (hash, idx) = self.locate(key);
        let (ks, now) = (self.ks, self.now_ms);
        let table = shard_mut(&mut self.guards, idx).table(db);
        let meta = match table.get(hash, key) {
            Some(e) => ks.touched_meta(e.meta(), now),
            None => ks.new_meta(now),
        };
        let at = expire_at.unwrap_or(0);
        let old = table.insert(hash, key, value, at, meta, &|k| ks.hash(k));
        if at != 0 {
            ks.note_expiry(at);
        }
        self.publish(idx, db);
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
        self.settle_accounts();
        if self.expire_if_due(db, key) {
            return None;
        }
        let (hash, idx) = self.locate(key);
        let ks = self.ks;
        let table = shard_mut(&mut self.guards, idx).table(db);
        let removed = table.remove(hash, key);
        if removed.is_some() {
            table.shrink_if_sparse(&|k| ks.hash(k));
            self.publish(idx, db);
        }
        removed
    }

    /// Sets or clears the expiry (absolute Unix ms) of a key; false if it does not exist.
    pub fn set_expire(&mut self, key: &[u8], at: Option<u64>) -> bool {
        self.settle_accounts();
        let db = self.db;
        if self.expire_if_due(db, key) {
            return false;
        }
        let (hash, idx) = self.locate(key);
        let found = shard_mut(&mut self.guards, idx)
            .table(db)
            .set_expire(hash, key, at);
        if let Some(at) = at {
            self.ks.note_expiry(at);
        }
        self.publish(idx, db);
        found
    }

    /// Removes the keys of shard `idx` whose TTL has passed, at most `budget`: the active
    /// expiry cycle, one shard at a time (only on a view that holds that shard). Returns how
    /// many were removed and the earliest expiry left in the shard.
    pub fn expire_shard(&mut self, idx: usize, budget: usize) -> (usize, Option<u64>) {
        self.settle_accounts();
        let (ks, now) = (self.ks, self.now_ms);
        let mut removed = 0;
        let mut next: Option<u64> = None;
        for db in 0..ks.databases {
            let table = shard_mut(&mut self.guards, idx).table(db);
            if table.volatile_len() == 0 {
                continue;
            }
            let left = budget - removed;
            if left > 0 {
                // Expired keys leave here: watchers are told, and each is reported as `expired`.
                let watches = &ks.watches;
                let broker = &ks.broker;
                let notify = broker.wanted_classes() & notify::EXPIRED != 0;
                let n = table.expire_due(now, left, |entry| {
                    if watches.is_active() {
                        watches.key_expired(db, entry.key());
                    }
                    if notify {
                        broker.notify(db, Event::Expired, entry.key(), now);
                    }
                });
                if n > 0 {
                    table.shrink_if_sparse(&|k| ks.hash(k));
                    removed += n;
                }
            }
            if let Some(at) = table.next_expiry() {
                next = Some(next.map_or(at, |n: u64| n.min(at)));
            }
            self.publish(idx, db);
        }
        self.stats.expired_keys.add(removed as u64);
        (removed, next)
    }

    /// Removes `key` (with hash `hash`) from `db` for maxmemory: the one place eviction
    /// removes keys, counted in `evicted_keys` and reported as `evicted`. False if the key is
    /// not there (anymore).
    pub fn evict(&mut self, db: usize, key: &[u8]) -> bool {
        self.settle_accounts();
        let (hash, idx) = self.locate(key);
        let ks = self.ks;
        let table = shard_mut(&mut self.guards, idx).table(db);
        if table.remove(hash, key).is_none() {
            return false;
        }
        table.shrink_if_sparse(&|k| ks.hash(k));
        self.publish(idx, db);
        // Like Redis (signalModifiedKey on eviction): a WATCHed key that is evicted fails EXEC.
        if ks.watches.is_active() {
            ks.watches.key_expired(db, key);
        }
        self.stats.evicted_keys.inc();
        self.notify_in(db, Event::Evicted, key);
        true
    }

    /// Every shard's table of `db`, for whole-database commands. Only with [`holds_all`].
    ///
    /// [`holds_all`]: Access::holds_all
    pub fn tables(&mut self, db: usize) -> impl Iterator<Item = &mut Table> {
        self.settle_accounts();
        self.resync = true;
        let (first, gs) = match &mut self.guards {
            Guards::All(gs) => (0, gs.as_mut_slice()),
            Guards::One(idx, g) => (*idx, std::slice::from_mut(g)),
        };
        gs.iter_mut()
            .enumerate()
            .map(move |(i, g)| settled(first + i, g).table(db))
    }

    /// Every locked shard's table of `db`, read-only (no re-summing afterwards).
    pub fn tables_ref(&mut self, db: usize) -> impl Iterator<Item = &Table> {
        self.settle_accounts();
        let gs = match &self.guards {
            Guards::All(gs) => gs.as_slice(),
            Guards::One(_, g) => std::slice::from_ref(g),
        };
        gs.iter().map(move |g| &g.tables[db])
    }

    /// The table of `db` in shard `idx` (SCAN walks shards in order). Only with [`holds_all`],
    /// or on the shard locked by [`Keyspace::lock_shard`].
    ///
    /// [`holds_all`]: Access::holds_all
    pub fn shard_table(&mut self, idx: usize, db: usize) -> &mut Table {
        self.settle_accounts();
        self.resync = true;
        match &mut self.guards {
            Guards::All(gs) => settled(idx, &mut gs[idx]).table(db),
            Guards::One(held, g) => {
                assert_eq!(*held, idx, "shard not locked");
                settled(idx, g).table(db)
            }
        }
    }

    /// The table of `db` in shard `idx`, read-only.
    pub fn shard_table_ref(&mut self, idx: usize, db: usize) -> &Table {
        self.settle_accounts();
        match &self.guards {
            Guards::All(gs) => &gs[idx].tables[db],
            Guards::One(held, g) => {
                assert_eq!(*held, idx, "shard not locked");
                &g.tables[db]
            }
        }
    }

    /// Every locked shard (SWAPDB, FLUSHALL).
    pub fn shards(&mut self) -> impl Iterator<Item = &mut Shard> {
        self.settle_accounts();
        self.resync = true;
        let (first, gs) = match &mut self.guards {
            Guards::All(gs) => (0, gs.as_mut_slice()),
            Guards::One(idx, g) => (*idx, std::slice::from_mut(g)),
        };
        gs.iter_mut()
            .enumerate()
            .map(move |(i, g)| settled(first + i, g))
    }

    /// Number of keys in `db` across the locked shards.
    pub fn dbsize(&mut self, db: usize) -> usize {
        self.tables_ref(db).map(|t| t.len()).sum()
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
        if self.ks.watches.is_active() {
            self.touch_watchers(self.db, key);
        }
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
