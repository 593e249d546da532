//! The [`Backend`] trait: the few storage operations the kit's components need, shaped by
//! those callers, and its implementations.
//!
//! | caller | operations |
//! | --- | --- |
//! | rate limiter | [`rate_limit`](Backend::rate_limit) (one or several policies, atomic, all-or-nothing), [`delete`](Backend::delete) to reset |
//! | concurrency limiter | [`lease_acquire`](Backend::lease_acquire), [`lease_release`](Backend::lease_release), [`lease_renew`](Backend::lease_renew) |
//! | cache | [`get`](Backend::get), [`set`](Backend::set) with TTL, [`delete`](Backend::delete) |
//! | sessions | the cache's, plus [`expire`](Backend::expire) to slide a TTL |
//! | cache (tags, prefix) | [`cache_set`](Backend::cache_set), [`cache_delete`](Backend::cache_delete), [`cache_invalidate_tag`](Backend::cache_invalidate_tag), [`scan`](Backend::scan) |
//! | locks | [`set`](Backend::set) if absent with TTL, [`compare_and_delete`](Backend::compare_and_delete), [`compare_and_expire`](Backend::compare_and_expire) |
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
    RedisBackend, RedisBackendBuilder,
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
