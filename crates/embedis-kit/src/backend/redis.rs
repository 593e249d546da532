//! The Redis backend: redis-rs over tokio, with a [`ConnectionManager`] that reconnects on
//! its own (or a cluster connection, feature `cluster`).
//!
//! Rate limiting and leases run as atomic Lua scripts (`src/lua/*.lua`), invoked with
//! EVALSHA and loaded on NOSCRIPT. The scripts read the time with `TIME` inside the script,
//! so every app instance decides on the server's one clock. They compute exactly the
//! decisions of the native engine (same integer algorithms; see
//! `embedis::types::limiter`), which the equivalence tests check, including against an
//! embedis server (whose `EVAL` runs the same scripts).
//!
//! Keys of one rate limit request must hash to one cluster slot; the limiter builds them
//! with a `{...}` hash tag for that.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, Script, ScriptInvocation};

use super::{
    Backend, CacheWrite, LeaseRequest, LockAttempt, RateLimitRequest, RawDecision, RotateOutcome,
    SetCondition, SetOptions, ttl_millis,
};
use crate::error::{Error, Result};

/// The rate limiter script (all algorithms, several policies per call).
pub const LIMITER_LUA: &str = include_str!("../lua/limiter.lua");
/// The concurrency limiter script.
pub const LEASE_LUA: &str = include_str!("../lua/lease.lua");
/// The cache's atomic write (value, index, tag sets).
pub const CACHE_SET_LUA: &str = include_str!("../lua/cache_set.lua");
/// The cache's atomic delete of one entry.
pub const CACHE_DELETE_LUA: &str = include_str!("../lua/cache_delete.lua");
/// The cache's atomic tag invalidation.
pub const CACHE_INVALIDATE_TAG_LUA: &str = include_str!("../lua/cache_invalidate_tag.lua");
const COMPARE_AND_DELETE_LUA: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
const COMPARE_AND_EXPIRE_LUA: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
     return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";

// --- locks and sessions ---
/// Lock acquisition with a fencing counter.
pub const LOCK_ACQUIRE_LUA: &str = include_str!("../lua/lock_acquire.lua");
/// The per-user index of sessions and refresh-token families.
pub const SESSION_INDEX_LUA: &str = include_str!("../lua/session_index.lua");
/// Refresh-token families: create, rotate with reuse detection.
pub const SESSION_REFRESH_LUA: &str = include_str!("../lua/session_refresh.lua");
// --- end locks and sessions ---

#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    #[cfg(feature = "cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

type TestNow = Arc<dyn Fn() -> i64 + Send + Sync>;

struct Scripts {
    limiter: Script,
    lease: Script,
    compare_and_delete: Script,
    compare_and_expire: Script,
    // --- locks and sessions ---
    lock_acquire: Script,
    session_index: Script,
    session_refresh: Script,
    // --- cache ---
    cache_set: Script,
    cache_delete: Script,
    cache_invalidate_tag: Script,
}

