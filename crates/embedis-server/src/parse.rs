//! The request parser: RESP multibulk requests (`*N\r\n$len\r\n...`) and inline commands
//! (`SET k "v w"\r\n`), parsed incrementally from a connection's read buffer with Redis 7.0's
//! rules, limits and error texts.
//!
//! # Why not `redis-protocol`
//! Its decoder starts over from the first byte of a frame each time more bytes arrive, so a
//! large argument received in many reads costs O(n²), and it has no inline commands. This
//! parser keeps its place: in a bulk argument it only compares the buffer's length with what it
//! waits for, and while looking for the end of a line it remembers how far it already looked.
//! Every byte is examined a bounded number of times, whatever the read sizes.
//!
//! # Arguments without copies
//! An argument is split off the read buffer as a [`Bytes`] (no copy). An argument of 32 KiB or
//! more (Redis's `PROTO_MBULK_BIG_ARG`) gets an allocation of its own, sized exactly, before
//! its bytes arrive ([`RequestParser::reserve`]): it is read once, never moved, and what keeps
//! it alive keeps nothing else alive. Small arguments share the read buffer's allocation, so the
//! engine copies small values into its compact storage rather than keeping these `Bytes`.
//!
//! # Redis's rules kept here
//! - A request starting with `*` is multibulk, anything else inline. `*0`, `*-1` (any count
//!   `<= 0`) and empty or blank inline lines are skipped without a reply.
//! - Header lines end at `\r`, and the byte after it is skipped without being checked; the two
//!   bytes after a bulk argument are skipped the same way. A NUL byte before the end of a line
//!   hides the end (Redis searches with `strchr`), so such a line only ends with the too-big
//!   error.
//! - Multibulk counts are at most `i32::MAX`; bulk lengths at most `proto-max-bulk-len`.
//!   Before AUTH (when a password is required) counts above 10 and lengths above 16384 are
//!   refused, so that unauthenticated clients cannot make the server allocate.
//! - Inline arguments are split like `sdssplitargs`: `"..."` with `\n \r \t \b \a \xHH`
//!   escapes, `'...'` with `\'`, and a closing quote must be followed by a space or the end.
//! - Every protocol error is answered with its error text and then the connection is closed.
//!
//! One difference: Redis refuses a line (inline request or header) longer than 64 KiB only if
//! it has not seen the line's end after a read, so it accepts longer lines that happen to
//! arrive quickly. Here a line longer than 64 KiB is always refused: the result does not depend
//! on how the bytes were split into reads (the fuzz target checks that it never does).

use bytes::{Buf, Bytes, BytesMut};
use embedis::num::parse_i64;

/// Longest inline request or header line (Redis's `PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX: usize = 64 * 1024;
/// Arguments at least this long get an allocation of their own (`PROTO_MBULK_BIG_ARG`).
pub const BIG_ARG: usize = 32 * 1024;
/// Free space kept in the read buffer before each read (Redis's `PROTO_IOBUF_LEN`).
pub const READ_CHUNK: usize = 16 * 1024;
/// Largest multibulk count accepted before AUTH.
pub const UNAUTH_MAX_ARGS: i64 = 10;
/// Largest bulk length accepted before AUTH.
pub const UNAUTH_MAX_BULK: i64 = 16 * 1024;

/// What the parser needs to know about the connection for the next request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `proto-max-bulk-len`.
    pub proto_max_bulk_len: u64,
    /// Whether the client may send large requests: it authenticated, or no password is set.
    pub authenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            proto_max_bulk_len: 512 * 1024 * 1024,
            authenticated: true,
        }
    }
}

