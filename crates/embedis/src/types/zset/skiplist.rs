//! The order-statistic structure behind large sorted sets: Pugh's skiplist with span counts,
//! as Redis builds it (`zskiplist`), plus a member index.
//!
//! Every link records how many level-0 steps it jumps (its span), so walking down from the
//! top level while summing spans gives an element's rank, and walking by spans finds the
//! element at a rank: insert, delete, rank, element-by-rank and "first element in a range"
//! are all O(log n) expected.
//!
//! Why an arena: nodes live in one `Vec` and point at each other by `u32` index, which keeps
//! the structure in safe Rust (no raw pointers, no `Rc<RefCell>` per node), makes a node
//! 56 bytes (member box, score, back link, level-0 link, upper links) with no allocation
//! beyond the member for the 3 nodes in 4 that have one level, and lets freed slots be
//! reused. The member index (`HashTable<u32>` of node ids hashed by member bytes) gives
//! O(1) ZSCORE and is what ZSCAN walks; it stores no second copy of the members.
//!
//! Node ids are `u32`: a set is limited to about four billion members (over 300 GB).

use std::cmp::Ordering;
use std::hash::BuildHasher;

use hashbrown::HashTable;

/// Most levels a node can have (Redis's `ZSKIPLIST_MAXLEVEL`).
pub const MAX_LEVEL: usize = 32;
const NIL: u32 = u32::MAX;
/// Pseudo node id of the header, whose links live in [`SkipList::head`].
const HEAD: u32 = u32::MAX - 1;

/// The sorted set order: by score, then by member bytes. `-0` and `0` are the same score,
/// as with C's `<` and `==`. Scores are never NaN.
#[inline]
pub fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    match s1.partial_cmp(&s2) {
        Some(Ordering::Equal) | None => m1.cmp(m2),
        Some(o) => o,
    }
}

#[derive(Debug, Clone, Copy)]
struct Link {
    next: u32,
    /// Level-0 steps from this node to `next`.
    span: u32,
}

const EMPTY_LINK: Link = Link { next: NIL, span: 0 };

#[derive(Debug, Clone)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    /// The previous node at level 0 (NIL for the first node).
    prev: u32,
    level0: Link,
    /// Links at levels 1 and up (empty for most nodes: no allocation).
    upper: Box<[Link]>,
}

impl Node {
    fn levels(&self) -> usize {
        1 + self.upper.len()
    }
}

/// A span-counting skiplist of (score, member) in [`cmp_entry`] order. Ranks are 1-based
/// here, as in Redis's `zsl*` functions.
#[derive(Debug, Clone)]
pub struct SkipList {
    nodes: Vec<Node>,
    free: Vec<u32>,
    head: [Link; MAX_LEVEL],
    tail: u32,
    level: usize,
    len: usize,
    rng: u64,
    member_bytes: usize,
}

