//! redis-cell's GCRA, reproduced for a compatible `CL.THROTTLE`.
//!
//! redis-cell computes in nanoseconds with the `time` crate and rounds its replies in a
//! particular way; this module follows it step by step so that, given the same stored value
//! and the same `now`, the reply and the stored value are identical:
//!
//! - the emission interval is `(period_ns as f64 / count as f64) as i64` nanoseconds, and
//!   zero (count or period zero) is refused with "Zero rates are not supported";
//! - the tolerance is `emission * (max_burst + 1)` and the reported limit `max_burst + 1`
//!   (64-bit wrapping, as redis-cell's release build);
//! - the stored value is the TAT in Unix nanoseconds as decimal text, with a TTL of
//!   `new_tat - now` truncated to milliseconds; a stored `-1` counts as missing;
//! - `remaining` divides whole microseconds as doubles; `retry_after` and `reset_after` are
//!   whole seconds, plus one when at least one whole millisecond remains (so 1.0009 s is 1);
//!   `retry_after` stays -1 when allowed or when the request is larger than the tolerance.
//!
//! Times are `i128` nanoseconds here, as `time::Duration` and `OffsetDateTime` hold them,
//! so nothing overflows where redis-cell's values do not.

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// The five integers `CL.THROTTLE` replies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellReply {
    /// 1 when the request is limited.
    pub limited: bool,
    /// `max_burst + 1`.
    pub limit: i64,
    /// Units left.
    pub remaining: i64,
    /// Seconds until a retry can succeed, -1 when allowed.
    pub retry_after: i64,
    /// Seconds until the limit is fully reset.
    pub reset_after: i64,
}

/// What the command must do to the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellWrite {
    /// Nothing.
    None,
    /// Store `tat` (decimal) then apply `ttl_ms` like `RedisModule_SetExpire`.
    Set {
        /// The new TAT in Unix nanoseconds.
        tat: i64,
        /// The TTL in milliseconds (see [`ttl_effect`]).
        ttl_ms: i64,
    },
    /// Only apply `ttl_ms` to the existing key (the stored `-1` case).
    Expire {
        /// The TTL in milliseconds.
        ttl_ms: i64,
    },
}

/// Errors redis-cell replies with once the arguments are parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellError {
    /// `Zero rates are not supported`.
    ZeroRate,
    /// `Failed to update rate limit after 5 attempts` (a stored `-1` that is admitted).
    CasExhausted,
    /// `Error while setting key expire` (a negative TTL other than -1).
    ExpireFailed,
}

/// What `RedisModule_SetExpire(key, ttl_ms)` does: `Some(None)` removes the TTL (-1),
/// `Some(Some(ms))` sets it `ms` from now, `None` is its error (any other negative value).
pub fn ttl_effect(ttl_ms: i64) -> Option<Option<i64>> {
    match ttl_ms {
        -1 => Some(None),
        ms if ms >= 0 => Some(Some(ms)),
        _ => None,
    }
}

/// The result of one `CL.THROTTLE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellOutcome {
    /// The reply, or the error to reply with.
    pub reply: Result<CellReply, CellError>,
    /// The key change, applied before replying (also when the reply is an error).
    pub write: CellWrite,
}

fn whole_seconds_rounded_up(ns: i128) -> i64 {
    let mut s = (ns / NANOS_PER_SEC) as i64;
    if (ns % NANOS_PER_SEC) / 1_000_000 > 0 {
        s += 1;
    }
    s
}

