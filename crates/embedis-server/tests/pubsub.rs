//! Pub/sub over TCP, compared with a real redis-server 7.0: message order and shapes across
//! connections (RESP2 and RESP3, patterns with special characters, shard channels), keyspace
//! notifications of every implemented command family under each `notify-keyspace-events`
//! letter, and a subscriber that never reads being cut off at its output-buffer limit while
//! the publisher goes on.
//!
//! The real server is started on a free loopback port when `redis-server` is on PATH;
//! without it the comparisons are skipped loudly, or fail when `CI` is set.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use embedis_server::{ServerConfig, ServerHandle};

// ---------------------------------------------------------------------------------------
// Servers and a raw RESP client

fn start_embedis(args: &[&str]) -> ServerHandle {
    let mut all = vec!["--port", "0"];
    all.extend_from_slice(args);
    let config = ServerConfig::from_args(all.iter().map(|s| s.to_string())).unwrap();
    embedis_server::spawn(config).unwrap()
}

/// A redis-server child process, killed on drop.
struct Redis {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_redis() -> Option<Redis> {
    let found = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-server is required for the pub/sub differential tests under CI"
        );
        eprintln!(
            "\n=== SKIPPED: redis-server not on PATH: pub/sub differential tests did not run ===\n"
        );
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(Redis { child, addr })
}

struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, args: &[&[u8]]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&out).unwrap();
    }

    /// Sends a command given as space-separated words (`\xHH` escapes a byte).
    fn send_line(&mut self, line: &str) {
        let words: Vec<Vec<u8>> = line.split(' ').map(unescape).collect();
        let words: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
        self.send(&words);
    }

    /// Reads one complete frame (raw bytes); `None` if the server closed the connection.
    fn frame(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(end) = frame_end(&self.buf, 0) {
                return Some(self.buf.drain(..end).collect());
            }
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    fn call(&mut self, line: &str) -> String {
        self.send_line(line);
        text(&self.frame().expect("reply"))
    }
}

