//! The stored form of a cache entry: a small binary header (what kind of entry, when it
//! stops being fresh, how long it took to load) in front of the codec's bytes.
//!
//! ```text
//! 0xEC 0x01 | kind (1 byte) | fresh_until ms (i64 BE) | load delta ms (u32 BE) | payload
//! ```
//!
//! The backend key lives longer than `fresh_until` by the stale grace period, so a reader
//! can tell fresh from stale without a second round trip (PTTL). Anything that does not
//! parse is reported as malformed, never trusted.

/// Header length in bytes.
pub(crate) const HEADER: usize = 2 + 1 + 8 + 4;
const MAGIC: [u8; 2] = [0xEC, 0x01];

/// What an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A value.
    Value,
    /// "Known absent" (negative caching).
    Absent,
}

/// A parsed header with its payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Envelope<'a> {
    pub kind: Kind,
    pub fresh_until_ms: i64,
    pub delta_ms: u32,
    pub payload: &'a [u8],
}

/// Starts an entry: the header, to which the codec appends the payload.
pub(crate) fn header(kind: Kind, fresh_until_ms: i64, delta_ms: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + 64);
    out.extend_from_slice(&MAGIC);
    out.push(match kind {
        Kind::Value => 0,
        Kind::Absent => 1,
    });
    out.extend_from_slice(&fresh_until_ms.to_be_bytes());
    out.extend_from_slice(&delta_ms.to_be_bytes());
    out
}

/// Parses an entry; `None` if it is not one this cache wrote.
pub(crate) fn parse(bytes: &[u8]) -> Option<Envelope<'_>> {
    if bytes.len() < HEADER || bytes[..2] != MAGIC {
        return None;
    }
    let kind = match bytes[2] {
        0 => Kind::Value,
        1 => Kind::Absent,
        _ => return None,
    };
    let fresh_until_ms = i64::from_be_bytes(bytes[3..11].try_into().ok()?);
    let delta_ms = u32::from_be_bytes(bytes[11..15].try_into().ok()?);
    Some(Envelope {
        kind,
        fresh_until_ms,
        delta_ms,
        payload: &bytes[HEADER..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let mut b = header(Kind::Value, 1_700_000_000_123, 42);
        b.extend_from_slice(b"payload");
        let e = parse(&b).unwrap();
        assert_eq!(
            (e.kind, e.fresh_until_ms, e.delta_ms, e.payload),
            (Kind::Value, 1_700_000_000_123, 42, &b"payload"[..])
        );
        assert!(parse(b"").is_none());
        assert!(parse(b"plain string from elsewhere").is_none());
        let mut bad = b.clone();
        bad[2] = 9;
        assert!(parse(&bad).is_none());
        assert!(parse(&b[..HEADER - 1]).is_none());
        assert_eq!(parse(&b[..HEADER]).unwrap().payload, b"");
    }
}
