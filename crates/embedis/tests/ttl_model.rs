//! TTL behaviour against a reference model: random sequences of SET, DEL, EXPIRE, PEXPIRE,
//! EXPIREAT, PEXPIREAT (with NX/XX/GT/LT), PERSIST, RENAME, TTL, PTTL, EXPIRETIME, EXISTS, GET
//! and clock moves, run through `Db::call` under a `ManualClock`, must give the replies a
//! plain `BTreeMap` model of Redis's rules gives.

use std::collections::BTreeMap;
use std::time::Duration;

use embedis::{Db, ManualClock, Reply};
use proptest::prelude::*;

const START_MS: u64 = 1_700_000_000_000;

#[derive(Debug, Clone)]
enum Op {
    Set(usize, u8),
    Del(usize),
    Expire {
        key: usize,
        cmd: ExpireCmd,
        amount: i64,
        opt: Opt,
    },
    Persist(usize),
    Rename(usize, usize),
    Ttl(usize),
    Pttl(usize),
    ExpireTime(usize),
    Exists(usize),
    Get(usize),
    Advance(u64),
    ActiveExpiry,
}

#[derive(Debug, Clone, Copy)]
enum ExpireCmd {
    Expire,
    PExpire,
    ExpireAt,
    PExpireAt,
}

#[derive(Debug, Clone, Copy)]
enum Opt {
    None,
    Nx,
    Xx,
    Gt,
    Lt,
    XxLt,
}

const KEYS: [&str; 3] = ["a", "b", "c"];

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    let opt = prop_oneof![
        4 => Just(Opt::None),
        1 => Just(Opt::Nx),
        1 => Just(Opt::Xx),
        1 => Just(Opt::Gt),
        1 => Just(Opt::Lt),
        1 => Just(Opt::XxLt),
    ];
    let expire = (
        key.clone(),
        prop_oneof![
            Just(ExpireCmd::Expire),
            Just(ExpireCmd::PExpire),
            Just(ExpireCmd::ExpireAt),
            Just(ExpireCmd::PExpireAt),
        ],
        -3i64..6,
        -200i64..5000,
        opt,
    )
        .prop_map(|(key, cmd, secs, ms, opt)| {
            let amount = match cmd {
                ExpireCmd::Expire => secs,
                ExpireCmd::PExpire => ms,
                ExpireCmd::ExpireAt => (START_MS / 1000) as i64 + secs * 2,
                ExpireCmd::PExpireAt => START_MS as i64 + ms * 3,
            };
            Op::Expire {
                key,
                cmd,
                amount,
                opt,
            }
        });
    prop_oneof![
        3 => (key.clone(), 0u8..4).prop_map(|(k, v)| Op::Set(k, v)),
        1 => key.clone().prop_map(Op::Del),
        5 => expire,
        1 => key.clone().prop_map(Op::Persist),
        1 => (key.clone(), key.clone()).prop_map(|(a, b)| Op::Rename(a, b)),
        2 => key.clone().prop_map(Op::Ttl),
        2 => key.clone().prop_map(Op::Pttl),
        1 => key.clone().prop_map(Op::ExpireTime),
        1 => key.clone().prop_map(Op::Exists),
        1 => key.clone().prop_map(Op::Get),
        3 => (0u64..2500).prop_map(Op::Advance),
        1 => Just(Op::ActiveExpiry),
    ]
}

/// The model: key -> (value, absolute expiry in ms).
#[derive(Default)]
struct Model {
    keys: BTreeMap<&'static str, (String, Option<i64>)>,
    now: i64,
}

impl Model {
    fn purge(&mut self) {
        let now = self.now;
        self.keys.retain(|_, (_, at)| at.is_none_or(|t| t >= now));
    }