impl SkipList {
    /// An empty list; `seed` drives the level choice (any value, 0 included).
    pub fn new(seed: u64) -> Self {
        SkipList {
            nodes: Vec::new(),
            free: Vec::new(),
            head: [EMPTY_LINK; MAX_LEVEL],
            tail: NIL,
            level: 1,
            len: 0,
            rng: seed | 1,
            member_bytes: 0,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots in the arena (live and free).
    pub fn slots(&self) -> usize {
        self.nodes.len()
    }

    /// Heap bytes held: arena, upper links, members.
    pub fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.free.capacity() * 4
            + self.member_bytes
    }

    #[inline]
    fn link(&self, x: u32, i: usize) -> Link {
        if x == HEAD {
            self.head[i]
        } else {
            let n = &self.nodes[x as usize];
            if i == 0 { n.level0 } else { n.upper[i - 1] }
        }
    }

    #[inline]
    fn link_mut(&mut self, x: u32, i: usize) -> &mut Link {
        if x == HEAD {
            &mut self.head[i]
        } else {
            let n = &mut self.nodes[x as usize];
            if i == 0 {
                &mut n.level0
            } else {
                &mut n.upper[i - 1]
            }
        }
    }

    /// The member and score of node `id`.
    #[inline]
    pub fn entry(&self, id: u32) -> (&[u8], f64) {
        let n = &self.nodes[id as usize];
        (&n.member, n.score)
    }

    /// The member of node `id`.
    #[inline]
    pub fn member(&self, id: u32) -> &[u8] {
        &self.nodes[id as usize].member
    }

    /// The score of node `id`.
    #[inline]
    pub fn score(&self, id: u32) -> f64 {
        self.nodes[id as usize].score
    }

    /// Whether node `x` sorts before (score, member).
    #[inline]
    fn before(&self, x: u32, score: f64, member: &[u8]) -> bool {
        let n = &self.nodes[x as usize];
        cmp_entry(n.score, &n.member, score, member) == Ordering::Less
    }

    /// A level between 1 and [`MAX_LEVEL`], each further level with probability 1/4
    /// (Redis's `ZSKIPLIST_P`).
    fn random_level(&mut self) -> usize {
        // xorshift64*: levels only shape performance, never replies.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (1 + (r.trailing_zeros() / 2) as usize).min(MAX_LEVEL)
    }

    fn alloc(&mut self, member: Box<[u8]>, score: f64, level: usize) -> u32 {
        self.member_bytes += member.len() + (level - 1) * std::mem::size_of::<Link>();
        let node = Node {
            member,
            score,
            prev: NIL,
            level0: EMPTY_LINK,
            upper: vec![EMPTY_LINK; level - 1].into_boxed_slice(),
        };
        match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = node;
                id
            }
            None => {
                let id = u32::try_from(self.nodes.len())
                    .ok()
                    .filter(|&id| id < HEAD)
                    .expect("sorted set larger than 2^32 - 2 members");
                self.nodes.push(node);
                id
            }
        }
    }

    /// Inserts a member that is not in the list; returns its node id.
    pub fn insert(&mut self, score: f64, member: Box<[u8]>) -> u32 {
        let level = self.random_level();
        let id = self.alloc(member, score, level);
        self.link_in(id);
        id
    }

    /// Links node `id` (score, member and levels set, links empty) at its place
    /// (`zslInsert`).
    fn link_in(&mut self, id: u32) {
        let (score, level) = {
            let n = &self.nodes[id as usize];
            (n.score, n.levels())
        };
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0usize; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
            loop {
                let l = self.link(x, i);
                if l.next == NIL || !self.before(l.next, score, &self.nodes[id as usize].member) {
                    break;
                }
                rank[i] += l.span as usize;
                x = l.next;
            }
            update[i] = x;
        }
        if level > self.level {
            for i in self.level..level {
                rank[i] = 0;
                update[i] = HEAD;
                self.head[i].span = self.len as u32;
            }
            self.level = level;
        }
        for i in 0..level {
            let u = self.link(update[i], i);
            let crossed = (rank[0] - rank[i]) as u32;
            *self.link_mut(id, i) = Link {
                next: u.next,
                span: u.span - crossed,
            };
            *self.link_mut(update[i], i) = Link {
                next: id,
                span: crossed + 1,
            };
        }
        for i in level..self.level {
            self.link_mut(update[i], i).span += 1;
        }
        let prev = if update[0] == HEAD { NIL } else { update[0] };
        self.nodes[id as usize].prev = prev;
        let next = self.nodes[id as usize].level0.next;
        if next == NIL {
            self.tail = id;
        } else {
            self.nodes[next as usize].prev = id;
        }
        self.len += 1;
    }

    /// The rightmost node before node `id` at every level (`update[]` in Redis).
    fn path_to(&self, id: u32) -> [u32; MAX_LEVEL] {
        let (member, score) = self.entry(id);
        let mut update = [HEAD; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let next = self.link(x, i).next;
                if next == NIL || !self.before(next, score, member) {
                    break;
                }
                x = next;
            }
            update[i] = x;
        }
        update
    }

    /// Unlinks node `x` given its path (`zslDeleteNode`); the slot is not freed.
    fn unlink(&mut self, x: u32, update: &[u32; MAX_LEVEL]) {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let ul = self.link(u, i);
            if ul.next == x {
                let xl = self.link(x, i);
                *self.link_mut(u, i) = Link {
                    next: xl.next,
                    span: ul.span + xl.span - 1,
                };
            } else {
                // A link that jumps over `x` (or, if it ends the level, counts the nodes
                // after it) is one step shorter.
                self.link_mut(u, i).span -= 1;
            }
        }
        let (next, prev) = {
            let n = &self.nodes[x as usize];
            (n.level0.next, n.prev)
        };
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
        while self.level > 1 && self.head[self.level - 1].next == NIL {
            self.level -= 1;
        }
        self.len -= 1;
        let n = &mut self.nodes[x as usize];
        n.level0 = EMPTY_LINK;
        n.upper.iter_mut().for_each(|l| *l = EMPTY_LINK);
        n.prev = NIL;
    }

    /// Frees an unlinked node, returning its member and score.
    fn release(&mut self, id: u32) -> (Box<[u8]>, f64) {
        let n = &mut self.nodes[id as usize];
        let member = std::mem::take(&mut n.member);
        let upper = std::mem::take(&mut n.upper);
        self.member_bytes -= member.len() + upper.len() * std::mem::size_of::<Link>();
        self.free.push(id);
        (member, n.score)
    }

    /// Removes node `id`, returning its member and score.
    pub fn remove(&mut self, id: u32) -> (Box<[u8]>, f64) {
        let update = self.path_to(id);
        self.unlink(id, &update);
        self.release(id)
    }

    /// Changes the score of node `id`, moving it if the order requires (`zslUpdateScore`);
    /// the node keeps its id.
    pub fn update_score(&mut self, id: u32, score: f64) {
        let n = &self.nodes[id as usize];
        let prev_ok = n.prev == NIL || self.nodes[n.prev as usize].score < score;
        let next_ok = n.level0.next == NIL || self.nodes[n.level0.next as usize].score > score;
        if prev_ok && next_ok {
            self.nodes[id as usize].score = score;
            return;
        }
        let update = self.path_to(id);
        self.unlink(id, &update);
        self.nodes[id as usize].score = score;
        self.link_in(id);
    }

    /// 1-based rank of node `id` (`zslGetRank`).
    pub fn rank(&self, id: u32) -> usize {
        let (member, score) = self.entry(id);
        let mut rank = 0;
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL {
                    break;
                }
                let n = &self.nodes[l.next as usize];
                if cmp_entry(n.score, &n.member, score, member) == Ordering::Greater {
                    break;
                }
                rank += l.span as usize;
                x = l.next;
            }
            if x == id {
                return rank;
            }
        }
        unreachable!("node {id} is linked in the list")
    }

    /// The node at 1-based `rank` (`zslGetElementByRank`).
    pub fn by_rank(&self, rank: usize) -> Option<u32> {
        if rank == 0 || rank > self.len {
            return None;
        }
        let mut traversed = 0;
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL || traversed + l.span as usize > rank {
                    break;
                }
                traversed += l.span as usize;
                x = l.next;
            }
            if traversed == rank {
                return Some(x);
            }
        }
        None
    }

    /// Walks from the head while `pred` holds for the next node, descending levels (how
    /// Redis finds the first or last node of a range). Returns how many nodes were passed
    /// (the 1-based rank of the last one) and that node (`None`: none passed). With a
    /// predicate that holds on a prefix of the list, that is the length of the prefix.
    pub fn descend(&self, mut pred: impl FnMut(f64, &[u8]) -> bool) -> (usize, Option<u32>) {
        let mut rank = 0;
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL {
                    break;
                }
                let n = &self.nodes[l.next as usize];
                if !pred(n.score, &n.member) {
                    break;
                }
                rank += l.span as usize;
                x = l.next;
            }
        }
        (rank, (x != HEAD).then_some(x))
    }

    /// The first node.
    pub fn first(&self) -> Option<u32> {
        let n = self.head[0].next;
        (n != NIL).then_some(n)
    }

    /// The last node.
    pub fn last(&self) -> Option<u32> {
        (self.tail != NIL).then_some(self.tail)
    }

    /// The node after `id`.
    #[inline]
    pub fn next(&self, id: u32) -> Option<u32> {
        let n = self.nodes[id as usize].level0.next;
        (n != NIL).then_some(n)
    }

    /// The node before `id`.
    #[inline]
    pub fn prev(&self, id: u32) -> Option<u32> {
        let p = self.nodes[id as usize].prev;
        (p != NIL).then_some(p)
    }

    /// Removes the nodes of 1-based ranks `start..=end` (`zslDeleteRangeByRank`), calling
    /// `removed` with each one's id and member before it is freed. Returns how many.
    pub fn remove_rank_range(
        &mut self,
        start: usize,
        end: usize,
        mut removed: impl FnMut(u32, &[u8]),
    ) -> usize {
        let mut update = [HEAD; MAX_LEVEL];
        let mut traversed = 0;
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL || traversed + l.span as usize >= start {
                    break;
                }
                traversed += l.span as usize;
                x = l.next;
            }
            update[i] = x;
        }
        traversed += 1;
        let mut count = 0;
        let mut cur = self.link(x, 0).next;
        while cur != NIL && traversed <= end {
            let next = self.nodes[cur as usize].level0.next;
            self.unlink(cur, &update);
            removed(cur, &self.nodes[cur as usize].member);
            self.release(cur);
            count += 1;
            traversed += 1;
            cur = next;
        }
        count
    }
}

