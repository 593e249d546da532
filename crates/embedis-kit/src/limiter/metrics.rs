//! Counters a limiter keeps: how many checks, what was decided, and how often the backend
//! failed and the failure policy decided instead (the degraded state).

use std::sync::atomic::{AtomicU64, Ordering};

use super::breaker::CircuitState;

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) checks: AtomicU64,
    pub(crate) allowed: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) degraded: AtomicU64,
    pub(crate) backend_errors: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) short_circuited: AtomicU64,
}

pub(crate) fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A copy of a limiter's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Checks made (peeks included).
    pub checks: u64,
    /// Checks that admitted the request.
    pub allowed: u64,
    /// Checks that rejected it.
    pub rejected: u64,
    /// Checks decided by the failure policy because the backend could not (a subset of
    /// `allowed` + `rejected`).
    pub degraded: u64,
    /// Backend calls that failed with an error.
    pub backend_errors: u64,
    /// Backend calls that timed out.
    pub timeouts: u64,
    /// Checks not sent to the backend because the circuit was open.
    pub short_circuited: u64,
    /// The circuit breaker's state now.
    pub circuit: CircuitState,
}

impl Metrics {
    pub(crate) fn snapshot(&self, circuit: CircuitState) -> MetricsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            checks: g(&self.checks),
            allowed: g(&self.allowed),
            rejected: g(&self.rejected),
            degraded: g(&self.degraded),
            backend_errors: g(&self.backend_errors),
            timeouts: g(&self.timeouts),
            short_circuited: g(&self.short_circuited),
            circuit,
        }
    }
}
