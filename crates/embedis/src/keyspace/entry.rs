//! One key's entry: key, value, TTL and LRU/LFU metadata in 56 bytes, allocated once.
//!
//! Per-key overhead is what decides how many keys fit in a memory budget, so the layout is
//! compact while staying in safe Rust:
//!
//! - the hash table holds a thin `Box<Entry>` per key (8 bytes a bucket, plus hashbrown's
//!   control byte), and the entry is one 56-byte allocation (a 64-byte malloc chunk);
//! - the key sits inside the entry when it is short (up to [`INLINE_KEY`] bytes, or
//!   [`INLINE_KEY_TTL`] for a key with a TTL), else in its own allocation;
//! - the TTL takes space in the entry only when the key has one, in room a short key leaves;
//! - the value ([`Value`], 24 bytes) holds a short string itself (`types::string::StrBytes`);
//! - 32 bits of metadata serve LRU or LFU, whichever the `maxmemory-policy` uses, as in Redis
//!   (see `keyspace::evict` for their meaning).
//!
//! For 1M keys like `key:000000000001` with 3-byte values that is 64 bytes of entry plus 9 to
//! 19 bytes of table per key (hashbrown keeps its load between 7/16 and 7/8), against the
//! 88.5 bytes Redis 7.0 takes; `benches/memory.sh` measures both.

use super::value::Value;
use crate::types::heap::block;

/// Longest key stored inside the entry when it has no TTL.
pub const INLINE_KEY: usize = 26;
/// Longest key stored inside the entry when it has a TTL.
pub const INLINE_KEY_TTL: usize = 18;

/// The key, TTL and metadata of an entry.
#[derive(Clone)]
enum Slot {
    /// A short key without TTL.
    Inline {
        meta: u32,
        len: u8,
        buf: [u8; INLINE_KEY],
    },
    /// A short key with a TTL.
    InlineTtl {
        meta: u32,
        len: u8,
        buf: [u8; INLINE_KEY_TTL],
        at: u64,
    },
    /// A longer key; `at` is 0 without TTL.
    Heap { meta: u32, key: Box<[u8]>, at: u64 },
}

impl Slot {
    fn new(key: &[u8], at: u64, meta: u32) -> Slot {
        if at == 0 && key.len() <= INLINE_KEY {
            let mut buf = [0; INLINE_KEY];
            buf[..key.len()].copy_from_slice(key);
            Slot::Inline {
                meta,
                len: key.len() as u8,
                buf,
            }
        } else if at != 0 && key.len() <= INLINE_KEY_TTL {
            let mut buf = [0; INLINE_KEY_TTL];
            buf[..key.len()].copy_from_slice(key);
            Slot::InlineTtl {
                meta,
                len: key.len() as u8,
                buf,
                at,
            }
        } else {
            Slot::Heap {
                meta,
                key: key.into(),
                at,
            }
        }
    }

    fn key(&self) -> &[u8] {
        match self {
            Slot::Inline { len, buf, .. } => &buf[..*len as usize],
            Slot::InlineTtl { len, buf, .. } => &buf[..*len as usize],
            Slot::Heap { key, .. } => key,
        }
    }

    fn at(&self) -> u64 {
        match self {
            Slot::Inline { .. } => 0,
            Slot::InlineTtl { at, .. } | Slot::Heap { at, .. } => *at,
        }
    }

    fn meta(&self) -> u32 {
        match self {
            Slot::Inline { meta, .. } | Slot::InlineTtl { meta, .. } | Slot::Heap { meta, .. } => {
                *meta
            }
        }
    }

    fn meta_mut(&mut self) -> &mut u32 {
        match self {
            Slot::Inline { meta, .. } | Slot::InlineTtl { meta, .. } | Slot::Heap { meta, .. } => {
                meta
            }
        }
    }
}

/// A key with its value and metadata.
#[derive(Clone)]
pub struct Entry {
    slot: Slot,
    /// The value.
    pub value: Value,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("value", &self.value)
            .field("expire_at", &self.expire_at())
            .finish()
    }
}

