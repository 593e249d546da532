//! Cache-aside over any [`Backend`]: typed values through a [`Codec`], TTLs, single-flight
//! [`get_or_load`](Cache::get_or_load), stale-while-revalidate, probabilistic early
//! refresh (XFetch), negative caching, invalidation by key, tag and prefix, counters, and an
//! optional in-process near cache.
//!
#![doc = include_str!("../../docs/cache.md")]

mod codec;
mod envelope;
mod flight;
mod near;
mod stats;

use std::error::Error as StdError;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use embedis::Clock;

#[cfg(feature = "cbor")]
pub use self::codec::Cbor;
#[cfg(feature = "json")]
pub use self::codec::Json;
pub use self::codec::{Codec, DefaultCodec, Raw};
use self::envelope::{Envelope, Kind};
use self::flight::{Flights, Outcome, Role};
use self::near::Near;
pub use self::stats::CacheStats;
use self::stats::{Counters, bump};
use crate::backend::{Backend, CacheWrite, SetOptions};
use crate::error::{Error, Result};

/// A loader's error, shared by every caller that waited on the load.
pub type LoadError = Arc<dyn StdError + Send + Sync>;

/// How a loaded value is stored: its TTL and its tags.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// How long the value is fresh.
    pub ttl: Duration,
    /// Tags the value is stored under (see [`Cache::invalidate_tag`]).
    pub tags: Vec<String>,
}

impl LoadOptions {
    /// Fresh for `ttl`, no tags.
    pub fn ttl(ttl: Duration) -> Self {
        LoadOptions {
            ttl,
            tags: Vec::new(),
        }
    }

    /// Stores the value under these tags too.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }
}

/// A typed cache over a [`Backend`]. Cheap to clone (clones share counters, the near cache
/// and the in-flight loads). See the [module docs](self).
pub struct Cache<B: Backend, C = DefaultCodec> {
    inner: Arc<Inner<B, C>>,
}

impl<B: Backend, C> Clone for Cache<B, C> {
    fn clone(&self) -> Self {
        Cache {
            inner: self.inner.clone(),
        }
    }
}

impl<B: Backend, C> std::fmt::Debug for Cache<B, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("namespace", &self.inner.namespace)
            .field("stats", &self.inner.counters.snapshot())
            .finish_non_exhaustive()
    }
}

struct Inner<B, C> {
    backend: B,
    codec: C,
    namespace: String,
    clock: Arc<dyn Clock>,
    grace: Duration,
    negative_ttl: Option<Duration>,
    beta: f64,
    lock_ttl: Option<Duration>,
    lock_wait: Duration,
    near: Option<Near>,
    flights: Arc<Flights>,
    counters: Counters,
    rng: AtomicU64,
}

/// Builds a [`Cache`]; see [`Cache::builder`].
pub struct CacheBuilder<B, C> {
    backend: B,
    codec: C,
    namespace: String,
    clock: Option<Arc<dyn Clock>>,
    grace: Duration,
    negative_ttl: Option<Duration>,
    beta: f64,
    lock_ttl: Option<Duration>,
    lock_wait: Option<Duration>,
    near: Option<(usize, Duration)>,
    seed: Option<u64>,
}

impl<B, C> std::fmt::Debug for CacheBuilder<B, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Cache<B> {
    /// A builder with the defaults: namespace `cache`, the default codec, no stale grace,
    /// no negative caching, XFetch with β = 1, a 5 s cross-process load lock, no near
    /// cache, the backend's clock if it is in-process (else the system clock).
    pub fn builder(backend: B) -> CacheBuilder<B, DefaultCodec> {
        CacheBuilder {
            backend,
            codec: DefaultCodec::default(),
            namespace: "cache".into(),
            clock: None,
            grace: Duration::ZERO,
            negative_ttl: None,
            beta: 1.0,
            lock_ttl: Some(Duration::from_secs(5)),
            lock_wait: None,
            near: None,
            seed: None,
        }
    }

    /// A cache with the [defaults](Cache::builder).
    pub fn new(backend: B) -> Self {
        Self::builder(backend)
            .build()
            .expect("the default configuration is valid")
    }
}

