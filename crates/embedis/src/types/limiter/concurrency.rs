//! Concurrency limiter: at most `max` leases held at once. A lease is taken with a
//! time-to-live and an id chosen by the caller; it ends when released or when its time runs
//! out, so a holder that dies without releasing frees its slot after `ttl`. Holders of long
//! tasks renew their lease.
//!
//! A lease counts while `now < expires`. Natively the leases are a binary string (tag byte,
//! then per lease: expiry as 8 little-endian bytes, id length as 4, the id); the Lua scripts
//! keep a sorted set scored by expiry. Both decide the same.

use super::{Decision, Micros};

/// Longest lease id accepted (bytes).
pub const MAX_LEASE_ID: usize = 512;

const TAG: u8 = 0xF5;

/// One held lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// When it ends if not renewed or released.
    pub expires: Micros,
    /// The holder's id.
    pub id: Vec<u8>,
}

fn drop_expired(leases: &mut Vec<Lease>, now: Micros) {
    leases.retain(|l| l.expires > now);
}

/// Slots left and time until the last live lease ends.
fn summary<'a>(live: impl Iterator<Item = &'a Lease>, max: i64, now: Micros) -> (i64, Micros) {
    let (held, last) = live.fold((0i64, None::<Micros>), |(n, last), l| {
        (
            n + 1,
            Some(last.map_or(l.expires, |t: Micros| t.max(l.expires))),
        )
    });
    ((max - held).max(0), last.map_or(0, |t| t - now))
}

/// Takes (or, if `id` already holds one, renews) a lease of `ttl`. Rejected when `max`
/// leases are held; `retry_after` is then the time until the earliest one expires (it may
/// be released sooner). `leases` changes only when the lease is granted (expired leases
/// are dropped then too).
pub fn acquire(leases: &mut Vec<Lease>, now: Micros, max: i64, id: &[u8], ttl: Micros) -> Decision {
    let live = |l: &&Lease| l.expires > now;
    let held = leases.iter().filter(live).count() as i64;
    let mine = leases.iter().filter(live).any(|l| l.id == id);
    if !mine && held >= max {
        let (remaining, reset_after) = summary(leases.iter().filter(live), max, now);
        return Decision {
            allowed: false,
            limit: max,
            remaining,
            reset_after,
            retry_after: leases.iter().filter(live).map(|l| l.expires - now).min(),
        };
    }
    drop_expired(leases, now);
    match leases.iter_mut().find(|l| l.id == id) {
        Some(l) => l.expires = now + ttl,
        None => leases.push(Lease {
            expires: now + ttl,
            id: id.to_vec(),
        }),
    }
    let (remaining, reset_after) = summary(leases.iter(), max, now);
    Decision {
        allowed: true,
        limit: max,
        remaining,
        reset_after,
        retry_after: None,
    }
}

/// Ends the lease `id`; true if it was held (and not expired).
pub fn release(leases: &mut Vec<Lease>, now: Micros, id: &[u8]) -> bool {
    drop_expired(leases, now);
    let before = leases.len();
    leases.retain(|l| l.id != id);
    leases.len() != before
}

/// Extends the lease `id` to `now + ttl`; false if it is not held (expired or released).
pub fn renew(leases: &mut [Lease], now: Micros, id: &[u8], ttl: Micros) -> bool {
    match leases.iter_mut().find(|l| l.id == id && l.expires > now) {
        Some(l) => {
            l.expires = now + ttl;
            true
        }
        None => false,
    }
}

/// Reads the stored leases; `None` if the bytes are not a lease list.
pub fn decode(b: &[u8]) -> Option<Vec<Lease>> {
    let (&tag, mut rest) = b.split_first()?;
    if tag != TAG {
        return None;
    }
    let mut out = Vec::new();
    while !rest.is_empty() {
        if rest.len() < 12 {
            return None;
        }
        let expires = i64::from_le_bytes(rest[..8].try_into().ok()?);
        let len = u32::from_le_bytes(rest[8..12].try_into().ok()?) as usize;
        rest = &rest[12..];
        if rest.len() < len {
            return None;
        }
        out.push(Lease {
            expires,
            id: rest[..len].to_vec(),
        });
        rest = &rest[len..];
    }
    Some(out)
}

/// Writes leases in the format [`decode`] reads.
pub fn encode(leases: &[Lease], out: &mut Vec<u8>) {
    out.clear();
    out.push(TAG);
    for l in leases {
        out.extend_from_slice(&l.expires.to_le_bytes());
        out.extend_from_slice(&(l.id.len() as u32).to_le_bytes());
        out.extend_from_slice(&l.id);
    }
}

/// The time after which no lease is held (the key may expire then).
pub fn expire_at(leases: &[Lease]) -> Option<Micros> {
    leases.iter().map(|l| l.expires).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_limit_expire_and_renew() {
        let mut l = Vec::new();
        assert!(acquire(&mut l, 0, 2, b"a", 100).allowed);
        let d = acquire(&mut l, 10, 2, b"b", 100);
        assert!(d.allowed);
        assert_eq!((d.remaining, d.reset_after), (0, 100));
        let d = acquire(&mut l, 20, 2, b"c", 100);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Some(80));
        // Re-acquiring an id already held renews it.
        assert!(acquire(&mut l, 30, 2, b"a", 100).allowed);
        assert_eq!(l.len(), 2);
        assert!(release(&mut l, 40, b"b"));
        assert!(!release(&mut l, 40, b"b"));
        assert!(acquire(&mut l, 50, 2, b"c", 100).allowed);
        // "a" expires at 130: a dead holder frees its slot.
        assert!(!renew(&mut l, 130, b"a", 100));
        assert!(acquire(&mut l, 130, 2, b"d", 100).allowed);
        assert!(renew(&mut l, 140, b"c", 1000));
        let mut buf = Vec::new();
        encode(&l, &mut buf);
        assert_eq!(decode(&buf), Some(l.clone()));
        assert_eq!(decode(b"\xF5\x01"), None);
        assert_eq!(expire_at(&l), Some(1140));
    }
}
