//! Blocking commands over real TCP: clients blocked on one key are served in the order they
//! blocked, timeouts follow `--clock manual`, and a client that goes away while blocked leaves
//! no waiter behind.

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

    fn send(&mut self, args: &[&str]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.stream.write_all(&out).unwrap();
    }

    fn cmd(&mut self, args: &[&str]) -> String {
        self.send(args);
        self.frame()
    }

    /// One complete reply frame as text.
    fn frame(&mut self) -> String {
        loop {
            if let Some(end) = frame_end(&self.buf, 0) {
                let frame: Vec<u8> = self.buf.drain(..end).collect();
                return String::from_utf8_lossy(&frame).into_owned();
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).expect("reply in time");
            assert!(n > 0, "connection closed while waiting for a reply");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Asserts that no reply arrives within `wait`.
    fn no_reply_within(&mut self, wait: Duration) {
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut chunk = [0u8; 1024];
        match self.stream.read(&mut chunk) {
            Ok(n) => panic!(
                "unexpected reply: {:?}",
                String::from_utf8_lossy(&chunk[..n])
            ),
            Err(e) => assert!(
                matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
                "{e}"
            ),
        }
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
    }

    /// Whether the server closed the connection.
    fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => true,
            Ok(n) => panic!(
                "unexpected bytes: {:?}",
                String::from_utf8_lossy(&chunk[..n])
            ),
            Err(e) => e.kind() == ErrorKind::ConnectionReset,
        }
    }
}

/// The end of the RESP frame starting at `at`, if complete.
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

/// INFO's `blocked_clients`.
fn blocked_clients(admin: &mut Client) -> u64 {
    let info = admin.cmd(&["INFO", "clients"]);
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO clients has blocked_clients")
}