/// A protocol error: Redis replies with its text and closes the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// An inline line longer than [`INLINE_MAX`].
    TooBigInline,
    /// An inline line with unbalanced quotes, or a closing quote not followed by a space.
    UnbalancedQuotes,
    /// A multibulk count that is not a number, or above `i32::MAX`.
    InvalidMultibulkLength,
    /// A multibulk count line longer than [`INLINE_MAX`].
    TooBigMultibulkCount,
    /// A multibulk count above [`UNAUTH_MAX_ARGS`] before AUTH.
    UnauthenticatedMultibulkLength,
    /// A bulk length line longer than [`INLINE_MAX`].
    TooBigBulkCount,
    /// A bulk header that does not start with `$`; carries the byte found.
    ExpectedDollar(u8),
    /// A bulk length that is not a number, negative, or above `proto-max-bulk-len`.
    InvalidBulkLength,
    /// A bulk length above [`UNAUTH_MAX_BULK`] before AUTH.
    UnauthenticatedBulkLength,
}

impl ProtocolError {
    /// The error reply Redis sends, as RESP bytes (`-ERR Protocol error: ...\r\n`).
    pub fn reply(&self) -> Vec<u8> {
        let mut out = b"-ERR Protocol error: ".to_vec();
        let text: &str = match self {
            ProtocolError::TooBigInline => "too big inline request",
            ProtocolError::UnbalancedQuotes => "unbalanced quotes in request",
            ProtocolError::InvalidMultibulkLength => "invalid multibulk length",
            ProtocolError::TooBigMultibulkCount => "too big mbulk count string",
            ProtocolError::UnauthenticatedMultibulkLength => "unauthenticated multibulk length",
            ProtocolError::TooBigBulkCount => "too big bulk count string",
            ProtocolError::InvalidBulkLength => "invalid bulk length",
            ProtocolError::UnauthenticatedBulkLength => "unauthenticated bulk length",
            ProtocolError::ExpectedDollar(b) => {
                out.extend_from_slice(b"expected '$', got '");
                // Redis keeps error replies on one line.
                out.push(if matches!(b, b'\r' | b'\n') { b' ' } else { *b });
                out.extend_from_slice(b"'\r\n");
                return out;
            }
        };
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\r\n");
        out
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reply = self.reply();
        // Without the leading '-' and the trailing CRLF.
        f.write_str(&String::from_utf8_lossy(&reply[1..reply.len() - 2]))
    }
}

impl std::error::Error for ProtocolError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between requests.
    Start,
    /// Expecting a `$len` line; `left` arguments to go.
    Header { left: usize },
    /// Expecting `len` bytes plus the two that end them.
    Bulk { left: usize, len: usize },
}

/// Parses requests from a read buffer, keeping its place across reads.
#[derive(Debug)]
pub struct RequestParser {
    state: State,
    /// Arguments of the request being received.
    args: Vec<Bytes>,
    /// Their total length.
    args_bytes: usize,
    /// How much of the current line was searched for its end already.
    scanned: usize,
}

impl Default for RequestParser {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestParser {
    /// A parser waiting for a first request.
    pub fn new() -> Self {
        RequestParser {
            state: State::Start,
            args: Vec::new(),
            args_bytes: 0,
            scanned: 0,
        }
    }

    /// Bytes of arguments already received for a request not yet complete (CLIENT LIST
    /// `argv-mem`, and the query buffer limit).
    pub fn pending_arg_bytes(&self) -> usize {
        self.args_bytes
    }

    /// Whether the parser is between requests (no partial request held).
    pub fn is_idle(&self) -> bool {
        self.state == State::Start && self.args.is_empty()
    }

    /// Makes room in `buf` for the next read: an exact allocation for a big argument (see the
    /// module docs), otherwise at least [`READ_CHUNK`] free bytes.
    pub fn reserve(&self, buf: &mut BytesMut) {
        if let State::Bulk { len, .. } = self.state {
            let need = len.saturating_add(2);
            if need >= BIG_ARG && buf.len() < need {
                if buf.capacity() < need {
                    let mut fresh = BytesMut::with_capacity(need);
                    fresh.extend_from_slice(buf);
                    *buf = fresh;
                }
                return;
            }
        }
        buf.reserve(READ_CHUNK);
    }

