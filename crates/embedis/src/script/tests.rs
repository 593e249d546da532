//! Unit tests of the scripting engine through `Db::call`, sessions and the typed API: the
//! behaviours the single-connection differential cases cannot show (BUSY and SCRIPT KILL from
//! another client, FUNCTION STATS while a function runs, the memory limit, frozen expiry time,
//! RESP3 conversions), and a property test that random scripts always get a reply.

use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;

use crate::{Db, ManualClock, Reply};

fn eval(db: &Db, script: &str, keys: &[&str], args: &[&str]) -> Reply {
    let n = keys.len().to_string();
    let mut v: Vec<&str> = vec!["EVAL", script, &n];
    v.extend_from_slice(keys);
    v.extend_from_slice(args);
    db.call(v)
}

fn err(r: &Reply) -> String {
    match r {
        Reply::Error(e) => e.to_string(),
        other => panic!("expected an error, got {other:?}"),
    }
}

fn cmd(s: &mut crate::Session, args: &[&str]) -> Reply {
    let args: Vec<Bytes> = args
        .iter()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect();
    s.execute(&args)
}

/// Waits until a script runs on another thread.
fn wait_busy(db: &Db) {
    let start = Instant::now();
    while !db.engine().scripting.is_busy() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "script never started"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn replies_and_errors() {
    let db = Db::new();
    assert_eq!(eval(&db, "return 1", &[], &[]), Reply::Int(1));
    assert_eq!(
        eval(&db, "return {1,2,{3,'x'}}", &[], &[]),
        Reply::Array(vec![
            Reply::Int(1),
            Reply::Int(2),
            Reply::Array(vec![Reply::Int(3), Reply::bulk("x")])
        ])
    );
    assert_eq!(
        eval(
            &db,
            "return redis.call('set', KEYS[1], ARGV[1])",
            &["k"],
            &["v"]
        ),
        Reply::status("OK")
    );
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(
        err(&eval(&db, "return x", &[], &[])),
        "ERR user_script:1: Script attempted to access nonexistent global variable 'x' script: 03c387736bb5cc009ff35151572cee04677aa374, on @user_script:1."
    );
    assert_eq!(
        err(&eval(&db, "return redis.pcall('nosuch')", &[], &[])),
        "ERR Unknown Redis command called from script"
    );
    // math.random starts where a fresh Redis starts.
    assert_eq!(
        eval(&db, "return math.random(1000)", &[], &[]),
        Reply::Int(397)
    );
    assert_eq!(
        eval(&db, "return math.random(1000)", &[], &[]),
        Reply::Int(841)
    );
}

#[test]
fn resp3_inside_and_outside() {
    let db = Db::new();
    let mut s = db.session();
    s.state.authenticated = true;
    db.set("k", "v");
    // The script's protocol decides what booleans and nulls look like to it and from it.
    assert_eq!(
        cmd(&mut s, &["EVAL", "redis.setresp(3) return true", "0"]),
        Reply::Bool(true)
    );
    assert_eq!(cmd(&mut s, &["EVAL", "return true", "0"]), Reply::Int(1));
    assert_eq!(cmd(&mut s, &["EVAL", "return false", "0"]), Reply::Nil);
    assert_eq!(
        cmd(&mut s, &["EVAL", "return {double=0.5}", "0"]),
        Reply::Double(0.5)
    );
    assert_eq!(
        cmd(&mut s, &["EVAL", "return {map={a=1}}", "0"]),
        Reply::Map(vec![(Reply::bulk("a"), Reply::Int(1))])
    );
    assert_eq!(
        cmd(&mut s, &["EVAL", "return {set={a=true}}", "0"]),
        Reply::Set(vec![Reply::bulk("a")])
    );
    assert_eq!(
        cmd(
            &mut s,
            &[
                "EVAL",
                "redis.setresp(3) return redis.call('get', 'missing') == nil",
                "0"
            ]
        ),
        Reply::Bool(true)
    );
    db.call(["HSET", "h", "f", "v"]);
    assert_eq!(
        cmd(
            &mut s,
            &[
                "EVAL",
                "redis.setresp(3) local r = redis.call('hgetall', 'h') return r.map.f",
                "0"
            ]
        ),
        Reply::bulk("v")
    );
    assert_eq!(
        cmd(
            &mut s,
            &["EVAL", "local r = redis.call('hgetall', 'h') return r", "0"]
        ),
        Reply::Array(vec![Reply::bulk("f"), Reply::bulk("v")])
    );
}

#[test]
fn busy_then_script_kill() {
    let db = Db::new();
    db.call(["CONFIG", "SET", "busy-reply-threshold", "200"]);
    let runner = {
        let db = db.clone();
        std::thread::spawn(move || eval(&db, "local i = 0 while true do i = i + 1 end", &[], &[]))
    };
    wait_busy(&db);
    let t = Instant::now();
    // Commands wait for the threshold, then get BUSY.
    assert_eq!(
        err(&db.call(["GET", "k"])),
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    );
    assert!(t.elapsed() >= Duration::from_millis(100));
    assert_eq!(
        err(&db.call(["FUNCTION", "KILL"])),
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    );
    assert_eq!(
        err(&db.call(["FUNCTION", "STATS"])),
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    );
    // A transaction: MULTI is allowed, queueing a command answers BUSY and aborts it.
    let mut s = db.session();
    assert_eq!(cmd(&mut s, &["MULTI"]), Reply::Ok);
    assert!(err(&cmd(&mut s, &["GET", "k"])).starts_with("BUSY"));
    assert_eq!(cmd(&mut s, &["DISCARD"]), Reply::Ok);
    assert_eq!(db.call(["SCRIPT", "KILL"]), Reply::Ok);
    let r = runner.join().unwrap();
    assert_eq!(
        err(&r),
        "ERR Script killed by user with SCRIPT KILL... script: 3fcf51a9b854b8f66cb8685600b0d7df968f4398, on @user_script:1."
    );
    assert_eq!(db.call(["GET", "k"]), Reply::Nil);
    assert_eq!(
        err(&db.call(["SCRIPT", "KILL"])),
        "NOTBUSY No scripts in execution right now."
    );
}

#[test]
fn pcall_cannot_swallow_a_kill() {
    let db = Db::new();
    db.call(["CONFIG", "SET", "busy-reply-threshold", "50"]);
    let runner = {
        let db = db.clone();
        std::thread::spawn(move || {
            eval(
                &db,
                "while true do pcall(function() while true do end end) end",
                &[],
                &[],
            )
        })
    };
    wait_busy(&db);
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(db.call(["SCRIPT", "KILL"]), Reply::Ok);
    assert!(err(&runner.join().unwrap()).starts_with("ERR Script killed by user"));
    // The engine runs scripts normally afterwards (the hook is back to normal).
    assert_eq!(
        eval(
            &db,
            "local n = 0 for i = 1, 100000 do n = n + i end return n",
            &[],
            &[]
        ),
        Reply::Int(5_000_050_000)
    );
}

#[test]
fn a_script_that_wrote_is_unkillable() {
    let db = Db::new();
    db.call(["CONFIG", "SET", "busy-reply-threshold", "50"]);
    let runner = {
        let db = db.clone();
        std::thread::spawn(move || {
            // Runs for about 300 ms (real time, checked from Lua through redis.call('time')).
            eval(
                &db,
                "redis.call('set', 'w', 1) local t0 = redis.call('time') \
                 while true do local t = redis.call('time') \
                 if (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 300000 then break end end \
                 return 'done'",
                &[],
                &[],
            )
        })
    };
    wait_busy(&db);
    std::thread::sleep(Duration::from_millis(60));
    assert!(err(&db.call(["SCRIPT", "KILL"])).starts_with("UNKILLABLE"));
    assert_eq!(runner.join().unwrap(), Reply::bulk("done"));
}

#[test]
fn function_kill_and_stats_while_a_function_runs() {
    let db = Db::new();
    db.call(["CONFIG", "SET", "busy-reply-threshold", "50"]);
    db.function_load(
        "#!lua name=spin\nredis.register_function('spin', function() while true do end end)",
        false,
    )
    .unwrap();
    let runner = {
        let db = db.clone();
        std::thread::spawn(move || db.call(["FCALL", "spin", "1", "key"]))
    };
    wait_busy(&db);
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(
        err(&db.call(["GET", "k"])),
        "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    );
    assert_eq!(
        err(&db.call(["SCRIPT", "KILL"])),
        "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    );
    let Reply::Map(stats) = db.call(["FUNCTION", "STATS"]) else {
        panic!("FUNCTION STATS is a map")
    };
    let Reply::Map(running) = &stats[0].1 else {
        panic!("a running function: {stats:?}")
    };
    assert_eq!(running[0].1, Reply::bulk("spin"));
    assert_eq!(
        running[1].1,
        Reply::Array(vec![
            Reply::bulk("FCALL"),
            Reply::bulk("spin"),
            Reply::bulk("1"),
            Reply::bulk("key")
        ])
    );
    assert_eq!(db.call(["FUNCTION", "KILL"]), Reply::Ok);
    assert_eq!(
        err(&runner.join().unwrap()),
        "ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2."
    );
}

#[test]
fn threshold_zero_means_wait() {
    let db = Db::new();
    db.call(["CONFIG", "SET", "busy-reply-threshold", "0"]);
    let runner = {
        let db = db.clone();
        std::thread::spawn(move || {
            eval(
                &db,
                "local n = 0 for i = 1, 3000000 do n = n + 1 end return n",
                &[],
                &[],
            )
        })
    };
    wait_busy(&db);
    // No BUSY: the command waits for the script and then runs.
    assert_eq!(db.call(["PING"]), Reply::status("PONG"));
    assert_eq!(runner.join().unwrap(), Reply::Int(3_000_000));
}

#[test]
fn function_load_timeout() {
    let db = Db::new();
    let t = Instant::now();
    let e = db
        .function_load("#!lua name=slow\nwhile true do end", false)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "ERR Error registering functions: ERR FUNCTION LOAD timeout"
    );
    assert!(t.elapsed() >= Duration::from_millis(400));
    // The state stays usable.
    db.function_load(
        "#!lua name=ok\nredis.register_function('f', function() return 1 end)",
        false,
    )
    .unwrap();
    assert_eq!(
        db.fcall("f", &[] as &[&str], &[] as &[&str]).unwrap(),
        Reply::Int(1)
    );
}

#[test]
fn memory_limit_stops_a_greedy_script() {
    let db = Db::new();
    db.engine().scripting.set_memory_budget(16 << 20);
    let r = eval(
        &db,
        "local t = {} for i = 1, 100000000 do t[i] = string.rep('x', 100) .. i end return #t",
        &[],
        &[],
    );
    let e = err(&r);
    assert!(
        e.starts_with("ERR Error running script") && e.contains("not enough memory"),
        "{e}"
    );
    // string.rep of a huge size fails the same way instead of aborting the process.
    let e = err(&eval(&db, "return #string.rep('x', 2^30)", &[], &[]));
    assert!(e.contains("not enough memory"), "{e}");
    assert_eq!(
        eval(&db, "return 'still fine'", &[], &[]),
        Reply::bulk("still fine")
    );
}

#[test]
fn expiry_time_is_frozen_during_a_script() {
    let clock = ManualClock::new();
    let db = Db::builder()
        .clock(clock.clone())
        .active_expiry(false)
        .build();
    db.call(["SET", "k", "v", "PX", "100"]);
    let advancer = {
        let clock = clock.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            clock.advance(Duration::from_secs(1));
        })
    };
    // The key is gone by the engine's clock halfway through, not for the script.
    let r = eval(
        &db,
        "local a = redis.call('exists', 'k') \
         local t0 = redis.call('time') \
         while true do local t = redis.call('time') if t[1] - t0[1] >= 1 then break end end \
         return {a, redis.call('exists', 'k')}",
        &[],
        &[],
    );
    advancer.join().unwrap();
    assert_eq!(r, Reply::Array(vec![Reply::Int(1), Reply::Int(1)]));
    assert_eq!(db.call(["EXISTS", "k"]), Reply::Int(0));
}

