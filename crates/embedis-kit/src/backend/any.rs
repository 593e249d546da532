//! [`AnyBackend`]: a backend chosen at run time (from configuration), without `dyn`.

use std::time::Duration;

use bytes::Bytes;

use super::{
    Backend, CacheWrite, EmbeddedBackend, LeaseRequest, LockAttempt, RateLimitRequest, RawDecision,
    RedisBackend, RotateOutcome, SetCondition, SetOptions,
};
use crate::error::Result;

/// Either backend; delegates every call with one `match`.
///
/// ```
/// use embedis_kit::backend::{AnyBackend, EmbeddedBackend};
///
/// let backend: AnyBackend = EmbeddedBackend::new(embedis::Db::new()).into();
/// # let _ = backend;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyBackend {
    /// In-process.
    Embedded(EmbeddedBackend),
    /// Over the network.
    Redis(RedisBackend),
}

impl From<EmbeddedBackend> for AnyBackend {
    fn from(b: EmbeddedBackend) -> Self {
        AnyBackend::Embedded(b)
    }
}

impl From<RedisBackend> for AnyBackend {
    fn from(b: RedisBackend) -> Self {
        AnyBackend::Redis(b)
    }
}

macro_rules! delegate {
    ($self:ident, $b:ident => $e:expr) => {
        match $self {
            AnyBackend::Embedded($b) => $e,
            AnyBackend::Redis($b) => $e,
        }
    };
}

impl Backend for AnyBackend {
    async fn rate_limit(&self, req: RateLimitRequest<'_>) -> Result<Vec<RawDecision>> {
        delegate!(self, b => b.rate_limit(req).await)
    }

    async fn lease_acquire(&self, key: &[u8], lease: LeaseRequest<'_>) -> Result<RawDecision> {
        delegate!(self, b => b.lease_acquire(key, lease).await)
    }

    async fn lease_release(&self, key: &[u8], id: &[u8]) -> Result<bool> {
        delegate!(self, b => b.lease_release(key, id).await)
    }

    async fn lease_renew(&self, key: &[u8], id: &[u8], ttl: Duration) -> Result<bool> {
        delegate!(self, b => b.lease_renew(key, id, ttl).await)
    }

    async fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        delegate!(self, b => b.get(key).await)
    }

    async fn set(&self, key: &[u8], value: &[u8], opts: SetOptions) -> Result<bool> {
        delegate!(self, b => b.set(key, value, opts).await)
    }

    async fn delete(&self, keys: &[&[u8]]) -> Result<u64> {
        delegate!(self, b => b.delete(keys).await)
    }

    async fn compare_and_delete(&self, key: &[u8], expected: &[u8]) -> Result<bool> {
        delegate!(self, b => b.compare_and_delete(key, expected).await)
    }

    async fn compare_and_expire(&self, key: &[u8], expected: &[u8], ttl: Duration) -> Result<bool> {
        delegate!(self, b => b.compare_and_expire(key, expected, ttl).await)
    }

    async fn expire(&self, key: &[u8], ttl: Duration) -> Result<bool> {
        delegate!(self, b => b.expire(key, ttl).await)
    }

    fn is_remote(&self) -> bool {
        delegate!(self, b => b.is_remote())
    }

    // --- locks and sessions ---

    async fn lock_acquire(
        &self,
        key: &[u8],
        fence_key: &[u8],
        token: &[u8],
        ttl: Duration,
    ) -> Result<LockAttempt> {
        delegate!(self, b => b.lock_acquire(key, fence_key, token, ttl).await)
    }

    async fn set_until(
        &self,
        key: &[u8],
        value: &[u8],
        expire_at_ms: u64,
        condition: SetCondition,
    ) -> Result<bool> {
        delegate!(self, b => b.set_until(key, value, expire_at_ms, condition).await)
    }

    async fn index_add(
        &self,
        index: &[u8],
        prefix: &[u8],
        member: &[u8],
        keep_until_ms: u64,
        keep_for: Duration,
    ) -> Result<()> {
        delegate!(self, b => b.index_add(index, prefix, member, keep_until_ms, keep_for).await)
    }

    async fn index_members(&self, index: &[u8], prefix: &[u8]) -> Result<Vec<Bytes>> {
        delegate!(self, b => b.index_members(index, prefix).await)
    }

    async fn index_purge(&self, index: &[u8], prefix: &[u8]) -> Result<u64> {
        delegate!(self, b => b.index_purge(index, prefix).await)
    }

    async fn refresh_create(
        &self,
        key: &[u8],
        user: &[u8],
        digest: &[u8],
        ttl: Duration,
        max_life: Option<Duration>,
    ) -> Result<bool> {
        delegate!(self, b => b.refresh_create(key, user, digest, ttl, max_life).await)
    }

    async fn refresh_rotate(
        &self,
        key: &[u8],
        presented: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> Result<RotateOutcome> {
        delegate!(self, b => b.refresh_rotate(key, presented, new, ttl).await)
    }

    // --- cache ---

    async fn cache_set(&self, w: CacheWrite<'_>) -> Result<()> {
        delegate!(self, b => b.cache_set(w).await)
    }

    async fn cache_delete(&self, key: &[u8], index: &[u8]) -> Result<bool> {
        delegate!(self, b => b.cache_delete(key, index).await)
    }

    async fn cache_invalidate_tag(&self, tag: &[u8]) -> Result<Vec<Bytes>> {
        delegate!(self, b => b.cache_invalidate_tag(tag).await)
    }

    async fn scan(&self, cursor: u64, pattern: &[u8], count: usize) -> Result<(u64, Vec<Bytes>)> {
        delegate!(self, b => b.scan(cursor, pattern, count).await)
    }

    fn local_clock(&self) -> Option<std::sync::Arc<dyn embedis::Clock>> {
        delegate!(self, b => b.local_clock())
    }

    // --- pub/sub ---

    async fn publish(&self, channel: &[u8], payload: &[u8]) -> Result<u64> {
        delegate!(self, b => b.publish(channel, payload).await)
    }

    async fn subscribe(&self, channel: &[u8]) -> Result<super::Subscriber> {
        delegate!(self, b => b.subscribe(channel).await)
    }

    // --- end pub/sub ---
}
