//! Service building blocks that run the same code on the embedded embedis engine (one
//! binary) and on real Redis (many instances).
//!
//! - [`backend`]: the [`Backend`](backend::Backend) trait and its implementations:
//!   [`EmbeddedBackend`](backend::EmbeddedBackend) (in-process, native engine operations)
//!   and [`RedisBackend`](backend::RedisBackend) (redis-rs, atomic Lua scripts on the
//!   server's clock), or [`AnyBackend`](backend::AnyBackend) chosen at run time.
//! - [`limiter`]: rate limiting (fixed window, sliding log, sliding window counter, token
//!   bucket, GCRA), several policies per check, tiers, failure policies; and a
//!   concurrency limiter with expiring leases.
//! - [`lock`]: distributed locks with a TTL, safe release and extend, fencing tokens,
//!   waiting with jittered backoff and a deadline, a guard that releases on drop.
//! - [`session`] (feature `sessions`): a `tower_sessions::SessionStore` over any backend,
//!   refresh-token rotation with reuse detection, and revoke-all per user.
//! - [`cache`]: typed cache-aside with single-flight loads (in-process and across
//!   processes), stale-while-revalidate, XFetch early refresh, negative caching,
//!   invalidation by key, tag and prefix, counters and an optional near cache.
//! - [`headers`]: `RateLimit`/`RateLimit-Policy` (IETF draft 11), `X-RateLimit-*` and
//!   `Retry-After`.
//! - `http` (feature `axum`): tower layers for axum apps (rate limiting with key
//!   extractors and trusted proxies, response caching with ETags and invalidation) and
//!   extractors for the limiter decision, the cache and the backend.
//!
//! The same code on either backend:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::time::Duration;
//! use embedis_kit::backend::{AnyBackend, EmbeddedBackend};
//! use embedis_kit::limiter::{Limiter, Policy};
//!
//! // From configuration: EmbeddedBackend for one binary, RedisBackend for many instances.
//! let backend: AnyBackend = EmbeddedBackend::new(embedis::Db::new()).into();
//! let limiter = Limiter::builder(backend)
//!     .policy("api", Policy::token_bucket(20, 10, Duration::from_secs(1)))
//!     .build()
//!     .unwrap();
//! assert!(limiter.check("user:7").await.allowed);
//! # });
//! ```

pub mod backend;
pub mod cache;
mod error;
pub mod headers;
#[cfg(feature = "axum")]
pub mod http;
pub mod limiter;
pub mod lock;
#[cfg(feature = "sessions")]
pub mod session;

pub use error::{Error, Result};
