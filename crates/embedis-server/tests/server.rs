//! The server over real TCP: each test spawns it on an ephemeral port and speaks raw RESP.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use embedis_server::{ServerConfig, ServerHandle};

fn start(args: &[&str]) -> ServerHandle {
    let mut all = vec!["--port", "0", "--io-threads", "2"];
    all.extend_from_slice(args);
    let config = ServerConfig::from_args(all.iter().map(|s| s.to_string())).unwrap();
    embedis_server::spawn(config).unwrap()
}

struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(server: &ServerHandle) -> Client {
        let stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends one command as a RESP array.
    fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        self.send(&encode_cmd(args));
        self.frame()
    }

    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk).unwrap();
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Reads one complete reply frame, returned as its raw bytes.
    fn frame(&mut self) -> Vec<u8> {
        loop {
            if let Some(end) = frame_end(&self.buf, 0) {
                return self.buf.drain(..end).collect();
            }
            assert!(
                self.fill() > 0,
                "connection closed while waiting for a reply"
            );
        }
    }

    /// Whether the server closed the connection (EOF, or reset) within a few seconds.
    fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => true,
            Ok(n) => panic!(
                "unexpected bytes: {:?}",
                String::from_utf8_lossy(&chunk[..n])
            ),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
            Err(e) => panic!("still open: {e}"),
        }
    }
}