#[test]
fn scripts_are_atomic_against_other_clients() {
    let db = Db::new();
    db.set("n", "0");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                for _ in 0..100 {
                    let r = eval(
                        &db,
                        "local v = redis.call('get', 'n') redis.call('set', 'n', 'busy') \
                         redis.call('set', 'n', v + 1) return v",
                        &[],
                        &[],
                    );
                    assert!(matches!(r, Reply::Bulk(_)), "{r:?}");
                    let seen = db.get("n").unwrap().unwrap();
                    assert_ne!(&seen[..], b"busy");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(db.get("n").unwrap().as_deref(), Some(&b"400"[..]));
}

#[test]
fn a_table_containing_itself_is_cut_with_an_error() {
    let db = Db::new();
    // Converting runs on a small thread stack like a server worker's.
    let r = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let r = eval(&db, "local t = {} t[1] = t return t", &[], &[]);
            let mut depth = 0;
            let mut cur = &r;
            while let Reply::Array(v) = cur {
                depth += 1;
                cur = &v[0];
            }
            (depth, err(cur))
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(r.0, 7995, "where Redis 7.0 cuts it");
    assert_eq!(r.1, "ERR reached lua stack limit");
}

#[test]
fn script_and_function_caches() {
    let db = Db::new();
    let sha = db.script_load("return 'cached'").unwrap();
    assert_eq!(db.script_exists(&[&sha, "nope"]), vec![true, false]);
    assert_eq!(
        db.evalsha(&sha, &[] as &[&str], &[] as &[&str]).unwrap(),
        Reply::bulk("cached")
    );
    db.script_flush();
    assert_eq!(
        db.evalsha(&sha, &[] as &[&str], &[] as &[&str])
            .unwrap_err()
            .to_string(),
        "NOSCRIPT No matching script. Please use EVAL."
    );
    db.function_load(
        "#!lua name=lib\nredis.register_function{function_name='ro', callback=function(k) return redis.call('get', k[1]) end, flags={'no-writes'}}",
        false,
    )
    .unwrap();
    let list = db.function_list(Some("l*"));
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].functions[0].2, vec!["no-writes"]);
    assert_eq!(
        db.fcall_ro("ro", &["k"], &[] as &[&str]).unwrap(),
        Reply::Nil
    );
    db.function_delete("lib").unwrap();
    assert!(db.function_delete("lib").is_err());
}

