//! Numbers as Redis reads and writes them: strict integer parsing (`string2ll`), float parsing
//! (`strtod` with Redis's extra checks) and `%.17g` double formatting; [`long_double`] has the
//! 80-bit `long double` arithmetic INCRBYFLOAT needs.

pub mod long_double;

pub use long_double::LongDouble;

/// Parses a signed 64-bit integer the way Redis's `string2ll` does: no spaces, no `+`, no
/// leading zeros, no `-0`, nothing after the digits.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    // Accumulate as a negative number so that i64::MIN parses.
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_sub((c - b'0') as i64)?;
    }
    if neg { Some(v) } else { v.checked_neg() }
}

/// Parses an unsigned 64-bit integer with the same strictness as [`parse_i64`].
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s == b"0" {
        return Some(0);
    }
    match s.first() {
        Some(b'1'..=b'9') if s.len() <= 20 => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

/// Parses a double the way Redis's `string2d` does: `strtod` syntax (`1e5`, `.5`, `inf`,
/// `-inf`), no leading space, no trailing bytes, no NaN, and out-of-range values (overflow to
/// infinity, underflow to zero) rejected.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() > 5 * 1024 || s[0].is_ascii_whitespace() {
        return None;
    }
    if is_hex_float(s) {
        // Rust has no hex float syntax; strtod (and so Redis) accepts `0x1p3`.
        let r = strtod(s);
        let whole = r.consumed == s.len() && !r.range_error && !r.value.is_nan();
        return whole.then_some(r.value);
    }
    let text = std::str::from_utf8(s).ok()?;
    // Rust accepts a few spellings strtod does not (and vice versa for hex floats, which Redis
    // users never send); both accept inf/infinity in any case.
    if text.contains('_') {
        return None;
    }
    let v: f64 = text.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    if v.is_infinite() && !lower.contains("inf") {
        return None; // ERANGE overflow
    }
    if v == 0.0 {
        // ERANGE underflow: a non-zero mantissa that rounded to zero.
        let mantissa = lower.split('e').next().unwrap_or("");
        if mantissa.bytes().any(|c| (b'1'..=b'9').contains(&c)) {
            return None;
        }
    }
    Some(v)
}

/// Whether `s` (after an optional sign) starts with `0x`/`0X`.
fn is_hex_float(s: &[u8]) -> bool {
    let body = match s.first() {
        Some(b'+' | b'-') => &s[1..],
        _ => s,
    };
    body.len() >= 2 && body[0] == b'0' && (body[1] | 0x20) == b'x'
}

/// What C's `strtod` reads from the start of a string (see [`strtod`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Strtod {
    /// The value read (0 when nothing was read; ±inf on overflow; NaN for `nan`).
    pub value: f64,
    /// Bytes consumed, leading whitespace included; 0 when no number was read.
    pub consumed: usize,
    /// Whether strtod would set ERANGE for overflow (finite text, infinite value) or for a
    /// non-zero number that rounded to zero. (glibc also flags results that are subnormal;
    /// nothing in Redis looks at that case, so it is not reported.)
    pub range_error: bool,
}

/// Reads a double from the start of `s` like glibc's `strtod`: leading whitespace, sign,
/// decimal or hexadecimal (`0x1.8p3`) notation, `inf`/`infinity`/`nan[(...)]` in any case,
/// correctly rounded. Redis parses score ranges (`ZRANGEBYSCORE`) with plain `strtod`, so
/// they accept what [`parse_f64`] refuses (leading spaces, `1e400`, the empty string).
pub fn strtod(s: &[u8]) -> Strtod {
    let none = Strtod {
        value: 0.0,
        consumed: 0,
        range_error: false,
    };
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    while matches!(at(i), b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let start = i;
    let neg = at(i) == b'-';
    if matches!(at(i), b'+' | b'-') {
        i += 1;
    }
    let sign = if neg { -1.0 } else { 1.0 };
    let rest = &s[i..];
    let starts_ci =
        |word: &[u8]| rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word);
    if starts_ci(b"inf") {
        let n = if starts_ci(b"infinity") { 8 } else { 3 };
        return Strtod {
            value: sign * f64::INFINITY,
            consumed: i + n,
            range_error: false,
        };
    }
    if starts_ci(b"nan") {
        let mut end = i + 3;
        if at(end) == b'(' {
            let mut j = end + 1;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                end = j + 1;
            }
        }
        return Strtod {
            value: f64::NAN,
            consumed: end,
            range_error: false,
        };
    }
    if at(i) == b'0'
        && (at(i + 1) | 0x20) == b'x'
        && (at(i + 2).is_ascii_hexdigit() || (at(i + 2) == b'.' && at(i + 3).is_ascii_hexdigit()))
    {
        return hex_strtod(s, i + 2, sign);
    }
    // Decimal: digits [. digits] with at least one digit, then an optional exponent that
    // counts only if it has digits.
    let mut j = i;
    let mut digits = 0;
    while at(j).is_ascii_digit() {
        j += 1;
        digits += 1;
    }
    if at(j) == b'.' {
        j += 1;
        while at(j).is_ascii_digit() {
            j += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return none;
    }
    let mantissa_end = j;
    if at(j) | 0x20 == b'e' {
        let mut k = j + 1;
        if matches!(at(k), b'+' | b'-') {
            k += 1;
        }
        if at(k).is_ascii_digit() {
            while at(k).is_ascii_digit() {
                k += 1;
            }
            j = k;
        }
    }
    // The slice is plain ASCII in a syntax Rust's (correctly rounding) parser accepts.
    let text = std::str::from_utf8(&s[start..j]).unwrap_or("0");
    let value: f64 = text.parse().unwrap_or(0.0);
    let nonzero_digits = s[i..mantissa_end].iter().any(|c| (b'1'..=b'9').contains(c));
    Strtod {
        value,
        consumed: j,
        range_error: value.is_infinite() || (value == 0.0 && nonzero_digits),
    }
}

