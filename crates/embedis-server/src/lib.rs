//! `embedis-server`: the embedis engine behind a RESP2/RESP3 socket, for redis-cli,
//! redis-benchmark and every Redis client library.
//!
//! ```no_run
//! let config = embedis_server::ServerConfig::from_args(["--port", "0"].map(String::from)).unwrap();
//! let server = embedis_server::spawn(config).unwrap();
//! println!("listening on {}", server.addr());
//! server.db().call(["SET", "k", "v"]); // the same data, in-process
//! server.shutdown();
//! ```
//!
//! # Layout
//! - [`config`]: [`ServerConfig`], read from redis-server style arguments and files.
//! - [`server`]: [`spawn`], [`ServerHandle`], accepting, `maxclients`, idle timeouts, stopping.
//! - `conn`: one connection's read, execute, write loop.
//! - [`parse`]: the incremental request parser (multibulk and inline), Redis's limits and
//!   protocol errors.
//! - [`encode`]: replies to RESP2 and RESP3 bytes.

pub mod config;
mod conn;
pub mod encode;
pub mod parse;
pub mod server;

pub use config::{ClockMode, ServerConfig};
pub use server::{ServerHandle, ShutdownTrigger, spawn, spawn_with};
