//! Rate-limiting algorithms as pure functions: the previous state and `now` go in, a
//! [`Decision`] and the state to store come out. No storage, no clock, no locking: the engine
//! commands (`cmd/limiter.rs`), the typed API (`api/limiter.rs`) and the tests drive them.
//!
//! # Units and exactness
//!
//! Every time is an integer number of **microseconds** ([`Micros`]), `now` included (Unix
//! time). Every computation is integer arithmetic whose intermediate values stay below
//! 2^53, so that the Lua versions of these algorithms in `embedis-kit` (Lua 5.1 numbers
//! are doubles, exact only up to 2^53) compute exactly the same decisions. The bounds that
//! make this true are checked by [`Policy::validate`] and [`validate_cost`]; the only
//! exception is the redis-cell compatible [`cell`] module, which follows redis-cell's own
//! nanosecond arithmetic and is not mirrored in Lua.
//!
//! # Stale state decides like no state
//!
//! Each evaluation reports `expire_at`: from that time on, the stored state decides exactly
//! as a missing key does. Storage may therefore expire keys at `expire_at` or any time later
//! (the engine rounds expiries up to whole seconds so that steady traffic does not rewrite
//! the TTL index on every request), and the decision never depends on whether the key was
//! already reclaimed. Unit tests check this for every algorithm.
//!
//! # Peek and charge
//!
//! [`evaluate`] with `charge = false` is a peek: `allowed` says whether `cost` would be
//! admitted now, `remaining` is what is left before it, and no state is returned. With
//! `charge = true`, an admitted request returns the new state and `remaining` after it; a
//! rejected one changes nothing.

pub mod cell;
pub mod concurrency;
mod fixed_window;
mod gcra;
mod sliding_log;
mod sliding_window;
mod token_bucket;

use std::time::Duration;

/// Microseconds: the unit of every time in this module (Unix time for instants).
pub type Micros = i64;

/// Intermediate values stay below this (2^53) so that Lua's doubles are exact.
pub const MAX_EXACT: i64 = 1 << 53;
/// Largest limit, burst, capacity, refill amount or cost (2^40).
pub const MAX_AMOUNT: i64 = 1 << 40;
/// Longest window, interval or emission interval: 2^45 µs, about 407 days.
pub const MAX_DURATION: Micros = 1 << 45;
/// Latest `now` the algorithms accept: 2^52 µs, in the year 2112.
pub const MAX_NOW: Micros = 1 << 52;

/// One rate-limiting policy: an algorithm and its parameters.
///
/// The numeric code ([`Policy::code`]) and parameters ([`Policy::params`]) are what the Lua
/// scripts receive; keep them in step with `embedis-kit/src/lua/limiter.lua`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Policy {
    /// At most `limit` units per window; windows are aligned to multiples of `window` since
    /// the Unix epoch, so every process agrees on where a window starts. O(1) memory; allows
    /// up to 2x `limit` across a window boundary.
    FixedWindow {
        /// Units per window.
        limit: i64,
        /// Window length.
        window: Micros,
    },
    /// Exact: at most `limit` units in any window of length `window` ending now. Keeps one
    /// entry per admitted request (O(limit) memory).
    SlidingLog {
        /// Units per window.
        limit: i64,
        /// Window length.
        window: Micros,
    },
    /// Approximate sliding window: the current aligned window's count plus the previous
    /// window's count weighted by how much of it still overlaps the sliding window
    /// (millisecond resolution). O(1) memory. `window` must be a whole number of
    /// milliseconds.
    SlidingWindow {
        /// Units per window.
        limit: i64,
        /// Window length.
        window: Micros,
    },
    /// A bucket of `capacity` tokens, refilled continuously at `refill` tokens per
    /// `interval`; a request takes `cost` tokens. Starts full.
    TokenBucket {
        /// Bucket size: the largest burst.
        capacity: i64,
        /// Tokens added per `interval`.
        refill: i64,
        /// Refill interval.
        interval: Micros,
    },
    /// Generic cell rate algorithm: one unit every `emission` on average, bursts of up to
    /// `burst` units. Equivalent to a token bucket of `burst` tokens refilled one per
    /// `emission`, stored as a single timestamp (the theoretical arrival time).
    Gcra {
        /// Largest burst (and the reported limit).
        burst: i64,
        /// Time per unit at the sustained rate.
        emission: Micros,
    },
}

