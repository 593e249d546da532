//! Typed bitmap methods: GETBIT, SETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.
//!
//! Ranges, operations and BITFIELD requests are the types of [`crate::types::bitmap`].

use crate::cmd::bitmap::{
    bitcount_exec, bitfield_exec, bitop_exec, bitpos_exec, check_bit_offset, getbit_exec,
    max_bulk_len, resolve_field_ops, setbit_exec,
};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::types::bitmap::{BitField, BitOp, BitRange, PosRange};

impl Db {
    /// GETBIT: the bit at `offset` of the string at `key` (false past its end or if missing).
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.set("k", "\x01");
    /// assert_eq!(db.getbit("k", 7), Ok(true));
    /// assert_eq!(db.getbit("k", 100), Ok(false));
    /// ```
    pub fn getbit(&self, key: impl AsRef<[u8]>, offset: u64) -> Result<bool> {
        let offset = check_bit_offset(offset, max_bulk_len(self.engine()))?;
        let key = key.as_ref();
        self.with_key(key, |a| getbit_exec(a, key, offset))
    }

    /// SETBIT: sets the bit at `offset`, creating or zero-extending the string; returns the
    /// previous bit. Offsets whose byte would reach proto-max-bulk-len are refused.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// assert_eq!(db.setbit("k", 9, true), Ok(false));
    /// assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"\x00\x40"[..]));
    /// ```
    pub fn setbit(&self, key: impl AsRef<[u8]>, offset: u64, on: bool) -> Result<bool> {
        let offset = check_bit_offset(offset, max_bulk_len(self.engine()))?;
        let key = key.as_ref();
        self.with_key(key, |a| setbit_exec(a, key, offset, on))
    }

    /// BITCOUNT: set bits in the string, or in a range of bytes or bits of it.
    ///
    /// ```
    /// use embedis::types::bitmap::BitRange;
    /// let db = embedis::Db::new();
    /// db.set("k", "foobar");
    /// assert_eq!(db.bitcount("k", None), Ok(26));
    /// assert_eq!(db.bitcount("k", BitRange::bytes(1, 1)), Ok(6));
    /// assert_eq!(db.bitcount("k", BitRange::bits(5, 30)), Ok(17));
    /// ```
    pub fn bitcount(
        &self,
        key: impl AsRef<[u8]>,
        range: impl Into<Option<BitRange>>,
    ) -> Result<u64> {
        let key = key.as_ref();
        let range = range.into();
        self.with_key(key, |a| bitcount_exec(a, key, Ok(range)))
            .map(|n| n as u64)
    }

    /// BITPOS: the first bit equal to `bit`, `None` if there is none. Looking for a clear bit
    /// without an explicit range end treats the string as zero-padded, so it always finds one.
    ///
    /// ```
    /// use embedis::types::bitmap::{BitRange, PosRange};
    /// let db = embedis::Db::new();
    /// db.set("k", b"\xff\xf0");
    /// assert_eq!(db.bitpos("k", false, PosRange::All), Ok(Some(12)));
    /// assert_eq!(db.bitpos("k", true, PosRange::From(1)), Ok(Some(8)));
    /// assert_eq!(db.bitpos("k", false, BitRange::bits(0, 7)), Ok(None));
    /// ```
    pub fn bitpos(
        &self,
        key: impl AsRef<[u8]>,
        bit: bool,
        range: impl Into<PosRange>,
    ) -> Result<Option<u64>> {
        let key = key.as_ref();
        let range = range.into();
        self.with_key(key, |a| bitpos_exec(a, key, bit, Ok(range)))
            .map(|p| u64::try_from(p).ok())
    }