/// The `skiplist` encoding: the ordered [`SkipList`] plus a member -> node index.
#[derive(Debug, Clone)]
pub struct SkipZSet {
    list: SkipList,
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    /// Bumped whenever index buckets may move (growth, rehash, rebuild), so a ZSCAN cursor
    /// from before restarts instead of skipping members.
    epoch: u32,
}

impl SkipZSet {
    /// An empty set.
    pub fn new() -> Self {
        let hasher = foldhash::fast::RandomState::default();
        let seed = hasher.hash_one(0x5eed_u64);
        SkipZSet {
            list: SkipList::new(seed),
            index: HashTable::new(),
            hasher,
            epoch: 0,
        }
    }

    /// The ordered list.
    pub fn list(&self) -> &SkipList {
        &self.list
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Heap bytes held.
    pub fn heap_size(&self) -> usize {
        self.list.heap_size() + self.index.allocation_size()
    }

    fn hash(&self, member: &[u8]) -> u64 {
        self.hasher.hash_one(member)
    }

    /// The node holding `member`.
    pub fn find(&self, member: &[u8]) -> Option<u32> {
        let h = self.hash(member);
        self.index
            .find(h, |&id| self.list.member(id) == member)
            .copied()
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|id| self.list.score(id))
    }

    /// Inserts a member that is not in the set.
    pub fn insert_new(&mut self, score: f64, member: &[u8]) {
        let h = self.hash(member);
        if self.index.len() == self.index.capacity() {
            self.epoch = self.epoch.wrapping_add(1);
        }
        let id = self.list.insert(score, member.into());
        let (list, hasher) = (&self.list, &self.hasher);
        self.index
            .insert_unique(h, id, |&i| hasher.hash_one(list.member(i)));
    }

