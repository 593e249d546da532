//! The `cjson` module (Lua CJSON 2.1.0 as bundled with Redis 7.0): `cjson.encode`,
//! `cjson.decode`, `cjson.null`, the configuration functions and `cjson.new`.
//!
//! Same output as Redis's: numbers with `%.14g`, `/` escaped as `\/`, control characters and
//! DEL as `\u00XX`, bytes >= 0x80 copied as they are, an empty table encodes as `{}`, tables
//! whose keys are all integers >= 1 as arrays (holes become `null`; excessively sparse arrays
//! are an error), other tables as objects in Lua's `next` order. Decoding accepts what Redis's
//! parser accepts with its defaults (including `+1`, hex, `inf` and `nan`) and reports errors
//! with the same texts and character positions.
//!
//! Known gap: nesting deeper than 1000 levels is refused even when `encode_max_depth` /
//! `decode_max_depth` allow more (Redis's own limit there is the Lua C stack, ~2700 levels).

use std::sync::Arc;

use mlua::{LightUserData, Lua, MultiValue, Table, Value};
use parking_lot::Mutex;

use super::vm::{arg_error, check_integer, raise_str, to_number, type_name};

/// Depth beyond which neither encode nor decode recurses, whatever the configuration says.
const HARD_MAX_DEPTH: i64 = 1000;

/// Recursion grows the stack by this much when less than [`STACK_RED_ZONE`] is left, so that
/// deep documents work on small thread stacks (server workers) too.
pub(crate) const STACK_SEGMENT: usize = 1 << 20;
/// See [`STACK_SEGMENT`].
pub(crate) const STACK_RED_ZONE: usize = 64 << 10;

#[derive(Debug, Clone)]
struct Config {
    sparse_convert: bool,
    sparse_ratio: i64,
    sparse_safe: i64,
    encode_max_depth: i64,
    decode_max_depth: i64,
    precision: i64,
    keep_buffer: bool,
    /// 0 off (error), 1 on (`inf`/`nan`), 2 null.
    encode_invalid: i64,
    decode_invalid: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            precision: 14,
            keep_buffer: true,
            encode_invalid: 0,
            decode_invalid: true,
        }
    }
}

/// `cjson.null`: a NULL light userdata, as in Redis.
fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// C's `printf("%.{prec}g", v)`.
pub fn fmt_g(v: f64, prec: usize) -> String {
    let prec = prec.max(1);
    if v.is_nan() {
        return if v.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{:.*e}", prec - 1, v);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let mant = if mant.contains('.') {
            mant.trim_end_matches('0').trim_end_matches('.')
        } else {
            mant
        };
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        let fixed = format!("{v:.decimals$}");
        if fixed.contains('.') {
            fixed
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        } else {
            fixed
        }
    }
}

// ---------------------------------------------------------------------------------------
// Encoding

struct Encoder<'a> {
    lua: &'a Lua,
    cfg: &'a Config,
    out: Vec<u8>,
}