    /// BITOP: combines the strings at `keys` into `dest` (deleted if the result is empty);
    /// returns the result's length. NOT takes exactly one key.
    ///
    /// ```
    /// use embedis::types::bitmap::BitOp;
    /// let db = embedis::Db::new();
    /// db.set("a", b"\x0f");
    /// db.set("b", b"\xf0\x01");
    /// assert_eq!(db.bitop(BitOp::Or, "d", &["a", "b"]), Ok(2));
    /// assert_eq!(db.get("d").unwrap().as_deref(), Some(&b"\xff\x01"[..]));
    /// ```
    pub fn bitop<K: AsRef<[u8]>>(
        &self,
        op: BitOp,
        dest: impl AsRef<[u8]>,
        keys: &[K],
    ) -> Result<u64> {
        if keys.is_empty() {
            return Err(Error::wrong_arity("bitop"));
        }
        let dest = dest.as_ref();
        self.with_all(|a| bitop_exec(a, op, dest, keys))
            .map(|n| n as u64)
    }

    /// BITFIELD: runs the request's operations in order; each reply is the value, or `None`
    /// where OVERFLOW FAIL refused a write.
    ///
    /// ```
    /// use embedis::types::bitmap::{BitField, FieldOffset, FieldType, Overflow};
    /// let db = embedis::Db::new();
    /// let u8_ = FieldType::unsigned(8).unwrap();
    /// let request = BitField::new()
    ///     .set(u8_, FieldOffset::Index(0), 250)
    ///     .incrby(u8_, 0, 10)
    ///     .overflow(Overflow::Fail)
    ///     .incrby(u8_, 0, 252)
    ///     .get(u8_, 0);
    /// assert_eq!(db.bitfield("k", &request), Ok(vec![Some(0), Some(4), None, Some(4)]));
    /// ```
    pub fn bitfield(&self, key: impl AsRef<[u8]>, request: &BitField) -> Result<Vec<Option<i64>>> {
        let ops = resolve_field_ops(request, max_bulk_len(self.engine()))?;
        let key = key.as_ref();
        self.with_key(key, |a| bitfield_exec(a, key, &ops, false))
    }

    /// BITFIELD_RO: like [`Db::bitfield`] with GET operations only (anything else is refused
    /// with Redis's error).
    ///
    /// ```
    /// use embedis::types::bitmap::{BitField, FieldType};
    /// let db = embedis::Db::new();
    /// db.set("k", b"\x80");
    /// let request = BitField::new().get(FieldType::signed(8).unwrap(), 0);
    /// assert_eq!(db.bitfield_ro("k", &request), Ok(vec![-128]));
    /// ```
    pub fn bitfield_ro(&self, key: impl AsRef<[u8]>, request: &BitField) -> Result<Vec<i64>> {
        let ops = resolve_field_ops(request, max_bulk_len(self.engine()))?;
        let key = key.as_ref();
        let values = self.with_key(key, |a| bitfield_exec(a, key, &ops, true))?;
        // Only GETs run here, and a GET always has a value.
        Ok(values.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use crate::Db;
    use crate::types::bitmap::{BitField, BitOp, FieldType, PosRange};

    #[test]
    fn typed_api_agrees_with_call() {
        let db = Db::new();
        assert_eq!(db.setbit("k", 3, true), Ok(false));
        assert_eq!(db.call(["GETBIT", "k", "3"]), crate::Reply::Int(1));
        assert_eq!(db.bitcount("k", None), Ok(1));
        assert_eq!(db.bitpos("k", true, PosRange::All), Ok(Some(3)));
        assert_eq!(db.bitpos("nokey", true, PosRange::All), Ok(None));
        assert_eq!(db.bitop(BitOp::Not, "d", &["k"]), Ok(1));
        assert_eq!(db.get("d").unwrap().as_deref(), Some(&b"\xef"[..]));
        assert!(db.bitop(BitOp::Not, "d", &["k", "k"]).is_err());
        let ro = BitField::new().incrby(FieldType::signed(4).unwrap(), 0, 1);
        assert!(db.bitfield_ro("k", &ro).is_err());
        assert_eq!(db.bitfield("k", &ro), Ok(vec![Some(2)]));
    }
}