    fn apply(&mut self, op: &Op) -> Reply {
        self.purge();
        match *op {
            Op::Set(k, v) => {
                self.keys.insert(KEYS[k], (format!("v{v}"), None));
                Reply::Ok
            }
            Op::Del(k) => Reply::Int(self.keys.remove(KEYS[k]).is_some() as i64),
            Op::Expire {
                key,
                cmd,
                amount,
                opt,
            } => {
                let when = match cmd {
                    ExpireCmd::Expire => self.now + amount * 1000,
                    ExpireCmd::PExpire => self.now + amount,
                    ExpireCmd::ExpireAt => amount * 1000,
                    ExpireCmd::PExpireAt => amount,
                };
                let Some(entry) = self.keys.get_mut(KEYS[key]) else {
                    return Reply::Int(0);
                };
                let cur = entry.1;
                let ok = match opt {
                    Opt::None => true,
                    Opt::Nx => cur.is_none(),
                    Opt::Xx => cur.is_some(),
                    Opt::Gt => cur.is_some_and(|c| when > c),
                    Opt::Lt => cur.is_none_or(|c| when < c),
                    Opt::XxLt => cur.is_some_and(|c| when < c),
                };
                if !ok {
                    return Reply::Int(0);
                }
                if when <= self.now {
                    self.keys.remove(KEYS[key]);
                } else {
                    entry.1 = Some(when);
                }
                Reply::Int(1)
            }
            Op::Persist(k) => match self.keys.get_mut(KEYS[k]) {
                Some((_, at @ Some(_))) => {
                    *at = None;
                    Reply::Int(1)
                }
                _ => Reply::Int(0),
            },
            Op::Rename(a, b) => match self.keys.remove(KEYS[a]) {
                None => Reply::Error(embedis::Error::NoSuchKey),
                Some(e) => {
                    self.keys.insert(KEYS[b], e);
                    Reply::Ok
                }
            },
            Op::Ttl(k) | Op::Pttl(k) | Op::ExpireTime(k) => {
                let n = match self.keys.get(KEYS[k]) {
                    None => -2,
                    Some((_, None)) => -1,
                    Some((_, Some(at))) => match op {
                        Op::Ttl(_) => (at - self.now + 500) / 1000,
                        Op::Pttl(_) => at - self.now,
                        _ => (at + 500) / 1000,
                    },
                };
                Reply::Int(n)
            }
            Op::Exists(k) => Reply::Int(self.keys.contains_key(KEYS[k]) as i64),
            Op::Get(k) => match self.keys.get(KEYS[k]) {
                None => Reply::Nil,
                Some((v, _)) => Reply::bulk(v),
            },
            Op::Advance(ms) => {
                self.now += ms as i64;
                Reply::Ok
            }
            Op::ActiveExpiry => Reply::Ok,
        }
    }
}

fn run(db: &Db, clock: &ManualClock, op: &Op) -> Reply {
    let opt_args = |opt: Opt| -> Vec<&'static str> {
        match opt {
            Opt::None => vec![],
            Opt::Nx => vec!["NX"],
            Opt::Xx => vec!["XX"],
            Opt::Gt => vec!["GT"],
            Opt::Lt => vec!["LT"],
            Opt::XxLt => vec!["XX", "LT"],
        }
    };
    match *op {
        Op::Set(k, v) => db.call(["SET", KEYS[k], &format!("v{v}")]),
        Op::Del(k) => db.call(["DEL", KEYS[k]]),
        Op::Expire {
            key,
            cmd,
            amount,
            opt,
        } => {
            let name = match cmd {
                ExpireCmd::Expire => "EXPIRE",
                ExpireCmd::PExpire => "PEXPIRE",
                ExpireCmd::ExpireAt => "EXPIREAT",
                ExpireCmd::PExpireAt => "PEXPIREAT",
            };
            let amount = amount.to_string();
            let mut args = vec![name, KEYS[key], &amount];
            args.extend(opt_args(opt));
            db.call(args)
        }
        Op::Persist(k) => db.call(["PERSIST", KEYS[k]]),
        Op::Rename(a, b) => db.call(["RENAME", KEYS[a], KEYS[b]]),
        Op::Ttl(k) => db.call(["TTL", KEYS[k]]),
        Op::Pttl(k) => db.call(["PTTL", KEYS[k]]),
        Op::ExpireTime(k) => db.call(["EXPIRETIME", KEYS[k]]),
        Op::Exists(k) => db.call(["EXISTS", KEYS[k]]),
        Op::Get(k) => db.call(["GET", KEYS[k]]),
        Op::Advance(ms) => {
            clock.advance(Duration::from_millis(ms));
            Reply::Ok
        }
        Op::ActiveExpiry => {
            db.run_active_expiry();
            Reply::Ok
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn ttl_matches_model(ops in proptest::collection::vec(op(), 1..80), background in any::<bool>()) {
        let clock = ManualClock::starting_at_micros(START_MS * 1000);
        let db = Db::builder().clock(clock.clone()).seed(7).active_expiry(background).build();
        let mut model = Model { now: START_MS as i64, ..Default::default() };
        for (i, op) in ops.iter().enumerate() {
            let want = model.apply(op);
            let got = run(&db, &clock, op);
            prop_assert_eq!(&got, &want, "step {}: {:?}", i, op);
        }
        // Whatever lingered, the keys left are exactly the model's live keys.
        model.purge();
        let mut keys: Vec<String> = db
            .keys("*")
            .iter()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect();
        keys.sort();
        let want: Vec<String> = model.keys.keys().map(|k| k.to_string()).collect();
        prop_assert_eq!(keys, want);
    }
}
