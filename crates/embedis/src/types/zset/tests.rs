//! Both encodings against a sorted Vec reference, op by op.

use super::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const ALL_LISTPACK: Limits = Limits {
    max_listpack_entries: usize::MAX,
    max_listpack_value: usize::MAX,
};
const ALL_SKIPLIST: Limits = Limits {
    max_listpack_entries: 0,
    max_listpack_value: 0,
};

type Model = Vec<(Vec<u8>, f64)>;

fn model_insert(model: &mut Model, m: &[u8], s: f64) {
    model.retain(|(x, _)| x != m);
    let at = model.partition_point(|(rm, rs)| cmp_entry(*rs, rm, s, m).is_lt());
    model.insert(at, (m.to_vec(), s));
}

fn collect(it: Iter<'_>) -> Model {
    it.map(|(m, s)| (m.to_vec(), s)).collect()
}

/// Reference first/last in range, as Redis computes them on a listpack.
fn model_first(model: &Model, r: &impl RangeSpec) -> Option<usize> {
    let (fm, fs) = model.first()?;
    let (lm, ls) = model.last()?;
    if r.is_empty() || !r.gte_min(*ls, lm) || !r.lte_max(*fs, fm) {
        return None;
    }
    let i = model.iter().position(|(m, s)| r.gte_min(*s, m))?;
    r.lte_max(model[i].1, &model[i].0).then_some(i)
}

fn check(z: &ZSet, model: &Model, rng: &mut SmallRng) {
    assert_eq!(z.len(), model.len());
    assert_eq!(&collect(z.iter()), model);
    let mut rev = model.clone();
    rev.reverse();
    assert_eq!(
        collect(z.iter_from(model.len().saturating_sub(1), true)),
        rev
    );
    for (i, (m, s)) in model.iter().enumerate() {
        assert_eq!(z.rank(m), Some(i));
        assert_eq!(z.score(m), Some(*s));
        assert_eq!(z.get(i), Some((m.as_slice(), *s)));
    }
    assert_eq!(z.get(model.len()), None);
    let start = rng.random_range(0..model.len() + 2);
    assert_eq!(
        collect(z.iter_from(start, false)),
        model.get(start..).unwrap_or(&[]).to_vec()
    );
    let back: Model = model.iter().take(start + 1).rev().cloned().collect();
    let expect_back = if start < model.len() {
        back
    } else {
        Vec::new()
    };
    assert_eq!(collect(z.iter_from(start, true)), expect_back);
    // Score ranges with every open/closed combination.
    for _ in 0..4 {
        let r = ScoreRange {
            min: rng.random_range(-4..5) as f64 * 0.5,
            max: rng.random_range(-4..5) as f64 * 0.5,
            min_exclusive: rng.random(),
            max_exclusive: rng.random(),
        };
        let inside: Vec<usize> = (0..model.len())
            .filter(|&i| r.gte_min(model[i].1, &[]) && r.lte_max(model[i].1, &[]))
            .collect();
        assert_eq!(z.first_in(&r), inside.first().copied());
        assert_eq!(z.last_in(&r), inside.last().copied());
        assert_eq!(z.count_in(&r), inside.len() as i64);
        assert_eq!(z.first_in(&r), model_first(model, &r));
    }
}

#[test]
fn encodings_agree_with_a_sorted_vec() {
    let mut rng = SmallRng::seed_from_u64(5);
    for _ in 0..30 {
        let mut lp = ZSet::for_first_member(1, &ALL_LISTPACK);
        let mut sl = ZSet::for_first_member(1, &ALL_SKIPLIST);
        assert_eq!(lp.encoding(), "listpack");
        assert_eq!(sl.encoding(), "skiplist");
        let mut model: Model = Vec::new();
        for _ in 0..200 {
            let m = format!("m{}", rng.random_range(0..40)).into_bytes();
            let s = rng.random_range(-4..5) as f64 * 0.5;
            match rng.random_range(0..12) {
                0..=5 => {
                    let flags = AddFlags {
                        incr: rng.random_bool(0.2),
                        ..AddFlags::default()
                    };
                    let a = lp.add(s, &m, flags, &ALL_LISTPACK);
                    let b = sl.add(s, &m, flags, &ALL_SKIPLIST);
                    assert_eq!(a, b);
                    let old = model.iter().find(|(x, _)| *x == m).map(|(_, s)| *s);
                    let new = if flags.incr {
                        s + old.unwrap_or(0.0)
                    } else {
                        s
                    };
                    model_insert(&mut model, &m, new);
                }
                6..=7 => {
                    let had = model.iter().any(|(x, _)| *x == m);
                    assert_eq!(lp.remove(&m), had);
                    assert_eq!(sl.remove(&m), had);
                    model.retain(|(x, _)| *x != m);
                }
                8 => {
                    let max = rng.random();
                    let expect = if max {
                        model.pop()
                    } else if model.is_empty() {
                        None
                    } else {
                        Some(model.remove(0))
                    };
                    assert_eq!(lp.pop(max), expect);
                    assert_eq!(sl.pop(max), expect);
                }
                9 => {
                    let a = rng.random_range(0..model.len() + 1);
                    let b = rng.random_range(0..model.len() + 2);
                    let n = lp.remove_rank_range(a, b);
                    assert_eq!(sl.remove_rank_range(a, b), n);
                    let expect = if a <= b && a < model.len() {
                        b.min(model.len() - 1) + 1 - a
                    } else {
                        0
                    };
                    assert_eq!(n, expect);
                    if n > 0 {
                        model.drain(a..a + n);
                    }
                }
                _ => {
                    let r = ScoreRange {
                        min: rng.random_range(-4..5) as f64 * 0.5,
                        max: rng.random_range(-4..5) as f64 * 0.5,
                        min_exclusive: rng.random(),
                        max_exclusive: rng.random(),
                    };
                    let n = lp.remove_in(&r);
                    assert_eq!(sl.remove_in(&r), n);
                    let before = model.len();
                    model.retain(|(_, s)| !(r.gte_min(*s, &[]) && r.lte_max(*s, &[])));
                    assert_eq!(before - model.len(), n);
                }
            }
            check(&lp, &model, &mut rng);
            check(&sl, &model, &mut rng);
            assert!(lp == sl);
        }
    }
}

