//! Server-wide counters reported by INFO (stats section) and reset by CONFIG RESETSTAT.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::error::Error;

/// At most this many distinct error codes are counted (INFO errorstats), like Redis: codes
/// can come from scripts, so their number is bounded.
pub const ERROR_CODES_MAX: usize = 128;

/// A relaxed atomic counter: counters are statistics, not synchronization.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets the value back to zero.
    pub fn reset(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

/// The counters of INFO's stats section that the engine maintains.
#[derive(Debug, Default)]
pub struct Stats {
    /// `keyspace_hits`: read lookups that found the key.
    pub keyspace_hits: Counter,
    /// `keyspace_misses`: read lookups that did not.
    pub keyspace_misses: Counter,
    /// `expired_keys`: keys removed because their TTL passed (lazily or actively).
    pub expired_keys: Counter,
    /// `evicted_keys`: keys removed by maxmemory eviction.
    pub evicted_keys: Counter,
    /// `total_commands_processed`.
    pub total_commands: Counter,
    /// `total_connections_received`.
    pub total_connections: Counter,
    /// `rejected_connections` (maxclients).
    pub rejected_connections: Counter,
    /// `total_error_replies`.
    pub error_replies: Counter,
    /// Writes since start (`rdb_changes_since_last_save`).
    pub dirty: Counter,
    /// Error replies by code (`errorstat_ERR:count=N`), in code order.
    pub errors: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    /// CONFIG RESETSTAT: zero what Redis zeroes.
    pub fn reset(&self) {
        for c in [
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.expired_keys,
            &self.evicted_keys,
            &self.total_commands,
            &self.total_connections,
            &self.rejected_connections,
            &self.error_replies,
        ] {
            c.reset();
        }
        self.errors.lock().clear();
    }

    /// Counts an error reply: `total_error_replies` and the per-code count.
    pub fn count_error(&self, e: &Error) {
        self.error_replies.inc();
        // Redis's rule: the text up to the first space within its first 31 bytes, else ERR.
        let text = e.to_string();
        let head = &text.as_bytes()[..text.len().min(31)];
        let code = match head.iter().position(|&c| c == b' ') {
            Some(i) => text[..i].to_string(),
            None => "ERR".to_string(),
        };
        let mut errors = self.errors.lock();
        if let Some(n) = errors.get_mut(&code) {
            *n += 1;
        } else if errors.len() < ERROR_CODES_MAX {
            errors.insert(code, 1);
        }
    }
}
