//! [`LockGuard`]: a held lock; releases it on drop (see the module docs for when).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::Duration;

use crate::backend::Backend;
use crate::error::Result;

/// A held lock. Release it with [`release`](Self::release); dropping it releases it too, on
/// a best-effort basis (see the [module docs](super#dropping-a-guard)).
#[must_use = "dropping the guard releases the lock"]
#[derive(Debug)]
pub struct LockGuard<B: Backend> {
    backend: B,
    key: String,
    token: String,
    fence: u64,
    done: bool,
}

impl<B: Backend> LockGuard<B> {
    pub(super) fn new(backend: B, key: String, token: String, fence: u64) -> Self {
        LockGuard {
            backend,
            key,
            token,
            fence,
            done: false,
        }
    }

    /// The fencing token: strictly greater than that of every earlier holder of this lock.
    pub fn fence(&self) -> u64 {
        self.fence
    }

    /// This holder's random token (the lock key's value while held).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The lock's storage key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Sets the lock's TTL to `ttl` from now, if this guard still holds it; false if the
    /// lock expired (and maybe went to someone else).
    pub async fn extend(&self, ttl: Duration) -> Result<bool> {
        self.backend
            .compare_and_expire(self.key.as_bytes(), self.token.as_bytes(), ttl)
            .await
    }

    /// Whether this guard still holds the lock.
    pub async fn is_held(&self) -> Result<bool> {
        let v = self.backend.get(self.key.as_bytes()).await?;
        Ok(v.as_deref() == Some(self.token.as_bytes()))
    }

    /// Releases the lock; false if it had already expired (it is not someone else's lock
    /// that gets deleted: the release compares the token first).
    pub async fn release(mut self) -> Result<bool> {
        self.done = true;
        self.backend
            .compare_and_delete(self.key.as_bytes(), self.token.as_bytes())
            .await
    }

    /// Drops the guard without releasing: the lock lasts until its TTL.
    pub fn forget(mut self) {
        self.done = true;
    }
}

impl<B: Backend> Drop for LockGuard<B> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let backend = self.backend.clone();
        let key = std::mem::take(&mut self.key);
        let token = std::mem::take(&mut self.token);
        let release = async move {
            // Nobody to tell: the lock expires at its TTL if this fails.
            let _ = backend
                .compare_and_delete(key.as_bytes(), token.as_bytes())
                .await;
        };
        if !self.backend.is_remote() {
            // In-process operations complete on first poll: release right here, with no
            // runtime needed.
            let mut release = pin!(release);
            let _ = release
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()));
        } else if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(release);
        }
    }
}
