//! One logical database's keys within one shard: a hash table of entries plus an index of
//! expiry times.
//!
//! Why `hashbrown::HashTable` and not a `HashMap<Key, Value>`: the entry stores its key
//! once, we hash once per command (the same hash picks the shard), and bucket indexes give
//! SCAN a cursor and eviction/RANDOMKEY uniform sampling without extra structures.
//!
//! Why a `BTreeSet<(expire_at, hash)>` for TTLs: active expiry pops exactly the keys whose
//! time has come, so no expired key lingers (Redis samples and lets up to ~10% linger),
//! and a TTL costs one small set entry only on volatile keys.

use std::collections::BTreeSet;

use hashbrown::HashTable;

use super::value::Value;

/// A key with its value and metadata.
#[derive(Debug, Clone)]
pub struct Entry {
    key: Box<[u8]>,
    /// The value.
    pub value: Value,
    /// Absolute expiry in Unix milliseconds; 0 means no TTL. Changed only through [`Table`]
    /// so that the expiry index stays right.
    expire_at: u64,
    /// Last access time in seconds (LRU) for OBJECT IDLETIME and eviction.
    pub(crate) access: u32,
}

impl Entry {
    /// The key.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// Absolute expiry in Unix milliseconds, if the key is volatile.
    pub fn expire_at(&self) -> Option<u64> {
        (self.expire_at != 0).then_some(self.expire_at)
    }

    /// Like Redis (`keyIsExpired`: `now > when`), a key lives through its expiry
    /// millisecond, with PTTL 0, and is gone only once the time is past it.
    pub(crate) fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at < now_ms
    }

    /// Approximate bytes this entry costs (MEMORY USAGE, maxmemory accounting).
    pub fn memory_usage(&self) -> usize {
        std::mem::size_of::<Entry>() + self.key.len() + self.value.heap_size()
    }
}

/// The keys of one database in one shard.
#[derive(Debug, Default)]
pub struct Table {
    map: HashTable<Entry>,
    expires: BTreeSet<(u64, u64)>,
    /// Bumped whenever the table may move entries between buckets (grow or rehash), so a SCAN
    /// cursor from before restarts this table instead of missing keys.
    epoch: u32,
}

/// Where a table scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableCursor {
    /// Next bucket to visit.
    pub bucket: usize,
    /// The table epoch the bucket index belongs to.
    pub epoch: u32,
}

impl Table {
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

    /// Finds a key.
    pub fn get(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        self.map.find(hash, |e| &*e.key == key)
    }

    /// Finds a key for modification.
    pub fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Entry> {
        self.map.find_mut(hash, |e| &*e.key == key)
    }

    /// Stores a value, replacing any previous value (and its TTL); returns the old value.
    pub fn insert(
        &mut self,
        hash: u64,
        key: &[u8],
        value: Value,
        expire_at: u64,
        access: u32,
        hasher: &impl Fn(&[u8]) -> u64,
    ) -> Option<Value> {
        if let Some(entry) = self.map.find_mut(hash, |e| &*e.key == key) {
            let old_value = std::mem::replace(&mut entry.value, value);
            entry.access = access;
            self.set_expire(hash, key, (expire_at != 0).then_some(expire_at));
            return Some(old_value);
        }
        if self.map.len() == self.map.capacity() {
            // The insert below will grow or rehash: bucket positions change.
            self.epoch = self.epoch.wrapping_add(1);
        }
        if expire_at != 0 {
            self.expires.insert((expire_at, hash));
        }
        self.map.insert_unique(
            hash,
            Entry {
                key: key.into(),
                value,
                expire_at,
                access,
            },
            |e| hasher(&e.key),
        );
        None
    }

    /// Removes a key, returning its entry.
    pub fn remove(&mut self, hash: u64, key: &[u8]) -> Option<Entry> {
        let found = self.map.find_entry(hash, |e| &*e.key == key).ok()?;
        let (entry, _) = found.remove();
        if entry.expire_at != 0 {
            self.unindex(entry.expire_at, hash);
        }
        Some(entry)
    }

    fn unindex(&mut self, at: u64, hash: u64) {
        // Two volatile keys may share (time, hash) (a 64-bit hash collision); keep the index
        // entry while another key still needs it.
        let still_needed = self.map.iter_hash(hash).any(|e| e.expire_at == at);
        if !still_needed {
            self.expires.remove(&(at, hash));
        }
    }

    /// Sets (`Some`) or clears (`None`) a key's expiry; false if the key does not exist.
    pub fn set_expire(&mut self, hash: u64, key: &[u8], at: Option<u64>) -> bool {
        let at = at.unwrap_or(0);
        let Some(entry) = self.map.find_mut(hash, |e| &*e.key == key) else {
            return false;
        };
        let old = std::mem::replace(&mut entry.expire_at, at);
        if old == at {
            return true;
        }
        if old != 0 {
            self.unindex(old, hash);
        }
        if at != 0 {
            self.expires.insert((at, hash));
        }
        true
    }

    /// Removes up to `limit` keys whose expiry is before `now_ms`, calling `on_expired`
    /// with each; returns how many were removed.
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
            while let Ok(found) = self.map.find_entry(hash, |e| e.expire_at == at) {
                let (entry, _) = found.remove();
                removed += 1;
                on_expired(entry);
            }
        }
        removed
    }

    /// The earliest expiry time in this table.
    pub fn next_expiry(&self) -> Option<u64> {
        self.expires.first().map(|&(at, _)| at)
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
        self.map.iter()
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.map = HashTable::new();
        self.expires.clear();
        self.epoch = self.epoch.wrapping_add(1);
    }

    /// Bytes the table's own structures take (buckets and expiry index).
    pub fn overhead_bytes(&self) -> usize {
        self.map.allocation_size() + self.expires.len() * 24
    }
}
