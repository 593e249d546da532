//! A real `redis-server` from PATH, started on a free loopback port for one test and killed
//! when dropped: the reference the differential tests compare embedis against.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::frame::Frame;
use crate::server::Server;

/// How many ports to try before giving up (another process may grab a port between our
/// probe and redis-server binding it).
const START_ATTEMPTS: usize = 8;
/// How long one redis-server gets to answer PING.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The `redis-server --version` line, if redis-server is on PATH.
pub fn redis_version() -> Option<&'static str> {
    static VERSION: OnceLock<Option<String>> = OnceLock::new();
    VERSION
        .get_or_init(|| {
            let out = Command::new("redis-server")
                .arg("--version")
                .stdin(Stdio::null())
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        })
        .as_deref()
}

/// Whether `redis-server` can be run from PATH.
pub fn redis_available() -> bool {
    redis_version().is_some()
}

/// Whether we run under CI (`CI` set to anything but empty, `0` or `false`), where a missing
/// redis-server is a failure rather than a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// A port that was free a moment ago on 127.0.0.1 (the OS picks it).
pub fn free_port() -> io::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// A redis-server child process.
#[derive(Debug)]
pub struct RealRedis {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl RealRedis {
    /// Starts `redis-server` with no persistence on a free port and waits until it answers.
    pub fn start() -> io::Result<RealRedis> {
        RealRedis::start_with(&[])
    }

    /// Same as [`start`](RealRedis::start), with extra `--option value` arguments.
    pub fn start_with(extra: &[&str]) -> io::Result<RealRedis> {
        let mut last_err = None;
        for _ in 0..START_ATTEMPTS {
            match RealRedis::try_start(extra) {
                Ok(r) => return Ok(r),
                Err(Retry::PortTaken(e)) => last_err = Some(e),
                Err(Retry::Fatal(e)) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("redis-server did not start")))
    }

    fn try_start(extra: &[&str]) -> Result<RealRedis, Retry> {
        let port = free_port().map_err(Retry::Fatal)?;
        let log = std::env::temp_dir().join(format!(
            "embedis-tests-redis-{}-{port}.log",
            std::process::id()
        ));
        let log_file = std::fs::File::create(&log).map_err(Retry::Fatal)?;
        let log_err = log_file.try_clone().map_err(Retry::Fatal)?;
        // A directory of its own: SAVE/BGSAVE in the cases write there.
        let dir =
            std::env::temp_dir().join(format!("embedis-tests-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(Retry::Fatal)?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            .args(["--dir", &dir.to_string_lossy()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(|e| {
                Retry::Fatal(io::Error::new(
                    e.kind(),
                    format!("cannot run redis-server: {e}"),
                ))
            })?;
        let mut me = RealRedis {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = me.child.try_wait().map_err(Retry::Fatal)? {
                let log = me.log_text();
                let e = io::Error::other(format!(
                    "redis-server on port {port} exited with {status}:\n{log}"
                ));
                return Err(if log.contains("in use") {
                    Retry::PortTaken(e)
                } else {
                    Retry::Fatal(e)
                });
            }
            if let Some(pid) = answering_pid(me.addr) {
                if pid == me.child.id() {
                    return Ok(me);
                }
                // Someone else's server answers on this port; ours will fail to bind.
                return Err(Retry::PortTaken(io::Error::other(format!(
                    "port {port} is taken by another redis-server (pid {pid})"
                ))));
            }
            if Instant::now() > deadline {
                return Err(Retry::Fatal(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "redis-server on port {port} did not answer PING within {START_TIMEOUT:?}:\n{}",
                        me.log_text()
                    ),
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's log so far (for error messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

enum Retry {
    PortTaken(io::Error),
    Fatal(io::Error),
}

/// The `process_id` of the redis-server answering PING at `addr`, if one does.
fn answering_pid(addr: SocketAddr) -> Option<u32> {
    let mut c = Client::connect_timeout(addr, Duration::from_millis(500)).ok()?;
    if c.cmd("PING").ok()? != Frame::Simple(b"PONG".to_vec()) {
        return None;
    }
    let info = c.cmd("INFO server").ok()?;
    let text = String::from_utf8_lossy(info.as_bytes()?).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
}

impl Server for RealRedis {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn name(&self) -> &str {
        "redis"
    }
}

impl Drop for RealRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
