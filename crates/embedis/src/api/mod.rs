//! The typed in-process API: `db.get(..)`, `db.set(..)`, ... Each method locks like the
//! command does and calls the same `*_exec` function the command handler calls, so the typed
//! API and `Db::call` cannot disagree.

mod bitmap;
pub mod bzpop;
mod compare;
mod hash;
mod hll;
mod keys;
mod limiter;
pub mod list;
mod persist;
mod pubsub;
mod scripting;
mod server;
mod set;
mod sort;
mod string;
mod transaction;

pub use transaction::Transaction;
mod zset;

pub use zset::Scored;
