//! Property test of the keyspace against a reference model under a manual clock: random
//! sequences of SET / GET / DEL / EXISTS / PEXPIRE / PERSIST / PTTL and clock moves over a
//! tiny key space, run through `Db::call`, must give the replies Redis 7.0 gives.
//!
//! The model follows Redis's expiry rule: a key is gone once the time is *past* its expiry
//! (`now > at`); at exactly `at` it still exists with PTTL 0. A PEXPIRE whose time is not in
//! the future (`at <= now`) deletes the key at once and still replies 1.
//!
//! Failures are saved under `tests/proptest-regressions/` (checked in) and replayed first.

use std::collections::BTreeMap;
use std::time::Duration;

use embedis::{Db, ManualClock, Reply};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const KEYS: &[&str] = &["a", "b", "c", "d"];
const VALUES: &[&[u8]] = &[b"", b"x", b"hello", b"\x00\xff"];
/// Fixed start (2023-11-14) so that runs are reproducible.
const START_MS: u64 = 1_700_000_000_000;

#[derive(Debug, Clone)]
enum Op {
    Set(usize, usize),
    Get(usize),
    Del(Vec<usize>),
    Exists(Vec<usize>),
    Pexpire(usize, i64),
    Persist(usize),
    Pttl(usize),
    Advance(u64),
    ActiveExpire,
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    let keys = prop::collection::vec(0..KEYS.len(), 1..4);
    prop_oneof![
        3 => (key.clone(), 0..VALUES.len()).prop_map(|(k, v)| Op::Set(k, v)),
        3 => key.clone().prop_map(Op::Get),
        1 => keys.clone().prop_map(Op::Del),
        2 => keys.prop_map(Op::Exists),
        3 => (key.clone(), prop_oneof![-5i64..=5, -100i64..2000]).prop_map(|(k, ms)| Op::Pexpire(k, ms)),
        1 => key.clone().prop_map(Op::Persist),
        3 => key.prop_map(Op::Pttl),
        3 => prop_oneof![0u64..=2, 0u64..1500].prop_map(Op::Advance),
        1 => Just(Op::ActiveExpire),
    ]
}

/// What Redis would hold: value and optional expiry time (Unix ms) per key.
#[derive(Debug, Default)]
struct Model {
    now: u64,
    keys: BTreeMap<usize, (usize, Option<u64>)>,
}

impl Model {
    /// Drops keys whose time is past: what any access would observe.
    fn expire(&mut self) {
        let now = self.now;
        self.keys.retain(|_, (_, at)| at.is_none_or(|at| now <= at));
    }

    fn apply(&mut self, op: &Op) -> Reply {
        self.expire();
        match *op {
            Op::Set(k, v) => {
                self.keys.insert(k, (v, None));
                Reply::Ok
            }
            Op::Get(k) => match self.keys.get(&k) {
                Some(&(v, _)) => Reply::bulk(VALUES[v]),
                None => Reply::Nil,
            },
            Op::Del(ref ks) => {
                Reply::Int(ks.iter().filter(|k| self.keys.remove(k).is_some()).count() as i64)
            }
            Op::Exists(ref ks) => {
                Reply::Int(ks.iter().filter(|k| self.keys.contains_key(k)).count() as i64)
            }
            Op::Pexpire(k, ms) => {
                if !self.keys.contains_key(&k) {
                    return Reply::Int(0);
                }
                let at = self.now as i64 + ms;
                if at <= self.now as i64 {
                    self.keys.remove(&k);
                } else if let Some(e) = self.keys.get_mut(&k) {
                    e.1 = Some(at as u64);
                }
                Reply::Int(1)
            }
            Op::Persist(k) => match self.keys.get_mut(&k) {
                Some((_, at @ Some(_))) => {
                    *at = None;
                    Reply::Int(1)
                }
                _ => Reply::Int(0),
            },
            Op::Pttl(k) => match self.keys.get(&k) {
                None => Reply::Int(-2),
                Some((_, None)) => Reply::Int(-1),
                Some(&(_, Some(at))) => Reply::Int((at - self.now) as i64),
            },
            Op::Advance(ms) => {
                self.now += ms;
                Reply::Ok
            }
            Op::ActiveExpire => Reply::Ok,
        }
    }
}

/// Runs `op` on the engine, returning its reply (`Reply::Ok` for the clock operations).
fn run(db: &Db, clock: &ManualClock, op: &Op) -> Reply {
    let key = |k: usize| KEYS[k].as_bytes().to_vec();
    let keys = |ks: &[usize]| ks.iter().map(|&k| key(k)).collect::<Vec<_>>();
    let call = |cmd: &str, rest: Vec<Vec<u8>>| {
        let mut args = vec![cmd.as_bytes().to_vec()];
        args.extend(rest);
        db.call(args)
    };
    match *op {
        Op::Set(k, v) => call("SET", vec![key(k), VALUES[v].to_vec()]),
        Op::Get(k) => call("GET", vec![key(k)]),
        Op::Del(ref ks) => call("DEL", keys(ks)),
        Op::Exists(ref ks) => call("EXISTS", keys(ks)),
        Op::Pexpire(k, ms) => call("PEXPIRE", vec![key(k), ms.to_string().into_bytes()]),
        Op::Persist(k) => call("PERSIST", vec![key(k)]),
        Op::Pttl(k) => call("PTTL", vec![key(k)]),
        Op::Advance(ms) => {
            clock.advance(Duration::from_millis(ms));
            Reply::Ok
        }
        Op::ActiveExpire => {
            db.run_active_expiry();
            Reply::Ok
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        // Relative to the package root, where cargo runs tests.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/model_strings.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn keyspace_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        let clock = ManualClock::starting_at_micros(START_MS * 1000);
        let db = Db::builder().clock(clock.clone()).active_expiry(false).seed(7).build();
        let mut model = Model { now: START_MS, ..Model::default() };
        for (i, op) in ops.iter().enumerate() {
            let want = model.apply(op);
            let got = run(&db, &clock, op);
            prop_assert_eq!(&got, &want, "step {} {:?} (model time +{} ms)", i, op, model.now - START_MS);
        }
        // Whatever the history, DBSIZE agrees once expired keys are reclaimed.
        model.expire();
        db.run_active_expiry();
        prop_assert_eq!(db.call(["DBSIZE"]), Reply::Int(model.keys.len() as i64));
    }
}
