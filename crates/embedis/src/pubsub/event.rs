//! Keyspace events: every event name Redis 7.0 publishes on `__keyspace@<db>__:<key>` and
//! `__keyevent@<db>__:<event>`, with the `notify-keyspace-events` class that enables it.
//!
//! Commands report events with [`Access::notify`](crate::keyspace::Access::notify) using these
//! variants, so a name cannot be misspelled and its class cannot be wrong; in-process
//! listeners ([`Db::keyspace_events`](crate::Db::keyspace_events)) receive the same values.

use bytes::Bytes;

use crate::config::notify;

macro_rules! events {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, $class:ident; )*) => {
        /// One kind of keyspace event, named as Redis names it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Event {
            $( $(#[$doc])* $variant, )*
        }

        impl Event {
            /// The event name Redis publishes (`set`, `expired`, `rename_from`...).
            pub const fn name(self) -> &'static str {
                match self {
                    $( Event::$variant => $name, )*
                }
            }

            /// The `notify-keyspace-events` class bit ([`crate::config::notify`]) that
            /// enables the event.
            pub const fn class(self) -> u32 {
                match self {
                    $( Event::$variant => notify::$class, )*
                }
            }

            /// Every event, in declaration order.
            pub const ALL: &'static [Event] = &[ $( Event::$variant, )* ];
        }
    };
}

events! {
    /// A key was removed by a command (DEL, UNLINK, GETDEL, EXPIRE in the past, an emptied
    /// store destination...).
    Del => "del", GENERIC;
    /// A TTL was set (EXPIRE family, SET EX, GETEX, SETEX...).
    Expire => "expire", GENERIC;
    /// A TTL was removed (PERSIST, GETEX PERSIST).
    Persist => "persist", GENERIC;
    /// RENAME source.
    RenameFrom => "rename_from", GENERIC;
    /// RENAME destination.
    RenameTo => "rename_to", GENERIC;
    /// MOVE, on the source database.
    MoveFrom => "move_from", GENERIC;
    /// MOVE, on the destination database.
    MoveTo => "move_to", GENERIC;
    /// COPY destination.
    CopyTo => "copy_to", GENERIC;
    /// RESTORE.
    Restore => "restore", GENERIC;
    /// SET and its variants, MSET, BITOP destination.
    Set => "set", STRING;
    /// SETRANGE.
    SetRange => "setrange", STRING;
    /// INCR, DECR, INCRBY, DECRBY.
    IncrBy => "incrby", STRING;
    /// INCRBYFLOAT.
    IncrByFloat => "incrbyfloat", STRING;
    /// APPEND.
    Append => "append", STRING;
    /// SETBIT, BITFIELD writes.
    SetBit => "setbit", STRING;
    /// PFADD, PFMERGE.
    PfAdd => "pfadd", STRING;
    /// LPUSH, LPUSHX, LMOVE/BLMOVE and LMPOP destinations pushed at the head.
    LPush => "lpush", LIST;
    /// RPUSH, RPUSHX, pushes at the tail.
    RPush => "rpush", LIST;
    /// Pops from the head (LPOP, BLPOP, LMOVE source...).
    LPop => "lpop", LIST;
    /// Pops from the tail.
    RPop => "rpop", LIST;
    /// LINSERT.
    LInsert => "linsert", LIST;
    /// LSET.
    LSet => "lset", LIST;
    /// LTRIM.
    LTrim => "ltrim", LIST;
    /// LREM.
    LRem => "lrem", LIST;
    /// SORT ... STORE.
    SortStore => "sortstore", LIST;
    /// SADD, SMOVE destination.
    SAdd => "sadd", SET;
    /// SREM, SMOVE source.
    SRem => "srem", SET;
    /// SPOP.
    SPop => "spop", SET;
    /// SINTERSTORE.
    SInterStore => "sinterstore", SET;
    /// SUNIONSTORE.
    SUnionStore => "sunionstore", SET;
    /// SDIFFSTORE.
    SDiffStore => "sdiffstore", SET;
    /// HSET, HSETNX, HMSET.
    HSet => "hset", HASH;
    /// HDEL.
    HDel => "hdel", HASH;
    /// HINCRBY.
    HIncrBy => "hincrby", HASH;
    /// HINCRBYFLOAT.
    HIncrByFloat => "hincrbyfloat", HASH;
    /// ZADD (without INCR), GEOADD.
    ZAdd => "zadd", ZSET;
    /// ZINCRBY, ZADD INCR.
    ZIncr => "zincr", ZSET;
    /// ZREM.
    ZRem => "zrem", ZSET;
    /// ZREMRANGEBYSCORE.
    ZRemRangeByScore => "zremrangebyscore", ZSET;
    /// ZREMRANGEBYRANK.
    ZRemRangeByRank => "zremrangebyrank", ZSET;
    /// ZREMRANGEBYLEX.
    ZRemRangeByLex => "zremrangebylex", ZSET;
    /// ZPOPMIN, BZPOPMIN, ZMPOP MIN.
    ZPopMin => "zpopmin", ZSET;
    /// ZPOPMAX, BZPOPMAX, ZMPOP MAX.
    ZPopMax => "zpopmax", ZSET;
    /// ZINTERSTORE.
    ZInterStore => "zinterstore", ZSET;
    /// ZUNIONSTORE.
    ZUnionStore => "zunionstore", ZSET;
    /// ZDIFFSTORE.
    ZDiffStore => "zdiffstore", ZSET;
    /// ZRANGESTORE.
    ZRangeStore => "zrangestore", ZSET;
    /// GEORADIUS ... STORE / STOREDIST.
    GeoRadiusStore => "georadiusstore", ZSET;
    /// GEOSEARCHSTORE.
    GeoSearchStore => "geosearchstore", ZSET;
    /// XADD.
    XAdd => "xadd", STREAM;
    /// XTRIM, XADD with trimming.
    XTrim => "xtrim", STREAM;
    /// XDEL.
    XDel => "xdel", STREAM;
    /// XSETID.
    XSetId => "xsetid", STREAM;
    /// XGROUP CREATE.
    XGroupCreate => "xgroup-create", STREAM;
    /// XGROUP CREATECONSUMER (and consumers created by XREADGROUP/XCLAIM).
    XGroupCreateConsumer => "xgroup-createconsumer", STREAM;
    /// XGROUP DELCONSUMER.
    XGroupDelConsumer => "xgroup-delconsumer", STREAM;
    /// XGROUP DESTROY.
    XGroupDestroy => "xgroup-destroy", STREAM;
    /// XGROUP SETID.
    XGroupSetId => "xgroup-setid", STREAM;
    /// A key's TTL passed and it was removed (on access or by the active cycle).
    Expired => "expired", EXPIRED;
    /// A key was evicted to stay under `maxmemory`.
    Evicted => "evicted", EVICTED;
    /// A read command looked up a key that does not exist.
    KeyMiss => "keymiss", KEY_MISS;
    /// A key was created.
    New => "new", NEW;
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One keyspace event as in-process listeners receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    /// The logical database of the key.
    pub db: usize,
    /// What happened.
    pub event: Event,
    /// The key.
    pub key: Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lower_case() {
        let mut seen = std::collections::HashSet::new();
        for e in Event::ALL {
            assert!(seen.insert(e.name()), "{e} twice");
            assert_eq!(e.name(), e.name().to_ascii_lowercase());
            assert_eq!(e.class().count_ones(), 1, "{e}");
        }
    }
}
