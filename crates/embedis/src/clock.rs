//! Time for everything in the engine: TTLs, `TIME`, idle times, blocking timeouts, limiters.
//!
//! Nothing else in the engine reads the system clock. Tests inject a [`ManualClock`] and move
//! time with [`ManualClock::advance`]; the server exposes the same through `--clock manual`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time in microseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Microseconds since the Unix epoch.
    fn now_micros(&self) -> u64;

    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64 {
        self.now_micros() / 1000
    }

    /// Whether time only moves when told to (tests); the server then offers `EMBEDIS.CLOCK`.
    fn is_manual(&self) -> bool {
        false
    }

    /// Moves a manual clock forward; a real clock ignores this and returns false.
    fn advance(&self, _by: Duration) -> bool {
        false
    }
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when [`advance`](ManualClock::advance) or
/// [`set_micros`](ManualClock::set_micros) is called. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    micros: Arc<AtomicU64>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A manual clock starting at the current real time (so that TTLs given as absolute Unix
    /// times by clients still make sense).
    pub fn new() -> Self {
        Self::starting_at_micros(SystemClock.now_micros())
    }

    /// A manual clock starting at the given Unix time in microseconds.
    pub fn starting_at_micros(micros: u64) -> Self {
        Self {
            micros: Arc::new(AtomicU64::new(micros)),
        }
    }

    /// Sets the time, in microseconds since the Unix epoch.
    pub fn set_micros(&self, micros: u64) {
        self.micros.store(micros, Ordering::SeqCst);
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        self.micros
            .fetch_add(by.as_micros() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_micros(&self) -> u64 {
        self.micros.load(Ordering::SeqCst)
    }

    fn is_manual(&self) -> bool {
        true
    }

    fn advance(&self, by: Duration) -> bool {
        ManualClock::advance(self, by);
        true
    }
}

/// Measures how long a command ran, for SLOWLOG and latency stats. This is real elapsed time
/// even under a manual clock: a slow command is slow whatever the logical time says.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch(Instant);

impl Stopwatch {
    /// Starts measuring.
    pub fn start() -> Self {
        Stopwatch(Instant::now())
    }

    /// Microseconds since [`start`](Stopwatch::start).
    pub fn elapsed_micros(&self) -> u64 {
        self.0.elapsed().as_micros() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::starting_at_micros(1_000_000);
        assert_eq!(c.now_millis(), 1000);
        c.advance(Duration::from_millis(1500));
        assert_eq!(c.now_millis(), 2500);
        let shared = c.clone();
        shared.advance(Duration::from_secs(1));
        assert_eq!(c.now_millis(), 3500);
    }
}
