//! GCRA: the state is the theoretical arrival time (TAT) of the next unit at the sustained
//! rate; a request is admitted when its TAT would be at most `burst` emission intervals
//! ahead of now.

use super::{Decision, Evaluation, Micros, State, floor_div};

pub(super) fn evaluate(
    burst: i64,
    emission: Micros,
    tat: Option<Micros>,
    now: Micros,
    cost: i64,
    charge: bool,
) -> Evaluation {
    let tolerance = emission * burst;
    // A TAT in the past means a full bucket: the same as no state.
    let tat = tat.unwrap_or(now).max(now);
    let (allowed, new_tat, retry_after) = if cost > burst {
        (false, tat, None)
    } else {
        let new_tat = tat + emission * cost;
        let allow_at = new_tat - tolerance;
        if now < allow_at {
            (false, tat, Some(allow_at - now))
        } else {
            (true, new_tat, None)
        }
    };
    let charged = allowed && charge;
    let after = if charged { new_tat } else { tat };
    let ttl = after - now;
    Evaluation {
        decision: Decision {
            allowed,
            limit: burst,
            remaining: floor_div(tolerance - ttl, emission).max(0),
            reset_after: ttl,
            retry_after,
        },
        state: charged.then_some(State::Gcra { tat: after }),
        expire_at: after,
    }
}
