//! The list type: a deque of compact chunks, like Redis's quicklist of listpacks.
//!
//! Each chunk is one byte buffer holding up to [`CHUNK_BYTES`] of entries; an entry bigger
//! than that gets a chunk of its own. The chunks sit in a `VecDeque`, so pushing and popping at
//! either end is O(1) amortized and costs no allocation per element: a chunk keeps free room at
//! both ends of its buffer, and only grows (doubling, up to [`CHUNK_BYTES`]) or a new chunk is
//! started when that room runs out. Reaching an index walks chunk counts, then entries inside
//! one chunk, so LINDEX/LSET/LINSERT are O(n) like in Redis (with a small constant).
//!
//! An entry is `varint(len) bytes rvarint(len)`: its length as LEB128 before the bytes and the
//! same length again after them, stored backwards, so that a chunk can be walked in both
//! directions without an index. A 10-byte value costs 12 bytes; per-chunk overhead is one
//! buffer and 40 bytes of bookkeeping.
//!
//! Why the room rule in `Chunk::reserve_back`/`reserve_front`: moving the bytes
//! inside a buffer to reclaim room left at the other end is only done when that yields at least
//! half of what is moved, so a chunk used as a queue (push at one end, pop at the other) never
//! copies more than twice what is pushed; otherwise a new chunk is started.

use std::collections::VecDeque;
use std::fmt;

use bytes::Bytes;

/// One end of a list: `LEFT` (the head) or `RIGHT` (the tail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListEnd {
    /// The head (index 0).
    Left,
    /// The tail (index -1).
    Right,
}

/// The most bytes of entries a chunk holds (Redis's default `list-max-listpack-size -2`).
pub const CHUNK_BYTES: usize = 8 * 1024;

/// Smallest buffer a chunk starts with.
const MIN_CHUNK_ALLOC: usize = 16;

/// Bytes of a LEB128 encoding of `n`.
#[inline]
fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Bytes an entry of `len` value bytes takes in a chunk.
#[inline]
fn entry_size(len: usize) -> usize {
    2 * varint_len(len) + len
}

/// One chunk: entries packed in `buf[start..end]`.
#[derive(Clone)]
struct Chunk {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    count: usize,
}

impl Chunk {
    /// An empty chunk with a buffer of `cap` bytes.
    fn with_capacity(cap: usize) -> Chunk {
        Chunk {
            buf: vec![0; cap].into_boxed_slice(),
            start: 0,
            end: 0,
            count: 0,
        }
    }

    /// A buffer size for a new chunk that will first receive `need` bytes.
    fn initial_capacity(need: usize) -> usize {
        if need > CHUNK_BYTES {
            need
        } else {
            need.next_power_of_two().clamp(MIN_CHUNK_ALLOC, CHUNK_BYTES)
        }
    }

    #[inline]
    fn used(&self) -> usize {
        self.end - self.start
    }

    #[inline]
    fn cap(&self) -> usize {
        self.buf.len()
    }

    /// Whether `need` more bytes keep this chunk within [`CHUNK_BYTES`].
    #[inline]
    fn accepts(&self, need: usize) -> bool {
        self.used() + need <= CHUNK_BYTES
    }

    /// Reads the LEB128 length at `pos`: (value length, header bytes).
    #[inline]
    fn header_at(&self, pos: usize) -> (usize, usize) {
        let mut v = 0usize;
        let mut shift = 0;
        let mut i = pos;
        loop {
            let b = self.buf[i];
            v |= ((b & 0x7f) as usize) << shift;
            i += 1;
            if b & 0x80 == 0 {
                return (v, i - pos);
            }
            shift += 7;
        }
    }