impl Encoder<'_> {
    fn fail(&self, v: &Value, reason: &str) -> mlua::Error {
        raise_str(
            self.lua,
            format_args!("Cannot serialise {}: {reason}", type_name(v)),
        )
    }

    fn number(&mut self, v: &Value, n: f64) -> mlua::Result<()> {
        if n.is_nan() || n.is_infinite() {
            match self.cfg.encode_invalid {
                0 => return Err(self.fail(v, "must not be NaN or Inf")),
                1 if n.is_nan() => {
                    self.out.extend_from_slice(b"nan");
                    return Ok(());
                }
                2 => {
                    self.out.extend_from_slice(b"null");
                    return Ok(());
                }
                _ => {}
            }
        }
        self.out
            .extend_from_slice(fmt_g(n, self.cfg.precision as usize).as_bytes());
        Ok(())
    }

    fn string(&mut self, s: &[u8]) {
        self.out.push(b'"');
        for &c in s {
            match c {
                b'"' => self.out.extend_from_slice(b"\\\""),
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                b'/' => self.out.extend_from_slice(b"\\/"),
                0x08 => self.out.extend_from_slice(b"\\b"),
                b'\t' => self.out.extend_from_slice(b"\\t"),
                b'\n' => self.out.extend_from_slice(b"\\n"),
                0x0c => self.out.extend_from_slice(b"\\f"),
                b'\r' => self.out.extend_from_slice(b"\\r"),
                0..=0x1f | 0x7f => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.out.extend_from_slice(b"\\u00");
                    self.out.push(HEX[(c >> 4) as usize]);
                    self.out.push(HEX[(c & 15) as usize]);
                }
                _ => self.out.push(c),
            }
        }
        self.out.push(b'"');
    }

    /// Lua CJSON's `lua_array_length`: the array length, or `None` for an object.
    fn array_length(&self, t: &Table) -> mlua::Result<Option<i64>> {
        let mut max: i64 = 0;
        let mut items: i64 = 0;
        for pair in t.pairs::<Value, Value>() {
            let (k, _) = pair?;
            let k = match k {
                Value::Integer(i) => i as f64,
                Value::Number(n) => n,
                _ => return Ok(None),
            };
            if k.floor() != k || k < 1.0 {
                return Ok(None);
            }
            // `max = k` stores a double into a C int.
            let ki = super::vm::c_int(k) as i64;
            if k > max as f64 {
                max = ki;
            }
            items += 1;
        }
        let c = self.cfg;
        if c.sparse_ratio > 0 && max > items * c.sparse_ratio && max > c.sparse_safe {
            if !c.sparse_convert {
                return Err(self.fail(&Value::Table(t.clone()), "excessively sparse array"));
            }
            return Ok(None);
        }
        Ok(Some(max))
    }

    fn value(&mut self, v: &Value, depth: i64) -> mlua::Result<()> {
        // Up to 1000 levels of recursion: grow the stack rather than overflow a small one.
        stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || self.value_inner(v, depth))
    }

    fn value_inner(&mut self, v: &Value, depth: i64) -> mlua::Result<()> {
        match v {
            Value::String(s) => self.string(&s.as_bytes()),
            Value::Integer(i) => self.number(v, *i as f64)?,
            Value::Number(n) => self.number(v, *n)?,
            Value::Boolean(b) => self
                .out
                .extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Nil => self.out.extend_from_slice(b"null"),
            Value::LightUserData(p) if p.0.is_null() => self.out.extend_from_slice(b"null"),
            Value::Table(t) => {
                let depth = depth + 1;
                if depth > self.cfg.encode_max_depth.min(HARD_MAX_DEPTH) {
                    return Err(raise_str(
                        self.lua,
                        format_args!("Cannot serialise, excessive nesting ({depth})"),
                    ));
                }
                match self.array_length(t)? {
                    Some(len) if len > 0 => {
                        self.out.push(b'[');
                        for i in 1..=len {
                            if i > 1 {
                                self.out.push(b',');
                            }
                            let item: Value = t.raw_get(i)?;
                            self.value(&item, depth)?;
                        }
                        self.out.push(b']');
                    }
                    _ => {
                        self.out.push(b'{');
                        let mut first = true;
                        for pair in t.pairs::<Value, Value>() {
                            let (k, item) = pair?;
                            if !first {
                                self.out.push(b',');
                            }
                            first = false;
                            match &k {
                                Value::Integer(_) | Value::Number(_) => {
                                    self.out.push(b'"');
                                    let n = to_number(self.lua, &k).unwrap_or(0.0);
                                    self.number(&k, n)?;
                                    self.out.extend_from_slice(b"\":");
                                }
                                Value::String(s) => {
                                    self.string(&s.as_bytes());
                                    self.out.push(b':');
                                }
                                other => {
                                    return Err(
                                        self.fail(other, "table key must be a number or string")
                                    );
                                }
                            }
                            self.value(&item, depth)?;
                        }
                        self.out.push(b'}');
                    }
                }
            }
            other => return Err(self.fail(other, "type not supported")),
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Decoding

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    fn name(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(e) => e,
        }
    }
}

