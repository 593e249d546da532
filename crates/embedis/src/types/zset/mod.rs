//! The sorted set type: unique members with scores, ordered by (score, member bytes).
//!
//! Two encodings, switched exactly where Redis 7.0 switches them (OBJECT ENCODING reports
//! the same name):
//! - `listpack` ([`Listpack`]): one packed buffer, linear scans; used while the set has at
//!   most `zset-max-listpack-entries` members (128) of at most `zset-max-listpack-value`
//!   bytes (64).
//! - `skiplist` ([`TreeZSet`]; the name is Redis's): a counted B+tree (O(log n) insert,
//!   delete, rank, element by rank, range ends) plus a member index (O(1) score lookup).
//!
//! A set converts to `skiplist` when an insert would break a limit, and never converts back
//! (as in Redis: only the *STORE commands, which build a new set, pick listpack again).
//!
//! Ranks here are 0-based. Range functions follow Redis's algorithms step for step (find the
//! first element in range, then walk while in range), so that even lexicographic ranges over
//! members with different scores, which Redis leaves unspecified, answer like Redis does on
//! a listpack.

mod btree;
mod listpack;
mod range;

pub use btree::{TreeZSet, cmp_entry};
pub use listpack::Listpack;
pub use range::{LexBound, LexRange, RangeSpec, ScoreRange};

/// Redis's default `zset-max-listpack-entries`.
pub const ZSET_MAX_LISTPACK_ENTRIES: usize = 128;
/// Redis's default `zset-max-listpack-value`.
pub const ZSET_MAX_LISTPACK_VALUE: usize = 64;

/// The encoding thresholds (the two `zset-max-listpack-*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most members a listpack-encoded set holds.
    pub max_listpack_entries: usize,
    /// Longest member (bytes) a listpack-encoded set holds.
    pub max_listpack_value: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_listpack_entries: ZSET_MAX_LISTPACK_ENTRIES,
            max_listpack_value: ZSET_MAX_LISTPACK_VALUE,
        }
    }
}

/// ZADD's flags that change what an add does (CH only changes the reply).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddFlags {
    /// Only add new members.
    pub nx: bool,
    /// Only update existing members.
    pub xx: bool,
    /// Only update when the new score is greater.
    pub gt: bool,
    /// Only update when the new score is less.
    pub lt: bool,
    /// The score is an increment.
    pub incr: bool,
}

/// What one add did (`zsetAdd`'s out flags), with the resulting score where there is one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AddOutcome {
    /// A new member.
    Added(f64),
    /// An existing member got a different score.
    Updated(f64),
    /// An existing member, score unchanged (still "processed": ZADD INCR replies the score).
    Unchanged(f64),
    /// Nothing done because of NX, XX, GT or LT.
    Skipped,
    /// The score (or the incremented score) is NaN; nothing done.
    NotANumber,
}

/// A sorted set.
#[derive(Debug, Clone)]
pub enum ZSet {
    /// Small sets.
    Listpack(Listpack),
    /// Large sets (OBJECT ENCODING `skiplist`, a counted B+tree here).
    Skiplist(Box<TreeZSet>),
}

impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((m1, s1), (m2, s2))| m1 == m2 && s1.to_bits() == s2.to_bits())
    }
}

impl ZSet {
    /// An empty set in the encoding ZADD creates for a new key whose first member is
    /// `first_member_len` bytes long.
    pub fn for_first_member(first_member_len: usize, limits: &Limits) -> ZSet {
        if limits.max_listpack_entries == 0 || limits.max_listpack_value < first_member_len {
            ZSet::Skiplist(Box::default())
        } else {
            ZSet::Listpack(Listpack::new())
        }
    }

    /// An empty set for a result of `len` elements (-1: not known yet), as ZRANGESTORE
    /// starts its destination: listpack unless `len` is known to exceed the entry limit.
    /// Elements are then added one by one, converting like ZADD.
    pub fn for_result(len: i64, limits: &Limits) -> ZSet {
        if len > limits.max_listpack_entries as i64 {
            ZSet::Skiplist(Box::default())
        } else {
            ZSet::Listpack(Listpack::new())
        }
    }

