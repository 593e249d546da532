//! The `listpack` encoding of small sorted sets: every entry in one byte buffer, in order.
//!
//! An entry is its score (8 bytes, little-endian `f64` bits), its member length (LEB128) and
//! the member bytes. Like Redis's listpack, lookups are linear scans, which is fine at the
//! sizes this encoding is used for (`zset-max-listpack-entries`, 128 by default) and much
//! more compact than a node per member: a 10-byte member costs 19 bytes.
//!
//! Redis stores a listpack score that is an integer in [-2^62, 2^62] as an integer, which
//! turns `-0` into `0`; [`Listpack::insert`] does the same so that replies match.

use std::cmp::Ordering;

use super::btree::cmp_entry;

/// Entries in (score, member) order, packed.
#[derive(Debug, Clone, Default)]
pub struct Listpack {
    buf: Vec<u8>,
    len: usize,
}

fn put_len(buf: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf.push(byte);
            return;
        }
        buf.push(byte | 0x80);
    }
}

/// The entry bytes for (score, member).
fn encode(score: f64, member: &[u8]) -> Vec<u8> {
    let mut e = Vec::with_capacity(8 + 2 + member.len());
    e.extend_from_slice(&score.to_bits().to_le_bytes());
    put_len(&mut e, member.len());
    e.extend_from_slice(member);
    e
}

/// Forward iterator over (member, score).
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    lp: &'a Listpack,
    off: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.off >= self.lp.buf.len() {
            return None;
        }
        let (score, member, next) = self.lp.read(self.off);
        self.off = next;
        Some((member, score))
    }
}

impl Listpack {
    /// An empty listpack.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held.
    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    /// The entry at byte offset `off`: score, member, offset of the next entry.
    fn read(&self, off: usize) -> (f64, &[u8], usize) {
        let mut bits = [0u8; 8];
        bits.copy_from_slice(&self.buf[off..off + 8]);
        let score = f64::from_bits(u64::from_le_bytes(bits));
        let mut p = off + 8;
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let b = self.buf[p];
            p += 1;
            len |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        (score, &self.buf[p..p + len], p + len)
    }

    /// Entries from the first.
    pub fn iter(&self) -> Iter<'_> {
        Iter { lp: self, off: 0 }
    }

    /// Entries from index `idx` on.
    pub fn iter_from(&self, idx: usize) -> Iter<'_> {
        Iter {
            lp: self,
            off: self.offset_of(idx),
        }
    }

    /// Byte offset of entry `idx` (the end of the buffer for `idx >= len`).
    fn offset_of(&self, idx: usize) -> usize {
        let mut off = 0;
        for _ in 0..idx.min(self.len) {
            off = self.read(off).2;
        }
        off
    }

    /// Byte offsets of every entry (for walking backwards).
    pub fn offsets(&self) -> Vec<usize> {
        let mut v = Vec::with_capacity(self.len);
        let mut off = 0;
        while off < self.buf.len() {
            v.push(off);
            off = self.read(off).2;
        }
        v
    }

    /// The entry at byte offset `off` as (member, score).
    pub fn at_offset(&self, off: usize) -> (&[u8], f64) {
        let (s, m, _) = self.read(off);
        (m, s)
    }

    /// Index, byte offset and score of `member`.
    pub fn find(&self, member: &[u8]) -> Option<(usize, usize, f64)> {
        let mut off = 0;
        let mut idx = 0;
        while off < self.buf.len() {
            let (s, m, next) = self.read(off);
            if m == member {
                return Some((idx, off, s));
            }
            off = next;
            idx += 1;
        }
        None
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|(_, _, s)| s)
    }

    /// The entry at index `idx`.
    pub fn get(&self, idx: usize) -> Option<(&[u8], f64)> {
        if idx >= self.len {
            return None;
        }
        Some(self.at_offset(self.offset_of(idx)))
    }

    /// The first entry.
    pub fn first(&self) -> Option<(&[u8], f64)> {
        self.get(0)
    }

    /// The last entry.
    pub fn last(&self) -> Option<(&[u8], f64)> {
        self.len.checked_sub(1).and_then(|i| self.get(i))
    }

    /// Inserts a member that is not present, at its place (`zzlInsert`).
    pub fn insert(&mut self, score: f64, member: &[u8]) {
        // Stored as Redis stores it: an integral score becomes an integer, so -0 is 0.
        let score = if score == 0.0 { 0.0 } else { score };
        let mut off = 0;
        while off < self.buf.len() {
            let (s, m, next) = self.read(off);
            if cmp_entry(s, m, score, member) == Ordering::Greater {
                break;
            }
            off = next;
        }
        let e = encode(score, member);
        self.buf.splice(off..off, e);
        self.len += 1;
    }

    /// Removes entries `start..end` (indexes).
    pub fn remove_range(&mut self, start: usize, end: usize) {
        let end = end.min(self.len);
        if start >= end {
            return;
        }
        let a = self.offset_of(start);
        let mut b = a;
        for _ in start..end {
            b = self.read(b).2;
        }
        self.buf.drain(a..b);
        self.len -= end - start;
        if self.buf.capacity() > 64 && self.buf.len() * 4 < self.buf.capacity() {
            self.buf.shrink_to(self.buf.len() * 2);
        }
    }

    /// Removes `member`, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (idx, _, s) = self.find(member)?;
        self.remove_range(idx, idx + 1);
        Some(s)
    }

    /// Appends an entry that sorts after every present one (building from sorted input).
    pub fn push_sorted(&mut self, score: f64, member: &[u8]) {
        let score = if score == 0.0 { 0.0 } else { score };
        self.buf.extend_from_slice(&encode(score, member));
        self.len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_normalizes_negative_zero() {
        let mut lp = Listpack::new();
        lp.insert(2.0, b"b");
        lp.insert(1.0, b"z");
        lp.insert(2.0, b"a");
        lp.insert(-0.0, b"zero");
        lp.insert(1.0, &[b'x'; 300]);
        let got: Vec<_> = lp.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(got[0], (b"zero".to_vec(), 0.0));
        assert!(got[0].1.is_sign_positive());
        assert_eq!(got[1], (vec![b'x'; 300], 1.0));
        assert_eq!(got[2].0, b"z");
        assert_eq!(got[3].0, b"a");
        assert_eq!(got[4].0, b"b");
        assert_eq!(lp.find(b"a").map(|f| f.0), Some(3));
        assert_eq!(lp.get(4), Some((&b"b"[..], 2.0)));
        assert_eq!(lp.last(), Some((&b"b"[..], 2.0)));
        assert_eq!(lp.offsets().len(), 5);
        lp.remove_range(1, 3);
        assert_eq!(lp.len(), 3);
        assert_eq!(lp.remove(b"zero"), Some(0.0));
        assert_eq!(
            lp.iter().map(|(m, _)| m.to_vec()).collect::<Vec<_>>(),
            [b"a", b"b"]
        );
        assert_eq!(lp.iter_from(1).next(), Some((&b"b"[..], 2.0)));
    }
}
