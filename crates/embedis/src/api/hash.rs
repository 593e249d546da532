//! Typed hash methods.

use bytes::Bytes;

use crate::cmd::aggregate::ScanOptions;
use crate::cmd::hash::*;
use crate::db::Db;
use crate::error::Result;

impl Db {
    /// HSET: sets fields to values; returns how many fields were new.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// assert_eq!(db.hset("user:1", &[("name", "Ada"), ("lang", "en")]).unwrap(), 2);
    /// assert_eq!(db.hset("user:1", &[("lang", "fr")]).unwrap(), 0);
    /// assert_eq!(db.hget("user:1", "lang").unwrap().as_deref(), Some(&b"fr"[..]));
    /// ```
    pub fn hset<F: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        pairs: &[(F, V)],
    ) -> Result<i64> {
        let key = key.as_ref();
        let pairs = pairs.iter().map(|(f, v)| (f.as_ref(), v.as_ref()));
        let limits = limits(self.engine());
        self.with_key(key, |a| hset_exec(a, &limits, key, pairs))
    }

    /// HSETNX: sets `field` only if it does not exist yet; true if it was set.
    pub fn hsetnx(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<bool> {
        let key = key.as_ref();
        let limits = limits(self.engine());
        self.with_key(key, |a| {
            hsetnx_exec(a, &limits, key, field.as_ref(), value.as_ref())
        })
    }

    /// HGET: the value of `field`, `None` if the field or the key is missing.
    pub fn hget(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        self.with_key(key, |a| hget_exec(a, key, field.as_ref()))
    }

    /// HMGET: the values of `fields`, `None` for each missing one.
    pub fn hmget<F: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        fields: &[F],
    ) -> Result<Vec<Option<Bytes>>> {
        let key = key.as_ref();
        self.with_key(key, |a| hmget_exec(a, key, fields))
    }

    /// HGETALL: every field with its value (insertion order while the hash is small).
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.hset("h", &[("b", "1"), ("a", "2")]).unwrap();
    /// let all = db.hgetall("h").unwrap();
    /// assert_eq!(all, [("b".into(), "1".into()), ("a".into(), "2".into())]);
    /// ```
    pub fn hgetall(&self, key: impl AsRef<[u8]>) -> Result<Vec<(Bytes, Bytes)>> {
        let key = key.as_ref();
        self.with_key(key, |a| hgetall_exec(a, key))
    }

    /// HDEL: removes fields (and the key with its last field); returns how many existed.
    pub fn hdel<F: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, fields: &[F]) -> Result<i64> {
        let key = key.as_ref();
        self.with_key(key, |a| hdel_exec(a, key, fields))
    }

    /// HEXISTS: whether `field` exists.
    pub fn hexists(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        self.with_key(key, |a| hexists_exec(a, key, field.as_ref()))
    }

    /// HLEN: number of fields.
    pub fn hlen(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        let key = key.as_ref();
        self.with_key(key, |a| hlen_exec(a, key))
    }

    /// HSTRLEN: length of the value of `field` (0 if missing).
    pub fn hstrlen(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<i64> {
        let key = key.as_ref();
        self.with_key(key, |a| hstrlen_exec(a, key, field.as_ref()))
    }

    /// HINCRBY: adds `incr` to the integer in `field` (0 if missing); returns the new value.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// assert_eq!(db.hincrby("stats", "hits", 5).unwrap(), 5);
    /// assert_eq!(db.hincrby("stats", "hits", -2).unwrap(), 3);
    /// ```
    pub fn hincrby(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        incr: i64,
    ) -> Result<i64> {
        let key = key.as_ref();
        let limits = limits(self.engine());
        self.with_key(key, |a| hincrby_exec(a, &limits, key, field.as_ref(), incr))
    }

    /// HINCRBYFLOAT: adds `incr` to the number in `field` (0 if missing); returns the new
    /// value as stored.
    pub fn hincrbyfloat(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        incr: f64,
    ) -> Result<Bytes> {
        let key = key.as_ref();
        let incr = format!("{incr}");
        let limits = limits(self.engine());
        self.with_key(key, |a| {
            hincrbyfloat_exec(a, &limits, key, field.as_ref(), incr.as_bytes())
        })
    }

    /// HKEYS: every field.
    pub fn hkeys(&self, key: impl AsRef<[u8]>) -> Result<Vec<Bytes>> {
        let key = key.as_ref();
        self.with_key(key, |a| hkeys_exec(a, key))
    }

    /// HVALS: every value.
    pub fn hvals(&self, key: impl AsRef<[u8]>) -> Result<Vec<Bytes>> {
        let key = key.as_ref();
        self.with_key(key, |a| hvals_exec(a, key))
    }

    /// HRANDFIELD without a count: a random field, `None` if the key is missing.
    pub fn hrandfield(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        let mut rng = self.command_rng();
        self.with_key(key, |a| hrandfield_one_exec(a, key, &mut rng))
    }

    /// HRANDFIELD with a count: up to `count` distinct random fields, or `-count` fields with
    /// repetitions when `count` is negative.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.hset("h", &[("a", "1"), ("b", "2"), ("c", "3")]).unwrap();
    /// assert_eq!(db.hrandfield_count("h", 2).unwrap().len(), 2);
    /// assert_eq!(db.hrandfield_count("h", -5).unwrap().len(), 5);
    /// ```
    pub fn hrandfield_count(&self, key: impl AsRef<[u8]>, count: i64) -> Result<Vec<Bytes>> {
        let key = key.as_ref();
        let mut rng = self.command_rng();
        let picked = self.with_key(key, |a| hrandfield_exec(a, key, count, false, &mut rng))?;
        Ok(picked.into_iter().map(|(f, _)| f).collect())
    }

    /// HRANDFIELD with a count and WITHVALUES: random fields with their values.
    pub fn hrandfield_withvalues(
        &self,
        key: impl AsRef<[u8]>,
        count: i64,
    ) -> Result<Vec<(Bytes, Bytes)>> {
        let key = key.as_ref();
        let mut rng = self.command_rng();
        let picked = self.with_key(key, |a| hrandfield_exec(a, key, count, true, &mut rng))?;
        Ok(picked
            .into_iter()
            .map(|(f, v)| (f, v.unwrap_or_default()))
            .collect())
    }

    /// HSCAN: one step of an iteration over fields and values; returns the next cursor (0 when
    /// the iteration is complete) and the pairs of this step matching `pattern`.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.hset("h", &[("a1", "x"), ("b1", "y"), ("a2", "z")]).unwrap();
    /// let (cursor, pairs) = db.hscan("h", 0, Some("a*"), 10).unwrap();
    /// assert_eq!(cursor, 0);
    /// assert_eq!(pairs.len(), 2);
    /// ```
    pub fn hscan(
        &self,
        key: impl AsRef<[u8]>,
        cursor: u64,
        pattern: Option<impl AsRef<[u8]>>,
        count: usize,
    ) -> Result<(u64, Vec<(Bytes, Bytes)>)> {
        let key = key.as_ref();
        let opts = ScanOptions {
            count: count.max(1),
            pattern: pattern
                .map(|p| Bytes::copy_from_slice(p.as_ref()))
                .filter(|p| p.as_ref() != b"*"),
        };
        self.with_key(key, |a| hscan_exec(a, key, cursor, &opts))
    }

    /// A random generator for one command, seeded from the engine's.
    pub(crate) fn command_rng(&self) -> rand::rngs::SmallRng {
        use rand::SeedableRng;
        rand::rngs::SmallRng::seed_from_u64(self.engine().random_u64())
    }
}
