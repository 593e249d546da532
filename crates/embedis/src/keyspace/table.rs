//! One logical database's keys within one shard: a hash table of entries plus an index of
//! expiry times, with the bytes they take kept up to date.
//!
//! Why `hashbrown::HashTable<Box<Entry>>`: the entry stores its key once, we hash once per
//! command (the same hash picks the shard), a bucket is one thin pointer (8 bytes + 1 control
//! byte: see `keyspace::entry` for the per-key budget), and bucket indexes give SCAN a cursor
//! and eviction/RANDOMKEY uniform sampling without extra structures.
//!
//! Why a `BTreeSet<(expire_at, hash)>` for TTLs: active expiry pops exactly the keys whose
//! time has come, so no expired key lingers (Redis samples and lets up to ~10% linger), and a
//! TTL costs one 16-byte set element (about 32 bytes with the B-tree's nodes) only on volatile
//! keys.
//!
//! Accounting: [`Table::bytes`] is the sum of the entries' [`Entry::memory_usage`] plus the
//! bucket array and the expiry index, maintained by every method that changes the table. A
//! caller that changes a value through [`Table::get_mut`] must call [`Table::remeasure`]
//! afterwards ([`super::Access`] does it for commands). The table shrinks when deletions left
//! it mostly empty, as Redis's dicts do, so memory comes back once keys are gone.

use std::collections::BTreeSet;

use hashbrown::HashTable;

use super::entry::Entry;
use super::value::Value;
use crate::types::heap::block;

/// Estimated bytes one element of the expiry index costs (16-byte elements in B-tree nodes
/// of 11, about two thirds full, plus the inner nodes).
pub const EXPIRE_INDEX_BYTES: usize = 32;

/// What the keyspace-wide totals include of a table (see `keyspace::Access`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub keys: usize,
    pub volatile: usize,
    pub bytes: usize,
}

/// The keys of one database in one shard.
#[derive(Debug, Default)]
pub struct Table {
    /// The keyspace's key hasher: the expiry index names keys by full hash, which the hash
    /// table does not keep (it probes by 7-bit tags), so telling two keys apart needs it.
    hasher: foldhash::fast::FixedState,
    map: HashTable<Box<Entry>>,
    expires: BTreeSet<(u64, u64)>,
    /// Bumped whenever the table may move entries between buckets (grow, shrink or rehash), so
    /// a SCAN cursor from before restarts this table instead of missing keys.
    epoch: u32,
    /// Sum of the entries' `memory_usage()`.
    entry_bytes: usize,
    /// Sum of the expiry times in `expires` (INFO keyspace's `avg_ttl` without a walk).
    expire_sum: u128,
    /// The counts last added to the keyspace totals.
    pub(crate) published: Counts,
}

/// Where a table scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableCursor {
    /// Next bucket to visit.
    pub bucket: usize,
    /// The table epoch the bucket index belongs to.
    pub epoch: u32,
}

#[inline]
fn addr(e: &Entry) -> usize {
    e as *const Entry as usize
}

impl Table {
    /// An empty table whose keys are hashed with `hasher` (the keyspace's).
    pub fn with_hasher(hasher: foldhash::fast::FixedState) -> Table {
        Table {
            hasher,
            ..Table::default()
        }
    }

    /// Empties the table, returning its old contents (FLUSHALL ASYNC frees them elsewhere).
    pub fn take(&mut self) -> Table {
        let empty = Table {
            epoch: self.epoch.wrapping_add(1),
            published: self.published,
            ..Table::with_hasher(self.hasher.clone())
        };
        std::mem::replace(self, empty)
    }

    #[inline]
    fn full_hash(&self, key: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(key)
    }

    /// Number of keys (including expired ones not yet reclaimed).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the table holds no keys.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of keys with a TTL.
    pub fn volatile_len(&self) -> usize {
        self.expires.len()
    }

    /// Bytes the table holds: entries, buckets and expiry index.
    pub fn bytes(&self) -> usize {
        self.entry_bytes + self.overhead_bytes()
    }

    /// Bytes of the table's own structures (buckets and expiry index).
    pub fn overhead_bytes(&self) -> usize {
        self.bucket_bytes() + self.expires_bytes()
    }