#[test]
fn eval_inside_exec_shares_the_block() {
    let db = Db::new();
    let mut s = db.session();
    cmd(&mut s, &["MULTI"]);
    cmd(&mut s, &["SET", "a", "1"]);
    cmd(&mut s, &["EVAL", "return redis.call('incr', 'a')", "0"]);
    cmd(&mut s, &["GET", "a"]);
    assert_eq!(
        cmd(&mut s, &["EXEC"]),
        Reply::Array(vec![Reply::Ok, Reply::Int(2), Reply::bulk("2")])
    );
}

#[test]
fn select_in_a_script_does_not_change_the_caller() {
    let db = Db::new();
    let mut s = db.session();
    assert_eq!(
        cmd(
            &mut s,
            &[
                "EVAL",
                "redis.call('select', 3) redis.call('set', 'k', 'in3') return redis.call('get', 'k')",
                "0"
            ]
        ),
        Reply::bulk("in3")
    );
    assert_eq!(s.state.db, 0);
    assert_eq!(cmd(&mut s, &["GET", "k"]), Reply::Nil);
    assert_eq!(
        db.select(3).unwrap().get("k").unwrap().as_deref(),
        Some(&b"in3"[..])
    );
}

// ---------------------------------------------------------------------------------------
// Random scripts never crash the engine and always get a reply.

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("nil".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        (-1000i64..1000).prop_map(|n| n.to_string()),
        Just("0/0".to_string()),
        Just("1/0".to_string()),
        Just("2^63".to_string()),
        Just("-0.5".to_string()),
        "[a-z\\\\%\"' ]{0,8}".prop_map(|s| format!("{s:?}")),
        Just("KEYS".to_string()),
        Just("ARGV".to_string()),
        Just("_G".to_string()),
        Just("string".to_string()),
        Just("redis".to_string()),
        Just("cjson.null".to_string()),
        Just("{}".to_string()),
        Just("x".to_string()),
    ]
}