struct Parser<'a> {
    lua: &'a Lua,
    cfg: &'a Config,
    data: &'a [u8],
    pos: usize,
    depth: i64,
    /// The decoded text of the last string token.
    text: Vec<u8>,
}

/// C's `strtod` on the front of `s` (decimal, hex, inf, nan): the value and how many bytes it
/// used, or `None` when no number starts there.
pub fn strtod_prefix(s: &[u8]) -> Option<(f64, usize)> {
    let mut i = 0;
    let neg = match s.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let sign = if neg { -1.0 } else { 1.0 };
    let rest = &s[i..];
    let lower = |n: usize| -> Vec<u8> { rest.iter().take(n).map(u8::to_ascii_lowercase).collect() };
    if lower(3) == b"inf" {
        let used = if lower(8) == b"infinity" { 8 } else { 3 };
        return Some((sign * f64::INFINITY, i + used));
    }
    if lower(3) == b"nan" {
        let mut used = 3;
        if rest.get(3) == Some(&b'(') {
            let close = rest[4..]
                .iter()
                .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'));
            if let Some(p) = close
                && rest[4 + p] == b')'
            {
                used = 4 + p + 1;
            }
        }
        return Some((f64::NAN, i + used));
    }
    if rest.len() >= 2
        && rest[0] == b'0'
        && (rest[1] | 0x20) == b'x'
        && let Some((v, used)) = hex_float(&rest[2..])
    {
        return Some((sign * v, i + 2 + used));
    }
    let mut j = 0;
    let mut digits = 0;
    while rest.get(j).is_some_and(u8::is_ascii_digit) {
        j += 1;
        digits += 1;
    }
    if rest.get(j) == Some(&b'.') {
        let mut k = j + 1;
        while rest.get(k).is_some_and(u8::is_ascii_digit) {
            k += 1;
            digits += 1;
        }
        if digits > 0 {
            j = k;
        }
    }
    if digits == 0 {
        return None;
    }
    if matches!(rest.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(rest.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        if rest.get(k).is_some_and(u8::is_ascii_digit) {
            while rest.get(k).is_some_and(u8::is_ascii_digit) {
                k += 1;
            }
            j = k;
        }
    }
    let text = std::str::from_utf8(&rest[..j]).ok()?;
    let v: f64 = text.parse().ok()?;
    Some((sign * v, i + j))
}

/// A hex float after `0x`: digits, optional fraction, optional binary exponent.
fn hex_float(s: &[u8]) -> Option<(f64, usize)> {
    let mut j = 0;
    let mut mant = 0f64;
    let mut any = false;
    let mut scale = 0i32;
    while let Some(d) = s.get(j).and_then(|c| (*c as char).to_digit(16)) {
        mant = mant * 16.0 + d as f64;
        any = true;
        j += 1;
    }
    if s.get(j) == Some(&b'.') {
        let mut k = j + 1;
        while let Some(d) = s.get(k).and_then(|c| (*c as char).to_digit(16)) {
            mant = mant * 16.0 + d as f64;
            scale -= 4;
            any = true;
            k += 1;
        }
        if any {
            j = k;
        }
    }
    if !any {
        return None;
    }
    if matches!(s.get(j), Some(b'p' | b'P')) {
        let mut k = j + 1;
        let neg = match s.get(k) {
            Some(b'-') => {
                k += 1;
                true
            }
            Some(b'+') => {
                k += 1;
                false
            }
            _ => false,
        };
        if s.get(k).is_some_and(u8::is_ascii_digit) {
            let mut e: i32 = 0;
            while let Some(d) = s.get(k).filter(|c| c.is_ascii_digit()) {
                e = e.saturating_mul(10).saturating_add((d - b'0') as i32);
                k += 1;
            }
            scale = scale.saturating_add(if neg { -e } else { e });
            j = k;
        }
    }
    Some((mant * 2f64.powi(scale), j))
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        // Lua strings end with a NUL the C parser stops at.
        self.data.get(i).copied().unwrap_or(0)
    }

    /// Lua CJSON's `json_is_invalid_number`.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        } else if c <= b'9' {
            return false;
        }
        let word: Vec<u8> = (0..3)
            .map(|k| self.at(p + k).to_ascii_lowercase())
            .collect();
        word == b"inf" || word == b"nan"
    }

    fn number(&mut self) -> Tok {
        match strtod_prefix(&self.data[self.pos..]) {
            Some((v, used)) => {
                self.pos += used;
                Tok::Num(v)
            }
            None => Tok::Error("invalid number"),
        }
    }

    /// The next token and its (0-based) position.
    fn next(&mut self) -> (Tok, usize) {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let start = self.pos;
        let c = self.at(self.pos);
        let single = match c {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b':' => Some(Tok::Colon),
            b',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(t) = single {
            self.pos += 1;
            return (t, start);
        }
        if c == 0 {
            return (Tok::End, start);
        }
        let rest = &self.data[self.pos..];
        let tok = match c {
            b'"' => return self.string(start),
            b'-' | b'0'..=b'9' => {
                if !self.cfg.decode_invalid && self.is_invalid_number() {
                    return (Tok::Error("invalid number"), self.pos);
                }
                self.number()
            }
            b't' | b'f' | b'n' | b'i' | b'I' | b'N' | b'+' => {
                if rest.starts_with(b"true") {
                    self.pos += 4;
                    Tok::Bool(true)
                } else if rest.starts_with(b"false") {
                    self.pos += 5;
                    Tok::Bool(false)
                } else if rest.starts_with(b"null") {
                    self.pos += 4;
                    Tok::Null
                } else if self.cfg.decode_invalid && self.is_invalid_number() {
                    self.number()
                } else {
                    Tok::Error("invalid token")
                }
            }
            _ => Tok::Error("invalid token"),
        };
        (tok, start)
    }

    fn string(&mut self, start: usize) -> (Tok, usize) {
        self.pos += 1;
        self.text.clear();
        loop {
            let c = self.at(self.pos);
            if c == b'"' {
                break;
            }
            if c == 0 {
                return (Tok::Error("unexpected end of string"), self.pos);
            }
            if c == b'\\' {
                let e = self.at(self.pos + 1);
                let out = match e {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'u' => {
                        if self.unicode_escape() {
                            continue;
                        }
                        return (Tok::Error("invalid unicode escape code"), self.pos);
                    }
                    _ => return (Tok::Error("invalid escape code"), self.pos),
                };
                self.text.push(out);
                self.pos += 2;
                continue;
            }
            self.text.push(c);
            self.pos += 1;
        }
        self.pos += 1;
        let _ = start;
        (Tok::Str, start)
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0;
        for k in 0..4 {
            v = v * 16 + (self.at(at + k) as char).to_digit(16)?;
        }
        Some(v)
    }

    /// `\uXXXX` (and surrogate pairs) to UTF-8; false on a bad escape.
    fn unicode_escape(&mut self) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let mut buf = [0u8; 4];
        let n = match cp {
            0..=0x7F => {
                buf[0] = cp as u8;
                1
            }
            0x80..=0x7FF => {
                buf[0] = 0xC0 | (cp >> 6) as u8;
                buf[1] = 0x80 | (cp & 0x3F) as u8;
                2
            }
            0x800..=0xFFFF => {
                buf[0] = 0xE0 | (cp >> 12) as u8;
                buf[1] = 0x80 | ((cp >> 6) & 0x3F) as u8;
                buf[2] = 0x80 | (cp & 0x3F) as u8;
                3
            }
            _ => {
                buf[0] = 0xF0 | (cp >> 18) as u8;
                buf[1] = 0x80 | ((cp >> 12) & 0x3F) as u8;
                buf[2] = 0x80 | ((cp >> 6) & 0x3F) as u8;
                buf[3] = 0x80 | (cp & 0x3F) as u8;
                4
            }
        };
        self.text.extend_from_slice(&buf[..n]);
        self.pos += len;
        true
    }

    fn expected(&self, what: &str, tok: (Tok, usize)) -> mlua::Error {
        raise_str(
            self.lua,
            format_args!(
                "Expected {what} but found {} at character {}",
                tok.0.name(),
                tok.1 + 1
            ),
        )
    }

    fn descend(&mut self) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth <= self.cfg.decode_max_depth.min(HARD_MAX_DEPTH) {
            return Ok(());
        }
        Err(raise_str(
            self.lua,
            format_args!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.pos
            ),
        ))
    }

    fn value(&mut self, tok: (Tok, usize)) -> mlua::Result<Value> {
        stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || self.value_inner(tok))
    }

    fn value_inner(&mut self, tok: (Tok, usize)) -> mlua::Result<Value> {
        Ok(match tok.0 {
            Tok::Str => Value::String(self.lua.create_string(&self.text)?),
            Tok::Num(n) => Value::Number(n),
            Tok::Bool(b) => Value::Boolean(b),
            Tok::Null => null(),
            Tok::ObjBegin => {
                self.descend()?;
                let t = self.lua.create_table()?;
                let mut tok = self.next();
                if tok.0 != Tok::ObjEnd {
                    loop {
                        if tok.0 != Tok::Str {
                            return Err(self.expected("object key string", tok));
                        }
                        let key = self.lua.create_string(&self.text)?;
                        let colon = self.next();
                        if colon.0 != Tok::Colon {
                            return Err(self.expected("colon", colon));
                        }
                        let v = self.next();
                        let v = self.value(v)?;
                        t.raw_set(key, v)?;
                        let sep = self.next();
                        if sep.0 == Tok::ObjEnd {
                            break;
                        }
                        if sep.0 != Tok::Comma {
                            return Err(self.expected("comma or object end", sep));
                        }
                        tok = self.next();
                    }
                }
                self.depth -= 1;
                Value::Table(t)
            }
            Tok::ArrBegin => {
                self.descend()?;
                let t = self.lua.create_table()?;
                let mut tok = self.next();
                if tok.0 != Tok::ArrEnd {
                    let mut i = 1;
                    loop {
                        let v = self.value(tok)?;
                        t.raw_set(i, v)?;
                        i += 1;
                        let sep = self.next();
                        if sep.0 == Tok::ArrEnd {
                            break;
                        }
                        if sep.0 != Tok::Comma {
                            return Err(self.expected("comma or array end", sep));
                        }
                        tok = self.next();
                    }
                }
                self.depth -= 1;
                Value::Table(t)
            }
            _ => return Err(self.expected("value", tok)),
        })
    }
}

