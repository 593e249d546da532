//! Rendering a [`Decision`] as HTTP response headers.
//!
//! - [`ietf`]: `RateLimit-Policy` and `RateLimit` as in draft-ietf-httpapi-ratelimit-headers-11
//!   (structured fields: a list of items, the policy name as an sf-string, parameters `q`
//!   quota, `w` window in seconds, `r` remaining, `t` seconds until reset, and an optional
//!   partition key `pk` as an sf-binary).
//! - [`legacy`]: `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds
//!   until reset, the GitHub-style delta rather than an epoch).
//! - [`retry_after`]: `Retry-After` in whole seconds, rounded up, only on a rejection with
//!   a known wait.
//!
//! Seconds are rounded up: a client told to wait 0 s after a 400 ms wait would retry early.
//!
//! ```
//! use std::time::Duration;
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use embedis_kit::backend::EmbeddedBackend;
//! use embedis_kit::headers;
//! use embedis_kit::limiter::{Limiter, Policy};
//!
//! let limiter = Limiter::builder(EmbeddedBackend::new(embedis::Db::new()))
//!     .policy("default", Policy::fixed_window(100, Duration::from_secs(60)))
//!     .build()
//!     .unwrap();
//! let d = limiter.check("client").await;
//! let h = headers::ietf(&d, None);
//! assert_eq!(h[0].0, "RateLimit-Policy");
//! assert_eq!(h[0].1, "\"default\";q=100;w=60");
//! assert!(h[1].1.starts_with("\"default\";r=99;t="));
//! # });
//! ```

use std::time::Duration;

use crate::limiter::Decision;

fn secs_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// An sf-string: printable ASCII, `"` and `\` escaped; other bytes become `?`.
fn sf_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
    out
}

/// An sf-binary (`:base64:`).
fn sf_binary(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::from(":");
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &x)| n | u32::from(x) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out.push(':');
    out
}

/// `RateLimit-Policy` and `RateLimit` for the deciding policy; `partition_key` adds `pk`.
/// Empty when the decision has no policy.
pub fn ietf(d: &Decision, partition_key: Option<&[u8]>) -> Vec<(&'static str, String)> {
    let Some(p) = &d.policy else {
        return Vec::new();
    };
    let name = sf_string(&p.name);
    let pk = partition_key.map_or(String::new(), |k| format!(";pk={}", sf_binary(k)));
    vec![
        (
            "RateLimit-Policy",
            format!("{name};q={};w={}{pk}", p.limit, secs_up(p.window).max(1)),
        ),
        (
            "RateLimit",
            format!("{name};r={};t={}{pk}", d.remaining, secs_up(d.reset_after)),
        ),
    ]
}

/// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds from now).
pub fn legacy(d: &Decision) -> Vec<(&'static str, String)> {
    vec![
        ("X-RateLimit-Limit", d.limit.to_string()),
        ("X-RateLimit-Remaining", d.remaining.to_string()),
        ("X-RateLimit-Reset", secs_up(d.reset_after).to_string()),
    ]
}

/// `Retry-After` (whole seconds, rounded up) for a rejection with a known wait.
pub fn retry_after(d: &Decision) -> Option<(&'static str, String)> {
    match (d.allowed, d.retry_after) {
        (false, Some(w)) => Some(("Retry-After", secs_up(w).max(1).to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_field_pieces() {
        assert_eq!(sf_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(sf_string("é"), "\"?\"");
        assert_eq!(sf_binary(b"hello"), ":aGVsbG8=:");
        assert_eq!(sf_binary(b"hi!"), ":aGkh:");
        assert_eq!(sf_binary(b""), "::");
        assert_eq!(secs_up(Duration::from_millis(1)), 1);
        assert_eq!(secs_up(Duration::from_secs(2)), 2);
    }
}
