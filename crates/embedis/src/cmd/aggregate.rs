//! What the commands of aggregate types (hash, set, and sorted set) share: the member hasher,
//! per-command randomness, the HSCAN/SSCAN/ZSCAN cursor and options, and the RANDMEMBER-style
//! count rules.

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::{Ctx, args};
use crate::error::{self, Error, Result};
use crate::keyspace::Access;
use crate::reply::Reply;
use crate::types::bytetable::MemberHasher;

/// The hasher for member and field tables, keyed by the engine's seed (see
/// [`crate::types::bytetable`]).
pub fn member_hasher(a: &Access<'_>) -> MemberHasher {
    MemberHasher::with_seed(a.keyspace().hash(b"embedis member hasher"))
}

/// A generator for one command's random choices, seeded from the engine's generator: one
/// lock of the engine's RNG per command however many picks it makes, and reproducible
/// when the engine is seeded.
pub fn rng(ctx: &Ctx<'_, '_>) -> SmallRng {
    SmallRng::seed_from_u64(ctx.engine().random_u64())
}

/// The most elements a random-with-repeats reply (SRANDMEMBER, HRANDFIELD with a negative
/// count) may hold. Redis has no limit and streams such a reply until memory runs out; here
/// the reply is built in memory first, so an absurd count is refused instead.
pub const MAX_RANDOM_REPLY: u64 = 1 << 22;

/// Reads the count of SRANDMEMBER/HRANDFIELD (ZRANDMEMBER): any integer but `i64::MIN`
/// (Redis accepts `-LONG_MAX..=LONG_MAX`).
pub fn random_count(arg: &[u8]) -> Result<i64> {
    let n = args::int(arg)?;
    if n == i64::MIN {
        return Err(error::RANDOM_COUNT_RANGE);
    }
    Ok(n)
}

/// Refuses a negative count beyond [`MAX_RANDOM_REPLY`] (checked only once there is
/// something to pick from, so every Redis error and empty reply comes first).
pub fn check_repeats(picks: u64) -> Result<()> {
    if picks > MAX_RANDOM_REPLY {
        return Err(error::RANDOM_COUNT_TOO_LARGE);
    }
    Ok(())
}

/// Parses a SCAN-family cursor like Redis (`strtoull` in base 10): no leading space, an
/// optional sign (a negative cursor wraps, as in C), digits, and nothing after them but what
/// follows a NUL byte (C stops reading there). The empty string is cursor 0.
pub fn parse_cursor(arg: &[u8]) -> Result<u64> {
    let arg = match memchr::memchr(0, arg) {
        Some(nul) => &arg[..nul],
        None => arg,
    };
    if arg.is_empty() {
        return Ok(0);
    }
    if matches!(arg[0], b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c') {
        return Err(error::INVALID_CURSOR);
    }
    let (negative, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(error::INVALID_CURSOR);
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((d - b'0') as u64))
            .ok_or(error::INVALID_CURSOR)?;
    }
    Ok(if negative { v.wrapping_neg() } else { v })
}

/// HSCAN/SSCAN/ZSCAN options.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// COUNT: roughly how many elements one call returns (default 10).
    pub count: usize,
    /// MATCH: a glob pattern; `None` for none or `*`.
    pub pattern: Option<Bytes>,
}

impl ScanOptions {
    /// Defaults: COUNT 10, no pattern.
    pub fn new() -> Self {
        ScanOptions {
            count: 10,
            pattern: None,
        }
    }

    /// Whether `item` passes the MATCH filter.
    pub fn matches(&self, item: &[u8]) -> bool {
        match &self.pattern {
            None => true,
            Some(p) => crate::glob::matches(p, item, false),
        }
    }
}

/// Parses `[MATCH pattern] [COUNT count]` from `args[from..]`, as Redis's
/// `scanGenericCommand`: later options override earlier ones, COUNT below 1 and anything
/// unknown (TYPE included) are syntax errors.
pub fn parse_scan_options(args: &[Bytes], from: usize) -> Result<ScanOptions> {
    let mut opts = ScanOptions::new();
    let mut i = from;
    while i < args.len() {
        let more = args.len() - i >= 2;
        if more && args::is(&args[i], "count") {
            let n = args::int(&args[i + 1])?;
            if n < 1 {
                return Err(Error::Syntax);
            }
            opts.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if more && args::is(&args[i], "match") {
            let p = &args[i + 1];
            opts.pattern = (p.as_ref() != b"*").then(|| p.clone());
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    Ok(opts)
}

/// The reply of a SCAN-family command: the next cursor as a bulk string, then the elements.
pub fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::copy_from_slice(
            itoa::Buffer::new().format(cursor).as_bytes(),
        )),
        Reply::Array(items),
    ])
}

/// Runs `f` under the lock that `keys` need: the one shard when they are all the same key,
/// every shard otherwise.
pub fn with_keys<R>(
    ctx: &mut Ctx<'_, '_>,
    keys: &[impl AsRef<[u8]>],
    f: impl FnOnce(&mut Access<'_>) -> R,
) -> R {
    match keys.split_first() {
        Some((first, rest)) if rest.iter().all(|k| k.as_ref() == first.as_ref()) => {
            ctx.key(first.as_ref(), f)
        }
        _ => ctx.all(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoull() {
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"00"), Ok(0));
        assert_eq!(parse_cursor(b"+5"), Ok(5));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"7\0junk"), Ok(7));
        for bad in [
            &b"18446744073709551616"[..],
            b" 1",
            b"1 ",
            b"0x1",
            b"-",
            b"+",
            b"abc",
        ] {
            assert_eq!(parse_cursor(bad), Err(error::INVALID_CURSOR));
        }
    }

    #[test]
    fn scan_options() {
        let a = |v: &[&str]| {
            v.iter()
                .map(|s| Bytes::from(s.to_string()))
                .collect::<Vec<_>>()
        };
        let o = parse_scan_options(&a(&["match", "a*", "COUNT", "5", "match", "*"]), 0).unwrap();
        assert_eq!(o.count, 5);
        assert!(o.pattern.is_none());
        assert_eq!(
            parse_scan_options(&a(&["count", "0"]), 0).unwrap_err(),
            Error::Syntax
        );
        assert_eq!(
            parse_scan_options(&a(&["count", "x"]), 0).unwrap_err(),
            Error::NotInteger
        );
        assert_eq!(
            parse_scan_options(&a(&["type", "hash"]), 0).unwrap_err(),
            Error::Syntax
        );
        assert_eq!(
            parse_scan_options(&a(&["match"]), 0).unwrap_err(),
            Error::Syntax
        );
    }

    #[test]
    fn random_counts() {
        assert_eq!(random_count(b"-3"), Ok(-3));
        assert_eq!(random_count(b"-9223372036854775807"), Ok(-i64::MAX));
        assert_eq!(
            random_count(b"-9223372036854775808"),
            Err(error::RANDOM_COUNT_RANGE)
        );
        assert_eq!(random_count(b"x"), Err(Error::NotInteger));
        assert!(check_repeats(MAX_RANDOM_REPLY).is_ok());
        assert!(
            error::RANDOM_COUNT_TOO_LARGE
                .to_string()
                .contains(&MAX_RANDOM_REPLY.to_string())
        );
        assert_eq!(
            check_repeats(MAX_RANDOM_REPLY + 1),
            Err(error::RANDOM_COUNT_TOO_LARGE)
        );
    }
}
