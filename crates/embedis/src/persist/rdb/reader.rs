//! Reading RDB: one object (shared by files and DUMP payloads) and whole files.
//!
//! Values are rebuilt through the types' public constructors, so a loaded value takes the
//! encoding the same commands would have given it (a 3-field hash is compact whether it was
//! a listpack or a hashtable in the file, as Redis 7.0 does on load).

use std::borrow::Cow;

use super::listpack::{self, Elem};
use super::{
    Input, RDB_MIN_VERSION, RDB_VERSION, RdbError, crc64, intset, opcodes, types, ziplist,
};
use crate::keyspace::Value;
use crate::types::bytetable::MemberHasher;
use crate::types::hash::Hash;
use crate::types::set::{Member, Set};
use crate::types::string::Str;
use crate::types::zset::{self, Listpack as ZListpack, TreeZSet, ZSet, cmp_entry};

/// Reads the object of RDB type `ty` at the cursor. `zlimits` are the
/// `zset-max-listpack-*` thresholds a loaded sorted set's encoding is chosen by.
pub fn read_object(
    i: &mut Input<'_>,
    ty: u8,
    hasher: MemberHasher,
    zlimits: &zset::Limits,
) -> Result<Value, RdbError> {
    match ty {
        types::STRING => Ok(Value::Str(Str::from_vec(i.string()?.into_owned()))),
        types::SET => {
            let n = i.count(1)?;
            if n == 0 {
                return Err(RdbError::EmptyKey);
            }
            let mut set: Option<Set> = None;
            for _ in 0..n {
                let m = i.string()?;
                let s = set.get_or_insert_with(|| Set::for_member(&m));
                if !s.insert(&m, hasher) {
                    return Err(RdbError::Corrupt("duplicate set member"));
                }
            }
            Ok(Value::from(set.unwrap_or_else(Set::new_intset)))
        }
        types::SET_INTSET => {
            let blob = i.string()?;
            let ints = intset::decode(&blob).map_err(|_| RdbError::Corrupt("intset"))?;
            if ints.is_empty() {
                return Err(RdbError::EmptyKey);
            }
            let mut s = Set::new_intset();
            for n in ints {
                s.insert_member(Member::Int(n), hasher);
            }
            Ok(Value::from(s))
        }
        types::HASH => {
            let n = i.count(2)?;
            if n == 0 {
                return Err(RdbError::EmptyKey);
            }
            let mut h = Hash::new();
            for _ in 0..n {
                let f = i.string()?;
                let v = i.string()?;
                if !h.insert(&f, &v, hasher) {
                    return Err(RdbError::Corrupt("duplicate hash field"));
                }
            }
            Ok(Value::from(h))
        }
        types::HASH_LISTPACK | types::HASH_ZIPLIST | types::HASH_ZIPMAP => {
            let blob = i.string()?;
            let items: Vec<Cow<'_, [u8]>> = match ty {
                types::HASH_ZIPMAP => ziplist::decode_zipmap(&blob)
                    .map_err(|_| RdbError::Corrupt("zipmap"))?
                    .into_iter()
                    .map(Cow::Borrowed)
                    .collect(),
                types::HASH_ZIPLIST => elems_to_bytes(
                    ziplist::decode(&blob).map_err(|_| RdbError::Corrupt("ziplist"))?,
                ),
                _ => elems_to_bytes(
                    listpack::decode(&blob).map_err(|_| RdbError::Corrupt("listpack"))?,
                ),
            };
            if items.len() % 2 != 0 {
                return Err(RdbError::Corrupt("odd number of hash items"));
            }
            if items.is_empty() {
                return Err(RdbError::EmptyKey);
            }
            let mut h = Hash::new();
            for pair in items.chunks_exact(2) {
                if !h.insert(&pair[0], &pair[1], hasher) {
                    return Err(RdbError::Corrupt("duplicate hash field"));
                }
            }
            Ok(Value::from(h))
        }
        types::LIST | types::LIST_ZIPLIST | types::LIST_QUICKLIST | types::LIST_QUICKLIST_2 => {
            let items = read_list(i, ty)?;
            if items.is_empty() {
                return Err(RdbError::EmptyKey);
            }
            Ok(Value::List(Box::new(items.iter().collect())))
        }
        types::ZSET | types::ZSET_2 | types::ZSET_ZIPLIST | types::ZSET_LISTPACK => {
            let items = read_zset(i, ty)?;
            if items.is_empty() {
                return Err(RdbError::EmptyKey);
            }
            let compact = matches!(ty, types::ZSET_ZIPLIST | types::ZSET_LISTPACK);
            Ok(Value::from(build_zset(items, compact, zlimits)?))
        }
        types::STREAM_LISTPACKS | types::STREAM_LISTPACKS_2 => Err(RdbError::Unsupported("stream")),
        types::MODULE_PRE_GA | types::MODULE_2 => Err(RdbError::Unsupported("module")),
        _ => Err(RdbError::Corrupt("unknown value type")),
    }
}

