//! The RDB format of Redis 7.0 (RDB version 10): primitives (lengths, strings, doubles), the
//! object codec shared by RDB files and DUMP payloads, and the whole-file reader and writer.
//!
//! Everything read is bounds-checked: a length never allocates more than the input could
//! hold, a corrupt blob is an [`RdbError`], never a panic (RESTORE takes client bytes).

pub mod crc64;
pub mod intset;
pub mod listpack;
pub mod lzf;
pub mod reader;
pub mod writer;
pub mod ziplist;

use std::borrow::Cow;
use std::fmt;

/// The RDB version embedis writes (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;
/// Oldest RDB version the reader accepts (Redis 7.0 loads back to 1; 5 is where checksums
/// start, and anything older than Redis 2.6 is out of reach here).
pub const RDB_MIN_VERSION: u16 = 1;

/// Value types (`RDB_TYPE_*`).
pub mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
}

/// File opcodes (`RDB_OPCODE_*`).
pub mod opcodes {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Why RDB data could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RdbError {
    /// The data ends before the structure does.
    Truncated,
    /// The data is malformed (what was wrong).
    Corrupt(&'static str),
    /// The checksum does not match.
    Checksum,
    /// The file is not an RDB file, or of a version this reader does not know.
    Version(String),
    /// A value of a type embedis does not hold (yet), with the type's name.
    Unsupported(&'static str),
    /// A collection with no elements (Redis skips these when loading a file).
    EmptyKey,
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RdbError::Truncated => f.write_str("unexpected end of RDB data"),
            RdbError::Corrupt(what) => write!(f, "corrupt RDB data: {what}"),
            RdbError::Checksum => f.write_str("wrong RDB checksum"),
            RdbError::Version(v) => write!(f, "unsupported RDB format or version: {v}"),
            RdbError::Unsupported(t) => write!(f, "RDB value type not supported by embedis: {t}"),
            RdbError::EmptyKey => f.write_str("empty collection in RDB data"),
        }
    }
}

impl std::error::Error for RdbError {}

/// A cursor over RDB bytes.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// A length field: a count, or a special string encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<'a> Input<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Input { buf, pos: 0 }
    }

    /// Bytes read so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, RdbError> {
        let b = *self.buf.get(self.pos).ok_or(RdbError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    /// Reads `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], RdbError> {
        if n > self.remaining() {
            return Err(RdbError::Truncated);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn len_field(&mut self) -> Result<Len, RdbError> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Len::Plain((b & 0x3f) as u64),
            1 => Len::Plain(((b & 0x3f) as u64) << 8 | self.u8()? as u64),
            2 => match b {
                0x80 => Len::Plain(u32::from_be_bytes(self.array()?) as u64),
                0x81 => Len::Plain(u64::from_be_bytes(self.array()?)),
                _ => return Err(RdbError::Corrupt("unknown length encoding")),
            },
            _ => Len::Encoded(b & 0x3f),
        })
    }

    /// Reads a length (not a string encoding).
    pub fn length(&mut self) -> Result<u64, RdbError> {
        match self.len_field()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => Err(RdbError::Corrupt("encoded value where a length belongs")),
        }
    }

    /// Reads a length used as a count of following items, each taking at least `min_item`
    /// bytes: a count the remaining input cannot hold is corrupt (so it never sizes an
    /// allocation beyond the input).
    pub fn count(&mut self, min_item: usize) -> Result<usize, RdbError> {
        let n = self.length()?;
        let max = (self.remaining() / min_item.max(1)) as u64;
        if n > max {
            return Err(RdbError::Truncated);
        }
        Ok(n as usize)
    }

    /// Reads a string in any of its encodings (raw, integer, LZF).
    pub fn string(&mut self) -> Result<Cow<'a, [u8]>, RdbError> {
        match self.len_field()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).map_err(|_| RdbError::Truncated)?;
                Ok(Cow::Borrowed(self.take(n)?))
            }
            Len::Encoded(enc) => {
                let v: i64 = match enc {
                    ENC_INT8 => self.u8()? as i8 as i64,
                    ENC_INT16 => i16::from_le_bytes(self.array()?) as i64,
                    ENC_INT32 => i32::from_le_bytes(self.array()?) as i64,
                    ENC_LZF => {
                        let clen = self.length()?;
                        let ulen = self.length()?;
                        let clen = usize::try_from(clen).map_err(|_| RdbError::Truncated)?;
                        let ulen =
                            usize::try_from(ulen).map_err(|_| RdbError::Corrupt("LZF length"))?;
                        let block = self.take(clen)?;
                        let out = lzf::decompress(block, ulen)
                            .map_err(|_| RdbError::Corrupt("LZF block"))?;
                        return Ok(Cow::Owned(out));
                    }
                    _ => return Err(RdbError::Corrupt("unknown string encoding")),
                };
                Ok(Cow::Owned(
                    itoa::Buffer::new().format(v).as_bytes().to_vec(),
                ))
            }
        }
    }

    /// Reads a double in the old text form (ZSET v1): length byte, 253 NaN, 254 +inf,
    /// 255 -inf, else that many ASCII bytes.
    pub fn text_double(&mut self) -> Result<f64, RdbError> {
        let n = self.u8()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let s = self.take(n as usize)?;
                std::str::from_utf8(s)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                    .ok_or(RdbError::Corrupt("double"))
            }
        }
    }

    /// Reads a little-endian binary double (ZSET_2, module doubles).
    pub fn binary_double(&mut self) -> Result<f64, RdbError> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian `i64` (millisecond expiry times).
    pub fn i64_le(&mut self) -> Result<i64, RdbError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian `i32` (second expiry times).
    pub fn i32_le(&mut self) -> Result<i32, RdbError> {
        Ok(i32::from_le_bytes(self.array()?))
    }
}

