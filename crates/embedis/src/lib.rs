//! Redis in your process.
//!
//! `embedis` is a keyspace engine with Redis's data model and semantics that runs inside your
//! program: no socket, no external process, no async runtime required. The same engine
//! powers `embedis-server`, a RESP server that redis-cli and every Redis client can use.
//!
//! ```
//! use embedis::{Db, Reply};
//!
//! let db = Db::new();
//! assert_eq!(db.call(["SET", "visits", "41"]), Reply::Ok);
//! assert_eq!(db.call(["INCR", "visits"]), Reply::Int(42));
//! ```
//!
//! # Layout
//!
//! - [`api`]: typed methods on [`Db`] (`get`, `set`, `del`...), over the same exec functions.
//! - [`db`]: the [`Db`] handle, [`DbBuilder`], [`Session`] (per-client state) and dispatch.
//! - [`clock`]: the injected [`Clock`]; [`ManualClock`] moves TTLs and TIME in tests.
//! - [`keyspace`]: shards of hash tables, entries, TTL index, lazy and active expiry. Read
//!   its docs for the locking scheme that makes every command atomic.
//! - [`types`]: pure data structures for each Redis type (no RESP, no locking).
//! - [`cmd`]: the command table and one file per command family; handlers return
//!   [`Reply`] values.
//! - [`error`]: every error reply and its exact Redis text, in one enum.
//! - [`reply`]: the reply value type (RESP2/RESP3 shapes without the bytes).
//! - [`glob`]: Redis's glob matching (KEYS, SCAN MATCH, CONFIG GET, COMMAND LIST, PSUBSCRIBE).
//! - [`num`]: integers and doubles parsed and formatted exactly like Redis.
//! - [`blocking`]: clients blocked in BLPOP and friends: FIFO queues per key, serving,
//!   timeouts.
//! - [`pubsub`]: the pub/sub broker, keyspace notifications and in-process subscriptions.
//! - [`clients`]: the registry of connected clients (CLIENT LIST/KILL, INFO clients).
//! - [`config`], [`stats`]: CONFIG values and INFO counters; [`slowlog`]: SLOWLOG.
//! - [`glob`]: Redis's glob patterns (KEYS, CONFIG GET, COMMAND LIST).
//! - [`script`]: Lua scripting (EVAL, FUNCTION/FCALL) with Redis 7.0's environment.

pub mod api;
pub mod blocking;
pub mod clients;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod db;
pub mod error;
pub mod glob;
pub mod keyspace;
pub mod num;
pub mod persist;
pub mod pubsub;
pub mod reply;
pub mod script;
pub mod slowlog;
pub mod stats;
pub mod types;

pub use api::Transaction;
pub use blocking::BlockedCall;
pub use clock::{Clock, ManualClock, SystemClock};
pub use db::{ClientState, Db, DbBuilder, Engine, Execution, Session};
pub use error::{Error, Result};
pub use reply::Reply;

/// The Redis version whose behaviour embedis reproduces, reported where Redis reports its own
/// version (HELLO, INFO): client libraries read it to decide which commands to use.
pub const REDIS_VERSION: &str = "7.0.15";
