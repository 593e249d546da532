//! Typed blocking sorted-set pops (BZPOPMIN, BZPOPMAX, BZMPOP) as `async` methods, like the
//! blocking list pops of `api/list.rs`: any executor, or none.

use std::time::Duration;

use bytes::Bytes;

use crate::blocking;
use crate::cmd::bzpop::{register_zpop, zpop_attempt};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::reply::Reply;

/// A key and the members popped from it, with their scores.
pub type Popped = (Bytes, Vec<(Bytes, f64)>);

impl Db {
    /// BZPOPMIN: pops the lowest-scored member of the first non-empty sorted set of `keys`,
    /// or waits until one gets members (waiters are served in the order they blocked), at
    /// most `timeout` (`None`: forever; zero: do not wait). `(key, member, score)`.
    ///
    /// ```
    /// # let waker = std::task::Waker::noop();
    /// # let mut cx = std::task::Context::from_waker(&waker);
    /// let db = embedis::Db::new();
    /// let mut call = Box::pin(db.bzpopmin(&["scores"], None));
    /// assert!(call.as_mut().poll(&mut cx).is_pending());
    /// db.call(["ZADD", "scores", "2", "b", "1", "a"]);
    /// let std::task::Poll::Ready(Ok(Some((key, member, score)))) = call.as_mut().poll(&mut cx)
    /// else { panic!() };
    /// assert_eq!((key.as_ref(), member.as_ref(), score), (&b"scores"[..], &b"a"[..], 1.0));
    /// ```
    pub async fn bzpopmin<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        timeout: Option<Duration>,
    ) -> Result<Option<(Bytes, Bytes, f64)>> {
        let popped = self.block_zpop(keys, false, None, timeout).await?;
        Ok(popped.and_then(|(k, mut items)| items.pop().map(|(m, s)| (k, m, s))))
    }

    /// BZPOPMAX: [`Db::bzpopmin`] for the highest score.
    pub async fn bzpopmax<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        timeout: Option<Duration>,
    ) -> Result<Option<(Bytes, Bytes, f64)>> {
        let popped = self.block_zpop(keys, true, None, timeout).await?;
        Ok(popped.and_then(|(k, mut items)| items.pop().map(|(m, s)| (k, m, s))))
    }

    /// BZMPOP: up to `count` members (the highest when `max`) of the first non-empty sorted
    /// set of `keys`, waiting like [`Db::bzpopmin`].
    pub async fn bzmpop<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        max: bool,
        count: usize,
        timeout: Option<Duration>,
    ) -> Result<Option<Popped>> {
        self.block_zpop(keys, max, Some(count), timeout).await
    }

    async fn block_zpop<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        max: bool,
        count: Option<usize>,
        timeout: Option<Duration>,
    ) -> Result<Option<Popped>> {
        if keys.is_empty() {
            return Err(Error::wrong_arity(match (count, max) {
                (Some(_), _) => "bzmpop",
                (None, false) => "bzpopmin",
                (None, true) => "bzpopmax",
            }));
        }
        let keys: Vec<Bytes> = keys
            .iter()
            .map(|k| Bytes::copy_from_slice(k.as_ref()))
            .collect();
        let single = keys.iter().all(|k| k == &keys[0]);
        let attempt = |a: &mut crate::keyspace::Access<'_>| -> Result<_> {
            if let Some(popped) = zpop_attempt(a, &keys, max, count.unwrap_or(1))? {
                return Ok(Ok(Some(popped)));
            }
            let deadline = match timeout {
                None => None,
                Some(d) => match u64::try_from(d.as_millis()).unwrap_or(u64::MAX) {
                    0 => return Ok(Ok(None)),
                    ms => blocking::deadline(a.now_ms(), Some(ms)),
                },
            };
            Ok(Err(register_zpop(a, &keys, max, count, deadline)))
        };
        let outcome = if single {
            self.with_key(&keys[0], attempt)?
        } else {
            self.with_all(attempt)?
        };
        match outcome {
            Ok(popped) => Ok(popped),
            Err(pending) => popped_from_reply(pending.into_call(self.engine().clone()).await),
        }
    }
}

