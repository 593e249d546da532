//! Server commands through `Db::call` and sessions. Expected replies were recorded from
//! redis-server 7.0.15; `against_reference_redis` replays `tests/cases/server.txt` against a
//! running one.

use std::time::Duration;

use super::command_data;
use super::*;
use crate::cmd::table;
use crate::reply::Reply;
use crate::{Db, ManualClock, Session};

/// RESP bytes of a reply, as Redis 7.0 sends them (enough for comparing in tests).
pub(crate) fn resp(r: &Reply, proto: u8, out: &mut Vec<u8>) {
    use std::io::Write;
    let resp3 = proto == 3;
    let agg = |out: &mut Vec<u8>, kind: u8, items: &[Reply]| {
        let _ = write!(out, "{}{}\r\n", kind as char, items.len());
        for i in items {
            resp(i, proto, out);
        }
    };
    match r {
        Reply::Ok => out.extend_from_slice(b"+OK\r\n"),
        Reply::Status(s) => {
            let _ = write!(out, "+{s}\r\n");
        }
        Reply::Error(e) => {
            let _ = write!(out, "-{e}\r\n");
        }
        Reply::Int(n) => {
            let _ = write!(out, ":{n}\r\n");
        }
        Reply::Bulk(b) => {
            let _ = write!(out, "${}\r\n", b.len());
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Nil if resp3 => out.extend_from_slice(b"_\r\n"),
        Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
        Reply::NilArray if resp3 => out.extend_from_slice(b"_\r\n"),
        Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
        Reply::Array(v) => agg(out, b'*', v),
        Reply::Set(v) => agg(out, if resp3 { b'~' } else { b'*' }, v),
        Reply::Push(v) => agg(out, if resp3 { b'>' } else { b'*' }, v),
        Reply::Map(pairs) => {
            if resp3 {
                let _ = write!(out, "%{}\r\n", pairs.len());
            } else {
                let _ = write!(out, "*{}\r\n", pairs.len() * 2);
            }
            for (k, v) in pairs {
                resp(k, proto, out);
                resp(v, proto, out);
            }
        }
        Reply::Double(d) => {
            let s = crate::num::fmt_f64_17g(*d);
            if resp3 {
                let _ = write!(out, ",{s}\r\n");
            } else {
                let _ = write!(out, "${}\r\n{s}\r\n", s.len());
            }
        }
        Reply::Bool(b) if resp3 => {
            let _ = write!(out, "#{}\r\n", if *b { 't' } else { 'f' });
        }
        Reply::Bool(b) => {
            let _ = write!(out, ":{}\r\n", *b as u8);
        }
        Reply::Verbatim(b) if resp3 => {
            let _ = write!(out, "={}\r\ntxt:", b.len() + 4);
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Verbatim(b) => resp(&Reply::Bulk(b.clone()), proto, out),
        Reply::BigNumber(b) if resp3 => {
            out.push(b'(');
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
        Reply::BigNumber(b) => resp(&Reply::Bulk(b.clone()), proto, out),
        #[allow(unreachable_patterns)]
        _ => out.extend_from_slice(b"-ERR unencodable\r\n"),
    }
}

fn resp_string(r: &Reply, proto: u8) -> String {
    let mut out = Vec::new();
    resp(r, proto, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn db() -> Db {
    Db::builder().active_expiry(false).seed(1).build()
}

fn call(db: &Db, cmd: &str) -> Reply {
    db.call(cmd.split(' ').filter(|s| !s.is_empty()))
}

fn err(r: Reply) -> String {
    match r {
        Reply::Error(e) => e.to_string(),
        other => panic!("expected an error, got {other:?}"),
    }
}

const HIDDEN_FLAGS: u32 = MAY_REPLICATE | SENTINEL;

/// Every row of the command table (all families) says what Redis 7.0 says: arity, flags and
/// key positions. A mistake in any family's row fails here.
#[test]
fn table_rows_match_redis() {
    let mut problems = Vec::new();
    for c in table().all() {
        let Some(d) = command_data::lookup(c.full_name) else {
            // Our own commands (`embedis.*`) are not Redis's.
            if !c.full_name.contains('.') {
                problems.push(format!("{}: not a Redis 7.0 command", c.full_name));
            }
            continue;
        };
        let s = c.spec;
        if s.arity as i64 != d.arity {
            problems.push(format!(
                "{}: arity {} (Redis {})",
                c.full_name, s.arity, d.arity
            ));
        }
        let ours: Vec<&str> = crate::cmd::flags::NAMES
            .iter()
            .filter(|(bit, _)| s.flags & bit & !HIDDEN_FLAGS != 0)
            .map(|(_, n)| *n)
            .collect();
        if ours != d.flags {
            problems.push(format!(
                "{}: flags {ours:?} (Redis {:?})",
                c.full_name, d.flags
            ));
        }
        let keys = (s.first_key as i64, s.last_key as i64, s.step as i64);
        if keys != (d.first_key, d.last_key, d.step) {
            problems.push(format!(
                "{}: keys {keys:?} (Redis {:?})",
                c.full_name,
                (d.first_key, d.last_key, d.step)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn command_info_and_docs_are_redis_bytes() {
    let db = db();
    // Recorded from redis-server 7.0.15 (RESP2).
    assert_eq!(
        resp_string(&call(&db, "COMMAND INFO get nosuch"), 2),
        "*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
         *3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n\
         +RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n\
         $4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n\
         $5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n\
         $5\r\nlimit\r\n:0\r\n*0\r\n$-1\r\n"
    );
    let docs = resp_string(&call(&db, "COMMAND DOCS get"), 3);
    assert_eq!(
        docs,
        "%1\r\n$3\r\nget\r\n%5\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n\
         $5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n\
         $4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n%3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\n\
         type\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n"
    );
    assert_eq!(resp_string(&call(&db, "COMMAND DOCS nosuch"), 2), "*0\r\n");
    // Subcommands are ours only; CONFIG REWRITE is not implemented.
    let config_docs = resp_string(&call(&db, "COMMAND DOCS config"), 2);
    assert!(config_docs.contains("config|get") && !config_docs.contains("config|rewrite"));
    let Reply::Array(info) = call(&db, "COMMAND INFO CONFIG|GET") else {
        panic!()
    };
    assert!(matches!(&info[0], Reply::Array(v) if v[0] == Reply::bulk("config|get")));
    assert_eq!(
        call(&db, "COMMAND INFO client|nosuch config|get|x"),
        Reply::Array(vec![Reply::Nil, Reply::Nil])
    );
}

#[test]
fn command_count_list_and_help() {
    let db = db();
    let top = table().commands().count() as i64;
    assert_eq!(call(&db, "COMMAND COUNT"), Reply::Int(top));
    let Reply::Array(all) = call(&db, "COMMAND") else {
        panic!()
    };
    assert_eq!(all.len() as i64, top);
    let Reply::Array(list) = call(&db, "COMMAND LIST") else {
        panic!()
    };
    assert_eq!(list.len(), table().all().len());
    assert_eq!(
        call(&db, "COMMAND LIST FILTERBY PATTERN slowlog|l*"),
        Reply::Array(vec![Reply::bulk("slowlog|len")])
    );
    let Reply::Array(admin) = call(&db, "COMMAND LIST FILTERBY ACLCAT ADMIN") else {
        panic!()
    };
    assert!(admin.contains(&Reply::bulk("config|set")) && !admin.contains(&Reply::bulk("get")));
    assert_eq!(
        call(&db, "COMMAND LIST FILTERBY ACLCAT nosuch"),
        Reply::Array(vec![])
    );
    assert_eq!(
        call(&db, "COMMAND LIST FILTERBY MODULE x"),
        Reply::Array(vec![])
    );
    for bad in [
        "COMMAND LIST FILTERBY",
        "COMMAND LIST foo",
        "COMMAND LIST FILTERBY foo x",
        "COMMAND LIST FILTERBY PATTERN a b",
    ] {
        assert_eq!(err(call(&db, bad)), "ERR syntax error", "{bad}");
    }
    assert_eq!(
        err(call(&db, "COMMAND COUNT x")),
        "ERR wrong number of arguments for 'command|count' command"
    );
    assert_eq!(
        err(call(&db, "COMMAND foo")),
        "ERR unknown subcommand 'foo'. Try COMMAND HELP."
    );
    let Reply::Array(help) = call(&db, "COMMAND HELP") else {
        panic!()
    };
    assert_eq!(help.len(), 21);
}

#[test]
fn getkeys_like_redis() {
    let db = db();
    let keys = |c: &str| call(&db, c);
    let b = Reply::bulk;
    assert_eq!(keys("COMMAND GETKEYS GET k"), Reply::Array(vec![b("k")]));
    assert_eq!(
        keys("COMMAND GETKEYS del a b c"),
        Reply::Array(vec![b("a"), b("b"), b("c")])
    );
    assert_eq!(
        keys("COMMAND GETKEYS MEMORY USAGE k"),
        Reply::Array(vec![b("k")])
    );
    assert_eq!(
        keys("COMMAND GETKEYSANDFLAGS set a b get"),
        Reply::Array(vec![Reply::Array(vec![
            b("a"),
            Reply::Set(vec![
                Reply::status("RW"),
                Reply::status("access"),
                Reply::status("update")
            ])
        ])])
    );
    assert_eq!(
        keys("COMMAND GETKEYSANDFLAGS set a b"),
        Reply::Array(vec![Reply::Array(vec![
            b("a"),
            Reply::Set(vec![Reply::status("OW"), Reply::status("update")])
        ])])
    );
    for (cmd, e) in [
        ("COMMAND GETKEYS nosuch a", "ERR Invalid command specified"),
        (
            "COMMAND GETKEYS config nosuch",
            "ERR Invalid command specified",
        ),
        (
            "COMMAND GETKEYS ping x",
            "ERR The command has no key arguments",
        ),
        (
            "COMMAND GETKEYS config get x",
            "ERR The command has no key arguments",
        ),
        (
            "COMMAND GETKEYS get a b",
            "ERR Invalid number of arguments specified for command",
        ),
        (
            "COMMAND GETKEYS memory usage",
            "ERR Invalid number of arguments specified for command",
        ),
        (
            "COMMAND GETKEYS get",
            "ERR wrong number of arguments for 'command|getkeys' command",
        ),
    ] {
        assert_eq!(err(keys(cmd)), e, "{cmd}");
    }
}

#[test]
fn config_get_like_redis() {
    let db = db();
    let get = |c: &str| resp_string(&call(&db, c), 2);
    assert_eq!(
        get("CONFIG GET maxmemory"),
        "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    );
    assert_eq!(
        get("CONFIG GET MAXMEMORY"),
        "*2\r\n$9\r\nMAXMEMORY\r\n$1\r\n0\r\n"
    );
    assert_eq!(get("CONFIG GET hz HZ h?"), "*2\r\n$2\r\nhz\r\n$2\r\n10\r\n");
    assert_eq!(get("CONFIG GET nosuch"), "*0\r\n");
    assert_eq!(
        resp_string(&call(&db, "CONFIG GET hz"), 3),
        "%1\r\n$2\r\nhz\r\n$2\r\n10\r\n"
    );
    let names = |c: &str| match call(&db, c) {
        Reply::Map(pairs) => pairs
            .into_iter()
            .map(|(k, _)| match k {
                Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
                _ => String::new(),
            })
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    let mut ziplist = names("CONFIG GET *ziplist*");
    ziplist.sort();
    assert_eq!(
        ziplist,
        [
            "hash-max-ziplist-entries",
            "hash-max-ziplist-value",
            "list-max-ziplist-size",
            "zset-max-ziplist-entries",
            "zset-max-ziplist-value"
        ]
    );
    assert_eq!(
        names("CONFIG GET *-entries").len(),
        // hash, zset (name and alias each), set-max-intset, stream-node.
        6
    );
    assert_eq!(
        names("CONFIG GET hash-max-ziplist-entries hash-max-listpack-entries").len(),
        2
    );
}

#[test]
fn config_set_like_redis() {
    let db = db();
    assert_eq!(
        call(
            &db,
            "CONFIG SET maxmemory 100mb maxmemory-policy ALLKEYS-LRU"
        ),
        Reply::Ok
    );
    assert_eq!(
        db.config_get(&["maxmemory", "maxmemory-policy"]),
        vec![
            ("maxmemory".into(), "104857600".into()),
            ("maxmemory-policy".into(), "allkeys-lru".into())
        ]
    );
    assert_eq!(
        err(call(&db, "CONFIG SET maxmemory 1 foo")),
        "ERR syntax error"
    );
    assert_eq!(
        err(call(&db, "CONFIG SET hz")),
        "ERR wrong number of arguments for 'config|set' command"
    );
    assert_eq!(
        err(call(&db, "CONFIG SET foo bar")),
        "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
    );
    assert_eq!(
        err(call(&db, "CONFIG SET notify-keyspace-events xyz")),
        "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
    );
    // requirepass keeps AUTH's requirement in step.
    call(&db, "CONFIG SET requirepass pw");
    assert!(
        db.engine()
            .auth_required
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    let mut s = db.session();
    assert_eq!(
        err(s.execute(&[Bytes::from_static(b"DBSIZE")])),
        "NOAUTH Authentication required."
    );
    call(&db, "CONFIG SET requirepass \"\"");
    call(&db, "CONFIG SET requirepass");
    db.config_set(&[("requirepass", "")]).unwrap();
    assert!(
        !db.engine()
            .auth_required
            .load(std::sync::atomic::Ordering::Relaxed)
    );
}

#[test]
fn config_resetstat_clears_counters() {
    let db = db();
    call(&db, "SET a 1");
    call(&db, "GET a");
    call(&db, "NOSUCH");
    assert!(db.info("stats").contains("keyspace_hits:1"));
    assert!(db.info("errorstats").contains("errorstat_ERR:count=1"));
    assert!(db.info("commandstats").contains("cmdstat_get:calls=1,"));
    assert_eq!(call(&db, "CONFIG RESETSTAT"), Reply::Ok);
    let info = db.info("all");
    assert!(info.contains("keyspace_hits:0"));
    assert!(!info.contains("errorstat_ERR"));
    // Only CONFIG RESETSTAT's own call, counted after it ran.
    assert!(!info.contains("cmdstat_get:"));
    assert!(info.contains("cmdstat_config|resetstat:calls=1,"));
}

#[test]
fn info_sections_and_format() {
    let clock = ManualClock::starting_at_micros(1_700_000_000_000_000);
    let db = Db::builder()
        .clock(clock.clone())
        .active_expiry(false)
        .build();
    call(&db, "SET a 1");
    call(&db, "SET b 2");
    {
        let b = Bytes::from_static(b"b");
        db.with_key(&b, |a| a.set_expire(&b, Some(1_700_000_010_000)));
    }
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        db.info("keyspace"),
        "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=8000\r\n"
    );
    assert_eq!(db.info("nosuch"), "");
    assert_eq!(db.info("keyspace CPU").find("# CPU"), Some(0));
    assert_eq!(db.info("cluster"), "# Cluster\r\ncluster_enabled:0\r\n");
    let default = db.info("");
    let headers: Vec<&str> = default.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(
        headers,
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Errorstats",
            "# Cluster",
            "# Keyspace"
        ]
    );
    assert!(default.contains("\r\n\r\n# Clients\r\n"));
    assert!(default.contains("uptime_in_seconds:2\r\n"));
    assert!(default.contains("server_time_usec:1700000002000000\r\n"));
    assert!(default.contains("redis_version:7.0.15\r\n"));
    assert!(db.info("all").contains("# Commandstats"));
    match call(&db, "INFO server") {
        Reply::Verbatim(b) => assert!(b.starts_with(b"# Server\r\n")),
        other => panic!("{other:?}"),
    }
    let used: u64 = db
        .info("memory")
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(used > 0);
}

#[test]
fn memory_usage_and_stats() {
    let db = db();
    call(&db, "SET foo bar");
    let Reply::Int(n) = call(&db, "MEMORY USAGE foo") else {
        panic!()
    };
    assert!(n > 0);
    assert_eq!(call(&db, "MEMORY USAGE foo SAMPLES 0"), Reply::Int(n));
    assert_eq!(call(&db, "MEMORY USAGE nokey"), Reply::Nil);
    for (c, e) in [
        ("MEMORY USAGE foo SAMPLES", "ERR syntax error"),
        ("MEMORY USAGE foo SAMPLES -1", "ERR syntax error"),
        ("MEMORY USAGE foo foo 5", "ERR syntax error"),
        (
            "MEMORY USAGE foo SAMPLES x",
            "ERR value is not an integer or out of range",
        ),
        (
            "MEMORY USAGE",
            "ERR wrong number of arguments for 'memory|usage' command",
        ),
        (
            "MEMORY DOCTOR",
            "ERR unknown subcommand 'DOCTOR'. Try MEMORY HELP.",
        ),
    ] {
        assert_eq!(err(call(&db, c)), e, "{c}");
    }
    let Reply::Map(stats) = call(&db, "MEMORY STATS") else {
        panic!()
    };
    let get = |k: &str| {
        stats
            .iter()
            .find(|(n, _)| *n == Reply::bulk(k))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("keys.count"), Some(Reply::Int(1)));
    assert!(get("db.0").is_some() && get("db.1").is_none());
}

#[test]
fn slowlog_records_like_redis() {
    let clock = ManualClock::starting_at_micros(1_700_000_000_000_000);
    let db = Db::builder()
        .clock(clock.clone())
        .active_expiry(false)
        .build();
    call(&db, "CONFIG SET slowlog-log-slower-than 0");
    call(&db, "SLOWLOG RESET");
    let long = "x".repeat(200);
    call(&db, &format!("SET k {long}"));
    let Reply::Array(entries) = call(&db, "SLOWLOG GET 1") else {
        panic!()
    };
    let Reply::Array(e) = &entries[0] else {
        panic!()
    };
    assert_eq!(e.len(), 6);
    assert_eq!(e[1], Reply::Int(1_700_000_000));
    assert_eq!(
        e[3],
        Reply::Array(vec![
            Reply::bulk("SET"),
            Reply::bulk("k"),
            Reply::bulk(format!("{}... (72 more bytes)", "x".repeat(128)))
        ])
    );
    assert_eq!((&e[4], &e[5]), (&Reply::bulk(""), &Reply::bulk("")));
    // SLOWLOG RESET, SET and SLOWLOG GET are all logged.
    assert_eq!(call(&db, "SLOWLOG LEN"), Reply::Int(3));
    assert_eq!(
        err(call(&db, "SLOWLOG GET -2")),
        "ERR count should be greater than or equal to -1"
    );
    assert_eq!(
        err(call(&db, "SLOWLOG GET x")),
        "ERR count should be greater than or equal to -1"
    );
    assert_eq!(
        err(call(&db, "slowlog get 1 2")),
        "ERR unknown subcommand or wrong number of arguments for 'get'. Try SLOWLOG HELP."
    );
    let Reply::Array(all) = call(&db, "SLOWLOG GET -1") else {
        panic!()
    };
    assert!(all.len() >= 5);
    call(&db, "CONFIG SET slowlog-max-len 2");
    assert_eq!(call(&db, "SLOWLOG LEN"), Reply::Int(2));
    call(&db, "CONFIG SET slowlog-log-slower-than -1");
    call(&db, "SLOWLOG RESET");
    call(&db, "GET k");
    assert_eq!(call(&db, "SLOWLOG LEN"), Reply::Int(0));
}

#[test]
fn flush_swapdb_dbsize() {
    let db = db();
    let s1 = db.select(1).unwrap();
    call(&db, "SET a 1");
    call(&db, "SET b 1");
    call(&s1, "SET c 1");
    assert_eq!(call(&db, "DBSIZE"), Reply::Int(2));
    assert_eq!(call(&db, "SWAPDB 0 1"), Reply::Ok);
    assert_eq!(call(&db, "DBSIZE"), Reply::Int(1));
    assert_eq!(call(&s1, "DBSIZE"), Reply::Int(2));
    for (c, e) in [
        ("SWAPDB a 1", "ERR invalid first DB index"),
        ("SWAPDB 0 b", "ERR invalid second DB index"),
        ("SWAPDB 2147483648 0", "ERR invalid first DB index"),
        ("SWAPDB -1 0", "ERR DB index is out of range"),
        ("SWAPDB 0 16", "ERR DB index is out of range"),
        ("FLUSHDB foo", "ERR syntax error"),
        ("FLUSHDB sync async", "ERR syntax error"),
        ("FLUSHALL x", "ERR syntax error"),
    ] {
        assert_eq!(err(call(&db, c)), e, "{c}");
    }
    assert_eq!(call(&db, "SWAPDB 0 0"), Reply::Ok);
    assert_eq!(call(&s1, "FLUSHDB ASYNC"), Reply::Ok);
    assert_eq!(call(&s1, "DBSIZE"), Reply::Int(0));
    assert_eq!(call(&db, "DBSIZE"), Reply::Int(1));
    assert_eq!(db.flushall(FlushMode::Sync), 1);
    call(&db, "SET a 1");
    assert_eq!(call(&db, "FLUSHALL async"), Reply::Ok);
    assert_eq!(db.dbsize(), 0);
}

#[test]
fn time_role_shutdown() {
    let clock = ManualClock::starting_at_micros(1_700_000_000_123_456);
    let db = Db::builder().clock(clock).active_expiry(false).build();
    assert_eq!(
        call(&db, "TIME"),
        Reply::Array(vec![Reply::bulk("1700000000"), Reply::bulk("123456")])
    );
    assert_eq!(db.time(), (1_700_000_000, 123_456));
    assert_eq!(
        resp_string(&call(&db, "ROLE"), 3),
        "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"
    );
    for (c, e) in [
        ("SHUTDOWN foo", "ERR syntax error"),
        ("SHUTDOWN NOSAVE SAVE", "ERR syntax error"),
        ("SHUTDOWN ABORT NOW", "ERR syntax error"),
        ("SHUTDOWN ABORT", "ERR No shutdown in progress."),
        (
            "SHUTDOWN SAVE",
            "ERR Errors trying to SHUTDOWN. Check logs.",
        ),
    ] {
        assert_eq!(err(call(&db, c)), e, "{c}");
    }
    let flag = || {
        db.engine()
            .shutdown_requested
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    assert!(!flag());
    let mut s: Session = db.session();
    s.state.authenticated = true;
    s.execute(&[
        Bytes::from_static(b"shutdown"),
        Bytes::from_static(b"nosave"),
    ]);
    assert!(flag() && s.state.close_after_reply);
    assert_eq!(s.state.reply_mode, ReplyMode::Skipping);
}

/// Replays `tests/cases/server.txt` in-process and against a real Redis 7.0 listening on
/// `EMBEDIS_REFERENCE_PORT`, comparing RESP bytes with the cases' directives:
/// `EMBEDIS_REFERENCE_PORT=7106 cargo test -p embedis against_reference -- --ignored`.
#[test]
#[ignore = "needs a redis-server 7.0 (EMBEDIS_REFERENCE_PORT)"]
fn against_reference_redis() {
    use std::io::{BufRead, BufReader, Write};
    let port: u16 = std::env::var("EMBEDIS_REFERENCE_PORT")
        .expect("EMBEDIS_REFERENCE_PORT")
        .parse()
        .unwrap();
    let cases = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/cases/server.txt"
    ))
    .unwrap();
    fn read_reply(r: &mut impl BufRead, out: &mut Vec<u8>) {
        let mut line = Vec::new();
        r.read_until(b'\n', &mut line).unwrap();
        out.extend_from_slice(&line);
        let n: i64 = std::str::from_utf8(&line[1..line.len() - 2])
            .unwrap_or("0")
            .parse()
            .unwrap_or(0);
        match line[0] {
            b'$' | b'=' if n >= 0 => {
                let mut body = vec![0; n as usize + 2];
                r.read_exact(&mut body).unwrap();
                out.extend_from_slice(&body);
            }
            b'*' | b'~' | b'>' => (0..n.max(0)).for_each(|_| read_reply(r, out)),
            b'%' => (0..2 * n.max(0)).for_each(|_| read_reply(r, out)),
            _ => {}
        }
    }
    fn send(conn: &mut std::net::TcpStream, args: &[Vec<u8>]) -> Vec<u8> {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        conn.write_all(&req).unwrap();
        let mut out = Vec::new();
        read_reply(&mut BufReader::new(conn), &mut out);
        out
    }
    let db = Db::builder().active_expiry(false).build();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (n, scenario) in cases.split("\n---").enumerate() {
        // A fresh connection per scenario, like the differential harness.
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut session = db.session();
        session.state.authenticated = true;
        for setup in [&["FLUSHALL"][..], &["HELLO", "2"]] {
            let args: Vec<Vec<u8>> = setup.iter().map(|s| s.as_bytes().to_vec()).collect();
            send(&mut conn, &args);
        }
        session.execute(&[Bytes::from_static(b"FLUSHALL")]);
        session.state.resp = 2;
        for line in scenario.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (directive, cmd) = match line.strip_prefix('!') {
                Some(rest) => {
                    let (d, c) = rest.split_once(' ').unwrap();
                    (d, c)
                }
                None => ("", line),
            };
            let (directive, cmd) = if directive == "approx" {
                ("approx", cmd.split_once(' ').unwrap().1)
            } else {
                (directive, cmd)
            };
            let args = split_case_line(cmd);
            let theirs = send(&mut conn, &args);
            let ours_reply = if args[0].eq_ignore_ascii_case(b"hello") {
                // HELLO belongs to the connection family; only the protocol matters here.
                session.state.resp = if args.get(1).map(|a| a.as_slice()) == Some(b"3") {
                    3
                } else {
                    2
                };
                continue;
            } else {
                let a: Vec<Bytes> = args.iter().map(|a| Bytes::from(a.clone())).collect();
                session.execute(&a)
            };
            let mut ours = Vec::new();
            resp(&ours_reply, session.state.resp, &mut ours);
            checked += 1;
            let same = match directive {
                "skip" => true,
                "shape" => shape(&ours) == shape(&theirs),
                "unordered" => sorted_tree(&ours) == sorted_tree(&theirs),
                _ => ours == theirs,
            };
            if !same {
                failures.push(format!(
                    "scenario {n}: {line}\n  ours:   {:?}\n  theirs: {:?}",
                    String::from_utf8_lossy(&ours),
                    String::from_utf8_lossy(&theirs)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{checked} commands matched the reference");
}

/// Arguments of a case line: whitespace-separated, double quotes group, `\"`, `\\`, `\r`,
/// `\n`, `\t`, `\xHH` escapes.
fn split_case_line(line: &str) -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let mut arg = Vec::new();
        if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                    match b[i] {
                        b'r' => arg.push(b'\r'),
                        b'n' => arg.push(b'\n'),
                        b't' => arg.push(b'\t'),
                        b'x' => {
                            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                            arg.push(u8::from_str_radix(hex, 16).unwrap());
                            i += 2;
                        }
                        c => arg.push(c),
                    }
                } else {
                    arg.push(b[i]);
                }
                i += 1;
            }
            i += 1;
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                arg.push(b[i]);
                i += 1;
            }
        }
        args.push(arg);
    }
    args
}

/// A parsed RESP value for loose comparisons.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
enum Tree {
    Leaf(Vec<u8>),
    Agg(u8, Vec<Tree>),
}

fn parse_tree(b: &[u8], i: &mut usize) -> Tree {
    let end = *i + b[*i..].windows(2).position(|w| w == b"\r\n").unwrap();
    let line = b[*i..end].to_vec();
    *i = end + 2;
    let n: i64 = std::str::from_utf8(&line[1..])
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    match line[0] {
        b'$' | b'=' if n >= 0 => {
            let body = b[*i..*i + n as usize].to_vec();
            *i += n as usize + 2;
            Tree::Leaf([line, body].concat())
        }
        k @ (b'*' | b'~' | b'>' | b'%') => {
            let count = if k == b'%' { 2 * n } else { n };
            Tree::Agg(k, (0..count.max(0)).map(|_| parse_tree(b, i)).collect())
        }
        _ => Tree::Leaf(line),
    }
}

fn sorted_tree(b: &[u8]) -> Tree {
    fn sort(t: Tree) -> Tree {
        match t {
            Tree::Agg(k, v) => {
                let mut v: Vec<Tree> = v.into_iter().map(sort).collect();
                v.sort();
                Tree::Agg(k, v)
            }
            leaf => leaf,
        }
    }
    sort(parse_tree(b, &mut 0))
}

fn shape(b: &[u8]) -> (u8, Option<usize>) {
    match parse_tree(b, &mut 0) {
        Tree::Agg(k, v) => (k, Some(v.len())),
        Tree::Leaf(l) => (l[0], None),
    }
}

/// Inside EXEC or a script every shard is already locked: INFO and MEMORY STATS must read
/// through that lock instead of locking again.
#[test]
fn works_under_the_exec_lock() {
    let db = db();
    call(&db, "SET a 1");
    let e = db.engine();
    let mut a = e.keyspace.lock_all(&e.stats, 0, e.clock.now_millis());
    let mut client = crate::ClientState::new(e);
    for cmd in [
        "INFO",
        "INFO keyspace",
        "MEMORY STATS",
        "DBSIZE",
        "MEMORY USAGE a",
    ] {
        let args: Vec<Bytes> = cmd
            .split(' ')
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect();
        let c = table().resolve(&args).unwrap();
        let r = crate::db::run(e, &mut client, c, &args, Some(&mut a));
        assert!(!r.is_error(), "{cmd}: {r:?}");
    }
    let c = table().resolve(&[Bytes::from_static(b"SHUTDOWN")]).unwrap();
    let r = crate::db::run(
        e,
        &mut client,
        c,
        &[Bytes::from_static(b"SHUTDOWN")],
        Some(&mut a),
    );
    assert_eq!(
        err(r),
        "ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client"
    );
}
