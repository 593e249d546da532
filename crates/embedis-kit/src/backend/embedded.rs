//! The embedded backend: an in-process [`embedis::Db`]. Every operation is a native engine
//! call under one shard lock (several for a multi-key check): no network, no command
//! parsing, no Lua. Futures complete on first poll.

use std::time::Duration;

use bytes::Bytes;
use embedis::Db;
use embedis::cmd::hash::{
    hdel_exec, hexists_exec, hget_exec, hgetall_exec, hincrby_exec, hset_exec,
};
use embedis::cmd::keys::{
    ExpireCommand, ExpireCondition, ExpireFlags, ScanOptions, Ttl, del_exec, exists_exec,
    expire_exec, ttl_exec, type_exec,
};
use embedis::cmd::set::{sadd_exec, smembers_exec, srem_exec};
use embedis::cmd::string::{SetOptions as EngineSet, incr_by_exec, set_exec};
use embedis::keyspace::Access;

use super::{
    Backend, CacheWrite, LeaseRequest, LockAttempt, RateLimitRequest, RawDecision, RotateOutcome,
    SetCondition, SetOptions, ttl_millis,
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

    // --- locks and sessions ---

    async fn lock_acquire(
        &self,
        key: &[u8],
        fence_key: &[u8],
        token: &[u8],
        ttl: Duration,
    ) -> Result<LockAttempt> {
        let ms = i64::try_from(ttl_millis(ttl)).unwrap_or(i64::MAX);
        self.with_all(|a| {
            if exists_exec(a, &[key]) == 1 {
                return Ok(LockAttempt::Held {
                    ttl: ttl_left(a, key),
                });
            }
            // The counter first: if it fails (not an integer) nothing was written.
            let fence = incr_by_exec(a, fence_key, 1)?;
            set_exec(a, key, token, &EngineSet::default().px(ms))?;
            Ok(LockAttempt::Acquired {
                fence: u64::try_from(fence).unwrap_or(0),
            })
        })
    }

    async fn set_until(
        &self,
        key: &[u8],
        value: &[u8],
        expire_at_ms: u64,
        condition: SetCondition,
    ) -> Result<bool> {
        let at = i64::try_from(expire_at_ms.max(1)).unwrap_or(i64::MAX);
        let set = EngineSet::default().pxat(at);
        let set = match condition {
            SetCondition::Always => set,
            SetCondition::IfAbsent => set.if_missing(),
            SetCondition::IfPresent => set.if_exists(),
        };
        Ok(self.db.set_with(key, value, set)?.written)
    }

    async fn index_add(
        &self,
        index: &[u8],
        prefix: &[u8],
        member: &[u8],
        keep_until_ms: u64,
        keep_for: Duration,
    ) -> Result<()> {
        let keep_for = u64::try_from(keep_for.as_millis()).unwrap_or(u64::MAX);
        self.with_all(|a| {
            let at = keep_until_ms
                .max(a.now_ms().saturating_add(keep_for))
                .max(1);
            let at = i64::try_from(at).unwrap_or(i64::MAX);
            // Prune a few (the set's order is arbitrary, like SRANDMEMBER's sample).
            let members = smembers_exec(a, index)?;
            prune(a, index, prefix, members.into_iter().take(PRUNE_SAMPLE))?;
            sadd_exec(a, &self.set_limits(), index, &[member])?;
            let keep = match ttl_exec(a, index, true, true) {
                Ttl::Expires(cur) => cur < at,
                Ttl::Persistent | Ttl::Missing => true,
            };
            if keep {
                expire_exec(
                    a,
                    index,
                    ExpireCommand::PExpireAt,
                    at,
                    ExpireFlags::default(),
                )?;
            }
            Ok(())
        })
    }

    async fn index_members(&self, index: &[u8], prefix: &[u8]) -> Result<Vec<Bytes>> {
        self.with_all(|a| {
            let members = smembers_exec(a, index)?;
            prune(a, index, prefix, members.into_iter())
        })
    }

    async fn index_purge(&self, index: &[u8], prefix: &[u8]) -> Result<u64> {
        self.with_all(|a| {
            let members = smembers_exec(a, index)?;
            let keys: Vec<Vec<u8>> = members.iter().map(|m| [prefix, m].concat()).collect();
            let n = del_exec(a, &keys);
            del_exec(a, &[index]);
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    async fn refresh_create(
        &self,
        key: &[u8],
        user: &[u8],
        digest: &[u8],
        ttl: Duration,
        max_life: Option<Duration>,
    ) -> Result<bool> {
        let mut ttl = ttl_millis(ttl);
        self.with_key(key, |a| {
            if exists_exec(a, &[key]) == 1 {
                return Ok(false);
            }
            let ends = match max_life {
                Some(life) => {
                    let life = ttl_millis(life);
                    ttl = ttl.min(life);
                    a.now_ms().saturating_add(life)
                }
                None => 0,
            };
            let ends = ends.to_string();
            let fields: [(&[u8], &[u8]); 3] =
                [(b"user", user), (b"cur", digest), (b"end", ends.as_bytes())];
            hset_exec(a, &self.hash_limits(), key, fields)?;
            pexpire(a, key, ttl)?;
            Ok(true)
        })
    }

    async fn refresh_rotate(
        &self,
        key: &[u8],
        presented: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> Result<RotateOutcome> {
        let mut ttl = ttl_millis(ttl);
        self.with_key(key, |a| {
            if type_exec(a, key) != Some("hash") {
                return Ok(RotateOutcome::Invalid);
            }
            let user = hget_exec(a, key, b"user")?.unwrap_or_default();
            let used = [&b"u:"[..], presented].concat();
            if hget_exec(a, key, b"cur")?.as_deref() == Some(presented) {
                let ends = hget_exec(a, key, b"end")?
                    .and_then(|e| std::str::from_utf8(&e).ok()?.parse::<u64>().ok())
                    .unwrap_or(0);
                if ends > 0 {
                    let now = a.now_ms();
                    if now >= ends {
                        del_exec(a, &[key]);
                        return Ok(RotateOutcome::Invalid);
                    }
                    ttl = ttl.min(ends - now);
                }
                let n = hincrby_exec(a, &self.hash_limits(), key, b"n", 1)?;
                let (n_text, slot) = (n.to_string(), format!("h:{n}"));
                let fields: [(&[u8], &[u8]); 3] = [
                    (b"cur", new),
                    (&used, n_text.as_bytes()),
                    (slot.as_bytes(), presented),
                ];
                hset_exec(a, &self.hash_limits(), key, fields)?;
                if n > REFRESH_USED_KEPT {
                    let gone = format!("h:{}", n - REFRESH_USED_KEPT);
                    if let Some(old) = hget_exec(a, key, gone.as_bytes())? {
                        let old_used = [&b"u:"[..], &old].concat();
                        hdel_exec(a, key, &[gone.as_bytes(), old_used.as_slice()])?;
                    }
                }
                pexpire(a, key, ttl)?;
                return Ok(RotateOutcome::Rotated { user });
            }
            if hexists_exec(a, key, &used)? {
                del_exec(a, &[key]);
                return Ok(RotateOutcome::Reused { user });
            }
            Ok(RotateOutcome::Invalid)
        })
    }

    // --- cache ---

    async fn cache_set(&self, w: CacheWrite<'_>) -> Result<()> {
        let ms = i64::try_from(ttl_millis(w.ttl)).unwrap_or(i64::MAX);
        self.with_all(|a| {
            for old in smembers_exec(a, w.index)? {
                hdel_exec(a, &old, &[w.key])?;
            }
            del_exec(a, &[w.index]);
            set_exec(a, w.key, w.value, &EngineSet::default().px(ms))?;
            for tag in w.tags {
                sadd_exec(a, &self.set_limits(), w.index, &[*tag])?;
                hset_exec(a, &self.hash_limits(), tag, [(w.key, w.index)])?;
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
        self.with_all(|a| {
            for tag in smembers_exec(a, index)? {
                hdel_exec(a, &tag, &[key])?;
            }
            del_exec(a, &[index]);
            Ok(del_exec(a, &[key]) == 1)
        })
    }

    async fn cache_invalidate_tag(&self, tag: &[u8]) -> Result<Vec<Bytes>> {
        self.with_all(|a| {
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

    // --- pub/sub ---

    async fn publish(&self, channel: &[u8], payload: &[u8]) -> Result<u64> {
        Ok(self.db.publish(channel, payload) as u64)
    }

    async fn subscribe(&self, channel: &[u8]) -> Result<super::Subscriber> {
        Ok(super::Subscriber::embedded(self.db.subscribe([channel])))
    }

    // --- end pub/sub ---
}

// --- locks and sessions ---

/// How many index members an [`Backend::index_add`] checks for pruning (as the Lua script).
const PRUNE_SAMPLE: usize = 8;

/// How many retired digests a refresh-token family remembers (as the Lua script).
const REFRESH_USED_KEPT: i64 = 128;

impl EmbeddedBackend {
    /// Runs `f` with the shard of `key` locked, on the engine's clock.
    fn with_key<R>(&self, key: &[u8], f: impl FnOnce(&mut Access<'_>) -> R) -> R {
        let e = self.db.engine();
        let mut a = e
            .keyspace
            .lock_key(key, &e.stats, self.db.index(), e.clock.now_millis());
        f(&mut a)
    }

    /// The engine's current set encoding limits (`set-max-intset-entries`), which the
    /// engine's SADD takes as an argument so that CONFIG SET applies to every writer.
    fn set_limits(&self) -> embedis::types::set::SetLimits {
        embedis::cmd::set::limits(self.db.engine())
    }

    /// The engine's current hash encoding limits (`hash-max-listpack-*`).
    fn hash_limits(&self) -> embedis::types::hash::HashLimits {
        embedis::cmd::hash::limits(self.db.engine())
    }

    /// Runs `f` with every shard locked (operations on several keys), on the engine's clock.
    fn with_all<R>(&self, f: impl FnOnce(&mut Access<'_>) -> R) -> R {
        let e = self.db.engine();
        let mut a = e
            .keyspace
            .lock_all(&e.stats, self.db.index(), e.clock.now_millis());
        f(&mut a)
    }
}

fn ttl_left(a: &mut Access<'_>, key: &[u8]) -> Option<Duration> {
    match ttl_exec(a, key, true, false) {
        Ttl::Expires(ms) => Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
        Ttl::Persistent | Ttl::Missing => None,
    }
}

fn pexpire(a: &mut Access<'_>, key: &[u8], ms: u64) -> Result<bool> {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    Ok(expire_exec(
        a,
        key,
        ExpireCommand::PExpire,
        ms,
        ExpireFlags::default(),
    )?)
}

/// Removes the members of `index` whose key `prefix + m` is gone; the live ones.
fn prune(
    a: &mut Access<'_>,
    index: &[u8],
    prefix: &[u8],
    members: impl Iterator<Item = Bytes>,
) -> Result<Vec<Bytes>> {
    let mut live = Vec::new();
    for m in members {
        if exists_exec(a, &[[prefix, &m].concat()]) == 1 {
            live.push(m);
        } else {
            srem_exec(a, index, &[&m])?;
        }
    }
    Ok(live)
}