/// Why a policy or cost was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// A parameter is zero, negative, or above its maximum.
    OutOfRange(&'static str),
    /// The parameters' product would exceed 2^53 (Lua could not compute it exactly).
    TooLarge(&'static str),
    /// The sliding window counter needs a whole number of milliseconds.
    NotWholeMillis,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyError::OutOfRange(what) => write!(f, "{what} is out of range"),
            PolicyError::TooLarge(what) => {
                write!(
                    f,
                    "{what} is too large (intermediate values must stay below 2^53)"
                )
            }
            PolicyError::NotWholeMillis => {
                f.write_str("the sliding window must be a whole number of milliseconds")
            }
        }
    }
}

impl std::error::Error for PolicyError {}

/// A duration as microseconds, saturating (then refused by validation).
pub fn micros(d: Duration) -> Micros {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn amount(v: i64, what: &'static str) -> Result<(), PolicyError> {
    if (1..=MAX_AMOUNT).contains(&v) {
        Ok(())
    } else {
        Err(PolicyError::OutOfRange(what))
    }
}

fn duration(v: Micros, what: &'static str) -> Result<(), PolicyError> {
    if (1..=MAX_DURATION).contains(&v) {
        Ok(())
    } else {
        Err(PolicyError::OutOfRange(what))
    }
}

/// Checks a request's cost (0 ..= [`MAX_AMOUNT`]).
pub fn validate_cost(cost: i64) -> Result<(), PolicyError> {
    if (0..=MAX_AMOUNT).contains(&cost) {
        Ok(())
    } else {
        Err(PolicyError::OutOfRange("cost"))
    }
}

/// Checks `now` (0 ..= [`MAX_NOW`]).
pub fn validate_now(now: Micros) -> Result<(), PolicyError> {
    if (0..=MAX_NOW).contains(&now) {
        Ok(())
    } else {
        Err(PolicyError::OutOfRange("now"))
    }
}

impl Policy {
    /// A fixed window of `limit` units per `window`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use embedis::types::limiter::Policy;
    ///
    /// let clock = embedis::ManualClock::starting_at_micros(1_700_000_000_000_000);
    /// let db = embedis::Db::builder().clock(clock.clone()).build();
    /// let per_minute = Policy::fixed_window(2, Duration::from_secs(60));
    /// assert!(db.rate_limit("k", &per_minute, 1).unwrap().allowed);
    /// assert!(db.rate_limit("k", &per_minute, 1).unwrap().allowed);
    /// let d = db.rate_limit("k", &per_minute, 1).unwrap();
    /// assert!(!d.allowed);
    /// // Windows are aligned to the epoch: this one ends at the next whole minute, 40 s on.
    /// assert_eq!(d.retry_after, Some(40_000_000));
    /// clock.advance(Duration::from_secs(40));
    /// assert!(db.rate_limit("k", &per_minute, 1).unwrap().allowed);
    /// ```
    pub fn fixed_window(limit: i64, window: Duration) -> Policy {
        Policy::FixedWindow {
            limit,
            window: micros(window),
        }
    }

    /// An exact sliding log of `limit` units per `window`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use embedis::types::limiter::Policy;
    ///
    /// let clock = embedis::ManualClock::starting_at_micros(1_700_000_000_000_000);
    /// let db = embedis::Db::builder().clock(clock.clone()).build();
    /// let log = Policy::sliding_log(3, Duration::from_secs(10));
    /// db.rate_limit("k", &log, 1).unwrap();
    /// clock.advance(Duration::from_secs(4));
    /// db.rate_limit("k", &log, 2).unwrap();
    /// let d = db.rate_limit("k", &log, 1).unwrap();
    /// assert!(!d.allowed);
    /// // The first unit leaves the window 10 s after it was admitted.
    /// assert_eq!(d.retry_after, Some(6_000_000));
    /// ```
    pub fn sliding_log(limit: i64, window: Duration) -> Policy {
        Policy::SlidingLog {
            limit,
            window: micros(window),
        }
    }

    /// An approximate sliding window counter of `limit` units per `window`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use embedis::types::limiter::Policy;
    ///
    /// // Start at a window boundary (windows are aligned to the epoch).
    /// let clock = embedis::ManualClock::starting_at_micros(1_700_000_000_000_000);
    /// let db = embedis::Db::builder().clock(clock.clone()).build();
    /// let w = Policy::sliding_window(10, Duration::from_secs(10));
    /// assert_eq!(db.rate_limit("k", &w, 10).unwrap().remaining, 0);
    /// // Halfway through the next window the previous one still weighs half: 5 used.
    /// clock.advance(Duration::from_secs(15));
    /// assert_eq!(db.rate_limit_peek("k", &w, 1).unwrap().remaining, 5);
    /// ```
    pub fn sliding_window(limit: i64, window: Duration) -> Policy {
        Policy::SlidingWindow {
            limit,
            window: micros(window),
        }
    }

    /// A token bucket of `capacity` tokens refilled with `refill` tokens per `interval`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use embedis::types::limiter::Policy;
    ///
    /// let clock = embedis::ManualClock::starting_at_micros(1_700_000_000_000_000);
    /// let db = embedis::Db::builder().clock(clock.clone()).build();
    /// // Bursts of 10, then 2 per second.
    /// let bucket = Policy::token_bucket(10, 2, Duration::from_secs(1));
    /// assert_eq!(db.rate_limit("k", &bucket, 10).unwrap().remaining, 0);
    /// assert_eq!(db.rate_limit("k", &bucket, 1).unwrap().retry_after, Some(500_000));
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(db.rate_limit("k", &bucket, 1).unwrap().remaining, 1);
    /// ```
    pub fn token_bucket(capacity: i64, refill: i64, interval: Duration) -> Policy {
        Policy::TokenBucket {
            capacity,
            refill,
            interval: micros(interval),
        }
    }

    /// GCRA admitting `rate` units per `period` on average, in bursts of up to `burst`. The
    /// emission interval is `period / rate`, rounded down to a whole microsecond.
    ///
    /// ```
    /// use std::time::Duration;
    /// use embedis::types::limiter::Policy;
    ///
    /// let clock = embedis::ManualClock::starting_at_micros(1_700_000_000_000_000);
    /// let db = embedis::Db::builder().clock(clock.clone()).build();
    /// // 100 per minute on average, bursts of 5.
    /// let gcra = Policy::gcra(5, 100, Duration::from_secs(60));
    /// for _ in 0..5 {
    ///     assert!(db.rate_limit("k", &gcra, 1).unwrap().allowed);
    /// }
    /// let d = db.rate_limit("k", &gcra, 1).unwrap();
    /// assert_eq!(d.retry_after, Some(600_000)); // one emission interval: 0.6 s
    /// clock.advance(Duration::from_millis(600));
    /// assert!(db.rate_limit("k", &gcra, 1).unwrap().allowed);
    /// ```
    pub fn gcra(burst: i64, rate: i64, period: Duration) -> Policy {
        let emission = if rate > 0 { micros(period) / rate } else { 0 };
        Policy::Gcra { burst, emission }
    }

    /// Checks the parameters against the bounds in the module docs.
    pub fn validate(&self) -> Result<(), PolicyError> {
        match *self {
            Policy::FixedWindow { limit, window } | Policy::SlidingLog { limit, window } => {
                amount(limit, "limit")?;
                duration(window, "window")
            }
            Policy::SlidingWindow { limit, window } => {
                amount(limit, "limit")?;
                duration(window, "window")?;
                if window % 1000 != 0 {
                    return Err(PolicyError::NotWholeMillis);
                }
                if limit
                    .checked_mul(window / 1000)
                    .is_none_or(|p| p >= MAX_EXACT / 2)
                {
                    return Err(PolicyError::TooLarge("limit x window (ms)"));
                }
                Ok(())
            }
            Policy::TokenBucket {
                capacity,
                refill,
                interval,
            } => {
                amount(capacity, "capacity")?;
                amount(refill, "refill")?;
                duration(interval, "interval")?;
                if capacity
                    .checked_mul(interval)
                    .is_none_or(|p| p > MAX_EXACT / 2)
                {
                    return Err(PolicyError::TooLarge("capacity x interval (µs)"));
                }
                Ok(())
            }
            Policy::Gcra { burst, emission } => {
                amount(burst, "burst")?;
                duration(emission, "emission interval")?;
                if burst
                    .checked_mul(emission)
                    .is_none_or(|p| p > MAX_EXACT / 2)
                {
                    return Err(PolicyError::TooLarge("burst x emission interval (µs)"));
                }
                Ok(())
            }
        }
    }

    /// The algorithm's number in the Lua scripts' arguments.
    pub fn code(&self) -> i64 {
        match self {
            Policy::FixedWindow { .. } => 1,
            Policy::SlidingLog { .. } => 2,
            Policy::SlidingWindow { .. } => 3,
            Policy::TokenBucket { .. } => 4,
            Policy::Gcra { .. } => 5,
        }
    }

    /// The three numeric parameters the Lua scripts receive after the code (unused ones 0).
    pub fn params(&self) -> [i64; 3] {
        match *self {
            Policy::FixedWindow { limit, window }
            | Policy::SlidingLog { limit, window }
            | Policy::SlidingWindow { limit, window } => [limit, window, 0],
            Policy::TokenBucket {
                capacity,
                refill,
                interval,
            } => [capacity, refill, interval],
            Policy::Gcra { burst, emission } => [burst, emission, 0],
        }
    }

    /// The inverse of [`code`](Policy::code) and [`params`](Policy::params).
    pub fn from_code(code: i64, p: [i64; 3]) -> Option<Policy> {
        Some(match code {
            1 => Policy::FixedWindow {
                limit: p[0],
                window: p[1],
            },
            2 => Policy::SlidingLog {
                limit: p[0],
                window: p[1],
            },
            3 => Policy::SlidingWindow {
                limit: p[0],
                window: p[1],
            },
            4 => Policy::TokenBucket {
                capacity: p[0],
                refill: p[1],
                interval: p[2],
            },
            5 => Policy::Gcra {
                burst: p[0],
                emission: p[1],
            },
            _ => return None,
        })
    }

    /// The reported limit: the most units a request can ever be admitted with.
    pub fn limit(&self) -> i64 {
        match *self {
            Policy::FixedWindow { limit, .. }
            | Policy::SlidingLog { limit, .. }
            | Policy::SlidingWindow { limit, .. } => limit,
            Policy::TokenBucket { capacity, .. } => capacity,
            Policy::Gcra { burst, .. } => burst,
        }
    }

    /// The window a client should assume for quota headers (`w` in `RateLimit-Policy`): the
    /// window, or the time to refill from empty for the bucket algorithms.
    pub fn window(&self) -> Micros {
        match *self {
            Policy::FixedWindow { window, .. }
            | Policy::SlidingLog { window, .. }
            | Policy::SlidingWindow { window, .. } => window,
            Policy::TokenBucket {
                capacity,
                refill,
                interval,
            } => ceil_div(capacity.saturating_mul(interval), refill),
            Policy::Gcra { burst, emission } => burst.saturating_mul(emission),
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request is (or, for a peek, would be) admitted.
    pub allowed: bool,
    /// The policy's limit ([`Policy::limit`]).
    pub limit: i64,
    /// Units left: after this request when it was charged, else before it.
    pub remaining: i64,
    /// Time until the state is back to empty (full quota available).
    pub reset_after: Micros,
    /// When rejected: time until a request of the same cost could be admitted (assuming no
    /// other traffic). `None` when allowed, or when the cost exceeds the limit and no wait
    /// will ever admit it.
    pub retry_after: Option<Micros>,
}

/// The stored state of one policy for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// Fixed window: the window's start and the units admitted in it.
    FixedWindow {
        /// Start of the window (a multiple of the window length).
        start: Micros,
        /// Units admitted in that window.
        count: i64,
    },
    /// Sliding log: admitted units by time, oldest first (one entry per timestamp).
    SlidingLog(Vec<(Micros, i64)>),
    /// Sliding window counter: the current window's start, the previous and current counts.
    SlidingWindow {
        /// Start of the current window.
        start: Micros,
        /// Units admitted in the window before it.
        prev: i64,
        /// Units admitted in this window.
        curr: i64,
    },
    /// Token bucket: the level in units of `1/interval` token-microseconds (one token is
    /// `interval` units) and the time it was measured.
    TokenBucket {
        /// Tokens times `interval`.
        level: i64,
        /// When `level` was measured.
        last: Micros,
    },
    /// GCRA: the theoretical arrival time.
    Gcra {
        /// Theoretical arrival time.
        tat: Micros,
    },
}

/// What [`evaluate`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The decision.
    pub decision: Decision,
    /// The state to store: only for an admitted, charged request.
    pub state: Option<State>,
    /// From this time on the stored state decides like no state (the key may expire then).
    pub expire_at: Micros,
}

/// The stored state belongs to another algorithm than the policy's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateMismatch;

/// Decides one request of `cost` units at `now` under `policy`, given the stored state.
///
/// `policy`, `cost` and `now` must have passed [`Policy::validate`], [`validate_cost`] and
/// [`validate_now`]; with other values the arithmetic may overflow (it saturates or wraps,
/// never panics, but the decision is meaningless).
pub fn evaluate(
    policy: &Policy,
    state: Option<&State>,
    now: Micros,
    cost: i64,
    charge: bool,
) -> Result<Evaluation, StateMismatch> {
    match *policy {
        Policy::FixedWindow { limit, window } => {
            let prev = match state {
                None => None,
                Some(&State::FixedWindow { start, count }) => Some((start, count)),
                Some(_) => return Err(StateMismatch),
            };
            Ok(fixed_window::evaluate(
                limit, window, prev, now, cost, charge,
            ))
        }
        Policy::SlidingLog { limit, window } => {
            let entries: &[(Micros, i64)] = match state {
                None => &[],
                Some(State::SlidingLog(e)) => e,
                Some(_) => return Err(StateMismatch),
            };
            Ok(sliding_log::evaluate(
                limit, window, entries, now, cost, charge,
            ))
        }
        Policy::SlidingWindow { limit, window } => {
            let prev = match state {
                None => None,
                Some(&State::SlidingWindow { start, prev, curr }) => Some((start, prev, curr)),
                Some(_) => return Err(StateMismatch),
            };
            Ok(sliding_window::evaluate(
                limit, window, prev, now, cost, charge,
            ))
        }
        Policy::TokenBucket {
            capacity,
            refill,
            interval,
        } => {
            let prev = match state {
                None => None,
                Some(&State::TokenBucket { level, last }) => Some((level, last)),
                Some(_) => return Err(StateMismatch),
            };
            Ok(token_bucket::evaluate(
                capacity, refill, interval, prev, now, cost, charge,
            ))
        }
        Policy::Gcra { burst, emission } => {
            let tat = match state {
                None => None,
                Some(&State::Gcra { tat }) => Some(tat),
                Some(_) => return Err(StateMismatch),
            };
            Ok(gcra::evaluate(burst, emission, tat, now, cost, charge))
        }
    }
}

/// Floor division for `b > 0` (what Lua's `math.floor(a / b)` means, computed exactly).
#[inline]
pub fn floor_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b)
}

