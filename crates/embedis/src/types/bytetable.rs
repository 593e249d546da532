//! The hash-table form of hashes and sets (Redis's `hashtable` encoding): entries keyed by
//! bytes in a `hashbrown::HashTable`, with what the commands need on top: SCAN cursors,
//! uniform random sampling, and memory given back after deletions.
//!
//! Why `HashTable<T>` and not `HashMap<K, V>`: an entry can keep its key and value in one
//! allocation (see [`Keyed`]), and bucket indexes give HSCAN/SSCAN a cursor and SPOP/SRANDMEMBER
//! O(1) random picks without extra structures.
//!
//! Cursors: a cursor is a bucket index plus the table's epoch, which changes whenever entries
//! may move between buckets (grow, in-place rehash, shrink). A cursor from an older epoch
//! restarts the scan: elements may then be returned twice, which SCAN allows, but none present
//! for the whole iteration is ever missed (Redis's guarantee).
//!
//! Hashing: keyed foldhash. The key ([`MemberHasher`]) is derived from the engine's seed, so
//! clients cannot aim collisions at a table, and a seeded engine lays tables out (and so picks
//! random members) the same way on every run.

use hashbrown::HashTable;
use rand::RngCore;
use std::hash::BuildHasher;

/// The keyed hasher of member and field tables: foldhash with a seed (`Copy`, unlike
/// foldhash's own state, so conversions can take it by value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberHasher(u64);

impl MemberHasher {
    /// A hasher keyed with `seed`.
    pub const fn with_seed(seed: u64) -> Self {
        MemberHasher(seed)
    }

    /// The hash of `key`.
    #[inline]
    pub fn hash_one(&self, key: &[u8]) -> u64 {
        foldhash::fast::FixedState::with_seed(self.0).hash_one(key)
    }
}

/// An entry of a [`ByteTable`]: something with a byte key.
pub trait Keyed {
    /// The bytes the entry is found by.
    fn key(&self) -> &[u8];
    /// Heap bytes the entry owns.
    fn heap_size(&self) -> usize;
}

impl Keyed for Box<[u8]> {
    fn key(&self) -> &[u8] {
        self
    }
    fn heap_size(&self) -> usize {
        super::heap::block(self.len())
    }
}

/// Bits of a cursor holding the bucket index; the epoch goes above them.
const CURSOR_BUCKET_BITS: u32 = 40;

/// A table of byte-keyed entries.
#[derive(Debug, Clone)]
pub struct ByteTable<T> {
    map: HashTable<T>,
    hasher: MemberHasher,
    /// Sum of the entries' heap sizes.
    entry_bytes: usize,
    epoch: u32,
}

impl<T: Keyed> ByteTable<T> {
    /// An empty table hashing with `hasher`, sized for `capacity` entries.
    pub fn with_capacity(hasher: MemberHasher, capacity: usize) -> Self {
        ByteTable {
            map: HashTable::with_capacity(capacity),
            hasher,
            entry_bytes: 0,
            epoch: 0,
        }
    }

    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The entry with `key`.
    pub fn get(&self, key: &[u8]) -> Option<&T> {
        self.map.find(self.hash(key), |e| e.key() == key)
    }

    /// Inserts `entry`, replacing (and returning) an entry with the same key.
    pub fn upsert(&mut self, entry: T) -> Option<T> {
        let hash = self.hash(entry.key());
        self.entry_bytes += entry.heap_size();
        if let Some(slot) = self.map.find_mut(hash, |e| e.key() == entry.key()) {
            let old = std::mem::replace(slot, entry);
            self.entry_bytes -= old.heap_size();
            return Some(old);
        }
        if self.map.len() == self.map.capacity() {
            // This insert grows or rehashes: entries change buckets.
            self.epoch = self.epoch.wrapping_add(1);
        }
        let hasher = self.hasher;
        self.map
            .insert_unique(hash, entry, move |e| hasher.hash_one(e.key()));
        None
    }

    /// Removes and returns the entry with `key`.
    pub fn remove(&mut self, key: &[u8]) -> Option<T> {
        let hash = self.hash(key);
        let found = self.map.find_entry(hash, |e| e.key() == key).ok()?;
        let (entry, _) = found.remove();
        self.entry_bytes -= entry.heap_size();
        self.shrink_if_sparse();
        Some(entry)
    }

    /// Redis resizes a dict down when it is under 10% full; a table that kept its buckets
    /// would waste memory and make random sampling (probing buckets) slow.
    fn shrink_if_sparse(&mut self) {
        let buckets = self.map.num_buckets();
        if buckets > 64 && self.map.len() * 8 < buckets {
            let hasher = self.hasher;
            self.map
                .shrink_to(self.map.len() * 2, move |e| hasher.hash_one(e.key()));
            self.epoch = self.epoch.wrapping_add(1);
        }
    }

