//! Unit tests of the cache's pure parts; behaviour on every backend is tested in
//! `tests/tests/kit_cache.rs`.

use super::*;
use crate::backend::EmbeddedBackend;

fn cache(seed: u64) -> Cache<EmbeddedBackend> {
    Cache::builder(EmbeddedBackend::new(embedis::Db::new()))
        .seed(seed)
        .build()
        .unwrap()
}

#[test]
fn glob_escape_matches_only_itself() {
    let p = glob_escape(b"a*b?[c]\\d");
    assert_eq!(p, b"a\\*b\\?\\[c\\]\\\\d");
    assert!(embedis::glob::matches(&p, b"a*b?[c]\\d", false));
    assert!(!embedis::glob::matches(&p, b"aXb?[c]\\d", false));
}

#[test]
fn keys_share_the_namespace_hash_tag() {
    let c = cache(1);
    assert_eq!(c.value_key("user:1"), b"{cache}:v:user:1");
    assert_eq!(c.tag_key("users"), b"{cache}:t:users");
    assert_eq!(c.index_key(b"user:1"), b"{cache}:i:user:1");
    assert!(
        Cache::builder(EmbeddedBackend::new(embedis::Db::new()))
            .namespace("a{b")
            .build()
            .is_err()
    );
}

#[test]
fn xfetch_probability_grows_towards_expiry() {
    let c = cache(42);
    let rate = |now: i64| (0..10_000).filter(|_| c.xfetch(now, 10_000, 100)).count();
    // P(refresh) = exp(-(expiry - now) / (delta * beta)).
    assert_eq!(rate(0), 0);
    let near = rate(9_900); // exp(-1) ~ 0.37
    assert!((3_300..4_100).contains(&near), "{near}");
    assert_eq!(rate(10_000), 10_000);
    let off = Cache::builder(EmbeddedBackend::new(embedis::Db::new()))
        .xfetch_beta(0.0)
        .build()
        .unwrap();
    assert!(!off.xfetch(9_999, 10_000, 100));
}
