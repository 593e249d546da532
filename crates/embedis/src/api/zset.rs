//! Typed sorted set methods. Option and range types live with the commands
//! ([`crate::cmd::zset`]: [`ZAddOptions`], [`ZRange`], [`ZRemRange`], [`SetOpOptions`]...)
//! and the type ([`crate::types::zset`]: [`ScoreRange`], [`LexRange`]).
//!
//! Scores are `f64`; members are returned as [`Bytes`] with their scores.

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::SmallRng;

use crate::cmd::zset::{
    self as z, ScanOptions, SetOp, SetOpOptions, ZAddOptions, ZAddReply, ZRange, ZRemRange,
};
use crate::db::Db;
use crate::error::Result;
use crate::types::zset::{LexRange, ScoreRange};

/// A member with its score.
pub type Scored = (Bytes, f64);

impl Db {
    fn zlimits(&self) -> crate::types::zset::Limits {
        z::limits(self.engine())
    }

    /// ZADD: adds members with their scores (updating the scores of existing ones); returns
    /// how many were new.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// assert_eq!(db.zadd("board", &[(10.0, "ann"), (7.5, "bob")]).unwrap(), 2);
    /// assert_eq!(db.zadd("board", &[(12.0, "ann")]).unwrap(), 0);
    /// assert_eq!(db.zscore("board", "ann").unwrap(), Some(12.0));
    /// ```
    pub fn zadd<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[(f64, M)]) -> Result<i64> {
        match self.zadd_with(key, &ZAddOptions::default(), members)? {
            ZAddReply::Count(n) => Ok(n),
            ZAddReply::Score(_) => Ok(0),
        }
    }

    /// ZADD with options (NX, XX, GT, LT, CH, INCR); errors for invalid combinations are
    /// Redis's.
    ///
    /// ```
    /// use embedis::cmd::zset::{ZAddOptions, ZAddReply};
    /// let db = embedis::Db::new();
    /// db.zadd("best", &[(5.0, "ann")]).unwrap();
    /// let gt = ZAddOptions { gt: true, ch: true, ..Default::default() };
    /// // Only raises scores: 3 < 5 is ignored, "bob" is new.
    /// let r = db.zadd_with("best", &gt, &[(3.0, "ann"), (1.0, "bob")]).unwrap();
    /// assert_eq!(r, ZAddReply::Count(1));
    /// let incr = ZAddOptions { incr: true, xx: true, ..Default::default() };
    /// assert_eq!(db.zadd_with("best", &incr, &[(1.0, "zed")]).unwrap(), ZAddReply::Score(None));
    /// ```
    pub fn zadd_with<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        opts: &ZAddOptions,
        members: &[(f64, M)],
    ) -> Result<ZAddReply> {
        let key = key.as_ref();
        let limits = self.zlimits();
        self.with_key(key, |a| z::zadd_exec(a, &limits, key, opts, members))
    }

    /// ZINCRBY: adds `incr` to the member's score (0 if new); returns the new score.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// assert_eq!(db.zincrby("hits", 1.0, "/home").unwrap(), 1.0);
    /// assert_eq!(db.zincrby("hits", 2.5, "/home").unwrap(), 3.5);
    /// assert!(db.zincrby("hits", f64::NAN, "/home").is_err());
    /// ```
    pub fn zincrby(
        &self,
        key: impl AsRef<[u8]>,
        incr: f64,
        member: impl AsRef<[u8]>,
    ) -> Result<f64> {
        let opts = ZAddOptions {
            incr: true,
            ..ZAddOptions::default()
        };
        match self.zadd_with(key, &opts, &[(incr, member)])? {
            ZAddReply::Score(s) => Ok(s.unwrap_or(f64::NAN)),
            ZAddReply::Count(_) => Ok(f64::NAN),
        }
    }

    /// ZSCORE: the member's score, `None` if the key or the member is missing.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.zadd("z", &[(1.5, "a")]).unwrap();
    /// assert_eq!(db.zscore("z", "a").unwrap(), Some(1.5));
    /// assert_eq!(db.zscore("z", "b").unwrap(), None);
    /// ```
    pub fn zscore(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<Option<f64>> {
        let key = key.as_ref();
        self.with_key(key, |a| z::zscore_exec(a, key, member.as_ref()))
    }

    /// ZMSCORE: the score of each member.
    pub fn zmscore<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: &[M],
    ) -> Result<Vec<Option<f64>>> {
        let key = key.as_ref();
        self.with_key(key, |a| z::zmscore_exec(a, key, members))
    }

    /// ZCARD: number of members.
    pub fn zcard(&self, key: impl AsRef<[u8]>) -> Result<i64> {
        let key = key.as_ref();
        self.with_key(key, |a| z::zcard_exec(a, key))
    }

    /// ZRANK: 0-based position of the member, lowest score first.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.zadd("z", &[(3.0, "c"), (1.0, "a"), (2.0, "b")]).unwrap();
    /// assert_eq!(db.zrank("z", "c").unwrap(), Some(2));
    /// assert_eq!(db.zrevrank("z", "c").unwrap(), Some(0));
    /// assert_eq!(db.zrank("z", "x").unwrap(), None);
    /// ```
    pub fn zrank(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<Option<i64>> {
        let key = key.as_ref();
        self.with_key(key, |a| z::zrank_exec(a, key, member.as_ref(), false))
    }

    /// ZREVRANK: 0-based position of the member, highest score first.
    pub fn zrevrank(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<Option<i64>> {
        let key = key.as_ref();
        self.with_key(key, |a| z::zrank_exec(a, key, member.as_ref(), true))
    }

    /// ZREM: removes members; how many existed. An emptied key is deleted.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.zadd("z", &[(1.0, "a"), (2.0, "b")]).unwrap();
    /// assert_eq!(db.zrem("z", &["a", "nope"]).unwrap(), 1);
    /// assert_eq!(db.zrem("z", &["b"]).unwrap(), 1);
    /// assert_eq!(db.exists(&["z"]), 0);
    /// ```
    pub fn zrem<M: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, members: &[M]) -> Result<i64> {
        let key = key.as_ref();
        self.with_key(key, |a| z::zrem_exec(a, key, members))
    }

    /// ZCOUNT: members with a score in `range`.
    pub fn zcount(&self, key: impl AsRef<[u8]>, range: &ScoreRange) -> Result<i64> {
        let key = key.as_ref();
        self.with_key(key, |a| z::zcount_exec(a, key, range))
    }

    /// ZLEXCOUNT: members in the lexicographic `range`.
    pub fn zlexcount(&self, key: impl AsRef<[u8]>, range: &LexRange) -> Result<i64> {
        let key = key.as_ref();
        self.with_key(key, |a| z::zlexcount_exec(a, key, range))
    }

    /// ZRANGE in all its forms (by rank, score or lex; REV; LIMIT): members with scores.
    ///
    /// ```
    /// use embedis::cmd::zset::ZRange;
    /// use embedis::types::zset::ScoreRange;
    /// let db = embedis::Db::new();
    /// db.zadd("z", &[(1.0, "a"), (2.0, "b"), (3.0, "c"), (4.0, "d")]).unwrap();
    /// let top2 = db.zrange("z", &ZRange::rank(0, 1).rev()).unwrap();
    /// assert_eq!(top2, [("d".into(), 4.0), ("c".into(), 3.0)]);
    /// let page = ScoreRange::parse(b"(1", b"+inf").unwrap();
    /// let got = db.zrange("z", &ZRange::score(page).limit(1, 2)).unwrap();
    /// assert_eq!(got, [("c".into(), 3.0), ("d".into(), 4.0)]);
    /// ```
    pub fn zrange(&self, key: impl AsRef<[u8]>, range: &ZRange) -> Result<Vec<Scored>> {
        let key = key.as_ref();
        self.with_key(key, |a| z::zrange_exec(a, key, range))
    }

    /// ZRANGESTORE: stores the selection from `src` at `dst`; its length (0 deletes `dst`).
    pub fn zrangestore(
        &self,
        dst: impl AsRef<[u8]>,
        src: impl AsRef<[u8]>,
        range: &ZRange,
    ) -> Result<i64> {
        let limits = self.zlimits();
        self.with_all(|a| z::zrangestore_exec(a, &limits, dst.as_ref(), src.as_ref(), range))
    }

    /// ZREMRANGEBYRANK / ZREMRANGEBYSCORE / ZREMRANGEBYLEX: how many were removed.
    pub fn zremrange(&self, key: impl AsRef<[u8]>, range: &ZRemRange) -> Result<i64> {
        let key = key.as_ref();
        self.with_key(key, |a| z::zremrange_exec(a, key, range))
    }

    /// ZPOPMIN: removes and returns up to `count` lowest-scored members.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.zadd("jobs", &[(2.0, "b"), (1.0, "a"), (3.0, "c")]).unwrap();
    /// assert_eq!(db.zpopmin("jobs", 2).unwrap(), [("a".into(), 1.0), ("b".into(), 2.0)]);
    /// assert_eq!(db.zpopmax("jobs", 5).unwrap(), [("c".into(), 3.0)]);
    /// assert_eq!(db.zcard("jobs").unwrap(), 0);
    /// ```
    pub fn zpopmin(&self, key: impl AsRef<[u8]>, count: usize) -> Result<Vec<Scored>> {
        let key = key.as_ref();
        let r = self.with_key(key, |a| z::zpop_exec(a, &[key], false, count))?;
        Ok(r.map(|(_, v)| v).unwrap_or_default())
    }

    /// ZPOPMAX: removes and returns up to `count` highest-scored members.
    pub fn zpopmax(&self, key: impl AsRef<[u8]>, count: usize) -> Result<Vec<Scored>> {
        let key = key.as_ref();
        let r = self.with_key(key, |a| z::zpop_exec(a, &[key], true, count))?;
        Ok(r.map(|(_, v)| v).unwrap_or_default())
    }

    /// ZMPOP: pops up to `count` elements (highest first if `max`) from the first existing
    /// key of `keys`; that key and the elements, or `None`.
    pub fn zmpop<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        max: bool,
        count: usize,
    ) -> Result<Option<(Bytes, Vec<Scored>)>> {
        self.with_all(|a| z::zpop_exec(a, keys, max, count))
    }

    /// ZRANDMEMBER with a count: up to `count` distinct members, or `-count` members that may
    /// repeat when negative.
    pub fn zrandmember(&self, key: impl AsRef<[u8]>, count: i64) -> Result<Vec<Scored>> {
        let key = key.as_ref();
        let mut rng = SmallRng::seed_from_u64(self.engine().random_u64());
        self.with_key(key, |a| z::zrandmember_count_exec(a, key, count, &mut rng))
    }

    /// ZUNION: members of any of `keys`, scores combined per `opts`.
    pub fn zunion<K: AsRef<[u8]>>(&self, keys: &[K], opts: &SetOpOptions) -> Result<Vec<Scored>> {
        self.with_all(|a| z::zsetop_exec(a, SetOp::Union, keys, opts))
    }

    /// ZINTER: members of all of `keys`, scores combined per `opts`.
    pub fn zinter<K: AsRef<[u8]>>(&self, keys: &[K], opts: &SetOpOptions) -> Result<Vec<Scored>> {
        self.with_all(|a| z::zsetop_exec(a, SetOp::Inter, keys, opts))
    }

    /// ZDIFF: members of the first key and of none of the others.
    pub fn zdiff<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Scored>> {
        self.with_all(|a| z::zsetop_exec(a, SetOp::Diff, keys, &SetOpOptions::default()))
    }

    /// ZUNIONSTORE / ZINTERSTORE / ZDIFFSTORE (`op`): stores the result at `dst`; its length.
    pub fn zsetop_store<K: AsRef<[u8]>>(
        &self,
        dst: impl AsRef<[u8]>,
        op: SetOp,
        keys: &[K],
        opts: &SetOpOptions,
    ) -> Result<i64> {
        let limits = self.zlimits();
        self.with_all(|a| z::zsetop_store_exec(a, &limits, dst.as_ref(), op, keys, opts))
    }

    /// ZINTERCARD: size of the intersection, counting no further than `limit` (0: no limit).
    pub fn zintercard<K: AsRef<[u8]>>(&self, keys: &[K], limit: u64) -> Result<i64> {
        self.with_all(|a| z::zintercard_exec(a, keys, limit))
    }

    /// ZSCAN: one step from `cursor`; the next cursor (0 when done) and members with their
    /// scores as ZSCAN formats them.
    pub fn zscan(
        &self,
        key: impl AsRef<[u8]>,
        cursor: u64,
        opts: &ScanOptions,
    ) -> Result<(u64, Vec<(Bytes, Bytes)>)> {
        let key = key.as_ref();
        self.with_key(key, |a| z::zscan_exec(a, key, cursor, opts))
    }
}
