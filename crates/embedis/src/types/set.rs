//! The set type, in the encodings Redis 7.0 reports, plus a compact form for small sets.
//!
//! - `intset` ([`Set::Intset`]): a sorted vector of integers, while every member is a
//!   canonical integer (what `string2ll` accepts) and there are at most
//!   [`SET_MAX_INTSET_ENTRIES`] of them. Iteration is ascending, as in Redis, which makes
//!   SMEMBERS, SPOP-all and the set algebra of integer sets come back sorted.
//! - [`Set::Compact`]: members in one [`Packed`] buffer, in insertion order, while there are
//!   at most [`SET_MAX_COMPACT_ENTRIES`] members of at most [`SET_MAX_COMPACT_VALUE`] bytes.
//!   Redis 7.0 has no small non-integer set encoding (listpack sets came in 7.2), so this
//!   form reports `hashtable`, like every non-intset set in 7.0; it exists to save memory.
//! - [`Set::Table`]: a [`ByteTable`] of members (`hashtable`).
//!
//! Conversions follow Redis 7.0: intset -> (compact or) table when a non-integer is added or
//! it outgrows `set-max-intset-entries`; compact -> table when it outgrows its limits; never
//! back. The intset bound is `set-max-intset-entries` ([`SetLimits`], read from CONFIG by the
//! commands); the compact form's bounds are fixed (Redis 7.0 has no `set-max-listpack-*`:
//! those came with 7.2's listpack sets, and a compact set reports `hashtable` anyway).

use std::borrow::Cow;

use rand::RngCore;

use super::bytetable::{ByteTable, MemberHasher};
use super::packed::Packed;
use crate::num::parse_i64;

/// Most members an intset holds (`set-max-intset-entries`).
pub const SET_MAX_INTSET_ENTRIES: usize = 512;
/// Most members a compact set holds (Redis 7.2's `set-max-listpack-entries`).
pub const SET_MAX_COMPACT_ENTRIES: usize = 128;
/// Longest member a compact set holds (Redis 7.2's `set-max-listpack-value`).
pub const SET_MAX_COMPACT_VALUE: usize = 64;

/// The configurable bound of the set encodings (`set-max-intset-entries`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetLimits {
    /// Most members an intset holds.
    pub max_intset_entries: usize,
}

impl SetLimits {
    /// Redis 7.0's defaults.
    pub const DEFAULT: SetLimits = SetLimits {
        max_intset_entries: SET_MAX_INTSET_ENTRIES,
    };
}

impl Default for SetLimits {
    fn default() -> Self {
        SetLimits::DEFAULT
    }
}

/// A member as stored: integers of an intset are not kept as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member<'a> {
    /// A member of an intset.
    Int(i64),
    /// Any other member.
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// The member's bytes (decimal text for integers).
    pub fn to_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Member::Int(n) => Cow::Owned(itoa::Buffer::new().format(*n).as_bytes().to_vec()),
            Member::Bytes(b) => Cow::Borrowed(b),
        }
    }

    /// An owned copy.
    pub fn to_owned(&self) -> OwnedMember {
        match *self {
            Member::Int(n) => OwnedMember::Int(n),
            Member::Bytes(b) => OwnedMember::Bytes(b.into()),
        }
    }
}

/// A member taken out of a set (SPOP) or copied for set algebra.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OwnedMember {
    /// An integer member (from an intset).
    Int(i64),
    /// Any other member.
    Bytes(Box<[u8]>),
}

impl OwnedMember {
    /// Borrows it as a [`Member`].
    pub fn as_member(&self) -> Member<'_> {
        match self {
            OwnedMember::Int(n) => Member::Int(*n),
            OwnedMember::Bytes(b) => Member::Bytes(b),
        }
    }

    /// The member's bytes.
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            OwnedMember::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
            OwnedMember::Bytes(b) => b.into_vec(),
        }
    }
}

