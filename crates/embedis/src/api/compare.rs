//! Compare-and-act on string keys: the atomic steps a lock needs (release or extend only
//! while still the holder), as typed methods. embedis-kit's embedded backend uses them; over
//! Redis the same steps are small scripts.

use std::time::Duration;

use crate::cmd::string::get_exec;
use crate::db::Db;
use crate::error::Result;

impl Db {
    /// Deletes `key` only if it holds the string `expected`; true if deleted.
    /// `Err(WrongType)` if the key holds another type.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.set("lock", "token-1");
    /// assert!(!db.compare_and_delete("lock", "token-2").unwrap());
    /// assert!(db.compare_and_delete("lock", "token-1").unwrap());
    /// ```
    pub fn compare_and_delete(
        &self,
        key: impl AsRef<[u8]>,
        expected: impl AsRef<[u8]>,
    ) -> Result<bool> {
        let key = key.as_ref();
        self.with_key(key, |a| {
            if get_exec(a, key)?.as_deref() != Some(expected.as_ref()) {
                return Ok(false);
            }
            a.remove(key);
            a.touched(key);
            Ok(true)
        })
    }

    /// Sets the TTL of `key` to `ttl` from now only if it holds the string `expected`;
    /// true if set. A zero `ttl` deletes the key, as PEXPIRE 0 does.
    pub fn compare_and_expire(
        &self,
        key: impl AsRef<[u8]>,
        expected: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> Result<bool> {
        let key = key.as_ref();
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.with_key(key, |a| {
            if get_exec(a, key)?.as_deref() != Some(expected.as_ref()) {
                return Ok(false);
            }
            if ms == 0 {
                a.remove(key);
            } else {
                let at = a.now_ms().saturating_add(ms);
                a.set_expire(key, Some(at));
            }
            a.touched(key);
            Ok(true)
        })
    }
}
