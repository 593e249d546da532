//! A packed list of short byte strings in one buffer: the compact form of small hashes and
//! sets, playing the part of Redis's listpack.
//!
//! Layout: a little-endian `u16` count, then each item as a one-byte length and its bytes.
//! Items are at most [`MAX_ITEM`] bytes (the compact forms hold at most 64-byte items, Redis's
//! `*-max-listpack-value` default), so a length is one byte and a 512-field hash costs one
//! allocation instead of a node per element. Lookups are linear scans, as in a listpack; the
//! owners convert to a hash table long before that matters.

/// Longest item a packed list holds.
pub const MAX_ITEM: usize = u8::MAX as usize;

const HEADER: usize = 2;

/// A packed list of byte strings, in insertion order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Packed {
    /// Empty when the list is empty (no allocation), else header + items.
    buf: Vec<u8>,
}

impl Packed {
    /// An empty list.
    pub const fn new() -> Packed {
        Packed { buf: Vec::new() }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        match self.buf.get(..HEADER) {
            Some(h) => u16::from_le_bytes([h[0], h[1]]) as usize,
            None => 0,
        }
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn set_len(&mut self, n: usize) {
        debug_assert!(n <= u16::MAX as usize);
        if self.buf.len() < HEADER {
            self.buf.resize(HEADER, 0);
        }
        self.buf[..HEADER].copy_from_slice(&(n as u16).to_le_bytes());
    }

    /// Appends an item. `item` must be at most [`MAX_ITEM`] bytes.
    pub fn push(&mut self, item: &[u8]) {
        assert!(item.len() <= MAX_ITEM, "packed item too long");
        let n = self.len();
        self.set_len(n + 1);
        self.buf.push(item.len() as u8);
        self.buf.extend_from_slice(item);
    }

    /// Items with their byte offsets, in order.
    pub fn iter_at(&self) -> PackedIter<'_> {
        PackedIter {
            buf: &self.buf,
            pos: HEADER.min(self.buf.len()),
        }
    }

    /// Items in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.iter_at().map(|(_, item)| item)
    }

    /// The item at byte offset `at` (as yielded by [`Packed::iter_at`]).
    pub fn item_at(&self, at: usize) -> &[u8] {
        let len = self.buf[at] as usize;
        &self.buf[at + 1..at + 1 + len]
    }

    /// Byte offset of the item following the one at `at`.
    pub fn next_offset(&self, at: usize) -> usize {
        at + 1 + self.buf[at] as usize
    }

    /// Removes `n` consecutive items starting at byte offset `at`.
    pub fn remove_at(&mut self, at: usize, n: usize) {
        let mut end = at;
        for _ in 0..n {
            end = self.next_offset(end);
        }
        self.buf.drain(at..end);
        let left = self.len() - n;
        if left == 0 {
            self.buf = Vec::new();
        } else {
            self.set_len(left);
            self.shrink_if_sparse();
        }
    }

    /// Replaces the item at byte offset `at` with `item` (at most [`MAX_ITEM`] bytes).
    pub fn replace_at(&mut self, at: usize, item: &[u8]) {
        assert!(item.len() <= MAX_ITEM, "packed item too long");
        let old_end = self.next_offset(at);
        self.buf[at] = item.len() as u8;
        self.buf.splice(at + 1..old_end, item.iter().copied());
    }

    /// Bytes of heap the list holds.
    pub fn heap_size(&self) -> usize {
        super::heap::block(self.buf.capacity())
    }

    /// Listpacks are reallocated to fit on every change; a `Vec` keeps its capacity, so give
    /// memory back once deletions left most of it unused.
    fn shrink_if_sparse(&mut self) {
        if self.buf.capacity() > 64 && self.buf.len() < self.buf.capacity() / 2 {
            self.buf.shrink_to_fit();
        }
    }
}

/// Iterator over `(offset, item)` pairs of a [`Packed`].
#[derive(Debug, Clone)]
pub struct PackedIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let at = self.pos;
        let len = *self.buf.get(at)? as usize;
        self.pos = at + 1 + len;
        Some((at, &self.buf[at + 1..at + 1 + len]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_iter_remove_replace() {
        let mut p = Packed::new();
        assert_eq!(p.len(), 0);
        assert_eq!(p.heap_size(), 0);
        for s in ["a", "", "ccc", "dd"] {
            p.push(s.as_bytes());
        }
        assert_eq!(p.len(), 4);
        let items: Vec<&[u8]> = p.iter().collect();
        assert_eq!(items, [&b"a"[..], b"", b"ccc", b"dd"]);
        let (at, _) = p.iter_at().nth(1).unwrap();
        p.remove_at(at, 2);
        assert_eq!(p.iter().collect::<Vec<_>>(), [&b"a"[..], b"dd"]);
        let (at, _) = p.iter_at().nth(1).unwrap();
        p.replace_at(at, b"longer value");
        assert_eq!(p.iter().collect::<Vec<_>>(), [&b"a"[..], b"longer value"]);
        p.replace_at(HEADER, b"");
        assert_eq!(p.iter().collect::<Vec<_>>(), [&b""[..], b"longer value"]);
        let first = p.iter_at().next().unwrap().0;
        p.remove_at(first, 2);
        assert!(p.is_empty());
        assert_eq!(p.heap_size(), 0);
    }
}
