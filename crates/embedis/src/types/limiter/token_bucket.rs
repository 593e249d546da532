//! Token bucket with continuous refill, in exact integers: the level is kept in units where
//! one token is `interval` units and the refill adds `refill` units per microsecond.

use super::{Decision, Evaluation, Micros, State, ceil_div, floor_div};

pub(super) fn evaluate(
    capacity: i64,
    refill: i64,
    interval: Micros,
    prev: Option<(i64, Micros)>,
    now: Micros,
    cost: i64,
    charge: bool,
) -> Evaluation {
    let full = capacity * interval;
    let level = match prev {
        None => full,
        Some((level, last)) => {
            // Clamped: the capacity may have changed since (a key moved to a smaller tier).
            let level = level.clamp(0, full);
            let elapsed = (now - last).max(0);
            let missing = full - level;
            if elapsed >= ceil_div(missing, refill) {
                full
            } else {
                // elapsed < ceil(missing / refill), so this stays below `full`.
                level + elapsed * refill
            }
        }
    };
    let (allowed, retry_after) = if cost > capacity {
        (false, None)
    } else {
        let need = cost * interval;
        if level >= need {
            (true, None)
        } else {
            (false, Some(ceil_div(need - level, refill)))
        }
    };
    let charged = allowed && charge;
    let after = if charged {
        level - cost * interval
    } else {
        level
    };
    let reset_after = ceil_div(full - after, refill);
    Evaluation {
        decision: Decision {
            allowed,
            limit: capacity,
            remaining: floor_div(after, interval),
            reset_after,
            retry_after,
        },
        state: charged.then_some(State::TokenBucket {
            level: after,
            last: now,
        }),
        expire_at: now + reset_after,
    }
}
