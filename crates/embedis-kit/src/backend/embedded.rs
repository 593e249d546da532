//! The embedded backend: an in-process [`embedis::Db`]. Every operation is a native engine
//! call under one shard lock (several for a multi-key check): no network, no command
//! parsing, no Lua. Futures complete on first poll.

use std::time::Duration;

use bytes::Bytes;
use embedis::Db;
use embedis::cmd::keys::ExpireCondition;
use embedis::cmd::string::SetOptions as EngineSet;

use super::{
    Backend, LeaseRequest, RateLimitRequest, RawDecision, SetCondition, SetOptions, ttl_millis,
};
use crate::error::Result;

/// Runs the kit on an in-process store.
///
/// ```
/// use embedis_kit::backend::EmbeddedBackend;
///
/// let backend = EmbeddedBackend::new(embedis::Db::new());
/// # let _ = backend;
/// ```
#[derive(Debug, Clone)]
pub struct EmbeddedBackend {
    db: Db,
}

impl EmbeddedBackend {
    /// A backend over `db` (and its clock).
    pub fn new(db: Db) -> Self {
        EmbeddedBackend { db }
    }

    /// The store.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The synchronous core of [`Backend::rate_limit`], for callers without an executor.
    pub fn rate_limit_now(&self, req: RateLimitRequest<'_>) -> Result<Vec<RawDecision>> {
        match req.checks {
            [one] => {
                let d = if req.charge {
                    self.db.rate_limit(one.key, &one.policy, req.cost)?
                } else {
                    self.db.rate_limit_peek(one.key, &one.policy, req.cost)?
                };
                Ok(vec![d])
            }
            checks => {
                let pairs: Vec<(&[u8], _)> = checks.iter().map(|c| (c.key, c.policy)).collect();
                Ok(self.db.rate_limit_all(&pairs, req.cost, req.charge)?)
            }
        }
    }
}

impl Backend for EmbeddedBackend {
    async fn rate_limit(&self, req: RateLimitRequest<'_>) -> Result<Vec<RawDecision>> {
        self.rate_limit_now(req)
    }

    async fn lease_acquire(&self, key: &[u8], lease: LeaseRequest<'_>) -> Result<RawDecision> {
        Ok(self.db.lease_acquire(key, lease.max, lease.id, lease.ttl)?)
    }

    async fn lease_release(&self, key: &[u8], id: &[u8]) -> Result<bool> {
        Ok(self.db.lease_release(key, id)?)
    }

    async fn lease_renew(&self, key: &[u8], id: &[u8], ttl: Duration) -> Result<bool> {
        Ok(self.db.lease_renew(key, id, ttl)?)
    }

    async fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.db.get(key)?)
    }

    async fn set(&self, key: &[u8], value: &[u8], opts: SetOptions) -> Result<bool> {
        let mut set = EngineSet::default();
        if let Some(ttl) = opts.ttl {
            set = set.px(i64::try_from(ttl_millis(ttl)).unwrap_or(i64::MAX));
        }
        set = match opts.condition {
            SetCondition::Always => set,
            SetCondition::IfAbsent => set.if_missing(),
            SetCondition::IfPresent => set.if_exists(),
        };
        Ok(self.db.set_with(key, value, set)?.written)
    }

    async fn delete(&self, keys: &[&[u8]]) -> Result<u64> {
        Ok(self.db.del(keys) as u64)
    }

    async fn compare_and_delete(&self, key: &[u8], expected: &[u8]) -> Result<bool> {
        Ok(self.db.compare_and_delete(key, expected)?)
    }

    async fn compare_and_expire(&self, key: &[u8], expected: &[u8], ttl: Duration) -> Result<bool> {
        Ok(self
            .db
            .compare_and_expire(key, expected, Duration::from_millis(ttl_millis(ttl)))?)
    }

    async fn expire(&self, key: &[u8], ttl: Duration) -> Result<bool> {
        let ms = i64::try_from(ttl_millis(ttl)).unwrap_or(i64::MAX);
        Ok(self.db.pexpire(key, ms, ExpireCondition::Always)?)
    }

    fn is_remote(&self) -> bool {
        false
    }

    // --- pub/sub ---

    async fn publish(&self, channel: &[u8], payload: &[u8]) -> Result<u64> {
        Ok(self.db.publish(channel, payload) as u64)
    }

    async fn subscribe(&self, channel: &[u8]) -> Result<super::Subscriber> {
        Ok(super::Subscriber::embedded(self.db.subscribe([channel])))
    }

    // --- end pub/sub ---
}