/// The typed value of a served BZPOPMIN/BZPOPMAX (`[key, member, score]`) or BZMPOP
/// (`[key, [[member, score], ...]]`).
fn popped_from_reply(reply: Reply) -> Result<Option<Popped>> {
    let parts = match reply {
        Reply::Array(parts) => parts,
        Reply::Error(e) => return Err(e),
        _ => return Ok(None),
    };
    let mut it = parts.into_iter();
    let Some(Reply::Bulk(key)) = it.next() else {
        return Ok(None);
    };
    let pair = |m: Reply, s: Reply| match (m, s) {
        (Reply::Bulk(m), Reply::Double(s)) => Some((m, s)),
        _ => None,
    };
    let items = match (it.next(), it.next()) {
        (Some(Reply::Array(pairs)), None) => pairs
            .into_iter()
            .filter_map(|p| match p {
                Reply::Array(p) => {
                    let mut p = p.into_iter();
                    pair(p.next()?, p.next()?)
                }
                _ => None,
            })
            .collect(),
        (Some(m), Some(s)) => pair(m, s).into_iter().collect(),
        _ => Vec::new(),
    };
    Ok(Some((key, items)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use std::task::{Context, Poll, Waker};

    fn poll_once<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        let waker = Waker::noop();
        f.poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn zset_waiters_are_served_in_order() {
        let db = Db::new();
        let mut first = Box::pin(db.bzpopmax(&["z"], None));
        let mut second = Box::pin(db.bzmpop(&["other", "z"], false, 5, None));
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(second.as_mut()).is_pending());
        assert_eq!(db.engine().blocked_clients(), 2);
        db.call(["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
        let Poll::Ready(Ok(Some((_, member, score)))) = poll_once(first.as_mut()) else {
            panic!("first not served")
        };
        assert_eq!((member.as_ref(), score), (&b"c"[..], 3.0));
        let Poll::Ready(Ok(Some((key, items)))) = poll_once(second.as_mut()) else {
            panic!("second not served")
        };
        assert_eq!(key, "z");
        assert_eq!(items, vec![("a".into(), 1.0), ("b".into(), 2.0)]);
        assert_eq!(db.exists(&["z"]), 0);
    }

    #[test]
    fn list_and_zset_waiters_on_one_key_take_only_their_type() {
        let db = Db::new();
        let mut zwaiter = Box::pin(db.bzpopmin(&["k"], None));
        let mut lwaiter = Box::pin(db.blpop(&["k"], None));
        assert!(poll_once(zwaiter.as_mut()).is_pending());
        assert!(poll_once(lwaiter.as_mut()).is_pending());
        db.rpush("k", &["x"]).unwrap();
        assert!(poll_once(zwaiter.as_mut()).is_pending());
        assert!(matches!(
            poll_once(lwaiter.as_mut()),
            Poll::Ready(Ok(Some(_)))
        ));
        db.call(["ZADD", "k", "1", "m"]);
        assert!(matches!(
            poll_once(zwaiter.as_mut()),
            Poll::Ready(Ok(Some(_)))
        ));
    }

    #[test]
    fn zset_timeouts_follow_the_manual_clock() {
        let clock = ManualClock::new();
        let db = Db::builder().clock(clock.clone()).build();
        let mut call = Box::pin(db.bzpopmin(&["z"], Some(Duration::from_millis(500))));
        assert!(poll_once(call.as_mut()).is_pending());
        clock.advance(Duration::from_millis(500));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            if let Poll::Ready(r) = poll_once(call.as_mut()) {
                assert_eq!(r, Ok(None));
                break;
            }
            assert!(std::time::Instant::now() < deadline, "never timed out");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(db.engine().blocked_clients(), 0);
    }
}
