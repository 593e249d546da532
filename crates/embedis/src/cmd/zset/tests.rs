//! Sorted set commands through `Db::call`: targeted cases, and a proptest of random command
//! sequences against a `BTreeMap` model.

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::{Db, Reply};

fn bulk(s: &str) -> Reply {
    Reply::bulk(s)
}

fn arr(v: Vec<Reply>) -> Reply {
    Reply::Array(v)
}

fn d(x: f64) -> Reply {
    Reply::Double(x)
}

fn call(db: &Db, line: &str) -> Reply {
    db.call(line.split_whitespace())
}

#[test]
fn zadd_and_reads() {
    let db = Db::new();
    assert_eq!(call(&db, "ZADD z 1 a 2 b 3 c"), Reply::Int(3));
    assert_eq!(call(&db, "ZADD z CH 1 a 5 b 4 d"), Reply::Int(2));
    assert_eq!(call(&db, "ZSCORE z b"), d(5.0));
    assert_eq!(call(&db, "ZRANK z d"), Reply::Int(2));
    assert_eq!(call(&db, "ZREVRANK z d"), Reply::Int(1));
    assert_eq!(call(&db, "ZRANK z nope"), Reply::Nil);
    assert_eq!(
        call(&db, "ZRANGE z 0 -1 WITHSCORES"),
        arr(vec![
            bulk("a"),
            d(1.0),
            bulk("c"),
            d(3.0),
            bulk("d"),
            d(4.0),
            bulk("b"),
            d(5.0)
        ])
    );
    assert_eq!(call(&db, "ZADD z INCR 2 a"), d(3.0));
    assert_eq!(call(&db, "ZADD z XX INCR 2 nope"), Reply::Nil);
    assert_eq!(call(&db, "ZINCRBY z -inf a"), d(f64::NEG_INFINITY));
    assert_eq!(
        text(&call(&db, "ZINCRBY z +inf a")),
        "ERR resulting score is not a number (NaN)"
    );
    assert_eq!(call(&db, "ZCARD z"), Reply::Int(4));
}

/// The text of an error reply (or the reply's debug form).
fn text(r: &Reply) -> String {
    match r {
        Reply::Error(e) => e.to_string(),
        other => format!("{other:?}"),
    }
}

#[test]
fn emptied_keys_are_deleted() {
    let db = Db::new();
    call(&db, "ZADD z 1 a 2 b");
    assert_eq!(call(&db, "ZREM z a b c"), Reply::Int(2));
    assert_eq!(call(&db, "EXISTS z"), Reply::Int(0));
    call(&db, "ZADD z 1 a 2 b");
    assert_eq!(
        call(&db, "ZPOPMIN z 5"),
        arr(vec![bulk("a"), d(1.0), bulk("b"), d(2.0)])
    );
    assert_eq!(call(&db, "EXISTS z"), Reply::Int(0));
    call(&db, "ZADD z 1 a 2 b");
    assert_eq!(call(&db, "ZREMRANGEBYSCORE z -inf +inf"), Reply::Int(2));
    assert_eq!(call(&db, "EXISTS z"), Reply::Int(0));
    call(&db, "ZADD z 1 a");
    call(&db, "ZADD dst 1 x");
    assert_eq!(call(&db, "ZINTERSTORE dst 2 z missing"), Reply::Int(0));
    assert_eq!(call(&db, "EXISTS dst"), Reply::Int(0));
}

#[test]
fn setops_and_nan_weights() {
    let db = Db::new();
    call(&db, "ZADD a inf x -inf y 0 z");
    call(&db, "ZADD b 0 x 0 y inf z");
    assert_eq!(
        call(&db, "ZUNION 2 a b WEIGHTS 0 1 WITHSCORES"),
        arr(vec![
            bulk("x"),
            d(0.0),
            bulk("y"),
            d(0.0),
            bulk("z"),
            d(f64::INFINITY)
        ])
    );
    assert_eq!(call(&db, "ZINTERCARD 2 a b LIMIT 2"), Reply::Int(2));
    assert_eq!(call(&db, "ZUNIONSTORE u 2 a b"), Reply::Int(3));
    assert_eq!(call(&db, "ZDIFF 2 a a"), arr(vec![]));
}