    /// Reads the backwards length that ends at `end`: (value length, trailer bytes).
    #[inline]
    fn trailer_before(&self, end: usize) -> (usize, usize) {
        let mut v = 0usize;
        let mut shift = 0;
        let mut i = end;
        loop {
            i -= 1;
            let b = self.buf[i];
            v |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                return (v, end - i);
            }
            shift += 7;
        }
    }

    /// The entry starting at `pos`: (value range, entry end).
    #[inline]
    fn entry_at(&self, pos: usize) -> (std::ops::Range<usize>, usize) {
        let (len, hdr) = self.header_at(pos);
        let data = pos + hdr..pos + hdr + len;
        (data.clone(), data.end + hdr)
    }

    /// The entry ending at `end`: (value range, entry start).
    #[inline]
    fn entry_before(&self, end: usize) -> (std::ops::Range<usize>, usize) {
        let (len, hdr) = self.trailer_before(end);
        let data = end - hdr - len..end - hdr;
        (data.clone(), data.start - hdr)
    }

    /// Writes an entry for `value` at `pos` (room already made); returns its end.
    fn write_entry(&mut self, pos: usize, value: &[u8]) -> usize {
        let mut n = value.len();
        let mut hdr = [0u8; 10];
        let mut h = 0;
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                hdr[h] = b;
                h += 1;
                break;
            }
            hdr[h] = b | 0x80;
            h += 1;
        }
        let mut p = pos;
        self.buf[p..p + h].copy_from_slice(&hdr[..h]);
        p += h;
        self.buf[p..p + value.len()].copy_from_slice(value);
        p += value.len();
        for (i, b) in hdr[..h].iter().enumerate() {
            self.buf[p + h - 1 - i] = *b;
        }
        p + h
    }

    /// Replaces the buffer with one of `cap` bytes, the entries placed at `at`.
    fn realloc(&mut self, cap: usize, at: usize, alloc: &mut usize) {
        let used = self.used();
        let mut buf = vec![0u8; cap].into_boxed_slice();
        buf[at..at + used].copy_from_slice(&self.buf[self.start..self.end]);
        *alloc = *alloc - self.cap() + cap;
        self.buf = buf;
        self.start = at;
        self.end = at + used;
    }

    /// The buffer size to grow to for `need` more bytes, or `None` if it cannot grow enough.
    fn grown_capacity(&self, need: usize) -> Option<usize> {
        let want = self.used() + need;
        if self.cap() >= CHUNK_BYTES || want > CHUNK_BYTES {
            return None;
        }
        Some((self.cap() * 2).max(want).min(CHUNK_BYTES))
    }

    /// Makes room for `need` bytes after the last entry; false if a new chunk should be
    /// started instead (see the module docs for the rule).
    fn reserve_back(&mut self, need: usize, alloc: &mut usize) -> bool {
        if self.cap() - self.end >= need {
            return true;
        }
        let used = self.used();
        if self.cap() - used >= need + used / 2 {
            self.buf.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = used;
            return true;
        }
        match self.grown_capacity(need) {
            Some(cap) => {
                self.realloc(cap, 0, alloc);
                true
            }
            None => false,
        }
    }

    /// Makes room for `need` bytes before the first entry; false if a new chunk should be
    /// started instead.
    fn reserve_front(&mut self, need: usize, alloc: &mut usize) -> bool {
        if self.start >= need {
            return true;
        }
        let used = self.used();
        let cap = self.cap();
        if cap - used >= need + used / 2 {
            self.buf.copy_within(self.start..self.end, cap - used);
            self.start = cap - used;
            self.end = cap;
            return true;
        }
        match self.grown_capacity(need) {
            Some(cap) => {
                self.realloc(cap, cap - used, alloc);
                true
            }
            None => false,
        }
    }

    fn push_back(&mut self, value: &[u8]) {
        self.end = self.write_entry(self.end, value);
        self.count += 1;
    }

    fn push_front(&mut self, value: &[u8]) {
        let need = entry_size(value.len());
        self.start -= need;
        self.write_entry(self.start, value);
        self.count += 1;
    }

    /// Byte offset of the `k`-th entry (0-based), walking from the nearer end.
    fn offset_of(&self, k: usize) -> usize {
        debug_assert!(k < self.count);
        if k <= self.count / 2 {
            let mut pos = self.start;
            for _ in 0..k {
                pos = self.entry_at(pos).1;
            }
            pos
        } else {
            let mut pos = self.end;
            for _ in 0..self.count - k {
                pos = self.entry_before(pos).1;
            }
            pos
        }
    }

    /// Inserts an entry at byte offset `pos` (an entry boundary). The caller checked
    /// [`Chunk::accepts`].
    fn insert_at(&mut self, pos: usize, value: &[u8], alloc: &mut usize) {
        let need = entry_size(value.len());
        let before = pos - self.start;
        let after = self.end - pos;
        let room_front = self.start >= need;
        let room_back = self.cap() - self.end >= need;
        let at = if room_front && (before <= after || !room_back) {
            self.buf.copy_within(self.start..pos, self.start - need);
            self.start -= need;
            pos - need
        } else if room_back {
            self.buf.copy_within(pos..self.end, pos + need);
            self.end += need;
            pos
        } else {
            // Grow, leaving the gap at `pos` while copying.
            let cap = (self.cap() * 2)
                .max(self.used() + need)
                .min(CHUNK_BYTES.max(self.used() + need));
            let mut buf = vec![0u8; cap].into_boxed_slice();
            buf[..before].copy_from_slice(&self.buf[self.start..pos]);
            buf[before + need..before + need + after].copy_from_slice(&self.buf[pos..self.end]);
            *alloc = *alloc - self.cap() + cap;
            self.buf = buf;
            self.start = 0;
            self.end = before + need + after;
            before
        };
        self.write_entry(at, value);
        self.count += 1;
    }

    /// Removes the entry at byte offset `pos`, moving the smaller side.
    fn remove_at(&mut self, pos: usize) {
        let (_, entry_end) = self.entry_at(pos);
        let size = entry_end - pos;
        if pos - self.start < self.end - entry_end {
            self.buf.copy_within(self.start..pos, self.start + size);
            self.start += size;
        } else {
            self.buf.copy_within(entry_end..self.end, pos);
            self.end -= size;
        }
        self.count -= 1;
    }

    /// Splits off the entries from byte offset `pos` (the `k`-th entry) into a new chunk.
    fn split_off(&mut self, pos: usize, k: usize, alloc: &mut usize) -> Chunk {
        let tail = self.end - pos;
        let mut right = Chunk::with_capacity(Chunk::initial_capacity(tail).max(tail));
        *alloc += right.cap();
        right.buf[..tail].copy_from_slice(&self.buf[pos..self.end]);
        right.end = tail;
        right.count = self.count - k;
        self.end = pos;
        self.count = k;
        right
    }

    /// Shrinks a mostly empty buffer after removals, so that memory follows content.
    fn shrink(&mut self, alloc: &mut usize) {
        let used = self.used();
        if self.cap() > 4 * MIN_CHUNK_ALLOC && used * 4 < self.cap() {
            let cap = Chunk::initial_capacity(used).max(used) * 2;
            let cap = cap.min(self.cap());
            let at = (cap - used) / 2;
            self.realloc(cap, at, alloc);
        }
    }
}

