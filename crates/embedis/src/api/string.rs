//! Typed string methods.

use bytes::Bytes;

use crate::cmd::string::{
    GetExTtl, SetOptions, SetOutcome, append_exec, get_exec, getdel_exec, getex_exec,
    getrange_exec, getset_exec, incr_by_exec, incr_by_float_exec, mget_exec, mset_exec,
    negate_decrement, set_exec, setrange_exec, strlen_exec,
};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::num::LongDouble;

impl Db {
    /// GET: the string at `key`, `None` if missing; `Err(WrongType)` for other types.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.set("k", "v");
    /// assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    /// assert_eq!(db.get("missing").unwrap(), None);
    /// ```
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        self.with_key(key, |a| get_exec(a, key))
    }

    /// SET without options: stores `value` and drops any TTL.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.set("greeting", "hello");
    /// assert_eq!(db.strlen("greeting").unwrap(), 5);
    /// ```
    pub fn set(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        let key = key.as_ref();
        // Plain SET has no option that can fail.
        let _ = self.with_key(key, |a| {
            set_exec(a, key, value.as_ref(), &SetOptions::default())
        });
    }

    /// SET with options (NX/XX, EX/PX/EXAT/PXAT, KEEPTTL, GET). Errors as the command's:
    /// `InvalidExpire` for a non-positive or overflowing expiry, `WrongType` with GET on a
    /// non-string, `Syntax` for KEEPTTL together with an expiry.
    ///
    /// ```
    /// use embedis::cmd::string::SetOptions;
    /// let db = embedis::Db::new();
    /// let first = db.set_with("lock", "me", SetOptions::default().if_missing().px(30_000)).unwrap();
    /// assert!(first.written);
    /// let second = db.set_with("lock", "you", SetOptions::default().if_missing()).unwrap();
    /// assert!(!second.written);
    /// let swapped = db.set_with("lock", "you", SetOptions::default().get()).unwrap();
    /// assert_eq!(swapped.previous.as_deref(), Some(&b"me"[..]));
    /// ```
    pub fn set_with(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        opts: SetOptions,
    ) -> Result<SetOutcome> {
        let key = key.as_ref();
        self.with_key(key, |a| set_exec(a, key, value.as_ref(), &opts))
    }

    /// GETSET: stores `value` (dropping any TTL) and returns the previous value.
    pub fn getset(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        self.with_key(key, |a| getset_exec(a, key, value.as_ref()))
    }

    /// GETDEL: returns the value of `key` and removes the key.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.set("token", "abc");
    /// assert_eq!(db.getdel("token").unwrap().as_deref(), Some(&b"abc"[..]));
    /// assert_eq!(db.getdel("token").unwrap(), None);
    /// ```
    pub fn getdel(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        self.with_key(key, |a| getdel_exec(a, key))
    }

    /// GETEX: returns the value of `key` and changes its TTL as `ttl` says.
    pub fn getex(&self, key: impl AsRef<[u8]>, ttl: GetExTtl) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        self.with_key(key, |a| getex_exec(a, key, ttl))
    }

    /// INCR: adds one to the integer at `key` (0 if missing) and returns the result.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// assert_eq!(db.incr("hits").unwrap(), 1);
    /// assert_eq!(db.incr("hits").unwrap(), 2);
    /// db.set("name", "bob");
    /// assert!(db.incr("name").is_err()); // not an integer
    /// ```
    pub fn incr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        self.incr_by(key, 1)
    }

    /// INCRBY: adds `delta` to the integer at `key` (0 if missing).
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// assert_eq!(db.incr_by("n", 10).unwrap(), 10);
    /// assert_eq!(db.incr_by("n", -15).unwrap(), -5);
    /// ```
    pub fn incr_by(&self, key: impl AsRef<[u8]>, delta: i64) -> Result<i64> {
        let key = key.as_ref();
        self.with_key(key, |a| incr_by_exec(a, key, delta))
    }

    /// DECR: subtracts one.
    pub fn decr(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        self.incr_by(key, -1)
    }

    /// DECRBY: subtracts `delta` (`i64::MIN` is refused, as Redis does).
    pub fn decr_by(&self, key: impl AsRef<[u8]>, delta: i64) -> Result<i64> {
        self.incr_by(key, negate_decrement(delta)?)
    }

    /// INCRBYFLOAT: adds `incr` in Redis's 80-bit `long double` arithmetic and returns the
    /// stored result (its text is what GET returns, e.g. `"0.3"` after 0.1 + 0.2). `incr` is
    /// read from its shortest decimal form, as a client sending it as text would.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.set("price", "0.1");
    /// assert_eq!(db.incr_by_float("price", 0.2).unwrap(), 0.3);
    /// assert_eq!(db.get("price").unwrap().as_deref(), Some(&b"0.3"[..]));
    /// ```
    pub fn incr_by_float(&self, key: impl AsRef<[u8]>, incr: f64) -> Result<f64> {
        let incr = LongDouble::parse(incr.to_string().as_bytes()).ok_or(Error::NotFloat)?;
        let key = key.as_ref();
        let text = self.with_key(key, |a| incr_by_float_exec(a, key, incr))?;
        std::str::from_utf8(&text)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or(Error::NotFloat)
    }

    /// MGET: the string value of each key, `None` for missing keys and other types.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.mset(&[("a", "1"), ("b", "2")]);
    /// let values = db.mget(&["a", "nope", "b"]);
    /// assert_eq!(values[0].as_deref(), Some(&b"1"[..]));
    /// assert_eq!(values[1], None);
    /// ```
    pub fn mget<K: AsRef<[u8]>>(&self, keys: &[K]) -> Vec<Option<Bytes>> {
        match keys {
            [one] => self.with_key(one.as_ref(), |a| mget_exec(a, keys)),
            _ => self.with_all(|a| mget_exec(a, keys)),
        }
    }

    /// MSET: stores every pair atomically (later pairs win), dropping TTLs.
    pub fn mset<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, pairs: &[(K, V)]) {
        match pairs {
            [(one, _)] => self.with_key(one.as_ref(), |a| mset_exec(a, pairs, false)),
            _ => self.with_all(|a| mset_exec(a, pairs, false)),
        };
    }

    /// MSETNX: stores every pair only if none of the keys exists; returns whether it did.
    pub fn msetnx<K: AsRef<[u8]>, V: AsRef<[u8]>>(&self, pairs: &[(K, V)]) -> bool {
        match pairs {
            [(one, _)] => self.with_key(one.as_ref(), |a| mset_exec(a, pairs, true)),
            _ => self.with_all(|a| mset_exec(a, pairs, true)),
        }
    }

    /// APPEND: appends `value` and returns the new length.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// assert_eq!(db.append("log", "a").unwrap(), 1);
    /// assert_eq!(db.append("log", "bc").unwrap(), 3);
    /// ```
    pub fn append(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<i64> {
        let max = self.engine().config.read(|c| c.proto_max_bulk_len);
        let key = key.as_ref();
        self.with_key(key, |a| append_exec(a, key, value.as_ref(), max))
    }

    /// STRLEN: the length of the string at `key`, 0 if missing.
    pub fn strlen(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        let key = key.as_ref();
        self.with_key(key, |a| strlen_exec(a, key))
    }

    /// GETRANGE: bytes `start..=end` (negative counts from the end), clamped.
    pub fn getrange(&self, key: impl AsRef<[u8]>, start: i64, end: i64) -> Result<Bytes> {
        let key = key.as_ref();
        self.with_key(key, |a| getrange_exec(a, key, start, end))
    }

    /// SETRANGE: overwrites from `offset`, zero-padding, and returns the new length.
    pub fn setrange(
        &self,
        key: impl AsRef<[u8]>,
        offset: i64,
        value: impl AsRef<[u8]>,
    ) -> Result<i64> {
        let max = self.engine().config.read(|c| c.proto_max_bulk_len);
        let key = key.as_ref();
        self.with_key(key, |a| setrange_exec(a, key, offset, value.as_ref(), max))
    }
}
