//! The [`Backend`] trait: the few storage operations the kit's components need, shaped by
//! those callers, and its implementations.
//!
//! | caller | operations |
//! | --- | --- |
//! | rate limiter | [`rate_limit`](Backend::rate_limit) (one or several policies, atomic, all-or-nothing), [`delete`](Backend::delete) to reset |
//! | concurrency limiter | [`lease_acquire`](Backend::lease_acquire), [`lease_release`](Backend::lease_release), [`lease_renew`](Backend::lease_renew) |
//! | cache | [`get`](Backend::get), [`cache_set`](Backend::cache_set) (value, TTL and tag memberships, atomic), [`cache_delete`](Backend::cache_delete), [`cache_invalidate_tag`](Backend::cache_invalidate_tag), [`scan`](Backend::scan) for prefixes, [`set`](Backend::set) if absent for the single-flight lock |
//! | locks | [`lock_acquire`](Backend::lock_acquire) (SET NX PX plus a fencing counter, atomic), [`compare_and_delete`](Backend::compare_and_delete), [`compare_and_expire`](Backend::compare_and_expire) |
//! | session store | [`set_until`](Backend::set_until), [`get`](Backend::get), [`delete`](Backend::delete); per-user index: [`index_add`](Backend::index_add), [`index_members`](Backend::index_members), [`index_purge`](Backend::index_purge) |
//! | refresh tokens | [`refresh_create`](Backend::refresh_create), [`refresh_rotate`](Backend::refresh_rotate), and the index operations |
//!
//! Implementations: [`EmbeddedBackend`] (an in-process [`embedis::Db`]: native engine
//! operations, no network, no Lua) and [`RedisBackend`] (redis-rs; atomic Lua scripts with
//! the server's clock, so many app instances agree). [`AnyBackend`] picks one at run time.
//!
//! # Why static dispatch
//!
//! The methods return `impl Future + Send` (native async functions in traits), which keeps
//! the embedded path free of allocation: its futures are ready on first poll and inline
//! into the caller. Such a trait is not object-safe, so there is no `dyn Backend`; code
//! that chooses the backend from configuration uses [`AnyBackend`], an enum that
//! delegates with one `match` and no boxing.

mod any;
mod embedded;
mod redis;

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
pub use embedis::types::limiter::{Decision as RawDecision, Policy};

pub use self::any::AnyBackend;
pub use self::embedded::EmbeddedBackend;
pub use self::redis::{
    CACHE_DELETE_LUA, CACHE_INVALIDATE_TAG_LUA, CACHE_SET_LUA, LEASE_LUA, LIMITER_LUA,
    LOCK_ACQUIRE_LUA, RedisBackend, RedisBackendBuilder, SESSION_INDEX_LUA, SESSION_REFRESH_LUA,
};
use crate::error::Result;

/// One policy applied to one key.
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    /// The storage key for this policy's state.
    pub key: &'a [u8],
    /// The policy.
    pub policy: Policy,
}

/// A rate limit request: several checks decided together.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitRequest<'a> {
    /// The checks; state is charged to every key only if every policy admits the request.
    pub checks: &'a [Check<'a>],
    /// The request's weight.
    pub cost: i64,
    /// False to peek: decide without charging.
    pub charge: bool,
}

/// A lease to take in a concurrency limiter.
#[derive(Debug, Clone, Copy)]
pub struct LeaseRequest<'a> {
    /// The holder's id (unique per holder).
    pub id: &'a [u8],
    /// Most leases held at once.
    pub max: i64,
    /// How long the lease lasts unless renewed or released.
    pub ttl: Duration,
}

/// When [`Backend::set`] writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetCondition {
    /// Always.
    #[default]
    Always,
    /// Only if the key does not exist (locks).
    IfAbsent,
    /// Only if the key exists.
    IfPresent,
}