fn encode_cmd(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// The end of the RESP2/RESP3 frame starting at `at`, if complete.
fn frame_end(b: &[u8], at: usize) -> Option<usize> {
    let line_end = at + b.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
    let head = std::str::from_utf8(&b[at + 1..line_end]).ok()?;
    let after = line_end + 2;
    match b[at] {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' => Some(after),
        b'$' | b'=' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (b.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n: i64 = head.parse().ok()?;
            let items = if b[at] == b'%' { n * 2 } else { n };
            let mut pos = after;
            for _ in 0..items.max(0) {
                pos = frame_end(b, pos)?;
            }
            Some(pos)
        }
        other => panic!("bad reply byte {other}"),
    }
}

fn text(frame: &[u8]) -> String {
    String::from_utf8_lossy(frame).into_owned()
}

#[test]
fn ping_echo_and_inline() {
    let server = start(&[]);
    let mut c = Client::connect(&server);
    assert_eq!(text(&c.cmd(&["PING"])), "+PONG\r\n");
    assert_eq!(text(&c.cmd(&["PING", "hi"])), "$2\r\nhi\r\n");
    c.send(b"ECHO \"a b\"\r\n");
    assert_eq!(text(&c.frame()), "$3\r\na b\r\n");
    c.send(b"SET k v\r\nGET k\r\n");
    assert_eq!(text(&c.frame()), "+OK\r\n");
    assert_eq!(text(&c.frame()), "$1\r\nv\r\n");
    server.shutdown();
}

#[test]
fn pipelined_commands_answer_in_order() {
    let server = start(&[]);
    let mut c = Client::connect(&server);
    let mut batch = Vec::new();
    for i in 0..500 {
        batch.extend(encode_cmd(&["SET", &format!("k{i}"), &format!("v{i}")]));
        batch.extend(encode_cmd(&["GET", &format!("k{i}")]));
    }
    batch.extend_from_slice(b"PING\r\n");
    c.send(&batch);
    for i in 0..500 {
        assert_eq!(text(&c.frame()), "+OK\r\n");
        let v = format!("v{i}");
        assert_eq!(text(&c.frame()), format!("${}\r\n{v}\r\n", v.len()));
    }
    assert_eq!(text(&c.frame()), "+PONG\r\n");
    // The data is the in-process Db's too.
    assert_eq!(
        server.db().call(["GET", "k499"]),
        embedis::Reply::bulk("v499")
    );
}

#[test]
fn hello_switches_encodings() {
    let server = start(&[]);
    let mut c = Client::connect(&server);
    assert_eq!(text(&c.cmd(&["GET", "missing"])), "$-1\r\n");
    let hello = text(&c.cmd(&["HELLO", "3"]));
    assert!(
        hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{hello}"
    );
    assert!(
        hello.contains("$7\r\nversion\r\n$6\r\n7.0.15\r\n"),
        "{hello}"
    );
    assert_eq!(text(&c.cmd(&["GET", "missing"])), "_\r\n");
    let info = text(&c.cmd(&["CLIENT", "INFO"]));
    assert!(
        info.starts_with('=') && info.contains("\r\ntxt:id="),
        "{info}"
    );
    assert!(info.contains(" resp=3\n"), "{info}");
    assert!(text(&c.cmd(&["HELLO", "2"])).starts_with("*14\r\n"));
    assert_eq!(text(&c.cmd(&["GET", "missing"])), "$-1\r\n");
    assert_eq!(
        text(&c.cmd(&["HELLO", "4"])),
        "-NOPROTO unsupported protocol version\r\n"
    );
}

#[test]
fn quit_replies_then_closes() {
    let server = start(&[]);
    let mut c = Client::connect(&server);
    c.send(b"PING\r\nQUIT\r\nPING\r\n");
    assert_eq!(text(&c.frame()), "+PONG\r\n");
    assert_eq!(text(&c.frame()), "+OK\r\n");
    assert!(c.closed());
}

#[test]
fn auth_flow_with_requirepass() {
    let server = start(&["--requirepass", "s3cret"]);
    let mut c = Client::connect(&server);
    assert_eq!(
        text(&c.cmd(&["GET", "k"])),
        "-NOAUTH Authentication required.\r\n"
    );
    assert!(text(&c.cmd(&["HELLO", "3"])).starts_with("-NOAUTH HELLO must be called"));
    assert_eq!(
        text(&c.cmd(&["AUTH", "wrong"])),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(text(&c.cmd(&["AUTH", "default", "s3cret"])), "+OK\r\n");
    assert_eq!(text(&c.cmd(&["GET", "k"])), "$-1\r\n");
    assert_eq!(text(&c.cmd(&["RESET"])), "+RESET\r\n");
    assert!(text(&c.cmd(&["GET", "k"])).starts_with("-NOAUTH"));
    assert!(text(&c.cmd(&["HELLO", "3", "AUTH", "default", "s3cret"])).starts_with("%7"));
    assert_eq!(text(&c.cmd(&["GET", "k"])), "_\r\n");

    // Before AUTH, big requests are protocol errors (Redis's unauthenticated limits).
    let mut d = Client::connect(&server);
    d.send(b"*11\r\n");
    assert_eq!(
        text(&d.frame()),
        "-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    assert!(d.closed());
}

#[test]
fn client_kill_closes_the_victim_promptly() {
    let server = start(&[]);
    let mut victim = Client::connect(&server);
    let id = text(&victim.cmd(&["CLIENT", "ID"]));
    let id = id.trim_start_matches(':').trim_end().to_string();
    assert_eq!(
        text(&victim.cmd(&["CLIENT", "SETNAME", "victim"])),
        "+OK\r\n"
    );
    let mut killer = Client::connect(&server);
    let list = text(&killer.cmd(&["CLIENT", "LIST"]));
    assert!(list.contains("name=victim"), "{list}");
    assert!(list.contains("cmd=client|setname"), "{list}");
    assert!(list.contains("cmd=client|list"), "{list}");
    let started = Instant::now();
    assert_eq!(text(&killer.cmd(&["CLIENT", "KILL", "ID", &id])), ":1\r\n");
    assert!(victim.closed());
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(text(&killer.cmd(&["CLIENT", "KILL", "ID", &id])), ":0\r\n");
    // The registry forgets closed connections.
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.db().engine().clients.count() != 1 {
        assert!(Instant::now() < deadline, "victim still registered");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Killing oneself (old form) replies first, then closes.
    let me = text(&killer.cmd(&["CLIENT", "INFO"]));
    let addr = me
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string();
    assert_eq!(text(&killer.cmd(&["CLIENT", "KILL", &addr])), "+OK\r\n");
    assert!(killer.closed());
}

#[test]
fn protocol_error_replies_then_closes() {
    let server = start(&[]);
    let mut c = Client::connect(&server);
    c.send(b"PING\r\n*1\r\n$x\r\nPING\r\n");
    assert_eq!(text(&c.frame()), "+PONG\r\n");
    assert_eq!(
        text(&c.frame()),
        "-ERR Protocol error: invalid bulk length\r\n"
    );
    assert!(c.closed());
    let mut c = Client::connect(&server);
    c.send(b"SET k \"unbalanced\r\n");
    assert_eq!(
        text(&c.frame()),
        "-ERR Protocol error: unbalanced quotes in request\r\n"
    );
    assert!(c.closed());
}

#[test]
fn manual_clock_moves_ttls() {
    let server = start(&["--clock", "manual"]);
    let mut c = Client::connect(&server);
    assert_eq!(text(&c.cmd(&["SET", "session", "data"])), "+OK\r\n");
    // Only plain SET exists on this branch, so the TTL is set in-process.
    let engine = server.db().engine();
    let now = engine.clock.now_millis();
    {
        let mut a = engine.keyspace.lock_key(b"session", &engine.stats, 0, now);
        assert!(a.set_expire(b"session", Some(now + 1000)));
    }
    let t0 = text(&c.cmd(&["EMBEDIS.CLOCK", "GET"]));
    assert_eq!(t0, format!(":{now}\r\n"));
    assert_eq!(
        text(&c.cmd(&["EMBEDIS.CLOCK", "ADVANCE", "999"])),
        format!(":{}\r\n", now + 999)
    );
    assert_eq!(text(&c.cmd(&["GET", "session"])), "$4\r\ndata\r\n");
    // Like Redis, the key lives through its expiry millisecond and is gone after it.
    c.cmd(&["EMBEDIS.CLOCK", "ADVANCE", "1"]);
    assert_eq!(text(&c.cmd(&["GET", "session"])), "$4\r\ndata\r\n");
    c.cmd(&["EMBEDIS.CLOCK", "ADVANCE", "1"]);
    assert_eq!(text(&c.cmd(&["GET", "session"])), "$-1\r\n");
    assert_eq!(text(&c.cmd(&["EXISTS", "session"])), ":0\r\n");

    let real = start(&[]);
    let mut r = Client::connect(&real);
    assert!(text(&r.cmd(&["EMBEDIS.CLOCK", "ADVANCE", "1"])).starts_with("-ERR EMBEDIS.CLOCK"));
}

#[test]
fn idle_timeout_follows_the_engine_clock() {
    let server = start(&["--clock", "manual", "--timeout", "1", "--hz", "50"]);
    let mut idle = Client::connect(&server);
    assert_eq!(text(&idle.cmd(&["PING"])), "+PONG\r\n");
    let mut driver = Client::connect(&server);
    driver.cmd(&["EMBEDIS.CLOCK", "ADVANCE", "1500"]);
    assert!(idle.closed());
    assert_eq!(text(&driver.cmd(&["PING"])), "+PONG\r\n");
}

#[test]
fn maxclients_refuses_with_redis_error() {
    let server = start(&["--maxclients", "1"]);
    let mut first = Client::connect(&server);
    assert_eq!(text(&first.cmd(&["PING"])), "+PONG\r\n");
    let mut second = Client::connect(&server);
    assert_eq!(
        text(&second.frame()),
        "-ERR max number of clients reached\r\n"
    );
    assert!(second.closed());
    assert_eq!(text(&first.cmd(&["PING"])), "+PONG\r\n");
}

#[test]
fn client_reply_off_and_skip() {
    let server = start(&[]);
    let mut c = Client::connect(&server);
    c.send(
        b"CLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY ON\r\nCLIENT REPLY SKIP\r\nPING\r\nECHO x\r\n",
    );
    assert_eq!(text(&c.frame()), "+OK\r\n");
    assert_eq!(text(&c.frame()), "$1\r\nx\r\n");
}

#[test]
fn large_values_in_small_writes() {
    let server = start(&[]);
    let mut c = Client::connect(&server);
    let value: String = (0..3_000_000)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let req = encode_cmd(&["SET", "big", &value]);
    for chunk in req.chunks(7919) {
        c.send(chunk);
    }
    assert_eq!(text(&c.frame()), "+OK\r\n");
    let got = c.cmd(&["GET", "big"]);
    let header = format!("${}\r\n", value.len());
    assert!(got.starts_with(header.as_bytes()));
    assert_eq!(&got[header.len()..got.len() - 2], value.as_bytes());
}

#[test]
fn engine_shutdown_request_stops_the_server() {
    let server = start(&[]);
    let mut c = Client::connect(&server);
    assert_eq!(text(&c.cmd(&["PING"])), "+PONG\r\n");
    server.db().engine().request_shutdown();
    assert!(c.closed());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.is_finished() {
        assert!(Instant::now() < deadline, "server did not stop");
        std::thread::sleep(Duration::from_millis(10));
    }
    let addr = server.addr();
    server.wait();
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn shutdown_closes_connections_and_the_port() {
    let server = start(&[]);
    let addr = server.addr();
    let mut c = Client::connect(&server);
    assert_eq!(text(&c.cmd(&["PING"])), "+PONG\r\n");
    server.shutdown();
    assert!(c.closed());
    assert!(TcpStream::connect(addr).is_err());
}

/// `appendfsync always` with the sync deferred to the connection: pipelined and concurrent
/// writes are all acknowledged, each acknowledged write is already in the AOF (a reply never
/// leaves before its append), and a restart from the directory finds every key.
#[test]
fn appendfsync_always_acknowledges_only_logged_writes() {
    let dir = std::env::temp_dir().join(format!("embedis-always-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    let server = start(&["--dir", d, "--appendonly", "yes", "--appendfsync", "always"]);
    let clients: Vec<_> = (0..4)
        .map(|t| {
            let mut c = Client::connect(&server);
            std::thread::spawn(move || {
                let mut batch = Vec::new();
                for i in 0..200 {
                    batch.extend(encode_cmd(&["SET", &format!("t{t}:{i}"), "v"]));
                }
                batch.extend(encode_cmd(&["INCR", "counter"]));
                c.send(&batch);
                for _ in 0..200 {
                    assert_eq!(text(&c.frame()), "+OK\r\n");
                }
                assert!(text(&c.frame()).starts_with(':'));
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    // Every acknowledged write is in the log (the file, not a buffer).
    let logged: usize = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".incr.aof"))
        .map(|e| std::fs::read(e.path()).unwrap())
        .map(|b| {
            b.windows(4)
                .filter(|w| w == b"\r\nt0" || w == b"\r\nt3")
                .count()
        })
        .sum();
    assert_eq!(logged, 400);
    server.shutdown();
    let db = embedis::Db::builder()
        .persistence(
            embedis::persist::PersistConfig::new(&dir)
                .save_points(&[])
                .appendonly(true),
        )
        .open()
        .unwrap();
    assert_eq!(db.call(["DBSIZE"]), embedis::Reply::Int(801));
    assert_eq!(db.call(["GET", "counter"]), embedis::Reply::bulk("4"));
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
