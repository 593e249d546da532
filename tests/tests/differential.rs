//! Runs every scenario of `tests/cases/*.txt` against a real redis-server and against
//! embedis-server, requiring identical replies (see `tests/cases/README.md`).
//!
//! Without redis-server on PATH the comparison cannot run: under CI (`CI` set) that is a
//! failure, elsewhere a loud skip. `EMBEDIS_CASES=string,keys` runs only the case files
//! whose name contains one of the given words.

use std::path::PathBuf;

use embedis_tests::cases::{self, case_paths, cases_dir};
use embedis_tests::runner;
use embedis_tests::{External, RealRedis, Server, in_ci, redis_available, redis_version};

/// A started redis-server, or `None` (after saying so loudly) when none is installed and we
/// are not under CI.
fn reference() -> Option<RealRedis> {
    if !redis_available() {
        assert!(
            !in_ci(),
            "redis-server is required for the differential tests under CI (CI is set), but it \
             is not on PATH: install Redis 7.0 (`apt-get install redis-server`; .ci/run does it)"
        );
        eprintln!();
        eprintln!("==================================================================");
        eprintln!("  SKIPPED: redis-server not found on PATH: differential tests");
        eprintln!("  did not run. Install Redis 7.0 to run them.");
        eprintln!("==================================================================");
        eprintln!();
        return None;
    }
    let version = redis_version().unwrap_or_default();
    if !version.contains("v=7.0.") {
        eprintln!("warning: the reference should be Redis 7.0, found: {version}");
    }
    Some(RealRedis::start().expect("start redis-server"))
}

/// The case files to run, filtered by `EMBEDIS_CASES`.
fn selected_cases() -> Vec<PathBuf> {
    let all = case_paths(&cases_dir()).expect("read tests/cases");
    let Ok(filter) = std::env::var("EMBEDIS_CASES") else {
        return all;
    };
    let words: Vec<&str> = filter
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect();
    all.into_iter()
        .filter(|p| {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            words.iter().any(|w| name.contains(w))
        })
        .collect()
}

#[test]
fn case_files_parse() {
    let errors: Vec<String> = selected_cases()
        .iter()
        .filter_map(|p| cases::load(p).err())
        .collect();
    assert!(
        errors.is_empty(),
        "case files with syntax errors:\n{}",
        errors.join("\n")
    );
}

#[test]
fn embedis_matches_redis() {
    let Some(redis) = reference() else { return };
    let embedis = embedis_tests::Embedis::start().expect("start embedis-server");
    let report = runner::run_files(&selected_cases(), &redis, &embedis);
    eprintln!("{}", report.summary());
    assert!(report.ok(), "embedis differs from Redis:\n{report}");
}

/// Two real Redis servers must agree on every case: a case that fails here depends on
/// something Redis itself does not fix (time, randomness, client ids) and needs a directive.
#[test]
fn cases_are_deterministic_on_redis() {
    let Some(a) = reference() else { return };
    let b = RealRedis::start().expect("start a second redis-server");
    // Shift the second server's client ids, so that a line whose reply shows a client id
    // (HELLO, CLIENT ID, CLIENT INFO) fails here as it would against embedis.
    for _ in 0..5 {
        let mut c = embedis_tests::Client::connect(b.addr()).expect("connect to redis#2");
        c.cmd("PING").expect("PING redis#2");
    }
    let b_named = External {
        addr: b.addr(),
        name: "redis#2".into(),
    };
    let report = runner::run_files(&selected_cases(), &a, &b_named);
    eprintln!("{}", report.summary());
    assert!(
        report.ok(),
        "these cases get different replies from two real Redis servers; give them a \
         directive (!approx, !shape, !unordered) or make them deterministic:\n{report}"
    );
}
