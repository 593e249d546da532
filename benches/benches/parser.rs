//! The RESP request parser (`embedis_server::parse::RequestParser`) against redis-protocol's
//! RESP2 decoder (`decode_bytes_mut`, zero-copy like ours), on the same bytes:
//!
//! - `pipeline16/*`: 16 pipelined `SET key:NNNNNNN value-0123456789` requests in one read
//!   (what `redis-benchmark -P 16` sends);
//! - `mset100/*`: one MSET of 100 pairs (201 arguments);
//! - `bigarg_chunked/*`: one SET with a 1 MiB value arriving in 16 KiB reads, parsing after
//!   every read as a server must: redis-protocol starts the frame over each time (O(n²)),
//!   ours keeps its place.
//!
//! Throughput is in bytes of input. `cargo bench -p embedis-benches --bench parser`.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use embedis_server::parse::{Limits, RequestParser};

fn request(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn pipeline16() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..16 {
        let key = format!("key:{i:07}");
        out.extend(request(&[b"SET", key.as_bytes(), b"value-0123456789"]));
    }
    out
}

fn mset100() -> Vec<u8> {
    let pairs: Vec<(String, String)> = (0..100)
        .map(|i| (format!("key:{i:07}"), format!("value-{i:010}")))
        .collect();
    let mut args: Vec<&[u8]> = vec![b"MSET"];
    for (k, v) in &pairs {
        args.push(k.as_bytes());
        args.push(v.as_bytes());
    }
    request(&args)
}

/// Parses every request in `input` with embedis's parser; returns how many.
fn ours(input: &[u8], chunk: usize) -> usize {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::with_capacity(input.len().min(64 * 1024));
    let mut args: Vec<Bytes> = Vec::new();
    let mut n = 0;
    for piece in input.chunks(chunk) {
        parser.reserve(&mut buf);
        buf.extend_from_slice(piece);
        while parser
            .next_request(&mut buf, Limits::default(), &mut args)
            .expect("valid input")
        {
            n += args.len();
            args.clear();
        }
    }
    n
}

/// Parses every frame in `input` with redis-protocol; returns how many arguments.
fn theirs(input: &[u8], chunk: usize) -> usize {
    use redis_protocol::resp2::decode::decode_bytes_mut;
    use redis_protocol::resp2::types::BytesFrame;
    let mut buf = BytesMut::with_capacity(input.len().min(64 * 1024));
    let mut n = 0;
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece);
        while let Some((frame, _, _)) = decode_bytes_mut(&mut buf).expect("valid input") {
            if let BytesFrame::Array(items) = frame {
                n += items.len();
            }
        }
    }
    n
}

fn parser(c: &mut Criterion) {
    let big = vec![b'x'; 1 << 20];
    let cases: Vec<(&str, Vec<u8>, usize)> = vec![
        ("pipeline16", pipeline16(), usize::MAX),
        ("mset100", mset100(), usize::MAX),
        ("bigarg_chunked", request(&[b"SET", b"k", &big]), 16 * 1024),
    ];
    for (name, input, chunk) in cases {
        assert_eq!(
            ours(&input, chunk),
            theirs(&input, chunk),
            "{name}: both see the same arguments"
        );
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function("embedis", |b| b.iter(|| black_box(ours(&input, chunk))));
        g.bench_function("redis_protocol", |b| {
            b.iter(|| black_box(theirs(&input, chunk)))
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = parser
}
criterion_main!(benches);
