//! The `struct` module (Roberto Ierusalimschy's struct library as bundled with Redis 7.0):
//! `struct.pack`, `struct.unpack` and `struct.size` over binary strings.
//!
//! Formats: `>` big endian, `<` little endian, `![n]` alignment, `x` padding, `b/B` byte,
//! `h/H` short, `l/L` long, `T` size_t, `i/In` int of n bytes (at most 32), `cn` n chars (`c0`:
//! the whole string when packing, the previous number when unpacking), `s` NUL-terminated
//! string, `f` float, `d` double, blanks ignored. Sizes and alignment are those of x86-64 Linux,
//! where Redis runs, and native order is little endian.

use mlua::{Lua, MultiValue, Value};

use super::vm::{arg_error, arg_type, c_i64, check_integer, check_number, raise_str, to_number};

const MAXINTSIZE: usize = 32;
/// Largest alignment `!` gives without a number: `max(alignof(double), sizeof(int))`.
const MAXALIGN: usize = 8;

#[derive(Clone, Copy)]
struct Header {
    big: bool,
    align: usize,
}

const DEFAULT: Header = Header {
    big: false,
    align: 1,
};

/// A format string and the position in it.
struct Fmt<'a> {
    s: &'a [u8],
    i: usize,
}

impl Fmt<'_> {
    fn next(&mut self) -> Option<u8> {
        let c = *self.s.get(self.i)?;
        self.i += 1;
        Some(c)
    }

    /// Redis's `getnum`: digits after an option, or `default`.
    fn num(&mut self, lua: &Lua, default: usize) -> mlua::Result<usize> {
        if !self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut a: i32 = 0;
        while let Some(&d) = self.s.get(self.i).filter(|c| c.is_ascii_digit()) {
            let d = (d - b'0') as i32;
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err(raise_str(lua, "integral size overflow"));
            }
            a = a * 10 + d;
            self.i += 1;
        }
        Ok(a as usize)
    }
}

/// The size of option `opt` (0 for options without one).
fn optsize(lua: &Lua, opt: u8, fmt: &mut Fmt<'_>) -> mlua::Result<usize> {
    Ok(match opt {
        b'B' | b'b' | b'x' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'c' => fmt.num(lua, 1)?,
        b'i' | b'I' => {
            let sz = fmt.num(lua, 4)?;
            if sz > MAXINTSIZE {
                return Err(raise_str(
                    lua,
                    format_args!("integral size {sz} is larger than limit of {MAXINTSIZE}"),
                ));
            }
            sz
        }
        _ => 0,
    })
}

/// Padding before an element of `size` at `len`.
fn toalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    size.wrapping_sub(len & size.wrapping_sub(1)) & size.wrapping_sub(1)
}

/// Endianness, alignment and blanks; anything else is an invalid option.
fn control(lua: &Lua, opt: u8, fmt: &mut Fmt<'_>, h: &mut Header) -> mlua::Result<()> {
    match opt {
        b' ' => {}
        b'>' => h.big = true,
        b'<' => h.big = false,
        b'!' => {
            let a = fmt.num(lua, MAXALIGN)?;
            if a == 0 || !a.is_power_of_two() {
                return Err(raise_str(
                    lua,
                    format_args!("alignment {a} is not a power of 2"),
                ));
            }
            h.align = a;
        }
        _ => {
            return Err(arg_error(
                lua,
                1,
                format_args!("invalid format option '{}'", opt as char),
            ));
        }
    }
    Ok(())
}

/// `luaL_checkstring(L, 1)`, cut at a NUL like the C string it becomes.
fn format_arg(lua: &Lua, args: &MultiValue) -> mlua::Result<Vec<u8>> {
    let s = match args.front() {
        Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => {
            lua.coerce_string(v.clone())?
        }
        _ => None,
    };
    match s {
        Some(s) => {
            let b = s.as_bytes();
            Ok(b[..memchr::memchr(0, &b).unwrap_or(b.len())].to_vec())
        }
        None => Err(arg_error(
            lua,
            1,
            format_args!("string expected, got {}", arg_type(args, 1)),
        )),
    }
}