fn elems_to_bytes(elems: Vec<Elem<'_>>) -> Vec<Cow<'_, [u8]>> {
    elems.into_iter().map(Elem::to_bytes).collect()
}

/// The elements of a list in any of its RDB encodings, head to tail.
pub fn read_list(i: &mut Input<'_>, ty: u8) -> Result<Vec<Vec<u8>>, RdbError> {
    let mut out = Vec::new();
    match ty {
        types::LIST => {
            let n = i.count(1)?;
            for _ in 0..n {
                out.push(i.string()?.into_owned());
            }
        }
        types::LIST_ZIPLIST => {
            let blob = i.string()?;
            let elems = ziplist::decode(&blob).map_err(|_| RdbError::Corrupt("ziplist"))?;
            out.extend(elems.into_iter().map(|e| e.to_bytes().into_owned()));
        }
        types::LIST_QUICKLIST | types::LIST_QUICKLIST_2 => {
            let nodes = i.count(1)?;
            for _ in 0..nodes {
                let container = if ty == types::LIST_QUICKLIST_2 {
                    i.length()?
                } else {
                    2
                };
                let blob = i.string()?;
                match container {
                    // A plain node: one large element stored as it is.
                    1 => out.push(blob.into_owned()),
                    2 => {
                        let elems = if ty == types::LIST_QUICKLIST_2 {
                            listpack::decode(&blob).map_err(|_| RdbError::Corrupt("listpack"))?
                        } else {
                            ziplist::decode(&blob).map_err(|_| RdbError::Corrupt("ziplist"))?
                        };
                        if elems.is_empty() {
                            return Err(RdbError::Corrupt("empty quicklist node"));
                        }
                        out.extend(elems.into_iter().map(|e| e.to_bytes().into_owned()));
                    }
                    _ => return Err(RdbError::Corrupt("quicklist container")),
                }
            }
        }
        _ => return Err(RdbError::Corrupt("not a list type")),
    }
    Ok(out)
}

/// The members and scores of a sorted set in any of its RDB encodings.
pub fn read_zset(i: &mut Input<'_>, ty: u8) -> Result<Vec<(Vec<u8>, f64)>, RdbError> {
    let mut out = Vec::new();
    match ty {
        types::ZSET | types::ZSET_2 => {
            let n = i.count(2)?;
            for _ in 0..n {
                let m = i.string()?.into_owned();
                let score = if ty == types::ZSET_2 {
                    i.binary_double()?
                } else {
                    i.text_double()?
                };
                if score.is_nan() {
                    return Err(RdbError::Corrupt("NaN score"));
                }
                out.push((m, score));
            }
        }
        types::ZSET_ZIPLIST | types::ZSET_LISTPACK => {
            let blob = i.string()?;
            let elems = if ty == types::ZSET_LISTPACK {
                listpack::decode(&blob).map_err(|_| RdbError::Corrupt("listpack"))?
            } else {
                ziplist::decode(&blob).map_err(|_| RdbError::Corrupt("ziplist"))?
            };
            if elems.len() % 2 != 0 {
                return Err(RdbError::Corrupt("odd number of zset items"));
            }
            for pair in elems.chunks_exact(2) {
                let score = match pair[1] {
                    Elem::Int(n) => n as f64,
                    Elem::Bytes(b) => crate::num::parse_f64(b)
                        .filter(|s| !s.is_nan())
                        .ok_or(RdbError::Corrupt("zset score"))?,
                };
                out.push((pair[0].to_bytes().into_owned(), score));
            }
        }
        _ => return Err(RdbError::Corrupt("not a zset type")),
    }
    Ok(out)
}

/// A sorted set from loaded entries (any order), in the encoding Redis 7.0's loader gives
/// it: a set that came as a listpack (`compact`) stays one unless it has more members than
/// `zset-max-listpack-entries`; a set that came as a skiplist becomes a listpack when it is
/// within both limits. A member given twice is corrupt data.
pub fn build_zset(
    mut items: Vec<(Vec<u8>, f64)>,
    compact: bool,
    limits: &zset::Limits,
) -> Result<ZSet, RdbError> {
    items.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if items.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(RdbError::Corrupt("duplicate sorted set member"));
    }
    items.sort_unstable_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
    let longest = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let listpack = items.len() <= limits.max_listpack_entries
        && (compact || longest <= limits.max_listpack_value);
    Ok(if listpack {
        let mut lp = ZListpack::new();
        for (m, s) in &items {
            lp.push_sorted(*s, m);
        }
        ZSet::Listpack(lp)
    } else {
        ZSet::Skiplist(Box::new(TreeZSet::from_sorted(
            items.iter().map(|(m, s)| (m.as_slice(), *s)),
        )))
    })
}

/// One key read from a file.
#[derive(Debug)]
pub struct LoadedKey {
    /// Logical database.
    pub db: usize,
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: Value,
    /// Absolute expiry in Unix ms, if any.
    pub expire_ms: Option<i64>,
    /// Idle seconds (LRU), if the file recorded them.
    pub idle: Option<u64>,
    /// LFU counter, if the file recorded it.
    pub freq: Option<u8>,
}

/// What a file holds besides keys.
#[derive(Debug)]
pub enum Record {
    /// A key.
    Key(LoadedKey),
    /// An auxiliary field (`redis-ver`, `ctime`...).
    Aux(Vec<u8>, Vec<u8>),
    /// A function library's source code.
    Function(Vec<u8>),
}