impl Entry {
    /// A new entry; `expire_at` 0 means no TTL, `meta` is the LRU/LFU word.
    pub(crate) fn new(key: &[u8], value: Value, expire_at: u64, meta: u32) -> Entry {
        Entry {
            slot: Slot::new(key, expire_at, meta),
            value,
        }
    }

    /// The key.
    #[inline]
    pub fn key(&self) -> &[u8] {
        self.slot.key()
    }

    /// Absolute expiry in Unix milliseconds, if the key is volatile.
    #[inline]
    pub fn expire_at(&self) -> Option<u64> {
        let at = self.slot.at();
        (at != 0).then_some(at)
    }

    /// The expiry as stored: 0 without TTL.
    #[inline]
    pub(crate) fn expire_raw(&self) -> u64 {
        self.slot.at()
    }

    /// Changes the expiry (0: none), moving the key in or out of the entry as room allows.
    /// Only [`super::Table`] calls this, keeping its expiry index in step.
    pub(crate) fn set_expire_raw(&mut self, at: u64) {
        match &mut self.slot {
            Slot::InlineTtl { at: a, .. } if at != 0 => *a = at,
            Slot::Heap { at: a, key, .. } if at != 0 || key.len() > INLINE_KEY => *a = at,
            Slot::Inline { .. } if at == 0 => {}
            _ => self.slot = Slot::new(self.slot.key(), at, self.slot.meta()),
        }
    }

    /// Like Redis (`keyIsExpired`: `now > when`), a key lives through its expiry
    /// millisecond, with PTTL 0, and is gone only once the time is past it.
    #[inline]
    pub(crate) fn is_expired(&self, now_ms: u64) -> bool {
        let at = self.slot.at();
        at != 0 && at < now_ms
    }

    /// The LRU/LFU word (see `keyspace::evict`).
    #[inline]
    pub(crate) fn meta(&self) -> u32 {
        self.slot.meta()
    }

    #[inline]
    pub(crate) fn set_meta(&mut self, meta: u32) {
        *self.slot.meta_mut() = meta;
    }

    /// Bytes this entry costs: its allocation, the key's own allocation if it has one, and
    /// the value's heap (MEMORY USAGE adds the table slot; `used_memory` sums these).
    pub fn memory_usage(&self) -> usize {
        let key = match &self.slot {
            Slot::Heap { key, .. } => block(key.len()),
            _ => 0,
        };
        ENTRY_BLOCK + key + self.value.heap_size()
    }
}

/// What the allocation of one [`Entry`] costs.
pub const ENTRY_BLOCK: usize = block(std::mem::size_of::<Entry>());

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::string::Str;

    fn sv(s: &str) -> Value {
        Value::Str(Str::from_bytes(s.as_bytes()))
    }

    #[test]
    fn layout_is_compact() {
        assert_eq!(std::mem::size_of::<Entry>(), 56);
        assert_eq!(ENTRY_BLOCK, 64);
        let e = Entry::new(b"key:000000000001", sv("xxx"), 0, 7);
        assert_eq!(e.memory_usage(), 64);
    }

    #[test]
    fn keys_move_in_and_out_with_ttl() {
        for len in [0, 1, 17, 18, 19, 26, 27, 100] {
            let key = vec![b'k'; len];
            let mut e = Entry::new(&key, sv("v"), 0, 9);
            assert_eq!((e.key(), e.expire_at(), e.meta()), (&key[..], None, 9));
            e.set_expire_raw(1234);
            assert_eq!(
                (e.key(), e.expire_at(), e.meta()),
                (&key[..], Some(1234), 9)
            );
            e.set_expire_raw(u64::MAX);
            assert_eq!(e.expire_at(), Some(u64::MAX));
            assert!(!e.is_expired(u64::MAX) && !e.is_expired(5));
            e.set_expire_raw(10);
            assert!(e.is_expired(11) && !e.is_expired(10));
            e.set_expire_raw(u64::MAX);
            e.set_meta(3);
            e.set_expire_raw(0);
            assert_eq!((e.key(), e.expire_at(), e.meta()), (&key[..], None, 3));
            let heap = len > INLINE_KEY;
            assert_eq!(e.memory_usage() > 64, heap, "len {len}");
        }
    }
}