/// Ceiling division for `b > 0`.
#[inline]
pub fn ceil_div(a: i64, b: i64) -> i64 {
    -(-a).div_euclid(b)
}

// ---------------------------------------------------------------------------------------
// Storage encoding
//
// Small states are stored as text, the same text the Lua scripts store, so that `GET key`
// shows them and a key written by the engine commands can be read by the scripts: GCRA as
// the integer TAT, the fixed window as `start:count`, the sliding window counter as
// `start:prev:curr`, the token bucket as `level:last`. The sliding log is a binary string
// natively (the scripts use a sorted set): a tag byte then (time, units) pairs as 16
// little-endian bytes.

const LOG_TAG: u8 = 0xF4;

fn parse_fields<const N: usize>(b: &[u8]) -> Option<[i64; N]> {
    let mut out = [0i64; N];
    let mut parts = b.split(|&c| c == b':');
    for slot in out.iter_mut() {
        *slot = crate::num::parse_i64(parts.next()?)?;
    }
    parts.next().is_none().then_some(out)
}

/// Reads a stored state for `policy` from a string value; `None` if the bytes are not that
/// algorithm's state.
pub fn decode_state(policy: &Policy, b: &[u8]) -> Option<State> {
    match policy {
        Policy::Gcra { .. } => crate::num::parse_i64(b).map(|tat| State::Gcra { tat }),
        Policy::FixedWindow { .. } => {
            parse_fields::<2>(b).map(|[start, count]| State::FixedWindow { start, count })
        }
        Policy::SlidingWindow { .. } => parse_fields::<3>(b)
            .map(|[start, prev, curr]| State::SlidingWindow { start, prev, curr }),
        Policy::TokenBucket { .. } => {
            parse_fields::<2>(b).map(|[level, last]| State::TokenBucket { level, last })
        }
        Policy::SlidingLog { .. } => {
            let (&tag, rest) = b.split_first()?;
            if tag != LOG_TAG || rest.len() % 16 != 0 {
                return None;
            }
            let entries = rest
                .chunks_exact(16)
                .map(|c| {
                    let (t, n) = c.split_at(8);
                    (
                        i64::from_le_bytes(t.try_into().expect("8 bytes")),
                        i64::from_le_bytes(n.try_into().expect("8 bytes")),
                    )
                })
                .collect();
            Some(State::SlidingLog(entries))
        }
    }
}

/// Writes `state` into `out` (cleared first) in the format [`decode_state`] reads.
pub fn encode_state(state: &State, out: &mut Vec<u8>) {
    out.clear();
    let num = |out: &mut Vec<u8>, n: i64| {
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    };
    match state {
        State::Gcra { tat } => num(out, *tat),
        State::FixedWindow { start, count } => {
            num(out, *start);
            out.push(b':');
            num(out, *count);
        }
        State::SlidingWindow { start, prev, curr } => {
            num(out, *start);
            out.push(b':');
            num(out, *prev);
            out.push(b':');
            num(out, *curr);
        }
        State::TokenBucket { level, last } => {
            num(out, *level);
            out.push(b':');
            num(out, *last);
        }
        State::SlidingLog(entries) => {
            out.reserve(1 + entries.len() * 16);
            out.push(LOG_TAG);
            for (t, n) in entries {
                out.extend_from_slice(&t.to_le_bytes());
                out.extend_from_slice(&n.to_le_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests;