fn unescape(word: &str) -> Vec<u8> {
    let b = word.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 4 <= b.len() {
            let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

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

/// The bulk strings of a push/array frame, for readable reports.
fn words(frame: &[u8]) -> Vec<String> {
    let t = text(frame);
    let mut out = Vec::new();
    let mut lines = t.split("\r\n");
    while let Some(l) = lines.next() {
        if l.starts_with('$') && l != "$-1" {
            out.push(lines.next().unwrap_or("").to_string());
        } else if l.starts_with(':') || l == "$-1" || l == "_" {
            out.push(l.to_string());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Message order and shapes

/// Subscriptions of one subscriber connection: (protocol, commands sent to subscribe).
const SUBSCRIBERS: &[(u8, &[&str])] = &[
    (2, &["SUBSCRIBE hello", "SUBSCRIBE end"]),
    (2, &["PSUBSCRIBE h[ae]llo", "SUBSCRIBE end"]),
    (2, &["PSUBSCRIBE a\\*b", "SUBSCRIBE end"]),
    (2, &["PSUBSCRIBE x?z", "SUBSCRIBE end"]),
    (2, &["PSUBSCRIBE [^a]*", "SUBSCRIBE end"]),
    (2, &["PSUBSCRIBE news.[a-m]*", "SUBSCRIBE end"]),
    (2, &["PSUBSCRIBE *", "SUBSCRIBE end"]),
    (2, &["PSUBSCRIBE [", "SUBSCRIBE end"]),
    (2, &["PSUBSCRIBE a[\\]]b", "SUBSCRIBE end"]),
    (2, &["SSUBSCRIBE shard", "SUBSCRIBE end"]),
    (
        3,
        &[
            "HELLO 3",
            "SUBSCRIBE hello",
            "PSUBSCRIBE h*",
            "SSUBSCRIBE shard",
            "SUBSCRIBE end",
        ],
    ),
];

/// What the publisher sends: PUBLISH/SPUBLISH channel payload.
const PUBLISHES: &[(&str, &[u8], &[u8])] = &[
    ("PUBLISH", b"hello", b"1"),
    ("PUBLISH", b"hallo", b"2"),
    ("PUBLISH", b"hillo", b"3"),
    ("PUBLISH", b"a*b", b"4"),
    ("PUBLISH", b"axb", b"5"),
    ("PUBLISH", b"xyz", b"6"),
    ("PUBLISH", b"xz", b"7"),
    ("PUBLISH", b"news.art", b"8"),
    ("PUBLISH", b"news.zoo", b"9"),
    ("PUBLISH", b"a]b", b"10"),
    ("PUBLISH", b"", b"empty channel"),
    ("PUBLISH", b"hello", b""),
    ("PUBLISH", b"hello", b"line\r\nbreak\x00\xff"),
    ("SPUBLISH", b"shard", b"s1"),
    ("PUBLISH", b"shard", b"not shard"),
    ("PUBLISH", b"hello", b"last"),
];

/// Runs the order/shape scenario against one server: every frame each subscriber received,
/// and the publisher's replies.
fn message_scenario(addr: SocketAddr) -> (Vec<Vec<String>>, Vec<String>) {
    let mut subs: Vec<Client> = Vec::new();
    let mut seen: Vec<Vec<String>> = Vec::new();
    for (proto, cmds) in SUBSCRIBERS {
        let mut c = Client::connect(addr);
        let mut log = Vec::new();
        for cmd in *cmds {
            c.send_line(cmd);
            let f = c.frame().unwrap();
            if !cmd.starts_with("HELLO") {
                log.push(text(&f));
            }
        }
        log.push(format!("(resp{proto})"));
        subs.push(c);
        seen.push(log);
    }
    let mut publisher = Client::connect(addr);
    let mut counts = Vec::new();
    for (cmd, channel, payload) in PUBLISHES {
        publisher.send(&[cmd.as_bytes(), channel, payload]);
        counts.push(text(&publisher.frame().unwrap()));
    }
    counts.push(publisher.call("PUBLISH end done"));
    for (c, log) in subs.iter_mut().zip(seen.iter_mut()) {
        loop {
            let f = c.frame().expect("subscriber closed");
            let done = words(&f).first().map(String::as_str) == Some("message")
                && words(&f).get(1).map(String::as_str) == Some("end");
            log.push(text(&f));
            if done {
                break;
            }
        }
    }
    // RESP2 subscribed-mode rules and the replies that end it, on the first subscriber.
    let c = &mut subs[0];
    for cmd in [
        "GET x",
        "PING",
        "PING x",
        "CLIENT INFO",
        "UNSUBSCRIBE hello",
        "UNSUBSCRIBE nothing",
        "UNSUBSCRIBE end",
        "UNSUBSCRIBE",
        "PUNSUBSCRIBE",
        "GET x",
    ] {
        seen[0].push(format!("{cmd} -> {}", c.call(cmd)));
    }
    // RESP3: normal commands work, a message to oneself comes before the count.
    let last = subs.len() - 1;
    let c = &mut subs[last];
    c.send_line("PUBLISH hello self");
    seen[last].push(text(&c.frame().unwrap()));
    seen[last].push(text(&c.frame().unwrap()));
    for cmd in ["GET x", "PING", "PUBSUB NUMSUB hello end", "PUBSUB NUMPAT"] {
        seen[last].push(format!("{cmd} -> {}", c.call(cmd)));
    }
    c.send_line("RESET");
    seen[last].push(text(&c.frame().unwrap()));
    seen[last].push(format!("after reset: {}", c.call("PUBSUB NUMSUB hello")));
    (seen, counts)
}

#[test]
fn message_order_and_shapes_match_redis() {
    let Some(redis) = start_redis() else { return };
    let embedis = start_embedis(&[]);
    let theirs = message_scenario(redis.addr);
    let ours = message_scenario(embedis.addr());
    assert_eq!(ours.1, theirs.1, "PUBLISH counts");
    for (i, (o, t)) in ours.0.iter().zip(&theirs.0).enumerate() {
        assert_eq!(o, t, "subscriber {i} ({:?})", SUBSCRIBERS[i].1);
    }
    // Sanity: the scenario saw something.
    assert!(theirs.0[0].len() > 5);
}

impl Client {
    /// Sends `lines`, then a `PING marker`, and returns every frame up to the marker's reply
    /// (for replies that are several frames).
    fn frames_until_marker(&mut self, lines: &[&str]) -> Vec<String> {
        for l in lines {
            self.send_line(l);
        }
        self.send_line("PING marker");
        let mut out = Vec::new();
        loop {
            let f = text(&self.frame().expect("reply"));
            if f.contains("marker") {
                return out;
            }
            out.push(f);
        }
    }
}

/// UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE without arguments: one reply per subscription
/// with the count left after it. Patterns go in subscription order (Redis keeps them in a
/// list); channels and shard channels in the order of Redis's hash table, which is not
/// defined (its seed is random), so those are compared as a set plus the counts.
fn unsubscribe_all_scenario(addr: SocketAddr) -> Vec<String> {
    let mut c = Client::connect(addr);
    let mut log = Vec::new();
    let counts = |frames: &[String]| -> Vec<String> {
        frames
            .iter()
            .map(|f| words(f.as_bytes()).last().cloned().unwrap_or_default())
            .collect()
    };
    let sorted_names = |frames: &[String]| -> Vec<String> {
        let mut v: Vec<String> = frames
            .iter()
            .map(|f| words(f.as_bytes())[..2].join(" "))
            .collect();
        v.sort();
        v
    };
    for proto in ["2", "3"] {
        c.call(&format!("HELLO {proto}"));
        log.extend(c.frames_until_marker(&["PSUBSCRIBE x* a* [b]* c? d\\* e*", "SUBSCRIBE s t"]));
        // Re-subscribing moves nothing; unsubscribing and subscribing again moves to the end.
        log.extend(c.frames_until_marker(&[
            "PSUBSCRIBE a* x*",
            "PUNSUBSCRIBE c?",
            "PSUBSCRIBE c?",
        ]));
        log.extend(c.frames_until_marker(&["PUNSUBSCRIBE"]));
        log.extend(c.frames_until_marker(&["PUNSUBSCRIBE"]));
        let frames =
            c.frames_until_marker(&["SUBSCRIBE a b c d e f g h", "PSUBSCRIBE p", "UNSUBSCRIBE"]);
        log.extend(frames[..9].iter().cloned());
        log.push(format!("{:?}", sorted_names(&frames[9..])));
        log.push(format!("{:?}", counts(&frames[9..])));
        log.extend(c.frames_until_marker(&["UNSUBSCRIBE", "PUNSUBSCRIBE", "PUNSUBSCRIBE"]));
        let frames = c.frames_until_marker(&["SSUBSCRIBE a b c d", "SUBSCRIBE x", "SUNSUBSCRIBE"]);
        log.extend(frames[..5].iter().cloned());
        log.push(format!("{:?}", sorted_names(&frames[5..])));
        log.push(format!("{:?}", counts(&frames[5..])));
        log.extend(c.frames_until_marker(&["SUNSUBSCRIBE", "UNSUBSCRIBE"]));
    }
    log
}

#[test]
fn unsubscribe_all_replies_match_redis() {
    let Some(redis) = start_redis() else { return };
    let embedis = start_embedis(&[]);
    let theirs = unsubscribe_all_scenario(redis.addr);
    let ours = unsubscribe_all_scenario(embedis.addr());
    assert_eq!(ours, theirs);
    assert!(theirs.len() > 40);
}

/// (P|S)(UN)SUBSCRIBE inside MULTI: Redis writes one frame per channel into EXEC's reply, so
/// that its array holds more frames than its length says; compared byte for byte. In RESP2 a
/// subscribed client's MULTI is refused, and its EXEC then answers EXECABORT.
fn multi_scenario(addr: SocketAddr) -> Vec<String> {
    let mut log = Vec::new();
    for proto in ["2", "3"] {
        let mut c = Client::connect(addr);
        c.call(&format!("HELLO {proto}"));
        log.extend(c.frames_until_marker(&[
            "MULTI",
            "SUBSCRIBE a b c",
            "PING",
            "SET k v",
            "SUBSCRIBE d",
            "EXEC",
        ]));
        log.extend(c.frames_until_marker(&[
            "MULTI",
            "UNSUBSCRIBE a b zz",
            "PSUBSCRIBE p* q*",
            "PUNSUBSCRIBE",
            "PUNSUBSCRIBE",
            "SSUBSCRIBE s1 s2",
            "SUNSUBSCRIBE s2 s1",
            "SUNSUBSCRIBE",
            "EXEC",
        ]));
        // What is left: c and d, one at a time so that the order is defined.
        log.extend(c.frames_until_marker(&["UNSUBSCRIBE c", "UNSUBSCRIBE d", "UNSUBSCRIBE"]));
        log.extend(c.frames_until_marker(&["MULTI", "UNSUBSCRIBE", "EXEC", "GET k"]));
        // SSUBSCRIBE is refused inside EXEC; SUBSCRIBE and PSUBSCRIBE are not.
        log.extend(c.frames_until_marker(&[
            "MULTI",
            "SSUBSCRIBE s1 s2",
            "PSUBSCRIBE p",
            "SUNSUBSCRIBE s1",
            "SUNSUBSCRIBE",
            "EXEC",
            "PUNSUBSCRIBE",
            "EXEC",
        ]));
    }
    log
}

#[test]
fn subscribe_inside_multi_matches_redis() {
    let Some(redis) = start_redis() else { return };
    let embedis = start_embedis(&[]);
    let theirs = multi_scenario(redis.addr);
    let ours = multi_scenario(embedis.addr());
    assert_eq!(ours, theirs);
    // The first EXEC's array says 4 and is followed by 6 frames.
    assert!(theirs.iter().any(|f| f.starts_with("*4\r\n")), "{theirs:?}");
}

/// A RESP3 subscriber blocked in BLPOP gets the messages published meanwhile at once, then
/// the pop's reply; like Redis.
fn blocked_push_scenario(addr: SocketAddr) -> Vec<String> {
    let mut c = Client::connect(addr);
    c.call("HELLO 3");
    let mut log = vec![c.call("SUBSCRIBE a"), c.call("PSUBSCRIBE a*")];
    let mut other = Client::connect(addr);
    other.call("DEL l");
    c.send_line("BLPOP l 0");
    std::thread::sleep(Duration::from_millis(100));
    log.push(other.call("PUBLISH a hi"));
    // Both messages arrive while the client is still blocked.
    log.push(text(&c.frame().unwrap()));
    log.push(text(&c.frame().unwrap()));
    log.push(other.call("PUBLISH ab x"));
    log.push(text(&c.frame().unwrap()));
    log.push(other.call("RPUSH l v"));
    log.push(text(&c.frame().unwrap()));
    log.push(c.call("PING"));
    log
}

#[test]
fn blocked_resp3_subscriber_gets_messages_while_blocked() {
    let embedis = start_embedis(&[]);
    let ours = blocked_push_scenario(embedis.addr());
    assert!(ours[3].starts_with(">3\r\n$7\r\nmessage"), "{ours:?}");
    assert!(ours[8].starts_with("*2\r\n"), "{ours:?}");
    let Some(redis) = start_redis() else { return };
    assert_eq!(ours, blocked_push_scenario(redis.addr));
}

// ---------------------------------------------------------------------------------------
// Keyspace notifications

/// Command scripts per family; each runs on a flushed database (commands separated by `;`).
const SCRIPTS: &[&str] = &[
    // strings
    "SET k v ; SET k v2 EX 100 ; SET k v3 KEEPTTL ; SET k v NX ; SET k v XX GET ; SETNX n 1 ; SETEX e 10 v ; PSETEX p 1000 v",
    "MSET a 1 b 2 ; MSETNX a 1 c 3 ; MSETNX c 3 d 4 ; APPEND a x ; APPEND z y",
    "INCR i ; INCRBY i 5 ; DECR i ; DECRBY i 2 ; INCRBYFLOAT f 1.5 ; INCR s ; SET s x ; INCR s",
    "SETRANGE r 2 ab ; SETRANGE r 0 zz ; SETRANGE r 0 ; SETRANGE missing 0 ; GETSET r new ; GETSET gs v",
    "SET k v ; GETDEL k ; GETDEL k ; SET k v ; GETEX k EX 100 ; GETEX k PERSIST ; GETEX k PERSIST ; GETEX k PXAT 1 ; GETEX k",
    "GET nope ; MGET a b ; STRLEN x ; GETRANGE x 0 1 ; LCS a b ; SET a 1 ; GET a",
    // bitmaps
    "SETBIT b 7 1 ; SETBIT b 7 1 ; SETBIT b 7 0 ; GETBIT b 1 ; BITCOUNT nope ; BITPOS nope 1",
    "SET a x ; BITOP NOT d a ; BITOP AND d a nope ; BITOP OR d2 x y ; BITFIELD bf SET u8 0 1 ; BITFIELD bf INCRBY u8 0 0 ; BITFIELD bf OVERFLOW FAIL INCRBY u8 0 300 ; BITFIELD_RO nope GET u8 0",
    // generic
    "SET a 1 ; SET b 2 ; DEL a b c ; SET a 1 ; UNLINK a",
    "SET a 1 ; EXPIRE a 100 ; PEXPIRE a 100000 ; EXPIREAT a 99999999999 ; PEXPIREAT a 99999999999999 ; EXPIRE a 100 NX ; PERSIST a ; PERSIST a ; EXPIRE a 0 ; EXPIRE nope 10",
    "SET a 1 ; EXPIRE a -5 ; SET b 1 ; PEXPIREAT b 1",
    "SET a 1 ; RENAME a b ; SET c 1 ; RENAME b c ; RENAMENX c d ; SET e 1 ; RENAMENX d e ; RENAME d d",
    "SET a 1 ; COPY a b ; COPY a b ; COPY a b REPLACE ; COPY a c DB 2 ; COPY nope x",
    "SET a 1 ; MOVE a 1 ; SET a 2 ; SELECT 1 ; SET x 1 ; SELECT 0 ; SET x 2 ; MOVE x 1",
    "EXISTS a ; TYPE a ; TTL a ; PTTL a ; TOUCH a ; OBJECT ENCODING a ; EXPIRETIME a ; RANDOMKEY ; KEYS * ; SCAN 0 ; DBSIZE",
    "SET a 1 ; SET b 2 ; FLUSHDB ; SET a 1 ; FLUSHALL ; SET a 1 ; SWAPDB 0 1",
    // DUMP / RESTORE (the payload is DUMP of the string "1")
    "RESTORE r 0 \\x00\\xc0\\x01\\x0a\\x00\\x26\\x78\\xe7\\xb6\\xd1\\x01\\x11\\xfc ; RESTORE r 0 \\x00\\xc0\\x01\\x0a\\x00\\x26\\x78\\xe7\\xb6\\xd1\\x01\\x11\\xfc REPLACE ; RESTORE r 1 \\x00\\xc0\\x01\\x0a\\x00\\x26\\x78\\xe7\\xb6\\xd1\\x01\\x11\\xfc REPLACE ABSTTL ; RESTORE e 100000 \\x00\\xc0\\x01\\x0a\\x00\\x26\\x78\\xe7\\xb6\\xd1\\x01\\x11\\xfc ; DUMP nope ; DUMP e",
    // hashes
    "HSET h a 1 b 2 ; HSET h a 3 ; HSETNX h a 1 ; HSETNX h c 1 ; HMSET h d 1 ; HDEL h a x ; HDEL h b c d ; HDEL h x",
    "HINCRBY h a 1 ; HINCRBYFLOAT h b 1.5 ; HINCRBY h c x ; HGET h a ; HGET nope a ; HGETALL nope ; HLEN nope ; HEXISTS nope a ; HKEYS nope ; HVALS nope ; HSTRLEN nope a ; HRANDFIELD nope ; HMGET nope a",
    // sets
    "SADD s a b ; SADD s a ; SREM s a x ; SREM s x ; SREM s b ; SADD s a b c ; SPOP s 0 ; SPOP s 3",
    "SADD s a ; SPOP s ; SADD s a b c d e f g h i j ; SPOP s 2 ; SPOP s 9",
    "SADD s a ; SMOVE s d a ; SADD s a ; SADD d a ; SMOVE s d a ; SADD s b ; SMOVE s s b ; SMOVE s d x ; SMOVE nope d a",
    "SADD a 1 2 ; SADD b 2 3 ; SINTERSTORE d a b ; SUNIONSTORE d a b ; SDIFFSTORE d a b ; SDIFFSTORE d a a ; SINTERSTORE d x y ; SET d2 x ; SUNIONSTORE d2 x",
    "SISMEMBER s a ; SMEMBERS s ; SCARD s ; SRANDMEMBER s ; SINTER a b ; SUNION a b ; SDIFF a b ; SMISMEMBER s a ; SINTERCARD 1 s",
    // lists
    "LPUSH l a b ; RPUSH l c ; LPUSHX l d ; RPUSHX l e ; LPUSHX nope x ; RPUSHX nope x ; LPUSH l2 x",
    "RPUSH l a b c ; LPOP l ; RPOP l ; LPOP l ; LPOP l ; RPUSH l a b c ; LPOP l 2 ; RPOP l 5 ; RPUSH l a ; LPOP l 0 ; RPOP nope 1",
    "RPUSH l a b c ; LINSERT l BEFORE b x ; LINSERT l AFTER zz y ; LINSERT nope BEFORE a b ; LSET l 0 z ; LTRIM l 0 1 ; LTRIM l 0 -1 ; LTRIM l 5 10 ; LTRIM nope 0 1",
    "RPUSH l a b a ; LREM l 0 a ; LREM l 1 zz ; LREM l 0 b ; LREM nope 0 a",
    "RPUSH l a b ; LMOVE l d LEFT RIGHT ; LMOVE l d RIGHT LEFT ; RPUSH l a ; LMOVE l l LEFT RIGHT ; RPOPLPUSH l d ; RPOPLPUSH nope d ; RPUSH s x ; RPOPLPUSH s s",
    "RPUSH l a b c ; LMPOP 2 nope l LEFT COUNT 2 ; LMPOP 1 l RIGHT COUNT 5 ; LMPOP 1 nope LEFT",
    "RPUSH l a ; BLPOP l 1 ; RPUSH l a b ; BRPOP l 1 ; RPUSH l a ; BLMOVE l d LEFT LEFT 1 ; RPUSH l a ; BLMPOP 1 1 l LEFT ; RPUSH l a ; BRPOPLPUSH l l 1",
    "LRANGE l 0 -1 ; LLEN l ; LINDEX l 0 ; LPOS l a",
    "RPUSH l 3 1 2 ; SORT l STORE d ; SORT l BY nosort LIMIT 5 5 STORE d ; SORT nope STORE d ; SADD s 2 1 ; SORT s STORE d2 ; SORT l",
    // sorted sets
    "ZADD z 1 a 2 b ; ZADD z 1 a ; ZADD z 3 a ; ZADD z INCR 1 a ; ZADD z NX 5 a ; ZADD z XX GT 1 a ; ZADD z XX 1 nope ; ZADD nope XX 1 a ; ZADD z INCR +inf a ; ZADD z INCR -inf a",
    "ZINCRBY z 1 a ; ZINCRBY z 2 n ; ZREM z a x ; ZREM z b n ; ZREM z q ; ZADD z 1 a ; ZREM z a",
    "ZADD z 1 a 2 b 3 c 4 d ; ZREMRANGEBYSCORE z 1 1 ; ZREMRANGEBYRANK z 0 0 ; ZREMRANGEBYLEX z - + ; ZREMRANGEBYSCORE nope 1 1 ; ZADD z 1 a ; ZREMRANGEBYRANK z 5 6 ; ZREMRANGEBYSCORE z -inf +inf",
    "ZADD z 1 a 2 b 3 c ; ZPOPMIN z ; ZPOPMAX z 5 ; ZPOPMIN nope ; ZADD z 1 a 2 b ; ZMPOP 2 nope z MIN COUNT 1 ; ZMPOP 1 z MAX COUNT 5 ; ZADD z 1 a ; ZPOPMIN z 0",
    "ZADD a 1 x 2 y ; ZADD b 1 y ; ZINTERSTORE d 2 a b ; ZUNIONSTORE d 2 a b ; ZDIFFSTORE d 2 a b ; ZDIFFSTORE d 2 a a ; ZRANGESTORE d2 a 0 -1 ; ZRANGESTORE d2 a 5 6 ; SET d3 v ; ZINTERSTORE d3 2 a nope ; ZUNIONSTORE d4 1 nope",
    "ZRANGE z 0 -1 ; ZSCORE z a ; ZCARD z ; ZRANK z a ; ZCOUNT z 0 1 ; ZRANDMEMBER z ; ZMSCORE z a ; ZINTER 1 z ; ZUNION 1 z ; ZDIFF 1 z ; ZINTERCARD 1 z ; ZLEXCOUNT z - + ; ZSCAN z 0 ; ZRANGEBYSCORE z 0 1",
    // HyperLogLog
    "PFADD h a b ; PFADD h a ; PFADD h ; PFADD n ; PFCOUNT h ; PFCOUNT h n ; PFMERGE d h ; PFMERGE d2 nope ; SET s x ; PFADD s a ; PFMERGE s h",
    // Expiry on read and on write (one key each: whether Redis's active cycle or the lookup
    // gets to a key first, the events are the same, but across keys their order would not be).
    "SET a 1 PX 1 ; @sleep 20 ; GET a",
    "SET b 1 PX 1 ; @sleep 20 ; SET b 2",
    "SET c 1 PX 1 ; @sleep 20 ; EXISTS c",
    // (Not PEXPIRE h 1: Redis deletes at once, with `del`, a key whose new expiry has
    // already passed when it checks, which a loaded machine makes a coin toss.)
    "HSET h f v ; PEXPIRE h 50 ; @sleep 120 ; HSET h f v",
];

/// `notify-keyspace-events` values to try.
const FLAGS: &[&str] = &[
    "KEA", "KEAnm", "Kg", "Eg", "KE$", "E$", "El", "Es", "Eh", "Ez", "Ex", "Ee", "Et", "Em", "En",
    "K$n", "Kxgn",
];

/// Events one script produces: `channel payload` lines, in order.
fn notifications(addr: SocketAddr, flags: &str, script: &str) -> Vec<String> {
    let mut admin = Client::connect(addr);
    assert_eq!(admin.call("FLUSHALL"), "+OK\r\n");
    admin.send(&[
        b"CONFIG",
        b"SET",
        b"notify-keyspace-events",
        flags.as_bytes(),
    ]);
    assert_eq!(text(&admin.frame().unwrap()), "+OK\r\n", "{flags}");
    let mut sub = Client::connect(addr);
    sub.call("PSUBSCRIBE __key*__:*");
    let mut c = Client::connect(addr);
    for cmd in script.split(" ; ") {
        if let Some(ms) = cmd.strip_prefix("@sleep ") {
            std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
            continue;
        }
        c.call(cmd);
    }
    c.call("SELECT 0");
    // A marker through the same pattern ends the capture.
    c.call("PUBLISH __keyevent@99__:marker end");
    let mut out = Vec::new();
    loop {
        let w = words(&sub.frame().expect("subscriber closed"));
        if w.get(2).map(String::as_str) == Some("__keyevent@99__:marker") {
            break;
        }
        out.push(w[2..].join(" "));
    }
    admin.call("CONFIG SET notify-keyspace-events \"\"");
    out
}

#[test]
fn notifications_match_redis_for_every_family_and_flag() {
    let Some(redis) = start_redis() else { return };
    // Active expiry is compared on its own below: keep it from racing the scripts here.
    let embedis = start_embedis(&[]);
    let mut failures = Vec::new();
    let mut compared = 0;
    for flags in FLAGS {
        for script in SCRIPTS {
            let theirs = notifications(redis.addr, flags, script);
            let ours = notifications(embedis.addr(), flags, script);
            compared += theirs.len();
            if ours != theirs {
                failures.push(format!(
                    "flags {flags}: {script}\n  redis:   {theirs:?}\n  embedis: {ours:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared > 500, "only {compared} events compared");
    // The RESTORE script really restores (its payload is valid for both).
    let restore = SCRIPTS.iter().find(|s| s.starts_with("RESTORE")).unwrap();
    let events = notifications(embedis.addr(), "Eg", restore);
    assert!(
        events.contains(&"__keyevent@0__:restore r".to_string()),
        "{events:?}"
    );
}

/// Clients blocked in BLPOP and friends, served by another client's push: the push's
/// events, then the pop's.
#[test]
fn served_blocked_clients_notify_like_redis() {
    let Some(redis) = start_redis() else { return };
    let embedis = start_embedis(&[]);
    let run = |addr: SocketAddr, block: &str, feed: &str| {
        let mut admin = Client::connect(addr);
        admin.call("FLUSHALL");
        admin.call("CONFIG SET notify-keyspace-events KEA");
        let mut sub = Client::connect(addr);
        sub.call("PSUBSCRIBE __keyevent@*");
        let mut blocked = Client::connect(addr);
        blocked.send_line(block);
        std::thread::sleep(Duration::from_millis(100));
        admin.call(feed);
        let reply = text(&blocked.frame().unwrap());
        admin.call("PUBLISH __keyevent@99__:marker end");
        let mut events = Vec::new();
        loop {
            let w = words(&sub.frame().unwrap());
            if w[2] == "__keyevent@99__:marker" {
                break;
            }
            events.push(w[2..].join(" "));
        }
        admin.call("CONFIG SET notify-keyspace-events \"\"");
        (reply, events)
    };
    for (block, feed) in [
        ("BLPOP l 0", "RPUSH l a b"),
        ("BRPOP l 0", "RPUSH l a"),
        ("BLMOVE l d LEFT RIGHT 0", "RPUSH l a"),
        ("BLMPOP 0 1 l RIGHT COUNT 5", "LPUSH l a b"),
        ("BZPOPMIN z 0", "ZADD z 1 a"),
        ("BZMPOP 0 1 z MAX COUNT 2", "ZADD z 1 a 2 b 3 c"),
    ] {
        assert_eq!(
            run(embedis.addr(), block, feed),
            run(redis.addr, block, feed),
            "{block}"
        );
    }
}

/// Keys evicted for maxmemory are notified as `evicted`, one event per key counted in
/// `evicted_keys` (which keys go differs: sampling is random in both servers).
#[test]
fn evictions_notify_like_redis() {
    let Some(redis) = start_redis() else { return };
    let embedis = start_embedis(&[]);
    let run = |addr: SocketAddr| {
        let mut admin = Client::connect(addr);
        admin.call("FLUSHALL");
        let info = admin.call("INFO memory");
        let used: u64 = info
            .split("\r\n")
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.parse().ok())
            .unwrap();
        admin.call("CONFIG SET notify-keyspace-events Ee");
        admin.call("CONFIG SET maxmemory-policy allkeys-lru");
        admin.call(&format!("CONFIG SET maxmemory {}", used + 2_000_000));
        let mut sub = Client::connect(addr);
        sub.call("SUBSCRIBE __keyevent@0__:evicted");
        let value = "v".repeat(200);
        for i in 0..40_000 {
            admin.call(&format!("SET key:{i} {value}"));
        }
        admin.call("CONFIG SET maxmemory 0");
        let stats = admin.call("INFO stats");
        let evicted: usize = stats
            .split("\r\n")
            .find_map(|l| l.strip_prefix("evicted_keys:"))
            .and_then(|v| v.parse().ok())
            .unwrap();
        admin.call("PUBLISH __keyevent@0__:evicted end");
        let mut events = 0;
        loop {
            let w = words(&sub.frame().unwrap());
            if w[2] == "end" {
                break;
            }
            assert!(w[2].starts_with("key:"), "{w:?}");
            events += 1;
        }
        admin.call("CONFIG SET notify-keyspace-events \"\"");
        admin.call("CONFIG SET maxmemory-policy noeviction");
        admin.call("FLUSHALL");
        (evicted, events)
    };
    for (name, (evicted, events)) in [("redis", run(redis.addr)), ("embedis", run(embedis.addr()))]
    {
        assert!(evicted > 1000, "{name}: {evicted} evicted");
        assert_eq!(events, evicted, "{name}: one event per evicted key");
    }
}

/// Keys expired by the active cycle (nobody reads them) are notified as `expired`.
#[test]
fn active_expiry_notifications_match_redis() {
    let Some(redis) = start_redis() else { return };
    let embedis = start_embedis(&[]);
    let run = |addr: SocketAddr| {
        let mut admin = Client::connect(addr);
        admin.call("FLUSHALL");
        admin.call("CONFIG SET notify-keyspace-events Ex");
        let mut sub = Client::connect(addr);
        sub.call("SUBSCRIBE __keyevent@0__:expired");
        admin.call("SET gone 1 PX 50");
        let f = sub.frame().expect("expired event");
        admin.call("CONFIG SET notify-keyspace-events \"\"");
        words(&f)
    };
    assert_eq!(run(embedis.addr()), run(redis.addr));
}

// ---------------------------------------------------------------------------------------
// Output buffer limit

/// A subscriber that never reads is disconnected once its pending output passes the pub/sub
/// hard limit; the publisher is never held up, and later publishes reach nobody.
fn slow_subscriber(addr: SocketAddr) -> (usize, usize, bool) {
    let mut admin = Client::connect(addr);
    admin.call("CONFIG SET client-output-buffer-limit pubsub 1mb 0 0");
    let mut slow = Client::connect(addr);
    slow.call("SUBSCRIBE c");
    let mut fast = Client::connect(addr);
    fast.call("SUBSCRIBE c");
    let mut publisher = Client::connect(addr);
    let payload = vec![b'x'; 16 * 1024];
    let started = Instant::now();
    let (mut to_two, mut after) = (0, 0);
    for i in 0..4000 {
        publisher.send(&[b"PUBLISH", b"c", &payload]);
        let n = text(&publisher.frame().unwrap());
        match n.as_str() {
            ":2\r\n" => to_two += 1,
            ":1\r\n" => after += 1,
            other => panic!("publish {i}: {other}"),
        }
        // The fast subscriber keeps up.
        let f = fast.frame().unwrap();
        assert!(f.len() > payload.len());
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(60),
        "publisher held up: {elapsed:?}"
    );
    // The slow one is gone: reading it drains what the kernel held, then EOF.
    slow.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut closed = false;
    while let Some(_f) = slow.frame() {}
    if slow.stream.read(&mut [0u8; 16]).map_or(true, |n| n == 0) {
        closed = true;
    }
    admin.call("CONFIG SET client-output-buffer-limit pubsub 32mb 8mb 60");
    (to_two, after, closed)
}

#[test]
fn subscriber_that_never_reads_is_disconnected_at_the_limit() {
    let embedis = start_embedis(&[]);
    let (to_two, after, closed) = slow_subscriber(embedis.addr());
    assert!(closed);
    assert!(to_two > 10 && after > 1000, "{to_two} then {after}");
    assert_eq!(embedis.db().engine().pubsub().limit_disconnections.get(), 1);
    // Redis does the same (its socket buffers may hold a different amount first).
    if let Some(redis) = start_redis() {
        let (to_two, after, closed) = slow_subscriber(redis.addr);
        assert!(
            closed && to_two > 10 && after > 1000,
            "redis: {to_two} then {after}"
        );
    }
}
