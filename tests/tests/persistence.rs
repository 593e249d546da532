//! Persistence against a real redis-server 7.0, both ways: RDB files written by one and
//! loaded by the other, DUMP payloads restored across, function payloads, AOF directories;
//! and kill -9 during a write load with the AOF on.
//!
//! Without redis-server on PATH the Redis parts are skipped loudly, and fail when `CI` is set.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use embedis::persist::{Fsync, PersistConfig};
use embedis::{Db, Reply};

// ----------------------------------------------------------------------------------------
// Harness

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("embedis-it-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn have_redis() -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("redis-server is not on PATH, and CI requires the Redis round-trip tests");
        }
        eprintln!(
            "\n!!! SKIPPED: redis-server not found on PATH; persistence round trips with Redis did not run !!!\n"
        );
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Redis {
    child: Child,
    conn: Client,
}

impl Redis {
    // The child moves into `Redis`, whose Drop waits for it.
    #[allow(clippy::zombie_processes)]
    fn start(dir: &Path, extra: &[&str]) -> Redis {
        let port = free_port();
        let mut args: Vec<String> = vec![
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            dir.display().to_string(),
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                let mut conn = Client::new(s);
                // Wait out loading.
                if !matches!(conn.call(&["PING"]), Reply::Error(_)) {
                    return Redis { child, conn };
                }
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("redis-server did not start");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        self.conn.call(args)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self
            .conn
            .r
            .get_mut()
            .write_all(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n");
        let _ = self.child.wait();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal RESP2 client.
struct Client {
    r: BufReader<TcpStream>,
}

impl Client {
    fn new(s: TcpStream) -> Client {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Client {
            r: BufReader::new(s),
        }
    }

    fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        let mut buf = Vec::new();
        buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            let a = a.as_ref();
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        self.r.get_mut().write_all(&buf).unwrap();
        self.read()
    }

    fn read(&mut self) -> Reply {
        let mut line = Vec::new();
        self.r.read_until(b'\n', &mut line).unwrap();
        assert!(line.len() >= 3, "connection closed");
        let body = String::from_utf8_lossy(&line[1..line.len() - 2]).to_string();
        match line[0] {
            b'+' => Reply::Status(body.into()),
            b'-' => Reply::Error(embedis::Error::formatted(body)),
            b':' => Reply::Int(body.parse().unwrap()),
            b'$' => {
                let n: i64 = body.parse().unwrap();
                if n < 0 {
                    return Reply::Nil;
                }
                let mut data = vec![0u8; n as usize + 2];
                self.r.read_exact(&mut data).unwrap();
                data.truncate(n as usize);
                Reply::Bulk(data.into())
            }
            b'*' => {
                let n: i64 = body.parse().unwrap();
                if n < 0 {
                    return Reply::NilArray;
                }
                Reply::Array((0..n).map(|_| self.read()).collect())
            }
            c => panic!("unexpected RESP type {c}"),
        }
    }
}

/// Anything that runs commands: embedis in-process or a redis-server connection.
trait Run {
    fn run(&mut self, args: &[&[u8]]) -> Reply;
}

impl Run for Redis {
    fn run(&mut self, args: &[&[u8]]) -> Reply {
        self.call(args)
    }
}

impl Run for embedis::Session {
    fn run(&mut self, args: &[&[u8]]) -> Reply {
        let args: Vec<bytes::Bytes> = args
            .iter()
            .map(|a| bytes::Bytes::copy_from_slice(a))
            .collect();
        let r = self.execute(&args);
        // Compare as RESP2 shows it: statuses and simple values only.
        resp2(r)
    }
}

/// A reply as RESP2 shows it: OK as a status, doubles as `%.17g` bulk strings.
fn resp2(r: Reply) -> Reply {
    match r {
        Reply::Ok => Reply::Status("OK".into()),
        Reply::Double(d) => Reply::Bulk(embedis::num::fmt_f64_17g(d).into()),
        Reply::Array(items) => Reply::Array(items.into_iter().map(resp2).collect()),
        other => other,
    }
}

fn sorted(r: Reply) -> Reply {
    match r {
        Reply::Array(mut v) | Reply::Set(mut v) => {
            v.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
            Reply::Array(v)
        }
        other => other,
    }
}

fn pairs_sorted(r: Reply) -> Reply {
    match r {
        Reply::Array(v) => {
            let mut pairs: Vec<Vec<Reply>> = v.chunks(2).map(|c| c.to_vec()).collect();
            pairs.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
            Reply::Array(pairs.into_iter().flatten().collect())
        }
        Reply::Map(m) => {
            let mut pairs: Vec<Vec<Reply>> = m.into_iter().map(|(k, v)| vec![k, v]).collect();
            pairs.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
            Reply::Array(pairs.into_iter().flatten().collect())
        }
        other => other,
    }
}

/// What a key looks like from outside: type, value, encoding, TTL rounded to seconds.
fn describe(r: &mut dyn Run, db: usize, key: &[u8]) -> String {
    r.run(&[b"SELECT", db.to_string().as_bytes()]);
    let ty = r.run(&[b"TYPE", key]);
    let value = match &ty {
        Reply::Status(t) if t == "string" => r.run(&[b"GET", key]),
        Reply::Status(t) if t == "hash" => pairs_sorted(r.run(&[b"HGETALL", key])),
        Reply::Status(t) if t == "set" => sorted(r.run(&[b"SMEMBERS", key])),
        Reply::Status(t) if t == "list" => r.run(&[b"LRANGE", key, b"0", b"-1"]),
        Reply::Status(t) if t == "zset" => r.run(&[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]),
        other => panic!("unexpected type {other:?}"),
    };
    let enc = r.run(&[b"OBJECT", b"ENCODING", key]);
    let ttl = match r.run(&[b"PTTL", key]) {
        // Hundreds of seconds: the two sides are read a moment apart (seconds on a loaded
        // machine); every TTL set above is 50 s or more from a rounding edge.
        Reply::Int(t) if t > 0 => (t + 50_000) / 100_000,
        Reply::Int(t) => t,
        o => panic!("{o:?}"),
    };
    let v = format!("{value:?}");
    let v = if v.len() > 300 {
        format!("{}..({} chars, hash {:x})", &v[..100], v.len(), fxhash(&v))
    } else {
        v
    };
    format!("{ty:?} {enc:?} ttl={ttl} {v}")
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// The keys the round trips use: every encoding of the three types both sides hold,
/// TTLs, binary data, several databases.
fn populate(r: &mut dyn Run) -> Vec<(usize, Vec<u8>)> {
    let mut keys = Vec::new();
    let mut cmd = |r: &mut dyn Run, db: usize, args: Vec<Vec<u8>>| {
        r.run(&[b"SELECT", db.to_string().as_bytes()]);
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let rep = r.run(&refs);
        assert!(
            !matches!(rep, Reply::Error(_)),
            "{rep:?} for {:?}",
            String::from_utf8_lossy(&args[0])
        );
        if !keys
            .iter()
            .any(|(d, k): &(usize, Vec<u8>)| *d == db && *k == args[1])
        {
            keys.push((db, args[1].clone()));
        }
    };
    let s = |x: &str| x.as_bytes().to_vec();
    cmd(r, 0, vec![s("SET"), s("int"), s("12345")]);
    cmd(r, 0, vec![s("SET"), s("bigint"), s("-9223372036854775808")]);
    cmd(r, 0, vec![s("SET"), s("short"), s("hello")]);
    cmd(r, 0, vec![s("SET"), s("empty"), s("")]);
    cmd(
        r,
        0,
        vec![s("SET"), s("long"), "abcdefgh".repeat(200).into_bytes()],
    );
    cmd(r, 0, vec![s("SET"), s("binary"), (0..=255u8).collect()]);
    cmd(r, 0, vec![s("SET"), s("ttl"), s("v"), s("EX"), s("5000")]);
    cmd(
        r,
        0,
        vec![s("SET"), s("pttl"), s("v"), s("PX"), s("4000500")],
    );
    cmd(r, 0, vec![s("SET"), s("007"), s("leading zero")]);
    cmd(
        r,
        0,
        vec![
            s("HSET"),
            s("hsmall"),
            s("f1"),
            s("v1"),
            s("n"),
            s("-42"),
            s("big"),
            s("123456789012"),
        ],
    );
    let mut hbig = vec![s("HSET"), s("hbig")];
    for i in 0..600 {
        hbig.push(format!("field:{i}").into_bytes());
        hbig.push(format!("{i}").into_bytes());
    }
    cmd(r, 0, hbig);
    cmd(
        r,
        0,
        vec![
            s("HSET"),
            s("hlongval"),
            s("f"),
            "x".repeat(100).into_bytes(),
        ],
    );
    cmd(
        r,
        0,
        vec![
            s("SADD"),
            s("intset"),
            s("1"),
            s("-5"),
            s("70000"),
            s("9223372036854775807"),
        ],
    );
    let mut ibig = vec![s("SADD"), s("bigintset")];
    ibig.extend((0..700).map(|i| format!("{}", i * 3).into_bytes()));
    cmd(r, 0, ibig);
    cmd(
        r,
        0,
        vec![s("SADD"), s("words"), s("alpha"), s("beta"), s("gamma")],
    );
    let mut sbig = vec![s("SADD"), s("bigwords")];
    sbig.extend((0..300).map(|i| format!("member-{i}").into_bytes()));
    cmd(r, 0, sbig);
    cmd(r, 0, vec![s("EXPIRE"), s("words"), s("7200")]);
    cmd(
        r,
        0,
        vec![s("RPUSH"), s("lsmall"), s("a"), s("12"), s("-7"), s("")],
    );
    let mut lbig = vec![s("RPUSH"), s("lbig")];
    lbig.extend((0..3000).map(|i| format!("item-{i}-{}", "z".repeat(i % 50)).into_bytes()));
    cmd(r, 0, lbig);
    cmd(
        r,
        0,
        vec![
            s("RPUSH"),
            s("lhuge"),
            "h".repeat(20000).into_bytes(),
            s("1"),
        ],
    );
    // Sorted sets: every score form a listpack holds (integers up to 2^62, %.17g text,
    // inf), the skiplist with binary scores, and the limits that pick the encoding.
    let mut zsmall = vec![s("ZADD"), s("zsmall")];
    for (sc, m) in [
        ("1.5", "a"),
        ("2", "b"),
        ("inf", "c"),
        ("-0", "d"),
        ("0.1", "e"),
        ("-inf", "f"),
        ("3e20", "g"),
        ("4503599627370496", "h"),
        ("4611686018427387904", "i"),
        ("9223372036854775808", "j"),
        ("-12345", "123"),
        ("2", "a2"),
    ] {
        zsmall.push(s(sc));
        zsmall.push(s(m));
    }
    cmd(r, 0, zsmall);
    let mut zbig = vec![s("ZADD"), s("zbig")];
    for i in 0..300 {
        zbig.push(format!("{}", (i as f64) / 7.0 - 20.0).into_bytes());
        zbig.push(format!("member:{i}").into_bytes());
    }
    zbig.extend([
        s("inf"),
        s("top"),
        s("-inf"),
        s("bottom"),
        s("-0"),
        s("negzero"),
    ]);
    cmd(r, 0, zbig);
    cmd(
        r,
        0,
        vec![
            s("ZADD"),
            s("zlongmember"),
            s("1"),
            "m".repeat(100).into_bytes(),
            s("0.25"),
            s("x"),
        ],
    );
    cmd(
        r,
        0,
        vec![
            s("ZADD"),
            s("zttl"),
            s("1e-300"),
            s("tiny"),
            s("-1.5e300"),
            s("huge"),
        ],
    );
    cmd(r, 0, vec![s("PEXPIRE"), s("zttl"), s("3000000")]);
    cmd(r, 3, vec![s("ZADD"), s("z-in-db3"), s("42"), s("answer")]);
    cmd(r, 5, vec![s("SET"), s("in-db5"), s("five")]);
    cmd(r, 15, vec![s("HSET"), s("in-db15"), s("a"), s("b")]);
    r.run(&[b"SELECT", b"0"]);
    keys.dedup();
    keys
}

fn snapshot(r: &mut dyn Run, keys: &[(usize, Vec<u8>)]) -> Vec<String> {
    let s = keys.iter().map(|(db, k)| describe(r, *db, k)).collect();
    r.run(&[b"SELECT", b"0"]);
    s
}

fn wait_bg(r: &mut Redis) {
    for _ in 0..500 {
        let Reply::Bulk(info) = r.call(&["INFO", "persistence"]) else {
            panic!()
        };
        let info = String::from_utf8_lossy(&info).to_string();
        if info.contains("rdb_bgsave_in_progress:0") && info.contains("aof_rewrite_in_progress:0") {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("redis background job did not finish");
}

const LIBRARY: &str =
    "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return args[1] end)";

// ----------------------------------------------------------------------------------------
// Tests

#[test]
fn rdb_from_redis_loads_into_embedis() {
    if !have_redis() {
        return;
    }
    let dir = TempDir::new("redis2embedis");
    let mut redis = Redis::start(&dir.0, &[]);
    let keys = populate(&mut redis);
    assert_eq!(
        redis.call(&["FUNCTION", "LOAD", LIBRARY]),
        Reply::Bulk("mylib".into())
    );
    let want = snapshot(&mut redis, &keys);
    assert_eq!(redis.call(&["SAVE"]), Reply::Status("OK".into()));
    drop(redis);
    let db = Db::builder()
        .persistence(PersistConfig::new(&dir.0).save_points(&[]))
        .open()
        .expect("embedis loads Redis's dump.rdb");
    let got = snapshot(&mut db.session(), &keys);
    assert_eq!(got, want);
    let funcs = db.engine().persist.functions().unwrap().lock().clone();
    assert_eq!(funcs, vec![LIBRARY.as_bytes().to_vec()]);
}

#[test]
fn rdb_from_embedis_loads_into_redis() {
    if !have_redis() {
        return;
    }
    let dir = TempDir::new("embedis2redis");
    let db = Db::builder()
        .persistence(PersistConfig::new(&dir.0).save_points(&[]))
        .open()
        .unwrap();
    let keys = populate(&mut db.session());
    db.engine()
        .persist
        .functions()
        .unwrap()
        .lock()
        .push(LIBRARY.as_bytes().to_vec());
    let want = snapshot(&mut db.session(), &keys);
    db.save().unwrap();
    drop(db);
    let mut redis = Redis::start(&dir.0, &[]);
    let got = snapshot(&mut redis, &keys);
    assert_eq!(got, want);
    assert_eq!(
        redis.call(&["FCALL", "myfunc", "0", "hi"]),
        Reply::Bulk("hi".into())
    );
    // And back again: Redis's own save of what it loaded still loads here.
    assert_eq!(redis.call(&["SAVE"]), Reply::Status("OK".into()));
    drop(redis);
    let db = Db::builder()
        .persistence(PersistConfig::new(&dir.0).save_points(&[]))
        .open()
        .unwrap();
    assert_eq!(snapshot(&mut db.session(), &keys), want);
}

#[test]
fn dump_payloads_restore_across() {
    if !have_redis() {
        return;
    }
    let dir = TempDir::new("dump");
    let mut redis = Redis::start(&dir.0, &[]);
    let keys = populate(&mut redis);
    let db = Db::new();
    for (i, (dbi, key)) in keys.iter().enumerate() {
        // Redis -> embedis
        redis.call(&[b"SELECT".as_slice(), dbi.to_string().as_bytes()]);
        let Reply::Bulk(payload) = redis.call(&[b"DUMP".as_slice(), key]) else {
            panic!()
        };
        let want = describe(&mut redis, *dbi, key);
        let name = format!("from-redis-{i}");
        let r = db.call([&b"RESTORE"[..], name.as_bytes(), b"0", &payload]);
        assert_eq!(r, Reply::Ok, "restoring {:?}", String::from_utf8_lossy(key));
        let got = describe(&mut db.session(), 0, name.as_bytes());
        let strip = |s: &str| s.split(" ttl=").map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            strip(&got)[1].split_once(' ').map(|x| x.1.to_string()),
            strip(&want)[1].split_once(' ').map(|x| x.1.to_string())
        );
        assert_eq!(strip(&got)[0], strip(&want)[0]);
        // embedis -> Redis
        db.call(["SELECT", "0"]);
        let Reply::Bulk(ours) = db.call([&b"DUMP"[..], name.as_bytes()]) else {
            panic!()
        };
        redis.call(&["SELECT", "0"]);
        let r = redis.call(&[&b"RESTORE"[..], name.as_bytes(), b"0", &ours, b"REPLACE"]);
        assert_eq!(
            r,
            Reply::Status("OK".into()),
            "Redis restoring our {:?}",
            String::from_utf8_lossy(key)
        );
        assert_eq!(describe(&mut redis, 0, name.as_bytes()), got);
    }
}

#[test]
fn function_payloads_restore_across() {
    if !have_redis() {
        return;
    }
    let dir = TempDir::new("fdump");
    let mut redis = Redis::start(&dir.0, &[]);
    redis.call(&["FUNCTION", "LOAD", LIBRARY]);
    let Reply::Bulk(p) = redis.call(&["FUNCTION", "DUMP"]) else {
        panic!()
    };
    let libs = embedis::persist::dump::restore_functions(&p).unwrap();
    assert_eq!(libs, vec![LIBRARY.as_bytes().to_vec()]);
    let ours = embedis::persist::dump::dump_functions(libs.iter().map(|l| l.as_slice()));
    redis.call(&["FUNCTION", "FLUSH"]);
    assert_eq!(
        redis.call(&[&b"FUNCTION"[..], b"RESTORE", &ours]),
        Reply::Status("OK".into())
    );
    assert_eq!(
        redis.call(&["FCALL", "myfunc", "0", "x"]),
        Reply::Bulk("x".into())
    );
}

#[test]
fn aof_directories_load_both_ways() {
    if !have_redis() {
        return;
    }
    // Redis's AOF (RDB-preamble base + incremental file) into embedis.
    let dir = TempDir::new("aofdir");
    let mut redis = Redis::start(&dir.0, &["--appendonly", "yes", "--appendfsync", "always"]);
    wait_bg(&mut redis);
    let keys = populate(&mut redis);
    redis.call(&["INCRBY", "int", "5"]);
    redis.call(&["SREM", "intset", "1"]);
    let want = snapshot(&mut redis, &keys);
    drop(redis);
    let cfg = PersistConfig::new(&dir.0).save_points(&[]).appendonly(true);
    let db = Db::builder()
        .persistence(cfg.clone())
        .open()
        .expect("loads Redis's AOF");
    assert_eq!(snapshot(&mut db.session(), &keys), want);
    // embedis appends to the same directory; Redis loads the result.
    db.call(["SET", "added-by-embedis", "yes"]);
    db.call(["HSET", "hsmall", "f1", "changed"]);
    let want = snapshot(&mut db.session(), &keys);
    drop(db);
    let mut redis = Redis::start(&dir.0, &["--appendonly", "yes"]);
    assert_eq!(snapshot(&mut redis, &keys), want);
    assert_eq!(
        redis.call(&["GET", "added-by-embedis"]),
        Reply::Bulk("yes".into())
    );
    // After a rewrite by embedis too.
    drop(redis);
    let db = Db::builder().persistence(cfg).open().unwrap();
    db.bgrewriteaof().unwrap();
    while db.engine().persist.state().unwrap().rewrite_in_progress() {
        std::thread::sleep(Duration::from_millis(5));
    }
    db.call(["SET", "after-rewrite", "1"]);
    drop(db);
    let mut redis = Redis::start(&dir.0, &["--appendonly", "yes"]);
    assert_eq!(snapshot(&mut redis, &keys), want);
    assert_eq!(
        redis.call(&["GET", "after-rewrite"]),
        Reply::Bulk("1".into())
    );
}

// ----------------------------------------------------------------------------------------
// kill -9

/// In the child process: writes `SET k<i> <i>` as fast as it can with the given fsync
/// policy, printing each acknowledged index, until killed.
fn writer_child(dir: &str, fsync: &str) {
    let cfg = PersistConfig::new(dir)
        .save_points(&[])
        .appendonly(true)
        .appendfsync(Fsync::parse(fsync).unwrap());
    let db = Db::builder().persistence(cfg).open().unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        let k = format!("k{i}");
        assert_eq!(db.call(["SET", k.as_str(), &i.to_string()]), Reply::Ok);
        writeln!(out, "{i}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn kill_9_loses_no_acknowledged_write() {
    if let (Ok(dir), Ok(fsync)) = (
        std::env::var("EMBEDIS_KILL_CHILD_DIR"),
        std::env::var("EMBEDIS_KILL_CHILD_FSYNC"),
    ) {
        writer_child(&dir, &fsync);
        return;
    }
    for fsync in ["always", "everysec"] {
        let dir = TempDir::new("kill9");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "kill_9_loses_no_acknowledged_write",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("EMBEDIS_KILL_CHILD_DIR", &dir.0)
            .env("EMBEDIS_KILL_CHILD_FSYNC", fsync)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap());
        let start = Instant::now();
        let mut acked: Option<u64> = None;
        let mut line = String::new();
        while start.elapsed() < Duration::from_millis(1500) {
            line.clear();
            if lines.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if let Ok(i) = line.trim().parse::<u64>() {
                acked = Some(i);
            }
        }
        // SIGKILL: no destructor, no flush.
        child.kill().unwrap();
        child.wait().unwrap();
        let acked = acked.expect("the writer acknowledged writes");
        let db = Db::builder()
            .persistence(PersistConfig::new(&dir.0).save_points(&[]).appendonly(true))
            .open()
            .unwrap();
        let last = format!("k{acked}");
        assert_eq!(
            db.call(["GET", last.as_str()]),
            Reply::bulk(acked.to_string()),
            "{fsync}: acknowledged write {acked} lost"
        );
        let Reply::Int(n) = db.call(["DBSIZE"]) else {
            panic!()
        };
        assert!(n as u64 > acked, "{fsync}: {n} keys, {acked} acknowledged");
        eprintln!(
            "{fsync}: {} acknowledged writes before kill -9, {n} keys after restart",
            acked + 1
        );
    }
}

// ----------------------------------------------------------------------------------------
// Numbers (run with: cargo test --release -p embedis-tests --test persistence numbers --
// --ignored --nocapture)

fn embedis_set_throughput(cfg: Option<PersistConfig>, threads: usize, secs: f64) -> f64 {
    let db = match cfg {
        Some(c) => Db::builder().persistence(c).open().unwrap(),
        None => Db::new(),
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let db = db.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let k = format!("key:{t}:{}", n % 100_000);
                    db.call(["SET", k.as_str(), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]);
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    total as f64 / secs
}

fn redis_benchmark(port: u16, pipeline: u32) -> f64 {
    let out = Command::new("redis-benchmark")
        .args([
            "-p",
            &port.to_string(),
            "-t",
            "set",
            "-n",
            "200000",
            "-c",
            "50",
            "-d",
            "100",
            "-r",
            "100000",
        ])
        .args(["-P", &pipeline.to_string(), "--csv", "-q"])
        .output()
        .expect("redis-benchmark");
    let text = String::from_utf8_lossy(&out.stdout);
    // "SET","123456.79",...
    text.lines()
        .find(|l| l.starts_with("\"SET\""))
        .and_then(|l| l.split(',').nth(1))
        .and_then(|v| v.trim_matches('"').parse().ok())
        .unwrap_or(0.0)
}

#[test]
#[ignore]
fn numbers() {
    if !have_redis() {
        return;
    }
    println!("\n== write throughput: SET of 100-byte values, 100k keys ==");
    let only_pause = std::env::var_os("EMBEDIS_ONLY_PAUSE").is_some();
    for (name, fsync) in [
        ("off", None),
        ("everysec", Some(Fsync::Everysec)),
        ("always", Some(Fsync::Always)),
    ] {
        for threads in [2, 50] {
            if only_pause {
                break;
            }
            let dir = TempDir::new("tp");
            let cfg = fsync.map(|f| {
                PersistConfig::new(&dir.0)
                    .save_points(&[])
                    .appendonly(true)
                    .appendfsync(f)
            });
            let ops = embedis_set_throughput(cfg, threads, 3.0);
            println!("embedis in-process, {threads} threads, AOF {name}: {ops:.0} SET/s");
        }
    }
    for (name, extra) in [("off", vec!["--appendonly", "no"])]
        .into_iter()
        .chain([
            (
                "everysec",
                vec!["--appendonly", "yes", "--appendfsync", "everysec"],
            ),
            (
                "always",
                vec!["--appendonly", "yes", "--appendfsync", "always"],
            ),
        ])
        .filter(|_| !only_pause)
    {
        let dir = TempDir::new("rtp");
        let r = Redis::start(&dir.0, &extra);
        let port = r.conn.r.get_ref().peer_addr().unwrap().port();
        let p1 = redis_benchmark(port, 1);
        let p16 = redis_benchmark(port, 16);
        println!(
            "redis-server 7.0, redis-benchmark -c 50, AOF {name}: {p1:.0} SET/s (-P 1), {p16:.0} SET/s (-P 16)"
        );
    }

    println!("\n== BGSAVE pause: 1M string keys + 2k hashes, a writer measuring each SET ==");
    let dir = TempDir::new("pause");
    let db = Db::builder()
        .persistence(PersistConfig::new(&dir.0).save_points(&[]))
        .open()
        .unwrap();
    for i in 0..1_000_000u32 {
        db.call([
            "SET",
            &format!("key:{i}"),
            &format!("value-{i}-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        ]);
    }
    for i in 0..2000u32 {
        let mut c = vec!["HSET".to_string(), format!("hash:{i}")];
        for f in 0..100 {
            c.push(format!("f{f}"));
            c.push(format!("v{f}"));
        }
        db.call(c);
    }
    let measure = |db: &Db, during: &dyn Fn()| -> (u64, u64, u64) {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (d2, s2) = (db.clone(), stop.clone());
        let writer = std::thread::spawn(move || {
            let (mut max_us, mut n, mut i) = (0u64, 0u64, 0u64);
            while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                let k = format!("key:{}", (i * 7919) % 1_000_000);
                let t = Instant::now();
                d2.call(["SET", k.as_str(), "new"]);
                max_us = max_us.max(t.elapsed().as_micros() as u64);
                n += 1;
                i += 1;
            }
            (max_us, n)
        });
        let t = Instant::now();
        during();
        let took = t.elapsed().as_millis() as u64;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (max_us, n) = writer.join().unwrap();
        (max_us, n, took)
    };
    let (base_max, base_n, base_ms) = measure(&db, &|| std::thread::sleep(Duration::from_secs(2)));
    println!("no save: longest SET {base_max} us over {base_n} SETs in {base_ms} ms");
    let (max_us, n, took) = measure(&db, &|| {
        db.bgsave().unwrap();
        while db.engine().persist.state().unwrap().bgsave_in_progress() {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let size = std::fs::metadata(dir.0.join("dump.rdb")).unwrap().len();
    println!(
        "BGSAVE: {took} ms for a {} MB file; longest SET during it {max_us} us over {n} SETs",
        size / 1_000_000
    );
    // CPU time (not wall time, which a loaded machine inflates) of capturing every shard on
    // this thread: SAVE settles all 64 shards here, then writes the file.
    let cpu_ns = || -> u64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let (c0, w0) = (cpu_ns(), Instant::now());
    let mut a_all = Vec::new();
    {
        // Request and settle the capture by locking all shards here, as a multi-key command
        // right after a BGSAVE request would.
        db.call(["BGSAVE"]);
        let t = Instant::now();
        db.call(["DBSIZE"]);
        a_all.push(t.elapsed());
    }
    let c1 = cpu_ns();
    println!(
        "all-shards command right after BGSAVE: {:?} wall, {} ms CPU for settling 64 shards ({} us per shard)",
        w0.elapsed(),
        (c1 - c0) / 1_000_000,
        (c1 - c0) / 64_000
    );
    while db.engine().persist.state().unwrap().bgsave_in_progress() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let t = Instant::now();
    db.call(["BGSAVE"]);
    let all = Instant::now();
    db.call(["DBSIZE"]);
    println!(
        "BGSAVE request {} us; an all-shards command right after it waited {} us",
        all.duration_since(t).as_micros(),
        all.elapsed().as_micros()
    );
    while db.engine().persist.state().unwrap().bgsave_in_progress() {
        std::thread::sleep(Duration::from_millis(1));
    }
}
