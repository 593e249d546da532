//! Fuzzes the request parser: arbitrary bytes, split into reads at arbitrary points, must
//! never panic, and must give exactly the requests and the error that one read of the whole
//! input gives (the parser's result does not depend on how bytes arrive).
//!
//! Input layout: the first byte picks the limits (authenticated or not, a small or the default
//! proto-max-bulk-len); the next bytes, up to the first 0xFF, are read sizes used in turn; the
//! rest is what the client sends.

#![no_main]

use bytes::{Bytes, BytesMut};
use embedis_server::parse::{Limits, ProtocolError, RequestParser};
use libfuzzer_sys::fuzz_target;

type Outcome = (Vec<Vec<Bytes>>, Option<ProtocolError>);

fn run(input: &[u8], sizes: &[usize], limits: Limits) -> Outcome {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut requests = Vec::new();
    let mut pos = 0;
    let mut turn = 0;
    loop {
        loop {
            match parser.next_request(&mut buf, limits, &mut out) {
                Ok(true) => {
                    assert!(!out.is_empty(), "empty requests are skipped");
                    requests.push(out.clone());
                }
                Ok(false) => break,
                Err(e) => return (requests, Some(e)),
            }
        }
        if pos == input.len() {
            return (requests, None);
        }
        let size = sizes[turn % sizes.len()].clamp(1, input.len() - pos);
        turn += 1;
        parser.reserve(&mut buf);
        buf.extend_from_slice(&input[pos..pos + size]);
        pos += size;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        authenticated: mode & 1 == 0,
        proto_max_bulk_len: if mode & 2 == 0 { 512 << 20 } else { 64 },
    };
    let split = rest.iter().position(|&b| b == 0xFF).unwrap_or(0);
    let sizes: Vec<usize> = rest[..split].iter().map(|&b| b as usize + 1).collect();
    let input = &rest[(split + 1).min(rest.len())..];

    let whole = run(input, &[usize::MAX], limits);
    if !sizes.is_empty() {
        let chunked = run(input, &sizes, limits);
        assert_eq!(whole, chunked, "chunked parse differs from whole parse");
    }
    let bytewise = run(input, &[1], limits);
    assert_eq!(
        whole, bytewise,
        "byte-at-a-time parse differs from whole parse"
    );
});
