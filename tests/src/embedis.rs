//! embedis-server started in this test process on a free loopback port, shut down on drop.
//! The only place the test suite touches the server crate's API.

use std::io;
use std::net::SocketAddr;

use crate::server::Server;

/// An in-process embedis-server.
pub struct Embedis {
    handle: Option<embedis_server::ServerHandle>,
    addr: SocketAddr,
}

impl std::fmt::Debug for Embedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedis").field("addr", &self.addr).finish()
    }
}

impl Embedis {
    /// Starts a server with default settings on a port the OS picks, with persistence in a
    /// directory of its own (no save points, no AOF) so that SAVE and BGSAVE work as on the
    /// real server the differential tests compare with.
    pub fn start() -> io::Result<Embedis> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("embedis-tests-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let dir = dir.to_string_lossy().into_owned();
        Embedis::start_with(&["--dir", &dir, "--save", ""])
    }

    /// Same as [`start`](Embedis::start), with extra `--option value` arguments, parsed like
    /// the `embedis-server` command line.
    pub fn start_with(extra: &[&str]) -> io::Result<Embedis> {
        let mut args: Vec<String> = vec!["--port".into(), "0".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let config = embedis_server::ServerConfig::from_args(args)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let handle = embedis_server::spawn(config)?;
        let addr = handle.addr();
        Ok(Embedis {
            handle: Some(handle),
            addr,
        })
    }

    /// The engine behind the server (to inspect or change state without a socket).
    pub fn db(&self) -> &embedis::Db {
        match &self.handle {
            Some(h) => h.db(),
            None => unreachable!("the handle is only taken on drop"),
        }
    }
}

impl Server for Embedis {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn name(&self) -> &str {
        "embedis"
    }
}

impl Drop for Embedis {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown();
        }
    }
}
