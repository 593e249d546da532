//! The optional near cache: an in-process L1 of stored entries in front of a remote
//! backend, bounded in size and in age, invalidated by this process's own writes.
//!
//! It does not see other processes' writes: an entry may be up to the near TTL out of date
//! after another instance changes the key. embedis-server has no `CLIENT TRACKING`, and
//! redis-rs's connection manager does not route RESP3 invalidation pushes to a cache, so
//! server-assisted invalidation is not offered; keep the near TTL short where other
//! instances write.

use std::collections::HashMap;

use bytes::Bytes;
use parking_lot::Mutex;

struct Slot {
    bytes: Bytes,
    until_ms: i64,
}

pub(crate) struct Near {
    map: Mutex<HashMap<Vec<u8>, Slot>>,
    capacity: usize,
    ttl_ms: i64,
}

impl Near {
    pub(crate) fn new(capacity: usize, ttl_ms: i64) -> Self {
        Near {
            map: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            ttl_ms,
        }
    }

    pub(crate) fn get(&self, key: &[u8], now_ms: i64) -> Option<Bytes> {
        let mut map = self.map.lock();
        match map.get(key) {
            Some(s) if s.until_ms > now_ms => Some(s.bytes.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn put(&self, key: &[u8], bytes: Bytes, now_ms: i64) {
        let mut map = self.map.lock();
        if map.len() >= self.capacity && !map.contains_key(key) {
            map.retain(|_, s| s.until_ms > now_ms);
            if map.len() >= self.capacity {
                // Full of live entries: drop an arbitrary one (hash order is effectively
                // random), which keeps the bound without LRU bookkeeping on every hit.
                if let Some(k) = map.keys().next().cloned() {
                    map.remove(&k);
                }
            }
        }
        map.insert(
            key.to_vec(),
            Slot {
                bytes,
                until_ms: now_ms.saturating_add(self.ttl_ms),
            },
        );
    }

    pub(crate) fn remove(&self, key: &[u8]) {
        self.map.lock().remove(key);
    }

    pub(crate) fn remove_prefix(&self, prefix: &[u8]) {
        self.map.lock().retain(|k, _| !k.starts_with(prefix));
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_aging() {
        let n = Near::new(2, 100);
        n.put(b"a", Bytes::from_static(b"1"), 0);
        n.put(b"b", Bytes::from_static(b"2"), 0);
        n.put(b"c", Bytes::from_static(b"3"), 0);
        assert_eq!(n.len(), 2);
        assert_eq!(n.get(b"c", 50).as_deref(), Some(&b"3"[..]));
        assert!(n.get(b"c", 100).is_none());
        n.put(b"p:1", Bytes::new(), 0);
        n.remove_prefix(b"p:");
        assert!(n.get(b"p:1", 0).is_none());
    }
}
