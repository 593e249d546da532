//! CL.* commands end to end through `Db::call`, under a manual clock.

use std::time::Duration;

use crate::reply::Reply;
use crate::types::limiter::Policy;
use crate::{Db, ManualClock};

const T0_US: u64 = 1_700_000_000_000_000;

fn db() -> (Db, ManualClock) {
    let clock = ManualClock::starting_at_micros(T0_US);
    let db = Db::builder()
        .clock(clock.clone())
        .active_expiry(false)
        .build();
    (db, clock)
}

fn ints(r: Reply) -> Vec<i64> {
    match r {
        Reply::Array(v) => v
            .into_iter()
            .map(|x| match x {
                Reply::Int(n) => n,
                other => panic!("not an integer: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

fn err(r: Reply) -> String {
    match r {
        Reply::Error(e) => e.to_string(),
        other => panic!("not an error: {other:?}"),
    }
}

#[test]
fn throttle_follows_redis_cell() {
    let (db, clock) = db();
    // redis-cell's README example.
    assert_eq!(
        ints(db.call(["CL.THROTTLE", "user123", "15", "30", "60"])),
        [0, 16, 15, -1, 2]
    );
    // Stored like redis-cell: the TAT in nanoseconds, TTL in ms.
    let tat = (T0_US as i64 + 2_000_000) * 1000;
    assert_eq!(db.call(["GET", "user123"]), Reply::bulk(tat.to_string()));
    assert_eq!(db.call(["PTTL", "user123"]), Reply::Int(2000));
    // Limit 5, 1 per second: the burst, then one rejected.
    for left in (0..5).rev() {
        let r = ints(db.call(["CL.THROTTLE", "k", "4", "1", "1"]));
        assert_eq!(r[..3], [0, 5, left]);
    }
    assert_eq!(
        ints(db.call(["CL.THROTTLE", "k", "4", "1", "1"])),
        [1, 5, 0, 1, 5]
    );
    clock.advance(Duration::from_millis(3100));
    assert_eq!(
        ints(db.call(["CL.THROTTLE", "k", "4", "1", "1", "1"])),
        [0, 5, 2, -1, 3]
    );
    // Quantity 0 peeks (it rewrites the same TAT).
    assert_eq!(
        ints(db.call(["CL.THROTTLE", "k", "4", "1", "1", "0"])),
        [0, 5, 2, -1, 3]
    );
    // Larger than the tolerance: limited, no retry time.
    assert_eq!(
        ints(db.call(["CL.THROTTLE", "k", "4", "1", "1", "9"])),
        [1, 5, 2, -1, 3]
    );
}

#[test]
fn throttle_errors_are_redis_cells() {
    let (db, _) = db();
    let usage = "Cell error: Store error: Usage: cl.throttle <key> <max_burst> <count per period> <period> [<quantity>]";
    assert_eq!(err(db.call(["CL.THROTTLE"])), usage);
    assert_eq!(err(db.call(["CL.THROTTLE", "k", "1", "2"])), usage);
    assert_eq!(
        err(db.call(["CL.THROTTLE", "k", "1", "2", "3", "4", "5"])),
        usage
    );
    assert_eq!(
        err(db.call(["CL.THROTTLE", "k", "x", "2", "3"])),
        "Cell error: Store error: Couldn't parse as integer: x"
    );
    assert_eq!(
        err(db.call(["CL.THROTTLE", "k", "1", "2", " 3"])),
        "Cell error: Store error: Couldn't parse as integer:  3"
    );
    assert_eq!(
        err(db.call(["CL.THROTTLE", "k", "1", "0", "3"])),
        "Cell error: Store error: Zero rates are not supported"
    );
    db.call(["SET", "s", "abc"]);
    assert_eq!(
        err(db.call(["CL.THROTTLE", "s", "1", "2", "3"])),
        "Cell error: invalid digit found in string"
    );
    db.call(["SET", "e", ""]);
    assert_eq!(
        err(db.call(["CL.THROTTLE", "e", "1", "2", "3"])),
        "Cell error: cannot parse integer from empty string"
    );
    // Rust's parse accepts a leading '+', as redis-cell does.
    assert_eq!(ints(db.call(["CL.THROTTLE", "p", "+1", "2", "3"]))[1], 2);
    // A negative quantity: written, then the expire fails (redis-cell's behaviour).
    assert_eq!(
        err(db.call(["CL.THROTTLE", "n", "5", "5", "60", "-1"])),
        "Cell error: Store error: Error while setting key expire"
    );
    assert_eq!(db.call(["PTTL", "n"]), Reply::Int(-1));
    db.call(["SET", "m", "-1"]);
    assert_eq!(
        err(db.call(["CL.THROTTLE", "m", "5", "5", "60"])),
        "Cell error: Store error: Failed to update rate limit after 5 attempts"
    );
    assert_eq!(db.call(["PTTL", "m"]), Reply::Int(12000));
}

#[test]
fn limit_each_algorithm() {
    let (db, clock) = db();
    // GCRA: burst 2, 10 per second.
    assert_eq!(
        ints(db.call(["CL.LIMIT", "g", "GCRA", "2", "10", "1000"])),
        [0, 2, 1, -1, 100]
    );
    db.call(["CL.LIMIT", "g", "GCRA", "2", "10", "1000"]);
    assert_eq!(
        ints(db.call(["CL.LIMIT", "g", "GCRA", "2", "10", "1000"])),
        [1, 2, 0, 100, 200]
    );
    // Fixed window aligned to 10 s (T0 is a multiple).
    clock.advance(Duration::from_secs(4));
    assert_eq!(
        ints(db.call(["CL.LIMIT", "f", "FIXED", "3", "10000", "COST", "3"])),
        [0, 3, 0, -1, 6000]
    );
    assert_eq!(
        ints(db.call(["CL.LIMIT", "f", "fixed", "3", "10000"])),
        [1, 3, 0, 6000, 6000]
    );
    assert_eq!(db.call(["GET", "f"]), Reply::bulk(format!("{}:3", T0_US)));
    // Token bucket: 4 tokens, 2 per second.
    assert_eq!(
        ints(db.call([
            "CL.LIMIT",
            "t",
            "TOKENBUCKET",
            "4",
            "2",
            "1000",
            "COST",
            "4"
        ])),
        [0, 4, 0, -1, 2000]
    );
    assert_eq!(
        ints(db.call(["CL.LIMIT", "t", "TOKENBUCKET", "4", "2", "1000", "PEEK"])),
        [1, 4, 0, 500, 2000]
    );
    // Sliding log and sliding window counter.
    for key in ["l", "w"] {
        let algo = if key == "l" { "SLIDINGLOG" } else { "SLIDING" };
        assert_eq!(
            ints(db.call(["CL.LIMIT", key, algo, "2", "1000", "COST", "2"]))[..3],
            [0, 2, 0]
        );
        assert_eq!(ints(db.call(["CL.LIMIT", key, algo, "2", "1000"]))[0], 1);
    }
    assert_eq!(db.call(["TYPE", "l"]), Reply::status("string"));
}

#[test]
fn limit_argument_errors() {
    let (db, _) = db();
    assert_eq!(
        err(db.call(["CL.LIMIT", "k", "GCRA", "1"])),
        "ERR wrong number of arguments for 'cl.limit' command"
    );
    assert_eq!(
        err(db.call(["CL.LIMIT", "k", "NOPE", "1", "1"])),
        "ERR syntax error"
    );
    assert_eq!(
        err(db.call(["CL.LIMIT", "k", "FIXED", "1", "1", "COST"])),
        "ERR syntax error"
    );
    assert_eq!(
        err(db.call(["CL.LIMIT", "k", "FIXED", "x", "1"])),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(db.call(["CL.LIMIT", "k", "FIXED", "0", "1"])),
        "ERR invalid rate limit: limit is out of range"
    );
    assert_eq!(
        err(db.call(["CL.LIMIT", "k", "FIXED", "1", "1", "COST", "-1"])),
        "ERR invalid rate limit: cost is out of range"
    );
    assert_eq!(
        err(db.call(["CL.LIMIT", "k", "GCRA", "1", "0", "1"])),
        "ERR invalid rate limit: count is out of range"
    );
    assert_eq!(
        err(db.call(["CL.LIMIT", "k", "FIXED", "1", "9223372036854775807"])),
        "ERR invalid rate limit: duration is out of range"
    );
    db.call(["SET", "s", "hello"]);
    assert_eq!(
        err(db.call(["CL.LIMIT", "s", "FIXED", "1", "1000"])),
        "ERR the key holds a value that is not this rate limiter's state"
    );
    assert_eq!(
        err(db.call(["CL.LIMITALL", "0", "k", "FIXED", "1", "1000"])),
        "ERR invalid rate limit: numkeys must be positive"
    );
    assert_eq!(
        err(db.call(["CL.LIMITALL", "3", "a", "b", "FIXED", "1", "1000"])),
        "ERR syntax error"
    );
    assert_eq!(
        err(db.call([
            "CL.LIMITALL",
            "2",
            "a",
            "a",
            "FIXED",
            "1",
            "1000",
            "FIXED",
            "1",
            "1000"
        ])),
        "ERR the same key appears twice in one rate limit check"
    );
}

#[test]
fn limitall_is_all_or_nothing() {
    let (db, _) = db();
    let call = |cost: &str| {
        db.call([
            "CL.LIMITALL",
            "2",
            "burst",
            "daily",
            "TOKENBUCKET",
            "5",
            "1",
            "1000",
            "FIXED",
            "3",
            "86400000",
            "COST",
            cost,
        ])
    };
    let nested = |r: Reply| match r {
        Reply::Array(v) => v.into_iter().map(ints).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    let r = nested(call("2"));
    assert_eq!((r[0][0], r[0][2], r[1][0], r[1][2]), (0, 3, 0, 1));
    // The daily window rejects 2 more: nothing is charged to the bucket either.
    let r = nested(call("2"));
    assert_eq!((r[0][0], r[0][2], r[1][0], r[1][2]), (0, 3, 1, 1));
    let r = nested(call("1"));
    assert_eq!((r[0][0], r[0][2], r[1][0], r[1][2]), (0, 2, 0, 0));
}

#[test]
fn leases() {
    let (db, clock) = db();
    assert_eq!(
        ints(db.call(["CL.ACQUIRE", "jobs", "2", "a", "1000"])),
        [0, 2, 1, -1, 1000]
    );
    clock.advance(Duration::from_millis(100));
    assert_eq!(
        ints(db.call(["CL.ACQUIRE", "jobs", "2", "b", "1000"]))[0],
        0
    );
    assert_eq!(
        ints(db.call(["CL.ACQUIRE", "jobs", "2", "c", "1000"])),
        [1, 2, 0, 900, 1000]
    );
    assert_eq!(db.call(["CL.RELEASE", "jobs", "a"]), Reply::Int(1));
    assert_eq!(db.call(["CL.RELEASE", "jobs", "a"]), Reply::Int(0));
    assert_eq!(db.call(["CL.RENEW", "jobs", "b", "5000"]), Reply::Int(1));
    assert_eq!(db.call(["CL.RENEW", "jobs", "zz", "5000"]), Reply::Int(0));
    // "b" dies without releasing: its slot frees itself after the TTL.
    clock.advance(Duration::from_millis(5000));
    assert_eq!(db.call(["CL.RENEW", "jobs", "b", "5000"]), Reply::Int(0));
    assert_eq!(db.call(["CL.RELEASE", "jobs", "b"]), Reply::Int(0));
    // The key itself goes at the next whole second.
    clock.advance(Duration::from_millis(1000));
    assert_eq!(db.call(["EXISTS", "jobs"]), Reply::Int(0));
}

#[test]
fn idle_keys_expire() {
    let (db, clock) = db();
    let policies = [
        Policy::gcra(5, 5, Duration::from_secs(1)),
        Policy::fixed_window(5, Duration::from_secs(1)),
        Policy::sliding_window(5, Duration::from_secs(1)),
        Policy::sliding_log(5, Duration::from_secs(1)),
        Policy::token_bucket(5, 5, Duration::from_secs(1)),
    ];
    for ip in 0..100 {
        for (i, p) in policies.iter().enumerate() {
            assert!(db.rate_limit(format!("{i}:{ip}"), p, 1).unwrap().allowed);
        }
    }
    db.lease_acquire("lease", 3, "x", Duration::from_secs(1))
        .unwrap();
    assert_eq!(db.call(["DBSIZE"]), Reply::Int(501));
    clock.advance(Duration::from_secs(3));
    assert_eq!(db.run_active_expiry(), 501);
    assert_eq!(db.call(["DBSIZE"]), Reply::Int(0));
}

#[test]
fn typed_api_and_command_agree() {
    let (db, clock) = db();
    let p = Policy::sliding_window(7, Duration::from_millis(1500));
    for i in 0..40 {
        clock.advance(Duration::from_millis(97));
        let typed = db.rate_limit("a", &p, i % 3).unwrap();
        let cmd = ints(db.call([
            "CL.LIMIT",
            "b",
            "SLIDING",
            "7",
            "1500",
            "COST",
            &(i % 3).to_string(),
        ]));
        assert_eq!(cmd, ints(super::decision_reply(&typed)), "step {i}");
    }
}
