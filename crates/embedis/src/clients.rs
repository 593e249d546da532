//! The registry of connected clients: what CLIENT LIST/INFO/KILL and INFO's clients section
//! read. Connections register on accept and unregister on close.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

/// What a connection shows about itself, updated as it runs commands.
#[derive(Debug, Default, Clone)]
#[non_exhaustive]
pub struct ClientMeta {
    /// CLIENT SETNAME.
    pub name: Option<Bytes>,
    /// Selected database.
    pub db: usize,
    /// Protocol version.
    pub resp: u8,
    /// Full name of the last command run (`client|list`).
    pub last_cmd: &'static str,
    /// Unix ms of the last command.
    pub last_interaction_ms: u64,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: Option<Bytes>,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: Option<Bytes>,
    /// Channels subscribed to (kept by pub/sub).
    pub sub: usize,
    /// Patterns subscribed to (kept by pub/sub).
    pub psub: usize,
    /// Shard channels subscribed to (kept by pub/sub).
    pub ssub: usize,
    /// Commands queued since MULTI, `None` outside a transaction (kept by MULTI/EXEC).
    pub multi: Option<usize>,
    /// Waiting in a blocking command (kept by blocking commands).
    pub blocked: bool,
}

impl ClientMeta {
    /// Whether the client is in pub/sub mode (CLIENT LIST flag `P`, type `pubsub`).
    pub fn is_pubsub(&self) -> bool {
        self.sub + self.psub + self.ssub > 0
    }
}

/// Buffer sizes a connection reports after each read and write (CLIENT LIST `qbuf`, `rbs`,
/// `obl`...). Relaxed atomics: they are statistics, written by the connection only.
#[derive(Debug, Default)]
pub struct ConnBuffers {
    /// Bytes received and not yet parsed into a command.
    pub qbuf: AtomicU64,
    /// Free space in the read buffer.
    pub qbuf_free: AtomicU64,
    /// Read buffer size.
    pub rbs: AtomicU64,
    /// Largest read buffer use seen.
    pub rbp: AtomicU64,
    /// Bytes of arguments of a request still being received.
    pub argv_mem: AtomicU64,
    /// Reply bytes waiting to be written.
    pub obl: AtomicU64,
    /// Memory held by the output buffer.
    pub omem: AtomicU64,
}

/// One connected client, shared between its connection task and the registry.
#[derive(Debug)]
pub struct ClientConn {
    /// CLIENT ID.
    pub id: u64,
    /// Peer address (`ip:port`).
    pub addr: String,
    /// Local address (`ip:port`).
    pub laddr: String,
    /// Unix ms when the connection was accepted.
    pub created_ms: u64,
    /// Socket file descriptor (`-1` when there is none).
    pub fd: i64,
    /// Mutable details.
    pub meta: Mutex<ClientMeta>,
    /// Buffer sizes, kept by the connection.
    pub buffers: ConnBuffers,
    killed: AtomicBool,
    kill_notify: tokio::sync::Notify,
}

impl ClientConn {
    /// A new connection record.
    pub fn new(id: u64, addr: String, laddr: String, created_ms: u64) -> Self {
        ClientConn {
            id,
            addr,
            laddr,
            created_ms,
            fd: -1,
            meta: Mutex::new(ClientMeta {
                resp: 2,
                ..ClientMeta::default()
            }),
            buffers: ConnBuffers::default(),
            killed: AtomicBool::new(false),
            kill_notify: tokio::sync::Notify::new(),
        }
    }

    /// The same record with its socket's file descriptor.
    pub fn with_fd(mut self, fd: i64) -> Self {
        self.fd = fd;
        self
    }

    /// Asks the connection to close (CLIENT KILL).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill_notify.notify_waiters();
        self.kill_notify.notify_one();
    }

    /// Whether CLIENT KILL was called on this connection.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Completes when the connection is killed.
    pub async fn killed(&self) {
        while !self.is_killed() {
            self.kill_notify.notified().await;
        }
    }
}

/// All connected clients.
#[derive(Debug, Default)]
pub struct Clients {
    map: Mutex<BTreeMap<u64, Arc<ClientConn>>>,
}

impl Clients {
    /// Adds a connection.
    pub fn register(&self, conn: Arc<ClientConn>) {
        self.map.lock().insert(conn.id, conn);
    }

    /// Removes a connection.
    pub fn unregister(&self, id: u64) {
        self.map.lock().remove(&id);
    }

    /// Number of connected clients.
    pub fn count(&self) -> usize {
        self.map.lock().len()
    }

    /// A snapshot of the connected clients, by id.
    pub fn list(&self) -> Vec<Arc<ClientConn>> {
        self.map.lock().values().cloned().collect()
    }

    /// One client by id.
    pub fn get(&self, id: u64) -> Option<Arc<ClientConn>> {
        self.map.lock().get(&id).cloned()
    }
}
