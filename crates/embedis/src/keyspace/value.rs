//! What a key holds: one of Redis's types.

use crate::types::hash::Hash;
use crate::types::list::List;
use crate::types::set::Set;
use crate::types::string::Str;
use crate::types::zset::ZSet;

/// The value stored under a key.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A string (also what bitmaps and HyperLogLogs are stored as).
    Str(Str),
    /// A list. Boxed so that a list costs string keys nothing: `Value` stays as small as its
    /// largest inline variant, and a list's deque header lives with its chunks.
    List(Box<List>),
    /// A hash.
    Hash(Hash),
    /// A set.
    Set(Set),
    /// A sorted set.
    ZSet(ZSet),
}

impl Value {
    /// The name TYPE replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// The name OBJECT ENCODING replies with.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            // Redis 7.0 always encodes lists as a quicklist (7.2 added small listpacks).
            Value::List(_) => "quicklist",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }

    /// Bytes of heap the value holds beyond its inline size (memory accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::List(l) => std::mem::size_of::<List>() + l.heap_size(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::ZSet(z) => z.heap_size(),
        }
    }
}