// ---------------------------------------------------------------------------------------
// The module

fn expect_one(lua: &Lua, args: &MultiValue) -> mlua::Result<()> {
    if args.len() != 1 {
        return Err(arg_error(lua, 1, "expected 1 argument"));
    }
    Ok(())
}

/// Configuration functions: at most `max` arguments, nil means "keep".
fn config_args(lua: &Lua, args: &MultiValue, max: usize) -> mlua::Result<()> {
    if args.len() > max {
        return Err(arg_error(lua, max + 1, "found too many arguments"));
    }
    Ok(())
}

fn int_option(
    lua: &Lua,
    args: &MultiValue,
    n: usize,
    setting: &mut i64,
    min: i64,
    max: i64,
) -> mlua::Result<Value> {
    if !matches!(args.get(n - 1), None | Some(Value::Nil)) {
        let v = check_integer(lua, args, n)? as i32 as i64;
        if !(min..=max).contains(&v) {
            return Err(arg_error(
                lua,
                1,
                format_args!("expected integer between {min} and {max}"),
            ));
        }
        *setting = v;
    }
    Ok(Value::Number(*setting as f64))
}

/// `json_enum_option`: booleans, or one of `options` by name (`luaL_checkoption`).
fn enum_option(
    lua: &Lua,
    args: &MultiValue,
    n: usize,
    setting: &mut i64,
    options: &[&str],
) -> mlua::Result<Value> {
    match args.get(n - 1) {
        None | Some(Value::Nil) => {}
        Some(Value::Boolean(b)) => *setting = *b as i64,
        Some(v) => {
            let s = match v {
                Value::String(s) => Some(s.as_bytes().to_vec()),
                Value::Integer(_) | Value::Number(_) => {
                    lua.coerce_string(v.clone())?.map(|s| s.as_bytes().to_vec())
                }
                _ => None,
            };
            let Some(s) = s else {
                return Err(arg_error(
                    lua,
                    n,
                    format_args!("string expected, got {}", type_name(v)),
                ));
            };
            match options.iter().position(|o| o.as_bytes() == s.as_slice()) {
                Some(i) => *setting = i as i64,
                None => {
                    return Err(arg_error(
                        lua,
                        n,
                        format_args!("invalid option '{}'", String::from_utf8_lossy(&s)),
                    ));
                }
            }
        }
    }
    if *setting == 0 || *setting == 1 {
        Ok(Value::Boolean(*setting == 1))
    } else {
        Ok(Value::String(
            lua.create_string(options[*setting as usize])?,
        ))
    }
}

