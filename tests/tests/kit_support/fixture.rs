//! The backend configurations every kit conformance test runs on, and `run_on!`, which
//! instantiates a list of test functions for one of them.
//!
//! - `embedded`: `EmbeddedBackend` over an in-process `Db` with a manual clock;
//! - `real_redis`: `RedisBackend` against a real `redis-server` started on a free port
//!   (skipped loudly when redis-server is missing; CI fails instead);
//! - `embedis_server`: `RedisBackend` against an `embedis-server --clock manual` started
//!   in-process (the same Lua scripts, run by embedis's EVAL).
//!
//! Real Redis cannot use a manual clock: [`Fixture::can_step`] says whether a test may move
//! time.

use std::time::Duration;

use embedis::{Db, ManualClock, Reply};
use embedis_kit::backend::{AnyBackend, EmbeddedBackend, RedisBackend};
use embedis_kit::limiter::{Limiter, Policy};

/// The limiters' call timeout in these tests. The production default (50 ms) is about a
/// healthy loopback Redis; a CI machine running many test binaries on two cores can stall a
/// call longer than that, which would turn a correctness test into a (failing) degraded-mode
/// test. The timeout itself is tested with an unreachable server.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How a configuration moves time.
pub enum Clock {
    Manual(ManualClock),
    Server(Db),
    Real,
}

pub struct Fixture {
    pub name: &'static str,
    pub backend: AnyBackend,
    pub clock: Clock,
    /// Raw access for checks the Backend trait does not offer (PTTL, EXISTS, TYPE).
    pub raw: Raw,
    pub ns: String,
    pub _keep: Option<Box<dyn std::any::Any + Send>>,
}

pub enum Raw {
    Db(Db),
    Redis(redis::aio::MultiplexedConnection),
}

impl Fixture {
    pub fn embedded(test: &str) -> Fixture {
        let clock = ManualClock::starting_at_micros(1_700_000_000_000_000);
        let db = Db::builder().clock(clock.clone()).build();
        Fixture {
            name: "embedded",
            backend: EmbeddedBackend::new(db.clone()).into(),
            clock: Clock::Manual(clock),
            raw: Raw::Db(db),
            ns: super::namespace(test),
            _keep: None,
        }
    }

    pub async fn real_redis(test: &str) -> Option<Fixture> {
        let server = super::redis()?;
        let backend = RedisBackend::builder(server.url()).build().await.unwrap();
        let client = redis::Client::open(server.url()).unwrap();
        let raw = client.get_multiplexed_async_connection().await.unwrap();
        Some(Fixture {
            name: "real_redis",
            backend: backend.into(),
            clock: Clock::Real,
            raw: Raw::Redis(raw),
            ns: super::namespace(test),
            _keep: None,
        })
    }

    /// An `embedis-server --clock manual` in this process, reached over TCP by the redis
    /// backend (its scripts run on embedis's EVAL).
    pub async fn embedis_server(test: &str) -> Option<Fixture> {
        let args = ["--port", "0", "--bind", "127.0.0.1", "--clock", "manual"];
        let config = ::embedis_server::ServerConfig::from_args(args.map(String::from)).unwrap();
        let handle = ::embedis_server::spawn(config).unwrap();
        let db = handle.db().clone();
        let url = format!("redis://{}/", handle.addr());
        let backend = RedisBackend::builder(url).build().await.unwrap();
        Some(Fixture {
            name: "embedis_server",
            backend: backend.into(),
            clock: Clock::Server(db.clone()),
            raw: Raw::Db(db),
            ns: super::namespace(test),
            _keep: Some(Box::new(handle)),
        })
    }

    /// Moves time forward; false where time cannot be moved (real Redis).
    pub fn advance(&self, d: Duration) -> bool {
        match &self.clock {
            Clock::Manual(c) => {
                c.advance(d);
                true
            }
            Clock::Server(db) => db.engine().clock.advance(d),
            Clock::Real => false,
        }
    }

    pub fn can_step(&self) -> bool {
        !matches!(self.clock, Clock::Real)
    }

    /// The backend's current time in µs.
    pub async fn now_us(&self) -> i64 {
        match self.raw_cmd(&["TIME"]).await {
            Reply::Array(v) => {
                let n = |r: &Reply| match r {
                    Reply::Bulk(b) => std::str::from_utf8(b).unwrap().parse::<i64>().unwrap(),
                    other => panic!("{other:?}"),
                };
                n(&v[0]) * 1_000_000 + n(&v[1])
            }
            other => panic!("TIME: {other:?}"),
        }
    }

    /// Moves time to the next multiple of `d` since the epoch (for aligned windows).
    pub async fn align(&self, d: Duration) {
        let now = self.now_us().await;
        let step = d.as_micros() as i64;
        let r = now.rem_euclid(step);
        if r != 0 {
            assert!(self.advance(Duration::from_micros((step - r) as u64)));
        }
    }

    pub async fn raw_cmd(&self, args: &[&str]) -> Reply {
        match &self.raw {
            Raw::Db(db) => db.call(args),
            Raw::Redis(c) => {
                let mut c = c.clone();
                let mut cmd = redis::cmd(args[0]);
                for a in &args[1..] {
                    cmd.arg(*a);
                }
                let v: redis::Value = cmd.query_async(&mut c).await.unwrap();
                to_reply(v)
            }
        }
    }

    pub async fn pttl(&self, key: &str) -> i64 {
        match self.raw_cmd(&["PTTL", key]).await {
            Reply::Int(n) => n,
            other => panic!("PTTL: {other:?}"),
        }
    }

    pub fn key(&self, k: &str) -> String {
        format!("{}:{k}", self.ns)
    }

    pub fn limiter(&self, policies: &[(&str, Policy)]) -> Limiter<AnyBackend> {
        let mut b = Limiter::builder(self.backend.clone())
            .prefix(self.ns.clone())
            .timeout(CALL_TIMEOUT);
        for (n, p) in policies {
            b = b.policy(*n, *p);
        }
        b.build().unwrap()
    }

    /// The storage key of policy `name` for `key` (see embedis_kit::limiter).
    pub fn storage_key(&self, key: &str, name: &str) -> String {
        format!("{}:{{{key}}}:{name}", self.ns)
    }
}

pub fn to_reply(v: redis::Value) -> Reply {
    match v {
        redis::Value::Nil => Reply::Nil,
        redis::Value::Int(n) => Reply::Int(n),
        redis::Value::BulkString(b) => Reply::bulk(b),
        redis::Value::Array(a) => Reply::Array(a.into_iter().map(to_reply).collect()),
        redis::Value::SimpleString(s) => Reply::bulk(s),
        redis::Value::Okay => Reply::Ok,
        other => panic!("unexpected {other:?}"),
    }
}

/// Defines module `$config` with one `#[tokio::test]` per listed test function, each run on
/// the fixture `$make` builds (a `None` fixture is a skip the maker already reported).
#[macro_export]
macro_rules! run_on {
    ($config:ident, $make:expr, [$($path:path => $test:ident),* $(,)?]) => {
        mod $config {
            use super::*;
            $(
                #[tokio::test]
                async fn $test() {
                    let Some(f): Option<$crate::kit_support::fixture::Fixture> = $make(stringify!($test)).await else { return };
                    $path(&f).await;
                }
            )*
        }
    };
}

pub async fn make_embedded(test: &str) -> Option<Fixture> {
    Some(Fixture::embedded(test))
}

pub async fn make_real_redis(test: &str) -> Option<Fixture> {
    Fixture::real_redis(test).await
}

pub async fn make_embedis_server(test: &str) -> Option<Fixture> {
    Fixture::embedis_server(test).await
}