/// A Redis list.
#[derive(Clone, Default)]
pub struct List {
    chunks: VecDeque<Chunk>,
    len: usize,
    /// Bytes of all chunk buffers (kept up to date so that memory accounting is O(1)).
    alloc: usize,
}

impl List {
    /// An empty list.
    pub fn new() -> List {
        List::default()
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list holds no element (a key never holds an empty list).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of chunks (for tests and OBJECT-like introspection).
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// Bytes of heap the list holds (memory accounting).
    pub fn heap_size(&self) -> usize {
        self.alloc + self.chunks.capacity() * std::mem::size_of::<Chunk>()
    }

    fn new_chunk(&mut self, need: usize) -> Chunk {
        let c = Chunk::with_capacity(Chunk::initial_capacity(need));
        self.alloc += c.cap();
        c
    }

    /// Adds `value` at the tail (RPUSH).
    pub fn push_back(&mut self, value: &[u8]) {
        let need = entry_size(value.len());
        self.len += 1;
        if let Some(tail) = self.chunks.back_mut() {
            if tail.accepts(need) && tail.reserve_back(need, &mut self.alloc) {
                tail.push_back(value);
                return;
            }
        }
        let mut c = self.new_chunk(need);
        c.push_back(value);
        self.chunks.push_back(c);
    }

    /// Adds `value` at the head (LPUSH).
    pub fn push_front(&mut self, value: &[u8]) {
        let need = entry_size(value.len());
        self.len += 1;
        if let Some(head) = self.chunks.front_mut() {
            if head.accepts(need) && head.reserve_front(need, &mut self.alloc) {
                head.push_front(value);
                return;
            }
        }
        let mut c = self.new_chunk(need);
        c.start = c.cap();
        c.end = c.cap();
        c.push_front(value);
        self.chunks.push_front(c);
    }

    /// Adds at the head (`front`) or the tail.
    pub fn push(&mut self, value: &[u8], front: bool) {
        if front {
            self.push_front(value)
        } else {
            self.push_back(value)
        }
    }

    fn drop_chunk(&mut self, ci: usize) {
        if let Some(c) = self.chunks.remove(ci) {
            self.alloc -= c.cap();
        }
    }

    /// Removes and returns the head element (LPOP).
    pub fn pop_front(&mut self) -> Option<Bytes> {
        let head = self.chunks.front_mut()?;
        let (data, next) = head.entry_at(head.start);
        let value = Bytes::copy_from_slice(&head.buf[data]);
        head.start = next;
        head.count -= 1;
        self.len -= 1;
        if head.count == 0 {
            self.drop_chunk(0);
        }
        Some(value)
    }

    /// Removes and returns the tail element (RPOP).
    pub fn pop_back(&mut self) -> Option<Bytes> {
        let tail = self.chunks.back_mut()?;
        let (data, prev) = tail.entry_before(tail.end);
        let value = Bytes::copy_from_slice(&tail.buf[data]);
        tail.end = prev;
        tail.count -= 1;
        self.len -= 1;
        if tail.count == 0 {
            self.drop_chunk(self.chunks.len() - 1);
        }
        Some(value)
    }

    /// Removes and returns the head (`front`) or tail element.
    pub fn pop(&mut self, front: bool) -> Option<Bytes> {
        if front {
            self.pop_front()
        } else {
            self.pop_back()
        }
    }

    /// Chunk index, entry index within the chunk, and byte offset of element `index`.
    fn locate(&self, index: usize) -> Option<(usize, usize, usize)> {
        if index >= self.len {
            return None;
        }
        if index < self.len / 2 {
            let mut acc = 0;
            for (ci, c) in self.chunks.iter().enumerate() {
                if index < acc + c.count {
                    let k = index - acc;
                    return Some((ci, k, c.offset_of(k)));
                }
                acc += c.count;
            }
        } else {
            let mut acc = self.len;
            for (ci, c) in self.chunks.iter().enumerate().rev() {
                acc -= c.count;
                if index >= acc {
                    let k = index - acc;
                    return Some((ci, k, c.offset_of(k)));
                }
            }
        }
        None
    }

    /// The element at `index` (0 is the head), if in range.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let (ci, _, pos) = self.locate(index)?;
        let c = &self.chunks[ci];
        Some(&c.buf[c.entry_at(pos).0])
    }

