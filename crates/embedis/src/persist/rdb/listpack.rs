//! Redis's listpack blob (the compact encoding of small hashes, zsets and list nodes in RDB
//! files): decoded with every length checked, and written the way Redis writes it (strings
//! that are canonical integers stored as integers, in the smallest integer encoding).
//!
//! Layout: `u32` total bytes, `u16` element count (65535: "count them"), the entries, 0xFF.
//! An entry is its encoding byte(s) and data, then a back-length of 1..5 bytes.

use std::borrow::Cow;

/// An element of a listpack (or ziplist): integers are stored as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem<'a> {
    /// An integer element.
    Int(i64),
    /// A string element.
    Bytes(&'a [u8]),
}

impl<'a> Elem<'a> {
    /// The element as bytes (decimal text for integers).
    pub fn to_bytes(self) -> Cow<'a, [u8]> {
        match self {
            Elem::Int(n) => Cow::Owned(itoa::Buffer::new().format(n).as_bytes().to_vec()),
            Elem::Bytes(b) => Cow::Borrowed(b),
        }
    }
}

const HEADER: usize = 6;
const EOF: u8 = 0xFF;

/// Why a listpack could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListpackError;

fn get(b: &[u8], i: usize) -> Result<u8, ListpackError> {
    b.get(i).copied().ok_or(ListpackError)
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Decodes every element, checking the header, each entry and its back-length, and the
/// terminator.
pub fn decode(lp: &[u8]) -> Result<Vec<Elem<'_>>, ListpackError> {
    if lp.len() < HEADER + 1 {
        return Err(ListpackError);
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    if total != lp.len() || lp[lp.len() - 1] != EOF {
        return Err(ListpackError);
    }
    let count = u16::from_le_bytes([lp[4], lp[5]]) as usize;
    let end = lp.len() - 1;
    let mut out = Vec::with_capacity(count.min(end / 2));
    let mut p = HEADER;
    while p < end {
        let start = p;
        let c = lp[p];
        let (elem, entry_len) = if c & 0x80 == 0 {
            (Elem::Int((c & 0x7f) as i64), 1)
        } else if c & 0xC0 == 0x80 {
            let len = (c & 0x3f) as usize;
            (Elem::Bytes(slice(lp, p + 1, len, end)?), 1 + len)
        } else if c & 0xE0 == 0xC0 {
            let v = ((c & 0x1f) as u64) << 8 | get(lp, p + 1)? as u64;
            (Elem::Int(sign_extend(v, 13)), 2)
        } else if c & 0xF0 == 0xE0 {
            let len = ((c & 0x0f) as usize) << 8 | get(lp, p + 1)? as usize;
            (Elem::Bytes(slice(lp, p + 2, len, end)?), 2 + len)
        } else {
            match c {
                0xF0 => {
                    let l = slice(lp, p + 1, 4, end)?;
                    let len = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
                    (Elem::Bytes(slice(lp, p + 5, len, end)?), 5 + len)
                }
                0xF1..=0xF4 => {
                    let n = match c {
                        0xF1 => 2,
                        0xF2 => 3,
                        0xF3 => 4,
                        _ => 8,
                    };
                    let d = slice(lp, p + 1, n, end)?;
                    let mut v = 0u64;
                    for (i, &b) in d.iter().enumerate() {
                        v |= (b as u64) << (8 * i);
                    }
                    (Elem::Int(sign_extend(v, 8 * n as u32)), 1 + n)
                }
                _ => return Err(ListpackError),
            }
        };
        p = start + entry_len;
        let bl = backlen_size(entry_len);
        let stored = slice(lp, p, bl, end)?;
        let mut enc = [0u8; 5];
        encode_backlen(entry_len, &mut enc);
        if stored != &enc[..bl] {
            return Err(ListpackError);
        }
        p += bl;
        out.push(elem);
    }
    if count != u16::MAX as usize && count != out.len() {
        return Err(ListpackError);
    }
    Ok(out)
}

fn slice(b: &[u8], at: usize, len: usize, end: usize) -> Result<&[u8], ListpackError> {
    let stop = at.checked_add(len).ok_or(ListpackError)?;
    if stop > end {
        return Err(ListpackError);
    }
    Ok(&b[at..stop])
}

fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

fn encode_backlen(l: usize, buf: &mut [u8; 5]) -> usize {
    let n = backlen_size(l);
    // Most significant 7-bit group first; every byte but the first has the high bit set.
    for (i, slot) in buf.iter_mut().take(n).enumerate() {
        let shift = 7 * (n - 1 - i);
        let group = ((l >> shift) & 0x7f) as u8;
        *slot = if i == 0 { group } else { group | 0x80 };
    }
    n
}

/// Builds a listpack, the way Redis's `lpAppend` encodes each element.
#[derive(Debug, Default)]
pub struct Builder {
    buf: Vec<u8>,
    count: usize,
}

impl Builder {
    /// An empty listpack.
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; HEADER]);
        Builder { buf, count: 0 }
    }

    /// Appends a string element (stored as an integer when it is a canonical one).
    pub fn push(&mut self, item: &[u8]) {
        if item.len() <= 20 {
            if let Some(n) = crate::num::parse_i64(item) {
                self.push_int(n);
                return;
            }
        }
        let start = self.buf.len();
        let len = item.len();
        if len < 64 {
            self.buf.push(0x80 | len as u8);
        } else if len < 4096 {
            self.buf.push(0xE0 | (len >> 8) as u8);
            self.buf.push(len as u8);
        } else {
            self.buf.push(0xF0);
            self.buf.extend_from_slice(&(len as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(item);
        self.finish_entry(start);
    }

    /// Appends an integer element.
    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&v) {
            self.buf.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1fff;
            self.buf.push(0xC0 | (u >> 8) as u8);
            self.buf.push(u as u8);
        } else {
            let (tag, n) = if (-32768..=32767).contains(&v) {
                (0xF1, 2)
            } else if (-8_388_608..=8_388_607).contains(&v) {
                (0xF2, 3)
            } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
                (0xF3, 4)
            } else {
                (0xF4, 8)
            };
            self.buf.push(tag);
            self.buf.extend_from_slice(&v.to_le_bytes()[..n]);
        }
        self.finish_entry(start);
    }

    fn finish_entry(&mut self, start: usize) {
        let mut bl = [0u8; 5];
        let n = encode_backlen(self.buf.len() - start, &mut bl);
        self.buf.extend_from_slice(&bl[..n]);
        self.count += 1;
    }

    /// Number of elements so far.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Bytes the finished listpack will take (what Redis's quicklist calls a node's `sz`).
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// Whether no element was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The finished blob.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(EOF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(u16::MAX as usize) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_redis_writes() {
        // The listpack inside redis-server 7.0's DUMP of HSET h f1 v1 f2 123 f3 -5.
        let redis: &[u8] = b"\x1c\x00\x00\x00\x06\x00\x82f1\x03\x82v1\x03\x82f2\x03{\x01\x82f3\x03\xdf\xfb\x02\xff";
        let mut b = Builder::new();
        for s in ["f1", "v1", "f2", "123", "f3", "-5"] {
            b.push(s.as_bytes());
        }
        let ours = b.finish();
        assert_eq!(ours, redis);
        let elems = decode(redis).unwrap();
        assert_eq!(elems[3], Elem::Int(123));
        assert_eq!(elems[5], Elem::Int(-5));
        assert_eq!(elems[0], Elem::Bytes(b"f1"));
    }

    #[test]
    fn every_encoding_round_trips() {
        let ints = [
            0i64,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            -32768,
            32767,
            -8_388_608,
            8_388_607,
            8_388_608,
            i32::MIN as i64,
            i32::MAX as i64,
            i64::MIN,
            i64::MAX,
        ];
        let strings = [
            vec![b'x'; 0],
            vec![b'y'; 63],
            vec![b'z'; 64],
            vec![b'w'; 4095],
            vec![b'v'; 70_000],
        ];
        let mut b = Builder::new();
        for &n in &ints {
            b.push_int(n);
        }
        for s in &strings {
            b.push(s);
        }
        b.push(b"007");
        let lp = b.finish();
        let elems = decode(&lp).unwrap();
        for (i, &n) in ints.iter().enumerate() {
            assert_eq!(elems[i], Elem::Int(n));
        }
        for (i, s) in strings.iter().enumerate() {
            assert_eq!(elems[ints.len() + i], Elem::Bytes(s));
        }
        assert_eq!(elems.last(), Some(&Elem::Bytes(b"007")));
    }

    #[test]
    fn corrupt_blobs_are_errors() {
        let mut b = Builder::new();
        b.push(b"hello");
        b.push_int(1000);
        let lp = b.finish();
        for cut in 0..lp.len() {
            assert!(decode(&lp[..cut]).is_err());
        }
        for i in 0..lp.len() {
            for v in [0u8, 0x7f, 0x80, 0xf0, 0xff] {
                let mut bad = lp.clone();
                bad[i] = v;
                let _ = decode(&bad); // must not panic
            }
        }
    }
}
