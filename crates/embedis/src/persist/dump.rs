//! DUMP/RESTORE payloads and FUNCTION DUMP/RESTORE payloads, byte-compatible with Redis 7.0.
//!
//! A key's payload is the RDB type byte and object, then the RDB version (`u16` LE) and the
//! CRC64 of everything before it (`u64` LE). A function payload is the same footer after one
//! `RDB_OPCODE_FUNCTION2` record per library. Payloads come from clients: verification and
//! decoding never panic and never allocate more than the payload could describe.

use super::rdb::reader::read_object;
use super::rdb::writer::{function, write_object};
use super::rdb::{Input, Out, RDB_VERSION, RdbError, crc64, opcodes};
use crate::keyspace::Value;
use crate::types::bytetable::MemberHasher;

fn seal(mut out: Out) -> Vec<u8> {
    out.buf.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(0, &out.buf);
    out.buf.extend_from_slice(&crc.to_le_bytes());
    out.buf
}

/// The DUMP payload of `value` (LZF-compressed like Redis's default `rdbcompression yes`).
pub fn dump_value(value: &Value) -> Result<Vec<u8>, &'static str> {
    let mut out = Out::new();
    write_object(&mut out, value, true)?;
    Ok(seal(out))
}

/// Whether a payload has a known RDB version and a right checksum (Redis's
/// `verifyDumpPayload`); returns the body (without the footer).
pub fn verify(payload: &[u8]) -> Option<&[u8]> {
    if payload.len() < 10 {
        return None;
    }
    let body_len = payload.len() - 10;
    let footer = &payload[body_len..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return None;
    }
    let mut stored = [0u8; 8];
    stored.copy_from_slice(&footer[2..]);
    if crc64::crc64(0, &payload[..payload.len() - 8]) != u64::from_le_bytes(stored) {
        return None;
    }
    Some(&payload[..body_len])
}

/// Decodes a verified payload body into a value.
pub fn restore_value(
    body: &[u8],
    hasher: MemberHasher,
    zlimits: &crate::types::zset::Limits,
) -> Result<Value, RdbError> {
    let mut i = Input::new(body);
    let ty = i.u8()?;
    read_object(&mut i, ty, hasher, zlimits)
}

/// The FUNCTION DUMP payload of these libraries' source codes.
pub fn dump_functions<'a>(codes: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Out::new();
    for code in codes {
        function(&mut out, code, true);
    }
    seal(out)
}

/// Why a FUNCTION RESTORE payload was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionPayloadError {
    /// Wrong version or checksum (`ERR payload version or checksum are wrong`).
    Checksum,
    /// Not a sequence of function records (`ERR given type is not a function`).
    NotAFunction,
    /// A record could not be read.
    Corrupt(RdbError),
}

/// The library source codes of a FUNCTION RESTORE payload.
pub fn restore_functions(payload: &[u8]) -> Result<Vec<Vec<u8>>, FunctionPayloadError> {
    let body = verify(payload).ok_or(FunctionPayloadError::Checksum)?;
    let mut i = Input::new(body);
    let mut libs = Vec::new();
    while i.remaining() > 0 {
        let op = i.u8().map_err(FunctionPayloadError::Corrupt)?;
        if op != opcodes::FUNCTION2 {
            return Err(FunctionPayloadError::NotAFunction);
        }
        let code = i.string().map_err(FunctionPayloadError::Corrupt)?;
        libs.push(code.into_owned());
    }
    Ok(libs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::hash::Hash;
    use crate::types::string::Str;

    const HS: MemberHasher = MemberHasher::with_seed(3);

    /// Payloads taken from redis-server 7.0's DUMP.
    const REDIS_HELLO: &[u8] = b"\x00\x05hello\n\x00cr\xdfve4 \n";
    const REDIS_INT: &[u8] = b"\x00\xc190\n\x00\x9d\x94\xea'\x93\xfc\x08\xb9";
    const REDIS_LZF: &[u8] = b"\x00\xc3\t(\x01aa\xe0\x1b\x00\x01aa\n\x00\xcf\t/\xaa\xae%\x83\x1d";
    const REDIS_HASH: &[u8] = b"\x10\x1c\x1c\x00\x00\x00\x06\x00\x82f1\x03\x82v1\x03\x82f2\x03{\x01\x82f3\x03\xdf\xfb\x02\xff\n\x00\x98\x9f\xfa\xb8\xac\xed\xf7c";
    const REDIS_INTSET: &[u8] = b"\x0b\x18\x04\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00p\x11\x01\x00\n\x00\xef.e!\xe3\x85\xa2*";
    const REDIS_SET: &[u8] = b"\x02\x02\x01b\x01a\n\x00u\xd9\x9d\x83^\xf8_e";

    fn load(p: &[u8]) -> Value {
        restore_value(verify(p).expect("valid payload"), HS, &Default::default()).unwrap()
    }

    #[test]
    fn reads_redis_payloads() {
        assert_eq!(load(REDIS_HELLO), Value::Str(Str::from_bytes(b"hello")));
        assert_eq!(load(REDIS_INT), Value::Str(Str::Int(12345)));
        assert_eq!(load(REDIS_LZF), Value::Str(Str::from_bytes(&[b'a'; 40])));
        let mut h = Hash::new();
        for (f, v) in [("f1", "v1"), ("f2", "123"), ("f3", "-5")] {
            h.insert(f.as_bytes(), v.as_bytes(), HS);
        }
        assert_eq!(load(REDIS_HASH), Value::from(h));
        let Value::Set(s) = load(REDIS_INTSET) else {
            panic!()
        };
        assert_eq!(s.encoding(), "intset");
        assert_eq!(s.len(), 4);
        let Value::Set(s) = load(REDIS_SET) else {
            panic!()
        };
        assert!(s.contains(b"a") && s.contains(b"b"));
    }

    #[test]
    fn writes_redis_payloads() {
        // Same bytes as Redis where the encoding is deterministic.
        for p in [REDIS_HELLO, REDIS_INT, REDIS_HASH, REDIS_INTSET] {
            assert_eq!(dump_value(&load(p)).unwrap(), p);
        }
    }

    #[test]
    fn bad_payloads_are_refused() {
        assert!(verify(b"").is_none());
        assert!(verify(&REDIS_HELLO[..REDIS_HELLO.len() - 1]).is_none());
        let mut future = REDIS_HELLO.to_vec();
        future[7] = 11;
        assert!(verify(&future).is_none());
        let mut flipped = REDIS_HASH.to_vec();
        flipped[10] ^= 0x20;
        assert!(verify(&flipped).is_none());
    }

    #[test]
    fn function_payloads_round_trip() {
        let code = b"#!lua name=mylib\nredis.register_function('f', function() return 1 end)";
        let p = dump_functions([&code[..]]);
        assert_eq!(restore_functions(&p).unwrap(), vec![code.to_vec()]);
        assert_eq!(
            restore_functions(REDIS_HELLO),
            Err(FunctionPayloadError::NotAFunction)
        );
        assert_eq!(
            restore_functions(b"xx"),
            Err(FunctionPayloadError::Checksum)
        );
        let empty = dump_functions(std::iter::empty());
        assert_eq!(restore_functions(&empty).unwrap(), Vec::<Vec<u8>>::new());
    }
}
