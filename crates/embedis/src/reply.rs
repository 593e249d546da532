//! Command results as values. Handlers return a [`Reply`]; the server encodes it as RESP2 or
//! RESP3, Lua converts it to Lua values, and the typed API converts it to Rust types.

use bytes::Bytes;
use std::borrow::Cow;

use crate::error::Error;

/// One reply. RESP3-only shapes (map, set, double, boolean, verbatim, push) say how they
/// degrade under RESP2, as Redis does it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reply {
    /// `+OK`
    Ok,
    /// A status line, `+<text>`.
    Status(Cow<'static, str>),
    /// An error reply.
    Error(Error),
    /// `:<n>`
    Int(i64),
    /// A bulk string.
    Bulk(Bytes),
    /// The null bulk string (`$-1`; RESP3 `_`).
    Nil,
    /// The null array (`*-1`; RESP3 `_`).
    NilArray,
    /// An array.
    Array(Vec<Reply>),
    /// A map; RESP2 sends it as a flat array of key, value, key, value...
    Map(Vec<(Reply, Reply)>),
    /// A set; RESP2 sends it as an array.
    Set(Vec<Reply>),
    /// A double; RESP2 sends it as a bulk string formatted like Redis 7.0 (`%.17g`).
    Double(f64),
    /// A boolean; RESP2 sends it as the integer 1 or 0.
    Bool(bool),
    /// A verbatim string (`=txt:...`), e.g. INFO; RESP2 sends a bulk string.
    Verbatim(Bytes),
    /// A big number (`(<digits>`), which only scripts return (`{big_number=...}`); RESP2 sends
    /// a bulk string.
    BigNumber(Bytes),
    /// An out-of-band push (pub/sub messages, invalidations); RESP2 sends it as an array.
    Push(Vec<Reply>),
    /// Several frames sent one after the other where one reply is expected: (un)subscribing
    /// to several channels inside MULTI, where Redis writes each channel's reply into EXEC's
    /// array, which then holds more frames than its length says. Scripts never see it
    /// (SUBSCRIBE and friends are `noscript`).
    Frames(Vec<Reply>),
    /// Nothing to send: the command's replies were queued as pushes on the client's queue,
    /// in order with its messages (SUBSCRIBE and friends send one push per channel; see
    /// [`crate::pubsub::client`]). Encoders write nothing for it.
    Pushed,
}

impl Reply {
    /// A bulk string copied from bytes.
    pub fn bulk(b: impl AsRef<[u8]>) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(b.as_ref()))
    }

    /// A bulk string from an integer's decimal text.
    pub fn bulk_int(n: i64) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(
            itoa::Buffer::new().format(n).as_bytes(),
        ))
    }

    /// A status reply with static text.
    pub const fn status(s: &'static str) -> Reply {
        Reply::Status(Cow::Borrowed(s))
    }

    /// A bulk string or nil.
    pub fn opt_bulk(b: Option<impl AsRef<[u8]>>) -> Reply {
        match b {
            Some(b) => Reply::bulk(b),
            None => Reply::Nil,
        }
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

impl From<Error> for Reply {
    fn from(e: Error) -> Self {
        Reply::Error(e)
    }
}

impl From<i64> for Reply {
    fn from(n: i64) -> Self {
        Reply::Int(n)
    }
}

impl From<bool> for Reply {
    /// Redis's many 0/1 integer replies (EXISTS of one key, EXPIRE, SETNX...).
    fn from(b: bool) -> Self {
        Reply::Int(b as i64)
    }
}

impl From<Bytes> for Reply {
    fn from(b: Bytes) -> Self {
        Reply::Bulk(b)
    }
}

impl From<Vec<u8>> for Reply {
    fn from(b: Vec<u8>) -> Self {
        Reply::Bulk(Bytes::from(b))
    }
}

impl From<Option<Bytes>> for Reply {
    fn from(b: Option<Bytes>) -> Self {
        b.map_or(Reply::Nil, Reply::Bulk)
    }
}

impl From<()> for Reply {
    fn from(_: ()) -> Self {
        Reply::Ok
    }
}

impl<T: Into<Reply>> From<Vec<T>> for Reply {
    fn from(v: Vec<T>) -> Self {
        Reply::Array(v.into_iter().map(Into::into).collect())
    }
}
