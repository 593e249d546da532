//! RESP2/RESP3 reply frames exactly as they came off the wire, and their decoder.
//!
//! The differential tests compare what two servers *sent*, so nothing is normalised here:
//! `$-1`, `*-1` and RESP3's `_` are three different values, a double keeps its text, a
//! verbatim string keeps its format, and an attribute keeps the reply it annotates.
//! This decoder is written independently of the server's encoder on purpose: a bug shared by
//! both would otherwise cancel out.

use std::fmt;

/// One reply frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Frame {
    /// `+text`
    Simple(Vec<u8>),
    /// `-text`
    Error(Vec<u8>),
    /// `!len` (RESP3 blob error)
    BlobError(Vec<u8>),
    /// `:n`
    Int(i64),
    /// `$len`
    Bulk(Vec<u8>),
    /// `$-1` (RESP2 null bulk string)
    NullBulk,
    /// `*-1` (RESP2 null array)
    NullArray,
    /// `_` (RESP3 null)
    Null,
    /// `*n`
    Array(Vec<Frame>),
    /// `%n`
    Map(Vec<(Frame, Frame)>),
    /// `~n`
    Set(Vec<Frame>),
    /// `,text`: kept as text so that `1.5` and `1.50` differ, as they do on the wire.
    Double(Vec<u8>),
    /// `#t` / `#f`
    Bool(bool),
    /// `=len` with its three-letter format (`txt`, `mkd`).
    Verbatim {
        /// The format, e.g. `txt`.
        format: Vec<u8>,
        /// The text after `fmt:`.
        text: Vec<u8>,
    },
    /// `>n` (RESP3 out-of-band push)
    Push(Vec<Frame>),
    /// `(digits`
    BigNumber(Vec<u8>),
    /// `|n` attributes followed by the reply they annotate.
    Attribute {
        /// The attribute map.
        attrs: Vec<(Frame, Frame)>,
        /// The reply that followed the attributes.
        reply: Box<Frame>,
    },
}

/// The bytes are not valid RESP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// Nesting beyond this is treated as a protocol error rather than risking the stack.
const MAX_DEPTH: usize = 512;

/// Decodes one frame from the start of `buf`: `Ok(None)` if more bytes are needed, else the
/// frame and how many bytes it used.
pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, ProtocolError> {
    let mut pos = 0;
    match decode_at(buf, &mut pos, 0)? {
        Some(f) => Ok(Some((f, pos))),
        None => Ok(None),
    }
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let rest = &buf[*pos..];
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    *pos += end + 2;
    Some(&rest[..end])
}

fn int_of(text: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| ProtocolError(format!("bad integer {:?}", Escaped(text))))
}

/// A length header: `None` for -1, an error for other negatives.
fn len_of(text: &[u8]) -> Result<Option<usize>, ProtocolError> {
    match int_of(text)? {
        -1 => Ok(None),
        n if n < 0 => Err(ProtocolError(format!("bad length {n}"))),
        n => Ok(Some(n as usize)),
    }
}

fn blob(buf: &[u8], pos: &mut usize, len: usize) -> Result<Option<Vec<u8>>, ProtocolError> {
    let start = *pos;
    let Some(end) = start
        .checked_add(len)
        .filter(|e| e.checked_add(2).is_some())
    else {
        return Err(ProtocolError(format!("length {len} overflows")));
    };
    if buf.len() < end + 2 {
        return Ok(None);
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(ProtocolError("bulk payload not followed by CRLF".into()));
    }
    *pos = end + 2;
    Ok(Some(buf[start..end].to_vec()))
}

fn items(
    buf: &[u8],
    pos: &mut usize,
    n: usize,
    depth: usize,
) -> Result<Option<Vec<Frame>>, ProtocolError> {
    // Capacity is bounded by what the buffer could possibly hold (3 bytes per frame at
    // least), not by the header a server sent.
    let mut v = Vec::with_capacity(n.min(buf.len() / 3 + 1));
    for _ in 0..n {
        match decode_at(buf, pos, depth + 1)? {
            Some(f) => v.push(f),
            None => return Ok(None),
        }
    }
    Ok(Some(v))
}