/// Runs the kit on Redis (or Valkey, or an embedis server).
///
/// ```no_run
/// # async fn demo() -> embedis_kit::Result<()> {
/// use std::time::Duration;
/// use embedis_kit::backend::RedisBackend;
///
/// let backend = RedisBackend::builder("redis://127.0.0.1:6379/")
///     .connection_timeout(Duration::from_millis(200))
///     .build()
///     .await?;
/// # let _ = backend;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisBackend {
    conn: Conn,
    scripts: Arc<Scripts>,
    test_now: Option<TestNow>,
    extra_ttl_ms: i64,
    /// For pub/sub: each subscriber needs its own connection (`None` on a cluster).
    pubsub_client: Option<redis::Client>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("test_clock", &self.test_now.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds a [`RedisBackend`].
pub struct RedisBackendBuilder {
    url: String,
    #[cfg(feature = "cluster")]
    cluster: Option<Vec<String>>,
    connection_timeout: Duration,
    response_timeout: Option<Duration>,
    retries: usize,
    test_now: Option<TestNow>,
    extra_ttl_ms: i64,
}

impl std::fmt::Debug for RedisBackendBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackendBuilder")
            .field("url", &self.url)
            .field("connection_timeout", &self.connection_timeout)
            .field("response_timeout", &self.response_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisBackendBuilder {
    /// Gives up on a connection attempt after this long (default 1 s).
    pub fn connection_timeout(mut self, d: Duration) -> Self {
        self.connection_timeout = d;
        self
    }

    /// Fails a command whose reply takes longer (default: none; the rate limiter applies
    /// its own, shorter timeout).
    pub fn response_timeout(mut self, d: Duration) -> Self {
        self.response_timeout = Some(d);
        self
    }

    /// Reconnection attempts before a command fails (default 2; the manager keeps trying
    /// on later commands).
    pub fn retries(mut self, n: usize) -> Self {
        self.retries = n;
        self
    }

    /// Connects to a Redis Cluster through these seed nodes instead of the single URL.
    #[cfg(feature = "cluster")]
    pub fn cluster(mut self, nodes: Vec<String>) -> Self {
        self.cluster = Some(nodes);
        self
    }

    /// Tests only: the scripts use `now_micros()` instead of the server's `TIME`, and keys
    /// live an hour longer than they need (so that simulated time, which may move slower
    /// than real time, decides when state is stale). This is how the equivalence tests
    /// compare the Lua and native implementations at identical times.
    #[cfg(feature = "test-clock")]
    pub fn test_clock(mut self, now_micros: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.test_now = Some(Arc::new(now_micros));
        self.extra_ttl_ms = 3_600_000;
        self
    }

    /// Creates the backend. The connection is made lazily: a backend for a server that is
    /// down builds fine, and its calls fail (then the rate limiter's failure policy
    /// applies) until the server is back.
    pub async fn build(self) -> Result<RedisBackend> {
        let scripts = Arc::new(Scripts {
            limiter: Script::new(LIMITER_LUA),
            lease: Script::new(LEASE_LUA),
            compare_and_delete: Script::new(COMPARE_AND_DELETE_LUA),
            compare_and_expire: Script::new(COMPARE_AND_EXPIRE_LUA),
            // --- locks and sessions ---
            lock_acquire: Script::new(LOCK_ACQUIRE_LUA),
            session_index: Script::new(SESSION_INDEX_LUA),
            session_refresh: Script::new(SESSION_REFRESH_LUA),
            // --- cache ---
            cache_set: Script::new(CACHE_SET_LUA),
            cache_delete: Script::new(CACHE_DELETE_LUA),
            cache_invalidate_tag: Script::new(CACHE_INVALIDATE_TAG_LUA),
        });
        #[cfg(feature = "cluster")]
        if let Some(nodes) = self.cluster {
            let client = redis::cluster::ClusterClient::builder(nodes)
                .connection_timeout(self.connection_timeout)
                .build()?;
            let conn = client.get_async_connection().await?;
            return Ok(RedisBackend {
                conn: Conn::Cluster(conn),
                scripts,
                test_now: self.test_now,
                extra_ttl_ms: self.extra_ttl_ms,
                pubsub_client: None,
            });
        }
        let client = redis::Client::open(self.url.as_str())?;
        let mut config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connection_timeout))
            .set_number_of_retries(self.retries)
            .set_max_delay(Duration::from_millis(500));
        if let Some(t) = self.response_timeout {
            config = config.set_response_timeout(Some(t));
        }
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(RedisBackend {
            conn: Conn::Single(conn),
            scripts,
            test_now: self.test_now,
            extra_ttl_ms: self.extra_ttl_ms,
            pubsub_client: Some(client),
        })
    }
}

impl RedisBackend {
    /// A builder for the server at `url` (`redis://host:port/db`, `rediss://...`).
    pub fn builder(url: impl Into<String>) -> RedisBackendBuilder {
        RedisBackendBuilder {
            url: url.into(),
            #[cfg(feature = "cluster")]
            cluster: None,
            connection_timeout: Duration::from_secs(1),
            response_timeout: None,
            retries: 2,
            test_now: None,
            extra_ttl_ms: 0,
        }
    }