#[test]
fn resp3_pairs() {
    let db = Db::new();
    let mut s = db.session();
    let run = |s: &mut crate::Session, line: &str| {
        let args: Vec<bytes::Bytes> = line
            .split_whitespace()
            .map(|a| bytes::Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        s.execute(&args)
    };
    run(&mut s, "ZADD z 1 a 2 b");
    s.state.resp = 3;
    assert_eq!(
        run(&mut s, "ZRANGE z 0 -1 WITHSCORES"),
        arr(vec![
            arr(vec![bulk("a"), d(1.0)]),
            arr(vec![bulk("b"), d(2.0)])
        ])
    );
    assert_eq!(run(&mut s, "ZPOPMIN z"), arr(vec![bulk("a"), d(1.0)]));
    assert_eq!(
        run(&mut s, "ZPOPMIN z 1"),
        arr(vec![arr(vec![bulk("b"), d(2.0)])])
    );
    assert_eq!(run(&mut s, "ZMPOP 1 z MIN"), Reply::NilArray);
}

#[test]
fn big_sets_switch_encoding_and_stay_consistent() {
    let db = Db::new();
    let mut args = vec!["ZADD".to_string(), "z".to_string()];
    // Scores 0..1000 inserted in a scrambled order; member m<i> has score i.
    for j in 0..1000 {
        let i = (j * 7919) % 1000;
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    assert_eq!(db.call(&args), Reply::Int(1000));
    assert_eq!(call(&db, "ZCOUNT z 100 (200"), Reply::Int(100));
    assert_eq!(call(&db, "ZRANGE z 500 500"), arr(vec![bulk("m500")]));
    assert_eq!(call(&db, "ZRANK z m999"), Reply::Int(999));
    assert_eq!(call(&db, "ZREMRANGEBYRANK z 0 499"), Reply::Int(500));
    assert_eq!(call(&db, "ZRANK z m999"), Reply::Int(499));
    // A full scan sees every member exactly once when nothing changes.
    let mut cursor = "0".to_string();
    let mut seen = std::collections::HashSet::new();
    loop {
        let Reply::Array(parts) = db.call(["ZSCAN", "z", &cursor, "COUNT", "7"]) else {
            panic!("scan reply")
        };
        let (Reply::Bulk(c), Reply::Array(items)) = (&parts[0], &parts[1]) else {
            panic!("scan parts")
        };
        for pair in items.chunks(2) {
            let Reply::Bulk(m) = &pair[0] else { panic!() };
            assert!(seen.insert(m.clone()));
        }
        cursor = String::from_utf8(c.to_vec()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 500);
}

// ---------------------------------------------------------------------------------------
// Model test

type Set = BTreeMap<Vec<u8>, f64>;
type Model = BTreeMap<&'static str, Set>;

const KEYS: [&str; 3] = ["k1", "k2", "k3"];

#[derive(Debug, Clone)]
enum Op {
    Add {
        key: usize,
        flag: u8,
        ch: bool,
        pairs: Vec<(i8, u8)>,
    },
    Incr {
        key: usize,
        by: i8,
        member: u8,
    },
    Rem {
        key: usize,
        members: Vec<u8>,
    },
    Pop {
        key: usize,
        max: bool,
        count: u8,
    },
    RemRank {
        key: usize,
        start: i8,
        stop: i8,
    },
    RemScore {
        key: usize,
        min: i8,
        max: i8,
        min_ex: bool,
        max_ex: bool,
    },
    Range {
        key: usize,
        start: i8,
        stop: i8,
        rev: bool,
    },
    ByScore {
        key: usize,
        min: i8,
        max: i8,
        min_ex: bool,
        rev: bool,
        limit: Option<(i8, i8)>,
    },
    Rank {
        key: usize,
        member: u8,
        rev: bool,
    },
    Count {
        key: usize,
        min: i8,
        max: i8,
    },
    Store {
        kind: u8,
        dst: usize,
        keys: Vec<usize>,
        agg: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    let member = 0u8..12;
    let score = -4i8..5;
    prop_oneof![
        4 => (key.clone(), 0u8..6, any::<bool>(), prop::collection::vec((score.clone(), member.clone()), 1..6))
            .prop_map(|(key, flag, ch, pairs)| Op::Add { key, flag, ch, pairs }),
        1 => (key.clone(), score.clone(), member.clone()).prop_map(|(key, by, member)| Op::Incr { key, by, member }),
        1 => (key.clone(), prop::collection::vec(member.clone(), 1..4)).prop_map(|(key, members)| Op::Rem { key, members }),
        1 => (key.clone(), any::<bool>(), 0u8..4).prop_map(|(key, max, count)| Op::Pop { key, max, count }),
        1 => (key.clone(), -6i8..6, -6i8..6).prop_map(|(key, start, stop)| Op::RemRank { key, start, stop }),
        1 => (key.clone(), score.clone(), score.clone(), any::<bool>(), any::<bool>())
            .prop_map(|(key, min, max, min_ex, max_ex)| Op::RemScore { key, min, max, min_ex, max_ex }),
        2 => (key.clone(), -6i8..6, -6i8..6, any::<bool>()).prop_map(|(key, start, stop, rev)| Op::Range { key, start, stop, rev }),
        2 => (key.clone(), score.clone(), score.clone(), any::<bool>(), any::<bool>(), prop::option::of((-1i8..4, -1i8..4)))
            .prop_map(|(key, min, max, min_ex, rev, limit)| Op::ByScore { key, min, max, min_ex, rev, limit }),
        1 => (key.clone(), member.clone(), any::<bool>()).prop_map(|(key, member, rev)| Op::Rank { key, member, rev }),
        1 => (key.clone(), score.clone(), score.clone()).prop_map(|(key, min, max)| Op::Count { key, min, max }),
        1 => (0u8..3, key.clone(), prop::collection::vec(key, 1..3), 0u8..3)
            .prop_map(|(kind, dst, keys, agg)| Op::Store { kind, dst, keys, agg }),
    ]
}

fn m(x: u8) -> Vec<u8> {
    format!("m{x:02}").into_bytes()
}

fn sorted(set: &Set) -> Vec<(Vec<u8>, f64)> {
    let mut v: Vec<_> = set.iter().map(|(m, s)| (m.clone(), *s)).collect();
    v.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then(a.0.cmp(&b.0)));
    v
}

fn flat(v: &[(Vec<u8>, f64)], scores: bool) -> Reply {
    let mut out = Vec::new();
    for (m, s) in v {
        out.push(Reply::bulk(m));
        if scores {
            out.push(Reply::Double(*s));
        }
    }
    Reply::Array(out)
}

fn in_range(s: f64, min: f64, max: f64, min_ex: bool, max_ex: bool) -> bool {
    (if min_ex { s > min } else { s >= min }) && (if max_ex { s < max } else { s <= max })
}

fn bound(v: i8, ex: bool) -> String {
    if ex { format!("({v}") } else { v.to_string() }
}

/// Applies `op` to the model; returns the command and the reply the model expects.
fn run_model(model: &mut Model, op: &Op) -> (Vec<String>, Reply) {
    let s = |x: &str| x.to_string();
    match op {
        Op::Add {
            key,
            flag,
            ch,
            pairs,
        } => {
            // flag: 0 none, 1 NX, 2 XX, 3 GT, 4 LT, 5 XX+GT
            let (nx, xx, gt, lt) = match flag {
                1 => (true, false, false, false),
                2 => (false, true, false, false),
                3 => (false, false, true, false),
                4 => (false, false, false, true),
                5 => (false, true, true, false),
                _ => (false, false, false, false),
            };
            let mut cmd = vec![s("ZADD"), s(KEYS[*key])];
            for (on, name) in [(nx, "NX"), (xx, "XX"), (gt, "GT"), (lt, "LT"), (*ch, "CH")] {
                if on {
                    cmd.push(s(name));
                }
            }
            let set = model.entry(KEYS[*key]).or_default();
            let (mut added, mut changed) = (0, 0);
            for (sc, mb) in pairs {
                cmd.push(sc.to_string());
                cmd.push(String::from_utf8(m(*mb)).unwrap());
                let sc = *sc as f64;
                match set.get(&m(*mb)).copied() {
                    None if !xx => {
                        set.insert(m(*mb), sc);
                        added += 1;
                    }
                    None => {}
                    Some(cur) => {
                        if nx || (gt && sc <= cur) || (lt && sc >= cur) || sc == cur {
                            continue;
                        }
                        set.insert(m(*mb), sc);
                        changed += 1;
                    }
                }
            }
            if set.is_empty() {
                model.remove(KEYS[*key]);
            }
            (cmd, Reply::Int(if *ch { added + changed } else { added }))
        }
        Op::Incr { key, by, member } => {
            let set = model.entry(KEYS[*key]).or_default();
            let v = set.get(&m(*member)).copied().unwrap_or(0.0) + *by as f64;
            set.insert(m(*member), v);
            let cmd = vec![
                s("ZINCRBY"),
                s(KEYS[*key]),
                by.to_string(),
                String::from_utf8(m(*member)).unwrap(),
            ];
            (cmd, Reply::Double(v))
        }
        Op::Rem { key, members } => {
            let mut cmd = vec![s("ZREM"), s(KEYS[*key])];
            let mut n = 0;
            if let Some(set) = model.get_mut(KEYS[*key]) {
                for x in members {
                    if set.remove(&m(*x)).is_some() {
                        n += 1;
                    }
                }
                if set.is_empty() {
                    model.remove(KEYS[*key]);
                }
            }
            cmd.extend(members.iter().map(|x| String::from_utf8(m(*x)).unwrap()));
            (cmd, Reply::Int(n))
        }
        Op::Pop { key, max, count } => {
            let cmd = vec![
                s(if *max { "ZPOPMAX" } else { "ZPOPMIN" }),
                s(KEYS[*key]),
                count.to_string(),
            ];
            let mut out = Vec::new();
            if let Some(set) = model.get_mut(KEYS[*key]) {
                let mut v = sorted(set);
                if *max {
                    v.reverse();
                }
                for (mb, sc) in v.into_iter().take(*count as usize) {
                    set.remove(&mb);
                    out.push((mb, sc));
                }
                if set.is_empty() {
                    model.remove(KEYS[*key]);
                }
            }
            (cmd, flat(&out, true))
        }
        Op::RemRank { key, start, stop } => {
            let cmd = vec![
                s("ZREMRANGEBYRANK"),
                s(KEYS[*key]),
                start.to_string(),
                stop.to_string(),
            ];
            let mut n = 0;
            if let Some(set) = model.get_mut(KEYS[*key]) {
                let v = sorted(set);
                let len = v.len() as i64;
                let mut a = *start as i64;
                let mut b = *stop as i64;
                if a < 0 {
                    a += len;
                }
                if b < 0 {
                    b += len;
                }
                a = a.max(0);
                if a <= b && a < len {
                    b = b.min(len - 1);
                    for (mb, _) in &v[a as usize..=b as usize] {
                        set.remove(mb);
                        n += 1;
                    }
                }
                if set.is_empty() {
                    model.remove(KEYS[*key]);
                }
            }
            (cmd, Reply::Int(n))
        }
        Op::RemScore {
            key,
            min,
            max,
            min_ex,
            max_ex,
        } => {
            let cmd = vec![
                s("ZREMRANGEBYSCORE"),
                s(KEYS[*key]),
                bound(*min, *min_ex),
                bound(*max, *max_ex),
            ];
            let mut n = 0;
            if let Some(set) = model.get_mut(KEYS[*key]) {
                let before = set.len();
                set.retain(|_, sc| !in_range(*sc, *min as f64, *max as f64, *min_ex, *max_ex));
                n = (before - set.len()) as i64;
                if set.is_empty() {
                    model.remove(KEYS[*key]);
                }
            }
            (cmd, Reply::Int(n))
        }
        Op::Range {
            key,
            start,
            stop,
            rev,
        } => {
            let mut cmd = vec![
                s("ZRANGE"),
                s(KEYS[*key]),
                start.to_string(),
                stop.to_string(),
            ];
            if *rev {
                cmd.push(s("REV"));
            }
            cmd.push(s("WITHSCORES"));
            let mut v = model.get(KEYS[*key]).map(sorted).unwrap_or_default();
            if *rev {
                v.reverse();
            }
            let len = v.len() as i64;
            let (mut a, mut b) = (*start as i64, *stop as i64);
            if a < 0 {
                a += len;
            }
            if b < 0 {
                b += len;
            }
            a = a.max(0);
            let out = if a > b || a >= len {
                Vec::new()
            } else {
                v[a as usize..=(b.min(len - 1)) as usize].to_vec()
            };
            (cmd, flat(&out, true))
        }
        Op::ByScore {
            key,
            min,
            max,
            min_ex,
            rev,
            limit,
        } => {
            let (lo, hi) = (bound(*min, *min_ex), max.to_string());
            let mut cmd = if *rev {
                vec![s("ZREVRANGEBYSCORE"), s(KEYS[*key]), hi, lo]
            } else {
                vec![s("ZRANGEBYSCORE"), s(KEYS[*key]), lo, hi]
            };
            cmd.push(s("WITHSCORES"));
            let mut v: Vec<_> = model
                .get(KEYS[*key])
                .map(sorted)
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, sc)| in_range(*sc, *min as f64, *max as f64, *min_ex, false))
                .collect();
            if *rev {
                v.reverse();
            }
            if let Some((off, cnt)) = limit {
                cmd.extend([s("LIMIT"), off.to_string(), cnt.to_string()]);
                v = if *off < 0 {
                    Vec::new()
                } else {
                    let rest = v.into_iter().skip(*off as usize);
                    if *cnt < 0 {
                        rest.collect()
                    } else {
                        rest.take(*cnt as usize).collect()
                    }
                };
            }
            (cmd, flat(&v, true))
        }
        Op::Rank { key, member, rev } => {
            let cmd = vec![
                s(if *rev { "ZREVRANK" } else { "ZRANK" }),
                s(KEYS[*key]),
                String::from_utf8(m(*member)).unwrap(),
            ];
            let mut v = model.get(KEYS[*key]).map(sorted).unwrap_or_default();
            if *rev {
                v.reverse();
            }
            let r = v.iter().position(|(x, _)| *x == m(*member));
            (cmd, r.map_or(Reply::Nil, |r| Reply::Int(r as i64)))
        }
        Op::Count { key, min, max } => {
            let cmd = vec![s("ZCOUNT"), s(KEYS[*key]), min.to_string(), max.to_string()];
            let n = model.get(KEYS[*key]).map_or(0, |set| {
                set.values()
                    .filter(|sc| in_range(**sc, *min as f64, *max as f64, false, false))
                    .count()
            });
            (cmd, Reply::Int(n as i64))
        }
        Op::Store {
            kind,
            dst,
            keys,
            agg,
        } => {
            let name = ["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"][*kind as usize];
            let mut cmd = vec![s(name), s(KEYS[*dst]), keys.len().to_string()];
            cmd.extend(keys.iter().map(|k| s(KEYS[*k])));
            let agg_name = ["SUM", "MIN", "MAX"][*agg as usize];
            if *kind != 2 {
                cmd.extend([s("AGGREGATE"), s(agg_name)]);
            }
            let sets: Vec<Set> = keys
                .iter()
                .map(|k| model.get(KEYS[*k]).cloned().unwrap_or_default())
                .collect();
            let combine = |a: f64, b: f64| match agg {
                0 => a + b,
                1 => a.min(b),
                _ => a.max(b),
            };
            let mut out: Set = BTreeMap::new();
            match kind {
                0 => {
                    for set in &sets {
                        for (mb, sc) in set {
                            let v = out.get(mb).map_or(*sc, |cur| combine(*cur, *sc));
                            out.insert(mb.clone(), v);
                        }
                    }
                }
                1 => {
                    for (mb, sc) in &sets[0] {
                        let mut v = *sc;
                        if sets[1..].iter().all(|o| o.contains_key(mb)) {
                            for o in &sets[1..] {
                                v = combine(v, o[mb]);
                            }
                            out.insert(mb.clone(), v);
                        }
                    }
                }
                _ => {
                    for (mb, sc) in &sets[0] {
                        if !sets[1..].iter().any(|o| o.contains_key(mb)) {
                            out.insert(mb.clone(), *sc);
                        }
                    }
                }
            }
            let n = out.len() as i64;
            if out.is_empty() {
                model.remove(KEYS[*dst]);
            } else {
                model.insert(KEYS[*dst], out);
            }
            (cmd, Reply::Int(n))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn commands_match_a_btreemap_model(ops in prop::collection::vec(op(), 1..60)) {
        let db = Db::new();
        let mut model = Model::new();
        for op in &ops {
            let (cmd, expect) = run_model(&mut model, op);
            let got = db.call(&cmd);
            prop_assert_eq!(&got, &expect, "{:?}", cmd);
            // The whole state agrees after every command.
            for k in KEYS {
                let full = flat(&model.get(k).map(sorted).unwrap_or_default(), true);
                prop_assert_eq!(db.call(["ZRANGE", k, "0", "-1", "WITHSCORES"]), full);
                let card = model.get(k).map_or(0, |s| s.len() as i64);
                prop_assert_eq!(db.call(["ZCARD", k]), Reply::Int(card));
                prop_assert_eq!(db.call(["EXISTS", k]), Reply::Int((card > 0) as i64));
            }
        }
    }
}