/// A `cjson` table with its own configuration (`cjson.new` makes another).
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let cfg = Arc::new(Mutex::new(Config::default()));
    let t = lua.create_table()?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    t.set("null", null())?;

    let c = cfg.clone();
    t.set(
        "encode",
        lua.create_function(move |lua, args: MultiValue| {
            expect_one(lua, &args)?;
            let cfg = c.lock().clone();
            let mut e = Encoder {
                lua,
                cfg: &cfg,
                out: Vec::new(),
            };
            e.value(&args[0], 0)?;
            lua.create_string(&e.out)
        })?,
    )?;

    let c = cfg.clone();
    t.set(
        "decode",
        lua.create_function(move |lua, args: MultiValue| {
            expect_one(lua, &args)?;
            let s = match &args[0] {
                v @ (Value::String(_) | Value::Integer(_) | Value::Number(_)) => {
                    lua.coerce_string(v.clone())?
                }
                _ => None,
            };
            let Some(s) = s else {
                return Err(arg_error(
                    lua,
                    1,
                    format_args!("string expected, got {}", type_name(&args[0])),
                ));
            };
            let data = s.as_bytes().to_vec();
            if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
                return Err(raise_str(
                    lua,
                    "JSON parser does not support UTF-16 or UTF-32",
                ));
            }
            let cfg = c.lock().clone();
            let mut p = Parser {
                lua,
                cfg: &cfg,
                data: &data,
                pos: 0,
                depth: 0,
                text: Vec::new(),
            };
            let tok = p.next();
            let v = p.value(tok)?;
            let end = p.next();
            if end.0 != Tok::End {
                return Err(p.expected("the end", end));
            }
            Ok(v)
        })?,
    )?;

    let c = cfg.clone();
    t.set(
        "encode_sparse_array",
        lua.create_function(move |lua, args: MultiValue| {
            config_args(lua, &args, 3)?;
            let mut cfg = c.lock();
            let mut convert = cfg.sparse_convert as i64;
            let a = enum_option(lua, &args, 1, &mut convert, &["off", "on"])?;
            cfg.sparse_convert = convert == 1;
            let b = int_option(lua, &args, 2, &mut cfg.sparse_ratio, 0, i32::MAX as i64)?;
            let d = int_option(lua, &args, 3, &mut cfg.sparse_safe, 0, i32::MAX as i64)?;
            Ok(MultiValue::from_vec(vec![a, b, d]))
        })?,
    )?;
    type IntField = fn(&mut Config) -> &mut i64;
    let ints: [(&str, IntField, i64, i64); 3] = [
        (
            "encode_max_depth",
            |c| &mut c.encode_max_depth,
            1,
            i32::MAX as i64,
        ),
        (
            "decode_max_depth",
            |c| &mut c.decode_max_depth,
            1,
            i32::MAX as i64,
        ),
        ("encode_number_precision", |c| &mut c.precision, 1, 14),
    ];
    for (name, field, min, max) in ints {
        let c = cfg.clone();
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                config_args(lua, &args, 1)?;
                let mut cfg = c.lock();
                int_option(lua, &args, 1, field(&mut cfg), min, max)
            })?,
        )?;
    }
    let c = cfg.clone();
    t.set(
        "encode_keep_buffer",
        lua.create_function(move |lua, args: MultiValue| {
            config_args(lua, &args, 1)?;
            let mut cfg = c.lock();
            let mut v = cfg.keep_buffer as i64;
            let r = enum_option(lua, &args, 1, &mut v, &["off", "on"])?;
            cfg.keep_buffer = v == 1;
            Ok(r)
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "encode_invalid_numbers",
        lua.create_function(move |lua, args: MultiValue| {
            config_args(lua, &args, 1)?;
            let mut cfg = c.lock();
            enum_option(
                lua,
                &args,
                1,
                &mut cfg.encode_invalid,
                &["off", "on", "null"],
            )
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "decode_invalid_numbers",
        lua.create_function(move |lua, args: MultiValue| {
            config_args(lua, &args, 1)?;
            let mut cfg = c.lock();
            let mut v = cfg.decode_invalid as i64;
            let r = enum_option(lua, &args, 1, &mut v, &["off", "on"])?;
            cfg.decode_invalid = v == 1;
            Ok(r)
        })?,
    )?;
    t.set("new", lua.create_function(|lua, ()| module(lua))?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_g() {
        assert_eq!(fmt_g(0.1, 14), "0.1");
        assert_eq!(fmt_g(1.5, 14), "1.5");
        assert_eq!(fmt_g(3.0, 14), "3");
        assert_eq!(fmt_g(1e300, 14), "1e+300");
        assert_eq!(fmt_g(123_456_789_012_345_678.0, 14), "1.2345678901235e+17");
        assert_eq!(fmt_g(0.0001, 14), "0.0001");
        assert_eq!(fmt_g(0.00001, 14), "1e-05");
        assert_eq!(fmt_g(-0.0, 14), "-0");
        assert_eq!(fmt_g(100.0, 1), "1e+02");
        assert_eq!(fmt_g(12345678901234.0, 14), "12345678901234");
        assert_eq!(fmt_g(123456789012345.0, 14), "1.2345678901234e+14");
    }

    #[test]
    fn strtod_prefixes() {
        assert_eq!(strtod_prefix(b"12abc"), Some((12.0, 2)));
        assert_eq!(strtod_prefix(b"-1.5e3,"), Some((-1500.0, 6)));
        assert_eq!(strtod_prefix(b"1e"), Some((1.0, 1)));
        assert_eq!(strtod_prefix(b"+1"), Some((1.0, 2)));
        assert_eq!(strtod_prefix(b"0x10"), Some((16.0, 4)));
        assert_eq!(strtod_prefix(b"0x"), Some((0.0, 1)));
        assert_eq!(strtod_prefix(b".5"), Some((0.5, 2)));
        assert_eq!(strtod_prefix(b"-"), None);
        assert!(strtod_prefix(b"nan").unwrap().0.is_nan());
        assert_eq!(strtod_prefix(b"-Infinity"), Some((f64::NEG_INFINITY, 9)));
    }
}