fn pairs(
    buf: &[u8],
    pos: &mut usize,
    n: usize,
    depth: usize,
) -> Result<Option<Vec<(Frame, Frame)>>, ProtocolError> {
    let Some(flat) = items(buf, pos, n.saturating_mul(2), depth)? else {
        return Ok(None);
    };
    let mut it = flat.into_iter();
    let mut v = Vec::with_capacity(n);
    while let (Some(k), Some(val)) = (it.next(), it.next()) {
        v.push((k, val));
    }
    Ok(Some(v))
}

fn decode_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Option<Frame>, ProtocolError> {
    if depth > MAX_DEPTH {
        return Err(ProtocolError("frames nested too deeply".into()));
    }
    let Some(&kind) = buf.get(*pos) else {
        return Ok(None);
    };
    let mut p = *pos + 1;
    let Some(head) = line(buf, &mut p) else {
        return Ok(None);
    };
    let frame = match kind {
        b'+' => Frame::Simple(head.to_vec()),
        b'-' => Frame::Error(head.to_vec()),
        b':' => Frame::Int(int_of(head)?),
        b',' => Frame::Double(head.to_vec()),
        b'(' => Frame::BigNumber(head.to_vec()),
        b'_' if head.is_empty() => Frame::Null,
        b'#' => match head {
            b"t" => Frame::Bool(true),
            b"f" => Frame::Bool(false),
            _ => return Err(ProtocolError(format!("bad boolean {:?}", Escaped(head)))),
        },
        b'$' | b'!' | b'=' => {
            let Some(len) = len_of(head)? else {
                if kind == b'$' {
                    *pos = p;
                    return Ok(Some(Frame::NullBulk));
                }
                return Err(ProtocolError("null length outside a bulk string".into()));
            };
            let Some(data) = blob(buf, &mut p, len)? else {
                return Ok(None);
            };
            match kind {
                b'$' => Frame::Bulk(data),
                b'!' => Frame::BlobError(data),
                _ => {
                    if data.len() < 4 || data[3] != b':' {
                        return Err(ProtocolError("verbatim string without `fmt:`".into()));
                    }
                    Frame::Verbatim {
                        format: data[..3].to_vec(),
                        text: data[4..].to_vec(),
                    }
                }
            }
        }
        b'*' | b'~' | b'>' => {
            let Some(n) = len_of(head)? else {
                if kind == b'*' {
                    *pos = p;
                    return Ok(Some(Frame::NullArray));
                }
                return Err(ProtocolError("null length outside an array".into()));
            };
            let Some(v) = items(buf, &mut p, n, depth)? else {
                return Ok(None);
            };
            match kind {
                b'*' => Frame::Array(v),
                b'~' => Frame::Set(v),
                _ => Frame::Push(v),
            }
        }
        b'%' | b'|' => {
            let Some(n) = len_of(head)? else {
                return Err(ProtocolError("null length for a map".into()));
            };
            let Some(v) = pairs(buf, &mut p, n, depth)? else {
                return Ok(None);
            };
            if kind == b'%' {
                Frame::Map(v)
            } else {
                let Some(reply) = decode_at(buf, &mut p, depth + 1)? else {
                    return Ok(None);
                };
                Frame::Attribute {
                    attrs: v,
                    reply: Box::new(reply),
                }
            }
        }
        other => {
            return Err(ProtocolError(format!(
                "unknown frame type {:?}",
                Escaped(&[other])
            )));
        }
    };
    *pos = p;
    Ok(Some(frame))
}

