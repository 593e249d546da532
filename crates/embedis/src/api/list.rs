//! Typed list methods, including the blocking pops as `async` methods that work on any
//! executor (or none: they are plain futures woken by the pushing thread or the engine's
//! timer thread).

use std::time::Duration;

use bytes::Bytes;

use crate::blocking::{self, PendingBlock};
use crate::cmd::list::{
    LposOptions, lindex_exec, linsert_exec, llen_exec, lmove_exec, lmpop_exec, lpos_exec,
    lrange_exec, lrem_exec, lset_exec, ltrim_exec, pop_exec, push_exec, register_move,
    register_pop,
};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::keyspace::Access;
use crate::reply::Reply;
use crate::types::list::ListEnd;

/// Where LINSERT puts the new element relative to the pivot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// Before the pivot.
    Before,
    /// After the pivot.
    After,
}

enum Attempt<T> {
    Done(T),
    Blocked(PendingBlock),
}

impl Db {
    /// Runs `f` locking one shard if all keys are the same, else every shard.
    fn with_list_keys<R>(&self, keys: &[Bytes], f: impl FnOnce(&mut Access<'_>) -> R) -> R {
        match keys.split_first() {
            Some((first, rest)) if rest.iter().all(|k| k == first) => self.with_key(first, f),
            _ => self.with_all(f),
        }
    }

    /// LPUSH: pushes `values` at the head, one after the other (so the last ends up first);
    /// returns the new length.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// assert_eq!(db.lpush("l", &["a", "b"]), Ok(2));
    /// assert_eq!(db.lrange("l", 0, -1).unwrap(), vec!["b", "a"]);
    /// ```
    pub fn lpush<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, values: &[V]) -> Result<usize> {
        let key = key.as_ref();
        self.with_key(key, |a| push_exec(a, key, values, ListEnd::Left, false))
    }