    /// Entries in table order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.map.iter()
    }

    /// A uniformly random bucket holding an entry (the table must not be empty).
    fn random_bucket(&self, rng: &mut impl RngCore) -> usize {
        debug_assert!(!self.map.is_empty());
        let buckets = self.map.num_buckets() as u64;
        loop {
            let b = (rng.next_u64() % buckets) as usize;
            if self.map.get_bucket(b).is_some() {
                return b;
            }
        }
    }

    /// A uniformly random entry, `None` if the table is empty.
    pub fn random(&self, rng: &mut impl RngCore) -> Option<&T> {
        if self.map.is_empty() {
            return None;
        }
        self.map.get_bucket(self.random_bucket(rng))
    }

    /// `count` distinct random entries (at most the table's size), in random order. Picks
    /// random buckets until enough distinct ones were found: meant for `count` well below the
    /// size, as Redis's "CASE 4" of SRANDMEMBER and HRANDFIELD.
    pub fn random_distinct(&self, count: usize, rng: &mut impl RngCore) -> Vec<&T> {
        let count = count.min(self.map.len());
        let mut seen = hashbrown::HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let b = self.random_bucket(rng);
            if seen.insert(b) {
                out.extend(self.map.get_bucket(b));
            }
        }
        out
    }

    /// Removes and returns a uniformly random entry, `None` if the table is empty.
    pub fn pop_random(&mut self, rng: &mut impl RngCore) -> Option<T> {
        if self.map.is_empty() {
            return None;
        }
        let b = self.random_bucket(rng);
        let (entry, _) = self.map.get_bucket_entry(b).ok()?.remove();
        self.entry_bytes -= entry.heap_size();
        self.shrink_if_sparse();
        Some(entry)
    }

    /// Visits entries from `cursor` on until `count` were visited or the table ends; returns
    /// the cursor to continue from, 0 when the scan is complete.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&T)) -> u64 {
        let epoch_mask = (1u64 << (64 - CURSOR_BUCKET_BITS)) - 1;
        let bucket_mask = (1u64 << CURSOR_BUCKET_BITS) - 1;
        let mut bucket = if (cursor >> CURSOR_BUCKET_BITS) == (self.epoch as u64 & epoch_mask) {
            (cursor & bucket_mask) as usize
        } else {
            0
        };
        let buckets = self.map.num_buckets();
        let mut seen = 0;
        while bucket < buckets && seen < count {
            if let Some(e) = self.map.get_bucket(bucket) {
                visit(e);
                seen += 1;
            }
            bucket += 1;
        }
        // Skip trailing empty buckets so that a scan that saw the last entry says it is done.
        while bucket < buckets && self.map.get_bucket(bucket).is_none() {
            bucket += 1;
        }
        if bucket >= buckets {
            0
        } else {
            ((self.epoch as u64 & epoch_mask) << CURSOR_BUCKET_BITS) | bucket as u64
        }
    }

    /// Heap bytes of the table and its entries.
    pub fn heap_size(&self) -> usize {
        super::heap::block(self.map.allocation_size()) + self.entry_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn boxed(s: &str) -> Box<[u8]> {
        s.as_bytes().into()
    }

    fn table(n: usize) -> ByteTable<Box<[u8]>> {
        let mut t = ByteTable::with_capacity(MemberHasher::with_seed(3), 0);
        for i in 0..n {
            assert!(t.upsert(boxed(&format!("m{i}"))).is_none());
        }
        t
    }

    #[test]
    fn upsert_get_remove() {
        let mut t = table(100);
        assert_eq!(t.len(), 100);
        assert!(t.upsert(boxed("m5")).is_some());
        assert_eq!(t.len(), 100);
        assert!(t.get(b"m7").is_some());
        assert!(t.remove(b"m7").is_some());
        assert!(t.get(b"m7").is_none());
        assert!(t.remove(b"m7").is_none());
        for i in 0..100 {
            t.remove(format!("m{i}").as_bytes());
        }
        assert!(t.is_empty());
        assert_eq!(t.entry_bytes, 0);
        assert!(t.map.num_buckets() <= 64, "shrunk after deletions");
    }

    #[test]
    fn scan_sees_everything_once_without_changes() {
        let t = table(1000);
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut calls = 0;
        loop {
            cursor = t.scan(cursor, 10, |e| assert!(seen.insert(e.clone())));
            calls += 1;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
        assert!(calls >= 100);
    }

    #[test]
    fn scan_survives_growth_without_missing() {
        let mut t = table(50);
        let mut seen = std::collections::HashSet::new();
        let mut cursor = t.scan(0, 10, |e| {
            seen.insert(e.clone());
        });
        for i in 50..5000 {
            t.upsert(boxed(&format!("m{i}")));
        }
        while cursor != 0 {
            cursor = t.scan(cursor, 100, |e| {
                seen.insert(e.clone());
            });
        }
        for i in 0..50 {
            assert!(seen.contains(&boxed(&format!("m{i}"))), "m{i} missed");
        }
    }

    #[test]
    fn random_picks_cover_the_table() {
        let mut t = table(20);
        let mut rng = SmallRng::seed_from_u64(1);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            seen.insert(t.random(&mut rng).unwrap().clone());
        }
        assert_eq!(seen.len(), 20);
        let d = t.random_distinct(15, &mut rng);
        let distinct: std::collections::HashSet<_> = d.iter().collect();
        assert_eq!(distinct.len(), 15);
        let mut popped = 0;
        while t.pop_random(&mut rng).is_some() {
            popped += 1;
        }
        assert_eq!(popped, 20);
    }
}
