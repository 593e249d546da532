//! The cache's counters: atomic, cheap to bump on every call, read as a [`CacheStats`]
//! snapshot.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of a cache's counters (since it was built).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Fresh values served (including near-cache hits).
    pub hits: u64,
    /// Lookups that found nothing usable (absent, expired, or malformed).
    pub misses: u64,
    /// Stale values served while a background refresh runs.
    pub stale: u64,
    /// Fresh "known absent" entries served (negative caching).
    pub negative_hits: u64,
    /// Fresh values refreshed early by XFetch.
    pub early_refreshes: u64,
    /// Loader calls made by this instance.
    pub loads: u64,
    /// Loader calls that failed.
    pub load_errors: u64,
    /// Cached entries that did not decode (counted in `misses` too).
    pub decode_errors: u64,
    /// Backend calls that failed inside `get_or_load` (which then loads without the cache).
    pub backend_errors: u64,
    /// Hits answered by the near cache without a backend call.
    pub near_hits: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub stale: AtomicU64,
    pub negative_hits: AtomicU64,
    pub early_refreshes: AtomicU64,
    pub loads: AtomicU64,
    pub load_errors: AtomicU64,
    pub decode_errors: AtomicU64,
    pub backend_errors: AtomicU64,
    pub near_hits: AtomicU64,
}

pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

impl Counters {
    pub(crate) fn snapshot(&self) -> CacheStats {
        let r = |c: &AtomicU64| c.load(Relaxed);
        CacheStats {
            hits: r(&self.hits),
            misses: r(&self.misses),
            stale: r(&self.stale),
            negative_hits: r(&self.negative_hits),
            early_refreshes: r(&self.early_refreshes),
            loads: r(&self.loads),
            load_errors: r(&self.load_errors),
            decode_errors: r(&self.decode_errors),
            backend_errors: r(&self.backend_errors),
            near_hits: r(&self.near_hits),
        }
    }
}