    /// Bytes of the bucket array.
    pub fn bucket_bytes(&self) -> usize {
        block(self.map.allocation_size())
    }

    /// Estimated bytes of the expiry index.
    pub fn expires_bytes(&self) -> usize {
        self.expires.len() * EXPIRE_INDEX_BYTES
    }

    pub(crate) fn counts(&self) -> Counts {
        Counts {
            keys: self.map.len(),
            volatile: self.expires.len(),
            bytes: self.bytes(),
        }
    }

    /// Finds a key.
    pub fn get(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        self.map.find(hash, |e| e.key() == key).map(|b| &**b)
    }

    /// Finds a key for modification. A change to the value's size must be followed by
    /// [`Table::remeasure`] with the entry's `memory_usage()` from before.
    pub fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Entry> {
        self.map
            .find_mut(hash, |e| e.key() == key)
            .map(|b| &mut **b)
    }

    /// Brings the accounting in line after the entry at address `at` (with hash `hash`) was
    /// changed in place; `before` is its `memory_usage()` from before the change.
    pub(crate) fn remeasure_at(&mut self, hash: u64, at: usize, before: usize) {
        if let Some(e) = self.map.find(hash, |e| addr(e) == at) {
            self.entry_bytes = self.entry_bytes - before + e.memory_usage();
        }
    }

    /// Brings the accounting in line after `key`'s value was changed through
    /// [`Table::get_mut`]; `before` is its `memory_usage()` from before the change.
    pub fn remeasure(&mut self, hash: u64, key: &[u8], before: usize) {
        if let Some(e) = self.get(hash, key) {
            self.entry_bytes = self.entry_bytes - before + e.memory_usage();
        }
    }

    /// The address of an entry, to find it again with [`Table::remeasure_at`].
    pub(crate) fn entry_addr(e: &Entry) -> usize {
        addr(e)
    }

    /// Stores a value, replacing any previous value (and its TTL); returns the old value.
    /// `meta` is the entry's LRU/LFU word (see `keyspace::evict`).
    pub fn insert(
        &mut self,
        hash: u64,
        key: &[u8],
        value: Value,
        expire_at: u64,
        meta: u32,
        hasher: &impl Fn(&[u8]) -> u64,
    ) -> Option<Value> {
        if let Some(entry) = self.map.find_mut(hash, |e| e.key() == key) {
            let before = entry.memory_usage();
            let old_value = std::mem::replace(&mut entry.value, value);
            entry.set_meta(meta);
            let after = entry.memory_usage();
            self.entry_bytes = self.entry_bytes - before + after;
            self.set_expire(hash, key, (expire_at != 0).then_some(expire_at));
            return Some(old_value);
        }
        if self.map.len() == self.map.capacity() {
            // The insert below will grow or rehash: bucket positions change.
            self.epoch = self.epoch.wrapping_add(1);
        }
        if expire_at != 0 {
            self.index(expire_at, hash);
        }
        let entry = Box::new(Entry::new(key, value, expire_at, meta));
        self.entry_bytes += entry.memory_usage();
        self.map.insert_unique(hash, entry, |e| hasher(e.key()));
        None
    }

    /// Removes a key, returning its entry.
    pub fn remove(&mut self, hash: u64, key: &[u8]) -> Option<Entry> {
        let found = self.map.find_entry(hash, |e| e.key() == key).ok()?;
        let (entry, _) = found.remove();
        self.entry_bytes -= entry.memory_usage();
        if let Some(at) = entry.expire_at() {
            self.unindex(at, hash);
        }
        Some(*entry)
    }

    fn unindex(&mut self, at: u64, hash: u64) {
        // Two volatile keys may share (time, hash) (a 64-bit hash collision); keep the index
        // entry while another key still needs it. (`iter_hash` yields every entry whose 7-bit
        // tag matches: compare full hashes.)
        let still_needed = self
            .map
            .iter_hash(hash)
            .any(|e| e.expire_raw() == at && self.full_hash(e.key()) == hash);
        if !still_needed && self.expires.remove(&(at, hash)) {
            self.expire_sum -= u128::from(at);
        }
    }

    fn index(&mut self, at: u64, hash: u64) {
        if self.expires.insert((at, hash)) {
            self.expire_sum += u128::from(at);
        }
    }

