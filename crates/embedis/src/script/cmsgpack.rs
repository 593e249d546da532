//! The `cmsgpack` module (lua-cmsgpack 0.4.0 as bundled with Redis 7.0): `pack`, `unpack`,
//! `unpack_one`, `unpack_limit`.
//!
//! Same encoding choices as Redis's: integral numbers as the smallest MessagePack integer,
//! other numbers as float 32 when exact else float 64, strings as str 8/16/32 (fixstr under 32
//! bytes), tables whose keys are exactly 1..n as arrays and others as maps (Lua's `next`
//! order), tables nested deeper than 16 levels as nil. Decoding reads what Redis's reads
//! (no bin/ext types: "Bad data format in input.").
//!
//! Known gap: decoding refuses nesting deeper than 1000 levels ("stack overflow"), where Redis
//! fails later, at the Lua C stack limit.

use mlua::{Lua, MultiValue, Table, Value};

use super::cjson::{STACK_RED_ZONE, STACK_SEGMENT};
use super::vm::{arg_error, arg_type, c_i64, check_integer, raise_str};

/// Tables nested deeper than this encode as nil (`LUACMSGPACK_MAX_NESTING`).
const MAX_NESTING: usize = 16;
/// Decoding refuses nesting deeper than this.
const MAX_DECODE_DEPTH: usize = 1000;

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    if !n.is_infinite() && c_i64(n) as f64 == n {
        encode_int(out, c_i64(n));
    } else if n == (n as f32) as f64 {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_len(out: &mut Vec<u8>, len: usize, fix: u8, fix_max: usize, m16: u8, m32: u8) {
    if len <= fix_max {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(m16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// lua-cmsgpack's `table_is_an_array`: keys exactly 1..n.
fn is_array(t: &Table) -> mlua::Result<bool> {
    let (mut count, mut max) = (0i64, 0i64);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(false),
        };
        // IS_INT_EQUIVALENT: the number survives a round trip through a C int.
        if n <= 0.0 || n.is_infinite() || super::vm::c_int(n) as f64 != n {
            return Ok(false);
        }
        max = max.max(n as i64);
        count += 1;
    }
    Ok(max == count)
}

fn encode(out: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || {
        encode_inner(out, v, level)
    })
}

fn encode_inner(out: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    match v {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_number(out, *i as f64),
        Value::Number(n) => encode_number(out, *n),
        Value::Table(t) if level < MAX_NESTING => {
            if is_array(t)? {
                let len = t.raw_len();
                encode_len(out, len, 0x90, 15, 0xdc, 0xdd);
                for j in 1..=len {
                    let item: Value = t.get(j)?;
                    encode(out, &item, level + 1)?;
                }
            } else {
                let len = t.pairs::<Value, Value>().count();
                encode_len(out, len, 0x80, 15, 0xde, 0xdf);
                for pair in t.pairs::<Value, Value>() {
                    let (k, item) = pair?;
                    encode(out, &k, level + 1)?;
                    encode(out, &item, level + 1)?;
                }
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

enum DecodeError {
    Eof,
    BadFormat,
    Lua(mlua::Error),
}

impl From<mlua::Error> for DecodeError {
    fn from(e: mlua::Error) -> Self {
        DecodeError::Lua(e)
    }
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.data.len() - self.pos < n {
            return Err(DecodeError::Eof);
        }
        Ok(())
    }

    fn be(&self, at: usize, n: usize) -> u64 {
        self.data[at..at + n]
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | *b as u64)
    }

    fn left(&self) -> usize {
        self.data.len() - self.pos
    }
}

fn decode(lua: &Lua, c: &mut Cursor<'_>, depth: usize) -> Result<Value, DecodeError> {
    stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || {
        decode_inner(lua, c, depth)
    })
}

fn decode_inner(lua: &Lua, c: &mut Cursor<'_>, depth: usize) -> Result<Value, DecodeError> {
    c.need(1)?;
    let p = c.pos;
    let b = c.data[p];
    let fixed = |c: &mut Cursor<'_>, n: usize| -> Result<u64, DecodeError> {
        c.need(1 + n)?;
        let v = c.be(c.pos + 1, n);
        c.pos += 1 + n;
        Ok(v)
    };
    let v = match b {
        0xcc => Value::Number(fixed(c, 1)? as f64),
        0xcd => Value::Number(fixed(c, 2)? as f64),
        0xce => Value::Number(fixed(c, 4)? as f64),
        0xcf => Value::Number(fixed(c, 8)? as f64),
        0xd0 => Value::Number(fixed(c, 1)? as u8 as i8 as f64),
        0xd1 => Value::Number(fixed(c, 2)? as u16 as i16 as f64),
        0xd2 => Value::Number(fixed(c, 4)? as u32 as i32 as f64),
        0xd3 => Value::Number(fixed(c, 8)? as i64 as f64),
        0xc0 => {
            c.pos += 1;
            Value::Nil
        }
        0xc3 | 0xc2 => {
            c.pos += 1;
            Value::Boolean(b == 0xc3)
        }
        0xca => Value::Number(f32::from_bits(fixed(c, 4)? as u32) as f64),
        0xcb => Value::Number(f64::from_bits(fixed(c, 8)?)),
        0xd9..=0xdb => {
            let n = match b {
                0xd9 => 1,
                0xda => 2,
                _ => 4,
            };
            c.need(1 + n)?;
            let len = c.be(p + 1, n) as usize;
            c.need(1 + n + len)?;
            let s = lua.create_string(&c.data[p + 1 + n..p + 1 + n + len])?;
            c.pos += 1 + n + len;
            Value::String(s)
        }
        0xdc | 0xdd => {
            let len = fixed(c, if b == 0xdc { 2 } else { 4 })? as usize;
            array(lua, c, len, depth)?
        }
        0xde | 0xdf => {
            let len = fixed(c, if b == 0xde { 2 } else { 4 })? as usize;
            map(lua, c, len, depth)?
        }
        _ if b & 0x80 == 0 => {
            c.pos += 1;
            Value::Number(b as f64)
        }
        _ if b & 0xe0 == 0xe0 => {
            c.pos += 1;
            Value::Number(b as i8 as f64)
        }
        _ if b & 0xe0 == 0xa0 => {
            let len = (b & 0x1f) as usize;
            c.need(1 + len)?;
            let s = lua.create_string(&c.data[p + 1..p + 1 + len])?;
            c.pos += 1 + len;
            Value::String(s)
        }
        _ if b & 0xf0 == 0x90 => {
            c.pos += 1;
            array(lua, c, (b & 0xf) as usize, depth)?
        }
        _ if b & 0xf0 == 0x80 => {
            c.pos += 1;
            map(lua, c, (b & 0xf) as usize, depth)?
        }
        _ => return Err(DecodeError::BadFormat),
    };
    Ok(v)
}

fn nested(lua: &Lua, depth: usize, what: &str) -> Result<(), DecodeError> {
    if depth >= MAX_DECODE_DEPTH {
        return Err(DecodeError::Lua(raise_str(
            lua,
            format_args!("stack overflow (in function {what})"),
        )));
    }
    Ok(())
}

fn array(lua: &Lua, c: &mut Cursor<'_>, len: usize, depth: usize) -> Result<Value, DecodeError> {
    nested(lua, depth, "mp_decode_to_lua_array")?;
    let t = lua.create_table()?;
    for i in 1..=len {
        let v = decode(lua, c, depth + 1)?;
        t.raw_set(i, v)?;
    }
    Ok(Value::Table(t))
}

fn map(lua: &Lua, c: &mut Cursor<'_>, len: usize, depth: usize) -> Result<Value, DecodeError> {
    nested(lua, depth, "mp_decode_to_lua_hash")?;
    let t = lua.create_table()?;
    for _ in 0..len {
        let k = decode(lua, c, depth + 1)?;
        let v = decode(lua, c, depth + 1)?;
        match &k {
            // lua_settable raises these from inside the C function: no position.
            Value::Nil => {
                return Err(DecodeError::Lua(mlua::Error::external(
                    super::vm::Raise::Str("table index is nil".into()),
                )));
            }
            Value::Number(n) if n.is_nan() => {
                return Err(DecodeError::Lua(mlua::Error::external(
                    super::vm::Raise::Str("table index is NaN".into()),
                )));
            }
            _ => t.raw_set(k, v)?,
        }
    }
    Ok(Value::Table(t))
}

/// lua-cmsgpack's `mp_unpack_full`.
fn unpack_full(lua: &Lua, data: &[u8], limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    let decode_all = limit == 0 && offset == 0;
    let len = data.len();
    if offset < 0 || limit < 0 {
        return Err(raise_str(
            lua,
            format_args!("Invalid request to unpack with offset of {offset} and limit of {len}."),
        ));
    } else if offset as u64 > len as u64 {
        return Err(raise_str(
            lua,
            format_args!("Start offset {offset} greater than input length {len}."),
        ));
    }
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut c = Cursor {
        data,
        pos: offset as usize,
    };
    let mut out = Vec::new();
    let mut cnt = 0;
    while c.left() > 0 && cnt < limit {
        match decode(lua, &mut c, 0) {
            Ok(v) => out.push(v),
            Err(DecodeError::Eof) => return Err(raise_str(lua, "Missing bytes in input.")),
            Err(DecodeError::BadFormat) => {
                return Err(raise_str(lua, "Bad data format in input."));
            }
            Err(DecodeError::Lua(e)) => return Err(e),
        }
        cnt += 1;
    }
    if !decode_all {
        let next = if c.left() == 0 { -1 } else { c.pos as i64 };
        out.insert(0, Value::Number(next as f64));
    }
    Ok(MultiValue::from_vec(out))
}

fn string_arg(lua: &Lua, args: &MultiValue) -> mlua::Result<Vec<u8>> {
    let s = match args.front() {
        Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => {
            lua.coerce_string(v.clone())?
        }
        _ => None,
    };
    match s {
        Some(s) => Ok(s.as_bytes().to_vec()),
        None => Err(arg_error(
            lua,
            1,
            format_args!("string expected, got {}", arg_type(args, 1)),
        )),
    }
}

/// `luaL_optinteger` cast to a C int.
fn opt_int(lua: &Lua, args: &MultiValue, n: usize, default: i64) -> mlua::Result<i64> {
    match args.get(n - 1) {
        None | Some(Value::Nil) => Ok(default),
        Some(_) => Ok(check_integer(lua, args, n)? as i32 as i64),
    }
}

/// The `cmsgpack` table.
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    t.set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(arg_error(lua, 0, "MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                encode(&mut out, v, 0)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| {
            let data = string_arg(lua, &args)?;
            unpack_full(lua, &data, 0, 0)
        })?,
    )?;
    t.set(
        "unpack_one",
        lua.create_function(|lua, args: MultiValue| {
            let offset = opt_int(lua, &args, 2, 0)?;
            let data = string_arg(lua, &args)?;
            unpack_full(lua, &data, 1, offset)
        })?,
    )?;
    t.set(
        "unpack_limit",
        lua.create_function(|lua, args: MultiValue| {
            let limit = check_integer(lua, &args, 2)? as i32 as i64;
            let offset = opt_int(lua, &args, 3, 0)?;
            let data = string_arg(lua, &args)?;
            unpack_full(lua, &data, limit, offset)
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_pick_the_smallest_encoding() {
        let enc = |n: f64| {
            let mut v = Vec::new();
            encode_number(&mut v, n);
            v
        };
        assert_eq!(enc(1.0), [1]);
        assert_eq!(enc(-1.0), [0xff]);
        assert_eq!(enc(300.0), [0xcd, 1, 44]);
        assert_eq!(enc(-300.0), [0xd1, 0xfe, 0xd4]);
        assert_eq!(enc(1.5), [0xca, 0x3f, 0xc0, 0, 0]);
        assert_eq!(enc(0.1)[0], 0xcb);
        assert_eq!(enc(f64::INFINITY)[0], 0xca);
    }
}
