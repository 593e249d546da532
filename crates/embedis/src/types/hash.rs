//! The hash type: field -> value, in Redis's two encodings.
//!
//! - `listpack` ([`Hash::Compact`]): fields and values alternate in one [`Packed`] buffer, in
//!   insertion order (HGETALL, HKEYS and HSCAN of a small hash come back in that order, as in
//!   Redis). Used while the hash has at most `hash-max-listpack-entries` fields and every
//!   field and value is at most `hash-max-listpack-value` bytes ([`HashLimits`]).
//! - `hashtable` ([`Hash::Table`]): a [`ByteTable`] of entries that keep field and value in a
//!   single allocation. A hash never goes back to the compact form (nor does Redis's).
//!
//! The commands pass the configured thresholds ([`HashLimits`], from CONFIG); other callers
//! (loading a dump) get Redis 7.0's built-in defaults, 512 and 64.

use rand::RngCore;

use super::bytetable::{ByteTable, Keyed, MemberHasher};
use super::packed::Packed;

/// Most fields a compact hash holds (`hash-max-listpack-entries`). 512 is the built-in
/// default of Redis 7.0 (what a server started without a config file uses, and what the
/// differential tests see); the sample redis.conf lowers it to 128.
pub const HASH_MAX_LISTPACK_ENTRIES: usize = 512;
/// Longest field or value a compact hash holds (`hash-max-listpack-value`).
pub const HASH_MAX_LISTPACK_VALUE: usize = 64;

/// The configurable bounds of the compact form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLimits {
    /// Most fields (`hash-max-listpack-entries`).
    pub max_listpack_entries: usize,
    /// Longest field or value (`hash-max-listpack-value`).
    pub max_listpack_value: usize,
}

impl HashLimits {
    /// Redis 7.0's built-in defaults.
    pub const DEFAULT: HashLimits = HashLimits {
        max_listpack_entries: HASH_MAX_LISTPACK_ENTRIES,
        max_listpack_value: HASH_MAX_LISTPACK_VALUE,
    };
}

impl Default for HashLimits {
    fn default() -> Self {
        HashLimits::DEFAULT
    }
}

/// A field and its value in one allocation: `[field length: u32 LE][field][value]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldValue(Box<[u8]>);

impl FieldValue {
    fn new(field: &[u8], value: &[u8]) -> Self {
        let mut data = Vec::with_capacity(4 + field.len() + value.len());
        data.extend_from_slice(&(field.len() as u32).to_le_bytes());
        data.extend_from_slice(field);
        data.extend_from_slice(value);
        FieldValue(data.into_boxed_slice())
    }

    fn field_len(&self) -> usize {
        u32::from_le_bytes([self.0[0], self.0[1], self.0[2], self.0[3]]) as usize
    }

    /// The field.
    pub fn field(&self) -> &[u8] {
        &self.0[4..4 + self.field_len()]
    }

    /// The value.
    pub fn value(&self) -> &[u8] {
        &self.0[4 + self.field_len()..]
    }
}

impl Keyed for FieldValue {
    fn key(&self) -> &[u8] {
        self.field()
    }
    fn heap_size(&self) -> usize {
        super::heap::block(self.0.len())
    }
}

/// A hash value.
#[derive(Debug, Clone)]
pub enum Hash {
    /// Small hash: alternating fields and values in insertion order (`listpack`).
    Compact(Packed),
    /// Large hash (`hashtable`).
    Table(Box<ByteTable<FieldValue>>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

impl PartialEq for Hash {
    /// Same fields with the same values, whatever the encoding or order.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl Hash {
    /// An empty hash, compact.
    pub const fn new() -> Hash {
        Hash::Compact(Packed::new())
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            Hash::Compact(p) => p.len() / 2,
            Hash::Table(t) => t.len(),
        }
    }

    /// Whether the hash has no fields.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Byte offset of `field` in a compact hash (its value follows it).
    fn compact_find(p: &Packed, field: &[u8]) -> Option<usize> {
        let mut it = p.iter_at();
        while let Some((at, f)) = it.next() {
            if f == field {
                return Some(at);
            }
            it.next(); // the value
        }
        None
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Compact(p) => {
                let at = Self::compact_find(p, field)?;
                Some(p.item_at(p.next_offset(at)))
            }
            Hash::Table(t) => t.get(field).map(FieldValue::value),
        }
    }

