//! What the differential runner needs from a server under test: where it listens and what to
//! call it in reports. Implemented by [`RealRedis`](crate::RealRedis) and
//! [`Embedis`](crate::Embedis), and by anything else that speaks RESP on a socket.

use std::net::SocketAddr;

/// A running RESP server.
pub trait Server {
    /// Where it accepts connections.
    fn addr(&self) -> SocketAddr;
    /// A short name for reports (`redis`, `embedis`).
    fn name(&self) -> &str;
}

/// A server that some other code started (e.g. by hand, for debugging a case file).
#[derive(Debug, Clone)]
pub struct External {
    /// Its address.
    pub addr: SocketAddr,
    /// Its name in reports.
    pub name: String,
}

impl Server for External {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn name(&self) -> &str {
        &self.name
    }
}