    /// Parses the next complete request from the front of `buf`, consuming its bytes. Returns
    /// `Ok(true)` with the arguments in `out` (replacing its contents), `Ok(false)` when more
    /// bytes are needed (what was consumed is remembered), or the protocol error to send before
    /// closing. Empty requests are skipped.
    pub fn next_request(
        &mut self,
        buf: &mut BytesMut,
        limits: Limits,
        out: &mut Vec<Bytes>,
    ) -> Result<bool, ProtocolError> {
        loop {
            match self.state {
                State::Start => {
                    let Some(&first) = buf.first() else {
                        return Ok(false);
                    };
                    if first != b'*' {
                        match self.inline(buf)? {
                            None => return Ok(false),
                            Some(args) if args.is_empty() => continue,
                            Some(args) => {
                                *out = args;
                                return Ok(true);
                            }
                        }
                    }
                    let Some(eol) = self.header_end(buf, ProtocolError::TooBigMultibulkCount)?
                    else {
                        return Ok(false);
                    };
                    let count = parse_i64(&buf[1..eol])
                        .filter(|&n| n <= i32::MAX as i64)
                        .ok_or(ProtocolError::InvalidMultibulkLength)?;
                    if count > UNAUTH_MAX_ARGS && !limits.authenticated {
                        return Err(ProtocolError::UnauthenticatedMultibulkLength);
                    }
                    buf.advance(eol + 2);
                    self.scanned = 0;
                    if count <= 0 {
                        continue;
                    }
                    self.args.clear();
                    self.args.reserve((count as usize).min(1024));
                    self.args_bytes = 0;
                    self.state = State::Header {
                        left: count as usize,
                    };
                }
                State::Header { left } => {
                    let Some(eol) = self.header_end(buf, ProtocolError::TooBigBulkCount)? else {
                        return Ok(false);
                    };
                    if buf[0] != b'$' {
                        return Err(ProtocolError::ExpectedDollar(buf[0]));
                    }
                    let len = parse_i64(&buf[1..eol])
                        .filter(|&n| n >= 0 && n as u64 <= limits.proto_max_bulk_len)
                        .ok_or(ProtocolError::InvalidBulkLength)?;
                    if len > UNAUTH_MAX_BULK && !limits.authenticated {
                        return Err(ProtocolError::UnauthenticatedBulkLength);
                    }
                    let len = usize::try_from(len).map_err(|_| ProtocolError::InvalidBulkLength)?;
                    buf.advance(eol + 2);
                    self.scanned = 0;
                    self.state = State::Bulk { left, len };
                }
                State::Bulk { left, len } => {
                    if buf.len() < len.saturating_add(2) {
                        return Ok(false);
                    }
                    let arg = buf.split_to(len).freeze();
                    buf.advance(2);
                    self.args_bytes += len;
                    self.args.push(arg);
                    if left > 1 {
                        self.state = State::Header { left: left - 1 };
                        continue;
                    }
                    self.state = State::Start;
                    self.args_bytes = 0;
                    out.clear();
                    std::mem::swap(out, &mut self.args);
                    return Ok(true);
                }
            }
        }
    }

