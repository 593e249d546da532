//! The registry of connected clients: what CLIENT LIST/INFO/KILL and INFO's clients section
//! read. Connections register on accept and unregister on close.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// Mutable details.
    pub meta: Mutex<ClientMeta>,
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
            meta: Mutex::new(ClientMeta {
                resp: 2,
                ..ClientMeta::default()
            }),
            killed: AtomicBool::new(false),
            kill_notify: tokio::sync::Notify::new(),
        }
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