    /// Whether `field` exists.
    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value` with Redis's default bounds; true if the field is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8], hasher: MemberHasher) -> bool {
        self.insert_limited(field, value, hasher, &HashLimits::DEFAULT)
    }

    /// Sets `field` to `value`; true if the field is new. Converts to a hash table when the
    /// field or value is too long for the compact form, or the hash outgrows it (Redis's
    /// `hashTypeTryConversion` and `hashTypeSet`).
    pub fn insert_limited(
        &mut self,
        field: &[u8],
        value: &[u8],
        hasher: MemberHasher,
        limits: &HashLimits,
    ) -> bool {
        if let Hash::Compact(p) = self {
            let max = limits.max_listpack_value;
            if field.len() <= max && value.len() <= max {
                if let Some(at) = Self::compact_find(p, field) {
                    p.replace_at(p.next_offset(at), value);
                    return false;
                }
                p.push(field);
                p.push(value);
                if p.len() / 2 > limits.max_listpack_entries {
                    self.convert(hasher);
                }
                return true;
            }
            self.convert(hasher);
        }
        match self {
            Hash::Table(t) => t.upsert(FieldValue::new(field, value)).is_none(),
            Hash::Compact(_) => unreachable!("converted above"),
        }
    }

    /// Turns a compact hash into a hash table.
    fn convert(&mut self, hasher: MemberHasher) {
        if let Hash::Compact(p) = self {
            let mut t = ByteTable::with_capacity(hasher, p.len() / 2);
            {
                let mut it = p.iter();
                while let (Some(f), Some(v)) = (it.next(), it.next()) {
                    t.upsert(FieldValue::new(f, v));
                }
            }
            *self = Hash::Table(Box::new(t));
        }
    }

    /// Removes `field`; true if it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Compact(p) => match Self::compact_find(p, field) {
                Some(at) => {
                    p.remove_at(at, 2);
                    true
                }
                None => false,
            },
            Hash::Table(t) => t.remove(field).is_some(),
        }
    }

    /// Fields and values: insertion order when compact, table order otherwise.
    pub fn iter(&self) -> HashIter<'_> {
        match self {
            Hash::Compact(p) => HashIter::Compact(p.iter_at()),
            Hash::Table(t) => HashIter::Table(Box::new(t.iter())),
        }
    }

    /// The pairs of a compact hash as a vector, for repeated random access.
    fn pairs(&self) -> Vec<(&[u8], &[u8])> {
        self.iter().collect()
    }

    /// A uniformly random field and its value, `None` if the hash is empty.
    pub fn random(&self, rng: &mut impl RngCore) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Compact(p) => {
                let n = p.len() / 2;
                if n == 0 {
                    return None;
                }
                self.iter().nth((rng.next_u64() % n as u64) as usize)
            }
            Hash::Table(t) => t.random(rng).map(|e| (e.field(), e.value())),
        }
    }

    /// `count` random fields with their values, repetitions allowed (HRANDFIELD with a
    /// negative count), handed to `visit` one by one.
    pub fn random_with_repeats(
        &self,
        count: usize,
        rng: &mut impl RngCore,
        mut visit: impl FnMut(&[u8], &[u8]),
    ) {
        if self.is_empty() {
            return;
        }
        match self {
            Hash::Compact(_) => {
                let pairs = self.pairs();
                for _ in 0..count {
                    let (f, v) = pairs[(rng.next_u64() % pairs.len() as u64) as usize];
                    visit(f, v);
                }
            }
            Hash::Table(t) => {
                for _ in 0..count {
                    if let Some(e) = t.random(rng) {
                        visit(e.field(), e.value());
                    }
                }
            }
        }
    }

    /// `count` distinct random fields with their values, for `count` below the hash's size
    /// (HRANDFIELD with a positive count). The same strategies as Redis: when most of the
    /// hash is wanted, drop random pairs from a full copy; otherwise pick distinct random
    /// ones.
    pub fn random_distinct(&self, count: usize, rng: &mut impl RngCore) -> Vec<(&[u8], &[u8])> {
        let size = self.len();
        if count >= size {
            return self.pairs();
        }
        if count.saturating_mul(3) > size {
            let mut all = self.pairs();
            while all.len() > count {
                let i = (rng.next_u64() % all.len() as u64) as usize;
                all.swap_remove(i);
            }
            return all;
        }
        match self {
            Hash::Compact(_) => {
                // Selection sampling keeps the listpack order, like Redis's
                // lpRandomPairsUnique.
                let mut out = Vec::with_capacity(count);
                let mut needed = count;
                for (i, pair) in self.iter().enumerate() {
                    let left = (size - i) as u64;
                    if rng.next_u64() % left < needed as u64 {
                        out.push(pair);
                        needed -= 1;
                        if needed == 0 {
                            break;
                        }
                    }
                }
                out
            }
            Hash::Table(t) => t
                .random_distinct(count, rng)
                .into_iter()
                .map(|e| (e.field(), e.value()))
                .collect(),
        }
    }

    /// HSCAN step: visits fields and values from `cursor` on; returns the next cursor (0 when
    /// done). A compact hash is visited whole and returns 0, as Redis does with listpacks.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            Hash::Compact(_) => {
                for (f, v) in self.iter() {
                    visit(f, v);
                }
                0
            }
            Hash::Table(t) => t.scan(cursor, count, |e| visit(e.field(), e.value())),
        }
    }

    /// The OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Compact(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// Heap bytes the hash holds.
    pub fn heap_size(&self) -> usize {
        match self {
            Hash::Compact(p) => p.heap_size(),
            Hash::Table(t) => {
                super::heap::block(std::mem::size_of::<ByteTable<FieldValue>>()) + t.heap_size()
            }
        }
    }
}

/// Iterator over a hash's fields and values.
pub enum HashIter<'a> {
    /// Over a compact hash.
    Compact(super::packed::PackedIter<'a>),
    /// Over a hash table.
    Table(Box<dyn Iterator<Item = &'a FieldValue> + 'a>),
}

impl std::fmt::Debug for HashIter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashIter")
    }
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Compact(it) => {
                let (_, f) = it.next()?;
                let (_, v) = it.next()?;
                Some((f, v))
            }
            HashIter::Table(it) => it.next().map(|e| (e.field(), e.value())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    const HS: MemberHasher = MemberHasher::with_seed(9);

    #[test]
    fn compact_keeps_insertion_order_and_updates_in_place() {
        let mut h = Hash::new();
        assert!(h.insert(b"b", b"1", HS));
        assert!(h.insert(b"a", b"2", HS));
        assert!(!h.insert(b"b", b"3", HS));
        let pairs: Vec<_> = h.iter().collect();
        assert_eq!(pairs, [(&b"b"[..], &b"3"[..]), (b"a", b"2")]);
        assert_eq!(h.encoding(), "listpack");
        assert!(h.remove(b"b"));
        assert!(!h.remove(b"b"));
        assert_eq!(h.len(), 1);
        assert_eq!(h.get(b"a"), Some(&b"2"[..]));
    }

    #[test]
    fn a_value_equal_to_a_field_name_is_not_a_field() {
        let mut h = Hash::new();
        h.insert(b"f", b"g", HS);
        assert!(!h.contains(b"g"));
        assert!(h.insert(b"g", b"x", HS));
        assert_eq!(h.get(b"g"), Some(&b"x"[..]));
        assert_eq!(h.get(b"f"), Some(&b"g"[..]));
    }

    #[test]
    fn converts_on_size_and_length_like_redis() {
        let mut h = Hash::new();
        for i in 0..HASH_MAX_LISTPACK_ENTRIES {
            h.insert(format!("f{i}").as_bytes(), b"v", HS);
        }
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"one more", b"v", HS);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), HASH_MAX_LISTPACK_ENTRIES + 1);

        let mut h = Hash::new();
        h.insert(b"f", &[b'x'; HASH_MAX_LISTPACK_VALUE], HS);
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"f", &[b'x'; HASH_MAX_LISTPACK_VALUE + 1], HS);
        assert_eq!(h.encoding(), "hashtable");
        h.remove(b"f");
        h.insert(b"f", b"short", HS);
        assert_eq!(h.encoding(), "hashtable", "never converts back");
    }

    #[test]
    fn random_distinct_is_distinct() {
        let mut rng = SmallRng::seed_from_u64(5);
        for n in [5usize, 100, 300] {
            let mut h = Hash::new();
            for i in 0..n {
                h.insert(format!("f{i}").as_bytes(), format!("v{i}").as_bytes(), HS);
            }
            for count in [0, 1, 2, n / 3, n / 2, n - 1, n, n + 10] {
                let got = h.random_distinct(count, &mut rng);
                assert_eq!(got.len(), count.min(n));
                let fields: std::collections::HashSet<_> = got.iter().map(|p| p.0).collect();
                assert_eq!(fields.len(), got.len());
                for (f, v) in got {
                    assert_eq!(h.get(f), Some(v));
                }
            }
        }
    }

    #[test]
    fn scan_of_a_table_visits_all() {
        let mut h = Hash::new();
        for i in 0..500 {
            h.insert(format!("f{i}").as_bytes(), b"v", HS);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = h.scan(cursor, 10, |f, _| {
                seen.insert(f.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 500);
    }
}
