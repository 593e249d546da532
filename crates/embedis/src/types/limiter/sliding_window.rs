//! Sliding window counter (approximate): the count of the current aligned window plus the
//! previous window's count weighted by the part of it the sliding window still covers. The
//! weight moves in whole milliseconds: `elapsed` is `floor((now - start) / 1 ms)`.

use super::{Decision, Evaluation, Micros, State, ceil_div, floor_div};

/// Smallest elapsed time `e` (ms, `0..=w`) at which `floor(p * (w - e) / w) <= room`.
fn fits_at(p: i64, w: i64, room: i64) -> i64 {
    if p <= room {
        0
    } else {
        w - ceil_div((room + 1) * w, p) + 1
    }
}

pub(super) fn evaluate(
    limit: i64,
    window: Micros,
    prev: Option<(Micros, i64, i64)>,
    now: Micros,
    cost: i64,
    charge: bool,
) -> Evaluation {
    let start = floor_div(now, window) * window;
    let (p, c) = match prev {
        Some((s, p, c)) if s == start => (p, c),
        Some((s, _, c)) if s == start - window => (c, 0),
        _ => (0, 0),
    };
    // Clamped so that `p * w` stays exact (it only matters after a limit change).
    let p = p.min(limit);
    let w = window / 1000;
    let e = floor_div(now - start, 1000);
    let est = floor_div(p * (w - e), w) + c;
    let allowed = cost <= limit && est + cost <= limit;
    let retry_after = if allowed || cost > limit {
        None
    } else {
        let room = limit - c - cost;
        let in_this = if room >= 0 {
            let e2 = fits_at(p, w, room);
            (e2 < w).then(|| start + e2 * 1000 - now)
        } else {
            None
        };
        Some(in_this.unwrap_or_else(|| {
            let next = start + window;
            let e3 = fits_at(c.min(limit), w, limit - cost);
            if e3 < w {
                next + e3 * 1000 - now
            } else {
                next + window - now
            }
        }))
    };
    let charged = allowed && charge;
    let c_after = if charged { c + cost } else { c };
    let est_after = if charged { est + cost } else { est };
    let reset_after = if c_after > 0 {
        let e4 = fits_at(c_after.min(limit), w, 0);
        if e4 < w {
            start + window + e4 * 1000 - now
        } else {
            start + 2 * window - now
        }
    } else if p > 0 {
        let e5 = fits_at(p, w, 0);
        if e5 < w {
            (start + e5 * 1000 - now).max(0)
        } else {
            start + window - now
        }
    } else {
        0
    };
    Evaluation {
        decision: Decision {
            allowed,
            limit,
            remaining: (limit - est_after).max(0),
            reset_after,
            retry_after,
        },
        state: charged.then_some(State::SlidingWindow {
            start,
            prev: p,
            curr: c_after,
        }),
        expire_at: start + 2 * window,
    }
}
