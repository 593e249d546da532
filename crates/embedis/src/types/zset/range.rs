//! Score and lexicographic ranges (ZRANGEBYSCORE, ZCOUNT, ZRANGEBYLEX...), parsed and
//! compared exactly like Redis 7.0.
//!
//! Score bounds are read with plain `strtod` (Redis's `zslParseRange`), not with the stricter
//! parser ZADD uses: leading whitespace, `1e400` (infinity) and even the empty string (0) are
//! accepted, NaN is not, and the argument is seen as a C string (it ends at a NUL byte).

use std::cmp::Ordering;

use crate::num::strtod;

/// A range over (score, member) elements: Redis's `zslValueGteMin`/`zslValueLteMax` pair and
/// its "can never match" test.
pub trait RangeSpec {
    /// Whether no element can be in the range (min above max, or equal with an open end).
    fn is_empty(&self) -> bool;
    /// Whether an element is at or above the low end.
    fn gte_min(&self, score: f64, member: &[u8]) -> bool;
    /// Whether an element is at or below the high end.
    fn lte_max(&self, score: f64, member: &[u8]) -> bool;
}

/// A score interval; each end open or closed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    /// Low end.
    pub min: f64,
    /// High end.
    pub max: f64,
    /// Whether `min` itself is excluded (`(min`).
    pub min_exclusive: bool,
    /// Whether `max` itself is excluded (`(max`).
    pub max_exclusive: bool,
}

impl ScoreRange {
    /// `[min, max]`.
    pub fn inclusive(min: f64, max: f64) -> Self {
        ScoreRange {
            min,
            max,
            min_exclusive: false,
            max_exclusive: false,
        }
    }

    /// Every score: `-inf +inf`.
    pub fn all() -> Self {
        Self::inclusive(f64::NEG_INFINITY, f64::INFINITY)
    }

    /// Parses `min` and `max` as ZRANGEBYSCORE takes them (`1.5`, `(1.5`, `-inf`, `+inf`).
    /// `None` means `ERR min or max is not a float`.
    pub fn parse(min: &[u8], max: &[u8]) -> Option<Self> {
        let (min, min_exclusive) = parse_score_bound(min)?;
        let (max, max_exclusive) = parse_score_bound(max)?;
        Some(ScoreRange {
            min,
            max,
            min_exclusive,
            max_exclusive,
        })
    }
}

/// The argument as C sees it: up to the first NUL byte.
fn c_string(b: &[u8]) -> &[u8] {
    match memchr::memchr(0, b) {
        Some(nul) => &b[..nul],
        None => b,
    }
}

fn parse_score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let arg = c_string(arg);
    let (exclusive, text) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let r = strtod(text);
    (r.consumed == text.len() && !r.value.is_nan()).then_some((r.value, exclusive))
}

impl RangeSpec for ScoreRange {
    fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_exclusive || self.max_exclusive))
    }

    #[inline]
    fn gte_min(&self, score: f64, _: &[u8]) -> bool {
        if self.min_exclusive {
            score > self.min
        } else {
            score >= self.min
        }
    }

    #[inline]
    fn lte_max(&self, score: f64, _: &[u8]) -> bool {
        if self.max_exclusive {
            score < self.max
        } else {
            score <= self.max
        }
    }
}

/// One end of a lexicographic range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every member.
    NegInf,
    /// `+`: above every member.
    PosInf,
    /// `[value`: the value itself is in the range.
    Inclusive(Vec<u8>),
    /// `(value`: the value itself is not.
    Exclusive(Vec<u8>),
}

impl LexBound {
    /// Parses one bound as ZRANGEBYLEX takes it; `None` means
    /// `ERR min or max not valid string range item`.
    pub fn parse(arg: &[u8]) -> Option<Self> {
        // `+` and `-` are compared as C strings (a NUL may follow), `[`/`(` values are binary.
        match arg.first()? {
            b'+' if arg.len() == 1 || arg[1] == 0 => Some(LexBound::PosInf),
            b'-' if arg.len() == 1 || arg[1] == 0 => Some(LexBound::NegInf),
            b'[' => Some(LexBound::Inclusive(arg[1..].to_vec())),
            b'(' => Some(LexBound::Exclusive(arg[1..].to_vec())),
            _ => None,
        }
    }

    fn exclusive(&self) -> bool {
        !matches!(self, LexBound::Inclusive(_))
    }

