//! C `long double` as Redis 7.0 uses it for INCRBYFLOAT on x86-64 Linux: the x87 80-bit
//! extended format (64-bit significand, 15-bit exponent), read like glibc's `strtold`, added
//! with round-to-nearest-even, and written like `printf("%.17Lf")` with Redis's trimming.
//!
//! Why not `f64`: `0.1 + 0.2` is `0.3` at 64 bits of precision printed with 17 decimals, but
//! `0.30000000000000004` with `f64`. Every step here is exact integer arithmetic on a small
//! private bignum, so results match the C library bit for bit (glibc converts exactly, too).

use std::cmp::Ordering;

/// Exponent (of the unit in the last place) of subnormal numbers and of the smallest normal
/// ones: `1 - 16383 - 63`.
const MIN_EXP: i64 = -16445;
/// Largest exponent of a finite value: `32766 - 16383 - 63`.
const MAX_EXP: i64 = 16320;
/// `strtold` input longer than this is refused by Redis (`MAX_LONG_DOUBLE_CHARS`).
const MAX_CHARS: usize = 5 * 1024;
/// Decimal digits written after the point (`%.17Lf`).
const FRACTION_DIGITS: u32 = 17;

/// A `long double` value that Redis can hold (NaN never survives Redis's checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongDouble {
    /// `mant * 2^exp`; `mant` has its top bit set unless the value is subnormal or zero, in
    /// which case `exp == MIN_EXP`.
    Finite { neg: bool, mant: u64, exp: i64 },
    /// Positive or negative infinity.
    Infinite { neg: bool },
}

impl LongDouble {
    /// Zero.
    pub const ZERO: LongDouble = LongDouble::Finite {
        neg: false,
        mant: 0,
        exp: MIN_EXP,
    };

    /// An integer, exactly (every `i64` fits in 64 bits of significand).
    pub fn from_i64(n: i64) -> LongDouble {
        round(n < 0, &Big::from_u64(n.unsigned_abs()), 0, false)
    }

    /// Reads a number the way Redis's `string2ld` does: `strtold` syntax (decimal, hex
    /// floats, `inf`/`infinity`), no leading space, nothing after the number, no NaN, and
    /// overflow or underflow to zero refused. `None` means `ERR value is not a valid float`.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.is_empty() || s.len() >= MAX_CHARS || is_c_space(s[0]) {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble::Infinite { neg });
        }
        let hex = body.len() > 2
            && body[0] == b'0'
            && (body[1] | 0x20) == b'x'
            && (body[2].is_ascii_hexdigit()
                || (body[2] == b'.' && body.get(3).is_some_and(u8::is_ascii_hexdigit)));
        let (value, nonzero) = if hex {
            parse_hex(neg, &body[2..])?
        } else {
            parse_decimal(neg, body)?
        };
        match value {
            // ERANGE: overflow to infinity, or a non-zero number that rounded to zero.
            LongDouble::Infinite { .. } => None,
            LongDouble::Finite { mant: 0, .. } if nonzero => None,
            v => Some(v),
        }
    }

    /// Whether the value is finite.
    pub fn is_finite(&self) -> bool {
        matches!(self, LongDouble::Finite { .. })
    }

    /// `self + other` rounded to nearest-even; `None` when the sum is NaN (`inf + -inf`).
    pub fn checked_add(self, other: LongDouble) -> Option<LongDouble> {
        use LongDouble::{Finite, Infinite};
        match (self, other) {
            (Infinite { neg: a }, Infinite { neg: b }) => (a == b).then_some(self),
            (Infinite { .. }, _) => Some(self),
            (_, Infinite { .. }) => Some(other),
            (
                Finite {
                    neg: na,
                    mant: ma,
                    exp: ea,
                },
                Finite {
                    neg: nb,
                    mant: mb,
                    exp: eb,
                },
            ) => {
                if ma == 0 && mb == 0 {
                    // IEEE: -0 + -0 = -0, any other sum of zeros is +0.
                    return Some(Finite {
                        neg: na && nb,
                        mant: 0,
                        exp: MIN_EXP,
                    });
                }
                if mb == 0 {
                    return Some(self);
                }
                if ma == 0 {
                    return Some(other);
                }
                let e = ea.min(eb);
                let mut a = Big::from_u64(ma);
                a.shl((ea - e) as u64);
                let mut b = Big::from_u64(mb);
                b.shl((eb - e) as u64);
                if na == nb {
                    a.add(&b);
                    return Some(round(na, &a, e, false));
                }
                Some(match a.cmp(&b) {
                    Ordering::Equal => LongDouble::ZERO,
                    Ordering::Greater => {
                        a.sub(&b);
                        round(na, &a, e, false)
                    }
                    Ordering::Less => {
                        b.sub(&a);
                        round(nb, &b, e, false)
                    }
                })
            }
        }
    }

    /// The text Redis stores for an INCRBYFLOAT result (`ld2string` in `LD_STR_HUMAN` mode):
    /// `%.17Lf`, trailing zeros and then a trailing point removed, `-0` written `0`.
    pub fn to_human_string(&self) -> String {
        let (neg, mant, exp) = match *self {
            LongDouble::Infinite { neg } => return if neg { "-inf" } else { "inf" }.into(),
            LongDouble::Finite { neg, mant, exp } => (neg, mant, exp),
        };
        // The value times 10^17, rounded to an integer half-to-even (glibc rounds exactly).
        let mut scaled = Big::from_u64(mant);
        scaled.mul_pow10(FRACTION_DIGITS);
        if exp >= 0 {
            scaled.shl(exp as u64);
        } else {
            let shift = exp.unsigned_abs();
            let half = scaled.bit(shift - 1);
            let rest = scaled.any_below(shift - 1);
            scaled.shr(shift);
            if half && (rest || scaled.bit(0)) {
                scaled.add(&Big::from_u64(1));
            }
        }
        let mut digits = scaled.to_decimal();
        let frac = FRACTION_DIGITS as usize;
        if digits.len() <= frac {
            digits = format!("{}{digits}", "0".repeat(frac + 1 - digits.len()));
        }
        let (int, fraction) = digits.split_at(digits.len() - frac);
        let fraction = fraction.trim_end_matches('0');
        let mut out = String::with_capacity(digits.len() + 2);
        if neg {
            out.push('-');
        }
        out.push_str(int);
        if !fraction.is_empty() {
            out.push('.');
            out.push_str(fraction);
        }
        if out == "-0" {
            out.remove(0);
        }
        out
    }
}