    /// Sets the score of node `id`.
    pub fn update_score(&mut self, id: u32, score: f64) {
        self.list.update_score(id, score);
    }

    /// Removes node `id`, returning its member and score.
    pub fn remove_id(&mut self, id: u32) -> (Box<[u8]>, f64) {
        let h = self.hash(self.list.member(id));
        if let Ok(e) = self.index.find_entry(h, |&i| i == id) {
            e.remove();
        }
        let out = self.list.remove(id);
        self.maybe_shrink();
        out
    }

    /// Removes `member`, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let id = self.find(member)?;
        Some(self.remove_id(id).1)
    }

    /// Removes 1-based ranks `start..=end`; returns how many.
    pub fn remove_rank_range(&mut self, start: usize, end: usize) -> usize {
        let (index, hasher) = (&mut self.index, &self.hasher);
        let n = self.list.remove_rank_range(start, end, |id, member| {
            if let Ok(e) = index.find_entry(hasher.hash_one(member), |&i| i == id) {
                e.remove();
            }
        });
        self.maybe_shrink();
        n
    }

    /// After many removals, rebuilds the arena and the index at the live size so memory
    /// follows the set down (amortized O(1): it takes three removals per live member).
    fn maybe_shrink(&mut self) {
        if self.list.slots() > 1024 && self.list.len() * 4 < self.list.slots() {
            let mut fresh = SkipZSet::new();
            let mut cur = self.list.first();
            while let Some(id) = cur {
                let (m, s) = self.list.entry(id);
                fresh.insert_new(s, m);
                cur = self.list.next(id);
            }
            fresh.epoch = self.epoch.wrapping_add(1);
            *self = fresh;
        }
    }

    /// Number of index buckets (ZSCAN cursor space).
    pub fn buckets(&self) -> usize {
        self.index.num_buckets()
    }

    /// The node in index bucket `b`, if any.
    pub fn bucket(&self, b: usize) -> Option<u32> {
        self.index.get_bucket(b).copied()
    }

    /// The index epoch (see the field).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }
}