/// The hexadecimal part of [`strtod`]; `i` is just past `0x`.
fn hex_strtod(s: &[u8], mut i: usize, sign: f64) -> Strtod {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u64);
    // Up to 16 significant hex digits (64 bits) are kept; the rest only matter as a sticky
    // bit for rounding and as exponent.
    let mut mant: u64 = 0;
    let mut exp2: i64 = 0;
    let mut sticky = false;
    while let Some(d) = hex(at(i)) {
        if mant >> 60 == 0 {
            mant = mant * 16 + d;
        } else {
            exp2 += 4;
            sticky |= d != 0;
        }
        i += 1;
    }
    if at(i) == b'.' {
        i += 1;
        while let Some(d) = hex(at(i)) {
            if mant >> 60 == 0 {
                mant = mant * 16 + d;
                exp2 -= 4;
            } else {
                sticky |= d != 0;
            }
            i += 1;
        }
    }
    if at(i) | 0x20 == b'p' {
        let mut k = i + 1;
        let neg = at(k) == b'-';
        if matches!(at(k), b'+' | b'-') {
            k += 1;
        }
        if at(k).is_ascii_digit() {
            let mut e: i64 = 0;
            while at(k).is_ascii_digit() {
                // Saturate: anything this large overflows or underflows anyway.
                e = (e * 10 + (at(k) - b'0') as i64).min(1 << 40);
                k += 1;
            }
            exp2 += if neg { -e } else { e };
            i = k;
        }
    }
    if mant == 0 {
        return Strtod {
            value: sign * 0.0,
            consumed: i,
            range_error: false,
        };
    }
    let value = round_to_f64(mant, sticky, exp2);
    Strtod {
        value: sign * value,
        consumed: i,
        range_error: value.is_infinite() || value == 0.0,
    }
}

/// `(mant + sticky) * 2^exp2`, rounded to nearest-even at the precision of the result
/// (53 bits for normal numbers, fewer for subnormals). `mant` is non-zero.
fn round_to_f64(mant: u64, sticky: bool, exp2: i64) -> f64 {
    let bits = 64 - mant.leading_zeros() as i64;
    let top = exp2 + bits - 1; // exponent of the leading bit
    if top > 1023 {
        return f64::INFINITY;
    }
    let keep = if top >= -1022 { 53 } else { 53 - (-1022 - top) };
    if keep < 0 {
        return 0.0;
    }
    let drop = bits - keep;
    let (m, e) = if drop > 0 {
        let drop = drop as u32; // 1..=64
        let kept = if drop >= 64 { 0 } else { mant >> drop };
        let rem = if drop >= 64 {
            mant
        } else {
            mant & ((1u64 << drop) - 1)
        };
        let half = 1u64 << (drop - 1);
        let up = rem > half || (rem == half && (sticky || kept & 1 == 1));
        (kept + up as u64, exp2 + drop as i64)
    } else {
        (mant, exp2)
    };
    // `m` now fits the result's precision, so scaling by powers of two is exact (only the
    // last step may land in the subnormal range, exactly).
    let mut x = m as f64;
    let mut e = e;
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e as i32)
}