impl Frame {
    /// Encodes the frame back to RESP (used for stable ordering and in tests).
    pub fn encode(&self, out: &mut Vec<u8>) {
        fn head(out: &mut Vec<u8>, kind: u8, text: &[u8]) {
            out.push(kind);
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
        fn blob(out: &mut Vec<u8>, kind: u8, data: &[u8]) {
            head(out, kind, data.len().to_string().as_bytes());
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        match self {
            Frame::Simple(s) => head(out, b'+', s),
            Frame::Error(s) => head(out, b'-', s),
            Frame::BlobError(s) => blob(out, b'!', s),
            Frame::Int(n) => head(out, b':', n.to_string().as_bytes()),
            Frame::Bulk(b) => blob(out, b'$', b),
            Frame::NullBulk => out.extend_from_slice(b"$-1\r\n"),
            Frame::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Frame::Null => out.extend_from_slice(b"_\r\n"),
            Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => {
                let kind = match self {
                    Frame::Array(_) => b'*',
                    Frame::Set(_) => b'~',
                    _ => b'>',
                };
                head(out, kind, v.len().to_string().as_bytes());
                v.iter().for_each(|f| f.encode(out));
            }
            Frame::Map(v) => {
                head(out, b'%', v.len().to_string().as_bytes());
                for (k, val) in v {
                    k.encode(out);
                    val.encode(out);
                }
            }
            Frame::Double(d) => head(out, b',', d),
            Frame::Bool(b) => head(out, b'#', if *b { b"t" } else { b"f" }),
            Frame::Verbatim { format, text } => {
                let mut data = format.clone();
                data.push(b':');
                data.extend_from_slice(text);
                blob(out, b'=', &data);
            }
            Frame::BigNumber(n) => head(out, b'(', n),
            Frame::Attribute { attrs, reply } => {
                head(out, b'|', attrs.len().to_string().as_bytes());
                for (k, val) in attrs {
                    k.encode(out);
                    val.encode(out);
                }
                reply.encode(out);
            }
        }
    }

    /// The frame as RESP bytes.
    pub fn to_resp(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// The RESP type marker that starts this frame on the wire (`$` for both bulk and null
    /// bulk, `*` for array and null array).
    pub fn kind(&self) -> char {
        match self {
            Frame::Simple(_) => '+',
            Frame::Error(_) => '-',
            Frame::BlobError(_) => '!',
            Frame::Int(_) => ':',
            Frame::Bulk(_) | Frame::NullBulk => '$',
            Frame::Array(_) | Frame::NullArray => '*',
            Frame::Null => '_',
            Frame::Map(_) => '%',
            Frame::Set(_) => '~',
            Frame::Double(_) => ',',
            Frame::Bool(_) => '#',
            Frame::Verbatim { .. } => '=',
            Frame::Push(_) => '>',
            Frame::BigNumber(_) => '(',
            Frame::Attribute { .. } => '|',
        }
    }

    /// Number of elements of an aggregate (pairs for a map), `None` for scalars and nulls.
    pub fn aggregate_len(&self) -> Option<usize> {
        match self {
            Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => Some(v.len()),
            Frame::Map(v) => Some(v.len()),
            _ => None,
        }
    }

    /// Whether this is an error reply (simple or blob).
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_) | Frame::BlobError(_))
    }

    /// The bytes of a simple string, bulk string or verbatim string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Frame::Simple(b) | Frame::Bulk(b) => Some(b),
            Frame::Verbatim { text, .. } => Some(text),
            _ => None,
        }
    }
}

/// Bytes shown as a quoted string with C-style escapes for anything not printable.
#[derive(Clone, Copy)]
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        fmt::Display::fmt(self, f)?;
        f.write_str("\"")
    }
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            match b {
                b'"' => f.write_str("\\\"")?,
                b'\\' => f.write_str("\\\\")?,
                b'\r' => f.write_str("\\r")?,
                b'\n' => f.write_str("\\n")?,
                b'\t' => f.write_str("\\t")?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        Ok(())
    }
}

