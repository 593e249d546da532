//! Sliding log: every admitted unit is remembered with its time; a unit counts while
//! `now - window < time`. Exact, O(limit) memory.

use super::{Decision, Evaluation, Micros, State};

pub(super) fn evaluate(
    limit: i64,
    window: Micros,
    entries: &[(Micros, i64)],
    now: Micros,
    cost: i64,
    charge: bool,
) -> Evaluation {
    let cutoff = now - window;
    let live_from = entries.partition_point(|&(t, _)| t <= cutoff);
    let live = &entries[live_from..];
    let used: i64 = live.iter().map(|&(_, n)| n).sum();
    let (allowed, retry_after) = if cost > limit {
        (false, None)
    } else if used + cost <= limit {
        (true, None)
    } else {
        // Wait until the oldest `need` units have left the window.
        let need = used + cost - limit;
        let mut acc = 0;
        let mut at = now;
        for &(t, n) in live {
            acc += n;
            if acc >= need {
                at = t;
                break;
            }
        }
        (false, Some(at + window - now))
    };
    let charged = allowed && charge;
    let mut kept: Option<Vec<(Micros, i64)>> = None;
    if charged {
        let mut v = live.to_vec();
        if cost > 0 {
            // Sorted by time, one entry per time: like the sorted set the scripts keep, even
            // if the clock stepped back.
            match v.binary_search_by_key(&now, |&(t, _)| t) {
                Ok(i) => v[i].1 += cost,
                Err(i) => v.insert(i, (now, cost)),
            }
        }
        kept = Some(v);
    }
    let after: &[(Micros, i64)] = kept.as_deref().unwrap_or(live);
    let used_after: i64 = if charged { used + cost } else { used };
    let last = after.last().map(|&(t, _)| t);
    Evaluation {
        decision: Decision {
            allowed,
            limit,
            remaining: (limit - used_after).max(0),
            reset_after: last.map_or(0, |t| (t + window - now).max(0)),
            retry_after,
        },
        expire_at: last.map_or(now, |t| t + window),
        state: kept.map(State::SlidingLog),
    }
}
