//! PUBLISH throughput against a running server (embedis-server or redis-server), since
//! redis-benchmark cannot subscribe: `subscribers` connections SUBSCRIBE to one channel, one
//! publisher pipelines PUBLISH commands, and the run ends when every subscriber has received
//! every message. Reports published messages per second and deliveries per second.
//!
//! ```sh
//! cargo run --release -p embedis-benches --bin pubsub_throughput -- \
//!     --port 6379 --subscribers 50 --messages 200000 --pipeline 32 --payload 64
//! ```

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::Instant;

struct Options {
    host: String,
    port: u16,
    subscribers: usize,
    messages: usize,
    pipeline: usize,
    payload: usize,
}

fn parse_args() -> Options {
    let mut o = Options {
        host: "127.0.0.1".into(),
        port: 6379,
        subscribers: 1,
        messages: 100_000,
        pipeline: 32,
        payload: 64,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or("");
        let n = || value.parse::<usize>().expect("a number");
        match pair[0].as_str() {
            "--host" => o.host = value.to_string(),
            "--port" => o.port = n() as u16,
            "--subscribers" => o.subscribers = n(),
            "--messages" => o.messages = n(),
            "--pipeline" => o.pipeline = n().max(1),
            "--payload" => o.payload = n(),
            other => panic!("unknown option {other}"),
        }
    }
    o
}

fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads RESP frames from a stream and counts top-level ones.
struct FrameCounter<R> {
    r: R,
    buf: Vec<u8>,
    pos: usize,
}

impl<R: Read> FrameCounter<R> {
    fn new(r: R) -> Self {
        FrameCounter {
            r,
            buf: Vec::with_capacity(1 << 20),
            pos: 0,
        }
    }

    /// Reads until `n` more frames have been seen.
    fn count(&mut self, n: usize) {
        let mut seen = 0;
        while seen < n {
            while seen < n {
                match frame_end(&self.buf, self.pos) {
                    Some(end) => {
                        self.pos = end;
                        seen += 1;
                    }
                    None => break,
                }
            }
            if seen == n {
                break;
            }
            self.buf.drain(..self.pos);
            self.pos = 0;
            let len = self.buf.len();
            self.buf.resize(len + (1 << 16), 0);
            let got = self.r.read(&mut self.buf[len..]).expect("read");
            assert!(got > 0, "server closed the connection");
            self.buf.truncate(len + got);
        }
    }
}

fn frame_end(b: &[u8], at: usize) -> Option<usize> {
    let rel = memchr_crlf(b.get(at..)?)?;
    let line_end = at + rel;
    let head = &b[at + 1..line_end];
    let after = line_end + 2;
    let num = || -> i64 {
        let (neg, digits) = match head.first() {
            Some(b'-') => (true, &head[1..]),
            _ => (false, head),
        };
        let v = digits
            .iter()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
        if neg { -v } else { v }
    };
    match b[at] {
        b'$' => {
            let n = num();
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (b.len() >= end).then_some(end)
        }
        b'*' | b'>' => {
            let mut pos = after;
            for _ in 0..num().max(0) {
                pos = frame_end(b, pos)?;
            }
            Some(pos)
        }
        _ => Some(after),
    }
}

fn memchr_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

fn main() {
    let o = parse_args();
    let addr = format!("{}:{}", o.host, o.port);
    let ready = Arc::new(Barrier::new(o.subscribers + 1));
    let mut handles = Vec::new();
    for _ in 0..o.subscribers {
        let (addr, ready, messages) = (addr.clone(), ready.clone(), o.messages);
        handles.push(std::thread::spawn(move || {
            let mut s = TcpStream::connect(&addr).expect("connect");
            s.write_all(&command(&[b"SUBSCRIBE", b"bench"])).unwrap();
            let mut frames = FrameCounter::new(BufReader::with_capacity(1 << 20, s));
            frames.count(1);
            ready.wait();
            frames.count(messages);
            Instant::now()
        }));
    }
    ready.wait();
    let mut publisher = TcpStream::connect(&addr).expect("connect");
    publisher.set_nodelay(true).unwrap();
    let payload = vec![b'x'; o.payload];
    let one = command(&[b"PUBLISH", b"bench", &payload]);
    let mut replies = FrameCounter::new(publisher.try_clone().unwrap());
    let start = Instant::now();
    let mut sent = 0;
    while sent < o.messages {
        let batch = o.pipeline.min(o.messages - sent);
        let mut out = Vec::with_capacity(one.len() * batch);
        for _ in 0..batch {
            out.extend_from_slice(&one);
        }
        publisher.write_all(&out).unwrap();
        replies.count(batch);
        sent += batch;
    }
    let published = start.elapsed();
    let mut last = start;
    for h in handles {
        last = last.max(h.join().unwrap());
    }
    let delivered = last.duration_since(start);
    let secs = delivered.as_secs_f64().max(published.as_secs_f64());
    println!(
        "subscribers={} messages={} payload={}B pipeline={}: publish {:.0} msg/s, \
         all delivered in {:.3}s = {:.0} msg/s, {:.0} deliveries/s",
        o.subscribers,
        o.messages,
        o.payload,
        o.pipeline,
        o.messages as f64 / published.as_secs_f64(),
        secs,
        o.messages as f64 / secs,
        (o.messages * o.subscribers) as f64 / secs,
    );
}
