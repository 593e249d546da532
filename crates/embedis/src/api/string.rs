//! Typed string methods.

use bytes::Bytes;

use crate::cmd::string::{get_exec, set_exec};
use crate::db::Db;
use crate::error::Result;

impl Db {
    /// GET: the string at `key`, `None` if missing; `Err(WrongType)` for other types.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.set("k", "v");
    /// assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    /// ```
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        self.with_key(key, |a| get_exec(a, key))
    }

    /// SET without options: stores `value` and drops any TTL.
    pub fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        let key = key.as_ref();
        self.with_key(key, |a| set_exec(a, key, value.as_ref()))
    }
}