    /// Finds the `\r` ending a header line, with the byte after it present. `Ok(None)`: not yet.
    fn header_end(
        &mut self,
        buf: &[u8],
        too_big: ProtocolError,
    ) -> Result<Option<usize>, ProtocolError> {
        match self.line_end(buf, b'\r', too_big)? {
            Some(eol) if eol + 2 <= buf.len() => Ok(Some(eol)),
            // The byte after `\r` has not arrived: look at `\r` again next time.
            Some(eol) => {
                self.scanned = eol;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// Finds `delim` in the current line, resuming where the last search stopped. A NUL byte
    /// before it hides it for good, as with Redis's `strchr`.
    fn line_end(
        &mut self,
        buf: &[u8],
        delim: u8,
        too_big: ProtocolError,
    ) -> Result<Option<usize>, ProtocolError> {
        let window = &buf[..buf.len().min(INLINE_MAX + 1)];
        let from = self.scanned.min(window.len());
        match memchr::memchr2(delim, 0, &window[from..]) {
            Some(i) if window[from + i] == delim => Ok(Some(from + i)),
            found => {
                // No end yet, or a NUL that hides it: only the size limit ends this line. After a
                // NUL, the next search starts on it and stops at once.
                self.scanned = found.map_or(window.len(), |i| from + i);
                if buf.len() > INLINE_MAX {
                    Err(too_big)
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// Parses one inline request. `Ok(None)`: the line is not complete yet.
    fn inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let Some(eol) = self.line_end(buf, b'\n', ProtocolError::TooBigInline)? else {
            return Ok(None);
        };
        self.scanned = 0;
        let line_len = if eol > 0 && buf[eol - 1] == b'\r' {
            eol - 1
        } else {
            eol
        };
        let args = split_inline(&buf[..line_len]).ok_or(ProtocolError::UnbalancedQuotes);
        buf.advance(eol + 1);
        args.map(Some)
    }
}

/// C's `isspace` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Splits an inline line into arguments exactly like Redis's `sdssplitargs`; `None` for
/// unbalanced quotes. `line` holds no NUL (the line search stops there).
pub fn split_inline(line: &[u8]) -> Option<Vec<Bytes>> {
    // Reads past the end as the C string's terminating NUL.
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(args);
        }
        let mut current = Vec::new();
        let (mut in_dq, mut in_sq) = (false, false);
        loop {
            let c = at(p);
            if in_dq {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(h), Some(l)) = (hex_value(at(p + 2)), hex_value(at(p + 3))) {
                        current.push(h * 16 + l);
                        p += 4;
                        continue;
                    }
                }
                if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else if in_sq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        if c != 0 {
                            p += 1;
                        }
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    _ => current.push(c),
                }
            }
            p += 1;
        }
        args.push(Bytes::from(current));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of the given sizes (cycling), collecting requests until the
    /// input is used up or an error occurs.
    fn feed(
        input: &[u8],
        sizes: &[usize],
        limits: Limits,
    ) -> (Vec<Vec<Bytes>>, Option<ProtocolError>) {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut reqs = Vec::new();
        let mut pos = 0;
        let mut i = 0;
        loop {
            loop {
                match p.next_request(&mut buf, limits, &mut out) {
                    Ok(true) => reqs.push(out.clone()),
                    Ok(false) => break,
                    Err(e) => return (reqs, Some(e)),
                }
            }
            if pos >= input.len() {
                return (reqs, None);
            }
            let n = sizes[i % sizes.len()].max(1).min(input.len() - pos);
            i += 1;
            p.reserve(&mut buf);
            buf.extend_from_slice(&input[pos..pos + n]);
            pos += n;
        }
    }

    fn whole(input: &[u8]) -> (Vec<Vec<Bytes>>, Option<ProtocolError>) {
        feed(input, &[usize::MAX], Limits::default())
    }

    fn strs(reqs: &[Vec<Bytes>]) -> Vec<Vec<String>> {
        reqs.iter()
            .map(|r| {
                r.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn multibulk_and_inline_requests() {
        let (reqs, err) =
            whole(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\nSET a b\n*0\r\n*-1\r\n\r\n  \r\n");
        assert_eq!(err, None);
        assert_eq!(
            strs(&reqs),
            vec![vec!["GET", "k"], vec!["PING"], vec!["SET", "a", "b"]]
        );
    }

    #[test]
    fn every_split_point_gives_the_same_requests() {
        let input: &[u8] = b"*3\r\n$3\r\nSET\r\n$5\r\nkey:1\r\n$10\r\nhello\r\nwor\r\nECHO \"a b\" 'c'\r\n*1\r\n$0\r\n\r\nPING\n";
        let expected = whole(input);
        assert_eq!(expected.1, None);
        assert_eq!(expected.0.len(), 4);
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            let mut p = RequestParser::new();
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            let mut got = Vec::new();
            for part in [a, b] {
                buf.extend_from_slice(part);
                while p
                    .next_request(&mut buf, Limits::default(), &mut out)
                    .unwrap()
                {
                    got.push(out.clone());
                }
            }
            assert_eq!(got, expected.0, "split at {split}");
        }
        for size in 1..8 {
            assert_eq!(feed(input, &[size], Limits::default()), expected);
        }
    }

    #[test]
    fn errors_have_redis_texts() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"*x\r\n",
                "-ERR Protocol error: invalid multibulk length\r\n",
            ),
            (
                b"*01\r\n",
                "-ERR Protocol error: invalid multibulk length\r\n",
            ),
            (
                b"*-0\r\n",
                "-ERR Protocol error: invalid multibulk length\r\n",
            ),
            (
                b"*2147483648\r\n",
                "-ERR Protocol error: invalid multibulk length\r\n",
            ),
            (
                b"*1\r\n$-1\r\n",
                "-ERR Protocol error: invalid bulk length\r\n",
            ),
            (
                b"*1\r\n$04\r\n",
                "-ERR Protocol error: invalid bulk length\r\n",
            ),
            (
                b"*1\r\n$536870913\r\n",
                "-ERR Protocol error: invalid bulk length\r\n",
            ),
            (
                b"*1\r\n%3\r\n",
                "-ERR Protocol error: expected '$', got '%'\r\n",
            ),
            (
                b"*1\r\n\r\n",
                "-ERR Protocol error: expected '$', got ' '\r\n",
            ),
            (
                b"PING \"a\r\n",
                "-ERR Protocol error: unbalanced quotes in request\r\n",
            ),
            (
                b"PING \"a\"b\r\n",
                "-ERR Protocol error: unbalanced quotes in request\r\n",
            ),
            (
                b"PING 'a\\'\r\n",
                "-ERR Protocol error: unbalanced quotes in request\r\n",
            ),
        ];
        for (input, text) in cases {
            let (_, err) = whole(input);
            let err = err.unwrap_or_else(|| panic!("no error for {input:?}"));
            assert_eq!(
                String::from_utf8_lossy(&err.reply()),
                *text,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn a_valid_prefix_is_served_before_the_error() {
        let (reqs, err) = whole(b"PING\r\n*1\r\n$4\r\nPING\r\n*x\r\nPING\r\n");
        assert_eq!(reqs.len(), 2);
        assert_eq!(err, Some(ProtocolError::InvalidMultibulkLength));
    }

    #[test]
    fn line_limits() {
        let long = vec![b'a'; INLINE_MAX + 1];
        assert_eq!(whole(&long).1, Some(ProtocolError::TooBigInline));
        // The limit counts the line and its `\r`, as Redis counts the bytes waiting for `\n`.
        let mut ok = vec![b'a'; INLINE_MAX - 1];
        ok.extend_from_slice(b"\r\n");
        assert_eq!(whole(&ok).0.len(), 1);
        let mut too_long = vec![b'a'; INLINE_MAX];
        too_long.extend_from_slice(b"\r\n");
        assert_eq!(whole(&too_long).1, Some(ProtocolError::TooBigInline));
        // Short of the limit and no end yet: wait.
        assert_eq!(whole(&long[..100]), (vec![], None));
        let mut header = b"*".to_vec();
        header.extend(vec![b'1'; INLINE_MAX + 1]);
        assert_eq!(whole(&header).1, Some(ProtocolError::TooBigMultibulkCount));
        let mut bulk = b"*1\r\n$".to_vec();
        bulk.extend(vec![b'1'; INLINE_MAX + 1]);
        assert_eq!(whole(&bulk).1, Some(ProtocolError::TooBigBulkCount));
        // A NUL hides the end of the line, as strchr does in Redis.
        assert_eq!(whole(b"PING\0\r\n"), (vec![], None));
        let mut nul = b"PING\0\r\n".to_vec();
        nul.extend(vec![b'x'; INLINE_MAX]);
        assert_eq!(whole(&nul).1, Some(ProtocolError::TooBigInline));
    }

    #[test]
    fn unauthenticated_limits() {
        let unauth = Limits {
            authenticated: false,
            ..Limits::default()
        };
        assert_eq!(
            feed(b"*11\r\n", &[100], unauth).1,
            Some(ProtocolError::UnauthenticatedMultibulkLength)
        );
        assert_eq!(feed(b"*10\r\n", &[100], unauth).1, None);
        assert_eq!(
            feed(b"*1\r\n$16385\r\n", &[100], unauth).1,
            Some(ProtocolError::UnauthenticatedBulkLength)
        );
        assert_eq!(feed(b"*1\r\n$16384\r\n", &[100], unauth).1, None);
        let small = Limits {
            proto_max_bulk_len: 10,
            authenticated: true,
        };
        assert_eq!(
            feed(b"*1\r\n$11\r\n", &[100], small).1,
            Some(ProtocolError::InvalidBulkLength)
        );
        // Redis allows huge multibulk counts once authenticated.
        assert_eq!(whole(b"*1048577\r\n").1, None);
    }

    #[test]
    fn trailing_bytes_are_skipped_unchecked_like_redis() {
        let (reqs, err) = whole(b"*1\r\n$4\r\nPINGxx*1\rx$4\r\nPING\r\n");
        assert_eq!(err, None);
        assert_eq!(strs(&reqs), vec![vec!["PING"], vec!["PING"]]);
    }

    #[test]
    fn inline_quoting_like_sdssplitargs() {
        let split = |s: &[u8]| split_inline(s).map(|v| strs(&[v]).remove(0));
        assert_eq!(
            split(b"  a  b\tc "),
            Some(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            split(br#"PING "\x41\n\q\x4g\a\b\t\r\"\\""#).unwrap()[1].as_bytes(),
            b"A\nqx4g\x07\x08\t\r\"\\"
        );
        assert_eq!(split(br"PING 'a\'b\nc'").unwrap()[1], "a'b\\nc");
        assert_eq!(split(br#"a"b c"d"#), None);
        assert_eq!(split(br#"a"b c" d"#).unwrap(), vec!["ab c", "d"]);
        assert_eq!(split(br#"PING "" "#).unwrap(), vec!["PING", ""]);
        // \v and \f separate arguments only at their start, as in Redis.
        assert_eq!(split(b"PING\x0b\x0cx").unwrap(), vec!["PING\x0b\x0cx"]);
        assert_eq!(split(b"\x0bPING").unwrap(), vec!["PING"]);
        assert_eq!(split(b"PING a\rb").unwrap(), vec!["PING", "a", "b"]);
        assert_eq!(split(br#"PING "\x4""#).unwrap()[1], "x4");
        assert_eq!(split(br#"PING "a\""#), None);
        assert_eq!(split(b"").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn big_arguments_get_their_own_exact_allocation() {
        let len = 1 << 20;
        let mut input = format!("*2\r\n$3\r\nSET\r\n${len}\r\n").into_bytes();
        input.extend(std::iter::repeat_n(b'v', len));
        input.extend_from_slice(b"\r\n");
        let mut p = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut pos = 0;
        let mut done = false;
        while pos < input.len() {
            p.reserve(&mut buf);
            let n = 1000.min(input.len() - pos).min(buf.capacity() - buf.len());
            buf.extend_from_slice(&input[pos..pos + n]);
            pos += n;
            if p.next_request(&mut buf, Limits::default(), &mut out)
                .unwrap()
            {
                done = true;
            }
        }
        assert!(done);
        assert_eq!(out[1].len(), len);
        assert!(out[1].iter().all(|&b| b == b'v'));
    }

    #[test]
    fn a_huge_bulk_in_small_pieces_is_linear() {
        // 64 MiB in 4 KiB reads: quadratic work would take minutes; linear work is instant.
        let len = 64 << 20;
        let mut p = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        buf.extend_from_slice(format!("*1\r\n${len}\r\n").as_bytes());
        assert!(
            !p.next_request(&mut buf, Limits::default(), &mut out)
                .unwrap()
        );
        let chunk = vec![b'x'; 4096];
        let mut sent = 0;
        while sent < len {
            p.reserve(&mut buf);
            buf.extend_from_slice(&chunk);
            sent += chunk.len();
            assert!(
                !p.next_request(&mut buf, Limits::default(), &mut out)
                    .unwrap()
            );
        }
        buf.extend_from_slice(b"\r\n");
        assert!(
            p.next_request(&mut buf, Limits::default(), &mut out)
                .unwrap()
        );
        assert_eq!(out[0].len(), len);
    }
}
