//! A minimal blocking RESP client for tests: writes commands as RESP arrays, reads raw
//! [`Frame`]s, and never waits forever (a hung server fails the test, it does not hang CI).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::frame::{self, Frame};

/// How long a test waits for a connection or a reply unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to a RESP server.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    timeout: Duration,
}

/// Encodes `args` as a RESP array of bulk strings (how every client sends commands).
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(16 + args.iter().map(|a| a.as_ref().len() + 16).sum::<usize>());
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl Client {
    /// Connects with [`DEFAULT_TIMEOUT`].
    pub fn connect(addr: SocketAddr) -> io::Result<Client> {
        Client::connect_timeout(addr, DEFAULT_TIMEOUT)
    }

    /// Connects; `timeout` bounds the connection and every later read and write.
    pub fn connect_timeout(addr: SocketAddr, timeout: Duration) -> io::Result<Client> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Client {
            stream,
            buf: Vec::with_capacity(4096),
            timeout,
        })
    }

    /// Changes the read/write timeout.
    pub fn set_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.stream.set_read_timeout(Some(timeout))?;
        self.stream.set_write_timeout(Some(timeout))?;
        self.timeout = timeout;
        Ok(())
    }

    /// Sends one command without waiting for its reply (pipelining).
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<()> {
        self.send_raw(&encode_command(args))
    }

    /// Sends bytes as they are (inline commands, malformed input, partial frames).
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).map_err(|e| self.timed(e))
    }

    /// Reads the next reply frame.
    pub fn read(&mut self) -> io::Result<Frame> {
        loop {
            match frame::decode(&self.buf) {
                Ok(Some((f, used))) => {
                    self.buf.drain(..used);
                    return Ok(f);
                }
                Ok(None) => {}
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk).map_err(|e| self.timed(e))?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    if self.buf.is_empty() {
                        "connection closed by the server".to_string()
                    } else {
                        format!(
                            "connection closed in the middle of a reply ({} bytes pending)",
                            self.buf.len()
                        )
                    },
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends one command and reads its reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Frame> {
        self.send(args)?;
        self.read()
    }

    /// Sends a command written as one whitespace-separated line (no quoting) and reads the
    /// reply: `client.cmd("SET k v")`.
    pub fn cmd(&mut self, line: &str) -> io::Result<Frame> {
        let args: Vec<&str> = line.split_whitespace().collect();
        self.call(&args)
    }

    /// Sends all commands in one write, then reads one reply each.
    pub fn pipeline<A: AsRef<[u8]>>(&mut self, commands: &[Vec<A>]) -> io::Result<Vec<Frame>> {
        let mut out = Vec::new();
        for c in commands {
            out.extend_from_slice(&encode_command(c));
        }
        self.send_raw(&out)?;
        commands.iter().map(|_| self.read()).collect()
    }

    /// Whether the server has closed the connection: waits up to `wait` for EOF. Bytes that
    /// arrive meanwhile are kept for [`read`](Client::read).
    pub fn is_closed(&mut self, wait: Duration) -> io::Result<bool> {
        self.stream.set_read_timeout(Some(wait))?;
        let mut chunk = [0u8; 4096];
        let r = self.stream.read(&mut chunk);
        self.stream.set_read_timeout(Some(self.timeout))?;
        match r {
            Ok(0) => Ok(true),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(false)
            }
            Err(e) if is_timeout(&e) => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// The server's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    fn timed(&self, e: io::Error) -> io::Error {
        if is_timeout(&e) {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no reply within {:?}", self.timeout),
            )
        } else {
            e
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn encodes_commands_as_bulk_arrays() {
        assert_eq!(
            encode_command(&["SET", "k", ""]),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"
        );
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut c = Client::connect_timeout(addr, Duration::from_millis(100)).unwrap();
        let err = c.cmd("PING").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        drop(listener);
    }

    #[test]
    fn reads_replies_split_across_packets() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = [0u8; 64];
            let _ = s.read(&mut req).unwrap();
            for part in [&b"*2\r\n$5\r\nhel"[..], b"lo\r\n", b":7\r\n"] {
                s.write_all(part).unwrap();
                s.flush().unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let mut c = Client::connect(addr).unwrap();
        let f = c.cmd("ANY").unwrap();
        assert_eq!(
            f,
            Frame::Array(vec![Frame::Bulk(b"hello".to_vec()), Frame::Int(7)])
        );
        server.join().unwrap();
        assert!(c.is_closed(Duration::from_secs(1)).unwrap());
    }
}