    /// Sum of the volatile keys' expiry times (with [`Table::volatile_len`]: their average).
    pub fn expire_sum(&self) -> u128 {
        self.expire_sum
    }

    /// Gives memory back once deletions left the bucket array mostly empty (Redis resizes a
    /// dict under 10% full); bumps the epoch since entries change buckets.
    pub fn shrink_if_sparse(&mut self, hasher: &impl Fn(&[u8]) -> u64) {
        let cap = self.map.capacity();
        if self.map.is_empty() {
            if cap > 0 {
                self.map = HashTable::new();
                self.epoch = self.epoch.wrapping_add(1);
            }
        } else if cap > 64 && self.map.len() * 10 < cap {
            self.map.shrink_to(self.map.len() * 2, |e| hasher(e.key()));
            self.epoch = self.epoch.wrapping_add(1);
        }
    }

    /// Sets (`Some`) or clears (`None`) a key's expiry; false if the key does not exist.
    pub fn set_expire(&mut self, hash: u64, key: &[u8], at: Option<u64>) -> bool {
        let at = at.unwrap_or(0);
        let Some(entry) = self.map.find_mut(hash, |e| e.key() == key) else {
            return false;
        };
        let old = entry.expire_raw();
        if old == at {
            return true;
        }
        let before = entry.memory_usage();
        entry.set_expire_raw(at);
        self.entry_bytes = self.entry_bytes - before + entry.memory_usage();
        if old != 0 {
            self.unindex(old, hash);
        }
        if at != 0 {
            self.index(at, hash);
        }
        true
    }

    /// Removes up to `limit` keys whose expiry is before `now_ms` (a key lives through its
    /// expiry millisecond, as in Redis), calling `on_expired` with each; returns how many were
    /// removed.
    pub fn expire_due(
        &mut self,
        now_ms: u64,
        limit: usize,
        mut on_expired: impl FnMut(Entry),
    ) -> usize {
        let mut removed = 0;
        while removed < limit {
            let Some(&(at, hash)) = self.expires.first() else {
                break;
            };
            if at >= now_ms {
                break;
            }
            self.expires.pop_first();
            self.expire_sum -= u128::from(at);
            let hasher = &self.hasher;
            while let Ok(found) = self
                .map
                .find_entry(hash, |e| Self::due_with(hasher, e, at, hash))
            {
                let (entry, _) = found.remove();
                self.entry_bytes -= entry.memory_usage();
                removed += 1;
                on_expired(*entry);
            }
        }
        removed
    }

    /// Whether `e` is the key with expiry `at` and full hash `hash`.
    fn due_with(hasher: &foldhash::fast::FixedState, e: &Entry, at: u64, hash: u64) -> bool {
        use std::hash::BuildHasher;
        e.expire_raw() == at && hasher.hash_one(e.key()) == hash
    }

    /// The earliest expiry time in this table.
    pub fn next_expiry(&self) -> Option<u64> {
        self.expires.first().map(|&(at, _)| at)
    }

    /// A volatile key's `(expire_at, hash)` near a random point of the expiry index (`r` picks
    /// the point): how volatile-* eviction samples keys without a second table.
    pub(crate) fn sample_volatile(&self, r: u64) -> Option<(u64, u64)> {
        let first = self.expires.first()?.0;
        let last = self.expires.last()?.0;
        let span = last - first;
        let point = first + if span == 0 { 0 } else { r % (span + 1) };
        let hash = r.rotate_left(17);
        self.expires
            .range((point, hash)..)
            .next()
            .or_else(|| self.expires.range(..(point, hash)).next_back())
            .copied()
    }

    /// The `(expire_at, hash)` of the key expiring soonest.
    pub(crate) fn first_volatile(&self) -> Option<(u64, u64)> {
        self.expires.first().copied()
    }

    /// The entries with hash `hash` (one, but for 64-bit collisions).
    pub(crate) fn entries_with_hash(&self, hash: u64) -> impl Iterator<Item = &Entry> {
        self.map
            .iter_hash(hash)
            .filter(move |e| self.full_hash(e.key()) == hash)
            .map(|b| &**b)
    }

