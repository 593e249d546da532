//! The embedded backend: an in-process [`embedis::Db`]. Every operation is a native engine
//! call under one shard lock (several for a multi-key check): no network, no command
//! parsing, no Lua. Futures complete on first poll.

use std::time::Duration;

use bytes::Bytes;
use embedis::Db;
use embedis::cmd::hash::{hdel_exec, hgetall_exec, hset_exec};
use embedis::cmd::keys::{
    ExpireCommand, ExpireCondition, ExpireFlags, ScanOptions, Ttl, del_exec, expire_exec, ttl_exec,
};
use embedis::cmd::set::{sadd_exec, smembers_exec};
use embedis::cmd::string::{SetOptions as EngineSet, set_exec};
use embedis::keyspace::Access;

use super::{
    Backend, CacheWrite, LeaseRequest, RateLimitRequest, RawDecision, SetCondition, SetOptions,
    ttl_millis,
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

    // --- cache ---

    async fn cache_set(&self, w: CacheWrite<'_>) -> Result<()> {
        let ms = i64::try_from(ttl_millis(w.ttl)).unwrap_or(i64::MAX);
        self.all(|a| {
            for old in smembers_exec(a, w.index)? {
                hdel_exec(a, &old, &[w.key])?;
            }
            del_exec(a, &[w.index]);
            set_exec(a, w.key, w.value, &EngineSet::default().px(ms))?;
            for tag in w.tags {
                sadd_exec(a, w.index, &[*tag])?;
                hset_exec(a, tag, [(w.key, w.index)])?;
                if !matches!(ttl_exec(a, tag, true, false), Ttl::Expires(left) if left >= ms) {
                    expire_exec(a, tag, ExpireCommand::PExpire, ms, ExpireFlags::default())?;
                }
            }
            if !w.tags.is_empty() {
                expire_exec(
                    a,
                    w.index,
                    ExpireCommand::PExpire,
                    ms,
                    ExpireFlags::default(),
                )?;
            }
            Ok(())
        })
    }

    async fn cache_delete(&self, key: &[u8], index: &[u8]) -> Result<bool> {
        self.all(|a| {
            for tag in smembers_exec(a, index)? {
                hdel_exec(a, &tag, &[key])?;
            }
            del_exec(a, &[index]);
            Ok(del_exec(a, &[key]) == 1)
        })
    }

    async fn cache_invalidate_tag(&self, tag: &[u8]) -> Result<Vec<Bytes>> {
        self.all(|a| {
            let members = hgetall_exec(a, tag)?;
            let mut keys = Vec::with_capacity(members.len());
            for (key, index) in members {
                for other in smembers_exec(a, &index)? {
                    if other != tag {
                        hdel_exec(a, &other, &[&key])?;
                    }
                }
                del_exec(a, &[&index, &key]);
                keys.push(key);
            }
            del_exec(a, &[tag]);
            Ok(keys)
        })
    }

    async fn scan(&self, cursor: u64, pattern: &[u8], count: usize) -> Result<(u64, Vec<Bytes>)> {
        let opts = ScanOptions {
            pattern: Some(Bytes::copy_from_slice(pattern)),
            count: count.max(1),
            type_name: None,
        };
        Ok(self.db.scan(cursor, &opts))
    }

    fn local_clock(&self) -> Option<std::sync::Arc<dyn embedis::Clock>> {
        Some(self.db.engine().clock.clone())
    }
}

// --- cache ---

impl EmbeddedBackend {
    /// Runs `f` with every shard locked: one atomic multi-key operation, like a script.
    fn all<R>(&self, f: impl FnOnce(&mut Access<'_>) -> R) -> R {
        let e = self.db.engine();
        let mut a = e
            .keyspace
            .lock_all(&e.stats, self.db.index(), e.clock.now_millis());
        f(&mut a)
    }
}
