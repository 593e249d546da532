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

/// Longest value kept in the `embstr` encoding by Redis (for OBJECT ENCODING).
pub const EMBSTR_MAX: usize = 44;

/// A string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Str {
    /// A canonical decimal integer (what `string2ll` accepts), stored as its number.
    Int(i64),
    /// Any other bytes. `raw` records that the value was modified in place (APPEND, SETRANGE,
    /// SETBIT...), which Redis reports as the `raw` encoding whatever its length.
    Bytes { data: Vec<u8>, raw: bool },
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
            data: b.to_vec(),
            raw: false,
        }
    }

    /// A value from an owned buffer, as SET stores it.
    pub fn from_vec(b: Vec<u8>) -> Str {
        if b.len() <= 20 {
            if let Some(n) = crate::num::parse_i64(&b) {
                return Str::Int(n);
            }
        }
        Str::Bytes {
            data: b,
            raw: false,
        }
    }

    /// A value stored as text whatever it looks like (INCRBYFLOAT's result): `embstr` or `raw`
    /// by length, never `int`.
    pub fn plain(data: Vec<u8>) -> Str {
        Str::Bytes { data, raw: false }
    }

    /// A value built in place (SETRANGE creating a key): always `raw`.
    pub fn raw(data: Vec<u8>) -> Str {
        Str::Bytes { data, raw: true }
    }

    /// The bytes of the value.
    pub fn as_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Str::Int(n) => Cow::Owned(itoa::Buffer::new().format(*n).as_bytes().to_vec()),
            Str::Bytes { data, .. } => Cow::Borrowed(data),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Str::Int(n) => itoa::Buffer::new().format(*n).len(),
            Str::Bytes { data, .. } => data.len(),
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
            Str::Bytes { data, .. } => crate::num::parse_i64(data),
        }
    }

    /// A mutable byte buffer for in-place edits (APPEND, SETRANGE, SETBIT); the value becomes
    /// `raw` as in Redis.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if let Str::Int(n) = *self {
            *self = Str::Bytes {
                data: itoa::Buffer::new().format(n).as_bytes().to_vec(),
                raw: true,
            };
        }
        match self {
            Str::Bytes { data, raw } => {
                *raw = true;
                data
            }
            Str::Int(_) => unreachable!("converted above"),
        }
    }

    /// The OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Str::Int(_) => "int",
            Str::Bytes { raw: true, .. } => "raw",
            Str::Bytes { data, .. } if data.len() <= EMBSTR_MAX => "embstr",
            Str::Bytes { .. } => "raw",
        }
    }

    /// Bytes of heap this value holds (for memory accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Str::Int(_) => 0,
            Str::Bytes { data, .. } => data.capacity(),
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
}
