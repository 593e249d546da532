//! The typed in-process API: `db.get(..)`, `db.set(..)`, ... Each method locks like the
//! command does and calls the same `*_exec` function the command handler calls, so the typed
//! API and `Db::call` cannot disagree.

mod bitmap;
mod compare;
mod hash;
mod keys;
mod limiter;
mod persist;
mod pubsub;
mod server;
mod set;
mod string;
mod zset;

pub use zset::Scored;