/// RDB bytes being written.
#[derive(Debug, Default, Clone)]
pub struct Out {
    /// The bytes.
    pub buf: Vec<u8>,
}

impl Out {
    /// An empty buffer.
    pub fn new() -> Self {
        Out::default()
    }

    /// Writes one byte.
    pub fn u8(&mut self, b: u8) {
        self.buf.push(b);
    }

    /// Writes a length.
    pub fn len(&mut self, n: u64) {
        if n < 1 << 6 {
            self.buf.push(n as u8);
        } else if n < 1 << 14 {
            self.buf.push(0x40 | (n >> 8) as u8);
            self.buf.push(n as u8);
        } else if n <= u32::MAX as u64 {
            self.buf.push(0x80);
            self.buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.buf.push(0x81);
            self.buf.extend_from_slice(&n.to_be_bytes());
        }
    }

    /// Writes a string as Redis's `rdbSaveRawString` does: short canonical integers in an
    /// integer encoding, long strings LZF-compressed when `compress` and it saves space.
    pub fn string(&mut self, s: &[u8], compress: bool) {
        if s.len() <= 11 {
            if let Some(n) = crate::num::parse_i64(s) {
                if self.try_int(n) {
                    return;
                }
            }
        }
        if compress && s.len() > 20 {
            if let Some(c) = lzf::compress(s, s.len() - 4) {
                self.buf.push(0xC0 | ENC_LZF);
                self.len(c.len() as u64);
                self.len(s.len() as u64);
                self.buf.extend_from_slice(&c);
                return;
            }
        }
        self.raw_string(s);
    }

    /// Writes a string with no integer or LZF encoding (blobs: listpacks, intsets).
    pub fn raw_string(&mut self, s: &[u8]) {
        self.len(s.len() as u64);
        self.buf.extend_from_slice(s);
    }

    /// Writes an integer as a string: an integer encoding when it fits 32 bits, else its
    /// decimal text (Redis's `rdbSaveLongLongAsStringObject`).
    pub fn int_string(&mut self, n: i64) {
        if !self.try_int(n) {
            self.raw_string(itoa::Buffer::new().format(n).as_bytes());
        }
    }

    fn try_int(&mut self, n: i64) -> bool {
        if let Ok(v) = i8::try_from(n) {
            self.buf.extend_from_slice(&[0xC0 | ENC_INT8, v as u8]);
        } else if let Ok(v) = i16::try_from(n) {
            self.buf.push(0xC0 | ENC_INT16);
            self.buf.extend_from_slice(&v.to_le_bytes());
        } else if let Ok(v) = i32::try_from(n) {
            self.buf.push(0xC0 | ENC_INT32);
            self.buf.extend_from_slice(&v.to_le_bytes());
        } else {
            return false;
        }
        true
    }

    /// Writes a binary double.
    pub fn binary_double(&mut self, d: f64) {
        self.buf.extend_from_slice(&d.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for n in [
            0u64,
            63,
            64,
            16383,
            16384,
            u32::MAX as u64,
            u32::MAX as u64 + 1,
            u64::MAX,
        ] {
            let mut o = Out::new();
            o.len(n);
            assert_eq!(Input::new(&o.buf).length().unwrap(), n);
        }
    }

    #[test]
    fn strings_round_trip_in_every_encoding() {
        let long = vec![b'q'; 100];
        for (s, compress) in [
            (&b"12"[..], false),
            (b"-129", false),
            (b"70000", false),
            (b"12345678901", false),
            (b"0012", false),
            (b"", false),
            (&long, true),
            (&long, false),
        ] {
            let mut o = Out::new();
            o.string(s, compress);
            let mut i = Input::new(&o.buf);
            assert_eq!(&*i.string().unwrap(), s);
            assert_eq!(i.remaining(), 0);
        }
        let mut o = Out::new();
        o.string(b"12", false);
        assert_eq!(o.buf, b"\xc0\x0c");
        let mut o = Out::new();
        o.int_string(12345);
        assert_eq!(o.buf, b"\xc190");
    }

    #[test]
    fn forged_counts_are_refused_before_allocating() {
        let mut o = Out::new();
        o.len(u64::MAX);
        assert_eq!(Input::new(&o.buf).count(1), Err(RdbError::Truncated));
        assert!(Input::new(&o.buf).string().is_err());
    }
}