    /// `sdscmplex(value, bound)`.
    fn cmp_value(&self, value: &[u8]) -> Ordering {
        match self {
            LexBound::NegInf => Ordering::Greater,
            LexBound::PosInf => Ordering::Less,
            LexBound::Inclusive(b) | LexBound::Exclusive(b) => value.cmp(b),
        }
    }
}

/// A range of members by bytes (meaningful when all scores are equal, as Redis documents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    /// Low end.
    pub min: LexBound,
    /// High end.
    pub max: LexBound,
}

impl LexRange {
    /// A range between two bounds.
    pub fn new(min: LexBound, max: LexBound) -> Self {
        LexRange { min, max }
    }

    /// Every member: `- +`.
    pub fn all() -> Self {
        Self::new(LexBound::NegInf, LexBound::PosInf)
    }

    /// Parses `min` and `max` as ZRANGEBYLEX takes them (`-`, `+`, `[a`, `(a`).
    pub fn parse(min: &[u8], max: &[u8]) -> Option<Self> {
        Some(LexRange {
            min: LexBound::parse(min)?,
            max: LexBound::parse(max)?,
        })
    }
}

impl RangeSpec for LexRange {
    fn is_empty(&self) -> bool {
        use LexBound::*;
        // `sdscmplex(min, max)`: the shared `-`/`+` strings compare by identity.
        let cmp = match (&self.min, &self.max) {
            (NegInf, NegInf) | (PosInf, PosInf) => Ordering::Equal,
            (NegInf, _) | (_, PosInf) => Ordering::Less,
            (PosInf, _) | (_, NegInf) => Ordering::Greater,
            (Inclusive(a) | Exclusive(a), Inclusive(b) | Exclusive(b)) => a.cmp(b),
        };
        cmp == Ordering::Greater
            || (cmp == Ordering::Equal && (self.min.exclusive() || self.max.exclusive()))
    }

    #[inline]
    fn gte_min(&self, _: f64, member: &[u8]) -> bool {
        let c = self.min.cmp_value(member);
        if self.min.exclusive() {
            c == Ordering::Greater
        } else {
            c != Ordering::Less
        }
    }

    #[inline]
    fn lte_max(&self, _: f64, member: &[u8]) -> bool {
        let c = self.max.cmp_value(member);
        if self.max.exclusive() {
            c == Ordering::Less
        } else {
            c != Ordering::Greater
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_bounds_like_strtod() {
        let r = ScoreRange::parse(b"(1.5", b"+inf").unwrap();
        assert!(r.min_exclusive && !r.max_exclusive);
        assert!(!r.gte_min(1.5, b"") && r.gte_min(1.6, b""));
        assert!(ScoreRange::parse(b" 1", b"").is_some());
        assert_eq!(
            ScoreRange::parse(b"(", b"1e400").unwrap().max,
            f64::INFINITY
        );
        assert_eq!(ScoreRange::parse(b"1\0junk", b"2").unwrap().min, 1.0);
        assert!(ScoreRange::parse(b"nan", b"1").is_none());
        assert!(ScoreRange::parse(b"1 ", b"1").is_none());
        assert!(ScoreRange::parse(b"((1", b"1").is_none());
        assert!(ScoreRange::parse(b"-", b"1").is_none());
        assert!(ScoreRange::inclusive(2.0, 1.0).is_empty());
        assert!(ScoreRange::parse(b"(1", b"1").unwrap().is_empty());
        assert!(!ScoreRange::inclusive(1.0, 1.0).is_empty());
    }

    #[test]
    fn lex_bounds() {
        assert!(LexRange::parse(b"a", b"+").is_none());
        assert!(LexRange::parse(b"", b"+").is_none());
        assert!(LexRange::parse(b"-a", b"+").is_none());
        assert_eq!(LexBound::parse(b"-\0x"), Some(LexBound::NegInf));
        let r = LexRange::parse(b"[b", b"(d").unwrap();
        assert!(!r.gte_min(0.0, b"a") && r.gte_min(0.0, b"b"));
        assert!(r.lte_max(0.0, b"c") && !r.lte_max(0.0, b"d"));
        assert!(LexRange::parse(b"+", b"-").unwrap().is_empty());
        assert!(LexRange::parse(b"-", b"-").unwrap().is_empty());
        assert!(!LexRange::parse(b"-", b"+").unwrap().is_empty());
        assert!(!LexRange::parse(b"[a", b"[a").unwrap().is_empty());
        assert!(LexRange::parse(b"(a", b"[a").unwrap().is_empty());
        let all = LexRange::all();
        assert!(all.gte_min(0.0, b"") && all.lte_max(0.0, b"\xff"));
    }
}
