//! Fuzzes the engine's commands against a reference model: random command sequences over a
//! tiny key space (4 keys, a handful of values, fields and members, so that commands keep
//! meeting each other's keys and types) run through `embedis::Db::call` and through a plain
//! model of strings, lists, hashes, sets and expiry under a manual clock; every reply must be
//! the model's, and after the sequence every key must hold what the model holds.
//!
//! Input layout: groups of 3 bytes, (command, key, argument). The model is written from
//! Redis 7.0's documented behaviour (checked against redis-server for the edge cases: INCR's
//! strict integer parsing, PEXPIRE with a time already past deleting the key, a key alive
//! through its expiry millisecond, containers deleted when emptied).

#![no_main]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use embedis::{Db, ManualClock, Reply};
use libfuzzer_sys::fuzz_target;

const KEYS: [&str; 4] = ["a", "b", "c", "d"];
const VALUES: [&str; 10] = [
    "",
    "0",
    "1",
    "-1",
    "x",
    "01",
    "-0",
    "9223372036854775807",
    "-9223372036854775808",
    "hello world",
];
const FIELDS: [&str; 3] = ["f", "g", "h"];

/// A reply reduced to what the model can say (sets sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
enum R {
    Status(String),
    Err(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Arr(Vec<R>),
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const OVERFLOW: &str = "ERR increment or decrement would overflow";

fn wrongtype() -> R {
    R::Err(WRONGTYPE.into())
}

fn normalize(r: Reply) -> R {
    match r {
        Reply::Ok => R::Status("OK".into()),
        Reply::Status(s) => R::Status(s.into_owned()),
        Reply::Error(e) => R::Err(e.to_string()),
        Reply::Int(n) => R::Int(n),
        Reply::Bool(b) => R::Int(b as i64),
        Reply::Bulk(b) | Reply::Verbatim(b) => R::Bulk(b.to_vec()),
        Reply::Nil | Reply::NilArray => R::Nil,
        Reply::Array(v) | Reply::Push(v) => R::Arr(v.into_iter().map(normalize).collect()),
        Reply::Set(v) => {
            let mut v: Vec<R> = v.into_iter().map(normalize).collect();
            v.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
            R::Arr(v)
        }
        other => panic!("unexpected reply shape {other:?}"),
    }
}

fn bulk(b: &[u8]) -> R {
    R::Bulk(b.to_vec())
}

#[derive(Debug, Clone)]
enum V {
    Str(Vec<u8>),
    List(VecDeque<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
}

#[derive(Debug, Default)]
struct Model {
    keys: HashMap<&'static str, (V, Option<u64>)>,
    now: u64,
}

/// Redis's `string2ll`: optional `-`, no `+`, no leading zeros, no spaces, fits in i64.
fn strict_i64(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?;
    if s == "0" {
        return Some(0);
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    let first = *digits.as_bytes().first()?;
    if !(b'1'..=b'9').contains(&first) || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl Model {
    /// Lazy expiry: a key lives through its expiry millisecond.
    fn live(&mut self, k: &'static str) -> Option<&mut (V, Option<u64>)> {
        let now = self.now;
        if self
            .keys
            .get(k)
            .is_some_and(|(_, at)| at.is_some_and(|at| at < now))
        {
            self.keys.remove(k);
        }
        self.keys.get_mut(k)
    }

    fn live_count(&mut self) -> usize {
        let now = self.now;
        self.keys.retain(|_, (_, at)| at.is_none_or(|at| at >= now));
        self.keys.len()
    }

    /// Drops `k` if its container became empty (Redis deletes empty containers).
    fn drop_if_empty(&mut self, k: &'static str) {
        let empty = match self.keys.get(k) {
            Some((V::List(l), _)) => l.is_empty(),
            Some((V::Hash(h), _)) => h.is_empty(),
            Some((V::Set(s), _)) => s.is_empty(),
            _ => false,
        };
        if empty {
            self.keys.remove(k);
        }
    }
}

/// One step: the command's arguments and the reply the model expects.
fn step(m: &mut Model, op: u8, k: &'static str, arg: u8) -> Option<(Vec<Vec<u8>>, R)> {
    let v = VALUES[arg as usize % VALUES.len()].as_bytes();
    let f = FIELDS[arg as usize % FIELDS.len()].as_bytes();
    let kb = k.as_bytes().to_vec();
    let cmd = |parts: &[&[u8]]| parts.iter().map(|p| p.to_vec()).collect::<Vec<_>>();
    Some(match op % 32 {
        0 => {
            m.keys.insert(k, (V::Str(v.to_vec()), None));
            (cmd(&[b"SET", &kb, v]), R::Status("OK".into()))
        }
        1 => {
            let ms = 1 + (arg % 20) as u64;
            m.keys.insert(k, (V::Str(v.to_vec()), Some(m.now + ms)));
            let ms = ms.to_string();
            (
                cmd(&[b"SET", &kb, v, b"PX", ms.as_bytes()]),
                R::Status("OK".into()),
            )
        }
        2 => {
            let r = match m.live(k) {
                None => R::Nil,
                Some((V::Str(s), _)) => bulk(s),
                Some(_) => wrongtype(),
            };
            (cmd(&[b"GET", &kb]), r)
        }
        3 => {
            let r = R::Int(m.live(k).is_some() as i64);
            m.keys.remove(k);
            (cmd(&[b"DEL", &kb]), r)
        }
        4 => (cmd(&[b"EXISTS", &kb]), R::Int(m.live(k).is_some() as i64)),
        5 => {
            let r = match m.live(k) {
                None => {
                    m.keys.insert(k, (V::Str(b"1".to_vec()), None));
                    R::Int(1)
                }
                Some((V::Str(s), _)) => match strict_i64(s) {
                    None => R::Err(NOT_INTEGER.into()),
                    Some(n) => match n.checked_add(1) {
                        None => R::Err(OVERFLOW.into()),
                        Some(n) => {
                            *s = n.to_string().into_bytes();
                            R::Int(n)
                        }
                    },
                },
                Some(_) => wrongtype(),
            };
            (cmd(&[b"INCR", &kb]), r)
        }
        6 => {
            let r = match m.live(k) {
                None => {
                    m.keys.insert(k, (V::Str(v.to_vec()), None));
                    R::Int(v.len() as i64)
                }
                Some((V::Str(s), _)) => {
                    s.extend_from_slice(v);
                    R::Int(s.len() as i64)
                }
                Some(_) => wrongtype(),
            };
            (cmd(&[b"APPEND", &kb, v]), r)
        }
        7 => {
            let r = match m.live(k) {
                None => R::Int(0),
                Some((V::Str(s), _)) => R::Int(s.len() as i64),
                Some(_) => wrongtype(),
            };
            (cmd(&[b"STRLEN", &kb]), r)
        }
        8 | 9 => {
            let left = op % 32 == 8;
            let r = match m.live(k) {
                None => {
                    m.keys
                        .insert(k, (V::List(VecDeque::from([v.to_vec()])), None));
                    R::Int(1)
                }
                Some((V::List(l), _)) => {
                    if left {
                        l.push_front(v.to_vec());
                    } else {
                        l.push_back(v.to_vec());
                    }
                    R::Int(l.len() as i64)
                }
                Some(_) => wrongtype(),
            };
            let name: &[u8] = if left { b"LPUSH" } else { b"RPUSH" };
            (cmd(&[name, &kb, v]), r)
        }
        10 | 11 => {
            let left = op % 32 == 10;
            let r = match m.live(k) {
                None => R::Nil,
                Some((V::List(l), _)) => {
                    let x = if left { l.pop_front() } else { l.pop_back() };
                    bulk(&x.expect("lists in the model are never empty"))
                }
                Some(_) => wrongtype(),
            };
            m.drop_if_empty(k);
            let name: &[u8] = if left { b"LPOP" } else { b"RPOP" };
            (cmd(&[name, &kb]), r)
        }
        12 => {
            let r = match m.live(k) {
                None => R::Int(0),
                Some((V::List(l), _)) => R::Int(l.len() as i64),
                Some(_) => wrongtype(),
            };
            (cmd(&[b"LLEN", &kb]), r)
        }
        13 => {
            let r = match m.live(k) {
                None => R::Arr(vec![]),
                Some((V::List(l), _)) => R::Arr(l.iter().map(|x| bulk(x)).collect()),
                Some(_) => wrongtype(),
            };
            (cmd(&[b"LRANGE", &kb, b"0", b"-1"]), r)
        }
        14 => {
            let r = match m.live(k) {
                None => {
                    let h = BTreeMap::from([(f.to_vec(), v.to_vec())]);
                    m.keys.insert(k, (V::Hash(h), None));
                    R::Int(1)
                }
                Some((V::Hash(h), _)) => R::Int(h.insert(f.to_vec(), v.to_vec()).is_none() as i64),
                Some(_) => wrongtype(),
            };
            (cmd(&[b"HSET", &kb, f, v]), r)
        }
        15 => {
            let r = match m.live(k) {
                None => R::Nil,
                Some((V::Hash(h), _)) => h.get(f).map_or(R::Nil, |x| bulk(x)),
                Some(_) => wrongtype(),
            };
            (cmd(&[b"HGET", &kb, f]), r)
        }
        16 => {
            let r = match m.live(k) {
                None => R::Int(0),
                Some((V::Hash(h), _)) => R::Int(h.remove(f).is_some() as i64),
                Some(_) => wrongtype(),
            };
            m.drop_if_empty(k);
            (cmd(&[b"HDEL", &kb, f]), r)
        }
        17 => {
            let r = match m.live(k) {
                None => R::Int(0),
                Some((V::Hash(h), _)) => R::Int(h.len() as i64),
                Some(_) => wrongtype(),
            };
            (cmd(&[b"HLEN", &kb]), r)
        }
        18 => {
            let r = match m.live(k) {
                None => {
                    m.keys
                        .insert(k, (V::Set(BTreeSet::from([v.to_vec()])), None));
                    R::Int(1)
                }
                Some((V::Set(s), _)) => R::Int(s.insert(v.to_vec()) as i64),
                Some(_) => wrongtype(),
            };
            (cmd(&[b"SADD", &kb, v]), r)
        }
        19 => {
            let r = match m.live(k) {
                None => R::Int(0),
                Some((V::Set(s), _)) => R::Int(s.remove(v) as i64),
                Some(_) => wrongtype(),
            };
            m.drop_if_empty(k);
            (cmd(&[b"SREM", &kb, v]), r)
        }
        20 => {
            let r = match m.live(k) {
                None => R::Int(0),
                Some((V::Set(s), _)) => R::Int(s.contains(v) as i64),
                Some(_) => wrongtype(),
            };
            (cmd(&[b"SISMEMBER", &kb, v]), r)
        }
        21 => {
            let r = match m.live(k) {
                None => R::Int(0),
                Some((V::Set(s), _)) => R::Int(s.len() as i64),
                Some(_) => wrongtype(),
            };
            (cmd(&[b"SCARD", &kb]), r)
        }
        22 => {
            let r = match m.live(k) {
                None => R::Arr(vec![]),
                Some((V::Set(s), _)) => {
                    let mut v: Vec<R> = s.iter().map(|x| bulk(x)).collect();
                    v.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
                    R::Arr(v)
                }
                Some(_) => wrongtype(),
            };
            (cmd(&[b"SMEMBERS", &kb]), r)
        }
        23 => {
            // -5..=24 ms: zero or negative deletes the key at once.
            let ms = (arg % 30) as i64 - 5;
            let now = m.now;
            let r = match m.live(k) {
                None => R::Int(0),
                Some(e) => {
                    e.1 = Some(now.saturating_add_signed(ms));
                    R::Int(1)
                }
            };
            if ms <= 0 {
                m.keys.remove(k);
            }
            let ms = ms.to_string();
            (cmd(&[b"PEXPIRE", &kb, ms.as_bytes()]), r)
        }
        24 => {
            let r = match m.live(k) {
                None => R::Int(0),
                Some(e) => R::Int(e.1.take().is_some() as i64),
            };
            (cmd(&[b"PERSIST", &kb]), r)
        }
        25 => {
            let now = m.now;
            let r = match m.live(k) {
                None => R::Int(-2),
                Some((_, None)) => R::Int(-1),
                Some((_, Some(at))) => R::Int((*at - now) as i64),
            };
            (cmd(&[b"PTTL", &kb]), r)
        }
        26 => {
            let t = match m.live(k) {
                None => "none",
                Some((V::Str(_), _)) => "string",
                Some((V::List(_), _)) => "list",
                Some((V::Hash(_), _)) => "hash",
                Some((V::Set(_), _)) => "set",
            };
            (cmd(&[b"TYPE", &kb]), R::Status(t.into()))
        }
        27 => {
            let r = match m.live(k) {
                None => R::Nil,
                Some((V::Str(s), _)) => bulk(s),
                Some(_) => wrongtype(),
            };
            if matches!(r, R::Bulk(_)) {
                m.keys.remove(k);
            }
            (cmd(&[b"GETDEL", &kb]), r)
        }
        28 => {
            let r = if m.live(k).is_some() {
                R::Int(0)
            } else {
                m.keys.insert(k, (V::Str(v.to_vec()), None));
                R::Int(1)
            };
            (cmd(&[b"SETNX", &kb, v]), r)
        }
        29 => {
            let idx = (arg % 7) as i64 - 3;
            let r = match m.live(k) {
                None => R::Nil,
                Some((V::List(l), _)) => {
                    let i = if idx < 0 { l.len() as i64 + idx } else { idx };
                    if i < 0 {
                        R::Nil
                    } else {
                        l.get(i as usize).map_or(R::Nil, |x| bulk(x))
                    }
                }
                Some(_) => wrongtype(),
            };
            let idx = idx.to_string();
            (cmd(&[b"LINDEX", &kb, idx.as_bytes()]), r)
        }
        30 => {
            let r = match m.live(k) {
                None => R::Int(0),
                Some((V::Hash(h), _)) => R::Int(h.contains_key(f) as i64),
                Some(_) => wrongtype(),
            };
            (cmd(&[b"HEXISTS", &kb, f]), r)
        }
        _ => return None,
    })
}

/// Everything a key holds, read through commands, for the final sweep.
fn dump(db: &Db, k: &str) -> R {
    let t = normalize(db.call(["TYPE", k]));
    let body = match &t {
        R::Status(s) if s == "string" => normalize(db.call(["GET", k])),
        R::Status(s) if s == "list" => normalize(db.call(["LRANGE", k, "0", "-1"])),
        R::Status(s) if s == "set" => normalize(db.call(["SMEMBERS", k])),
        R::Status(s) if s == "hash" => {
            let mut fields = Vec::new();
            for f in FIELDS {
                fields.push(normalize(db.call(["HGET", k, f])));
            }
            R::Arr(fields)
        }
        _ => R::Nil,
    };
    R::Arr(vec![t, body])
}

fn model_dump(m: &mut Model, k: &'static str) -> R {
    let (t, body) = match m.live(k) {
        None => ("none", R::Nil),
        Some((V::Str(s), _)) => ("string", bulk(s)),
        Some((V::List(l), _)) => ("list", R::Arr(l.iter().map(|x| bulk(x)).collect())),
        Some((V::Set(s), _)) => {
            let mut v: Vec<R> = s.iter().map(|x| bulk(x)).collect();
            v.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
            ("set", R::Arr(v))
        }
        Some((V::Hash(h), _)) => (
            "hash",
            R::Arr(
                FIELDS
                    .iter()
                    .map(|f| h.get(f.as_bytes()).map_or(R::Nil, |x| bulk(x)))
                    .collect(),
            ),
        ),
    };
    R::Arr(vec![R::Status(t.into()), body])
}

fuzz_target!(|data: &[u8]| {
    // A fixed start time on a whole millisecond, so that model and engine agree on `now`.
    let clock = ManualClock::starting_at_micros(1_700_000_000_000_000);
    let db = Db::builder()
        .clock(clock.clone())
        .seed(1)
        .active_expiry(false)
        .build();
    let mut m = Model {
        now: 1_700_000_000_000,
        ..Model::default()
    };
    for (n, chunk) in data.chunks_exact(3).take(512).enumerate() {
        let (op, key, arg) = (chunk[0], chunk[1], chunk[2]);
        let k = KEYS[key as usize % KEYS.len()];
        match op % 32 {
            31 if arg & 1 == 0 => {
                let ms = (arg >> 1) as u64 % 16;
                clock.advance(Duration::from_millis(ms));
                m.now += ms;
            }
            31 => {
                // The active cycle removes exactly the keys whose time has passed.
                db.run_active_expiry();
                let got = normalize(db.call(["DBSIZE"]));
                assert_eq!(
                    got,
                    R::Int(m.live_count() as i64),
                    "DBSIZE after active expiry, step {n}"
                );
            }
            _ => {
                let Some((args, want)) = step(&mut m, op, k, arg) else {
                    continue;
                };
                let got = normalize(db.call(&args));
                assert_eq!(
                    got,
                    want,
                    "step {n}: {:?}",
                    args.iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect::<Vec<_>>()
                );
            }
        }
    }
    for k in KEYS {
        assert_eq!(dump(&db, k), model_dump(&mut m, k), "final contents of {k}");
    }
});
