//! Reply encoding: [`Reply`] values to RESP2 or RESP3 bytes, byte for byte as Redis 7.0 sends
//! each shape.
//!
//! - Doubles are `%.17g` in both protocols (RESP3 `,1.5`, `,inf`, `,-inf`; RESP2 the same text
//!   as a bulk string). Redis 7.2 moved to shortest round-trip text; 7.0 did not.
//! - Nulls: RESP2 `$-1` (bulk) and `*-1` (array); RESP3 `_` for both.
//! - Maps degrade to flat arrays, sets and pushes to arrays, booleans to `:1`/`:0`, verbatim
//!   strings to plain bulk strings. A [`Reply::Verbatim`] holds the text alone: RESP3 adds the
//!   `txt:` format prefix, the only format Redis 7.0 uses (INFO, CLIENT LIST...).
//! - Error and status lines never carry CR or LF (they would end the line early): those are
//!   sent as spaces, as Redis does for error texts.

use std::io::Write as _;

use embedis::Reply;
use embedis::num::fmt_f64_17g;

/// Appends `reply` to `out` in the given protocol version (2 or 3).
pub fn encode(reply: &Reply, resp: u8, out: &mut Vec<u8>) {
    encode_at(reply, resp, out, 0);
}

/// Nesting up to which encoding recurses on the thread's stack as is; deeper replies (a
/// script's result may nest ~8000 levels, as in Redis) grow it on the heap.
const PLAIN_DEPTH: usize = 64;

/// Encodes an element of an aggregate at `depth`.
fn nested(reply: &Reply, resp: u8, out: &mut Vec<u8>, depth: usize) {
    if depth < PLAIN_DEPTH {
        encode_at(reply, resp, out, depth);
    } else {
        stacker::maybe_grow(64 << 10, 1 << 20, || encode_at(reply, resp, out, depth));
    }
}