    /// Visits entries from `cursor` on, bucket by bucket, until at least `count` buckets
    /// holding entries were seen or the table ends. Returns the next cursor, or `None` when
    /// the table is done. A cursor from an older epoch restarts the table: keys may then be
    /// returned twice, which SCAN allows, but none present throughout is missed.
    pub fn scan(
        &self,
        cursor: TableCursor,
        count: usize,
        mut visit: impl FnMut(&Entry),
    ) -> Option<TableCursor> {
        let mut bucket = if cursor.epoch == self.epoch {
            cursor.bucket
        } else {
            0
        };
        let buckets = self.map.num_buckets();
        let mut seen = 0;
        while bucket < buckets {
            if let Some(e) = self.map.get_bucket(bucket) {
                visit(e);
                seen += 1;
            }
            bucket += 1;
            if seen >= count {
                break;
            }
        }
        (bucket < buckets).then_some(TableCursor {
            bucket,
            epoch: self.epoch,
        })
    }

    /// The table's current epoch (for a fresh cursor).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// A uniformly random entry, by probing random buckets; `rand` yields random numbers.
    pub fn random(&self, mut rand: impl FnMut() -> u64) -> Option<&Entry> {
        if self.map.is_empty() {
            return None;
        }
        let buckets = self.map.num_buckets();
        loop {
            let b = (rand() % buckets as u64) as usize;
            if let Some(e) = self.map.get_bucket(b) {
                return Some(e);
            }
        }
    }

    /// All entries.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.map.iter().map(|b| &**b)
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        // (Keeps the hasher.)
        self.map = HashTable::new();
        self.expires = BTreeSet::new();
        self.expire_sum = 0;
        self.entry_bytes = 0;
        self.epoch = self.epoch.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::string::Str;

    fn h(k: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        foldhash::fast::FixedState::with_seed(1).hash_one(k)
    }

    fn sv(s: &[u8]) -> Value {
        Value::Str(Str::from_bytes(s))
    }

    /// The accounted bytes equal a fresh sum over the entries.
    fn check(t: &Table) {
        let sum: usize = t.iter().map(Entry::memory_usage).sum();
        assert_eq!(t.entry_bytes, sum);
    }

    #[test]
    fn accounting_follows_every_change() {
        let mut t = Table::with_hasher(foldhash::fast::FixedState::with_seed(1));
        for i in 0..1000u32 {
            let k = format!("key:{i:012}");
            t.insert(h(k.as_bytes()), k.as_bytes(), sv(b"xxx"), 0, 0, &h);
        }
        check(&t);
        assert_eq!(t.entry_bytes, 1000 * 64);
        for i in 0..500u32 {
            let k = format!("key:{i:012}");
            t.set_expire(h(k.as_bytes()), k.as_bytes(), Some(1000 + i as u64));
        }
        check(&t);
        let k = b"key:000000000007";
        let e = t.get_mut(h(k), k).unwrap();
        let before = e.memory_usage();
        if let Value::Str(s) = &mut e.value {
            s.make_raw().extend_from_slice(&[0; 1000]);
        }
        t.remeasure(h(k), k, before);
        check(&t);
        t.insert(h(k), k, sv(&[b'a'; 100]), 0, 0, &h);
        check(&t);
        assert_eq!(t.expire_due(1500, usize::MAX, |_| {}), 499);
        check(&t);
        for i in 0..1000u32 {
            let k = format!("key:{i:012}");
            t.remove(h(k.as_bytes()), k.as_bytes());
            t.shrink_if_sparse(&h);
        }
        assert_eq!((t.len(), t.bytes()), (0, 0));
    }

    #[test]
    fn volatile_sampling_finds_volatile_keys() {
        let mut t = Table::with_hasher(foldhash::fast::FixedState::with_seed(1));
        assert_eq!(t.sample_volatile(5), None);
        for i in 0..100u64 {
            let k = format!("k{i}");
            t.insert(h(k.as_bytes()), k.as_bytes(), sv(b"v"), 0, 0, &h);
            if i % 10 == 0 {
                t.set_expire(h(k.as_bytes()), k.as_bytes(), Some(1000 + i));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for r in 0..1000u64 {
            let (at, hash) = t
                .sample_volatile(r.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .unwrap();
            assert!(t.entries_with_hash(hash).any(|e| e.expire_raw() == at));
            seen.insert(at);
        }
        assert_eq!(seen.len(), 10);
    }
}