    /// Replaces the element at `index`; false if out of range (LSET).
    pub fn set(&mut self, index: usize, value: &[u8]) -> bool {
        let Some((ci, _, pos)) = self.locate(index) else {
            return false;
        };
        let c = &mut self.chunks[ci];
        let (_, end) = c.entry_at(pos);
        if end - pos == entry_size(value.len()) {
            c.write_entry(pos, value);
            return true;
        }
        self.remove(index);
        self.insert(index, value);
        true
    }

    /// Inserts `value` so that it becomes element `index` (`index == len` appends).
    pub fn insert(&mut self, index: usize, value: &[u8]) {
        if index == 0 {
            return self.push_front(value);
        }
        if index >= self.len {
            return self.push_back(value);
        }
        let Some((ci, k, pos)) = self.locate(index) else {
            return self.push_back(value);
        };
        let need = entry_size(value.len());
        self.len += 1;
        if self.chunks[ci].accepts(need) {
            self.chunks[ci].insert_at(pos, value, &mut self.alloc);
            return;
        }
        if k == 0 {
            // The new element goes between chunk ci-1 and ci.
            if let Some(prev) = self.chunks.get_mut(ci - 1).filter(|p| p.accepts(need)) {
                if prev.reserve_back(need, &mut self.alloc) {
                    prev.push_back(value);
                    return;
                }
            }
            let mut c = self.new_chunk(need);
            c.push_back(value);
            self.chunks.insert(ci, c);
            return;
        }
        let mut right = self.chunks[ci].split_off(pos, k, &mut self.alloc);
        let left = &mut self.chunks[ci];
        if left.accepts(need) && left.reserve_back(need, &mut self.alloc) {
            left.push_back(value);
        } else if right.accepts(need) && right.reserve_front(need, &mut self.alloc) {
            right.push_front(value);
        } else {
            let mut c = self.new_chunk(need);
            c.push_back(value);
            self.chunks.insert(ci + 1, c);
            self.chunks.insert(ci + 2, right);
            return;
        }
        self.chunks.insert(ci + 1, right);
    }

