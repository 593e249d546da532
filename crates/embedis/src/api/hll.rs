//! Typed HyperLogLog methods.

use crate::cmd::hll::{pfadd_exec, pfcount_exec, pfmerge_exec, sparse_max_bytes};
use crate::db::Db;
use crate::error::Result;

impl Db {
    /// PFADD: adds elements to the HyperLogLog at `key` (created if missing); true if the
    /// key was created or its estimate may have changed.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// assert!(db.pfadd("visitors", &["ada", "bob", "ada"]).unwrap());
    /// assert!(!db.pfadd("visitors", &["bob"]).unwrap());
    /// assert_eq!(db.pfcount(&["visitors"]).unwrap(), 2);
    /// ```
    pub fn pfadd<E: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, elements: &[E]) -> Result<bool> {
        let key = key.as_ref();
        let sparse_max = sparse_max_bytes(self.engine());
        self.with_key(key, |a| pfadd_exec(a, sparse_max, key, elements))
    }

    /// PFCOUNT: the estimated number of distinct elements of one HyperLogLog, or of the
    /// union of several (missing keys count as empty).
    pub fn pfcount<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64> {
        match keys {
            [one] => {
                let key = one.as_ref();
                self.with_key(key, |a| pfcount_exec(a, &[key]))
            }
            _ => self.with_all(|a| pfcount_exec(a, keys)),
        }
    }

    /// PFMERGE: stores at `dst` the union of `dst` and `sources`.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.pfadd("mon", &["a", "b"]).unwrap();
    /// db.pfadd("tue", &["b", "c"]).unwrap();
    /// db.pfmerge("week", &["mon", "tue"]).unwrap();
    /// assert_eq!(db.pfcount(&["week"]).unwrap(), 3);
    /// ```
    pub fn pfmerge<K: AsRef<[u8]>>(&self, dst: impl AsRef<[u8]>, sources: &[K]) -> Result<()> {
        let dst = dst.as_ref();
        let sparse_max = sparse_max_bytes(self.engine());
        self.with_all(|a| pfmerge_exec(a, sparse_max, dst, sources))
    }
}