/// Options for [`Backend::set`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetOptions {
    /// Expire the key after this long (`None`: no TTL).
    pub ttl: Option<Duration>,
    /// When to write.
    pub condition: SetCondition,
}

impl SetOptions {
    /// Write unconditionally with this TTL.
    pub fn ttl(ttl: Duration) -> Self {
        SetOptions {
            ttl: Some(ttl),
            condition: SetCondition::Always,
        }
    }

    /// Only if absent, with this TTL (a lock).
    pub fn if_absent(ttl: Duration) -> Self {
        SetOptions {
            ttl: Some(ttl),
            condition: SetCondition::IfAbsent,
        }
    }
}

// --- locks and sessions ---

/// What [`Backend::lock_acquire`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockAttempt {
    /// The lock is ours; `fence` is the lock's fencing counter after its increment.
    Acquired {
        /// Strictly greater than every fencing token handed out before for this lock.
        fence: u64,
    },
    /// Someone holds it; `ttl` is how long it has left on the backend's clock (`None`: the
    /// key has no TTL).
    Held {
        /// Time left before the lock expires.
        ttl: Option<Duration>,
    },
}

/// What [`Backend::refresh_rotate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The presented digest was the family's current one: the new digest replaced it.
    Rotated {
        /// The family's user.
        user: Bytes,
    },
    /// The presented digest was one the family had already rotated away from: a replay. The
    /// family is deleted.
    Reused {
        /// The family's user.
        user: Bytes,
    },
    /// No such family (never created, expired, revoked) or a digest it never had.
    Invalid,
}

// --- end locks and sessions ---