/// Waits until INFO reports `n` blocked clients.
fn wait_blocked(admin: &mut Client, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while blocked_clients(admin) != n {
        assert!(
            Instant::now() < deadline,
            "never reached {n} blocked clients"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn pair(key: &str, value: &str) -> String {
    format!(
        "*2\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
        key.len(),
        value.len()
    )
}

#[test]
fn clients_blocked_on_one_key_are_served_in_order() {
    let server = start(&[]);
    let mut admin = Client::connect(&server);
    let mut clients: Vec<Client> = (0..3).map(|_| Client::connect(&server)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(&["BLPOP", "q", "other", "0"]);
        wait_blocked(&mut admin, i as u64 + 1);
    }
    // The push replies with the length it made; the waiters take the elements afterwards.
    assert_eq!(admin.cmd(&["RPUSH", "q", "a", "b"]), ":2\r\n");
    assert_eq!(clients[0].frame(), pair("q", "a"));
    assert_eq!(clients[1].frame(), pair("q", "b"));
    clients[2].no_reply_within(Duration::from_millis(50));
    assert_eq!(admin.cmd(&["EXISTS", "q"]), ":0\r\n");
    assert_eq!(blocked_clients(&mut admin), 1);
    // The last one is served from its other key, and can run commands again.
    assert_eq!(admin.cmd(&["LPUSH", "other", "c"]), ":1\r\n");
    assert_eq!(clients[2].frame(), pair("other", "c"));
    assert_eq!(clients[2].cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(blocked_clients(&mut admin), 0);
    server.shutdown();
}

#[test]
fn replies_before_a_block_are_sent_and_commands_after_it_wait() {
    let server = start(&[]);
    let mut admin = Client::connect(&server);
    let mut c = Client::connect(&server);
    let mut batch = Vec::new();
    for args in [&["PING"][..], &["BRPOP", "q", "0"], &["LLEN", "q"]] {
        batch.extend(format!("*{}\r\n", args.len()).into_bytes());
        for a in args {
            batch.extend(format!("${}\r\n{a}\r\n", a.len()).into_bytes());
        }
    }
    c.stream.write_all(&batch).unwrap();
    assert_eq!(c.frame(), "+PONG\r\n");
    wait_blocked(&mut admin, 1);
    c.no_reply_within(Duration::from_millis(50));
    admin.cmd(&["RPUSH", "q", "x", "y"]);
    assert_eq!(c.frame(), pair("q", "y"));
    assert_eq!(c.frame(), ":1\r\n");
    server.shutdown();
}

#[test]
fn blmove_is_served_and_chains_into_another_waiter() {
    let server = start(&[]);
    let mut admin = Client::connect(&server);
    let mut mover = Client::connect(&server);
    let mut popper = Client::connect(&server);
    mover.send(&["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut admin, 1);
    popper.send(&["BLPOP", "dst", "0"]);
    wait_blocked(&mut admin, 2);
    admin.cmd(&["RPUSH", "src", "job"]);
    assert_eq!(mover.frame(), "$3\r\njob\r\n");
    assert_eq!(popper.frame(), pair("dst", "job"));
    assert_eq!(admin.cmd(&["EXISTS", "src", "dst"]), ":0\r\n");
    server.shutdown();
}

#[test]
fn timeouts_follow_the_manual_clock() {
    let server = start(&["--clock", "manual"]);
    let mut admin = Client::connect(&server);
    let mut c = Client::connect(&server);
    let mut m = Client::connect(&server);
    c.send(&["BLPOP", "q", "5"]);
    m.send(&["BLMOVE", "q2", "d", "LEFT", "LEFT", "2.5"]);
    wait_blocked(&mut admin, 2);
    c.no_reply_within(Duration::from_millis(100));
    admin.cmd(&["EMBEDIS.CLOCK", "ADVANCE", "2499"]);
    m.no_reply_within(Duration::from_millis(50));
    admin.cmd(&["EMBEDIS.CLOCK", "ADVANCE", "1"]);
    // A timed-out BLMOVE answers a null array, like every list blocking command in Redis.
    assert_eq!(m.frame(), "*-1\r\n");
    admin.cmd(&["EMBEDIS.CLOCK", "ADVANCE", "2499"]);
    c.no_reply_within(Duration::from_millis(50));
    admin.cmd(&["EMBEDIS.CLOCK", "ADVANCE", "1"]);
    assert_eq!(c.frame(), "*-1\r\n");
    assert_eq!(blocked_clients(&mut admin), 0);
    // Pushed afterwards, the element stays.
    admin.cmd(&["RPUSH", "q", "late"]);
    assert_eq!(admin.cmd(&["LLEN", "q"]), ":1\r\n");
    // RESP3 shapes the timeout as a null.
    assert!(c.cmd(&["HELLO", "3"]).starts_with('%'));
    c.send(&["BRPOP", "nothing", "1"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["EMBEDIS.CLOCK", "ADVANCE", "1000"]);
    assert_eq!(c.frame(), "_\r\n");
    server.shutdown();
}

#[test]
fn a_client_that_disconnects_while_blocked_leaves_no_waiter() {
    let server = start(&[]);
    let mut admin = Client::connect(&server);
    {
        let mut c = Client::connect(&server);
        c.send(&["BLPOP", "q", "0"]);
        wait_blocked(&mut admin, 1);
    }
    wait_blocked(&mut admin, 0);
    // Nobody takes the pushed element.
    assert_eq!(admin.cmd(&["RPUSH", "q", "x"]), ":1\r\n");
    assert_eq!(admin.cmd(&["LLEN", "q"]), ":1\r\n");
    server.shutdown();
}

#[test]
fn client_kill_ends_a_blocked_call() {
    let server = start(&[]);
    let mut admin = Client::connect(&server);
    let mut c = Client::connect(&server);
    let id = c.cmd(&["CLIENT", "ID"]);
    let id = id.trim().trim_start_matches(':').to_string();
    c.send(&["BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "2"]);
    wait_blocked(&mut admin, 1);
    assert!(admin.cmd(&["CLIENT", "LIST"]).contains("flags=b"));
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "ID", &id]), ":1\r\n");
    assert!(c.closed());
    wait_blocked(&mut admin, 0);
    admin.cmd(&["RPUSH", "b", "x"]);
    assert_eq!(admin.cmd(&["LLEN", "b"]), ":1\r\n");
    server.shutdown();
}
