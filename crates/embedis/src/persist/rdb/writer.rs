//! Writing RDB: one object (shared by files and DUMP payloads), keys with their metadata, and
//! the framing of a whole file (header, auxiliary fields, databases, checksum).
//!
//! Encodings follow what Redis 7.0 writes for the same value: `int`-encoded strings as
//! integers, compact hashes as listpacks, intsets as intsets, everything else in its plain
//! form, long strings and blobs LZF-compressed when `compress` (Redis's `rdbcompression`).

use std::io::{self, Write};

use super::listpack;
use super::{Out, RDB_VERSION, crc64, intset, opcodes, types};
use crate::keyspace::Value;
use crate::types::hash::Hash;
use crate::types::list::List;
use crate::types::set::{Member, Set};
use crate::types::string::Str;
use crate::types::zset::ZSet;

/// The RDB type `value` is written as; `Err` names a type that has no RDB form in embedis
/// yet.
pub fn object_type(value: &Value) -> Result<u8, &'static str> {
    Ok(match value {
        Value::Str(_) => types::STRING,
        Value::Hash(h) if matches!(**h, Hash::Compact(_)) => types::HASH_LISTPACK,
        Value::Hash(_) => types::HASH,
        Value::Set(s) if matches!(**s, Set::Intset(_)) => types::SET_INTSET,
        Value::Set(_) => types::SET,
        Value::List(_) => types::LIST_QUICKLIST_2,
        Value::ZSet(z) if matches!(**z, ZSet::Listpack(_)) => types::ZSET_LISTPACK,
        Value::ZSet(_) => types::ZSET_2,
        #[allow(unreachable_patterns)]
        other => return Err(other.type_name()),
    })
}

/// Appends the RDB type byte and the object for `value`; `Err` names a type that has no RDB
/// form in embedis yet.
pub fn write_object(out: &mut Out, value: &Value, compress: bool) -> Result<(), &'static str> {
    out.u8(object_type(value)?);
    write_body(out, value, compress);
    Ok(())
}

/// Appends the object (without its type byte), in the form [`object_type`] names.
fn write_body(out: &mut Out, value: &Value, compress: bool) {
    match value {
        Value::Str(Str::Int(n)) => out.int_string(*n),
        Value::Str(Str::Bytes { data, .. }) => out.string(data, compress),
        Value::Hash(h) if matches!(**h, Hash::Compact(_)) => {
            let mut b = listpack::Builder::new();
            for (f, v) in h.iter() {
                b.push(f);
                b.push(v);
            }
            out.string(&b.finish(), compress);
        }
        Value::Hash(h) => {
            out.len(h.len() as u64);
            for (f, v) in h.iter() {
                out.string(f, compress);
                out.string(v, compress);
            }
        }
        Value::Set(s) if matches!(**s, Set::Intset(_)) => {
            if let Set::Intset(v) = &**s {
                out.string(&intset::encode(v), compress);
            }
        }
        Value::Set(s) => {
            out.len(s.len() as u64);
            for m in s.iter() {
                match m {
                    Member::Int(n) => out.int_string(n),
                    Member::Bytes(b) => out.string(b, compress),
                }
            }
        }
        Value::List(l) => write_quicklist(out, l, compress),
        Value::ZSet(z) => write_zset(out, z, compress),
        #[allow(unreachable_patterns)]
        _ => {}
    }
}

/// Scores whose magnitude is at most this, and integral, are listpack integers in Redis 7.0
/// (`d2string` then `lpAppend`'s integer check); others are `%.17g` text (`inf`, `-inf`).
const LISTPACK_INT_SCORE: f64 = (1u64 << 62) as f64;