    /// A set from entries already in set order with distinct members, in the encoding
    /// ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE give their result.
    pub fn from_sorted<M: AsRef<[u8]>>(entries: &[(M, f64)], limits: &Limits) -> ZSet {
        let longest = entries.iter().map(|(m, _)| m.as_ref().len()).max();
        if entries.len() <= limits.max_listpack_entries
            && longest.unwrap_or(0) <= limits.max_listpack_value
        {
            let mut lp = Listpack::new();
            for (m, s) in entries {
                lp.push_sorted(*s, m.as_ref());
            }
            ZSet::Listpack(lp)
        } else {
            ZSet::Skiplist(Box::new(TreeZSet::from_sorted(
                entries.iter().map(|(m, s)| (m.as_ref(), *s)),
            )))
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.len(),
            ZSet::Skiplist(z) => z.len(),
        }
    }

    /// Whether the set is empty (a key never holds an empty set).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Listpack(_) => "listpack",
            ZSet::Skiplist(_) => "skiplist",
        }
    }

    /// Heap bytes held (memory accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.heap_size(),
            ZSet::Skiplist(z) => std::mem::size_of::<TreeZSet>() + z.heap_size(),
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(lp) => lp.score(member),
            ZSet::Skiplist(z) => z.score(member),
        }
    }

    /// 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSet::Listpack(lp) => lp.find(member).map(|(i, _, _)| i),
            ZSet::Skiplist(z) => z.find(member).map(|id| z.rank(id)),
        }
    }

    /// The element at 0-based `rank`.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        match self {
            ZSet::Listpack(lp) => lp.get(rank),
            ZSet::Skiplist(z) => z.get(rank),
        }
    }

    fn convert_to_skiplist(&mut self) {
        if let ZSet::Listpack(lp) = self {
            *self = ZSet::Skiplist(Box::new(TreeZSet::from_sorted(lp.iter())));
        }
    }

    /// Adds or updates `member` as ZADD does with `flags` (Redis's `zsetAdd`), converting to
    /// the skiplist encoding when a new member breaks a listpack limit.
    pub fn add(
        &mut self,
        score: f64,
        member: &[u8],
        flags: AddFlags,
        limits: &Limits,
    ) -> AddOutcome {
        if score.is_nan() {
            return AddOutcome::NotANumber;
        }
        let found = match self {
            ZSet::Listpack(lp) => lp.score(member).map(|s| (s, None)),
            ZSet::Skiplist(z) => z.find(member).map(|id| (z.entry(id).1, Some(id))),
        };
        let Some((current, id)) = found else {
            if flags.xx {
                return AddOutcome::Skipped;
            }
            if let ZSet::Listpack(lp) = self {
                if lp.len() + 1 > limits.max_listpack_entries
                    || member.len() > limits.max_listpack_value
                {
                    self.convert_to_skiplist();
                }
            }
            match self {
                ZSet::Listpack(lp) => lp.insert(score, member),
                ZSet::Skiplist(z) => z.insert_new(score, member),
            }
            return AddOutcome::Added(score);
        };
        if flags.nx {
            return AddOutcome::Skipped;
        }
        let score = if flags.incr {
            let s = score + current;
            if s.is_nan() {
                return AddOutcome::NotANumber;
            }
            s
        } else {
            score
        };
        if (flags.lt && score >= current) || (flags.gt && score <= current) {
            return AddOutcome::Skipped;
        }
        if score == current {
            return AddOutcome::Unchanged(score);
        }
        match self {
            ZSet::Listpack(lp) => {
                lp.remove(member);
                lp.insert(score, member);
            }
            ZSet::Skiplist(z) => {
                if let Some(id) = id {
                    z.update_score(id, score);
                }
            }
        }
        AddOutcome::Updated(score)
    }

    /// Inserts or overwrites `member` with no conditions (building sets).
    pub fn set(&mut self, score: f64, member: &[u8], limits: &Limits) {
        self.add(score, member, AddFlags::default(), limits);
    }

    /// Removes `member`; whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Listpack(lp) => lp.remove(member).is_some(),
            ZSet::Skiplist(z) => z.remove(member).is_some(),
        }
    }

    /// Removes and returns the lowest (`max` false) or highest element.
    pub fn pop(&mut self, max: bool) -> Option<(Vec<u8>, f64)> {
        match self {
            ZSet::Listpack(lp) => {
                let idx = if max { lp.len().checked_sub(1)? } else { 0 };
                let (m, s) = lp.get(idx)?;
                let out = (m.to_vec(), s);
                lp.remove_range(idx, idx + 1);
                Some(out)
            }
            ZSet::Skiplist(z) => z.pop(max).map(|(m, s)| (m.into_vec(), s)),
        }
    }

    /// Every element in ascending order.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0, false)
    }

    /// Elements from 0-based `rank` on, ascending (`rev` false) or descending.
    pub fn iter_from(&self, rank: usize, rev: bool) -> Iter<'_> {
        match self {
            ZSet::Listpack(lp) if !rev => Iter::ListpackForward(lp.iter_from(rank)),
            ZSet::Listpack(lp) => {
                let mut offsets = lp.offsets();
                offsets.truncate(if rank < lp.len() { rank + 1 } else { 0 });
                Iter::ListpackBackward { lp, offsets }
            }
            ZSet::Skiplist(z) => Iter::Skiplist(z.iter(rank, rev)),
        }
    }

    /// The first and last elements.
    fn ends(&self) -> Option<((&[u8], f64), (&[u8], f64))> {
        match self {
            ZSet::Listpack(lp) => Some((lp.first()?, lp.last()?)),
            ZSet::Skiplist(z) => Some((z.first()?, z.last()?)),
        }
    }

    /// Whether part of the set can be in range (`zslIsInRange`): not an empty range, the
    /// last element at or above min, the first at or below max.
    fn in_range(&self, r: &impl RangeSpec) -> bool {
        let Some(((fm, fs), (lm, ls))) = self.ends() else {
            return false;
        };
        !r.is_empty() && r.gte_min(ls, lm) && r.lte_max(fs, fm)
    }

    /// 0-based rank of the first element in range (`zzlFirstInRange`/`zslFirstInRange`).
    pub fn first_in(&self, r: &impl RangeSpec) -> Option<usize> {
        if !self.in_range(r) {
            return None;
        }
        match self {
            ZSet::Listpack(lp) => {
                let (i, (m, s)) = lp.iter().enumerate().find(|(_, (m, s))| r.gte_min(*s, m))?;
                r.lte_max(s, m).then_some(i)
            }
            ZSet::Skiplist(z) => {
                let rank = z.count_while(|s, m| !r.gte_min(s, m));
                let (m, s) = z.get(rank)?;
                r.lte_max(s, m).then_some(rank)
            }
        }
    }

    /// 0-based rank of the last element in range (`zzlLastInRange`/`zslLastInRange`).
    pub fn last_in(&self, r: &impl RangeSpec) -> Option<usize> {
        if !self.in_range(r) {
            return None;
        }
        match self {
            ZSet::Listpack(lp) => {
                let offsets = lp.offsets();
                let (i, off) = offsets.iter().enumerate().rev().find(|(_, off)| {
                    let (m, s) = lp.at_offset(**off);
                    r.lte_max(s, m)
                })?;
                let (m, s) = lp.at_offset(*off);
                r.gte_min(s, m).then_some(i)
            }
            ZSet::Skiplist(z) => {
                let rank = z.count_while(|s, m| r.lte_max(s, m)).checked_sub(1)?;
                let (m, s) = z.get(rank)?;
                r.gte_min(s, m).then_some(rank)
            }
        }
    }

    /// How many elements are in range, computed like ZCOUNT/ZLEXCOUNT do (a walk on a
    /// listpack, the rank difference of the range ends on a skiplist).
    pub fn count_in(&self, r: &impl RangeSpec) -> i64 {
        let Some(first) = self.first_in(r) else {
            return 0;
        };
        match self {
            ZSet::Listpack(_) => self
                .iter_from(first, false)
                .take_while(|(m, s)| r.lte_max(*s, m))
                .count() as i64,
            ZSet::Skiplist(_) => {
                let len = self.len() as i64;
                let mut count = len - first as i64;
                if let Some(last) = self.last_in(r) {
                    count -= len - (last as i64 + 1);
                }
                count
            }
        }
    }

    /// Removes the elements of 0-based ranks `start..=end` (`end` < len); returns how many.
    pub fn remove_rank_range(&mut self, start: usize, end: usize) -> usize {
        if start > end || start >= self.len() {
            return 0;
        }
        let end = end.min(self.len() - 1);
        match self {
            ZSet::Listpack(lp) => {
                lp.remove_range(start, end + 1);
                end + 1 - start
            }
            ZSet::Skiplist(z) => z.remove_rank_range(start, end),
        }
    }

    /// Removes the elements in range (ZREMRANGEBYSCORE/ZREMRANGEBYLEX); returns how many.
    pub fn remove_in(&mut self, r: &impl RangeSpec) -> usize {
        let start = match self {
            ZSet::Listpack(_) => self.first_in(r),
            // Redis's skiplist delete walks to the first element at or above min without the
            // in-range precheck; the walk below stops at once if that one is above max.
            ZSet::Skiplist(z) => Some(z.count_while(|s, m| !r.gte_min(s, m))),
        };
        let Some(start) = start else {
            return 0;
        };
        let n = self
            .iter_from(start, false)
            .take_while(|(m, s)| r.lte_max(*s, m))
            .count();
        if n == 0 {
            return 0;
        }
        self.remove_rank_range(start, start + n - 1)
    }

    /// Whether this set is listpack-encoded (ZSCAN formats such scores as Redis stored them).
    pub fn is_listpack(&self) -> bool {
        matches!(self, ZSet::Listpack(_))
    }

    /// One ZSCAN step from `cursor`: visits up to about `count` elements and returns the next
    /// cursor (0: done). A listpack is visited whole in one step, as in Redis. On a skiplist
    /// the cursor walks the member index by bucket; its top 24 bits hold the index epoch so
    /// that a cursor from before a resize restarts (members may then repeat, which SCAN
    /// allows, but none present throughout is missed).
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], f64)) -> u64 {
        const BUCKET_BITS: u32 = 40;
        match self {
            ZSet::Listpack(lp) => {
                for (m, s) in lp.iter() {
                    visit(m, s);
                }
                0
            }
            ZSet::Skiplist(z) => {
                let epoch = (z.epoch() & 0xff_ffff) as u64;
                let mut bucket = if cursor >> BUCKET_BITS == epoch {
                    (cursor & ((1 << BUCKET_BITS) - 1)) as usize
                } else {
                    0
                };
                let buckets = z.buckets();
                let count = count.max(1);
                // Like Redis, give up after ten empty-ish buckets per wanted element so a
                // sparse index cannot make one call long.
                let mut budget = count.saturating_mul(10);
                let mut seen = 0;
                while bucket < buckets && seen < count && budget > 0 {
                    if let Some((m, s)) = z.bucket(bucket) {
                        visit(m, s);
                        seen += 1;
                    }
                    bucket += 1;
                    budget -= 1;
                }
                if bucket >= buckets {
                    0
                } else {
                    (epoch << BUCKET_BITS) | bucket as u64
                }
            }
        }
    }
}

/// Iterator over (member, score) in rank order or reverse rank order.
#[derive(Debug)]
pub enum Iter<'a> {
    /// Ascending over a listpack.
    ListpackForward(listpack::Iter<'a>),
    /// Descending over a listpack: byte offsets still to visit, last first.
    ListpackBackward {
        /// The listpack.
        lp: &'a Listpack,
        /// Offsets of the entries left.
        offsets: Vec<usize>,
    },
    /// Either way over the tree.
    Skiplist(btree::Iter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::ListpackForward(it) => it.next(),
            Iter::ListpackBackward { lp, offsets } => offsets.pop().map(|off| lp.at_offset(off)),
            Iter::Skiplist(it) => it.next(),
        }
    }
}

#[cfg(test)]
mod tests;
