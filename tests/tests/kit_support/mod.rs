//! Shared by the embedis-kit test binaries: a real `redis-server` started on a free
//! loopback port, and the skip-or-fail rule for when it is not installed.

#![allow(dead_code)]

pub mod fixture;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Whether this run is CI (which installs redis-server and treats a skip as a failure).
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A redis-server child. It is started through `sh` with a watchdog that stops it when
/// the test process exits (static fixtures are never dropped).
pub struct RedisServer {
    pub port: u16,
    _child: Child,
}

impl RedisServer {
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn start() -> Result<RedisServer, String> {
    if Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        return Err("redis-server is not on PATH".into());
    }
    let port = free_port();
    let script = format!(
        "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no \
         --daemonize no --loglevel warning & pid=$!; \
         while kill -0 {parent} 2>/dev/null && kill -0 $pid 2>/dev/null; do sleep 1; done; \
         kill $pid 2>/dev/null",
        parent = std::process::id()
    );
    let child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start redis-server: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(RedisServer {
                port,
                _child: child,
            });
        }
        if Instant::now() > deadline {
            return Err(format!("redis-server did not listen on port {port}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The shared real Redis of this test binary, or `None` (with a loud message) when
/// redis-server is missing outside CI. In CI a missing server fails the test.
pub fn redis() -> Option<&'static RedisServer> {
    static SERVER: OnceLock<Result<RedisServer, String>> = OnceLock::new();
    match SERVER.get_or_init(start) {
        Ok(s) => Some(s),
        Err(e) => {
            assert!(!in_ci(), "CI needs a real redis-server: {e}");
            eprintln!("\n=== SKIPPED (real Redis configuration): {e} ===\n");
            None
        }
    }
}

/// A key namespace unique to this test and process run.
pub fn namespace(test: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "t{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        test
    )
}