/// `luaL_checklstring` for argument `n` of pack (a missing argument right after the given
/// ones reads as the `nil` that pack pushes as a marker, as in the C code).
fn string_arg(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<Vec<u8>> {
    if let Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) = args.get(n - 1)
        && let Some(s) = lua.coerce_string(v.clone())?
    {
        return Ok(s.as_bytes().to_vec());
    }
    Err(arg_error(
        lua,
        n,
        format_args!("string expected, got {}", pack_arg_type(args, n)),
    ))
}

fn pack_arg_type(args: &MultiValue, n: usize) -> &'static str {
    if n == args.len() + 1 {
        "nil"
    } else {
        arg_type(args, n)
    }
}

fn pack_number(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<f64> {
    if n == args.len() + 1 {
        return Err(arg_error(lua, n, "number expected, got nil"));
    }
    check_number(lua, args, n)
}

fn put_integer(out: &mut Vec<u8>, n: f64, big: bool, size: usize) {
    let mut value: u64 = if n < 0.0 {
        c_i64(n) as u64
    } else if n < 18_446_744_073_709_551_616.0 {
        n as u64
    } else {
        0
    };
    let mut buf = [0u8; MAXINTSIZE];
    for i in 0..size {
        let slot = if big { size - 1 - i } else { i };
        buf[slot] = (value & 0xff) as u8;
        value >>= 8;
    }
    out.extend_from_slice(&buf[..size]);
}

fn get_integer(data: &[u8], big: bool, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    for i in 0..size {
        let b = if big { data[i] } else { data[size - 1 - i] };
        l = (l << 8) | b as u64;
    }
    if !signed {
        return l as f64;
    }
    let mask = (!0u64).wrapping_shl((size * 8).wrapping_sub(1) as u32);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn pack(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::LuaString> {
    let fmt_bytes = format_arg(lua, &args)?;
    let mut fmt = Fmt {
        s: &fmt_bytes,
        i: 0,
    };
    let mut h = DEFAULT;
    let mut arg = 2;
    let mut out = Vec::new();
    while let Some(opt) = fmt.next() {
        let mut size = optsize(lua, opt, &mut fmt)?;
        let pad = toalign(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = pack_number(lua, &args, arg)?;
                arg += 1;
                put_integer(&mut out, n, h.big, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = pack_number(lua, &args, arg)? as f32;
                arg += 1;
                let bytes = if h.big {
                    f.to_be_bytes()
                } else {
                    f.to_le_bytes()
                };
                out.extend_from_slice(&bytes);
            }
            b'd' => {
                let d = pack_number(lua, &args, arg)?;
                arg += 1;
                let bytes = if h.big {
                    d.to_be_bytes()
                } else {
                    d.to_le_bytes()
                };
                out.extend_from_slice(&bytes);
            }
            b'c' | b's' => {
                let s = string_arg(lua, &args, arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(arg_error(lua, arg, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => control(lua, opt, &mut fmt, &mut h)?,
        }
    }
    lua.create_string(&out)
}

fn unpack(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let fmt_bytes = format_arg(lua, &args)?;
    let data = match args.get(1) {
        Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => {
            lua.coerce_string(v.clone())?.map(|s| s.as_bytes().to_vec())
        }
        _ => None,
    };
    let Some(data) = data else {
        return Err(arg_error(
            lua,
            2,
            format_args!("string expected, got {}", arg_type(&args, 2)),
        ));
    };
    let ld = data.len();
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1,
        Some(_) => check_integer(lua, &args, 3)?,
    };
    if start == 0 {
        return Err(arg_error(lua, 3, "offset must be 1 or greater"));
    }
    // A negative offset is a huge size_t in C: always too short.
    let mut pos = (start as u64 as usize).wrapping_sub(1);
    let mut fmt = Fmt {
        s: &fmt_bytes,
        i: 0,
    };
    let mut h = DEFAULT;
    let mut out: Vec<Value> = Vec::new();
    let too_short = |lua: &Lua| arg_error(lua, 2, "data string too short");
    while let Some(opt) = fmt.next() {
        let mut size = optsize(lua, opt, &mut fmt)?;
        pos = pos.wrapping_add(toalign(pos, &h, opt, size));
        if !(size <= ld && pos <= ld - size) {
            return Err(too_short(lua));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                out.push(Value::Number(get_integer(
                    &data[pos..pos + size],
                    h.big,
                    signed,
                    size,
                )));
            }
            b'x' => {}
            b'f' => {
                let mut b = [0u8; 4];
                b.copy_from_slice(&data[pos..pos + 4]);
                let f = if h.big {
                    f32::from_be_bytes(b)
                } else {
                    f32::from_le_bytes(b)
                };
                out.push(Value::Number(f as f64));
            }
            b'd' => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&data[pos..pos + 8]);
                let d = if h.big {
                    f64::from_be_bytes(b)
                } else {
                    f64::from_le_bytes(b)
                };
                out.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    let prev = out.last().and_then(|v| to_number(lua, v));
                    let Some(prev) = prev else {
                        return Err(raise_str(lua, "format 'c0' needs a previous size"));
                    };
                    out.pop();
                    // (size_t) of a double: negative or huge sizes fail the check below.
                    size = if prev >= 0.0 && prev < usize::MAX as f64 {
                        prev as usize
                    } else {
                        usize::MAX
                    };
                    if !(size <= ld && pos <= ld - size) {
                        return Err(too_short(lua));
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(end) = memchr::memchr(0, &data[pos..]) else {
                    return Err(raise_str(lua, "unfinished string in data"));
                };
                size = end + 1;
                out.push(Value::String(lua.create_string(&data[pos..pos + end])?));
            }
            _ => control(lua, opt, &mut fmt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    out.push(Value::Number(pos.wrapping_add(1) as f64));
    Ok(MultiValue::from_vec(out))
}

fn size(lua: &Lua, args: MultiValue) -> mlua::Result<f64> {
    let fmt_bytes = format_arg(lua, &args)?;
    let mut fmt = Fmt {
        s: &fmt_bytes,
        i: 0,
    };
    let mut h = DEFAULT;
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next() {
        let size = optsize(lua, opt, &mut fmt)?;
        pos = pos.wrapping_add(toalign(pos, &h, opt, size));
        if opt == b's' {
            return Err(arg_error(lua, 1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(arg_error(lua, 1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            control(lua, opt, &mut fmt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(pos as f64)
}

/// The `struct` table.
pub fn module(lua: &Lua) -> mlua::Result<mlua::Table> {
    let t = lua.create_table()?;
    t.set("pack", lua.create_function(pack)?)?;
    t.set("unpack", lua.create_function(unpack)?)?;
    t.set("size", lua.create_function(size)?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_and_sign_extend() {
        let mut out = Vec::new();
        put_integer(&mut out, -2.0, false, 4);
        assert_eq!(out, [0xfe, 0xff, 0xff, 0xff]);
        assert_eq!(get_integer(&out, false, true, 4), -2.0);
        assert_eq!(get_integer(&out, false, false, 4), 4_294_967_294.0);
        let mut out = Vec::new();
        put_integer(&mut out, 513.0, true, 2);
        assert_eq!(out, [2, 1]);
        // Wider than 8 bytes: the value's bytes, then zeros (a C unsigned long shifted out).
        let mut out = Vec::new();
        put_integer(&mut out, -1.0, false, 12);
        assert_eq!(
            out,
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]
        );
    }

    #[test]
    fn alignment() {
        let h = Header {
            big: false,
            align: 8,
        };
        assert_eq!(toalign(1, &h, b'd', 8), 7);
        assert_eq!(toalign(16, &h, b'i', 3), 2);
        assert_eq!(toalign(3, &DEFAULT, b'd', 8), 0);
    }
}
