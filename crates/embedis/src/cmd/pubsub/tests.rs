//! Pub/sub commands through sessions: replies queued as pushes, the RESP2 subscribed-mode
//! rule, PUBSUB introspection. Expected shapes were checked against redis-server 7.0.15.

use bytes::Bytes;

use crate::reply::Reply;
use crate::{Db, Session};

fn db() -> Db {
    Db::builder().active_expiry(false).seed(1).build()
}

fn run(s: &mut Session, line: &str) -> Reply {
    let args: Vec<Bytes> = line
        .split(' ')
        .filter(|a| !a.is_empty())
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect();
    s.execute(&args)
}

fn b(s: &str) -> Reply {
    Reply::bulk(s)
}

fn ack(kind: &str, ch: Option<&str>, n: i64) -> Reply {
    Reply::Push(vec![b(kind), ch.map_or(Reply::Nil, b), Reply::Int(n)])
}

fn drain(s: &mut Session) -> Vec<Reply> {
    let p = s.pushes();
    std::iter::from_fn(|| p.try_next()).collect()
}

fn err(r: Reply) -> String {
    match r {
        Reply::Error(e) => e.to_string(),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn subscribe_replies_are_pushes_in_order() {
    let db = db();
    let mut s = db.session();
    s.state.authenticated = true;
    assert_eq!(run(&mut s, "SUBSCRIBE a b a"), Reply::Pushed);
    assert_eq!(run(&mut s, "PSUBSCRIBE p*"), Reply::Pushed);
    assert_eq!(run(&mut s, "SSUBSCRIBE s"), Reply::Pushed);
    assert_eq!(
        drain(&mut s),
        vec![
            ack("subscribe", Some("a"), 1),
            ack("subscribe", Some("b"), 2),
            ack("subscribe", Some("a"), 2),
            ack("psubscribe", Some("p*"), 3),
            ack("ssubscribe", Some("s"), 1),
        ]
    );
    assert_eq!(s.state.subscriptions(), (2, 1, 1));
    db.publish("a", "1");
    db.publish("px", "2");
    db.spublish("s", "3");
    assert_eq!(
        drain(&mut s),
        vec![
            Reply::Push(vec![b("message"), b("a"), b("1")]),
            Reply::Push(vec![b("pmessage"), b("p*"), b("px"), b("2")]),
            Reply::Push(vec![b("smessage"), b("s"), b("3")]),
        ]
    );
    run(&mut s, "UNSUBSCRIBE x");
    run(&mut s, "UNSUBSCRIBE");
    run(&mut s, "UNSUBSCRIBE");
    run(&mut s, "PUNSUBSCRIBE");
    run(&mut s, "SUNSUBSCRIBE");
    assert_eq!(
        drain(&mut s),
        vec![
            ack("unsubscribe", Some("x"), 3),
            ack("unsubscribe", Some("a"), 2),
            ack("unsubscribe", Some("b"), 1),
            ack("unsubscribe", None, 1),
            ack("punsubscribe", Some("p*"), 0),
            ack("sunsubscribe", Some("s"), 0),
        ]
    );
    assert!(!s.state.is_subscribed());
    assert_eq!(db.engine().pubsub().channel_count(), 0);
}

#[test]
fn resp2_subscribed_mode_allows_only_some_commands() {
    let db = db();
    let mut s = db.session();
    s.state.authenticated = true;
    run(&mut s, "SUBSCRIBE a");
    assert_eq!(
        err(run(&mut s, "GET x")),
        "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    );
    assert!(err(run(&mut s, "CLIENT LIST")).starts_with("ERR Can't execute 'client|list'"));
    // Unknown commands and arity errors come first.
    assert!(err(run(&mut s, "NOPE")).starts_with("ERR unknown command"));
    assert!(err(run(&mut s, "GET")).starts_with("ERR wrong number"));
    assert_eq!(run(&mut s, "PING"), Reply::Array(vec![b("pong"), b("")]));
    assert_eq!(
        run(&mut s, "PING hi"),
        Reply::Array(vec![b("pong"), b("hi")])
    );
    assert_eq!(run(&mut s, "RESET"), Reply::status("RESET"));
    assert!(!s.state.is_subscribed());
    assert_eq!(db.engine().pubsub().numsub(b"a"), 0);
    assert_eq!(run(&mut s, "GET x"), Reply::Nil);
    assert_eq!(run(&mut s, "PING"), Reply::status("PONG"));
}

#[test]
fn resp3_clients_run_anything_and_get_their_own_messages() {
    let db = db();
    let mut s = db.session();
    s.state.authenticated = true;
    s.state.resp = 3;
    run(&mut s, "SUBSCRIBE a");
    drain(&mut s);
    assert_eq!(run(&mut s, "PUBLISH a hi"), Reply::Int(1));
    assert_eq!(
        drain(&mut s),
        vec![Reply::Push(vec![b("message"), b("a"), b("hi")])]
    );
    assert_eq!(run(&mut s, "GET x"), Reply::Nil);
    assert_eq!(run(&mut s, "PING"), Reply::status("PONG"));
}

#[test]
fn dropping_a_session_unsubscribes() {
    let db = db();
    {
        let mut s = db.session();
        s.state.authenticated = true;
        run(&mut s, "SUBSCRIBE a b");
        run(&mut s, "PSUBSCRIBE *");
        assert_eq!(db.publish("a", "x"), 2);
    }
    assert_eq!(db.publish("a", "x"), 0);
    assert_eq!(db.engine().pubsub().numpat(), 0);
    // Db::call has a throwaway client: its subscription ends with the call.
    assert_eq!(db.call(["SUBSCRIBE", "c"]), Reply::Pushed);
    assert_eq!(db.publish("c", "x"), 0);
}

#[test]
fn pubsub_introspection() {
    let db = db();
    let mut s1 = db.session();
    let mut s2 = db.session();
    run(&mut s1, "SUBSCRIBE a b");
    run(&mut s2, "SUBSCRIBE a");
    run(&mut s2, "PSUBSCRIBE x* y*");
    run(&mut s1, "PSUBSCRIBE x*");
    run(&mut s1, "SSUBSCRIBE s1 s2");
    let unordered = |r: Reply| match r {
        Reply::Array(mut v) => {
            v.sort_by_key(|r| format!("{r:?}"));
            v
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        unordered(db.call(["PUBSUB", "CHANNELS"])),
        vec![b("a"), b("b")]
    );
    assert_eq!(
        db.call(["PUBSUB", "CHANNELS", "b*"]),
        Reply::Array(vec![b("b")])
    );
    assert_eq!(
        db.call(["PUBSUB", "NUMSUB", "a", "b", "zz"]),
        Reply::Array(vec![
            b("a"),
            Reply::Int(2),
            b("b"),
            Reply::Int(1),
            b("zz"),
            Reply::Int(0)
        ])
    );
    assert_eq!(db.call(["PUBSUB", "NUMSUB"]), Reply::Array(vec![]));
    assert_eq!(db.call(["PUBSUB", "NUMPAT"]), Reply::Int(2));
    assert_eq!(
        unordered(db.call(["PUBSUB", "SHARDCHANNELS"])),
        vec![b("s1"), b("s2")]
    );
    assert_eq!(
        db.call(["PUBSUB", "SHARDNUMSUB", "s1"]),
        Reply::Array(vec![b("s1"), Reply::Int(1)])
    );
    assert_eq!(
        err(db.call(["PUBSUB", "CHANNELS", "a", "b"])),
        "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP."
    );
    assert_eq!(db.call(["PUBLISH", "x1", "m"]), Reply::Int(2));
    assert_eq!(db.call(["PUBLISH", "a", "m"]), Reply::Int(2));
    let info = db.info("stats");
    assert!(info.contains("pubsub_channels:2\r\npubsub_patterns:2\r\npubsubshard_channels:2\r\n"));
    match db.call(["PUBSUB", "HELP"]) {
        Reply::Array(lines) => assert_eq!(lines.len(), 14),
        other => panic!("{other:?}"),
    }
}

#[test]
fn output_limit_config_like_redis() {
    let db = db();
    let get = |db: &Db| db.config_get(&["client-output-buffer-limit"])[0].1.clone();
    assert_eq!(
        get(&db),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
    db.config_set(&[("client-output-buffer-limit", "pubsub 1mb 512kb 10")])
        .unwrap();
    assert_eq!(
        get(&db),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 10"
    );
    assert_eq!(
        db.engine().pubsub().output_limit(),
        crate::pubsub::OutputLimit {
            hard: 1048576,
            soft: 524288,
            soft_seconds: 10
        }
    );
    db.config_set(&[("client-output-buffer-limit", "replica 1 2 3 PUBSUB 4 5 6")])
        .unwrap();
    assert_eq!(get(&db), "normal 0 0 0 slave 1 2 3 pubsub 4 5 6");
    for (value, reason) in [
        (
            "pubsub 1 2",
            "Wrong number of arguments in buffer limit configuration.",
        ),
        (
            "foo 1 2 3",
            "Invalid client class specified in buffer limit configuration.",
        ),
        (
            "pubsub -1 2 3",
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
        ),
        (
            "pubsub 1 2 x",
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
        ),
    ] {
        let e = db
            .config_set(&[("client-output-buffer-limit", value)])
            .unwrap_err()
            .to_string();
        assert!(e.ends_with(reason), "{value}: {e}");
    }
}

#[test]
fn commands_emit_keyspace_events_for_each_family() {
    // A sample per family; tests/tests (pubsub differential) compares every command with a
    // real Redis.
    let db = db();
    db.config_set(&[("notify-keyspace-events", "KEA")]).unwrap();
    let sub = db.psubscribe(["__keyevent@*"]);
    let events = |cmds: &[&[&str]]| -> Vec<String> {
        for c in cmds {
            db.call(c.iter().copied());
        }
        std::iter::from_fn(|| sub.try_next())
            .map(|m| {
                let ch = String::from_utf8_lossy(&m.channel).into_owned();
                format!(
                    "{}={}",
                    &ch["__keyevent@0__:".len()..],
                    String::from_utf8_lossy(&m.payload)
                )
            })
            .collect()
    };
    assert_eq!(
        events(&[&["INCR", "n"], &["APPEND", "n", "0"]]),
        ["incrby=n", "append=n"]
    );
    assert_eq!(events(&[&["SETBIT", "b", "1", "1"]]), ["setbit=b"]);
    assert_eq!(
        events(&[&["HSET", "h", "f", "v"], &["HDEL", "h", "f"]]),
        ["hset=h", "hdel=h", "del=h"]
    );
    assert_eq!(
        events(&[&["SADD", "s", "a"], &["SMOVE", "s", "t", "a"]]),
        ["sadd=s", "srem=s", "del=s", "sadd=t"]
    );
    assert_eq!(
        events(&[&["RENAME", "t", "u"], &["EXPIRE", "u", "0"]]),
        ["rename_from=t", "rename_to=u", "del=u"]
    );
}

#[test]
fn inside_exec_replies_are_part_of_the_exec_reply() {
    let db = db();
    let e = db.engine().clone();
    let mut s = db.session();
    let cmd = crate::cmd::table().get(b"subscribe").unwrap();
    let mut held = e.keyspace.lock_all(&e.stats, 0, 0);
    let one = crate::db::run(
        &e,
        &mut s.state,
        cmd,
        &[Bytes::from("subscribe"), Bytes::from("a")],
        Some(&mut held),
    );
    assert_eq!(one, ack("subscribe", Some("a"), 1));
    let two = crate::db::run(
        &e,
        &mut s.state,
        cmd,
        &[Bytes::from("subscribe"), Bytes::from("b"), Bytes::from("c")],
        Some(&mut held),
    );
    assert_eq!(
        two,
        Reply::Frames(vec![
            ack("subscribe", Some("b"), 2),
            ack("subscribe", Some("c"), 3)
        ])
    );
    drop(held);
    assert!(drain(&mut s).is_empty(), "nothing queued twice");
    assert_eq!(db.publish("c", "x"), 1);
    assert_eq!(
        drain(&mut s),
        vec![Reply::Push(vec![b("message"), b("c"), b("x")])]
    );
}