#[test]
fn add_flags_follow_zadd() {
    let l = Limits::default();
    let mut z = ZSet::for_first_member(1, &l);
    let f = |nx, xx, gt, lt, incr| AddFlags {
        nx,
        xx,
        gt,
        lt,
        incr,
    };
    assert_eq!(
        z.add(1.0, b"a", f(false, true, false, false, false), &l),
        AddOutcome::Skipped
    );
    assert_eq!(
        z.add(1.0, b"a", f(false, false, true, false, false), &l),
        AddOutcome::Added(1.0)
    );
    assert_eq!(
        z.add(5.0, b"a", f(true, false, false, false, false), &l),
        AddOutcome::Skipped
    );
    assert_eq!(
        z.add(0.0, b"a", f(false, false, true, false, false), &l),
        AddOutcome::Skipped
    );
    assert_eq!(
        z.add(2.0, b"a", f(false, false, true, false, false), &l),
        AddOutcome::Updated(2.0)
    );
    assert_eq!(
        z.add(3.0, b"a", f(false, false, false, true, false), &l),
        AddOutcome::Skipped
    );
    assert_eq!(
        z.add(-1.0, b"a", f(false, false, false, true, true), &l),
        AddOutcome::Updated(1.0)
    );
    assert_eq!(
        z.add(1.0, b"a", f(false, false, false, false, false), &l),
        AddOutcome::Unchanged(1.0)
    );
    assert_eq!(
        z.add(
            f64::INFINITY,
            b"b",
            f(false, false, false, false, false),
            &l
        ),
        AddOutcome::Added(f64::INFINITY)
    );
    assert_eq!(
        z.add(
            f64::NEG_INFINITY,
            b"b",
            f(false, false, false, false, true),
            &l
        ),
        AddOutcome::NotANumber
    );
    assert_eq!(
        z.add(f64::NAN, b"c", AddFlags::default(), &l),
        AddOutcome::NotANumber
    );
    assert_eq!(z.len(), 2);
}

#[test]
fn converts_exactly_at_the_limits_and_never_back() {
    let l = Limits::default();
    let mut z = ZSet::for_first_member(1, &l);
    for i in 0..128 {
        z.set(i as f64, format!("m{i}").as_bytes(), &l);
    }
    assert_eq!(z.encoding(), "listpack");
    z.set(5.0, b"m5", &l);
    assert_eq!(z.encoding(), "listpack");
    z.set(1.0, b"m128", &l);
    assert_eq!(z.encoding(), "skiplist");
    z.remove_rank_range(0, 120);
    assert_eq!(z.encoding(), "skiplist");

    let mut z = ZSet::for_first_member(64, &l);
    z.set(1.0, &[b'x'; 64], &l);
    assert_eq!(z.encoding(), "listpack");
    z.set(1.0, &[b'y'; 65], &l);
    assert_eq!(z.encoding(), "skiplist");
    assert_eq!(ZSet::for_first_member(65, &l).encoding(), "skiplist");

    let long = vec![b'z'; 65];
    let entries = [(b"a".to_vec(), 1.0), (long, 2.0)];
    assert_eq!(ZSet::from_sorted(&entries, &l).encoding(), "skiplist");
    assert_eq!(ZSet::from_sorted(&entries[..1], &l).encoding(), "listpack");
}

#[test]
fn listpack_drops_the_sign_of_zero_and_skiplist_keeps_it() {
    let mut lp = ZSet::for_first_member(1, &ALL_LISTPACK);
    let mut sl = ZSet::for_first_member(1, &ALL_SKIPLIST);
    assert_eq!(
        lp.add(-0.0, b"a", AddFlags::default(), &ALL_LISTPACK),
        AddOutcome::Added(-0.0)
    );
    sl.set(-0.0, b"a", &ALL_SKIPLIST);
    assert!(lp.score(b"a").unwrap().is_sign_positive());
    assert!(sl.score(b"a").unwrap().is_sign_negative());
}

#[test]
fn scan_visits_every_member() {
    let l = Limits::default();
    let mut z = ZSet::for_first_member(1, &l);
    for i in 0..1000 {
        z.set(i as f64, format!("m{i}").as_bytes(), &l);
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = 0;
    let mut calls = 0;
    loop {
        cursor = z.scan(cursor, 10, |m, _| {
            seen.insert(m.to_vec());
        });
        calls += 1;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    assert!(calls > 50);
}

#[test]
fn lex_ranges() {
    let l = Limits::default();
    for limits in [ALL_LISTPACK, ALL_SKIPLIST] {
        let mut z = ZSet::for_first_member(1, &limits);
        for m in ["a", "b", "c", "d", "e"] {
            z.set(0.0, m.as_bytes(), &l);
        }
        let r = LexRange::parse(b"(b", b"[d").unwrap();
        assert_eq!(z.first_in(&r), Some(2));
        assert_eq!(z.last_in(&r), Some(3));
        assert_eq!(z.count_in(&r), 2);
        assert_eq!(z.count_in(&LexRange::all()), 5);
        assert_eq!(z.count_in(&LexRange::parse(b"+", b"-").unwrap()), 0);
        assert_eq!(z.remove_in(&r), 2);
        assert_eq!(collect(z.iter()).len(), 3);
    }
}