    /// RPUSH: pushes `values` at the tail; returns the new length.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.rpush("l", &["a", "b"]).unwrap();
    /// assert_eq!(db.rpush("l", &["c"]), Ok(3));
    /// assert_eq!(db.lindex("l", -1).unwrap().as_deref(), Some(&b"c"[..]));
    /// ```
    pub fn rpush<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, values: &[V]) -> Result<usize> {
        let key = key.as_ref();
        self.with_key(key, |a| push_exec(a, key, values, ListEnd::Right, false))
    }

    /// LPUSHX: like [`Db::lpush`] but only onto an existing list (returns 0 otherwise).
    pub fn lpushx<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, values: &[V]) -> Result<usize> {
        let key = key.as_ref();
        self.with_key(key, |a| push_exec(a, key, values, ListEnd::Left, true))
    }

    /// RPUSHX: like [`Db::rpush`] but only onto an existing list (returns 0 otherwise).
    pub fn rpushx<V: AsRef<[u8]>>(&self, key: impl AsRef<[u8]>, values: &[V]) -> Result<usize> {
        let key = key.as_ref();
        self.with_key(key, |a| push_exec(a, key, values, ListEnd::Right, true))
    }

    /// LPOP: removes and returns the head element, `None` if the list is missing.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.rpush("l", &["a", "b"]).unwrap();
    /// assert_eq!(db.lpop("l").unwrap().as_deref(), Some(&b"a"[..]));
    /// ```
    pub fn lpop(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.pop_one(key.as_ref(), ListEnd::Left)
    }

    /// RPOP: removes and returns the tail element, `None` if the list is missing.
    pub fn rpop(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.pop_one(key.as_ref(), ListEnd::Right)
    }

    fn pop_one(&self, key: &[u8], end: ListEnd) -> Result<Option<Bytes>> {
        let popped = self.with_key(key, |a| pop_exec(a, key, end, 1))?;
        Ok(popped.and_then(|mut v| v.pop()))
    }

    /// LPOP with a count: up to `count` elements from the head, `None` if the list is
    /// missing.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.rpush("l", &["a", "b", "c"]).unwrap();
    /// assert_eq!(db.lpop_count("l", 2).unwrap().unwrap(), vec!["a", "b"]);
    /// assert_eq!(db.lpop_count("nothing", 2), Ok(None));
    /// ```
    pub fn lpop_count(&self, key: impl AsRef<[u8]>, count: usize) -> Result<Option<Vec<Bytes>>> {
        let key = key.as_ref();
        self.with_key(key, |a| pop_exec(a, key, ListEnd::Left, count))
    }

    /// RPOP with a count: up to `count` elements from the tail (tail first).
    pub fn rpop_count(&self, key: impl AsRef<[u8]>, count: usize) -> Result<Option<Vec<Bytes>>> {
        let key = key.as_ref();
        self.with_key(key, |a| pop_exec(a, key, ListEnd::Right, count))
    }

    /// LLEN: the list's length (0 if missing).
    pub fn llen(&self, key: impl AsRef<[u8]>) -> Result<usize> {
        let key = key.as_ref();
        self.with_key(key, |a| llen_exec(a, key))
    }

    /// LINDEX: the element at `index` (negative counts from the tail).
    pub fn lindex(&self, key: impl AsRef<[u8]>, index: i64) -> Result<Option<Bytes>> {
        let key = key.as_ref();
        self.with_key(key, |a| lindex_exec(a, key, Ok(index)))
    }

    /// LSET: replaces the element at `index`; `Err(NoSuchKey)` for a missing list, and
    /// `ERR index out of range` past either end.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.rpush("l", &["a", "b"]).unwrap();
    /// db.lset("l", -1, "B").unwrap();
    /// assert_eq!(db.lrange("l", 0, -1).unwrap(), vec!["a", "B"]);
    /// assert!(db.lset("l", 2, "x").is_err());
    /// ```
    pub fn lset(&self, key: impl AsRef<[u8]>, index: i64, value: impl AsRef<[u8]>) -> Result<()> {
        let key = key.as_ref();
        self.with_key(key, |a| lset_exec(a, key, Ok(index), value.as_ref()))
    }

    /// LRANGE: elements `start..=stop` (negative counts from the tail; clamped).
    pub fn lrange(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<Vec<Bytes>> {
        let key = key.as_ref();
        self.with_key(key, |a| lrange_exec(a, key, start, stop))
    }

    /// LTRIM: keeps elements `start..=stop` only.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.rpush("log", &["1", "2", "3", "4"]).unwrap();
    /// db.ltrim("log", -2, -1).unwrap();
    /// assert_eq!(db.lrange("log", 0, -1).unwrap(), vec!["3", "4"]);
    /// ```
    pub fn ltrim(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<()> {
        let key = key.as_ref();
        self.with_key(key, |a| ltrim_exec(a, key, start, stop))
    }

    /// LINSERT: inserts `value` next to the first `pivot`. The new length; 0 if the list is
    /// missing, -1 if the pivot is not in it.
    ///
    /// ```
    /// use embedis::api::list::Insert;
    /// let db = embedis::Db::new();
    /// db.rpush("l", &["a", "c"]).unwrap();
    /// assert_eq!(db.linsert("l", Insert::After, "a", "b"), Ok(3));
    /// assert_eq!(db.linsert("l", Insert::Before, "zz", "b"), Ok(-1));
    /// ```
    pub fn linsert(
        &self,
        key: impl AsRef<[u8]>,
        at: Insert,
        pivot: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<i64> {
        let key = key.as_ref();
        let after = at == Insert::After;
        self.with_key(key, |a| {
            linsert_exec(a, key, after, pivot.as_ref(), value.as_ref())
        })
    }

    /// LREM: removes up to |count| elements equal to `value` (all for 0; from the tail when
    /// negative); returns how many.
    pub fn lrem(
        &self,
        key: impl AsRef<[u8]>,
        count: i64,
        value: impl AsRef<[u8]>,
    ) -> Result<usize> {
        let key = key.as_ref();
        self.with_key(key, |a| lrem_exec(a, key, count, value.as_ref()))
    }

    /// LPOS: indexes of `element`, per `opts` (with `count: None`, at most one).
    ///
    /// ```
    /// use embedis::cmd::list::LposOptions;
    /// let db = embedis::Db::new();
    /// db.rpush("l", &["a", "b", "a", "a"]).unwrap();
    /// assert_eq!(db.lpos("l", "a", LposOptions::default()), Ok(vec![0]));
    /// let last_two = LposOptions { rank: -1, count: Some(2), maxlen: 0 };
    /// assert_eq!(db.lpos("l", "a", last_two), Ok(vec![3, 2]));
    /// ```
    pub fn lpos(
        &self,
        key: impl AsRef<[u8]>,
        element: impl AsRef<[u8]>,
        opts: LposOptions,
    ) -> Result<Vec<usize>> {
        let key = key.as_ref();
        let found = self.with_key(key, |a| lpos_exec(a, key, element.as_ref(), opts))?;
        Ok(found.into_iter().map(|i| i as usize).collect())
    }

    /// LMOVE: moves one element from `from` of `src` to `to` of `dst`; `None` if `src` is
    /// missing.
    ///
    /// ```
    /// use embedis::types::list::ListEnd;
    /// let db = embedis::Db::new();
    /// db.rpush("todo", &["a", "b"]).unwrap();
    /// let moved = db.lmove("todo", "doing", ListEnd::Left, ListEnd::Right).unwrap();
    /// assert_eq!(moved.as_deref(), Some(&b"a"[..]));
    /// assert_eq!(db.llen("doing"), Ok(1));
    /// ```
    pub fn lmove(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        from: ListEnd,
        to: ListEnd,
    ) -> Result<Option<Bytes>> {
        let keys = [
            Bytes::copy_from_slice(src.as_ref()),
            Bytes::copy_from_slice(dst.as_ref()),
        ];
        self.with_list_keys(&keys, |a| lmove_exec(a, &keys[0], &keys[1], from, to))
    }

    /// RPOPLPUSH: [`Db::lmove`] from the tail of `src` to the head of `dst`.
    pub fn rpoplpush(&self, src: impl AsRef<[u8]>, dst: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.lmove(src, dst, ListEnd::Right, ListEnd::Left)
    }

    /// LMPOP: up to `count` elements from the first non-empty list of `keys`, with its key.
    ///
    /// ```
    /// use embedis::types::list::ListEnd;
    /// let db = embedis::Db::new();
    /// db.rpush("b", &["1", "2", "3"]).unwrap();
    /// let (key, values) = db.lmpop(&["a", "b"], ListEnd::Right, 2).unwrap().unwrap();
    /// assert_eq!(key, "b");
    /// assert_eq!(values, vec!["3", "2"]);
    /// ```
    pub fn lmpop<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        end: ListEnd,
        count: usize,
    ) -> Result<Option<(Bytes, Vec<Bytes>)>> {
        let keys = owned_keys(keys);
        self.with_list_keys(&keys, |a| lmpop_exec(a, &keys, end, count))
    }

    /// BLPOP: pops the head of the first non-empty list of `keys`, or waits until another
    /// client pushes to one of them (waiters are served in the order they blocked), at most
    /// `timeout` (`None`: forever; zero: do not wait). `Ok(None)` on timeout.
    ///
    /// ```
    /// # futures_lite_block_on(async {
    /// use std::time::Duration;
    /// let db = embedis::Db::new();
    /// let consumer = {
    ///     let db = db.clone();
    ///     std::thread::spawn(move || {
    ///         futures_lite_block_on(db.blpop(&["jobs"], Some(Duration::from_secs(5))))
    ///     })
    /// };
    /// while db.engine().blocked_clients() == 0 {
    ///     std::thread::yield_now();
    /// }
    /// db.rpush("jobs", &["j1"]).unwrap();
    /// let (key, job) = consumer.join().unwrap().unwrap().unwrap();
    /// assert_eq!((key.as_ref(), job.as_ref()), (&b"jobs"[..], &b"j1"[..]));
    /// # });
    /// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::noop();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
    /// #         std::thread::sleep(std::time::Duration::from_millis(1));
    /// #     }
    /// # }
    /// ```
    pub async fn blpop<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        timeout: Option<Duration>,
    ) -> Result<Option<(Bytes, Bytes)>> {
        let popped = self
            .block_pop(owned_keys(keys), ListEnd::Left, None, timeout)
            .await?;
        Ok(popped.and_then(|(k, mut v)| Some((k, v.pop()?))))
    }

    /// BRPOP: [`Db::blpop`] from the tails.
    pub async fn brpop<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        timeout: Option<Duration>,
    ) -> Result<Option<(Bytes, Bytes)>> {
        let popped = self
            .block_pop(owned_keys(keys), ListEnd::Right, None, timeout)
            .await?;
        Ok(popped.and_then(|(k, mut v)| Some((k, v.pop()?))))
    }

    /// BLMPOP: [`Db::lmpop`], waiting like [`Db::blpop`] when all lists are empty.
    pub async fn blmpop<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        end: ListEnd,
        count: usize,
        timeout: Option<Duration>,
    ) -> Result<Option<(Bytes, Vec<Bytes>)>> {
        self.block_pop(owned_keys(keys), end, Some(count), timeout)
            .await
    }

    /// BLMOVE: [`Db::lmove`], waiting like [`Db::blpop`] while `src` is empty.
    ///
    /// ```
    /// # let waker = std::task::Waker::noop();
    /// # let mut cx = std::task::Context::from_waker(&waker);
    /// use embedis::types::list::ListEnd;
    /// use std::time::Duration;
    /// let db = embedis::Db::new();
    /// let mut call = Box::pin(db.blmove("in", "out", ListEnd::Left, ListEnd::Right, None));
    /// assert!(call.as_mut().poll(&mut cx).is_pending());
    /// db.rpush("in", &["x"]).unwrap();
    /// let std::task::Poll::Ready(moved) = call.as_mut().poll(&mut cx) else { panic!() };
    /// assert_eq!(moved.unwrap().as_deref(), Some(&b"x"[..]));
    /// assert_eq!(db.lrange("out", 0, -1).unwrap(), vec!["x"]);
    /// ```
    pub async fn blmove(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        from: ListEnd,
        to: ListEnd,
        timeout: Option<Duration>,
    ) -> Result<Option<Bytes>> {
        let keys = [
            Bytes::copy_from_slice(src.as_ref()),
            Bytes::copy_from_slice(dst.as_ref()),
        ];
        let attempt = self.with_list_keys(&keys, |a| -> Result<Attempt<Option<Bytes>>> {
            if let Some(v) = lmove_exec(a, &keys[0], &keys[1], from, to)? {
                return Ok(Attempt::Done(Some(v)));
            }
            let Some(deadline) = typed_deadline(a.now_ms(), timeout) else {
                return Ok(Attempt::Done(None));
            };
            Ok(Attempt::Blocked(register_move(
                a, &keys[0], &keys[1], from, to, deadline,
            )))
        })?;
        match attempt {
            Attempt::Done(v) => Ok(v),
            Attempt::Blocked(pending) => match pending.into_call(self.engine().clone()).await {
                Reply::Bulk(v) => Ok(Some(v)),
                Reply::Error(e) => Err(e),
                _ => Ok(None),
            },
        }
    }

    /// BRPOPLPUSH: [`Db::blmove`] from the tail of `src` to the head of `dst`.
    pub async fn brpoplpush(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        timeout: Option<Duration>,
    ) -> Result<Option<Bytes>> {
        self.blmove(src, dst, ListEnd::Right, ListEnd::Left, timeout)
            .await
    }

    async fn block_pop(
        &self,
        keys: Vec<Bytes>,
        end: ListEnd,
        count: Option<usize>,
        timeout: Option<Duration>,
    ) -> Result<Option<(Bytes, Vec<Bytes>)>> {
        if keys.is_empty() {
            return Err(Error::wrong_arity(if count.is_some() {
                "blmpop"
            } else if end == ListEnd::Left {
                "blpop"
            } else {
                "brpop"
            }));
        }
        let attempt = self.with_list_keys(&keys, |a| -> Result<Attempt<_>> {
            if let Some(popped) = lmpop_exec(a, &keys, end, count.unwrap_or(1))? {
                return Ok(Attempt::Done(Some(popped)));
            }
            let Some(deadline) = typed_deadline(a.now_ms(), timeout) else {
                return Ok(Attempt::Done(None));
            };
            Ok(Attempt::Blocked(register_pop(
                a, &keys, end, count, deadline,
            )))
        })?;
        match attempt {
            Attempt::Done(v) => Ok(v),
            Attempt::Blocked(pending) => {
                let reply = pending.into_call(self.engine().clone()).await;
                popped_from_reply(reply)
            }
        }
    }
}