/// Storage for the kit's components. See the module docs for which caller needs what.
///
/// Every operation is atomic on its keys. Time-based decisions use the backend's clock:
/// the engine clock for [`EmbeddedBackend`], the Redis server's `TIME` for
/// [`RedisBackend`].
pub trait Backend: Clone + Send + Sync + 'static {
    /// Decides a rate limit request: one raw decision per check, in order.
    fn rate_limit(
        &self,
        req: RateLimitRequest<'_>,
    ) -> impl Future<Output = Result<Vec<RawDecision>>> + Send;

    /// Takes (or renews, if `id` already holds one) a lease on `key`.
    fn lease_acquire(
        &self,
        key: &[u8],
        lease: LeaseRequest<'_>,
    ) -> impl Future<Output = Result<RawDecision>> + Send;

    /// Ends lease `id` on `key`; true if it was held.
    fn lease_release(&self, key: &[u8], id: &[u8]) -> impl Future<Output = Result<bool>> + Send;

    /// Extends lease `id` on `key` to `ttl` from now; true if it was held.
    fn lease_renew(
        &self,
        key: &[u8],
        id: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// The value of `key`, if any.
    fn get(&self, key: &[u8]) -> impl Future<Output = Result<Option<Bytes>>> + Send;

    /// Stores `value` under `key`; true if written (false when the condition failed).
    fn set(
        &self,
        key: &[u8],
        value: &[u8],
        opts: SetOptions,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Removes keys; how many existed.
    fn delete(&self, keys: &[&[u8]]) -> impl Future<Output = Result<u64>> + Send;

    /// Removes `key` only if it holds `expected` (releasing a lock); true if removed.
    fn compare_and_delete(
        &self,
        key: &[u8],
        expected: &[u8],
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Sets the TTL of `key` only if it holds `expected` (extending a lock).
    fn compare_and_expire(
        &self,
        key: &[u8],
        expected: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Sets the TTL of `key`; false if it does not exist.
    fn expire(&self, key: &[u8], ttl: Duration) -> impl Future<Output = Result<bool>> + Send;

    /// Whether calls cross a network (the limiter then applies its timeout and circuit
    /// breaker; in-process calls need neither and must not depend on a runtime's timer).
    fn is_remote(&self) -> bool;

    // --- locks and sessions ---

    /// Acquires a lock, atomically: if `key` does not exist, increments the counter at
    /// `fence_key` (which never expires) and sets `key` to `token` with `ttl`. A key of any
    /// type counts as held.
    fn lock_acquire(
        &self,
        key: &[u8],
        fence_key: &[u8],
        token: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<LockAttempt>> + Send;

    /// Stores `value` under `key` until the Unix time `expire_at_ms` (on the backend's
    /// clock; SET PXAT), under `condition`; true if written.
    fn set_until(
        &self,
        key: &[u8],
        value: &[u8],
        expire_at_ms: u64,
        condition: SetCondition,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Adds `member` to the index set `index` (whose member `m` stands for the key
    /// `prefix + m`), keeps the set at least until the Unix time `keep_until_ms` and at
    /// least `keep_for` from now (backend clock), and prunes a few members whose key no
    /// longer exists.
    fn index_add(
        &self,
        index: &[u8],
        prefix: &[u8],
        member: &[u8],
        keep_until_ms: u64,
        keep_for: Duration,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The members of the index set `index` whose key `prefix + m` still exists (the others
    /// are pruned).
    fn index_members(
        &self,
        index: &[u8],
        prefix: &[u8],
    ) -> impl Future<Output = Result<Vec<Bytes>>> + Send;

    /// Deletes, atomically, the key `prefix + m` of every member `m` of the index set
    /// `index`, and the set; how many of those keys existed.
    fn index_purge(&self, index: &[u8], prefix: &[u8]) -> impl Future<Output = Result<u64>> + Send;

    /// Creates the refresh-token family `key` (a hash) for `user` with current token digest
    /// `digest`, expiring after `ttl` unless rotated, and never living past `max_life`
    /// from now. False if the key already exists.
    fn refresh_create(
        &self,
        key: &[u8],
        user: &[u8],
        digest: &[u8],
        ttl: Duration,
        max_life: Option<Duration>,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Rotates family `key`, atomically: if `presented` is its current digest, `new` becomes
    /// current, `presented` is remembered as used and the family lives `ttl` more (capped by
    /// its maximum life); if `presented` was used before, the family is deleted.
    fn refresh_rotate(
        &self,
        key: &[u8],
        presented: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<RotateOutcome>> + Send;

    // --- end locks and sessions ---

    // --- cache ---

    /// Atomically stores a cache entry and replaces its tag memberships: the value goes to
    /// `w.key` with `w.ttl`; `w.key` leaves the tag sets named in `w.index` (its previous
    /// tags), joins each of `w.tags` (a hash: value key -> index key, its TTL raised to at
    /// least `w.ttl`), and `w.index` becomes the set of `w.tags` (same TTL as the value).
    fn cache_set(&self, w: CacheWrite<'_>) -> impl Future<Output = Result<()>> + Send;

    /// Atomically removes the cache entry `key`, its tag memberships and its `index`; true
    /// if the value existed.
    fn cache_delete(&self, key: &[u8], index: &[u8]) -> impl Future<Output = Result<bool>> + Send;

    /// Atomically removes every entry of the tag set `tag` (value, index, membership in
    /// other tags) and the set; returns the value keys it held.
    fn cache_invalidate_tag(&self, tag: &[u8]) -> impl Future<Output = Result<Vec<Bytes>>> + Send;

    /// One SCAN step: keys matching the glob `pattern` from `cursor` (0 starts; a returned
    /// 0 ends the iteration).
    fn scan(
        &self,
        cursor: u64,
        pattern: &[u8],
        count: usize,
    ) -> impl Future<Output = Result<(u64, Vec<Bytes>)>> + Send;

    /// The backend's clock when it lives in this process (the engine clock of
    /// [`EmbeddedBackend`]); `None` for a remote server.
    fn local_clock(&self) -> Option<std::sync::Arc<dyn embedis::Clock>>;

    // --- pub/sub ---

    /// Publishes `payload` on `channel`; how many subscribers received it (on Redis, the
    /// subscribers of the server the command reached). The default (for backends without
    /// pub/sub, such as test doubles) fails with [`Error::Invalid`](crate::Error::Invalid).
    fn publish(&self, channel: &[u8], payload: &[u8]) -> impl Future<Output = Result<u64>> + Send {
        let _ = (channel, payload);
        std::future::ready(Err(crate::Error::Invalid(
            "this backend has no pub/sub".into(),
        )))
    }

    /// Subscribes to `channel`. The subscription is in place when the future resolves:
    /// messages published after that are delivered, in publishing order. Dropping the
    /// [`Subscriber`] unsubscribes. The default fails like [`publish`](Backend::publish)'s.
    fn subscribe(&self, channel: &[u8]) -> impl Future<Output = Result<Subscriber>> + Send {
        let _ = channel;
        std::future::ready(Err(crate::Error::Invalid(
            "this backend has no pub/sub".into(),
        )))
    }

    // --- end pub/sub ---
}

// --- cache ---

/// One cache entry to write with [`Backend::cache_set`].
#[derive(Debug, Clone, Copy)]
pub struct CacheWrite<'a> {
    /// The value's key.
    pub key: &'a [u8],
    /// The stored bytes.
    pub value: &'a [u8],
    /// Time to live of the value (and of its index).
    pub ttl: Duration,
    /// The key of the set naming the tag sets `key` belongs to.
    pub index: &'a [u8],
    /// The tag set keys `key` belongs to after the write.
    pub tags: &'a [&'a [u8]],
}

/// Duration as whole milliseconds, at least 1 (Redis refuses a zero TTL).
pub(crate) fn ttl_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

// --- pub/sub ---

/// A message received by a [`Subscriber`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubSubMessage {
    /// The channel it was published on.
    pub channel: Bytes,
    /// The payload.
    pub payload: Bytes,
}

type RedisMessages = std::pin::Pin<Box<dyn futures_core::Stream<Item = ::redis::Msg> + Send>>;

enum SubscriberInner {
    Embedded(embedis::pubsub::Subscription),
    Redis(RedisMessages),
}

/// A subscription from [`Backend::subscribe`]: a `futures_core::Stream` of
/// [`PubSubMessage`]s, or [`next`](Subscriber::next). It ends when the connection is lost
/// (Redis) or the subscriber falls too far behind (the engine's output-buffer limit).
pub struct Subscriber {
    inner: SubscriberInner,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.inner {
            SubscriberInner::Embedded(_) => "embedded",
            SubscriberInner::Redis(_) => "redis",
        };
        f.debug_struct("Subscriber")
            .field("backend", &kind)
            .finish()
    }
}

impl Subscriber {
    pub(crate) fn embedded(s: embedis::pubsub::Subscription) -> Self {
        Subscriber {
            inner: SubscriberInner::Embedded(s),
        }
    }

    pub(crate) fn redis(s: RedisMessages) -> Self {
        Subscriber {
            inner: SubscriberInner::Redis(s),
        }
    }

    /// The next message; `None` when the subscription ended.
    pub async fn next(&mut self) -> Option<PubSubMessage> {
        use futures_core::Stream as _;
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl futures_core::Stream for Subscriber {
    type Item = PubSubMessage;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<PubSubMessage>> {
        use std::task::Poll;
        match &mut self.inner {
            SubscriberInner::Embedded(s) => match std::pin::Pin::new(s).poll_next(cx) {
                Poll::Ready(Some(m)) => Poll::Ready(Some(PubSubMessage {
                    channel: m.channel,
                    payload: m.payload,
                })),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
            SubscriberInner::Redis(s) => match s.as_mut().poll_next(cx) {
                Poll::Ready(Some(m)) => Poll::Ready(Some(PubSubMessage {
                    channel: Bytes::copy_from_slice(m.get_channel_name().as_bytes()),
                    payload: Bytes::copy_from_slice(m.get_payload_bytes()),
                })),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

// --- end pub/sub ---
