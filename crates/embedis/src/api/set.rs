//! Typed set methods.

use bytes::Bytes;

use crate::cmd::aggregate::ScanOptions;
use crate::cmd::set::*;
use crate::db::Db;
use crate::error::Result;

impl Db {
    /// SADD: adds members; returns how many were new.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// assert_eq!(db.sadd("tags", &["rust", "redis", "rust"]).unwrap(), 2);
    /// assert!(db.sismember("tags", "redis").unwrap());
    /// assert_eq!(db.scard("tags").unwrap(), 2);
    /// ```
    pub fn sadd<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<i64> {
        let key = key.as_ref();
        let l = limits(self.engine());
        self.with_key(key, |a| sadd_exec(a, &l, key, members))
    }

    /// SREM: removes members (and the key with its last member); returns how many existed.
    pub fn srem<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<i64> {
        let key = key.as_ref();
        self.with_key(key, |a| srem_exec(a, key, members))
    }

    /// SCARD: number of members.
    pub fn scard(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        let key = key.as_ref();
        self.with_key(key, |a| scard_exec(a, key))
    }

    /// SISMEMBER: whether `member` is in the set.
    pub fn sismember(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        self.with_key(key, |a| sismember_exec(a, key, member.as_ref()))
    }

    /// SMISMEMBER: for each member, whether it is in the set.
    pub fn smismember<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[M],
    ) -> Result<Vec<bool>> {
        let key = key.as_ref();
        self.with_key(key, |a| smismember_exec(a, key, members))
    }

    /// SMEMBERS: every member (ascending for a set of few integers).
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.sadd("s", &["3", "1", "2"]).unwrap();
    /// assert_eq!(db.smembers("s").unwrap(), ["1", "2", "3"]);
    /// ```
    pub fn smembers(&self, key: impl AsRef<[u8]>) -> Result<Vec<Bytes>> {
        let key = key.as_ref();
        self.with_key(key, |a| smembers_exec(a, key))
    }

    /// SPOP: removes and returns a random member.
    pub fn spop(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        let mut rng = self.command_rng();
        self.with_key(key, |a| spop_one_exec(a, key, &mut rng))
    }

    /// SPOP with a count: removes and returns up to `count` random members.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.sadd("s", &["a", "b", "c"]).unwrap();
    /// assert_eq!(db.spop_count("s", 2).unwrap().len(), 2);
    /// assert_eq!(db.scard("s").unwrap(), 1);
    /// ```
    pub fn spop_count(&self, key: impl AsRef<[u8]>, count: u64) -> Result<Vec<Bytes>> {
        let key = key.as_ref();
        let mut rng = self.command_rng();
        let l = limits(self.engine());
        self.with_key(key, |a| spop_exec(a, &l, key, count, &mut rng))
    }

    /// SRANDMEMBER: a random member.
    pub fn srandmember(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        let mut rng = self.command_rng();
        self.with_key(key, |a| srandmember_one_exec(a, key, &mut rng))
    }

    /// SRANDMEMBER with a count: up to `count` distinct random members, or `-count` members
    /// with repetitions when `count` is negative.
    pub fn srandmember_count(&self, key: impl AsRef<[u8]>, count: i64) -> Result<Vec<Bytes>> {
        let key = key.as_ref();
        let mut rng = self.command_rng();
        self.with_key(key, |a| srandmember_exec(a, key, count, &mut rng))
    }

    /// SMOVE: moves `member` from `src` to `dst`; false if it was not in `src`.
    pub fn smove(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        member: impl AsRef<[u8]>,
    ) -> Result<bool> {
        let (src, dst) = (src.as_ref(), dst.as_ref());
        let l = limits(self.engine());
        self.with_all(|a| smove_exec(a, &l, src, dst, member.as_ref()))
    }

    /// SINTER: the members every set has.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.sadd("a", &["x", "y", "z"]).unwrap();
    /// db.sadd("b", &["y", "z", "w"]).unwrap();
    /// let mut common = db.sinter(&["a", "b"]).unwrap();
    /// common.sort();
    /// assert_eq!(common, ["y", "z"]);
    /// ```
    pub fn sinter<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Bytes>> {
        self.with_all(|a| sinter_exec(a, keys))
    }

    /// SINTERSTORE: stores the intersection at `dst` (deleting `dst` if it is empty); returns
    /// its size.
    pub fn sinterstore<K: AsRef<[u8]>>(&self, dst: impl AsRef<[u8]>, keys: &[K]) -> Result<i64> {
        let l = limits(self.engine());
        self.with_all(|a| sinterstore_exec(a, &l, dst.as_ref(), keys))
    }

    /// SINTERCARD: the size of the intersection, counting at most `limit` (0: no limit).
    pub fn sintercard<K: AsRef<[u8]>>(&self, keys: &[K], limit: u64) -> Result<i64> {
        self.with_all(|a| sintercard_exec(a, keys, limit))
    }

    /// SUNION: the members any set has.
    pub fn sunion<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Bytes>> {
        let l = limits(self.engine());
        self.with_all(|a| sunion_exec(a, &l, keys))
    }

    /// SUNIONSTORE: stores the union at `dst` (deleting `dst` if it is empty); returns its
    /// size.
    pub fn sunionstore<K: AsRef<[u8]>>(&self, dst: impl AsRef<[u8]>, keys: &[K]) -> Result<i64> {
        let l = limits(self.engine());
        self.with_all(|a| sunionstore_exec(a, &l, dst.as_ref(), keys))
    }

    /// SDIFF: the members of the first set that no other set has.
    pub fn sdiff<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Bytes>> {
        let l = limits(self.engine());
        self.with_all(|a| sdiff_exec(a, &l, keys))
    }

    /// SDIFFSTORE: stores the difference at `dst` (deleting `dst` if it is empty); returns
    /// its size.
    pub fn sdiffstore<K: AsRef<[u8]>>(&self, dst: impl AsRef<[u8]>, keys: &[K]) -> Result<i64> {
        let l = limits(self.engine());
        self.with_all(|a| sdiffstore_exec(a, &l, dst.as_ref(), keys))
    }

    /// SSCAN: one step of an iteration over the members; returns the next cursor (0 when the
    /// iteration is complete) and the members of this step matching `pattern`.
    pub fn sscan(
        &self,
        key: impl AsRef<[u8]>,
        cursor: u64,
        pattern: Option<impl AsRef<[u8]>>,
        count: usize,
    ) -> Result<(u64, Vec<Bytes>)> {
        let key = key.as_ref();
        let opts = ScanOptions {
            count: count.max(1),
            pattern: pattern
                .map(|p| Bytes::copy_from_slice(p.as_ref()))
                .filter(|p| p.as_ref() != b"*"),
        };
        self.with_key(key, |a| sscan_exec(a, key, cursor, &opts))
    }
}