/// Parses a SCAN cursor like Redis 7.0 (`strtoul` on the argument as a C string): no leading
/// space, optional sign (a negative number wraps, as `strtoul` does), nothing after the
/// digits, no overflow. The empty string is cursor 0.
pub fn parse_cursor(s: &[u8]) -> Option<u64> {
    let s = match memchr::memchr(0, s) {
        Some(nul) => &s[..nul],
        None => s,
    };
    if s.is_empty() {
        return Some(0);
    }
    if s[0].is_ascii_whitespace() || s[0] == 0x0b {
        return None;
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Formats a double like C's `printf("%.17g")`, which is what Redis 7.0 sends for scores and
/// other doubles in RESP2; infinities are `inf` and `-inf`.
pub fn fmt_f64_17g(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
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
    // 17 significant digits in scientific form: "-d.dddddddddddddddde<exp>".
    let sci = format!("{v:.16e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut out = String::with_capacity(26);
    if neg {
        out.push('-');
    }
    if !(-4..17).contains(&exp) {
        let d = digits.trim_end_matches('0');
        out.push_str(&d[..1]);
        if d.len() > 1 {
            out.push('.');
            out.push_str(&d[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        out.push_str(&e.to_string());
    } else if exp >= 0 {
        let point = exp as usize + 1;
        let (int, frac) = digits.split_at(point.min(digits.len()));
        out.push_str(int);
        let frac = frac.trim_end_matches('0');
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
    } else {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_strict() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b"9223372036854775808"[..],
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"",
            b"-",
            b"1.0",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn floats_like_strtod() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1e400"), None);
        assert_eq!(parse_f64(b"1e-400"), None);
        assert_eq!(parse_f64(b"0e-400"), Some(0.0));
        assert_eq!(parse_f64(b"abc"), None);
    }

    #[test]
    fn hex_floats_like_strtod() {
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        assert_eq!(parse_f64(b"-0x1p3"), Some(-8.0));
        assert_eq!(parse_f64(b"0x.8p1"), Some(1.0));
        assert_eq!(parse_f64(b"0X1P-1074"), Some(f64::from_bits(1)));
        assert_eq!(parse_f64(b"0x1.8p-1075"), Some(f64::from_bits(1)));
        assert_eq!(parse_f64(b"0x1p-1075"), None);
        assert_eq!(parse_f64(b"0x1p1024"), None);
        assert_eq!(parse_f64(b"0x1.fffffffffffff8p0"), Some(2.0));
        assert_eq!(
            parse_f64(b"0x123456789abcdef123p0"),
            Some(3.358127276707303e20)
        );
        assert_eq!(parse_f64(b"0x"), None);
        assert_eq!(parse_f64(b"0x1g"), None);
    }

    #[test]
    fn strtod_prefixes() {
        let r = strtod(b"  -1.5e3xyz");
        assert_eq!((r.value, r.consumed, r.range_error), (-1500.0, 8, false));
        assert_eq!(strtod(b"1e").consumed, 1);
        assert_eq!(strtod(b"0xg").consumed, 1);
        assert_eq!(strtod(b"").consumed, 0);
        assert_eq!(strtod(b"(1").consumed, 0);
        assert_eq!(strtod(b"infinity").consumed, 8);
        assert_eq!(strtod(b"infinit").consumed, 3);
        assert!(strtod(b"nan(12)").value.is_nan());
        assert_eq!(strtod(b"nan(12)").consumed, 7);
        assert!(strtod(b"1e400").range_error);
        assert!(strtod(b"1e-400").range_error);
        assert!(!strtod(b"0e-400").range_error);
    }

    #[test]
    fn cursors_like_strtoul() {
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"+5"), Some(5));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b"-18446744073709551615"), Some(1));
        assert_eq!(parse_cursor(b"0\x00junk"), Some(0));
        assert_eq!(parse_cursor(b" 1"), None);
        assert_eq!(parse_cursor(b"1 "), None);
        assert_eq!(parse_cursor(b"-"), None);
        assert_eq!(parse_cursor(b"0x1"), None);
    }

    #[test]
    fn seventeen_g() {
        assert_eq!(fmt_f64_17g(1.1), "1.1000000000000001");
        assert_eq!(fmt_f64_17g(1.0), "1");
        assert_eq!(fmt_f64_17g(-2.5), "-2.5");
        assert_eq!(fmt_f64_17g(1e20), "1e+20");
        assert_eq!(fmt_f64_17g(1.5e-5), "1.5e-05");
        assert_eq!(fmt_f64_17g(0.1), "0.10000000000000001");
        assert_eq!(fmt_f64_17g(0.0001), "0.0001");
        assert_eq!(fmt_f64_17g(123456789.0), "123456789");
        assert_eq!(fmt_f64_17g(1e16), "10000000000000000");
        assert_eq!(fmt_f64_17g(1e17), "1e+17");
        assert_eq!(fmt_f64_17g(f64::INFINITY), "inf");
    }
}