    /// Removes the element at `index`; false if out of range.
    pub fn remove(&mut self, index: usize) -> bool {
        let Some((ci, _, pos)) = self.locate(index) else {
            return false;
        };
        self.chunks[ci].remove_at(pos);
        self.len -= 1;
        if self.chunks[ci].count == 0 {
            self.drop_chunk(ci);
        } else {
            self.tidy(ci);
        }
        true
    }

    /// After removals in chunk `ci`: merges it into a neighbour when both fit in one chunk,
    /// and shrinks its buffer when mostly empty.
    fn tidy(&mut self, ci: usize) {
        let used = self.chunks[ci].used();
        if used * 4 < CHUNK_BYTES {
            for (a, b) in [(ci.wrapping_sub(1), ci), (ci, ci + 1)] {
                if a >= self.chunks.len() || b >= self.chunks.len() {
                    continue;
                }
                if self.chunks[a].used() + self.chunks[b].used() <= CHUNK_BYTES {
                    self.merge(a, b);
                    return;
                }
            }
        }
        self.chunks[ci].shrink(&mut self.alloc);
    }

    /// Appends chunk `b`'s entries (b == a + 1) to chunk `a` and drops `b`.
    fn merge(&mut self, a: usize, b: usize) {
        let Some(right) = self.chunks.remove(b) else {
            return;
        };
        self.alloc -= right.cap();
        let left = &mut self.chunks[a];
        let need = right.used();
        if left.cap() - left.end < need {
            let used = left.used();
            let cap = Chunk::initial_capacity(used + need).max(used + need);
            left.realloc(cap, 0, &mut self.alloc);
        }
        let end = left.end;
        left.buf[end..end + need].copy_from_slice(&right.buf[right.start..right.end]);
        left.end += need;
        left.count += right.count;
    }

