//! Listening, accepting, the periodic client checks, and stopping.
//!
//! [`spawn`] binds synchronously (so that bind errors reach the caller), then runs the server
//! on a thread of its own with its own multi-thread tokio runtime: the caller needs no runtime.
//! The server stops when [`ServerHandle::shutdown`] is called, when the handle is dropped, when
//! a [`ShutdownTrigger`] fires (the binary's signal handler), or when the engine asks for it
//! (SHUTDOWN: [`embedis::Engine::request_shutdown`]). Stopping closes the listeners, lets each
//! connection finish the batch it is running and write its replies, and waits for them (at
//! most [`DRAIN_TIMEOUT`]).

use std::io;
use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use embedis::clients::ClientConn;
use embedis::{ClientState, Db, Engine};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::config::ServerConfig;

/// How long a stopping server waits for connections to finish.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A running server. Dropping it stops the server too.
#[derive(Debug)]
pub struct ServerHandle {
    addrs: Vec<SocketAddr>,
    db: Db,
    stop: Arc<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

/// Stops a server from anywhere (another thread, a signal handler). Cheap to clone.
#[derive(Debug, Clone)]
pub struct ShutdownTrigger(Arc<watch::Sender<bool>>);

impl ShutdownTrigger {
    /// Asks the server to stop; returns at once.
    pub fn shutdown(&self) {
        self.0.send_replace(true);
    }
}

impl ServerHandle {
    /// The first address the server listens on (the bound port when `port` was 0).
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Every address the server listens on.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The engine the server serves: the same data, usable in-process.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// A handle that can stop the server from elsewhere.
    pub fn trigger(&self) -> ShutdownTrigger {
        ShutdownTrigger(self.stop.clone())
    }

    /// Whether the server has stopped (SHUTDOWN, a trigger).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops the server and waits until it has.
    pub fn shutdown(mut self) {
        self.stop.send_replace(true);
        self.join();
    }

    /// Waits until the server stops on its own (SHUTDOWN, a [`ShutdownTrigger`]).
    pub fn wait(mut self) {
        self.join();
    }

    fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("the server thread panicked");
            }
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        self.join();
    }
}

/// Builds the engine from `config` and serves it (see [`spawn_with`]).
pub fn spawn(config: ServerConfig) -> io::Result<ServerHandle> {
    let db = config
        .build_db()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    spawn_with(db, &config)
}

/// Serves an existing engine (an application's in-process [`Db`]) over RESP, with the
/// listening and threading settings of `config`.
pub fn spawn_with(db: Db, config: &ServerConfig) -> io::Result<ServerHandle> {
    let port = config.values.port;
    let listeners = bind(&config.values.bind, port)?;
    let addrs = listeners
        .iter()
        .map(|l| l.local_addr())
        .collect::<io::Result<Vec<_>>>()?;
    let actual_port = addrs[0].port();
    db.engine().config.update(|c| c.port = actual_port);

    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all().thread_name("embedis-io");
    if let Some(n) = config.io_threads {
        rt.worker_threads(n);
    }
    let rt = rt.build()?;
    let (stop, _) = watch::channel(false);
    let stop = Arc::new(stop);
    let engine = db.engine().clone();
    let server_stop = stop.clone();
    let thread = std::thread::Builder::new()
        .name("embedis-server".into())
        .spawn(move || {
            rt.block_on(serve(listeners, engine, server_stop));
            rt.shutdown_timeout(Duration::from_secs(1));
        })?;
    for a in &addrs {
        tracing::info!("listening on {a}");
    }
    Ok(ServerHandle {
        addrs,
        db,
        stop,
        thread: Some(thread),
    })
}

/// Binds every address of `bind` (space-separated; `*` is every IPv4 address, a leading `-`
/// makes an address optional, as in redis.conf).
fn bind(bind: &str, port: u16) -> io::Result<Vec<StdListener>> {
    let mut listeners = Vec::new();
    let mut first_error = None;
    for spec in bind.split_whitespace() {
        let (optional, host) = match spec.strip_prefix('-') {
            Some(h) => (true, h),
            None => (false, spec),
        };
        let host = match host {
            "*" => "0.0.0.0",
            "::*" => "::",
            h => h,
        };
        let result = (host, port)
            .to_socket_addrs()
            .and_then(|mut a| {
                a.next().ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("no address for {host}"),
                    )
                })
            })
            .and_then(StdListener::bind)
            .and_then(|l| l.set_nonblocking(true).map(|_| l));
        match result {
            Ok(l) => listeners.push(l),
            Err(e) if optional => {
                tracing::warn!("could not bind optional address {spec}: {e}");
                first_error.get_or_insert(e);
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("could not bind {host}:{port}: {e}"),
                ));
            }
        }
    }
    if listeners.is_empty() {
        return Err(first_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no address to listen on")
        }));
    }
    Ok(listeners)
}