fn expr() -> impl Strategy<Value = String> {
    atom().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| format!("{{{}}}", v.join(", "))),
            (inner.clone(), inner.clone()).prop_map(|(k, v)| format!("{{[{k}] = {v}}}")),
            inner.clone().prop_map(|e| format!("{{ok = {e}}}")),
            inner.clone().prop_map(|e| format!("{{err = {e}}}")),
            inner.clone().prop_map(|e| format!("{{double = {e}}}")),
            inner.clone().prop_map(|e| format!("{{map = {{a = {e}}}}}")),
            inner
                .clone()
                .prop_map(|e| format!("{{set = {{[{e}] = true}}}}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} .. {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} + {b})")),
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| format!("redis.pcall({})", v.join(", "))),
            (
                prop::sample::select(vec![
                    "set", "get", "incr", "del", "hset", "sadd", "exists", "nosuch", "eval", "ping"
                ]),
                prop::collection::vec(inner.clone(), 0..3)
            )
                .prop_map(|(c, v)| {
                    let mut a = vec![format!("{c:?}")];
                    a.extend(v);
                    format!("redis.pcall({})", a.join(", "))
                }),
            inner.clone().prop_map(|e| format!("cjson.encode({e})")),
            inner.clone().prop_map(|e| format!("cjson.decode({e})")),
            inner
                .clone()
                .prop_map(|e| format!("cmsgpack.unpack(cmsgpack.pack({e}))")),
            inner.clone().prop_map(|e| format!("cmsgpack.unpack({e})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("struct.pack({a}, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("struct.unpack({a}, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("bit.band({a}, {b})")),
            inner.clone().prop_map(|e| format!("bit.tohex({e}, {e})")),
            inner.clone().prop_map(|e| format!("redis.sha1hex({e})")),
            inner
                .clone()
                .prop_map(|e| format!("redis.error_reply({e})")),
            inner
                .clone()
                .prop_map(|e| format!("redis.status_reply({e})")),
            inner.clone().prop_map(|e| format!("tostring({e})")),
            inner.clone().prop_map(|e| format!("select('#', {e})")),
            inner.clone().prop_map(|e| format!("pcall(error, {e})")),
            inner.clone().prop_map(|e| format!("rawget(_G, {e})")),
            inner.clone().prop_map(|e| format!("getmetatable({e})")),
            inner.clone().prop_map(|e| format!("math.random({e})")),
            inner.clone().prop_map(|e| format!("string.rep('ab', {e})")),
            inner.clone().prop_map(|e| format!("loadstring({e})")),
            inner.prop_map(|e| format!("(function() local t = {e} return t end)()")),
        ]
    })
}

