//! What a key holds: one of Redis's types.
//!
//! `Value` is 24 bytes: a short string lives inside it, and every other type is one pointer to
//! its own allocation. The keyspace entry holds the value inline, so this size is part of the
//! per-key overhead (see `keyspace::entry`); a new variant must box its type too (the test
//! below says so when it does not).

use crate::types::hash::Hash;
use crate::types::heap::block;
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
    Hash(Box<Hash>),
    /// A set.
    Set(Box<Set>),
    /// A sorted set.
    ZSet(Box<ZSet>),
}

impl From<Hash> for Value {
    fn from(h: Hash) -> Value {
        Value::Hash(Box::new(h))
    }
}

impl From<Set> for Value {
    fn from(s: Set) -> Value {
        Value::Set(Box::new(s))
    }
}

impl From<ZSet> for Value {
    fn from(z: ZSet) -> Value {
        Value::ZSet(Box::new(z))
    }
}

impl From<Str> for Value {
    fn from(s: Str) -> Value {
        Value::Str(s)
    }
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

    /// Bytes of heap the value holds beyond its inline size (memory accounting). Kept O(1) by
    /// every type (they maintain their sizes as they change): the keyspace calls it after each
    /// write.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::List(l) => block(std::mem::size_of::<List>()) + l.heap_size(),
            Value::Hash(h) => block(std::mem::size_of::<Hash>()) + h.heap_size(),
            Value::Set(s) => block(std::mem::size_of::<Set>()) + s.heap_size(),
            Value::ZSet(z) => block(std::mem::size_of::<ZSet>()) + z.heap_size(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_stays_small() {
        // Part of every key's cost: box a new type's data rather than growing this.
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }
}