/// A set value.
#[derive(Debug, Clone)]
pub enum Set {
    /// Sorted integers (`intset`).
    Intset(Vec<i64>),
    /// Small set of short members in insertion order (reported as `hashtable`).
    Compact(Packed),
    /// Large set (`hashtable`).
    Table(Box<ByteTable<Box<[u8]>>>),
}

impl PartialEq for Set {
    /// Same members, whatever the encoding or order.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains_member(m))
    }
}

impl Set {
    /// An empty set for a first member, as Redis's `setTypeCreate`: an intset if the member is
    /// an integer.
    pub fn for_member(first: &[u8]) -> Set {
        if parse_i64(first).is_some() {
            Set::Intset(Vec::new())
        } else {
            Set::Compact(Packed::new())
        }
    }

    /// An empty set for a first member taken from another set (see [`Set::for_member`]).
    pub fn for_first(first: Member<'_>) -> Set {
        match first {
            Member::Int(_) => Set::Intset(Vec::new()),
            Member::Bytes(b) => Set::for_member(b),
        }
    }

    /// An empty intset: where SUNION, SDIFF and SINTER build their results, as Redis does
    /// (so a result of few integers is an intset whatever its sources were).
    pub fn new_intset() -> Set {
        Set::Intset(Vec::new())
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            Set::Intset(v) => v.len(),
            Set::Compact(p) => p.len(),
            Set::Table(t) => t.len(),
        }
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `member` is in the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Intset(v) => parse_i64(member).is_some_and(|n| v.binary_search(&n).is_ok()),
            Set::Compact(p) => p.iter().any(|m| m == member),
            Set::Table(t) => t.get(member).is_some(),
        }
    }

    /// Whether `member` (possibly an intset integer) is in the set.
    pub fn contains_member(&self, member: Member<'_>) -> bool {
        match (self, member) {
            (Set::Intset(v), Member::Int(n)) => v.binary_search(&n).is_ok(),
            (_, m) => self.contains(&m.to_bytes()),
        }
    }

    /// Adds `member`; true if it was not there. Converts like Redis's `setTypeAdd`, with
    /// Redis's default bounds.
    pub fn insert(&mut self, member: &[u8], hasher: MemberHasher) -> bool {
        self.insert_limited(member, hasher, &SetLimits::DEFAULT)
    }

    /// Adds `member` under `limits` (the configured bounds); true if it was not there.
    pub fn insert_limited(
        &mut self,
        member: &[u8],
        hasher: MemberHasher,
        limits: &SetLimits,
    ) -> bool {
        if let Set::Intset(v) = self {
            if let Some(n) = parse_i64(member) {
                return self.insert_int(n, hasher, limits);
            }
            let next_len = v.len() + 1;
            self.convert(next_len, member.len(), hasher);
        }
        match self {
            Set::Compact(p) => {
                if p.iter().any(|m| m == member) {
                    return false;
                }
                if member.len() <= SET_MAX_COMPACT_VALUE && p.len() < SET_MAX_COMPACT_ENTRIES {
                    p.push(member);
                    return true;
                }
                self.convert(self.len() + 1, member.len(), hasher);
                self.insert_limited(member, hasher, limits)
            }
            Set::Table(t) => t.upsert(member.into()).is_none(),
            Set::Intset(_) => unreachable!("converted above"),
        }
    }

    /// Adds an integer member.
    fn insert_int(&mut self, n: i64, hasher: MemberHasher, limits: &SetLimits) -> bool {
        match self {
            Set::Intset(v) => match v.binary_search(&n) {
                Ok(_) => false,
                Err(pos) => {
                    v.insert(pos, n);
                    let len = v.len();
                    if len > limits.max_intset_entries {
                        // Redis converts an outgrown intset straight to a hash table.
                        self.convert_to_table(len, hasher);
                    }
                    true
                }
            },
            _ => self.insert_limited(itoa::Buffer::new().format(n).as_bytes(), hasher, limits),
        }
    }

    /// Adds a member taken from another set, with Redis's default bounds.
    pub fn insert_member(&mut self, member: Member<'_>, hasher: MemberHasher) -> bool {
        self.insert_member_limited(member, hasher, &SetLimits::DEFAULT)
    }

    /// Adds a member taken from another set under `limits`.
    pub fn insert_member_limited(
        &mut self,
        member: Member<'_>,
        hasher: MemberHasher,
        limits: &SetLimits,
    ) -> bool {
        match member {
            Member::Int(n) => self.insert_int(n, hasher, limits),
            Member::Bytes(b) => self.insert_limited(b, hasher, limits),
        }
    }

    /// Leaves the intset or compact form for one that can take a member of `member_len`
    /// bytes with `next_len` members: compact if they fit it, else a table.
    fn convert(&mut self, next_len: usize, member_len: usize, hasher: MemberHasher) {
        let compact_fits = next_len <= SET_MAX_COMPACT_ENTRIES
            && member_len <= SET_MAX_COMPACT_VALUE
            && matches!(self, Set::Intset(_));
        if compact_fits {
            // Integers are at most 20 bytes: they all fit.
            if let Set::Intset(v) = self {
                let mut p = Packed::new();
                let mut buf = itoa::Buffer::new();
                for &n in v.iter() {
                    p.push(buf.format(n).as_bytes());
                }
                *self = Set::Compact(p);
            }
            return;
        }
        self.convert_to_table(next_len, hasher);
    }

    /// Moves the members into a hash table sized for `next_len`.
    fn convert_to_table(&mut self, next_len: usize, hasher: MemberHasher) {
        let mut t = ByteTable::with_capacity(hasher, next_len.max(self.len()));
        for m in self.iter() {
            t.upsert(m.to_bytes().into_owned().into_boxed_slice());
        }
        *self = Set::Table(Box::new(t));
    }

    /// Removes `member`; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Intset(v) => match parse_i64(member).map(|n| v.binary_search(&n)) {
                Some(Ok(pos)) => {
                    v.remove(pos);
                    shrink_vec(v);
                    true
                }
                _ => false,
            },
            Set::Compact(p) => match p.iter_at().find(|(_, m)| *m == member) {
                Some((at, _)) => {
                    p.remove_at(at, 1);
                    true
                }
                None => false,
            },
            Set::Table(t) => t.remove(member).is_some(),
        }
    }

    /// Removes a member taken from another set.
    pub fn remove_member(&mut self, member: Member<'_>) -> bool {
        match (&mut *self, member) {
            (Set::Intset(v), Member::Int(n)) => match v.binary_search(&n) {
                Ok(pos) => {
                    v.remove(pos);
                    shrink_vec(v);
                    true
                }
                Err(_) => false,
            },
            (_, m) => self.remove(&m.to_bytes()),
        }
    }

    /// Members: ascending for an intset, insertion order when compact, table order otherwise.
    pub fn iter(&self) -> SetIter<'_> {
        match self {
            Set::Intset(v) => SetIter::Intset(v.iter()),
            Set::Compact(p) => SetIter::Compact(p.iter_at()),
            Set::Table(t) => SetIter::Table(Box::new(t.iter())),
        }
    }

    /// A uniformly random member, `None` if the set is empty.
    pub fn random(&self, rng: &mut impl RngCore) -> Option<Member<'_>> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        match self {
            Set::Intset(v) => Some(Member::Int(v[(rng.next_u64() % n as u64) as usize])),
            Set::Compact(_) => self.iter().nth((rng.next_u64() % n as u64) as usize),
            Set::Table(t) => t.random(rng).map(|m| Member::Bytes(m)),
        }
    }

    /// `count` random members, repetitions allowed (SRANDMEMBER with a negative count).
    pub fn random_with_repeats(
        &self,
        count: usize,
        rng: &mut impl RngCore,
        mut visit: impl FnMut(Member<'_>),
    ) {
        if self.is_empty() {
            return;
        }
        match self {
            Set::Compact(_) => {
                let members: Vec<Member<'_>> = self.iter().collect();
                for _ in 0..count {
                    visit(members[(rng.next_u64() % members.len() as u64) as usize]);
                }
            }
            _ => {
                for _ in 0..count {
                    if let Some(m) = self.random(rng) {
                        visit(m);
                    }
                }
            }
        }
    }

    /// `count` distinct random members for `count` below the set's size (SRANDMEMBER with a
    /// positive count), with Redis's two strategies: drop random members from a full copy
    /// when most are wanted, else pick distinct random ones.
    pub fn random_distinct(&self, count: usize, rng: &mut impl RngCore) -> Vec<Member<'_>> {
        let size = self.len();
        if count >= size {
            return self.iter().collect();
        }
        if count.saturating_mul(3) > size {
            let mut all: Vec<Member<'_>> = self.iter().collect();
            while all.len() > count {
                let i = (rng.next_u64() % all.len() as u64) as usize;
                all.swap_remove(i);
            }
            return all;
        }
        match self {
            Set::Table(t) => t
                .random_distinct(count, rng)
                .into_iter()
                .map(|m| Member::Bytes(m))
                .collect(),
            _ => {
                // At most 512 members: a partial shuffle of all of them.
                let mut all: Vec<Member<'_>> = self.iter().collect();
                for i in 0..count {
                    let j = i + (rng.next_u64() % (all.len() - i) as u64) as usize;
                    all.swap(i, j);
                }
                all.truncate(count);
                all
            }
        }
    }

    /// Removes and returns a uniformly random member, `None` if the set is empty.
    pub fn pop_random(&mut self, rng: &mut impl RngCore) -> Option<OwnedMember> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        let i = (rng.next_u64() % n as u64) as usize;
        match self {
            Set::Intset(v) => {
                let m = v.remove(i);
                shrink_vec(v);
                Some(OwnedMember::Int(m))
            }
            Set::Compact(p) => {
                let (at, m) = p.iter_at().nth(i)?;
                let owned = OwnedMember::Bytes(m.into());
                p.remove_at(at, 1);
                Some(owned)
            }
            Set::Table(t) => t.pop_random(rng).map(OwnedMember::Bytes),
        }
    }

    /// SSCAN step: visits members from `cursor` on; returns the next cursor (0 when done).
    /// Intsets (and compact sets) are visited whole, as Redis does with intsets.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(Member<'_>)) -> u64 {
        match self {
            Set::Table(t) => t.scan(cursor, count, |m| visit(Member::Bytes(m))),
            _ => {
                self.iter().for_each(visit);
                0
            }
        }
    }

    /// The OBJECT ENCODING name, as Redis 7.0 reports it.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Intset(_) => "intset",
            Set::Compact(_) | Set::Table(_) => "hashtable",
        }
    }

    /// Heap bytes the set holds.
    pub fn heap_size(&self) -> usize {
        match self {
            Set::Intset(v) => super::heap::block(v.capacity() * std::mem::size_of::<i64>()),
            Set::Compact(p) => p.heap_size(),
            Set::Table(t) => {
                super::heap::block(std::mem::size_of::<ByteTable<Box<[u8]>>>()) + t.heap_size()
            }
        }
    }
}

