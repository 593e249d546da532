//! Tests of the test harness itself against real redis-servers: the decoder on every RESP3
//! type Redis can send, and the runner's handling of directives and mismatches.

use std::path::PathBuf;

use embedis_tests::runner::{self, Outcome};
use embedis_tests::{Client, Frame, RealRedis, Server, in_ci, redis_available};

fn redis_or_skip() -> bool {
    if redis_available() {
        return true;
    }
    assert!(
        !in_ci(),
        "redis-server is required under CI (CI is set) but is not on PATH"
    );
    eprintln!("SKIPPED: redis-server not found on PATH: harness tests did not run");
    false
}

/// A temporary case file, removed on drop.
struct TempCase(PathBuf);

impl Drop for TempCase {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes `text` to a temporary case file named `name`.
fn case_file(name: &str, text: &str) -> TempCase {
    let p = std::env::temp_dir().join(format!("embedis-harness-{}-{name}", std::process::id()));
    std::fs::write(&p, text).unwrap();
    TempCase(p)
}

#[test]
fn decodes_every_resp3_type_redis_sends() {
    if !redis_or_skip() {
        return;
    }
    let redis = RealRedis::start_with(&["--enable-debug-command", "yes"]).unwrap();
    let mut c = Client::connect(redis.addr()).unwrap();
    assert!(matches!(c.cmd("HELLO 3").unwrap(), Frame::Map(_)));
    let cases: &[(&str, Frame)] = &[
        (
            "DEBUG PROTOCOL string",
            Frame::Bulk(b"Hello World".to_vec()),
        ),
        ("DEBUG PROTOCOL integer", Frame::Int(12345)),
        ("DEBUG PROTOCOL double", Frame::Double(b"3.141".to_vec())),
        (
            "DEBUG PROTOCOL bignum",
            Frame::BigNumber(b"1234567999999999999999999999999999999".to_vec()),
        ),
        ("DEBUG PROTOCOL null", Frame::Null),
        ("DEBUG PROTOCOL true", Frame::Bool(true)),
        ("DEBUG PROTOCOL false", Frame::Bool(false)),
        (
            "DEBUG PROTOCOL verbatim",
            Frame::Verbatim {
                format: b"txt".to_vec(),
                text: b"This is a verbatim\nstring".to_vec(),
            },
        ),
    ];
    for (cmd, want) in cases {
        assert_eq!(&c.cmd(cmd).unwrap(), want, "{cmd}");
    }
    assert!(matches!(c.cmd("DEBUG PROTOCOL map").unwrap(), Frame::Map(m) if m.len() == 3));
    assert!(matches!(c.cmd("DEBUG PROTOCOL set").unwrap(), Frame::Set(s) if s.len() == 3));
    match c.cmd("DEBUG PROTOCOL attrib").unwrap() {
        Frame::Attribute { attrs, reply } => {
            assert_eq!(attrs.len(), 1);
            assert_eq!(
                *reply,
                Frame::Bulk(b"Some real reply following the attribute".to_vec())
            );
        }
        other => panic!("expected an attribute, got {other}"),
    }
    // Pub/sub messages are push frames in RESP3.
    match c.cmd("SUBSCRIBE ch").unwrap() {
        Frame::Push(v) => assert_eq!(v[0], Frame::Bulk(b"subscribe".to_vec())),
        other => panic!("expected a push, got {other}"),
    }
    // RESP2 nulls stay distinct from each other.
    let mut c2 = Client::connect(redis.addr()).unwrap();
    assert_eq!(c2.cmd("GET missing").unwrap(), Frame::NullBulk);
    assert_eq!(c2.cmd("BLPOP missing 0.01").unwrap(), Frame::NullArray);
}

#[test]
fn directives_hold_between_two_redis_servers() {
    if !redis_or_skip() {
        return;
    }
    let (a, b) = (RealRedis::start().unwrap(), RealRedis::start().unwrap());
    let path = case_file(
        "directives.txt",
        r#"# every directive, binary data, RESP3, and a closed connection
SET "key with spaces" "line\r\nbreak\x00binary"
GET "key with spaces"
SET k ""
GET k
---
SADD s a b c d e f g h i j k l m n o p
!unordered SMEMBERS s
!unordered KEYS *
SET t v EX 100
!approx 1 TTL t
!shape TIME
!skip CLIENT SETNAME x
!shape CLIENT ID
---
HELLO 3
GET nothing
!shape HELLO 3
QUIT
GET k
"#,
    );
    let report = runner::run_files(std::slice::from_ref(&path.0), &a, &b);
    assert!(report.ok(), "{report}");
    assert_eq!(
        (report.files, report.scenarios, report.commands),
        (1, 3, 17)
    );
}

#[test]
fn every_mismatch_is_reported_with_file_line_command_and_both_replies() {
    if !redis_or_skip() {
        return;
    }
    // The second server has 4 databases: SELECT 5 and anything after it differ.
    let a = RealRedis::start().unwrap();
    let b = RealRedis::start_with(&["--databases", "4"]).unwrap();
    let path = case_file(
        "mismatch.txt",
        "SET k v\nGET k\nSELECT 5\nGET k\n---\nSELECT 9\n!shape SELECT 1\nCONFIG GET databases\n",
    );
    let report = runner::run_files(std::slice::from_ref(&path.0), &a, &b);
    let lines: Vec<usize> = report.mismatches.iter().map(|m| m.line).collect();
    assert_eq!(lines, [3, 4, 6, 8], "{report}");
    assert_eq!(
        report.mismatches[0].left,
        Outcome::Reply(Frame::Simple(b"OK".to_vec()))
    );
    assert_eq!(
        report.mismatches[0].right,
        Outcome::Reply(Frame::Error(b"ERR DB index is out of range".to_vec()))
    );
    let text = report.to_string();
    assert!(text.contains("mismatch.txt:3: SELECT 5\n"), "{text}");
    assert!(text.contains("-ERR DB index is out of range"), "{text}");
    assert!(
        text.contains("mismatch.txt:8: CONFIG GET databases\n"),
        "{text}"
    );
    assert!(text.contains(r#"*[$"databases", $"16"]"#), "{text}");
    assert!(
        text.ends_with("1 files, 2 scenarios, 7 commands, 4 mismatches, 0 errors"),
        "{text}"
    );
}

#[test]
fn unparsable_case_files_are_errors_not_silence() {
    if !redis_or_skip() {
        return;
    }
    let a = RealRedis::start().unwrap();
    let path = case_file("broken.txt", "GET k\n!sorted KEYS *\n");
    let report = runner::run_files(std::slice::from_ref(&path.0), &a, &a);
    assert!(!report.ok());
    assert!(
        report.errors[0].contains("broken.txt:2: unknown directive"),
        "{report}"
    );
}

#[test]
fn redis_is_killed_on_drop() {
    if !redis_or_skip() {
        return;
    }
    let r = RealRedis::start().unwrap();
    let addr = r.addr();
    assert_eq!(
        Client::connect(addr).unwrap().cmd("PING").unwrap(),
        Frame::Simple(b"PONG".to_vec())
    );
    drop(r);
    assert!(
        Client::connect(addr)
            .and_then(|mut c| c.cmd("PING"))
            .is_err()
    );
}