/// A sorted set as Redis 7.0 writes it: a listpack of member, score pairs in order
/// (ZSET_LISTPACK), or the count then member and binary score from the greatest element to
/// the smallest (ZSET_2, `rdbSaveObject` walks the skiplist from its tail so that loading
/// always inserts at the head).
fn write_zset(out: &mut Out, z: &ZSet, compress: bool) {
    match z {
        ZSet::Listpack(_) => {
            let mut b = listpack::Builder::new();
            for (m, s) in z.iter() {
                b.push(m);
                if s.fract() == 0.0 && s.abs() <= LISTPACK_INT_SCORE {
                    b.push_int(s as i64);
                } else {
                    b.push(crate::num::fmt_f64_17g(s).as_bytes());
                }
            }
            out.string(&b.finish(), compress);
        }
        ZSet::Skiplist(_) => {
            out.len(z.len() as u64);
            // The rank is where a backward walk starts: the greatest element.
            for (m, s) in z.iter_from(z.len().saturating_sub(1), true) {
                out.string(m, compress);
                out.binary_double(s);
            }
        }
    }
}

/// A list as Redis 7.0 writes its quicklist: the node count, then each node as its container
/// (2: a listpack, 1: one plain element) and blob. Nodes are cut where Redis's quicklist cuts
/// a list built by RPUSH (a node takes an element while its listpack stays within 8 KB,
/// counting 8 bytes of overhead; elements of 1 GB or more get a plain node), so DUMP of such a
/// list matches Redis byte for byte.
fn write_quicklist(out: &mut Out, list: &List, compress: bool) {
    const NODE_BYTES: usize = 8192;
    const OVERHEAD: usize = 8;
    const PLAIN: usize = 1 << 30;
    let mut nodes: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut node: Option<listpack::Builder> = None;
    for e in list.iter() {
        if e.len() >= PLAIN {
            if let Some(b) = node.take() {
                nodes.push((2, b.finish()));
            }
            nodes.push((1, e.to_vec()));
            continue;
        }
        let fits = node
            .as_ref()
            .is_some_and(|b| b.bytes() + e.len() + OVERHEAD <= NODE_BYTES);
        if !fits {
            if let Some(b) = node.take() {
                nodes.push((2, b.finish()));
            }
        }
        node.get_or_insert_with(listpack::Builder::new).push(e);
    }
    if let Some(b) = node {
        nodes.push((2, b.finish()));
    }
    out.len(nodes.len() as u64);
    for (container, blob) in nodes {
        out.len(container);
        out.string(&blob, compress);
    }
}

/// Appends one key with its expiry and (when given) LRU idle seconds, as
/// `rdbSaveKeyValuePair` lays them out.
pub fn write_key(
    out: &mut Out,
    key: &[u8],
    value: &Value,
    expire_ms: Option<u64>,
    idle_secs: Option<u64>,
    compress: bool,
) -> Result<(), &'static str> {
    let mark = out.buf.len();
    if let Some(at) = expire_ms {
        out.u8(opcodes::EXPIRETIME_MS);
        out.buf.extend_from_slice(&(at as i64).to_le_bytes());
    }
    if let Some(idle) = idle_secs {
        out.u8(opcodes::IDLE);
        out.len(idle);
    }
    let ty = match object_type(value) {
        Ok(t) => t,
        Err(t) => {
            out.buf.truncate(mark);
            return Err(t);
        }
    };
    out.u8(ty);
    out.string(key, compress);
    write_body(out, value, compress);
    Ok(())
}

/// The opening of a file: signature and version, and the auxiliary fields Redis writes.
pub fn header(out: &mut Out, ctime_secs: u64, used_mem: u64, aof_base: bool) {
    out.buf
        .extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
    aux(out, b"redis-ver", REDIS_VERSION.as_bytes());
    aux(out, b"redis-bits", b"64");
    aux(
        out,
        b"ctime",
        itoa::Buffer::new().format(ctime_secs).as_bytes(),
    );
    aux(
        out,
        b"used-mem",
        itoa::Buffer::new().format(used_mem).as_bytes(),
    );
    aux(out, b"aof-base", if aof_base { b"1" } else { b"0" });
}

/// The Redis version written in `redis-ver`: the release whose format embedis writes.
pub const REDIS_VERSION: &str = "7.0.0";

/// Appends an auxiliary field.
pub fn aux(out: &mut Out, key: &[u8], value: &[u8]) {
    out.u8(opcodes::AUX);
    out.string(key, false);
    out.string(value, false);
}