/// Gives memory back once deletions left most of a vector unused.
fn shrink_vec(v: &mut Vec<i64>) {
    if v.capacity() > 16 && v.len() < v.capacity() / 2 {
        v.shrink_to_fit();
    }
}

/// Iterator over a set's members.
pub enum SetIter<'a> {
    /// Over an intset.
    Intset(std::slice::Iter<'a, i64>),
    /// Over a compact set.
    Compact(super::packed::PackedIter<'a>),
    /// Over a table.
    Table(Box<dyn Iterator<Item = &'a Box<[u8]>> + 'a>),
}

impl std::fmt::Debug for SetIter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SetIter")
    }
}

impl<'a> Iterator for SetIter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        match self {
            SetIter::Intset(it) => it.next().map(|&n| Member::Int(n)),
            SetIter::Compact(it) => it.next().map(|(_, m)| Member::Bytes(m)),
            SetIter::Table(it) => it.next().map(|m| Member::Bytes(m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    const HS: MemberHasher = MemberHasher::with_seed(4);

    fn set_of(members: &[&str]) -> Set {
        let mut s = Set::for_member(members[0].as_bytes());
        for m in members {
            s.insert(m.as_bytes(), HS);
        }
        s
    }

    fn strings(s: &Set) -> Vec<String> {
        s.iter()
            .map(|m| String::from_utf8(m.to_bytes().into_owned()).unwrap())
            .collect()
    }

    #[test]
    fn intset_is_sorted_and_strict_about_integers() {
        let mut s = set_of(&["3", "-1", "2", "3"]);
        assert_eq!(s.encoding(), "intset");
        assert_eq!(strings(&s), ["-1", "2", "3"]);
        assert!(s.contains(b"2"));
        assert!(!s.contains(b"02"));
        assert!(!s.insert(b"2", HS));
        assert!(s.insert(b"02", HS), "not canonical: a string member");
        assert_eq!(s.encoding(), "hashtable");
        assert!(matches!(s, Set::Compact(_)));
        assert!(s.contains(b"2") && s.contains(b"02"));
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn conversions_follow_redis_thresholds() {
        let mut s = Set::new_intset();
        for i in 0..SET_MAX_INTSET_ENTRIES as i64 {
            s.insert_member(Member::Int(i), HS);
        }
        assert_eq!(s.encoding(), "intset");
        s.insert(b"100000", HS);
        assert!(matches!(s, Set::Table(_)));
        assert_eq!(s.len(), SET_MAX_INTSET_ENTRIES + 1);

        let mut s = set_of(&["a"]);
        for i in 1..SET_MAX_COMPACT_ENTRIES {
            s.insert(format!("m{i}").as_bytes(), HS);
        }
        assert!(matches!(s, Set::Compact(_)));
        s.insert(b"one more", HS);
        assert!(matches!(s, Set::Table(_)));
        assert_eq!(s.len(), SET_MAX_COMPACT_ENTRIES + 1);

        let mut s = set_of(&["1", "2"]);
        s.insert(&[b'x'; SET_MAX_COMPACT_VALUE + 1], HS);
        assert!(matches!(s, Set::Table(_)));
        assert!(s.contains(b"1"));
    }

    #[test]
    fn removal_and_pops() {
        let mut rng = SmallRng::seed_from_u64(2);
        for members in [&["1", "2", "3"][..], &["a", "b", "c"]] {
            let mut s = set_of(members);
            assert!(s.remove(members[1].as_bytes()));
            assert!(!s.remove(members[1].as_bytes()));
            let mut popped = Vec::new();
            while let Some(m) = s.pop_random(&mut rng) {
                popped.push(m.into_vec());
            }
            popped.sort();
            assert_eq!(popped.len(), 2);
            assert!(s.is_empty());
        }
    }

    #[test]
    fn random_distinct_is_distinct_for_every_encoding() {
        let mut rng = SmallRng::seed_from_u64(8);
        let ints: Vec<String> = (0..400).map(|i| i.to_string()).collect();
        let words: Vec<String> = (0..1000).map(|i| format!("w{i}")).collect();
        for (pool, n) in [(&ints, 400), (&words, 50), (&words, 1000)] {
            let refs: Vec<&str> = pool[..n].iter().map(String::as_str).collect();
            let s = set_of(&refs);
            for count in [1, 2, n / 4, n / 2, n - 1, n] {
                let got = s.random_distinct(count, &mut rng);
                let distinct: std::collections::HashSet<_> =
                    got.iter().map(|m| m.to_bytes().into_owned()).collect();
                assert_eq!(distinct.len(), count);
                assert!(got.iter().all(|m| s.contains_member(*m)));
            }
        }
    }
}