/// C's `isspace` in the "C" locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Reads an exponent's `[+-]digits`, saturating far beyond any meaningful range. `None` if
/// there are no digits (then `strtold` does not consume the exponent marker, and Redis sees
/// trailing bytes).
fn parse_exponent(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        v = (v * 10 + (d - b'0') as i64).min(1 << 40);
    }
    Some(if neg { -v } else { v })
}

/// `digits[.digits][e[+-]digits]`, all of `s`. Returns the value and whether the written
/// number was non-zero.
fn parse_decimal(neg: bool, s: &[u8]) -> Option<(LongDouble, bool)> {
    let mut digits: Vec<u8> = Vec::new();
    let mut exp10: i64 = 0;
    let mut seen_digit = false;
    let mut seen_point = false;
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            c @ b'0'..=b'9' => {
                seen_digit = true;
                if !(digits.is_empty() && c == b'0') {
                    digits.push(c - b'0');
                }
                if seen_point {
                    exp10 -= 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if !seen_digit {
        return None;
    }
    if i < s.len() {
        if s[i] | 0x20 != b'e' {
            return None;
        }
        exp10 = exp10.saturating_add(parse_exponent(&s[i + 1..])?);
    }
    while digits.last() == Some(&0) {
        digits.pop();
        exp10 += 1;
    }
    if digits.is_empty() {
        return Some((
            LongDouble::Finite {
                neg,
                mant: 0,
                exp: MIN_EXP,
            },
            false,
        ));
    }
    // The value lies in [10^(magnitude-1), 10^magnitude). The largest finite long double is
    // about 1.19e4932 and half the smallest subnormal about 1.8e-4951: outside those bounds
    // the result is known without computing it.
    let magnitude = digits.len() as i64 + exp10;
    if magnitude > 4933 {
        return Some((LongDouble::Infinite { neg }, true));
    }
    if magnitude < -4951 {
        return Some((LongDouble::ZERO, true));
    }
    let mut n = Big::from_decimal_digits(&digits);
    if exp10 >= 0 {
        n.mul_pow10(exp10 as u32);
        return Some((round(neg, &n, 0, false), true));
    }
    // value = n / 10^m: scale one side by a power of two so that the quotient has 66 or 67
    // significant bits (enough to round), and keep whether a remainder was left (sticky).
    let mut den = Big::from_u64(1);
    den.mul_pow10(exp10.unsigned_abs() as u32);
    let scale = 66 + den.bits() as i64 - n.bits() as i64;
    if scale >= 0 {
        n.shl(scale as u64);
    } else {
        den.shl(scale.unsigned_abs());
    }
    let (q, inexact) = n.div_small_quotient(&den, 68);
    Some((round(neg, &Big::from_u128(q), -scale, inexact), true))
}

/// Hex float after `0x`: `hexdigits[.hexdigits][p[+-]digits]`, all of `s`.
fn parse_hex(neg: bool, s: &[u8]) -> Option<(LongDouble, bool)> {
    let mut n = Big::default();
    let mut exp2: i64 = 0;
    let mut seen_point = false;
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            c if c.is_ascii_hexdigit() => {
                let d = (c as char).to_digit(16).unwrap_or(0);
                n.shl(4);
                n.add(&Big::from_u64(d as u64));
                if seen_point {
                    exp2 -= 4;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if i < s.len() {
        if s[i] | 0x20 != b'p' {
            return None;
        }
        exp2 = exp2.saturating_add(parse_exponent(&s[i + 1..])?);
    }
    let nonzero = n.bits() > 0;
    Some((round(neg, &n, exp2, false), nonzero))
}

/// Rounds `n * 2^exp` (plus a sticky non-zero tail below it when `inexact`) to the nearest
/// long double, ties to even, with gradual underflow and overflow to infinity.
fn round(neg: bool, n: &Big, exp: i64, inexact: bool) -> LongDouble {
    let bits = n.bits() as i64;
    if bits == 0 {
        return LongDouble::Finite {
            neg,
            mant: 0,
            exp: MIN_EXP,
        };
    }
    if exp.saturating_add(bits) > MAX_EXP + 64 {
        return LongDouble::Infinite { neg };
    }
    let mut target = (exp + bits - 64).max(MIN_EXP);
    let shift = target - exp;
    let mut mant = if shift <= 0 {
        n.bits_from(0) << shift.unsigned_abs()
    } else {
        let shift = shift as u64;
        let mut m = n.bits_from(shift);
        let half = n.bit(shift - 1);
        let rest = inexact || n.any_below(shift - 1);
        if half && (rest || m & 1 == 1) {
            m = m.wrapping_add(1);
            if m == 0 {
                m = 1 << 63;
                target += 1;
            }
        }
        m
    };
    if target > MAX_EXP {
        return LongDouble::Infinite { neg };
    }
    if mant == 0 {
        target = MIN_EXP;
        mant = 0;
    }
    LongDouble::Finite {
        neg,
        mant,
        exp: target,
    }
}

/// A non-negative integer of any size: little-endian 32-bit limbs, no high zero limbs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Big {
        Big::from_u128(v as u128)
    }

    fn from_u128(mut v: u128) -> Big {
        let mut limbs = Vec::new();
        while v != 0 {
            limbs.push(v as u32);
            v >>= 32;
        }
        Big(limbs)
    }

    fn from_decimal_digits(digits: &[u8]) -> Big {
        let mut n = Big::default();
        for chunk in digits.chunks(9) {
            let mut part = 0u32;
            for &d in chunk {
                part = part * 10 + d as u32;
            }
            n.mul_small(10u32.pow(chunk.len() as u32));
            n.add(&Big::from_u64(part as u64));
        }
        n
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn bits(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => self.0.len() as u64 * 32 - top.leading_zeros() as u64,
        }
    }

    fn bit(&self, i: u64) -> bool {
        self.0
            .get((i / 32) as usize)
            .is_some_and(|&l| l >> (i % 32) & 1 == 1)
    }

    /// Whether any bit below position `i` is set.
    fn any_below(&self, i: u64) -> bool {
        let whole = ((i / 32) as usize).min(self.0.len());
        if self.0[..whole].iter().any(|&l| l != 0) {
            return true;
        }
        let part = i % 32;
        part != 0
            && self
                .0
                .get(whole)
                .is_some_and(|&l| l & ((1 << part) - 1) != 0)
    }

    /// The 64 bits starting at position `lo`.
    fn bits_from(&self, lo: u64) -> u64 {
        (0..64).fold(0u64, |acc, k| acc | (self.bit(lo + k) as u64) << k)
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for l in &mut self.0 {
            let v = *l as u64 * m as u64 + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    fn mul_pow10(&mut self, mut n: u32) {
        while n >= 9 {
            self.mul_small(1_000_000_000);
            n -= 9;
        }
        self.mul_small(10u32.pow(n));
    }

    fn shl(&mut self, bits: u64) {
        if self.0.is_empty() || bits == 0 {
            return;
        }
        let (limbs, rem) = ((bits / 32) as usize, (bits % 32) as u32);
        if rem != 0 {
            let mut carry = 0u32;
            for l in &mut self.0 {
                let v = (*l as u64) << rem | carry as u64;
                *l = v as u32;
                carry = (v >> 32) as u32;
            }
            if carry != 0 {
                self.0.push(carry);
            }
        }
        self.0.splice(0..0, std::iter::repeat_n(0, limbs));
    }

    fn shr(&mut self, bits: u64) {
        let limbs = ((bits / 32) as usize).min(self.0.len());
        self.0.drain(..limbs);
        let rem = (bits % 32) as u32;
        if rem != 0 {
            for i in 0..self.0.len() {
                let hi = self.0.get(i + 1).copied().unwrap_or(0);
                self.0[i] = ((hi as u64) << 32 | self.0[i] as u64).wrapping_shr(rem) as u32;
            }
        }
        self.trim();
    }

    fn add(&mut self, other: &Big) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        let mut carry = 0u64;
        for (i, l) in self.0.iter_mut().enumerate() {
            let v = *l as u64 + other.0.get(i).copied().unwrap_or(0) as u64 + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    /// `self -= other`; requires `self >= other`.
    fn sub(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (i, l) in self.0.iter_mut().enumerate() {
            let v = *l as i64 - other.0.get(i).copied().unwrap_or(0) as i64 - borrow;
            borrow = (v < 0) as i64;
            *l = v.rem_euclid(1 << 32) as u32;
        }
        self.trim();
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    /// `self / den` when the quotient is known to have at most `bits` bits, and whether the
    /// division left a remainder. Consumes `self` as the remainder.
    fn div_small_quotient(&mut self, den: &Big, bits: u32) -> (u128, bool) {
        let mut q = 0u128;
        for k in (0..bits).rev() {
            let mut d = den.clone();
            d.shl(k as u64);
            if self.cmp(&d) != Ordering::Less {
                self.sub(&d);
                q |= 1 << k;
            }
        }
        (q, !self.0.is_empty())
    }

    fn to_decimal(&self) -> String {
        let mut n = self.clone();
        let mut parts = Vec::new();
        while !n.0.is_empty() {
            let mut rem = 0u64;
            for l in n.0.iter_mut().rev() {
                let v = rem << 32 | *l as u64;
                *l = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            n.trim();
            parts.push(rem as u32);
        }
        let Some((top, rest)) = parts.split_last() else {
            return "0".into();
        };
        let mut s = top.to_string();
        for p in rest.iter().rev() {
            s.push_str(&format!("{p:09}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> Option<String> {
        let a = LongDouble::parse(a.as_bytes())?;
        let b = LongDouble::parse(b.as_bytes())?;
        a.checked_add(b)
            .filter(LongDouble::is_finite)
            .map(|v| v.to_human_string())
    }

    #[test]
    fn sums_match_x87_long_double() {
        // Each expectation was read off redis-server 7.0 on x86-64.
        assert_eq!(incr("0.1", "0.2").as_deref(), Some("0.3"));
        assert_eq!(incr("10.5", "0.1").as_deref(), Some("10.6"));
        assert_eq!(incr("1", "1").as_deref(), Some("2"));
        assert_eq!(
            incr("0.000003814697265625", "0").as_deref(),
            Some("0.00000381469726562")
        );
        assert_eq!(incr("5.0e3", "1e3").as_deref(), Some("6000"));
        assert_eq!(incr("-1", "0.5").as_deref(), Some("-0.5"));
        assert_eq!(incr("-1e-30", "0").as_deref(), Some("0"));
        assert_eq!(incr("0x10", "0x.8").as_deref(), Some("16.5"));
        assert_eq!(
            incr(
                "-2.",
                "5557966163752913164801429287393466911129362854051842.5"
            )
            .as_deref(),
            Some("5557966163752913164801429287393466911129362854051840")
        );
    }

    #[test]
    fn parse_like_string2ld() {
        for bad in [
            "",
            " 1",
            "1 ",
            "abc",
            "nan",
            "-nan",
            "1e",
            "1e+",
            ".",
            "e1",
            "0x",
            "0xp1",
            "1e5000",
            "-1e5000",
            "1e-5000",
            "1..2",
            "0x1p99999",
        ] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
        }
        for good in [
            "0",
            "-0",
            ".5",
            "5.",
            "+1",
            "inf",
            "-Infinity",
            "1e4000",
            "0e-99999",
        ] {
            assert!(LongDouble::parse(good.as_bytes()).is_some(), "{good:?}");
        }
        assert_eq!(
            LongDouble::parse(b"1e-4950").map(|v| v.is_finite()),
            Some(true)
        );
    }

    #[test]
    fn integers_and_doubles_are_exact() {
        assert_eq!(
            LongDouble::from_i64(i64::MIN).to_human_string(),
            "-9223372036854775808"
        );
        assert_eq!(
            LongDouble::parse(b"1e20").map(|v| v.to_human_string()),
            Some("100000000000000000000".into())
        );
    }

    #[test]
    fn overflow_and_nan() {
        let max = LongDouble::parse(b"1.1e4932").unwrap_or(LongDouble::ZERO);
        assert!(!max.checked_add(max).is_some_and(|v| v.is_finite()));
        let inf = LongDouble::Infinite { neg: false };
        let minus_inf = LongDouble::Infinite { neg: true };
        assert_eq!(inf.checked_add(minus_inf), None);
    }
}
