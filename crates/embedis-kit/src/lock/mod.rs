//! Distributed locks with a TTL, safe release and extend, fencing tokens, waiting with
//! jittered backoff, and a guard that releases on drop.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::time::Duration;
//! use embedis_kit::backend::EmbeddedBackend;
//! use embedis_kit::lock::{Locks, Retry};
//!
//! let locks = Locks::new(EmbeddedBackend::new(embedis::Db::new()));
//! let ttl = Duration::from_secs(10);
//!
//! let held = locks.try_acquire("invoice:42", ttl).await?.expect("free");
//! // Busy: try_acquire answers at once, acquire waits (here at most 50 ms) with backoff.
//! assert!(locks.try_acquire("invoice:42", ttl).await?.is_none());
//! assert!(locks.acquire("invoice:42", ttl, Retry::waiting(Duration::from_millis(50))).await?.is_none());
//!
//! // Hand held.fence() to the storage you write to: it refuses writes carrying a token lower
//! // than one it already saw, so a holder that lost the lock (paused past its TTL) is fenced.
//! let first = held.fence();
//! assert!(held.extend(ttl).await?);
//! assert!(held.release().await?);
//!
//! let next = locks.try_acquire("invoice:42", ttl).await?.expect("released");
//! assert!(next.fence() > first);
//! # Ok::<(), embedis_kit::Error>(())
//! # }).unwrap();
//! ```
//!
//! # How it works
//!
//! A lock is the key `prefix{name}` holding the holder's random 128-bit token, set only if
//! absent with a TTL (`SET NX PX`). Release and extend act only if the key still holds the
//! token (compare-and-delete, compare-and-expire: atomic), so a holder whose lock expired and
//! was taken by someone else cannot release or extend the new holder's lock: they answer
//! `false`.
//!
//! The fencing token is the counter `prefix{name}:fence`, incremented in the same atomic
//! operation that takes the lock (a Lua script on Redis, one engine step in-process), so
//! tokens strictly increase in the order the lock was granted. The counter never expires
//! (one small key per lock name); deleting it restarts the sequence, which would defeat
//! fencing.
//!
//! # Time
//!
//! Expiry is decided by the backend on its clock (the engine clock in-process, which a
//! `ManualClock` drives in tests; the server's clock on Redis), never by the caller's clock.
//! The caller's clock only paces waiting: [`Locks::acquire`] sleeps on the Tokio timer (so
//! it needs a runtime with time enabled; `tokio::time::pause` makes it deterministic), with
//! exponential backoff and equal jitter, never longer than the holder's remaining TTL as
//! the backend reports it, and gives up at its deadline.
//!
//! # Dropping a guard
//!
//! Prefer [`LockGuard::release`]: it reports whether the lock was still held, and errors.
//! A guard dropped without it releases the lock on a best-effort basis: in-process
//! (embedded backend) the release runs right there in `drop` (it completes without
//! waiting); over the network it is spawned on the current Tokio runtime, so it happens
//! shortly after, and its outcome is not reported; outside a runtime nothing is sent and the
//! lock lasts until its TTL. [`LockGuard::forget`] keeps the lock on purpose.
//!
//! Key names embed `{name}` as a Redis Cluster hash tag, so a lock and its counter live in
//! one slot.

mod guard;

use std::time::Duration;

use rand::Rng;

pub use self::guard::LockGuard;
use crate::backend::{Backend, LockAttempt};
use crate::error::Result;

/// How [`Locks::acquire`] waits for a busy lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Gives up after this long (the last attempt is made at the deadline).
    pub wait: Duration,
    /// The first backoff; each later one doubles, up to `max_backoff`.
    pub min_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
}

impl Default for Retry {
    /// Up to 10 s, backing off from 10 ms to 500 ms.
    fn default() -> Self {
        Retry {
            wait: Duration::from_secs(10),
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(500),
        }
    }
}

impl Retry {
    /// The default backoff, giving up after `wait`.
    pub fn waiting(wait: Duration) -> Self {
        Retry {
            wait,
            ..Retry::default()
        }
    }

    /// The backoff range.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_backoff = min;
        self.max_backoff = max.max(min);
        self
    }
}

/// Takes locks on a backend. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Locks<B> {
    backend: B,
    prefix: String,
}

impl<B: Backend> Locks<B> {
    /// Locks stored under the prefix `lock:`.
    pub fn new(backend: B) -> Self {
        Locks {
            backend,
            prefix: "lock:".into(),
        }
    }

    /// Stores locks under `prefix` instead.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The storage key of lock `name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}{{{name}}}", self.prefix)
    }

    /// The storage key of lock `name`'s fencing counter.
    pub fn fence_key(&self, name: &str) -> String {
        format!("{}{{{name}}}:fence", self.prefix)
    }

    /// One attempt: the lock for `ttl` if it is free, `None` if someone holds it.
    pub async fn try_acquire(&self, name: &str, ttl: Duration) -> Result<Option<LockGuard<B>>> {
        Ok(self.attempt(name, ttl).await?.0)
    }

    /// Waits for the lock as `retry` says; `None` if it was still held at the deadline.
    pub async fn acquire(
        &self,
        name: &str,
        ttl: Duration,
        retry: Retry,
    ) -> Result<Option<LockGuard<B>>> {
        let start = tokio::time::Instant::now();
        // A wait too long to represent is a wait of about thirty years.
        let deadline = start
            .checked_add(retry.wait)
            .unwrap_or(start + Duration::from_secs(1 << 30));
        let mut backoff = retry.min_backoff.max(Duration::from_millis(1));
        loop {
            let (guard, left) = self.attempt(name, ttl).await?;
            if guard.is_some() {
                return Ok(guard);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let mut pause = jittered(backoff);
            if let Some(left) = left {
                pause = pause.min(left.max(Duration::from_millis(1)));
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            backoff = backoff
                .saturating_mul(2)
                .min(retry.max_backoff.max(backoff));
        }
    }

    async fn attempt(
        &self,
        name: &str,
        ttl: Duration,
    ) -> Result<(Option<LockGuard<B>>, Option<Duration>)> {
        let key = self.key(name);
        let token = new_token();
        let attempt = self
            .backend
            .lock_acquire(
                key.as_bytes(),
                self.fence_key(name).as_bytes(),
                token.as_bytes(),
                ttl,
            )
            .await?;
        Ok(match attempt {
            LockAttempt::Acquired { fence } => (
                Some(LockGuard::new(self.backend.clone(), key, token, fence)),
                None,
            ),
            LockAttempt::Held { ttl } => (None, ttl),
        })
    }
}

/// Equal jitter: half the backoff plus a random part of the other half, so that waiters
/// spread out but none retries much sooner than the backoff says.
fn jittered(backoff: Duration) -> Duration {
    let half = backoff / 2;
    let extra = rand::rng().random_range(0..=half.as_micros().min(u64::MAX as u128) as u64);
    half + Duration::from_micros(extra)
}

/// A random 128-bit token in hex (the thread's CSPRNG).
pub(crate) fn new_token() -> String {
    let v: u128 = rand::rng().random();
    format!("{v:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_and_full_backoff() {
        for _ in 0..100 {
            let d = jittered(Duration::from_millis(100));
            assert!(d >= Duration::from_millis(50) && d <= Duration::from_millis(100));
        }
    }

    #[test]
    fn tokens_are_distinct_hex() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
