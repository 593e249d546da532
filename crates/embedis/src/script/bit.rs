//! The `bit` module (LuaBitOp 1.0.2, as bundled with Redis): 32-bit operations on Lua numbers.
//!
//! Numbers are converted to 32 bits the way LuaBitOp does on Lua 5.1 with doubles: add 2^52+2^51
//! and keep the low 32 bits of the result's representation (round to nearest, wrap modulo
//! 2^32). Results are signed 32-bit numbers. A non-number argument (numeric strings are
//! numbers) is `bad argument #n to 'f' (number expected, got T)`.

use mlua::{Lua, MultiValue, Table};

use super::vm::{arg_error, arg_type, to_number};

/// LuaBitOp's `barg`.
fn barg(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<u32> {
    let d = args.get(n - 1).and_then(|v| to_number(lua, v));
    match d {
        Some(d) => Ok((d + 6_755_399_441_055_744.0).to_bits() as u32),
        None => Err(arg_error(
            lua,
            n,
            format_args!("number expected, got {}", arg_type(args, n)),
        )),
    }
}

fn ret(b: u32) -> f64 {
    b as i32 as f64
}

/// Converts a number to a 32-bit integer the way the module does.
#[cfg(test)]
fn tobit(d: f64) -> i32 {
    (d + 6_755_399_441_055_744.0).to_bits() as u32 as i32
}

/// The `bit` table.
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "tobit",
        lua.create_function(|lua, a: MultiValue| Ok(ret(barg(lua, &a, 1)?)))?,
    )?;
    t.set(
        "bnot",
        lua.create_function(|lua, a: MultiValue| Ok(ret(!barg(lua, &a, 1)?)))?,
    )?;
    t.set(
        "bswap",
        lua.create_function(|lua, a: MultiValue| Ok(ret(barg(lua, &a, 1)?.swap_bytes())))?,
    )?;
    type Op = fn(u32, u32) -> u32;
    let folds: [(&str, Op); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, op) in folds {
        t.set(
            name,
            lua.create_function(move |lua, a: MultiValue| {
                let mut b = barg(lua, &a, 1)?;
                // Like LuaBitOp, from the last argument down to the second.
                for i in (2..=a.len()).rev() {
                    b = op(b, barg(lua, &a, i)?);
                }
                Ok(ret(b))
            })?,
        )?;
    }
    let shifts: [(&str, Op); 5] = [
        ("lshift", |b, n| b << n),
        ("rshift", |b, n| b >> n),
        ("arshift", |b, n| ((b as i32) >> n) as u32),
        ("rol", |b, n| b.rotate_left(n)),
        ("ror", |b, n| b.rotate_right(n)),
    ];
    for (name, op) in shifts {
        t.set(
            name,
            lua.create_function(move |lua, a: MultiValue| {
                let b = barg(lua, &a, 1)?;
                let n = barg(lua, &a, 2)? & 31;
                Ok(ret(op(b, n)))
            })?,
        )?;
    }
    t.set(
        "tohex",
        lua.create_function(|lua, a: MultiValue| {
            let mut b = barg(lua, &a, 1)?;
            let mut n = if a.len() < 2 {
                8
            } else {
                barg(lua, &a, 2)? as i32
            };
            let digits: &[u8; 16] = if n < 0 {
                n = n.wrapping_neg();
                b"0123456789ABCDEF"
            } else {
                b"0123456789abcdef"
            };
            // `-INT_MIN` stays negative in C and prints nothing; clamp like the C code.
            let n = n.clamp(0, 8) as usize;
            let mut buf = [0u8; 8];
            for slot in buf[..n].iter_mut().rev() {
                *slot = digits[(b & 15) as usize];
                b >>= 4;
            }
            lua.create_string(&buf[..n])
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tobit_wraps_and_rounds() {
        assert_eq!(tobit(1.0), 1);
        assert_eq!(tobit(4_294_967_295.0), -1);
        assert_eq!(tobit(4_294_967_296.0), 0);
        assert_eq!(tobit(2_147_483_648.0), i32::MIN);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(1.5), 2);
        assert_eq!(tobit(2.5), 2);
    }
}
