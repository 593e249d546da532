//! The string type: bytes, with Redis's `int` encoding for values that are canonical
//! integers, so that INCR does not re-parse and OBJECT ENCODING answers like Redis.
//!
//! What each command leaves (OBJECT ENCODING, checked against Redis 7.0):
//! - SET, SETNX, SETEX, PSETEX, GETSET, MSET, MSETNX, and APPEND or SETRANGE creating the
//!   key ([`Str::from_bytes`]): `int` for a canonical integer of at most 20 bytes, else
//!   `embstr` up to 44 bytes, else `raw`. (SETRANGE creating a key is the exception: `raw`.)
//! - INCR, DECR, INCRBY, DECRBY: `int` ([`Str::Int`]).
//! - INCRBYFLOAT: `embstr` or `raw` by length, never `int`, even for `"2"`
//!   ([`Str::plain`]).
//! - APPEND and SETRANGE on an existing key: `raw`, even when they add nothing (APPEND of
//!   `""`); SETRANGE with an empty value leaves the value untouched ([`Str::make_raw`]).
//! - GET, GETEX, GETDEL, GETRANGE, STRLEN, LCS, MGET: unchanged.

use std::borrow::Cow;

use super::heap::block;

/// Longest value kept in the `embstr` encoding by Redis (for OBJECT ENCODING).
pub const EMBSTR_MAX: usize = 44;

/// Longest value stored inside the [`StrBytes`] itself, without an allocation.
pub const INLINE_MAX: usize = 15;

/// The bytes of a string value, in the cheapest form for its length and history:
///
/// - `Inline`: up to [`INLINE_MAX`] bytes inside the value (a cache entry's short value costs
///   no allocation at all);
/// - `Embed`: up to [`EMBSTR_MAX`] bytes in one exact-size allocation, never modified in place
///   (Redis's `embstr`);
/// - `Vec`: a growable buffer, for values modified in place (APPEND, SETRANGE, SETBIT: Redis's
///   `raw`) and long values.
///
/// 24 bytes, like a `Vec`: the keyspace relies on it (see `keyspace::entry`).
#[derive(Clone)]
pub enum StrBytes {
    /// A short value held inline.
    Inline {
        /// Number of bytes used in `buf`.
        len: u8,
        /// The bytes (the first `len`).
        buf: [u8; INLINE_MAX],
    },
    /// An `embstr` value of more than [`INLINE_MAX`] bytes.
    Embed(Box<[u8]>),
    /// A `raw` value: growable.
    Vec(Vec<u8>),
}

impl StrBytes {
    /// The bytes of a value stored as SET stores text (`embstr` up to 44 bytes, else `raw`).
    fn plain_from(b: &[u8]) -> StrBytes {
        if b.len() <= INLINE_MAX {
            let mut buf = [0; INLINE_MAX];
            buf[..b.len()].copy_from_slice(b);
            StrBytes::Inline {
                len: b.len() as u8,
                buf,
            }
        } else if b.len() <= EMBSTR_MAX {
            StrBytes::Embed(b.into())
        } else {
            StrBytes::Vec(b.to_vec())
        }
    }

    /// As [`StrBytes::plain_from`], reusing `v`'s allocation where it is kept.
    fn plain_from_vec(v: Vec<u8>) -> StrBytes {
        if v.len() <= INLINE_MAX {
            Self::plain_from(&v)
        } else if v.len() <= EMBSTR_MAX {
            StrBytes::Embed(v.into_boxed_slice())
        } else {
            StrBytes::Vec(v)
        }
    }

    /// Whether the value is growable (`raw`).
    pub fn is_raw(&self) -> bool {
        matches!(self, StrBytes::Vec(_))
    }

    /// Heap bytes held.
    pub fn heap_size(&self) -> usize {
        match self {
            StrBytes::Inline { .. } => 0,
            StrBytes::Embed(b) => block(b.len()),
            StrBytes::Vec(v) => block(v.capacity()),
        }
    }
}

impl std::ops::Deref for StrBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            StrBytes::Inline { len, buf } => &buf[..*len as usize],
            StrBytes::Embed(b) => b,
            StrBytes::Vec(v) => v,
        }
    }
}

impl AsRef<[u8]> for StrBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl PartialEq for StrBytes {
    /// Same bytes and the same encoding class (`embstr` or `raw`), whatever the storage.
    fn eq(&self, other: &Self) -> bool {
        self.is_raw() == other.is_raw() && **self == **other
    }
}

impl Eq for StrBytes {}

impl std::fmt::Debug for StrBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.is_raw() { "raw" } else { "embstr" };
        write!(f, "{kind}({:?})", String::from_utf8_lossy(self))
    }
}