    fn now_arg(&self) -> String {
        match &self.test_now {
            Some(f) => f().to_string(),
            None => String::new(),
        }
    }

    async fn invoke<T: FromRedisValue>(&self, inv: &ScriptInvocation<'_>) -> Result<T> {
        Ok(match &self.conn {
            Conn::Single(c) => inv.invoke_async(&mut c.clone()).await?,
            #[cfg(feature = "cluster")]
            Conn::Cluster(c) => inv.invoke_async(&mut c.clone()).await?,
        })
    }

    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T> {
        Ok(match &self.conn {
            Conn::Single(c) => cmd.query_async(&mut c.clone()).await?,
            #[cfg(feature = "cluster")]
            Conn::Cluster(c) => cmd.query_async(&mut c.clone()).await?,
        })
    }
}

fn decision(v: &[i64]) -> RawDecision {
    RawDecision {
        allowed: v[0] == 1,
        limit: v[1],
        remaining: v[2],
        reset_after: v[3],
        retry_after: (v[4] >= 0).then_some(v[4]),
    }
}

impl Backend for RedisBackend {
    async fn rate_limit(&self, req: RateLimitRequest<'_>) -> Result<Vec<RawDecision>> {
        let mut inv = self.scripts.limiter.prepare_invoke();
        for c in req.checks {
            inv.key(c.key);
        }
        inv.arg(self.now_arg())
            .arg(req.cost)
            .arg(if req.charge { "1" } else { "0" })
            .arg(self.extra_ttl_ms);
        for c in req.checks {
            inv.arg(c.policy.code());
            for p in c.policy.params() {
                inv.arg(p);
            }
        }
        let flat: Vec<i64> = self.invoke(&inv).await?;
        if flat.len() != req.checks.len() * 5 {
            return Err(Error::Protocol(format!(
                "rate limit script returned {} integers for {} checks",
                flat.len(),
                req.checks.len()
            )));
        }
        Ok(flat.chunks_exact(5).map(decision).collect())
    }

    async fn lease_acquire(&self, key: &[u8], lease: LeaseRequest<'_>) -> Result<RawDecision> {
        let mut inv = self.scripts.lease.prepare_invoke();
        inv.key(key)
            .arg(self.now_arg())
            .arg("acquire")
            .arg(lease.id)
            .arg(lease.max)
            .arg(embedis::types::limiter::micros(lease.ttl))
            .arg(self.extra_ttl_ms);
        let v: Vec<i64> = self.invoke(&inv).await?;
        if v.len() != 5 {
            return Err(Error::Protocol(format!("lease script returned {v:?}")));
        }
        Ok(decision(&v))
    }

    async fn lease_release(&self, key: &[u8], id: &[u8]) -> Result<bool> {
        let mut inv = self.scripts.lease.prepare_invoke();
        inv.key(key)
            .arg(self.now_arg())
            .arg("release")
            .arg(id)
            .arg(0)
            .arg(0)
            .arg(self.extra_ttl_ms);
        let n: i64 = self.invoke(&inv).await?;
        Ok(n == 1)
    }

    async fn lease_renew(&self, key: &[u8], id: &[u8], ttl: Duration) -> Result<bool> {
        let mut inv = self.scripts.lease.prepare_invoke();
        inv.key(key)
            .arg(self.now_arg())
            .arg("renew")
            .arg(id)
            .arg(0)
            .arg(embedis::types::limiter::micros(ttl))
            .arg(self.extra_ttl_ms);
        let n: i64 = self.invoke(&inv).await?;
        Ok(n == 1)
    }