    /// Removes `n` elements from the head (LTRIM, LPOP with a count).
    pub fn drop_front(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let head = &mut self.chunks[0];
            if n >= head.count {
                n -= head.count;
                self.drop_chunk(0);
                continue;
            }
            let mut pos = head.start;
            for _ in 0..n {
                pos = head.entry_at(pos).1;
            }
            head.start = pos;
            head.count -= n;
            head.shrink(&mut self.alloc);
            break;
        }
    }

    /// Removes `n` elements from the tail.
    pub fn drop_back(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let last = self.chunks.len() - 1;
            let tail = &mut self.chunks[last];
            if n >= tail.count {
                n -= tail.count;
                self.drop_chunk(last);
                continue;
            }
            let mut pos = tail.end;
            for _ in 0..n {
                pos = tail.entry_before(pos).1;
            }
            tail.end = pos;
            tail.count -= n;
            tail.shrink(&mut self.alloc);
            break;
        }
    }

    /// Removes up to `limit` elements equal to `value`, scanning from the head, or from the
    /// tail when `from_tail` (LREM); returns how many were removed.
    pub fn remove_matching(&mut self, value: &[u8], limit: usize, from_tail: bool) -> usize {
        let mut removed = 0;
        let order: Vec<usize> = if from_tail {
            (0..self.chunks.len()).rev().collect()
        } else {
            (0..self.chunks.len()).collect()
        };
        let mut touched = Vec::new();
        for ci in order {
            if removed >= limit {
                break;
            }
            let c = &mut self.chunks[ci];
            let before = removed;
            if from_tail {
                let (mut r, mut w) = (c.end, c.end);
                while r > c.start {
                    let (data, s) = c.entry_before(r);
                    if removed < limit && &c.buf[data] == value {
                        removed += 1;
                    } else {
                        let size = r - s;
                        if w != r {
                            c.buf.copy_within(s..r, w - size);
                        }
                        w -= size;
                    }
                    r = s;
                }
                c.start = w;
            } else {
                let (mut r, mut w) = (c.start, c.start);
                while r < c.end {
                    let (data, e) = c.entry_at(r);
                    if removed < limit && &c.buf[data] == value {
                        removed += 1;
                    } else {
                        let size = e - r;
                        if w != r {
                            c.buf.copy_within(r..e, w);
                        }
                        w += size;
                    }
                    r = e;
                }
                c.end = w;
            }
            if removed > before {
                c.count -= removed - before;
                touched.push(ci);
            }
        }
        self.len -= removed;
        // Drop emptied chunks and tidy the others, highest index first so indexes hold.
        touched.sort_unstable();
        for &ci in touched.iter().rev() {
            if ci >= self.chunks.len() {
                continue;
            }
            if self.chunks[ci].count == 0 {
                self.drop_chunk(ci);
            } else {
                self.tidy(ci);
            }
        }
        removed
    }

    /// The index of the first element equal to `value`, from the head.
    pub fn position(&self, value: &[u8]) -> Option<usize> {
        self.iter().position(|e| e == value)
    }

    /// All elements, head to tail (reversible).
    pub fn iter(&self) -> Iter<'_> {
        self.range(0, self.len)
    }

    /// Elements `start..end` (clamped to the list), head to tail (reversible).
    pub fn range(&self, start: usize, end: usize) -> Iter<'_> {
        let end = end.min(self.len);
        if start >= end {
            return Iter {
                list: self,
                front: (0, 0),
                back: (0, 0),
                remaining: 0,
            };
        }
        let front = self
            .locate(start)
            .map(|(ci, _, pos)| (ci, pos))
            .unwrap_or((0, 0));
        let back = self
            .locate(end - 1)
            .map(|(ci, _, pos)| (ci, self.chunks[ci].entry_at(pos).1))
            .unwrap_or((0, 0));
        Iter {
            list: self,
            front,
            back,
            remaining: end - start,
        }
    }

    /// Checks internal consistency (tests).
    #[cfg(test)]
    fn check(&self) {
        let mut total = 0;
        let mut alloc = 0;
        for c in &self.chunks {
            assert!(c.count > 0, "empty chunk kept");
            assert!(c.start <= c.end && c.end <= c.cap());
            let mut pos = c.start;
            let mut n = 0;
            while pos < c.end {
                pos = c.entry_at(pos).1;
                n += 1;
            }
            assert_eq!(pos, c.end);
            assert_eq!(n, c.count);
            total += c.count;
            alloc += c.cap();
        }
        assert_eq!(total, self.len);
        assert_eq!(alloc, self.alloc);
    }
}

impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|e| String::from_utf8_lossy(e).into_owned()))
            .finish()
    }
}

impl<A: AsRef<[u8]>> FromIterator<A> for List {
    fn from_iter<I: IntoIterator<Item = A>>(iter: I) -> Self {
        let mut l = List::new();
        for v in iter {
            l.push_back(v.as_ref());
        }
        l
    }
}

/// Iterator over a range of a list's elements, from either end.
pub struct Iter<'a> {
    list: &'a List,
    /// Chunk index and byte offset of the next element from the front.
    front: (usize, usize),
    /// Chunk index and byte offset just past the next element from the back.
    back: (usize, usize),
    remaining: usize,
}

impl fmt::Debug for Iter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("remaining", &self.remaining)
            .finish()
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let chunks = &self.list.chunks;
        let (mut ci, mut pos) = self.front;
        if pos == chunks[ci].end {
            ci += 1;
            pos = chunks[ci].start;
        }
        let c = &chunks[ci];
        let (data, next) = c.entry_at(pos);
        self.front = (ci, next);
        self.remaining -= 1;
        Some(&c.buf[data])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let chunks = &self.list.chunks;
        let (mut ci, mut pos) = self.back;
        if pos == chunks[ci].start {
            ci -= 1;
            pos = chunks[ci].end;
        }
        let c = &chunks[ci];
        let (data, prev) = c.entry_before(pos);
        self.back = (ci, prev);
        self.remaining -= 1;
        Some(&c.buf[data])
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    fn value(rng: &mut SmallRng) -> Vec<u8> {
        let len = match rng.random_range(0..100) {
            0..=59 => rng.random_range(0..12),
            60..=89 => rng.random_range(0..300),
            90..=97 => rng.random_range(300..3000),
            _ => rng.random_range(7000..20000),
        };
        let tag: u8 = rng.random_range(0..4);
        (0..len).map(|i| tag.wrapping_add(i as u8)).collect()
    }

    fn same(l: &List, m: &VecDeque<Vec<u8>>) {
        l.check();
        assert_eq!(l.len(), m.len());
        assert!(l.iter().eq(m.iter().map(|v| v.as_slice())));
        assert!(l.iter().rev().eq(m.iter().rev().map(|v| v.as_slice())));
    }

    #[test]
    fn random_ops_match_vecdeque() {
        for seed in 0..40u64 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let mut l = List::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..1500 {
                let op = rng.random_range(0..100);
                match op {
                    0..=24 => {
                        let v = value(&mut rng);
                        l.push_back(&v);
                        m.push_back(v);
                    }
                    25..=44 => {
                        let v = value(&mut rng);
                        l.push_front(&v);
                        m.push_front(v);
                    }
                    45..=54 => assert_eq!(l.pop_front().as_deref(), m.pop_front().as_deref()),
                    55..=64 => assert_eq!(l.pop_back().as_deref(), m.pop_back().as_deref()),
                    65..=69 => {
                        let i = rng.random_range(0..=m.len());
                        let v = value(&mut rng);
                        l.insert(i, &v);
                        m.insert(i, v);
                    }
                    70..=74 if !m.is_empty() => {
                        let i = rng.random_range(0..m.len());
                        assert!(l.remove(i));
                        m.remove(i);
                    }
                    75..=79 if !m.is_empty() => {
                        let i = rng.random_range(0..m.len());
                        let v = value(&mut rng);
                        assert!(l.set(i, &v));
                        m[i] = v;
                    }
                    80..=84 if !m.is_empty() => {
                        let i = rng.random_range(0..m.len());
                        assert_eq!(l.get(i), Some(m[i].as_slice()));
                        assert_eq!(l.get(m.len()), None);
                    }
                    85..=87 => {
                        let a = rng.random_range(0..=m.len().min(5));
                        let b = rng.random_range(0..=m.len().min(5));
                        l.drop_front(a);
                        l.drop_back(b);
                        let a = a.min(m.len());
                        m.drain(..a);
                        let b = b.min(m.len());
                        m.truncate(m.len() - b);
                    }
                    88..=93 if !m.is_empty() => {
                        let target = m[rng.random_range(0..m.len())].clone();
                        let limit = rng.random_range(1..4);
                        let from_tail = rng.random_bool(0.5);
                        let n = l.remove_matching(&target, limit, from_tail);
                        let mut removed = 0;
                        if from_tail {
                            let mut i = m.len();
                            while i > 0 && removed < limit {
                                i -= 1;
                                if m[i] == target {
                                    m.remove(i);
                                    removed += 1;
                                }
                            }
                        } else {
                            let mut i = 0;
                            while i < m.len() && removed < limit {
                                if m[i] == target {
                                    m.remove(i);
                                    removed += 1;
                                } else {
                                    i += 1;
                                }
                            }
                        }
                        assert_eq!(n, removed);
                    }
                    _ if !m.is_empty() => {
                        let a = rng.random_range(0..m.len());
                        let b = rng.random_range(a..=m.len());
                        assert!(l.range(a, b).eq(m.range(a..b).map(|v| v.as_slice())));
                        assert!(
                            l.range(a, b)
                                .rev()
                                .eq(m.range(a..b).rev().map(|v| v.as_slice()))
                        );
                    }
                    _ => {}
                }
                if step % 50 == 0 {
                    same(&l, &m);
                }
            }
            same(&l, &m);
        }
    }

    #[test]
    fn queue_use_keeps_chunks_bounded() {
        let mut l = List::new();
        for i in 0..200_000u32 {
            l.push_back(&i.to_le_bytes());
            if i >= 1000 {
                assert_eq!(
                    l.pop_front().as_deref(),
                    Some(&(i - 1000).to_le_bytes()[..])
                );
            }
        }
        l.check();
        assert_eq!(l.len(), 1000);
        // 1000 entries of 6 bytes fit in one or two chunks.
        assert!(l.chunk_count() <= 2, "{} chunks", l.chunk_count());
        assert!(l.heap_size() < 3 * CHUNK_BYTES);
    }

    #[test]
    fn big_entries_get_their_own_chunk() {
        let mut l = List::new();
        l.push_back(b"a");
        l.push_back(&vec![7u8; CHUNK_BYTES * 2]);
        l.push_back(b"b");
        l.check();
        assert_eq!(l.chunk_count(), 3);
        assert_eq!(l.get(1).map(|v| v.len()), Some(CHUNK_BYTES * 2));
        l.insert(1, &vec![1u8; CHUNK_BYTES + 1]);
        l.check();
        assert_eq!(l.get(1).map(|v| v.len()), Some(CHUNK_BYTES + 1));
    }

    #[test]
    fn small_lists_are_small() {
        let mut l = List::new();
        l.push_back(b"hello");
        assert_eq!(l.chunk_count(), 1);
        assert!(l.alloc <= MIN_CHUNK_ALLOC);
        for _ in 0..100 {
            l.push_front(b"x");
        }
        l.check();
        assert_eq!(l.chunk_count(), 1);
        assert!(l.alloc <= 512);
    }

    #[test]
    fn varint_lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 16383, 16384, 70000] {
            let v = vec![9u8; len];
            let mut l = List::new();
            l.push_back(&v);
            l.push_front(&v);
            assert_eq!(l.get(0), Some(v.as_slice()));
            assert_eq!(l.pop_back().as_deref(), Some(v.as_slice()));
            l.check();
        }
    }
}
