//! Typed generic key methods: DEL, EXISTS, the EXPIRE and TTL families, RENAME, COPY, MOVE,
//! TYPE, KEYS, SCAN, RANDOMKEY, TOUCH, UNLINK, OBJECT.

use bytes::Bytes;

use crate::cmd::keys::{
    ExpireCommand, ExpireCondition, ObjectField, ObjectInfo, ScanIter, ScanOptions, Ttl, copy_exec,
    del_exec, exists_exec, expire_exec, keys_exec, move_exec, object_exec, persist_exec,
    randomkey_exec, rename_exec, scan_exec, touch_exec, ttl_exec, type_exec,
};
use crate::db::Db;
use crate::error::Result;

impl Db {
    fn with_keys<K: AsRef<[u8]>, R>(
        &self,
        keys: &[K],
        f: impl FnOnce(&mut crate::keyspace::Access<'_>) -> R,
    ) -> R {
        match keys {
            [one] => self.with_key(one.as_ref(), f),
            _ => self.with_all(f),
        }
    }

    /// DEL: removes the keys, returning how many existed.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.set("a", "1");
    /// assert_eq!(db.del(&["a", "b"]), 1);
    /// ```
    pub fn del<K: AsRef<[u8]>>(&self, keys: &[K]) -> i64 {
        self.with_keys(keys, |a| del_exec(a, keys))
    }

    /// UNLINK: the same as [`Db::del`] (values are freed at once either way).
    pub fn unlink<K: AsRef<[u8]>>(&self, keys: &[K]) -> i64 {
        self.with_keys(keys, |a| del_exec(a, keys))
    }

    /// EXISTS: how many of the keys exist (a key named twice counts twice).
    pub fn exists<K: AsRef<[u8]>>(&self, keys: &[K]) -> i64 {
        self.with_keys(keys, |a| exists_exec(a, keys))
    }

    /// TOUCH: refreshes the keys' access times, returning how many exist.
    pub fn touch<K: AsRef<[u8]>>(&self, keys: &[K]) -> i64 {
        self.with_keys(keys, |a| touch_exec(a, keys))
    }

    /// TYPE: the type name of the value at `key` (`"string"`, `"list"`...), `None` if there is
    /// no such key (where Redis replies `none`).
    pub fn key_type(&self, key: impl AsRef<[u8]>) -> Option<&'static str> {
        let key = key.as_ref();
        self.with_key(key, |a| type_exec(a, key))
    }

    fn expire_generic(
        &self,
        key: &[u8],
        cmd: ExpireCommand,
        amount: i64,
        when: ExpireCondition,
    ) -> Result<bool> {
        self.with_key(key, |a| expire_exec(a, key, cmd, amount, when.into()))
    }

    /// EXPIRE: the key expires in `seconds` (zero or negative deletes it now). Returns whether
    /// the expiry was set; `false` if the key does not exist or `when` does not hold.
    /// `Err` (`invalid expire time`) if the time overflows.
    ///
    /// ```
    /// use embedis::cmd::keys::{ExpireCondition, Ttl};
    /// let db = embedis::Db::new();
    /// db.set("session", "data");
    /// assert_eq!(db.expire("session", 60, ExpireCondition::Always), Ok(true));
    /// assert_eq!(db.expire("session", 30, ExpireCondition::Gt), Ok(false));
    /// assert_eq!(db.ttl("session"), Ttl::Expires(60));
    /// assert_eq!(db.ttl("nope"), Ttl::Missing);
    /// ```
    pub fn expire(
        &self,
        key: impl AsRef<[u8]>,
        seconds: i64,
        when: ExpireCondition,
    ) -> Result<bool> {
        self.expire_generic(key.as_ref(), ExpireCommand::Expire, seconds, when)
    }

    /// PEXPIRE: like [`Db::expire`] in milliseconds.
    pub fn pexpire(
        &self,
        key: impl AsRef<[u8]>,
        millis: i64,
        when: ExpireCondition,
    ) -> Result<bool> {
        self.expire_generic(key.as_ref(), ExpireCommand::PExpire, millis, when)
    }

    /// EXPIREAT: the key expires at Unix time `unix_seconds` (a past time deletes it now).
    pub fn expire_at(
        &self,
        key: impl AsRef<[u8]>,
        unix_seconds: i64,
        when: ExpireCondition,
    ) -> Result<bool> {
        self.expire_generic(key.as_ref(), ExpireCommand::ExpireAt, unix_seconds, when)
    }

    /// PEXPIREAT: the key expires at Unix time `unix_millis`.
    pub fn pexpire_at(
        &self,
        key: impl AsRef<[u8]>,
        unix_millis: i64,
        when: ExpireCondition,
    ) -> Result<bool> {
        self.expire_generic(key.as_ref(), ExpireCommand::PExpireAt, unix_millis, when)
    }

    /// PERSIST: removes the key's expiry; `true` if it had one.
    pub fn persist(&self, key: impl AsRef<[u8]>) -> bool {
        let key = key.as_ref();
        self.with_key(key, |a| persist_exec(a, key))
    }

    /// TTL: seconds left (rounded to nearest, like Redis), or why there are none.
    pub fn ttl(&self, key: impl AsRef<[u8]>) -> Ttl {
        let key = key.as_ref();
        self.with_key(key, |a| ttl_exec(a, key, false, false))
    }

    /// PTTL: milliseconds left, or why there are none.
    pub fn pttl(&self, key: impl AsRef<[u8]>) -> Ttl {
        let key = key.as_ref();
        self.with_key(key, |a| ttl_exec(a, key, true, false))
    }