impl<B: Backend, C> CacheBuilder<B, C> {
    /// Prefix of every key this cache stores, used as the Redis Cluster hash tag (so must
    /// not contain `{` or `}`): see "Keys" in the module docs.
    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = ns.into();
        self
    }

    /// Encodes values with `codec` instead.
    pub fn codec<C2>(self, codec: C2) -> CacheBuilder<B, C2> {
        CacheBuilder {
            backend: self.backend,
            codec,
            namespace: self.namespace,
            clock: self.clock,
            grace: self.grace,
            negative_ttl: self.negative_ttl,
            beta: self.beta,
            lock_ttl: self.lock_ttl,
            lock_wait: self.lock_wait,
            near: self.near,
            seed: self.seed,
        }
    }

    /// Stale-while-revalidate: a value stays stored this long after it stops being fresh;
    /// [`get_or_load`](Cache::get_or_load) serves it then and refreshes it in the
    /// background. Default zero (off).
    pub fn stale_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Negative caching: a loader's `None` is remembered this long. Default off.
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = Some(ttl);
        self
    }

    /// XFetch's β (default 1; larger refreshes earlier, 0 turns early refresh off).
    pub fn xfetch_beta(mut self, beta: f64) -> Self {
        self.beta = beta;
        self
    }

    /// The cross-process load lock's TTL (default 5 s; `None`: in-process single-flight
    /// only). Should exceed a typical load.
    pub fn lock_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.lock_ttl = ttl;
        self
    }

    /// Longest a caller polls for another process's load before loading itself (default:
    /// the lock TTL).
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = Some(wait);
        self
    }

    /// Turns on the near cache: up to `capacity` entries kept in this process for at most
    /// `ttl` each, invalidated by this process's writes (not other processes'). Meant for
    /// a remote backend.
    pub fn near_cache(mut self, capacity: usize, ttl: Duration) -> Self {
        self.near = Some((capacity, ttl));
        self
    }

    /// The clock deciding freshness (tests inject a manual one).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Seeds XFetch's randomness and the lock tokens (reproducible tests).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The cache; fails on an invalid namespace or β.
    pub fn build(self) -> Result<Cache<B, C>> {
        if self.namespace.is_empty() || self.namespace.contains(['{', '}']) {
            return Err(Error::Invalid(format!(
                "cache namespace {:?} must be non-empty without braces",
                self.namespace
            )));
        }
        if !(self.beta >= 0.0 && self.beta.is_finite()) {
            return Err(Error::Invalid("XFetch beta must be finite and >= 0".into()));
        }
        let clock = self
            .clock
            .or_else(|| self.backend.local_clock())
            .unwrap_or_else(|| Arc::new(embedis::SystemClock));
        let seed = self.seed.unwrap_or_else(|| {
            static INSTANCES: AtomicU64 = AtomicU64::new(0);
            clock.now_micros()
                ^ (u64::from(std::process::id()) << 32)
                ^ INSTANCES
                    .fetch_add(1, Relaxed)
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        });
        let lock_wait = self
            .lock_wait
            .unwrap_or(self.lock_ttl.unwrap_or(Duration::ZERO));
        Ok(Cache {
            inner: Arc::new(Inner {
                backend: self.backend,
                codec: self.codec,
                namespace: self.namespace,
                clock,
                grace: self.grace,
                negative_ttl: self.negative_ttl.filter(|d| !d.is_zero()),
                beta: self.beta,
                lock_ttl: self.lock_ttl.filter(|d| !d.is_zero()),
                lock_wait,
                near: self.near.map(|(cap, ttl)| Near::new(cap, millis(ttl))),
                flights: Arc::default(),
                counters: Counters::default(),
                rng: AtomicU64::new(seed),
            }),
        })
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What a lookup found.
enum Found<T> {
    Fresh {
        value: T,
        fresh_until_ms: i64,
        delta_ms: u32,
    },
    Stale(T),
    Absent,
    Miss,
}

/// Escapes Redis glob metacharacters so that `bytes` matches only itself.
fn glob_escape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 1);
    for &b in bytes {
        if matches!(b, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// Which kind of load [`Cache::lead`] runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A caller needs the value: re-check the store, wait for another process's load.
    Foreground,
    /// A refresh of a value still served: give up if another process is loading.
    Background,
}

type Shared<T> = std::result::Result<Option<T>, LoadError>;

impl<B: Backend, C: Send + Sync + 'static> Cache<B, C> {
    /// A snapshot of the counters.
    pub fn stats(&self) -> CacheStats {
        self.inner.counters.snapshot()
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.inner.backend
    }

    /// The cache clock's time in ms.
    fn now(&self) -> i64 {
        i64::try_from(self.inner.clock.now_millis()).unwrap_or(i64::MAX)
    }

    fn storage_key(&self, kind: &str, key: &[u8]) -> Vec<u8> {
        let ns = &self.inner.namespace;
        let mut k = Vec::with_capacity(ns.len() + 5 + key.len());
        k.push(b'{');
        k.extend_from_slice(ns.as_bytes());
        k.extend_from_slice(b"}:");
        k.extend_from_slice(kind.as_bytes());
        k.push(b':');
        k.extend_from_slice(key);
        k
    }

    /// The backend key holding `key`'s value (for inspection and tests).
    pub fn value_key(&self, key: impl AsRef<[u8]>) -> Vec<u8> {
        self.storage_key("v", key.as_ref())
    }

    fn index_key(&self, key: &[u8]) -> Vec<u8> {
        self.storage_key("i", key)
    }

    fn lock_key(&self, key: &[u8]) -> Vec<u8> {
        self.storage_key("l", key)
    }

    /// The backend key of tag `tag`'s member set.
    pub fn tag_key(&self, tag: impl AsRef<[u8]>) -> Vec<u8> {
        self.storage_key("t", tag.as_ref())
    }

    fn next_u64(&self) -> u64 {
        // splitmix64 over an atomic counter: lock-free, good enough for jitter and tokens.
        let mut z = self
            .inner
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// XFetch (Vattani, Chierichetti, Lowenstein, VLDB 2015): refresh early when
    /// `now - delta * beta * ln(rand) >= expiry`, rand uniform in (0, 1].
    fn xfetch(&self, now: i64, fresh_until_ms: i64, delta_ms: u32) -> bool {
        if self.inner.beta == 0.0 || delta_ms == 0 {
            return false;
        }
        let rand = ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        now as f64 - f64::from(delta_ms) * self.inner.beta * rand.ln() >= fresh_until_ms as f64
    }

    /// The stored entry, through the near cache.
    async fn read(&self, vkey: &[u8]) -> Result<Option<Bytes>> {
        if let Some(near) = &self.inner.near {
            if let Some(b) = near.get(vkey, self.now()) {
                bump(&self.inner.counters.near_hits);
                return Ok(Some(b));
            }
            let got = self.inner.backend.get(vkey).await?;
            if let Some(b) = &got {
                near.put(vkey, b.clone(), self.now());
            }
            return Ok(got);
        }
        self.inner.backend.get(vkey).await
    }

    fn classify<T>(&self, bytes: Option<Bytes>, now: i64) -> Found<T>
    where
        C: Codec<T>,
    {
        let Some(bytes) = bytes else {
            return Found::Miss;
        };
        let Some(Envelope {
            kind,
            fresh_until_ms,
            delta_ms,
            payload,
        }) = envelope::parse(&bytes)
        else {
            bump(&self.inner.counters.decode_errors);
            return Found::Miss;
        };
        let fresh = now < fresh_until_ms;
        match kind {
            Kind::Absent if fresh => Found::Absent,
            Kind::Absent => Found::Miss,
            Kind::Value => match self.inner.codec.decode(payload) {
                Ok(value) if fresh => Found::Fresh {
                    value,
                    fresh_until_ms,
                    delta_ms,
                },
                Ok(value) => Found::Stale(value),
                Err(_) => {
                    bump(&self.inner.counters.decode_errors);
                    Found::Miss
                }
            },
        }
    }

    /// The fresh value of `key`, if any. A stale value (past its TTL, within the grace
    /// period) and a "known absent" entry are `None` here; [`get_or_load`](Self::get_or_load)
    /// is what serves stale values.
    pub async fn get<T>(&self, key: impl AsRef<[u8]>) -> Result<Option<T>>
    where
        C: Codec<T>,
    {
        let vkey = self.value_key(key);
        let now = self.now();
        let c = &self.inner.counters;
        match self.classify(self.read(&vkey).await?, now) {
            Found::Fresh { value, .. } => {
                bump(&c.hits);
                Ok(Some(value))
            }
            Found::Absent => {
                bump(&c.negative_hits);
                Ok(None)
            }
            Found::Stale(_) | Found::Miss => {
                bump(&c.misses);
                Ok(None)
            }
        }
    }

    /// Stores `value` under `key`, fresh for `ttl`.
    pub async fn set<T>(&self, key: impl AsRef<[u8]>, value: &T, ttl: Duration) -> Result<()>
    where
        C: Codec<T>,
    {
        self.store::<T, &str>(key.as_ref(), Some(value), ttl, &[], 0, self.now())
            .await
    }

    /// Stores `value` under `key`, fresh for `ttl`, as a member of each of `tags`. The value
    /// and the tag memberships are written in one atomic backend operation; a key written
    /// again leaves the tags it no longer has.
    pub async fn set_tagged<T, S: AsRef<str>>(
        &self,
        key: impl AsRef<[u8]>,
        value: &T,
        ttl: Duration,
        tags: &[S],
    ) -> Result<()>
    where
        C: Codec<T>,
    {
        let tags: Vec<&str> = tags.iter().map(AsRef::as_ref).collect();
        self.store(key.as_ref(), Some(value), ttl, &tags, 0, self.now())
            .await
    }

    async fn store<T, S: AsRef<str>>(
        &self,
        key: &[u8],
        value: Option<&T>,
        ttl: Duration,
        tags: &[S],
        delta_ms: u32,
        now: i64,
    ) -> Result<()>
    where
        C: Codec<T>,
    {
        let (bytes, key_ttl) = match value {
            Some(v) => {
                let fresh_until = now.saturating_add(millis(ttl));
                let mut b = envelope::header(Kind::Value, fresh_until, delta_ms);
                self.inner.codec.encode(v, &mut b).map_err(Error::Encode)?;
                (b, ttl.saturating_add(self.inner.grace))
            }
            None => {
                let Some(neg) = self.inner.negative_ttl else {
                    return Ok(());
                };
                let b = envelope::header(Kind::Absent, now.saturating_add(millis(neg)), 0);
                (b, neg)
            }
        };
        let vkey = self.value_key(key);
        let ikey = self.index_key(key);
        let tag_keys: Vec<Vec<u8>> = tags.iter().map(|t| self.tag_key(t.as_ref())).collect();
        let tag_refs: Vec<&[u8]> = tag_keys.iter().map(Vec::as_slice).collect();
        if let Some(near) = &self.inner.near {
            near.remove(&vkey);
        }
        self.inner
            .backend
            .cache_set(CacheWrite {
                key: &vkey,
                value: &bytes,
                ttl: key_ttl,
                index: &ikey,
                tags: &tag_refs,
            })
            .await?;
        if let Some(near) = &self.inner.near {
            near.put(&vkey, Bytes::from(bytes), self.now());
        }
        Ok(())
    }

    /// Removes `key` (and its tag memberships); true if it was stored.
    pub async fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = key.as_ref();
        let vkey = self.value_key(key);
        if let Some(near) = &self.inner.near {
            near.remove(&vkey);
        }
        self.inner
            .backend
            .cache_delete(&vkey, &self.index_key(key))
            .await
    }

    /// Removes every key stored with `tag`, atomically; returns how many.
    pub async fn invalidate_tag(&self, tag: impl AsRef<[u8]>) -> Result<u64> {
        let keys = self
            .inner
            .backend
            .cache_invalidate_tag(&self.tag_key(tag))
            .await?;
        if let Some(near) = &self.inner.near {
            for k in &keys {
                near.remove(k);
            }
        }
        Ok(keys.len() as u64)
    }

    /// Removes every key starting with `prefix`, found with SCAN (never KEYS), each with
    /// its tag memberships; returns how many. Not atomic as a whole: a key written during
    /// the scan may survive.
    pub async fn invalidate_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<u64> {
        let vprefix = self.value_key(prefix);
        let base = self.value_key(b"").len();
        let mut pattern = glob_escape(&vprefix);
        pattern.push(b'*');
        if let Some(near) = &self.inner.near {
            near.remove_prefix(&vprefix);
        }
        let (mut cursor, mut removed) = (0u64, 0u64);
        loop {
            let (next, keys) = self.inner.backend.scan(cursor, &pattern, 200).await?;
            for vkey in keys {
                let ikey = self.index_key(&vkey[base..]);
                if self.inner.backend.cache_delete(&vkey, &ikey).await? {
                    removed += 1;
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        Ok(removed)
    }

    /// The value of `key`; on a miss, calls `loader` once for all concurrent callers in
    /// this process (and, with the load lock, across processes) and stores its value fresh
    /// for `ttl`. Within the stale grace period the stale value is returned at once and
    /// refreshed in the background; a fresh value may be refreshed early (XFetch). A
    /// loader error goes to every waiting caller and is not cached.
    ///
    /// Backend failures do not fail the call: the value is loaded without the cache (and
    /// counted in `backend_errors`). Waiting for another process's load sleeps on the Tokio
    /// timer (a runtime with time enabled); in-process waiting and background refreshes need
    /// no timer. A negative entry left by [`get_or_load_opt`](Self::get_or_load_opt) under
    /// the same key is an [`Error::Invalid`].
    pub async fn get_or_load<T, F, Fut, E>(
        &self,
        key: impl AsRef<[u8]>,
        ttl: Duration,
        loader: F,
    ) -> Result<T>
    where
        C: Codec<T>,
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>> + 'static,
    {
        let got = self
            .get_or_load_with(key, LoadOptions::ttl(ttl), move || async move {
                loader().await.map(Some)
            })
            .await?;
        got.ok_or_else(|| {
            Error::Invalid("get_or_load found a negative entry (stored by get_or_load_opt)".into())
        })
    }

    /// Like [`get_or_load`](Self::get_or_load) for a loader that may find nothing: its
    /// `None` is cached for the [negative TTL](CacheBuilder::negative_ttl) when one is set.
    pub async fn get_or_load_opt<T, F, Fut, E>(
        &self,
        key: impl AsRef<[u8]>,
        ttl: Duration,
        loader: F,
    ) -> Result<Option<T>>
    where
        C: Codec<T>,
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<Option<T>, E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>> + 'static,
    {
        self.get_or_load_with(key, LoadOptions::ttl(ttl), loader)
            .await
    }

    /// The general form: store options (TTL, tags) and a loader that may find nothing.
    pub async fn get_or_load_with<T, F, Fut, E>(
        &self,
        key: impl AsRef<[u8]>,
        opts: LoadOptions,
        loader: F,
    ) -> Result<Option<T>>
    where
        C: Codec<T>,
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<Option<T>, E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>> + 'static,
    {
        let key = key.as_ref();
        let vkey = self.value_key(key);
        let c = &self.inner.counters;
        let now = self.now();
        let found = match self.read(&vkey).await {
            Ok(b) => self.classify(b, now),
            Err(_) => {
                bump(&c.backend_errors);
                Found::Miss
            }
        };
        match found {
            Found::Fresh {
                value,
                fresh_until_ms,
                delta_ms,
            } => {
                bump(&c.hits);
                if self.xfetch(now, fresh_until_ms, delta_ms) {
                    bump(&c.early_refreshes);
                    self.refresh(key, opts, loader).await;
                }
                return Ok(Some(value));
            }
            Found::Stale(value) => {
                bump(&c.stale);
                self.refresh(key, opts, loader).await;
                return Ok(Some(value));
            }
            Found::Absent => {
                bump(&c.negative_hits);
                return Ok(None);
            }
            Found::Miss => bump(&c.misses),
        }
        let mut loader = Some(loader);
        loop {
            match self.inner.flights.join(&vkey) {
                Role::Leader(leader) => {
                    let Some(loader) = loader.take() else {
                        unreachable!("a leader returns");
                    };
                    let out: Shared<T> = self
                        .lead(key, &opts, loader, Mode::Foreground)
                        .await
                        .unwrap_or(Ok(None));
                    leader.finish(Arc::new(out.clone()));
                    return out.map_err(Error::Load);
                }
                Role::Waiter(rx) => {
                    if let Some(o) = flight::wait(rx).await
                        && let Some(r) = o.downcast_ref::<Shared<T>>()
                    {
                        return r.clone().map_err(Error::Load);
                    }
                    // The leader went away, or loaded another type: try again.
                }
            }
        }
    }

    /// Refreshes `key` in the background (on the current Tokio runtime; inline without
    /// one), unless this process is already loading it.
    async fn refresh<T, F, Fut, E>(&self, key: &[u8], opts: LoadOptions, loader: F)
    where
        C: Codec<T>,
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<Option<T>, E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>> + 'static,
    {
        let Role::Leader(leader) = self.inner.flights.join(&self.value_key(key)) else {
            return;
        };
        let this = self.clone();
        let key = key.to_vec();
        let task = async move {
            // A refresh that gave way to another process's load publishes nothing: waiters
            // (if any) retry and find that process's value.
            if let Some(out) = this
                .lead::<T, F, Fut, E>(&key, &opts, loader, Mode::Background)
                .await
            {
                leader.finish(Arc::new(out) as Outcome);
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(task);
            }
            Err(_) => task.await,
        }
    }

    /// Loads as this process's leader for `key`: takes the cross-process lock (waiting for
    /// another holder's value in the foreground), calls the loader, stores its value.
    /// `None` when a background refresh gave way to another process's load.
    async fn lead<T, F, Fut, E>(
        &self,
        key: &[u8],
        opts: &LoadOptions,
        loader: F,
        mode: Mode,
    ) -> Option<Shared<T>>
    where
        C: Codec<T>,
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<Option<T>, E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>> + 'static,
    {
        let vkey = self.value_key(key);
        let c = &self.inner.counters;
        let b = &self.inner.backend;
        if mode == Mode::Foreground {
            // A leader that finished just before this one joined may have stored it.
            if let Some(done) = self.settled(&vkey).await {
                return Some(Ok(done));
            }
        }
        let lock = self.lock_key(key);
        let token = format!("{:016x}", self.next_u64());
        let mut holding = false;
        if let Some(lock_ttl) = self.inner.lock_ttl {
            let mut waited = Duration::ZERO;
            let mut pause = Duration::from_millis(2);
            loop {
                match b
                    .set(&lock, token.as_bytes(), SetOptions::if_absent(lock_ttl))
                    .await
                {
                    Ok(true) => {
                        holding = true;
                        break;
                    }
                    Ok(false) if mode == Mode::Background => return None,
                    Ok(false) => {}
                    Err(_) => {
                        bump(&c.backend_errors);
                        break;
                    }
                }
                if waited >= self.inner.lock_wait {
                    break;
                }
                // Jittered exponential backoff, so that waiting processes do not poll in step.
                let jitter = Duration::from_micros(self.next_u64() % 1000);
                tokio::time::sleep(pause + jitter).await;
                waited += pause;
                pause = (pause * 2).min(Duration::from_millis(100));
                if let Some(done) = self.settled(&vkey).await {
                    return Some(Ok(done));
                }
            }
        }
        let out = self.load_and_store(key, opts, loader).await;
        if holding {
            let _ = b.compare_and_delete(&lock, token.as_bytes()).await;
        }
        Some(out)
    }

    /// A fresh value or fresh negative entry already stored for `vkey`.
    async fn settled<T>(&self, vkey: &[u8]) -> Option<Option<T>>
    where
        C: Codec<T>,
    {
        let now = self.now();
        match self.classify(self.inner.backend.get(vkey).await.ok()?, now) {
            Found::Fresh { value, .. } => Some(Some(value)),
            Found::Absent => Some(None),
            _ => None,
        }
    }

    async fn load_and_store<T, F, Fut, E>(
        &self,
        key: &[u8],
        opts: &LoadOptions,
        loader: F,
    ) -> Shared<T>
    where
        C: Codec<T>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<Option<T>, E>>,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        let c = &self.inner.counters;
        bump(&c.loads);
        let started = self.now();
        let value = match loader().await {
            Ok(v) => v,
            Err(e) => {
                bump(&c.load_errors);
                return Err(Arc::from(e.into()));
            }
        };
        let now = self.now();
        let delta = u32::try_from(now.saturating_sub(started).max(0)).unwrap_or(u32::MAX);
        if self
            .store(key, value.as_ref(), opts.ttl, &opts.tags, delta, now)
            .await
            .is_err()
        {
            // The value is still good for the callers; the next read loads again.
            bump(&c.backend_errors);
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests;