/// Appends a function library (RDB_OPCODE_FUNCTION2 and its code).
pub fn function(out: &mut Out, code: &[u8], compress: bool) {
    out.u8(opcodes::FUNCTION2);
    out.string(code, compress);
}

/// Appends the start of a database section.
pub fn select_db(out: &mut Out, db: usize, keys: u64, volatile: u64) {
    out.u8(opcodes::SELECTDB);
    out.len(db as u64);
    out.u8(opcodes::RESIZEDB);
    out.len(keys);
    out.len(volatile);
}

/// A writer that keeps the running CRC64 of everything written, for files written in pieces.
#[derive(Debug)]
pub struct CrcWriter<W: Write> {
    inner: W,
    crc: u64,
    written: u64,
}

impl<W: Write> CrcWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        CrcWriter {
            inner,
            crc: 0,
            written: 0,
        }
    }

    /// Writes bytes, adding them to the checksum.
    pub fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.crc = crc64::crc64(self.crc, b);
        self.written += b.len() as u64;
        self.inner.write_all(b)
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Returns the inner writer without writing a checksum (`rdbchecksum no`).
    pub fn finish_without_crc(self) -> W {
        self.inner
    }

    /// Writes the EOF opcode and the checksum; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.put(&[opcodes::EOF])?;
        let crc = self.crc;
        self.inner.write_all(&crc.to_le_bytes())?;
        Ok(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::reader::{Record, read_file, read_object};
    use crate::persist::rdb::{Input, RdbError};
    use crate::types::bytetable::MemberHasher;

    const HS: MemberHasher = MemberHasher::with_seed(1);

    fn round_trip(v: &Value) -> Value {
        let mut o = Out::new();
        write_object(&mut o, v, true).unwrap();
        let mut i = Input::new(&o.buf);
        let ty = i.u8().unwrap();
        let back = read_object(&mut i, ty, HS, &Default::default()).unwrap();
        assert_eq!(i.remaining(), 0);
        back
    }

    #[test]
    fn values_round_trip_with_their_encodings() {
        let mut values = vec![
            Value::Str(Str::from_bytes(b"12345")),
            Value::Str(Str::from_bytes(b"hello")),
            Value::Str(Str::from_bytes(&[b'x'; 300])),
            Value::Str(Str::from_bytes(b"")),
            Value::Str(Str::Int(i64::MIN)),
        ];
        let mut small = Hash::new();
        small.insert(b"f", b"1", HS);
        small.insert(b"g", b"text", HS);
        values.push(Value::from(small));
        let mut big = Hash::new();
        for i in 0..1000 {
            big.insert(
                format!("field{i}").as_bytes(),
                format!("{i}").as_bytes(),
                HS,
            );
        }
        values.push(Value::from(big));
        let mut ints = Set::new_intset();
        for n in [5i64, -3, 1 << 40] {
            ints.insert(itoa::Buffer::new().format(n).as_bytes(), HS);
        }
        values.push(Value::from(ints));
        let mut words = Set::for_member(b"a");
        for i in 0..300 {
            words.insert(format!("m{i}").as_bytes(), HS);
        }
        values.push(Value::from(words));
        for v in &values {
            let back = round_trip(v);
            assert_eq!(&back, v);
            assert_eq!(back.encoding(), v.encoding());
        }
    }

    #[test]
    fn zsets_round_trip_in_both_encodings() {
        use crate::types::zset::Limits;
        let limits = Limits::default();
        let scores = [
            1.5,
            2.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.1,
            3e20,
            -12345.0,
        ];
        let mut small = ZSet::for_first_member(1, &limits);
        for (i, s) in scores.iter().enumerate() {
            small.set(*s, format!("m{i}").as_bytes(), &limits);
        }
        small.set(4611686018427387904.0, b"123", &limits);
        let mut big = ZSet::for_first_member(1, &limits);
        for i in 0..500 {
            big.set(i as f64 / 3.0 - 50.0, format!("k{i}").as_bytes(), &limits);
        }
        big.set(-0.0, b"negzero", &limits);
        big.set(f64::INFINITY, b"top", &limits);
        for z in [small, big] {
            let v = Value::from(z);
            let back = round_trip(&v);
            assert_eq!(back, v);
            assert_eq!(back.encoding(), v.encoding());
        }
        // A listpack with more members than the limit loads as a skiplist; a small skiplist
        // as a listpack, as Redis 7.0 loads them.
        let mut o = Out::new();
        let mut z = ZSet::Skiplist(Box::default());
        z.set(1.0, b"a", &limits);
        write_object(&mut o, &Value::from(z), false).unwrap();
        let mut i = Input::new(&o.buf);
        let ty = i.u8().unwrap();
        assert_eq!(ty, types::ZSET_2);
        let back = read_object(&mut i, ty, HS, &limits).unwrap();
        assert_eq!(back.encoding(), "listpack");
        let tight = Limits {
            max_listpack_entries: 0,
            max_listpack_value: 64,
        };
        let mut i = Input::new(&o.buf);
        let ty = i.u8().unwrap();
        assert_eq!(
            read_object(&mut i, ty, HS, &tight).unwrap().encoding(),
            "skiplist"
        );
    }

    #[test]
    fn zset_duplicates_and_nan_are_corrupt() {
        let mut o = Out::new();
        o.len(2);
        for _ in 0..2 {
            o.string(b"m", false);
            o.binary_double(1.0);
        }
        let r = read_object(
            &mut Input::new(&o.buf),
            types::ZSET_2,
            HS,
            &Default::default(),
        );
        assert!(matches!(r, Err(RdbError::Corrupt(_))));
        let mut o = Out::new();
        o.len(1);
        o.string(b"m", false);
        o.binary_double(f64::NAN);
        let r = read_object(
            &mut Input::new(&o.buf),
            types::ZSET_2,
            HS,
            &Default::default(),
        );
        assert!(matches!(r, Err(RdbError::Corrupt(_))));
    }

    #[test]
    fn a_file_round_trips_and_detects_corruption() {
        let mut o = Out::new();
        header(&mut o, 1_700_000_000, 0, false);
        function(
            &mut o,
            b"#!lua name=lib\nredis.register_function('f', function() return 1 end)",
            true,
        );
        select_db(&mut o, 0, 2, 1);
        write_key(
            &mut o,
            b"a",
            &Value::Str(Str::from_bytes(b"1")),
            None,
            None,
            true,
        )
        .unwrap();
        write_key(
            &mut o,
            b"b",
            &Value::Str(Str::from_bytes(b"two")),
            Some(4_000_000_000_000),
            Some(7),
            true,
        )
        .unwrap();
        select_db(&mut o, 3, 1, 0);
        write_key(
            &mut o,
            b"c",
            &Value::Str(Str::from_bytes(b"x")),
            None,
            None,
            true,
        )
        .unwrap();
        let mut w = CrcWriter::new(Vec::new());
        w.put(&o.buf).unwrap();
        let file = w.finish().unwrap();
        let mut keys = Vec::new();
        let mut funcs = 0;
        let s = read_file(&file, HS, &Default::default(), false, |r| {
            match r {
                Record::Key(k) => keys.push((k.db, k.key, k.expire_ms, k.idle)),
                Record::Function(_) => funcs += 1,
                Record::Aux(..) => {}
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(s.keys, 3);
        assert_eq!(funcs, 1);
        assert_eq!(
            keys[1],
            (0, b"b".to_vec(), Some(4_000_000_000_000), Some(7))
        );
        assert_eq!(keys[2].0, 3);
        let mut bad = file.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 1;
        assert!(read_file(&bad, HS, &Default::default(), false, |_| Ok(())).is_err());
        for cut in 0..file.len() {
            assert!(read_file(&file[..cut], HS, &Default::default(), false, |_| Ok(())).is_err());
            assert!(read_file(&file[..cut], HS, &Default::default(), true, |_| Ok(())).is_err());
        }
    }
}
