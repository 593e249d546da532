//! Typed SORT and SORT_RO.

use crate::cmd::sort::{SortCall, Sorted, sort_exec};
use crate::db::Db;
use crate::error::{Error, Result};

impl Db {
    /// SORT: sorts the list, set or sorted set at `key` as `call` says, and returns the
    /// elements (or GET values), or with `store` the stored list's length.
    ///
    /// ```
    /// use embedis::cmd::sort::{SortCall, Sorted};
    /// let db = embedis::Db::new();
    /// db.rpush("ids", &["3", "1", "2"]).unwrap();
    /// db.set("name_1", "one");
    /// let call = SortCall { get: vec!["#".into(), "name_*".into()], limit: Some((0, 1)), ..SortCall::default() };
    /// assert_eq!(db.sort("ids", &call), Ok(Sorted::Values(vec![Some("1".into()), Some("one".into())])));
    /// let store = SortCall { desc: true, store: Some("sorted".into()), ..SortCall::default() };
    /// assert_eq!(db.sort("ids", &store), Ok(Sorted::Stored(3)));
    /// assert_eq!(db.lrange("sorted", 0, -1).unwrap(), vec!["3", "2", "1"]);
    /// ```
    pub fn sort(&self, key: impl AsRef<[u8]>, call: &SortCall) -> Result<Sorted> {
        let key = key.as_ref();
        self.with_all(|a| sort_exec(a, key, call))
    }

    /// SORT_RO: [`Db::sort`] without STORE (a call with `store` set is refused with a syntax
    /// error, as SORT_RO refuses the option).
    pub fn sort_ro(
        &self,
        key: impl AsRef<[u8]>,
        call: &SortCall,
    ) -> Result<Vec<Option<bytes::Bytes>>> {
        if call.store.is_some() {
            return Err(Error::Syntax);
        }
        let key = key.as_ref();
        match self.with_all(|a| sort_exec(a, key, call))? {
            Sorted::Values(v) => Ok(v),
            Sorted::Stored(_) => Err(Error::Syntax),
        }
    }
}