/// One line, RESP-marker notation: `+OK`, `-ERR ...`, `:1`, `$"v"`, `$-1`, `*[...]`,
/// `%{k => v}`, `~{...}`, `,1.5`, `#t`, `=txt:"..."`, `>[...]`, `(123`, `|{...} reply`.
impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list(f: &mut fmt::Formatter<'_>, open: &str, v: &[Frame], close: &str) -> fmt::Result {
            f.write_str(open)?;
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{x}")?;
            }
            f.write_str(close)
        }
        fn map(f: &mut fmt::Formatter<'_>, open: &str, v: &[(Frame, Frame)]) -> fmt::Result {
            f.write_str(open)?;
            for (i, (k, x)) in v.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k} => {x}")?;
            }
            f.write_str("}")
        }
        match self {
            Frame::Simple(s) => write!(f, "+{}", Escaped(s)),
            Frame::Error(s) => write!(f, "-{}", Escaped(s)),
            Frame::BlobError(s) => write!(f, "!{:?}", Escaped(s)),
            Frame::Int(n) => write!(f, ":{n}"),
            Frame::Bulk(b) => write!(f, "${:?}", Escaped(b)),
            Frame::NullBulk => f.write_str("$-1"),
            Frame::NullArray => f.write_str("*-1"),
            Frame::Null => f.write_str("_"),
            Frame::Array(v) => list(f, "*[", v, "]"),
            Frame::Set(v) => list(f, "~{", v, "}"),
            Frame::Push(v) => list(f, ">[", v, "]"),
            Frame::Map(v) => map(f, "%{", v),
            Frame::Double(d) => write!(f, ",{}", Escaped(d)),
            Frame::Bool(b) => f.write_str(if *b { "#t" } else { "#f" }),
            Frame::Verbatim { format, text } => {
                write!(f, "={}:{:?}", Escaped(format), Escaped(text))
            }
            Frame::BigNumber(n) => write!(f, "({}", Escaped(n)),
            Frame::Attribute { attrs, reply } => {
                map(f, "|{", attrs)?;
                write!(f, " {reply}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(bytes: &[u8]) -> Frame {
        let (f, used) = decode(bytes).unwrap().expect("complete frame");
        assert_eq!(used, bytes.len(), "whole input used");
        f
    }

    #[test]
    fn decodes_every_type_and_round_trips() {
        let cases: &[&[u8]] = &[
            b"+OK\r\n",
            b"-ERR wrong\r\n",
            b"!5\r\noops!\r\n",
            b":-42\r\n",
            b"$3\r\na\r\n\r\n",
            b"$0\r\n\r\n",
            b"$-1\r\n",
            b"*-1\r\n",
            b"_\r\n",
            b"*2\r\n:1\r\n*1\r\n$1\r\nx\r\n",
            b"%1\r\n+k\r\n:2\r\n",
            b"~2\r\n:1\r\n:2\r\n",
            b",1.50\r\n",
            b",inf\r\n",
            b"#t\r\n",
            b"#f\r\n",
            b"=8\r\ntxt:ab\r\n\r\n",
            b">2\r\n$7\r\nmessage\r\n$1\r\nc\r\n",
            b"(3492890328409238509324850943850943825024385\r\n",
            b"|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n",
        ];
        for &c in cases {
            let f = one(c);
            assert_eq!(f.to_resp(), c, "{f}");
        }
    }

    #[test]
    fn nulls_stay_distinct() {
        assert_eq!(one(b"$-1\r\n"), Frame::NullBulk);
        assert_eq!(one(b"*-1\r\n"), Frame::NullArray);
        assert_eq!(one(b"_\r\n"), Frame::Null);
    }

    #[test]
    fn partial_input_asks_for_more() {
        let full = b"*2\r\n$5\r\nhello\r\n%1\r\n+a\r\n,2.5\r\n";
        for cut in 0..full.len() {
            assert_eq!(decode(&full[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert!(decode(full).unwrap().is_some());
    }

    #[test]
    fn leaves_following_frames_alone() {
        let (f, used) = decode(b":1\r\n:2\r\n").unwrap().unwrap();
        assert_eq!((f, used), (Frame::Int(1), 4));
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode(b"?x\r\n").is_err());
        assert!(decode(b":abc\r\n").is_err());
        assert!(decode(b"$3\r\nabcd\r\n").is_err());
        assert!(decode(b"*-2\r\n").is_err());
        assert!(decode(b"#x\r\n").is_err());
    }

    #[test]
    fn huge_headers_do_not_allocate() {
        assert_eq!(decode(b"*9223372036854775807\r\n").unwrap(), None);
        assert_eq!(decode(b"$9223372036854775807\r\n").unwrap(), None);
    }

    #[test]
    fn displays_compactly() {
        let f = one(b"*3\r\n$2\r\na\n\r\n:1\r\n$-1\r\n");
        assert_eq!(f.to_string(), r#"*[$"a\n", :1, $-1]"#);
        assert_eq!(one(b"-ERR x\r\n").to_string(), "-ERR x");
    }
}