async fn serve(listeners: Vec<StdListener>, engine: Arc<Engine>, stop: Arc<watch::Sender<bool>>) {
    // Held by every connection task: the server is drained when only this one is left.
    let live = Arc::new(());
    for l in listeners {
        match TcpListener::from_std(l) {
            Ok(l) => {
                tokio::spawn(accept_loop(
                    l,
                    engine.clone(),
                    stop.subscribe(),
                    live.clone(),
                ));
            }
            Err(e) => tracing::error!("could not listen: {e}"),
        }
    }
    tokio::spawn(cron(engine.clone(), stop.clone()));

    let mut stop_rx = stop.subscribe();
    tokio::select! {
        _ = stop_rx.wait_for(|s| *s) => {}
        _ = engine.shutdown_signal() => {}
    }
    tracing::info!("stopping: closing connections");
    stop.send_replace(true);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while Arc::strong_count(&live) > 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!("stopping with connections still open");
    }
    // SHUTDOWN already synced the AOF and saved as asked; a signal or the handle did not, so
    // do what redis-server does on SIGTERM (a no-op without persistence).
    if !engine
        .shutdown_requested
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        if let Err(e) = embedis::persist::shutdown(&engine, None) {
            tracing::error!("saving on shutdown failed: {e}");
        }
    }
    tracing::info!("stopped");
}

async fn accept_loop(
    listener: TcpListener,
    engine: Arc<Engine>,
    mut stop: watch::Receiver<bool>,
    live: Arc<()>,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Usually out of file descriptors: wait a little instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let maxclients = engine.config.read(|c| c.maxclients);
        if engine.clients.count() as u64 >= maxclients {
            engine.stats.rejected_connections.inc();
            tokio::spawn(refuse(stream));
            continue;
        }
        engine.stats.total_connections.inc();
        let _ = stream.set_nodelay(true);
        let local = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let mut state = ClientState::new(&engine);
        state.authenticated = engine.config.read(|c| c.requirepass.is_none());
        let now = engine.clock.now_millis();
        let conn = Arc::new(
            ClientConn::new(state.id, peer.to_string(), local, now).with_fd(raw_fd(&stream)),
        );
        conn.meta.lock().last_interaction_ms = now;
        engine.clients.register(conn.clone());
        state.conn = Some(conn.clone());
        tracing::debug!(client = conn.id, addr = %peer, "accepted");
        let session = embedis::Session::with_state(engine.clone(), state);
        let stop = stop.clone();
        let live = live.clone();
        tokio::spawn(async move {
            crate::conn::serve(stream, conn, session, stop).await;
            drop(live);
        });
    }
}

/// Tells a client over `maxclients` why it is refused, then closes.
async fn refuse(mut stream: TcpStream) {
    let _ = stream
        .write_all(b"-ERR max number of clients reached\r\n")
        .await;
    let _ = stream.shutdown().await;
}

#[cfg(unix)]
fn raw_fd(stream: &TcpStream) -> i64 {
    use std::os::fd::AsRawFd;
    stream.as_raw_fd() as i64
}

#[cfg(not(unix))]
fn raw_fd(_stream: &TcpStream) -> i64 {
    -1
}

/// Periodic work, `hz` times a second: idle clients past `timeout` are closed (timed by the
/// engine's clock, so a manual clock moves this too), and a SHUTDOWN flag set without
/// [`Engine::request_shutdown`] is noticed.
async fn cron(engine: Arc<Engine>, stop: Arc<watch::Sender<bool>>) {
    let mut stop_rx = stop.subscribe();
    loop {
        let hz = engine.config.read(|c| c.hz).clamp(1, 500);
        tokio::select! {
            _ = stop_rx.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(Duration::from_millis(1000 / hz as u64)) => {}
        }
        if engine.shutdown_requested.load(Ordering::SeqCst) {
            stop.send_replace(true);
            return;
        }
        let timeout = engine.config.read(|c| c.timeout);
        if timeout > 0 {
            let now = engine.clock.now_millis();
            for conn in engine.clients.list() {
                let idle = {
                    let m = conn.meta.lock();
                    // Like Redis, pub/sub and blocked clients are never idle.
                    !m.is_pubsub()
                        && !m.blocked
                        && now.saturating_sub(m.last_interaction_ms) > timeout * 1000
                };
                if idle && !conn.is_killed() {
                    tracing::debug!(client = conn.id, "closing idle client");
                    conn.kill();
                }
            }
        }
    }
}
