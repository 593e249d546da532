//! The demo binary started on an ephemeral port, and a real `redis-server` for the Redis
//! runs (skipped loudly when missing; in CI, CI=true, a missing server fails the test).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

pub struct RedisServer {
    pub port: u16,
    _child: Child,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn start_redis() -> Result<RedisServer, String> {
    if Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        return Err("redis-server is not on PATH".into());
    }
    let port = free_port();
    // A watchdog stops the server when this test process exits (statics are never dropped).
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

/// The shared redis-server of this test binary, or `None` (loudly) outside CI.
pub fn redis() -> Option<&'static RedisServer> {
    static SERVER: OnceLock<Result<RedisServer, String>> = OnceLock::new();
    match SERVER.get_or_init(start_redis) {
        Ok(s) => Some(s),
        Err(e) => {
            assert!(!in_ci(), "CI needs a real redis-server: {e}");
            eprintln!("\n=== SKIPPED (demo on real Redis): {e} ===\n");
            None
        }
    }
}

/// Which backend a demo runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Embedded,
    Redis,
}

/// A running `embedis-demo`; killed on drop.
pub struct Demo {
    pub base: String,
    child: Child,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    /// Starts the demo on `kind` with extra flags; `None` when Redis is wanted but missing
    /// (outside CI). Each Redis demo gets its own database number, so tests running in
    /// parallel do not share cache entries or rate limit budgets.
    pub fn start(kind: Kind, args: &[&str]) -> Option<Demo> {
        let url = match kind {
            Kind::Embedded => None,
            Kind::Redis => Some(fresh_redis_db()?),
        };
        Some(Demo::start_with(url.as_deref(), args))
    }

    /// Starts the demo on the Redis at `redis_url` (embedded when `None`).
    pub fn start_with(redis_url: Option<&str>, args: &[&str]) -> Demo {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_embedis-demo"));
        cmd.args(["--listen", "127.0.0.1:0"]).args(args);
        if let Some(url) = redis_url {
            cmd.args(["--redis-url", url]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the demo binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the demo prints its address");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Demo {
            base: format!("http://{addr}"),
            child,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// The URL of a database of the shared redis-server no other test uses (`None`, loudly,
/// when redis-server is missing outside CI).
pub fn fresh_redis_db() -> Option<String> {
    static DB: AtomicU32 = AtomicU32::new(1);
    let server = redis()?;
    let db = DB.fetch_add(1, Ordering::Relaxed);
    assert!(db < 16, "more Redis demos than databases");
    Some(format!("redis://127.0.0.1:{}/{db}", server.port))
}

/// Instantiates each listed async test function once per backend.
#[macro_export]
macro_rules! on_both {
    ($($test:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::cases::$test(super::support::Kind::Embedded).await;
                }
            )*
        }
        mod real_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::cases::$test(super::support::Kind::Redis).await;
                }
            )*
        }
    };
}