    /// EXPIRETIME: the Unix time in seconds at which the key expires.
    pub fn expire_time(&self, key: impl AsRef<[u8]>) -> Ttl {
        let key = key.as_ref();
        self.with_key(key, |a| ttl_exec(a, key, false, true))
    }

    /// PEXPIRETIME: the Unix time in milliseconds at which the key expires.
    pub fn pexpire_time(&self, key: impl AsRef<[u8]>) -> Ttl {
        let key = key.as_ref();
        self.with_key(key, |a| ttl_exec(a, key, true, true))
    }

    /// RENAME: renames `src` to `dst` (replacing `dst`), keeping the TTL.
    /// `Err(NoSuchKey)` if `src` does not exist.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.set("old", "v");
    /// db.rename("old", "new").unwrap();
    /// assert_eq!(db.get("new").unwrap().as_deref(), Some(&b"v"[..]));
    /// assert_eq!(db.rename("old", "x"), Err(embedis::Error::NoSuchKey));
    /// ```
    pub fn rename(&self, src: impl AsRef<[u8]>, dst: impl AsRef<[u8]>) -> Result<()> {
        let (src, dst) = (src.as_ref(), dst.as_ref());
        self.with_all(|a| rename_exec(a, src, dst, false))
            .map(|_| ())
    }

    /// RENAMENX: renames only if `dst` does not exist; returns whether it renamed.
    pub fn renamenx(&self, src: impl AsRef<[u8]>, dst: impl AsRef<[u8]>) -> Result<bool> {
        let (src, dst) = (src.as_ref(), dst.as_ref());
        self.with_all(|a| rename_exec(a, src, dst, true))
    }

    /// COPY: copies the value and TTL of `src` to `dst`, in database `db` (default: this
    /// handle's). Returns whether it copied (`false` if `src` is missing, or `dst` exists and
    /// not `replace`).
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.set("a", "1");
    /// assert_eq!(db.copy("a", "b", None, false), Ok(true));
    /// assert_eq!(db.copy("a", "b", None, false), Ok(false));
    /// assert_eq!(db.copy("a", "a", Some(1), false), Ok(true));
    /// assert_eq!(db.select(1).unwrap().exists(&["a"]), 1);
    /// ```
    pub fn copy(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        db: Option<usize>,
        replace: bool,
    ) -> Result<bool> {
        let (src, dst) = (src.as_ref(), dst.as_ref());
        self.with_all(|a| copy_exec(a, src, dst, db, replace))
    }

    /// MOVE: moves `key` (with its TTL) to database `db`; returns whether it moved.
    pub fn move_to(&self, key: impl AsRef<[u8]>, db: usize) -> Result<bool> {
        let key = key.as_ref();
        self.with_key(key, |a| move_exec(a, key, db))
    }

    /// KEYS: every key matching the glob `pattern` (see [`crate::glob`]), in no set order.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.set("user:1", "a");
    /// db.set("user:2", "b");
    /// db.set("other", "c");
    /// let mut users = db.keys("user:*");
    /// users.sort();
    /// assert_eq!(users, ["user:1", "user:2"]);
    /// ```
    pub fn keys(&self, pattern: impl AsRef<[u8]>) -> Vec<Bytes> {
        self.with_all(|a| keys_exec(a, pattern.as_ref()))
    }

    /// RANDOMKEY: a random key, `None` if the database is empty.
    pub fn random_key(&self) -> Option<Bytes> {
        let engine = self.engine();
        self.with_all(|a| randomkey_exec(a, || engine.random_u64()))
    }

    /// SCAN: one step from `cursor` (0 to start). Returns the next cursor (0 when the scan is
    /// complete) and the keys found. [`Db::scan_iter`] runs the whole loop.
    pub fn scan(&self, cursor: u64, opts: &ScanOptions) -> (u64, Vec<Bytes>) {
        self.with_all(|a| scan_exec(a, cursor, opts))
    }

    /// Every key SCAN returns with `opts`, fetched one step at a time (other clients run
    /// between steps). A key present for the whole iteration is returned at least once; keys
    /// added or removed meanwhile may or may not be, and a key may come twice.
    ///
    /// ```
    /// use embedis::cmd::keys::ScanOptions;
    /// let db = embedis::Db::new();
    /// for i in 0..100 {
    ///     db.set(format!("k{i}"), "v");
    /// }
    /// let opts = ScanOptions { pattern: Some("k1*".into()), ..Default::default() };
    /// let mut found: Vec<_> = db.scan_iter(opts).collect();
    /// found.sort();
    /// found.dedup();
    /// assert_eq!(found.len(), 11); // k1, k10..k19
    /// ```
    pub fn scan_iter(&self, opts: ScanOptions) -> ScanIter {
        ScanIter::new(self.clone(), opts)
    }

    /// OBJECT ENCODING: the internal representation of the value at `key` (`"int"`,
    /// `"embstr"`, `"raw"`, `"listpack"`...), `None` if there is no key.
    pub fn object_encoding(&self, key: impl AsRef<[u8]>) -> Option<&'static str> {
        let key = key.as_ref();
        match self.with_key(key, |a| {
            object_exec(a, key, ObjectField::Encoding, Default::default())
        }) {
            Ok(Some(ObjectInfo::Encoding(e))) => Some(e),
            _ => None,
        }
    }

    /// OBJECT IDLETIME: seconds since the key was last read or written, `None` if there is no
    /// key. (Tracked whatever the maxmemory policy, unlike Redis under LFU.)
    pub fn object_idletime(&self, key: impl AsRef<[u8]>) -> Option<u64> {
        let key = key.as_ref();
        match self.with_key(key, |a| {
            object_exec(a, key, ObjectField::IdleTime, Default::default())
        }) {
            Ok(Some(ObjectInfo::Int(n))) => Some(n as u64),
            _ => None,
        }
    }
}