    async fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let v: Option<Vec<u8>> = self.query(redis::cmd("GET").arg(key)).await?;
        Ok(v.map(Bytes::from))
    }

    async fn set(&self, key: &[u8], value: &[u8], opts: SetOptions) -> Result<bool> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        if let Some(ttl) = opts.ttl {
            cmd.arg("PX").arg(ttl_millis(ttl));
        }
        match opts.condition {
            SetCondition::Always => {}
            SetCondition::IfAbsent => {
                cmd.arg("NX");
            }
            SetCondition::IfPresent => {
                cmd.arg("XX");
            }
        }
        let r: Option<String> = self.query(&cmd).await?;
        Ok(r.is_some())
    }

    async fn delete(&self, keys: &[&[u8]]) -> Result<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        self.query(redis::cmd("DEL").arg(keys)).await
    }

    async fn compare_and_delete(&self, key: &[u8], expected: &[u8]) -> Result<bool> {
        let mut inv = self.scripts.compare_and_delete.prepare_invoke();
        inv.key(key).arg(expected);
        let n: i64 = self.invoke(&inv).await?;
        Ok(n == 1)
    }

    async fn compare_and_expire(&self, key: &[u8], expected: &[u8], ttl: Duration) -> Result<bool> {
        let mut inv = self.scripts.compare_and_expire.prepare_invoke();
        inv.key(key).arg(expected).arg(ttl_millis(ttl));
        let n: i64 = self.invoke(&inv).await?;
        Ok(n == 1)
    }

    async fn expire(&self, key: &[u8], ttl: Duration) -> Result<bool> {
        let n: i64 = self
            .query(redis::cmd("PEXPIRE").arg(key).arg(ttl_millis(ttl)))
            .await?;
        Ok(n == 1)
    }

    fn is_remote(&self) -> bool {
        true
    }

    // --- locks and sessions ---

    async fn lock_acquire(
        &self,
        key: &[u8],
        fence_key: &[u8],
        token: &[u8],
        ttl: Duration,
    ) -> Result<LockAttempt> {
        let mut inv = self.scripts.lock_acquire.prepare_invoke();
        inv.key(key).key(fence_key).arg(token).arg(ttl_millis(ttl));
        let v: Vec<i64> = self.invoke(&inv).await?;
        match v[..] {
            [1, fence] => Ok(LockAttempt::Acquired {
                fence: u64::try_from(fence).unwrap_or(0),
            }),
            [0, pttl] => Ok(LockAttempt::Held {
                ttl: u64::try_from(pttl).ok().map(Duration::from_millis),
            }),
            _ => Err(Error::Protocol(format!("lock script returned {v:?}"))),
        }
    }

    async fn set_until(
        &self,
        key: &[u8],
        value: &[u8],
        expire_at_ms: u64,
        condition: SetCondition,
    ) -> Result<bool> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value).arg("PXAT").arg(expire_at_ms.max(1));
        match condition {
            SetCondition::Always => {}
            SetCondition::IfAbsent => {
                cmd.arg("NX");
            }
            SetCondition::IfPresent => {
                cmd.arg("XX");
            }
        }
        let r: Option<String> = self.query(&cmd).await?;
        Ok(r.is_some())
    }

    async fn index_add(
        &self,
        index: &[u8],
        prefix: &[u8],
        member: &[u8],
        keep_until_ms: u64,
        keep_for: Duration,
    ) -> Result<()> {
        let mut inv = self.scripts.session_index.prepare_invoke();
        inv.key(index)
            .arg("add")
            .arg(prefix)
            .arg(member)
            .arg(keep_until_ms)
            .arg(u64::try_from(keep_for.as_millis()).unwrap_or(u64::MAX));
        let _: i64 = self.invoke(&inv).await?;
        Ok(())
    }

    async fn index_members(&self, index: &[u8], prefix: &[u8]) -> Result<Vec<Bytes>> {
        let mut inv = self.scripts.session_index.prepare_invoke();
        inv.key(index).arg("members").arg(prefix);
        let v: Vec<Vec<u8>> = self.invoke(&inv).await?;
        Ok(v.into_iter().map(Bytes::from).collect())
    }

    async fn index_purge(&self, index: &[u8], prefix: &[u8]) -> Result<u64> {
        let mut inv = self.scripts.session_index.prepare_invoke();
        inv.key(index).arg("purge").arg(prefix);
        self.invoke(&inv).await
    }

    async fn refresh_create(
        &self,
        key: &[u8],
        user: &[u8],
        digest: &[u8],
        ttl: Duration,
        max_life: Option<Duration>,
    ) -> Result<bool> {
        let mut inv = self.scripts.session_refresh.prepare_invoke();
        inv.key(key)
            .arg("create")
            .arg(user)
            .arg(digest)
            .arg(ttl_millis(ttl))
            .arg(max_life.map_or(0, ttl_millis));
        let n: i64 = self.invoke(&inv).await?;
        Ok(n == 1)
    }

    async fn refresh_rotate(
        &self,
        key: &[u8],
        presented: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> Result<RotateOutcome> {
        let mut inv = self.scripts.session_refresh.prepare_invoke();
        inv.key(key)
            .arg("rotate")
            .arg(presented)
            .arg(new)
            .arg(ttl_millis(ttl));
        let v: Vec<redis::Value> = self.invoke(&inv).await?;
        let user = || match v.get(1) {
            Some(redis::Value::BulkString(b)) => Ok(Bytes::copy_from_slice(b)),
            other => Err(Error::Protocol(format!(
                "refresh script returned user {other:?}"
            ))),
        };
        match v.first() {
            Some(redis::Value::Int(0)) => Ok(RotateOutcome::Invalid),
            Some(redis::Value::Int(1)) => Ok(RotateOutcome::Rotated { user: user()? }),
            Some(redis::Value::Int(2)) => Ok(RotateOutcome::Reused { user: user()? }),
            _ => Err(Error::Protocol(format!("refresh script returned {v:?}"))),
        }
    }

    // --- cache ---

    async fn cache_set(&self, w: CacheWrite<'_>) -> Result<()> {
        let mut inv = self.scripts.cache_set.prepare_invoke();
        inv.key(w.key).key(w.index);
        for tag in w.tags {
            inv.key(*tag);
        }
        inv.arg(w.value).arg(ttl_millis(w.ttl));
        let _: i64 = self.invoke(&inv).await?;
        Ok(())
    }

    async fn cache_delete(&self, key: &[u8], index: &[u8]) -> Result<bool> {
        let mut inv = self.scripts.cache_delete.prepare_invoke();
        inv.key(key).key(index);
        let n: i64 = self.invoke(&inv).await?;
        Ok(n == 1)
    }

    async fn cache_invalidate_tag(&self, tag: &[u8]) -> Result<Vec<Bytes>> {
        let mut inv = self.scripts.cache_invalidate_tag.prepare_invoke();
        inv.key(tag);
        let keys: Vec<Vec<u8>> = self.invoke(&inv).await?;
        Ok(keys.into_iter().map(Bytes::from).collect())
    }

    async fn scan(&self, cursor: u64, pattern: &[u8], count: usize) -> Result<(u64, Vec<Bytes>)> {
        let (next, keys): (u64, Vec<Vec<u8>>) = self
            .query(
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(count.max(1)),
            )
            .await?;
        Ok((next, keys.into_iter().map(Bytes::from).collect()))
    }

    fn local_clock(&self) -> Option<std::sync::Arc<dyn embedis::Clock>> {
        None
    }

    // --- pub/sub ---

    async fn publish(&self, channel: &[u8], payload: &[u8]) -> Result<u64> {
        self.query(redis::cmd("PUBLISH").arg(channel).arg(payload))
            .await
    }

    /// Opens a dedicated connection per subscriber (a subscribed connection can run no other
    /// command). Not available on a cluster connection.
    async fn subscribe(&self, channel: &[u8]) -> Result<super::Subscriber> {
        let Some(client) = &self.pubsub_client else {
            return Err(Error::Invalid(
                "pub/sub is not supported on a cluster backend".into(),
            ));
        };
        let mut ps = client.get_async_pubsub().await?;
        ps.subscribe(channel).await?;
        Ok(super::Subscriber::redis(Box::pin(ps.into_on_message())))
    }

    // --- end pub/sub ---
}