/// What a whole-file read found.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileSummary {
    /// The file's RDB version.
    pub version: u16,
    /// Keys handed over.
    pub keys: u64,
    /// Empty collections skipped (Redis skips them too).
    pub empty_skipped: u64,
    /// Byte offset just after the checksum (where an AOF tail would start).
    pub end: usize,
}

/// Reads an RDB file held in `data`, handing every record to `sink` in file order.
///
/// A file is checksummed whole (unless its stored checksum is zero: `rdbchecksum no`). When
/// the RDB is the whole file, the checksum is verified before the first record is handed
/// over, so a corrupt file loads nothing. With `trailing` (an RDB preamble followed by AOF
/// commands), the end is only known after parsing, and the checksum is checked then.
pub fn read_file(
    data: &[u8],
    hasher: MemberHasher,
    zlimits: &zset::Limits,
    trailing: bool,
    mut sink: impl FnMut(Record) -> Result<(), RdbError>,
) -> Result<FileSummary, RdbError> {
    let mut i = Input::new(data);
    let magic = i
        .take(9)
        .map_err(|_| RdbError::Version("file too short".into()))?;
    if &magic[..5] != b"REDIS" {
        return Err(RdbError::Version("missing REDIS signature".into()));
    }
    let version: u16 = std::str::from_utf8(&magic[5..])
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| RdbError::Version("bad version field".into()))?;
    if !(RDB_MIN_VERSION..=RDB_VERSION).contains(&version) {
        return Err(RdbError::Version(format!("RDB version {version}")));
    }
    let mut summary = FileSummary {
        version,
        ..FileSummary::default()
    };
    let has_crc = version >= 5;
    if has_crc && !trailing {
        if data.len() < 9 + 9 {
            return Err(RdbError::Truncated);
        }
        let body = data.len() - 8;
        if data[body - 1] != opcodes::EOF {
            return Err(RdbError::Truncated);
        }
        check_crc(data, body)?;
    }
    read_records(&mut i, hasher, zlimits, &mut summary, &mut sink)?;
    let end = i.pos();
    summary.end = end;
    if has_crc {
        if !trailing && end != data.len() - 8 {
            return Err(RdbError::Corrupt("data after the end of the RDB"));
        }
        if trailing {
            if data.len() < end + 8 {
                return Err(RdbError::Truncated);
            }
            check_crc(data, end)?;
        }
        summary.end = end + 8;
    }
    Ok(summary)
}

fn check_crc(data: &[u8], body: usize) -> Result<(), RdbError> {
    let mut stored = [0u8; 8];
    stored.copy_from_slice(&data[body..body + 8]);
    let stored = u64::from_le_bytes(stored);
    if stored != 0 && stored != crc64::crc64(0, &data[..body]) {
        return Err(RdbError::Checksum);
    }
    Ok(())
}

fn read_records(
    i: &mut Input<'_>,
    hasher: MemberHasher,
    zlimits: &zset::Limits,
    summary: &mut FileSummary,
    sink: &mut dyn FnMut(Record) -> Result<(), RdbError>,
) -> Result<(), RdbError> {
    let mut db = 0usize;
    let mut expire: Option<i64> = None;
    let mut idle: Option<u64> = None;
    let mut freq: Option<u8> = None;
    loop {
        let op = i.u8()?;
        match op {
            opcodes::EOF => return Ok(()),
            opcodes::SELECTDB => {
                db = usize::try_from(i.length()?).map_err(|_| RdbError::Corrupt("db number"))?;
            }
            opcodes::RESIZEDB => {
                i.length()?;
                i.length()?;
            }
            opcodes::EXPIRETIME_MS => expire = Some(i.i64_le()?),
            opcodes::EXPIRETIME => expire = Some(i.i32_le()? as i64 * 1000),
            opcodes::IDLE => idle = Some(i.length()?),
            opcodes::FREQ => freq = Some(i.u8()?),
            opcodes::AUX => {
                let k = i.string()?.into_owned();
                let v = i.string()?.into_owned();
                sink(Record::Aux(k, v))?;
            }
            opcodes::MODULE_AUX => return Err(RdbError::Unsupported("module auxiliary data")),
            opcodes::FUNCTION2 => {
                let code = i.string()?.into_owned();
                sink(Record::Function(code))?;
            }
            opcodes::FUNCTION_PRE_GA => {
                return Err(RdbError::Unsupported(
                    "functions of a Redis 7.0 release candidate",
                ));
            }
            ty => {
                let key = i.string()?.into_owned();
                match read_object(i, ty, hasher, zlimits) {
                    Ok(value) => {
                        summary.keys += 1;
                        sink(Record::Key(LoadedKey {
                            db,
                            key,
                            value,
                            expire_ms: expire,
                            idle,
                            freq,
                        }))?;
                    }
                    Err(RdbError::EmptyKey) => summary.empty_skipped += 1,
                    Err(e) => return Err(e),
                }
                expire = None;
                idle = None;
                freq = None;
            }
        }
    }
}
