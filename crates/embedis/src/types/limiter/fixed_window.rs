//! Fixed window: windows aligned to multiples of the window length since the Unix epoch.

use super::{Decision, Evaluation, Micros, State, floor_div};

pub(super) fn evaluate(
    limit: i64,
    window: Micros,
    prev: Option<(Micros, i64)>,
    now: Micros,
    cost: i64,
    charge: bool,
) -> Evaluation {
    let start = floor_div(now, window) * window;
    let end = start + window;
    // A count from any other window (older, or from another window length) is spent.
    let count = match prev {
        Some((s, c)) if s == start => c,
        _ => 0,
    };
    let allowed = cost <= limit && count + cost <= limit;
    let retry_after = match (allowed, cost <= limit) {
        (true, _) | (false, false) => None,
        (false, true) => Some(end - now),
    };
    let charged = allowed && charge;
    let used = if charged { count + cost } else { count };
    Evaluation {
        decision: Decision {
            allowed,
            limit,
            remaining: (limit - used).max(0),
            reset_after: if used > 0 { end - now } else { 0 },
            retry_after,
        },
        state: charged.then_some(State::FixedWindow { start, count: used }),
        expire_at: end,
    }
}