impl Default for SkipZSet {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    /// The reference: a Vec kept sorted in the same order.
    fn check(list: &SkipList, reference: &[(f64, Vec<u8>)]) {
        assert_eq!(list.len(), reference.len());
        // Forward and backward walks match the reference.
        let mut cur = list.first();
        for (s, m) in reference {
            let id = cur.expect("list shorter than reference");
            assert_eq!(list.entry(id), (m.as_slice(), *s));
            cur = list.next(id);
        }
        assert!(cur.is_none());
        let mut cur = list.last();
        for (s, m) in reference.iter().rev() {
            let id = cur.expect("list shorter than reference");
            assert_eq!(list.entry(id), (m.as_slice(), *s));
            cur = list.prev(id);
        }
        // Ranks both ways.
        for (i, (s, m)) in reference.iter().enumerate() {
            let id = list.by_rank(i + 1).expect("rank in range");
            assert_eq!(list.entry(id), (m.as_slice(), *s));
            assert_eq!(list.rank(id), i + 1);
        }
        assert_eq!(list.by_rank(0), None);
        assert_eq!(list.by_rank(reference.len() + 1), None);
    }

    fn position(reference: &[(f64, Vec<u8>)], m: &[u8]) -> Option<usize> {
        reference.iter().position(|(_, x)| x == m)
    }

    #[test]
    fn random_ops_match_a_sorted_vec() {
        let mut rng = SmallRng::seed_from_u64(11);
        for round in 0..20 {
            let mut list = SkipList::new(round);
            let mut ids = std::collections::HashMap::new();
            let mut reference: Vec<(f64, Vec<u8>)> = Vec::new();
            for _ in 0..300 {
                let m = format!("m{}", rng.random_range(0..60)).into_bytes();
                // Few distinct scores, so ties (ordered by member) are common.
                let s = rng.random_range(-3..4) as f64 * 0.5;
                match rng.random_range(0..10) {
                    0..=4 => {
                        if let Some(p) = position(&reference, &m) {
                            let id = ids[&m];
                            list.update_score(id, s);
                            reference.remove(p);
                        } else {
                            ids.insert(m.clone(), list.insert(s, m.clone().into()));
                        }
                        let at = reference
                            .partition_point(|(rs, rm)| cmp_entry(*rs, rm, s, &m).is_lt());
                        reference.insert(at, (s, m));
                    }
                    5..=7 => {
                        if let Some(p) = position(&reference, &m) {
                            let (bm, bs) = list.remove(ids.remove(&m).unwrap());
                            assert_eq!((bs, &*bm), (reference[p].0, &reference[p].1[..]));
                            reference.remove(p);
                        }
                    }
                    _ => {
                        if !reference.is_empty() {
                            let a = rng.random_range(1..=reference.len());
                            let b = rng.random_range(a..=reference.len() + 2);
                            let mut gone = Vec::new();
                            let n = list.remove_rank_range(a, b, |_, m| gone.push(m.to_vec()));
                            let end = b.min(reference.len());
                            let expect: Vec<_> =
                                reference.drain(a - 1..end).map(|(_, m)| m).collect();
                            assert_eq!(n, expect.len());
                            assert_eq!(gone, expect);
                            for m in gone {
                                ids.remove(&m);
                            }
                        }
                    }
                }
                check(&list, &reference);
            }
        }
    }

    #[test]
    fn descend_counts_prefixes() {
        let mut list = SkipList::new(3);
        for i in 0..200 {
            list.insert((i / 2) as f64, format!("{i:03}").into_bytes().into());
        }
        for cut in [-1.0, 0.0, 0.5, 50.0, 99.0, 100.0] {
            let (n, last) = list.descend(|s, _| s < cut);
            let expect = (0..200).filter(|i| ((i / 2) as f64) < cut).count();
            assert_eq!(n, expect);
            assert_eq!(last.map(|id| list.rank(id)), (expect > 0).then_some(expect));
        }
    }

    #[test]
    fn index_follows_the_list_and_shrinks() {
        let mut z = SkipZSet::new();
        for i in 0..5000 {
            z.insert_new(i as f64, format!("m{i}").as_bytes());
        }
        assert_eq!(z.score(b"m42"), Some(42.0));
        let slots = z.list().slots();
        assert_eq!(z.remove_rank_range(1, 4500), 4500);
        assert!(z.list().slots() < slots);
        assert_eq!(z.len(), 500);
        assert_eq!(z.score(b"m42"), None);
        assert_eq!(z.score(b"m4999"), Some(4999.0));
        assert_eq!(z.remove(b"m4999"), Some(4999.0));
        let id = z.find(b"m4600").unwrap();
        assert_eq!(z.list().rank(id), 101);
    }
}