/// A string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Str {
    /// A canonical decimal integer (what `string2ll` accepts), stored as its number.
    Int(i64),
    /// Any other bytes. [`StrBytes::is_raw`] records that the value was modified in place
    /// (APPEND, SETRANGE, SETBIT...) or is long, which Redis reports as the `raw` encoding.
    Bytes {
        /// The bytes.
        data: StrBytes,
    },
}

impl Str {
    /// A value as SET stores it: `int` when the bytes are a canonical integer.
    pub fn from_bytes(b: &[u8]) -> Str {
        if b.len() <= 20 {
            if let Some(n) = crate::num::parse_i64(b) {
                return Str::Int(n);
            }
        }
        Str::Bytes {
            data: StrBytes::plain_from(b),
        }
    }

    /// A value from an owned buffer, as SET stores it.
    pub fn from_vec(b: Vec<u8>) -> Str {
        if b.len() <= 20 {
            if let Some(n) = crate::num::parse_i64(&b) {
                return Str::Int(n);
            }
        }
        Str::plain(b)
    }

    /// A value stored as text whatever it looks like (INCRBYFLOAT's result): `embstr` or `raw`
    /// by length, never `int`.
    pub fn plain(data: Vec<u8>) -> Str {
        Str::Bytes {
            data: StrBytes::plain_from_vec(data),
        }
    }

    /// A value built in place (SETRANGE creating a key, BITOP): always `raw`.
    pub fn raw(data: Vec<u8>) -> Str {
        Str::Bytes {
            data: StrBytes::Vec(data),
        }
    }

    /// The bytes of the value.
    pub fn as_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Str::Int(n) => Cow::Owned(itoa::Buffer::new().format(*n).as_bytes().to_vec()),
            Str::Bytes { data } => Cow::Borrowed(data),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Str::Int(n) => itoa::Buffer::new().format(*n).len(),
            Str::Bytes { data } => data.len(),
        }
    }

    /// Whether the value is the empty string.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value as an integer, if it is one (for INCR and friends).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Str::Int(n) => Some(*n),
            Str::Bytes { data } => crate::num::parse_i64(data),
        }
    }

    /// A mutable byte buffer for in-place edits (APPEND, SETRANGE, SETBIT); the value becomes
    /// `raw` as in Redis.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        let bytes: Option<Vec<u8>> = match self {
            Str::Int(n) => Some(itoa::Buffer::new().format(*n).as_bytes().to_vec()),
            Str::Bytes {
                data: StrBytes::Vec(_),
            } => None,
            Str::Bytes { data } => Some(data.to_vec()),
        };
        if let Some(v) = bytes {
            *self = Str::raw(v);
        }
        match self {
            Str::Bytes {
                data: StrBytes::Vec(v),
            } => v,
            _ => unreachable!("converted above"),
        }
    }

    /// The OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Str::Int(_) => "int",
            Str::Bytes { data } if data.is_raw() => "raw",
            Str::Bytes { .. } => "embstr",
        }
    }

    /// Bytes of heap this value holds (for memory accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Str::Int(_) => 0,
            Str::Bytes { data } => data.heap_size(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(Str::from_bytes(b"123").encoding(), "int");
        assert_eq!(Str::from_bytes(b"0123").encoding(), "embstr");
        assert_eq!(Str::from_bytes(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Str::from_bytes(&[b'a'; 45]).encoding(), "raw");
        let mut s = Str::from_bytes(b"12");
        s.make_raw().push(b'3');
        assert_eq!(s.encoding(), "raw");
        assert_eq!(s.as_bytes().as_ref(), b"123");
        assert_eq!(Str::plain(b"2".to_vec()).encoding(), "embstr");
        assert_eq!(Str::plain(b"2".to_vec()).as_i64(), Some(2));
        assert_eq!(Str::raw(b"ab".to_vec()).encoding(), "raw");
        let mut n = Str::Int(-12);
        n.make_raw();
        assert_eq!((n.encoding(), n.len()), ("raw", 3));
    }

    #[test]
    fn short_values_cost_no_allocation() {
        assert_eq!(std::mem::size_of::<Str>(), 24);
        let s = Str::from_bytes(b"xxx");
        assert_eq!((s.heap_size(), s.as_bytes().as_ref()), (0, &b"xxx"[..]));
        let s = Str::from_bytes(&[b'a'; 15]);
        assert_eq!(s.heap_size(), 0);
        let s = Str::from_bytes(&[b'a'; 16]);
        assert_eq!((s.encoding(), s.heap_size()), ("embstr", 32));
        let mut s = Str::from_bytes(b"ab");
        s.make_raw().extend_from_slice(b"cd");
        assert_eq!((s.encoding(), s.as_bytes().as_ref()), ("raw", &b"abcd"[..]));
        assert_ne!(Str::raw(b"ab".to_vec()), Str::from_bytes(b"ab"));
        assert_eq!(Str::plain(b"ab".to_vec()), Str::from_bytes(b"ab"));
    }
}
