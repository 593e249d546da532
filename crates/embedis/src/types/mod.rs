//! Pure data structures behind each Redis type. Nothing here knows about RESP, commands or
//! locking; `cmd/` parses requests and calls into these.

pub mod bitmap;
pub mod bytetable;
pub mod hash;
pub mod heap;
pub mod hll;
pub mod limiter;
pub mod list;
pub mod packed;
pub mod set;
pub mod string;
pub mod zset;
