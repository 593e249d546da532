//! Test infrastructure for embedis: a raw RESP2/RESP3 client, a real `redis-server` to
//! compare against, embedis-server started in-process, and the differential case runner.
//!
//! - [`frame`]: reply frames exactly as sent (`$-1`, `*-1` and `_` stay distinct) and
//!   their decoder.
//! - [`client`]: a blocking client with timeouts, so a hung server fails a test instead of
//!   hanging CI.
//! - [`redis`]: [`RealRedis`], a redis-server child on a free loopback port.
//! - [`embedis`]: [`Embedis`], embedis-server in this process.
//! - [`cases`], [`compare`], [`runner`]: the case-file format, reply comparison under
//!   directives, and running files against two servers.
//!
//! Typical use in a test:
//!
//! ```no_run
//! use embedis_tests::{Client, RealRedis, Server};
//! let redis = RealRedis::start().unwrap();
//! let mut c = Client::connect(redis.addr()).unwrap();
//! println!("{}", c.cmd("PING").unwrap()); // +PONG
//! ```

pub mod cases;
pub mod client;
pub mod compare;
pub mod embedis;
pub mod frame;
pub mod redis;
pub mod runner;
pub mod server;

pub use client::Client;
pub use embedis::Embedis;
pub use frame::Frame;
pub use redis::{RealRedis, in_ci, redis_available, redis_version};
pub use server::{External, Server};

/// The repository's README, compiled and run as a doc test so that its example stays true.
#[doc = include_str!("../../README.md")]
#[allow(dead_code)]
struct Readme;