fn statement() -> impl Strategy<Value = String> {
    prop_oneof![
        expr().prop_map(|e| format!("local v = {e}")),
        expr().prop_map(|e| format!("return {e}")),
        expr().prop_map(|e| format!("error({e})")),
        expr().prop_map(|e| format!("x = {e}")),
        expr().prop_map(|e| format!("redis.setresp(3) return {e}")),
        expr().prop_map(|e| format!("for i = 1, 3 do local v = {e} end")),
        (expr(), expr()).prop_map(|(a, b)| format!("if {a} then return {b} end")),
        expr().prop_map(|e| format!("local t = {{}} t[1] = t t[2] = {e} return t")),
        expr().prop_map(|e| format!("return redis.call('set', 'k', {e})")),
        expr().prop_map(|e| format!("rawset(_G, 'x', {e})")),
        expr().prop_map(|e| format!("setmetatable(string, {e})")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_scripts_always_get_a_reply(
        body in prop::collection::vec(statement(), 1..4),
        raw in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let db = Db::new();
        db.engine().scripting.set_memory_budget(64 << 20);
        let script = body.join("\n");
        // Whatever the script does, the call returns (errors are replies).
        let _ = eval(&db, &script, &["k"], &["a"]);
        let _ = eval(&db, &script, &[], &[]);
        let mut v: Vec<Bytes> = vec![Bytes::from_static(b"EVAL"), Bytes::from(raw), Bytes::from_static(b"0")];
        let mut s = db.session();
        let _ = s.execute(&v);
        v[0] = Bytes::from_static(b"FUNCTION");
        v.insert(1, Bytes::from_static(b"LOAD"));
        let _ = s.execute(&v[..3]);
        // And the engine still works.
        prop_assert_eq!(eval(&db, "return 'alive'", &[], &[]), Reply::bulk("alive"));
    }
}

#[test]
fn exec_with_denyoom_commands_is_refused_when_memory_went_over() {
    let db = Db::new();
    db.call(["SET", "x", "y"]);
    let mut a = db.session();
    let oom_abort = "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.";
    // A write queued, then another client lowers the limit: EXEC is refused as a whole.
    cmd(&mut a, &["MULTI"]);
    cmd(&mut a, &["SET", "x", "1"]);
    cmd(&mut a, &["GET", "x"]);
    db.call(["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(err(&cmd(&mut a, &["EXEC"])), oom_abort);
    assert!(!a.state.tx.in_multi());
    db.call(["CONFIG", "SET", "maxmemory", "0"]);
    // A script that declared flags counts as denyoom; a plain one does not and runs, its first
    // denyoom call refused.
    cmd(&mut a, &["MULTI"]);
    cmd(&mut a, &["EVAL", "#!lua\nreturn 1", "0"]);
    db.call(["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(err(&cmd(&mut a, &["EXEC"])), oom_abort);
    db.call(["CONFIG", "SET", "maxmemory", "0"]);
    cmd(&mut a, &["MULTI"]);
    cmd(&mut a, &["EVAL", "return redis.call('set','x','1')", "0"]);
    cmd(
        &mut a,
        &[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('get','x')",
            "0",
        ],
    );
    cmd(&mut a, &["GET", "x"]);
    db.call(["CONFIG", "SET", "maxmemory", "1"]);
    let Reply::Array(r) = cmd(&mut a, &["EXEC"]) else {
        panic!("EXEC should run")
    };
    db.call(["CONFIG", "SET", "maxmemory", "0"]);
    assert!(
        err(&r[0]).starts_with("OOM command not allowed when used memory > 'maxmemory'. script: ")
    );
    assert_eq!(r[1], Reply::bulk("y"));
    assert_eq!(r[2], Reply::bulk("y"));
}

#[test]
fn typed_api_follows_the_oom_rules() {
    let db = Db::new();
    db.call(["SET", "x", "y"]);
    db.call(["CONFIG", "SET", "maxmemory", "1"]);
    let none: &[&str] = &[];
    let e = db.eval("#!lua\nreturn 1", none, none).unwrap_err();
    assert_eq!(
        e.to_string(),
        "OOM command not allowed when used memory > 'maxmemory'."
    );
    assert_eq!(
        db.eval("return redis.call('get','x')", none, none).unwrap(),
        Reply::bulk("y")
    );
    assert!(
        db.eval("return redis.call('set','x','z')", none, none)
            .is_err()
    );
    assert_eq!(
        db.eval(
            "#!lua flags=allow-oom\nreturn redis.call('set','x','z')",
            none,
            none
        )
        .unwrap(),
        Reply::status("OK")
    );
    db.call(["CONFIG", "SET", "maxmemory", "0"]);
}

#[test]
fn function_dump_restores_into_another_engine() {
    let a = Db::new();
    let b = Db::new();
    a.call([
        "FUNCTION",
        "LOAD",
        "#!lua name=lib\nredis.register_function('double', function(k, v) return v[1] * 2 end)",
    ]);
    let Reply::Bulk(payload) = a.call(["FUNCTION", "DUMP"]) else {
        panic!("FUNCTION DUMP gives a bulk string")
    };
    let restore = |db: &Db, policy: &str| {
        let mut v: Vec<Bytes> = vec![
            Bytes::from_static(b"FUNCTION"),
            Bytes::from_static(b"RESTORE"),
            payload.clone(),
        ];
        if !policy.is_empty() {
            v.push(Bytes::copy_from_slice(policy.as_bytes()));
        }
        db.call(v)
    };
    assert_eq!(restore(&b, ""), Reply::Ok);
    assert_eq!(b.call(["FCALL", "double", "0", "21"]), Reply::Int(42));
    assert_eq!(
        err(&restore(&b, "APPEND")),
        "ERR Library lib already exists"
    );
    assert_eq!(restore(&b, "REPLACE"), Reply::Ok);
    assert_eq!(restore(&b, "FLUSH"), Reply::Ok);
    assert_eq!(b.call(["FUNCTION", "DUMP"]), Reply::Bulk(payload.clone()));
    // A failed restore changes nothing.
    b.call([
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=other\nredis.register_function('x', function() return 1 end)",
    ]);
    b.call(["FUNCTION", "DELETE", "lib"]);
    b.call([
        "FUNCTION",
        "LOAD",
        "#!lua name=third\nredis.register_function('double', function() return 0 end)",
    ]);
    assert_eq!(
        err(&restore(&b, "REPLACE")),
        "ERR Function double already exists"
    );
    assert_eq!(b.call(["FCALL", "double", "0", "21"]), Reply::Int(0));
    assert_eq!(b.call(["FCALL", "x", "0"]), Reply::Int(1));
}

#[test]
fn script_client_denies_blocking_and_sorts_sets() {
    let db = Db::new();
    db.call(["SADD", "s", "3", "1", "2"]);
    assert_eq!(
        eval(
            &db,
            "return redis.call('sort', KEYS[1], 'by', 'nosort')",
            &["s"],
            &[]
        ),
        Reply::Array(vec![Reply::bulk("1"), Reply::bulk("2"), Reply::bulk("3")])
    );
    // Outside a script, BY nosort keeps the set's own order (not checked: any order).
    let Reply::Array(v) = db.call(["SORT", "s", "BY", "nosort"]) else {
        panic!()
    };
    assert_eq!(v.len(), 3);
}

#[test]
fn maps_and_sets_containing_themselves_are_cut_where_redis_cuts_them() {
    let db = Db::new();
    let depth = |script: &str, key: bool| {
        let r = eval(&db, script, &[], &[]);
        let mut depth = 0;
        let mut cur = &r;
        loop {
            cur = match cur {
                Reply::Array(v) | Reply::Set(v) => &v[v.len() - 1],
                Reply::Map(p) if key => &p[0].0,
                Reply::Map(p) => &p[0].1,
                _ => break,
            };
            depth += 1;
        }
        assert_eq!(err(cur), "ERR reached lua stack limit");
        depth
    };
    // Measured on Redis 7.0.15.
    assert_eq!(depth("local t = {} t.map = {k = t} return t", false), 2665);
    assert_eq!(
        depth("local t = {} t.map = {} t.map[t] = 1 return t", true),
        1999
    );
    assert_eq!(
        depth("local t = {} t.set = {} t.set[t] = true return t", false),
        2665
    );
    assert_eq!(
        depth("local t = {} t.map = {k = {1, t}} return t", false),
        3997
    );
}