fn encode_at(reply: &Reply, resp: u8, out: &mut Vec<u8>, depth: usize) {
    let resp3 = resp >= 3;
    match reply {
        Reply::Ok => out.extend_from_slice(b"+OK\r\n"),
        Reply::Status(s) => line(b'+', s.as_bytes(), out),
        Reply::Error(e) => {
            out.push(b'-');
            let start = out.len();
            let _ = write!(out, "{e}");
            one_line(&mut out[start..]);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Int(n) => number(b':', *n, out),
        Reply::Bulk(b) => bulk(b, out),
        Reply::Nil if resp3 => out.extend_from_slice(b"_\r\n"),
        Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
        Reply::NilArray if resp3 => out.extend_from_slice(b"_\r\n"),
        Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
        Reply::Array(items) => {
            length(b'*', items.len(), out);
            for item in items {
                nested(item, resp, out, depth + 1);
            }
        }
        Reply::Map(pairs) => {
            if resp3 {
                length(b'%', pairs.len(), out);
            } else {
                length(b'*', pairs.len() * 2, out);
            }
            for (k, v) in pairs {
                nested(k, resp, out, depth + 1);
                nested(v, resp, out, depth + 1);
            }
        }
        Reply::Set(items) => {
            length(if resp3 { b'~' } else { b'*' }, items.len(), out);
            for item in items {
                nested(item, resp, out, depth + 1);
            }
        }
        Reply::Push(items) => {
            length(if resp3 { b'>' } else { b'*' }, items.len(), out);
            for item in items {
                nested(item, resp, out, depth + 1);
            }
        }
        Reply::Double(d) => {
            let text = fmt_f64_17g(*d);
            if resp3 {
                line(b',', text.as_bytes(), out);
            } else {
                bulk(text.as_bytes(), out);
            }
        }
        Reply::Bool(b) if resp3 => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
        Reply::Bool(b) => out.extend_from_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
        Reply::Verbatim(text) if resp3 => {
            length(b'=', text.len() + 4, out);
            out.extend_from_slice(b"txt:");
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Verbatim(text) => bulk(text, out),
        Reply::Frames(frames) => {
            for frame in frames {
                nested(frame, resp, out, depth);
            }
        }
        Reply::BigNumber(text) if resp3 => line(b'(', text, out),
        Reply::BigNumber(text) => bulk(text, out),
        // Sent already, through the client's push queue (SUBSCRIBE and friends).
        Reply::Pushed => {}
        // `Reply` is non-exhaustive: a shape added to the engine must be added here too.
        other => {
            debug_assert!(false, "reply shape without an encoding: {other:?}");
            out.extend_from_slice(b"-ERR reply shape not supported by embedis-server\r\n");
        }
    }
}

/// `<kind><text>\r\n`, keeping the text on one line.
fn line(kind: u8, text: &[u8], out: &mut Vec<u8>) {
    out.push(kind);
    let start = out.len();
    out.extend_from_slice(text);
    one_line(&mut out[start..]);
    out.extend_from_slice(b"\r\n");
}

fn one_line(text: &mut [u8]) {
    if memchr::memchr2(b'\r', b'\n', text).is_some() {
        for c in text.iter_mut() {
            if *c == b'\r' || *c == b'\n' {
                *c = b' ';
            }
        }
    }
}

fn number(kind: u8, n: i64, out: &mut Vec<u8>) {
    out.push(kind);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn length(kind: u8, n: usize, out: &mut Vec<u8>) {
    out.push(kind);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn bulk(b: &[u8], out: &mut Vec<u8>) {
    length(b'$', b.len(), out);
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use embedis::Error;

    fn both(r: &Reply) -> (String, String) {
        let mut two = Vec::new();
        let mut three = Vec::new();
        encode(r, 2, &mut two);
        encode(r, 3, &mut three);
        (
            String::from_utf8_lossy(&two).into_owned(),
            String::from_utf8_lossy(&three).into_owned(),
        )
    }

    fn same(r: Reply, expected: &str) {
        assert_eq!(
            both(&r),
            (expected.to_string(), expected.to_string()),
            "{r:?}"
        );
    }

    fn differ(r: Reply, resp2: &str, resp3: &str) {
        assert_eq!(both(&r), (resp2.to_string(), resp3.to_string()), "{r:?}");
    }

    #[test]
    fn simple_shapes() {
        same(Reply::Ok, "+OK\r\n");
        same(Reply::status("PONG"), "+PONG\r\n");
        same(Reply::Int(-42), ":-42\r\n");
        same(Reply::Int(i64::MIN), ":-9223372036854775808\r\n");
        same(Reply::bulk("hello"), "$5\r\nhello\r\n");
        same(Reply::bulk(""), "$0\r\n\r\n");
        same(Reply::bulk("a\r\nb"), "$4\r\na\r\nb\r\n");
        same(
            Reply::Error(Error::WrongType),
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        );
        same(
            Reply::Error(Error::formatted("ERR a\r\nb".into())),
            "-ERR a  b\r\n",
        );
    }

    #[test]
    fn nulls() {
        differ(Reply::Nil, "$-1\r\n", "_\r\n");
        differ(Reply::NilArray, "*-1\r\n", "_\r\n");
    }

    #[test]
    fn aggregates() {
        same(
            Reply::Array(vec![Reply::Int(1), Reply::bulk("a"), Reply::Array(vec![])]),
            "*3\r\n:1\r\n$1\r\na\r\n*0\r\n",
        );
        differ(
            Reply::Map(vec![(Reply::bulk("k"), Reply::Int(1))]),
            "*2\r\n$1\r\nk\r\n:1\r\n",
            "%1\r\n$1\r\nk\r\n:1\r\n",
        );
        differ(Reply::Map(vec![]), "*0\r\n", "%0\r\n");
        differ(
            Reply::Set(vec![Reply::bulk("a"), Reply::bulk("b")]),
            "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
            "~2\r\n$1\r\na\r\n$1\r\nb\r\n",
        );
        differ(
            Reply::Push(vec![Reply::bulk("message"), Reply::Nil]),
            "*2\r\n$7\r\nmessage\r\n$-1\r\n",
            ">2\r\n$7\r\nmessage\r\n_\r\n",
        );
        differ(
            Reply::Array(vec![Reply::Nil, Reply::Error(Error::Syntax)]),
            "*2\r\n$-1\r\n-ERR syntax error\r\n",
            "*2\r\n_\r\n-ERR syntax error\r\n",
        );
    }

    #[test]
    fn doubles_like_redis_7_0() {
        differ(Reply::Double(1.5), "$3\r\n1.5\r\n", ",1.5\r\n");
        differ(
            Reply::Double(1.1),
            "$18\r\n1.1000000000000001\r\n",
            ",1.1000000000000001\r\n",
        );
        differ(Reply::Double(3.0), "$1\r\n3\r\n", ",3\r\n");
        differ(Reply::Double(f64::INFINITY), "$3\r\ninf\r\n", ",inf\r\n");
        differ(
            Reply::Double(f64::NEG_INFINITY),
            "$4\r\n-inf\r\n",
            ",-inf\r\n",
        );
        differ(Reply::Double(1e20), "$5\r\n1e+20\r\n", ",1e+20\r\n");
    }

    #[test]
    fn booleans_and_verbatim() {
        differ(Reply::Bool(true), ":1\r\n", "#t\r\n");
        differ(Reply::Bool(false), ":0\r\n", "#f\r\n");
        differ(
            Reply::Verbatim(Bytes::from_static(b"id=1\n")),
            "$5\r\nid=1\n\r\n",
            "=9\r\ntxt:id=1\n\r\n",
        );
        differ(
            Reply::Verbatim(Bytes::new()),
            "$0\r\n\r\n",
            "=4\r\ntxt:\r\n",
        );
    }
}