fn owned_keys<K: AsRef<[u8]>>(keys: &[K]) -> Vec<Bytes> {
    keys.iter()
        .map(|k| Bytes::copy_from_slice(k.as_ref()))
        .collect()
}

/// The deadline for a typed timeout: `None` (outer) when it is zero, meaning do not wait;
/// `Some(None)` for no timeout.
fn typed_deadline(now: u64, timeout: Option<Duration>) -> Option<Option<u64>> {
    match timeout {
        None => Some(None),
        Some(d) => {
            let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
            (ms > 0).then(|| blocking::deadline(now, Some(ms)))
        }
    }
}

/// The typed value of a served BLPOP/BRPOP (`[key, value]`) or BLMPOP (`[key, [values]]`).
fn popped_from_reply(reply: Reply) -> Result<Option<(Bytes, Vec<Bytes>)>> {
    let Reply::Array(mut parts) = reply else {
        return match reply {
            Reply::Error(e) => Err(e),
            _ => Ok(None),
        };
    };
    let values = match parts.pop() {
        Some(Reply::Bulk(v)) => vec![v],
        Some(Reply::Array(vs)) => vs
            .into_iter()
            .filter_map(|r| match r {
                Reply::Bulk(v) => Some(v),
                _ => None,
            })
            .collect(),
        _ => return Ok(None),
    };
    match parts.pop() {
        Some(Reply::Bulk(k)) => Ok(Some((k, values))),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn poll_once<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        f.poll(&mut cx)
    }

    fn wait<F: std::future::Future>(f: F) -> F::Output {
        let mut f = pin!(f);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Poll::Ready(v) = poll_once(f.as_mut()) {
                return v;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "future never completed"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn typed_api_agrees_with_call() {
        let db = Db::new();
        assert_eq!(db.rpush("l", &["a", "b", "c"]), Ok(3));
        assert_eq!(db.call(["LLEN", "l"]), Reply::Int(3));
        assert_eq!(db.lpushx("nokey", &["a"]), Ok(0));
        assert_eq!(db.rpop_count("l", 2).unwrap().unwrap(), vec!["c", "b"]);
        assert_eq!(db.lpop("l").unwrap().as_deref(), Some(&b"a"[..]));
        assert_eq!(db.exists(&["l"]), 0);
        db.set("s", "v");
        assert_eq!(db.lpush("s", &["x"]), Err(Error::WrongType));
        assert_eq!(db.lset("nokey", 0, "x"), Err(Error::NoSuchKey));
        assert_eq!(db.linsert("nokey", Insert::Before, "a", "b"), Ok(0));
        db.rpush("l", &["x", "y", "x"]).unwrap();
        assert_eq!(db.lrem("l", -1, "x"), Ok(1));
        assert_eq!(db.lrange("l", 0, -1).unwrap(), vec!["x", "y"]);
        assert_eq!(db.rpoplpush("l", "l").unwrap().as_deref(), Some(&b"y"[..]));
        assert_eq!(db.lrange("l", 0, -1).unwrap(), vec!["y", "x"]);
    }

    #[test]
    fn dump_matches_redis_and_restores() {
        let db = Db::new();
        let long = "x".repeat(100);
        let values = ["a", "b", "1", "2", "300", "-7", &long, "99999999999", ""];
        db.rpush("l", &values).unwrap();
        // DUMP l of redis-server 7.0 after the same RPUSH.
        let redis: &[u8] = b"\x12\x01\x02\xc3+@\x8a\x18\x8a\x00\x00\x00\x09\x00\x81a\x02\x81b\x02\x01\x01\x02\x01\xc1,\x02\xdf\xf9\x02\xe0dx\xe0Z\x00\x06f\xf4\xff\xe7vH\x17@\x81\x02\x80\x01\xff\x0a\x005\xfc\x93:nU-\xa5";
        assert_eq!(db.call(["DUMP", "l"]), Reply::bulk(redis));
        assert_eq!(db.call([&b"RESTORE"[..], b"copy", b"0", redis]), Reply::Ok);
        assert_eq!(db.lrange("copy", 0, -1).unwrap(), values.to_vec());
        assert_eq!(
            db.call(["OBJECT", "ENCODING", "copy"]),
            Reply::bulk("quicklist")
        );
    }

    #[test]
    fn blocking_pops_return_at_once_with_data_or_zero_timeout() {
        let db = Db::new();
        db.rpush("b", &["1"]).unwrap();
        let got = wait(db.blpop(&["a", "b"], None)).unwrap().unwrap();
        assert_eq!((got.0.as_ref(), got.1.as_ref()), (&b"b"[..], &b"1"[..]));
        assert_eq!(wait(db.blpop(&["a"], Some(Duration::ZERO))), Ok(None));
        assert_eq!(db.engine().blocked_clients(), 0);
        db.set("s", "v");
        assert_eq!(wait(db.brpop(&["s"], None)), Err(Error::WrongType));
    }

    #[test]
    fn waiters_are_served_in_order_and_counted() {
        let db = Db::new();
        let mut first = Box::pin(db.blpop(&["q"], None));
        let mut second = Box::pin(db.blpop(&["q", "other"], None));
        let mut third = Box::pin(db.blmpop(&["q"], ListEnd::Right, 5, None));
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(second.as_mut()).is_pending());
        assert!(poll_once(third.as_mut()).is_pending());
        assert_eq!(db.engine().blocked_clients(), 3);
        // One push serves one waiter: the first to block.
        assert_eq!(db.rpush("q", &["a"]), Ok(1));
        assert_eq!(db.engine().blocked_clients(), 2);
        let Poll::Ready(Ok(Some((_, v)))) = poll_once(first.as_mut()) else {
            panic!("first waiter not served")
        };
        assert_eq!(v, "a");
        assert!(poll_once(second.as_mut()).is_pending());
        // Three elements: the second waiter takes one, the third the rest (BLMPOP COUNT 5).
        db.rpush("q", &["b", "c", "d"]).unwrap();
        let Poll::Ready(Ok(Some((_, v)))) = poll_once(second.as_mut()) else {
            panic!("second waiter not served")
        };
        assert_eq!(v, "b");
        let Poll::Ready(Ok(Some((_, vs)))) = poll_once(third.as_mut()) else {
            panic!("third waiter not served")
        };
        assert_eq!(vs, vec!["d", "c"]);
        assert_eq!(db.exists(&["q"]), 0);
        assert_eq!(db.engine().blocked_clients(), 0);
    }

    #[test]
    fn dropped_waiter_leaves_nothing() {
        let db = Db::new();
        {
            let mut call = Box::pin(db.blpop(&["q", "r"], None));
            assert!(poll_once(call.as_mut()).is_pending());
            assert_eq!(db.engine().blocked_clients(), 1);
        }
        assert_eq!(db.engine().blocked_clients(), 0);
        for key in ["q", "r"] {
            assert!(
                db.engine()
                    .keyspace
                    .with_waiters_of(key.as_bytes(), |w| w.is_empty())
            );
        }
        // The push stays in the list: nobody takes it.
        db.rpush("q", &["a"]).unwrap();
        assert_eq!(db.llen("q"), Ok(1));
    }

    #[test]
    fn timeouts_follow_the_manual_clock() {
        let clock = ManualClock::new();
        let db = Db::builder().clock(clock.clone()).build();
        let mut call = Box::pin(db.blpop(&["q"], Some(Duration::from_secs(2))));
        assert!(poll_once(call.as_mut()).is_pending());
        assert_eq!(db.engine().clients_in_timeout_table(), 1);
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            poll_once(call.as_mut()).is_pending(),
            "timed out before time moved"
        );
        clock.advance(Duration::from_millis(1999));
        std::thread::sleep(Duration::from_millis(50));
        assert!(poll_once(call.as_mut()).is_pending(), "timed out early");
        clock.advance(Duration::from_millis(1));
        assert_eq!(wait(call), Ok(None));
        assert_eq!(db.engine().blocked_clients(), 0);
        assert_eq!(db.engine().clients_in_timeout_table(), 0);
        // A push afterwards stays.
        db.rpush("q", &["a"]).unwrap();
        assert_eq!(db.llen("q"), Ok(1));
    }

    #[test]
    fn blmove_chains_into_another_waiter() {
        let db = Db::new();
        let mut mover = Box::pin(db.blmove("a", "b", ListEnd::Left, ListEnd::Left, None));
        let mut popper = Box::pin(db.brpop(&["b"], None));
        assert!(poll_once(mover.as_mut()).is_pending());
        assert!(poll_once(popper.as_mut()).is_pending());
        db.lpush("a", &["x"]).unwrap();
        let Poll::Ready(Ok(Some(moved))) = poll_once(mover.as_mut()) else {
            panic!("mover not served")
        };
        assert_eq!(moved, "x");
        let Poll::Ready(Ok(Some((k, v)))) = poll_once(popper.as_mut()) else {
            panic!("popper not served")
        };
        assert_eq!((k, v), (Bytes::from("b"), Bytes::from("x")));
        assert_eq!(db.exists(&["a", "b"]), 0);
    }

    #[test]
    fn blmove_into_wrong_type_unblocks_with_the_error() {
        let db = Db::new();
        let mut mover = Box::pin(db.blmove("a", "s", ListEnd::Left, ListEnd::Left, None));
        assert!(poll_once(mover.as_mut()).is_pending());
        db.set("s", "string");
        db.rpush("a", &["x"]).unwrap();
        assert_eq!(
            poll_once(mover.as_mut()),
            Poll::Ready(Err(Error::WrongType))
        );
        assert_eq!(db.llen("a"), Ok(1));
    }
}