/// One `CL.THROTTLE key max_burst count period quantity` at `now_ns`. `stored` is the key's
/// parsed value (`None` if the key is missing); `-1` counts as missing, as in redis-cell.
pub fn throttle(
    stored: Option<i64>,
    now_ns: i128,
    max_burst: i64,
    count: i64,
    period: i64,
    quantity: i64,
) -> CellOutcome {
    let period_ns = (period as i128 * NANOS_PER_SEC) as i64;
    let emission: i64 = if count == 0 || period_ns == 0 {
        0
    } else {
        (period_ns as f64 / count as f64) as i64
    };
    let tolerance = emission.wrapping_mul(max_burst.wrapping_add(1)) as i128;
    let limit = max_burst.wrapping_add(1);
    let fail = |e| CellOutcome {
        reply: Err(e),
        write: CellWrite::None,
    };
    if emission == 0 {
        return fail(CellError::ZeroRate);
    }
    let increment = emission.wrapping_mul(quantity) as i128;
    let tat_val = stored.unwrap_or(-1);
    let now = now_ns;
    let tat = if tat_val == -1 { now } else { tat_val as i128 };
    let new_tat = if now > tat {
        now + increment
    } else {
        tat + increment
    };
    let allow_at = new_tat - tolerance;
    let diff = now - allow_at;
    let mut retry_after: i128 = -NANOS_PER_SEC;
    let (limited, ttl, write) = if diff < 0 {
        if increment <= tolerance {
            retry_after = -diff;
        }
        (true, tat - now, CellWrite::None)
    } else {
        let ttl = new_tat - now;
        let ttl_ms = (ttl / 1_000_000) as i64;
        if tat_val == -1 && stored.is_some() {
            // set_if_not_exists fails on the existing key (after setting its TTL) on every
            // attempt, until redis-cell gives up.
            let reply = if ttl_effect(ttl_ms).is_none() {
                Err(CellError::ExpireFailed)
            } else {
                Err(CellError::CasExhausted)
            };
            return CellOutcome {
                reply,
                write: CellWrite::Expire { ttl_ms },
            };
        }
        let write = CellWrite::Set {
            tat: new_tat as i64,
            ttl_ms,
        };
        if ttl_effect(ttl_ms).is_none() {
            return CellOutcome {
                reply: Err(CellError::ExpireFailed),
                write,
            };
        }
        (false, ttl, write)
    };
    let next = tolerance - ttl;
    let remaining = if next > -(emission as i128) {
        ((next / 1000) as f64 / (emission as i128 / 1000) as f64) as i64
    } else {
        0
    };
    CellOutcome {
        reply: Ok(CellReply {
            limited,
            limit,
            remaining,
            retry_after: whole_seconds_rounded_up(retry_after),
            reset_after: whole_seconds_rounded_up(ttl),
        }),
        write,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i128 = NANOS_PER_SEC;
    const MS: i128 = 1_000_000;

    /// Runs a sequence through `throttle`, storing like the command does, and checks
    /// (limited, remaining, reset_after ns, retry_after ns) like redis-cell's own
    /// `it_rate_limits` test (limit 5, one per second), at the durations' second rounding.
    #[test]
    fn redis_cell_reference_sequence() {
        let start: i128 = 1_700_000_000 * S;
        let mut stored: Option<i64> = None;
        // (now offset, quantity, limited, remaining, reset_after s, retry_after s)
        let cases: &[(i128, i64, bool, i64, i64, i64)] = &[
            (0, 6, true, 5, 0, -1),
            (0, 1, false, 4, 1, -1),
            (0, 1, false, 3, 2, -1),
            (0, 1, false, 2, 3, -1),
            (0, 1, false, 1, 4, -1),
            (0, 1, false, 0, 5, -1),
            (0, 1, true, 0, 5, 1),
            (3000 * MS, 1, false, 2, 3, -1),
            (3100 * MS, 1, false, 1, 4, -1), // 3.9 s rounds up
            (4000 * MS, 1, false, 1, 4, -1),
            (8000 * MS, 1, false, 4, 1, -1),
            (9500 * MS, 1, false, 4, 1, -1),
            (9500 * MS, 0, false, 4, 1, -1),
            (9500 * MS, 2, false, 2, 3, -1),
            (9500 * MS, 5, true, 2, 3, 3),
        ];
        for (i, &(at, q, limited, remaining, reset, retry)) in cases.iter().enumerate() {
            let out = throttle(stored, start + at, 4, 1, 1, q);
            let r = out.reply.unwrap();
            assert_eq!(
                (
                    r.limited,
                    r.limit,
                    r.remaining,
                    r.reset_after,
                    r.retry_after
                ),
                (limited, 5, remaining, reset, retry),
                "case {i}"
            );
            if let CellWrite::Set { tat, .. } = out.write {
                stored = Some(tat);
            }
        }
    }

    #[test]
    fn readme_example_and_errors() {
        let now = 1_700_000_000 * S;
        let r = throttle(None, now, 15, 30, 60, 1).reply.unwrap();
        assert_eq!(
            (
                r.limited,
                r.limit,
                r.remaining,
                r.retry_after,
                r.reset_after
            ),
            (false, 16, 15, -1, 2)
        );
        assert_eq!(
            throttle(None, now, 15, 0, 60, 1).reply,
            Err(CellError::ZeroRate)
        );
        // A negative quantity makes a negative TTL: written, then the expire fails.
        let out = throttle(None, now, 5, 5, 60, -1);
        assert_eq!(out.reply, Err(CellError::ExpireFailed));
        assert!(matches!(out.write, CellWrite::Set { ttl_ms: -12000, .. }));
        // A stored -1 counts as missing but blocks the insert.
        let out = throttle(Some(-1), now, 5, 5, 60, 1);
        assert_eq!(out.reply, Err(CellError::CasExhausted));
        assert_eq!(out.write, CellWrite::Expire { ttl_ms: 12000 });
    }
}
