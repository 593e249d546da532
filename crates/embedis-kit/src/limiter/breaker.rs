//! A circuit breaker for remote backends: after `failure_threshold` consecutive failures the
//! circuit opens and calls are not made for `open_for`; then one probe goes through (half
//! open) and its result closes or reopens the circuit. A dead Redis then costs a request
//! nothing but a mutex and a clock read, instead of a timeout.

use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Circuit breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitBreakerConfig {
    /// Consecutive failures (errors or timeouts) that open the circuit. 0 disables it.
    pub failure_threshold: u32,
    /// How long the circuit stays open before a probe.
    pub open_for: Duration,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            failure_threshold: 5,
            open_for: Duration::from_secs(1),
        }
    }
}

/// The breaker's state, as reported in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CircuitState {
    /// Calls go through.
    Closed,
    /// Calls are refused until the cool-down ends.
    Open,
    /// One probe call is in flight (or allowed).
    HalfOpen,
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// Whether a call may proceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Permit {
    Call,
    Refused { retry_in: Duration },
}

#[derive(Debug)]
pub(crate) struct Breaker {
    cfg: CircuitBreakerConfig,
    state: Mutex<State>,
}

impl Breaker {
    pub(crate) fn new(cfg: CircuitBreakerConfig) -> Self {
        Breaker {
            cfg,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    pub(crate) fn permit(&self) -> Permit {
        if self.cfg.failure_threshold == 0 {
            return Permit::Call;
        }
        let mut s = self.state.lock();
        match *s {
            State::Closed { .. } => Permit::Call,
            State::Open { until } => {
                let now = Instant::now();
                if now >= until {
                    *s = State::HalfOpen { probing: true };
                    Permit::Call
                } else {
                    Permit::Refused {
                        retry_in: until - now,
                    }
                }
            }
            State::HalfOpen { probing: true } => Permit::Refused {
                retry_in: Duration::ZERO,
            },
            State::HalfOpen { probing: false } => {
                *s = State::HalfOpen { probing: true };
                Permit::Call
            }
        }
    }

    pub(crate) fn success(&self) {
        if self.cfg.failure_threshold == 0 {
            return;
        }
        let mut s = self.state.lock();
        if !matches!(*s, State::Closed { failures: 0 }) {
            *s = State::Closed { failures: 0 };
        }
    }

    pub(crate) fn failure(&self) {
        if self.cfg.failure_threshold == 0 {
            return;
        }
        let mut s = self.state.lock();
        let open = State::Open {
            until: Instant::now() + self.cfg.open_for,
        };
        *s = match *s {
            State::Closed { failures } if failures + 1 < self.cfg.failure_threshold => {
                State::Closed {
                    failures: failures + 1,
                }
            }
            _ => open,
        };
    }

    pub(crate) fn state(&self) -> CircuitState {
        match *self.state.lock() {
            State::Closed { .. } => CircuitState::Closed,
            State::Open { until } if Instant::now() < until => CircuitState::Open,
            State::Open { .. } | State::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_probes_and_closes() {
        let b = Breaker::new(CircuitBreakerConfig {
            failure_threshold: 2,
            open_for: Duration::from_secs(1),
        });
        b.failure();
        assert_eq!(b.permit(), Permit::Call);
        b.failure();
        assert_eq!(b.state(), CircuitState::Open);
        assert!(matches!(b.permit(), Permit::Refused { .. }));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(b.permit(), Permit::Call); // the probe
        assert!(matches!(b.permit(), Permit::Refused { .. }));
        b.failure();
        assert_eq!(b.state(), CircuitState::Open);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(b.permit(), Permit::Call);
        b.success();
        assert_eq!(b.state(), CircuitState::Closed);
        assert_eq!(b.permit(), Permit::Call);
    }
}
