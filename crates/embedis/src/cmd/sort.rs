//! SORT and SORT_RO: sort the elements of a list, set or sorted set, numerically or
//! lexicographically, by themselves or by keys derived from them (`BY weight_*`,
//! `BY h_*->field`), fetch other keys for each (`GET #`, `GET name_*`, `GET h_*->field`),
//! page with LIMIT and optionally store the result as a list.
//!
//! Redis 7.0 behaviour kept on purpose, since replies must match:
//! - Options are read left to right; the key is looked up after all of them (a syntax error
//!   wins over WRONGTYPE). SORT_RO does not know STORE.
//! - `BY` without a `*` means "do not sort". A set is then still sorted (ALPHA) when the result
//!   is stored, so that replicas agree (and inside scripts: see [`SortCall::for_script`]).
//! - Numeric sorting reads each value like C's `strtod` over the whole string (up to a NUL):
//!   leading spaces, hex and `inf` are fine, the empty string is 0, and anything else, NaN,
//!   overflow or underflow fails the whole command. Equal scores fall back to comparing the
//!   elements byte-wise. A `BY` key that is missing (or of another type) scores 0.
//! - ALPHA compares like `strcoll` in the C/C.UTF-8 locale (byte order up to the first NUL),
//!   but byte-wise over the whole value when storing, as Redis does. With `BY`, elements whose
//!   `BY` key is missing sort first.
//! - The full sort is stable (glibc's merge sort); with `BY` and a LIMIT window Redis sorts
//!   only the window with its own partial quicksort, whose order among equal keys this file
//!   reproduces (see `partial_sort`).
//! - LIMIT offsets follow C's arithmetic, including its wrap-around for `offset + count`,
//!   except where Redis would send a malformed reply (a wrapped end far below the start):
//!   that window is empty here.
//! - Redis keeps a stale `errno` across commands, so after one score overflows every later
//!   numeric SORT of that server process fails too; that bug is not reproduced.

use std::cmp::Ordering;

use bytes::Bytes;

use super::args::{self, is};
use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::error::{Error, Result};
use crate::keyspace::{Access, Value};
use crate::pubsub::Event;
use crate::reply::Reply;
use crate::types::list::List;

/// The sort family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sort", -2, WRITE | DENYOOM | MOVABLE_KEYS, sort).keys(1, 1, 1),
    CommandSpec::new("sort_ro", -2, READONLY | MOVABLE_KEYS, sort_ro).keys(1, 1, 1),
];

/// `ERR One or more scores can't be converted into double`
const SCORES_NOT_DOUBLE: Error =
    Error::Static("ERR One or more scores can't be converted into double");

/// What to sort and how (the options of SORT).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SortCall {
    /// `BY pattern`: sort by the values of other keys (`*` is replaced by the element; a
    /// pattern without `*` means "do not sort").
    pub by: Option<Bytes>,
    /// `LIMIT offset count` (a negative count means "to the end").
    pub limit: Option<(i64, i64)>,
    /// `GET pattern`s: reply with these instead of the elements (`#` is the element).
    pub get: Vec<Bytes>,
    /// `DESC`.
    pub desc: bool,
    /// `ALPHA`: compare as strings.
    pub alpha: bool,
    /// `STORE destination`: store the result as a list and reply with its length.
    pub store: Option<Bytes>,
    /// Whether the call comes from a script, where Redis sorts sets even under `BY nosort`
    /// (so that scripts are deterministic).
    pub for_script: bool,
}

impl SortCall {
    /// Whether the call reads keys other than the sorted one (BY/GET patterns) or writes one.
    fn touches_other_keys(&self) -> bool {
        self.by.as_deref().is_some_and(|p| star(p).is_some())
            || self.get.iter().any(|p| p.as_ref() != b"#")
            || self.store.is_some()
    }
}

/// What SORT gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sorted {
    /// The elements (or GET values; `None` where a GET found nothing).
    Values(Vec<Option<Bytes>>),
    /// With STORE: the stored list's length.
    Stored(usize),
}

/// Reads SORT's options from `args[2..]`; `readonly` for SORT_RO (which has no STORE).
pub fn parse_sort(args: &[Bytes], readonly: bool) -> Result<SortCall> {
    let mut call = SortCall::default();
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if is(a, "asc") {
            call.desc = false;
        } else if is(a, "desc") {
            call.desc = true;
        } else if is(a, "alpha") {
            call.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            call.limit = Some((args::int(&args[j + 1])?, args::int(&args[j + 2])?));
            j += 2;
        } else if !readonly && is(a, "store") && left >= 1 {
            call.store = Some(args[j + 1].clone());
            j += 1;
        } else if is(a, "by") && left >= 1 {
            call.by = Some(args[j + 1].clone());
            j += 1;
        } else if is(a, "get") && left >= 1 {
            call.get.push(args[j + 1].clone());
            j += 1;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    Ok(call)
}

/// The position of the `*` a pattern substitutes (C string semantics: before any NUL).
fn star(pattern: &[u8]) -> Option<usize> {
    let end = memchr::memchr(0, pattern).unwrap_or(pattern.len());
    memchr::memchr(b'*', &pattern[..end])
}

/// The value a BY/GET pattern points to for `element`: `#` is the element; `key*` a string
/// key; `key*->field` a hash field. `None` when missing or of another type.
fn lookup_by_pattern(a: &mut Access<'_>, pattern: &[u8], element: &[u8]) -> Option<Bytes> {
    if pattern == b"#" {
        return Some(Bytes::copy_from_slice(element));
    }
    let p = star(pattern)?;
    let end = memchr::memchr(0, pattern).unwrap_or(pattern.len());
    // The first "->" after the star, if something (not a NUL) follows it, names a field.
    let arrow = memchr::memmem::find(&pattern[p + 1..end], b"->")
        .map(|i| p + 1 + i)
        .filter(|&f| pattern.get(f + 2).is_some_and(|&c| c != 0));
    let key_end = arrow.unwrap_or(pattern.len());
    let mut key = Vec::with_capacity(pattern.len() + element.len());
    key.extend_from_slice(&pattern[..p]);
    key.extend_from_slice(element);
    key.extend_from_slice(&pattern[p + 1..key_end]);
    let entry = a.get(&key)?;
    match (arrow, &entry.value) {
        (Some(f), Value::Hash(h)) => h.get(&pattern[f + 2..]).map(Bytes::copy_from_slice),
        (None, Value::Str(s)) => Some(Bytes::copy_from_slice(&s.as_bytes())),
        _ => None,
    }
}

/// C's `strtod` over a whole value (up to a NUL), as SORT uses it: `None` for trailing bytes,
/// no number, NaN, overflow or underflow (ERANGE).
pub fn strtod_whole(v: &[u8]) -> Option<f64> {
    let v = &v[..memchr::memchr(0, v).unwrap_or(v.len())];
    if v.is_empty() {
        return Some(0.0);
    }
    let is_space = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let start = v.iter().position(|c| !is_space(c))?;
    let s = &v[start..];
    let (negative, body) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let value = if lower == b"inf" || lower == b"infinity" {
        f64::INFINITY
    } else if lower.starts_with(b"nan") {
        return None;
    } else if lower.len() > 2 && lower.starts_with(b"0x") {
        hex_float(&lower[2..])?
    } else {
        let text = std::str::from_utf8(body).ok()?;
        if text.is_empty()
            || !text
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
            || text.starts_with(['+', '-'])
        {
            return None;
        }
        let v: f64 = text.parse().ok()?;
        if v.is_infinite() {
            return None; // ERANGE overflow
        }
        let has_nonzero = text
            .split(['e', 'E'])
            .next()
            .is_some_and(|m| m.bytes().any(|c| (b'1'..=b'9').contains(&c)));
        if has_nonzero && (v == 0.0 || v.abs() < f64::MIN_POSITIVE) {
            return None; // ERANGE underflow (zero or subnormal)
        }
        v
    };
    Some(if negative { -value } else { value })
}

/// A hex float after `0x` (`hh[.hh][p[+-]dd]`), for strtod.
fn hex_float(s: &[u8]) -> Option<f64> {
    let (mant, exp) = match memchr::memchr(b'p', s) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match memchr::memchr(b'.', mant) {
        Some(i) => (&mant[..i], &mant[i + 1..]),
        None => (mant, &b""[..]),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut m = 0f64;
    for &c in int.iter().chain(frac) {
        m = m * 16.0 + f64::from((c as char).to_digit(16)?);
    }
    let mut e: i64 = -4 * frac.len() as i64;
    if let Some(exp) = exp {
        let (neg, digits) = match exp.first() {
            Some(b'-') => (true, &exp[1..]),
            Some(b'+') => (false, &exp[1..]),
            _ => (false, exp),
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = digits.iter().fold(0i64, |n, &d| {
            n.saturating_mul(10).saturating_add((d - b'0') as i64)
        });
        e = e.saturating_add(if neg { -n } else { n });
    }
    let v = m * 2f64.powi(e.clamp(-2000, 2000) as i32);
    if v.is_infinite() || (m != 0.0 && (v == 0.0 || v.abs() < f64::MIN_POSITIVE)) {
        return None;
    }
    Some(v)
}

/// `strcoll` in the C/C.UTF-8 locale: byte order of the C strings (up to the first NUL).
fn collate(a: &[u8], b: &[u8]) -> Ordering {
    let a = &a[..memchr::memchr(0, a).unwrap_or(a.len())];
    let b = &b[..memchr::memchr(0, b).unwrap_or(b.len())];
    a.cmp(b)
}

/// One element being sorted, with its sort key.
struct Item {
    element: Bytes,
    score: f64,
    by: Option<Bytes>,
}

/// SORT / SORT_RO: sorts the list, set or sorted set at `key` per `call`.
pub fn sort_exec(a: &mut Access<'_>, key: &[u8], call: &SortCall) -> Result<Sorted> {
    let mut dontsort = call.by.as_deref().is_some_and(|p| star(p).is_none());
    let mut alpha = call.alpha;
    let mut by = call.by.as_deref();
    #[derive(PartialEq)]
    enum Kind {
        Missing,
        List,
        Set,
        ZSet,
    }
    let (kind, total) = match a.get(key).map(|e| &e.value) {
        None => (Kind::Missing, 0),
        Some(Value::List(l)) => (Kind::List, l.len()),
        Some(Value::Set(s)) => (Kind::Set, s.len()),
        Some(Value::ZSet(z)) => (Kind::ZSet, z.len()),
        Some(_) => return Err(Error::WrongType),
    };
    let total = total as i64;
    if dontsort && kind == Kind::Set && (call.store.is_some() || call.for_script) {
        // Sets have no order of their own: sort them so that the result is deterministic.
        dontsort = false;
        alpha = true;
        by = None;
    }

    // The window, in C's arithmetic.
    let (limit_start, limit_count) = call.limit.unwrap_or((0, -1));
    let mut start = limit_start.max(0);
    let mut end = if limit_count < 0 {
        total - 1
    } else {
        start.wrapping_add(limit_count).wrapping_sub(1)
    };
    if start >= total {
        start = total - 1;
        end = total - 2;
    }
    if end >= total {
        end = total - 1;
    }
    if end < start {
        // Also covers a wrapped end, where Redis would send a malformed reply.
        end = start - 1;
    }

    let item = |e: &[u8]| Item {
        element: Bytes::copy_from_slice(e),
        score: 0.0,
        by: None,
    };
    // `peek`: the lookup above already counted the read.
    let mut items: Vec<Item> = match a.peek(key).map(|e| &e.value) {
        Some(Value::List(l)) if dontsort => {
            // Only the window is read, from the tail when descending.
            let picked = if end < start {
                Vec::new()
            } else if call.desc {
                let (len, s, e) = (l.len(), start as usize, end as usize + 1);
                l.range(len - e, len - s).rev().map(item).collect()
            } else {
                l.range(start as usize, end as usize + 1)
                    .map(item)
                    .collect()
            };
            end -= start;
            start = 0;
            picked
        }
        Some(Value::ZSet(z)) if dontsort => {
            // Only the window is read, by rank, from the highest when descending.
            let picked = if end < start {
                Vec::new()
            } else {
                let n = (end - start + 1) as usize;
                let from = if call.desc {
                    z.len() - 1 - start as usize
                } else {
                    start as usize
                };
                z.iter_from(from, call.desc)
                    .take(n)
                    .map(|(m, _)| item(m))
                    .collect()
            };
            end -= start;
            start = 0;
            picked
        }
        Some(Value::List(l)) => l.iter().map(item).collect(),
        Some(Value::Set(s)) => s.iter().map(|m| item(&m.to_bytes())).collect(),
        Some(Value::ZSet(z)) => z.iter().map(|(m, _)| item(m)).collect(),
        _ => Vec::new(),
    };

    if !dontsort {
        let mut conversion_error = false;
        for item in &mut items {
            match (by, alpha) {
                (Some(pattern), true) => item.by = lookup_by_pattern(a, pattern, &item.element),
                // An `int`-encoded key scores its number, which is what strtod of its text
                // gives too.
                (Some(pattern), false) => {
                    if let Some(v) = lookup_by_pattern(a, pattern, &item.element) {
                        match strtod_whole(&v) {
                            Some(score) => item.score = score,
                            None => conversion_error = true,
                        }
                    }
                }
                (None, true) => {}
                (None, false) => match strtod_whole(&item.element) {
                    Some(score) => item.score = score,
                    None => conversion_error = true,
                },
            }
        }
        if conversion_error {
            return Err(SCORES_NOT_DOUBLE);
        }
        let storing = call.store.is_some();
        let by_pattern = by.is_some();
        let desc = call.desc;
        let mut compare = |x: &Item, y: &Item| -> Ordering {
            let ord = if !alpha {
                x.score
                    .partial_cmp(&y.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| x.element.cmp(&y.element))
            } else if by_pattern {
                match (&x.by, &y.by) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(p), Some(q)) if storing => p.cmp(q),
                    (Some(p), Some(q)) => collate(p, q),
                }
            } else if storing {
                x.element.cmp(&y.element)
            } else {
                collate(&x.element, &y.element)
            };
            if desc { ord.reverse() } else { ord }
        };
        let n = items.len() as i64;
        if by_pattern && (start != 0 || end != n - 1) {
            partial_sort(&mut items, start, end, &mut compare);
        } else {
            items.sort_by(&mut compare);
        }
    }

    let window = if end >= start {
        &items[start as usize..=end as usize]
    } else {
        &items[..0]
    };
    let mut out: Vec<Option<Bytes>> = Vec::with_capacity(window.len() * call.get.len().max(1));
    for item in window {
        if call.get.is_empty() {
            out.push(Some(item.element.clone()));
        }
        for pattern in &call.get {
            out.push(lookup_by_pattern(a, pattern, &item.element));
        }
    }
    let Some(dst) = &call.store else {
        return Ok(Sorted::Values(out));
    };
    let n = out.len();
    if n > 0 {
        let list: List = out
            .iter()
            .map(|v| v.as_deref().unwrap_or_default())
            .collect();
        a.set(dst, Value::List(Box::new(list)));
        a.touched(dst);
        a.notify(Event::SortStore, dst);
    } else if a.remove(dst).is_some() {
        a.touched(dst);
        a.notify(Event::Del, dst);
    }
    Ok(Sorted::Stored(n))
}

/// Sorts so that positions `lo..=hi` hold what a full sort puts there, the way Redis's
/// `pqsort` does: Bentley & McIlroy's three-way quicksort ("Engineering a Sort Function":
/// median-of-three or ninther pivot, equal keys gathered at the ends and swapped to the
/// middle, insertion sort under 7 elements or when a pass swapped nothing), recursing only
/// into parts that overlap the window. Elements that compare equal end up in the same order
/// as in Redis, which a stable sort would not give.
fn partial_sort<T>(v: &mut [T], lo: i64, hi: i64, cmp: &mut impl FnMut(&T, &T) -> Ordering) {
    quicksort_window(v, 0, lo, hi, cmp);
}

fn insertion_sort<T>(v: &mut [T], cmp: &mut impl FnMut(&T, &T) -> Ordering) {
    for m in 1..v.len() {
        let mut l = m;
        while l > 0 && cmp(&v[l - 1], &v[l]) == Ordering::Greater {
            v.swap(l, l - 1);
            l -= 1;
        }
    }
}

fn median_of_three<T>(
    v: &[T],
    a: usize,
    b: usize,
    c: usize,
    cmp: &mut impl FnMut(&T, &T) -> Ordering,
) -> usize {
    if cmp(&v[a], &v[b]) == Ordering::Less {
        if cmp(&v[b], &v[c]) == Ordering::Less {
            b
        } else if cmp(&v[a], &v[c]) == Ordering::Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Ordering::Greater {
        b
    } else if cmp(&v[a], &v[c]) == Ordering::Less {
        a
    } else {
        c
    }
}

/// Swaps `n` elements starting at `a` with `n` starting at `b`, pairwise.
fn swap_runs<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// The quicksort on `v`, which starts at absolute position `base` of the whole array; `lo` and
/// `hi` are the absolute window.
fn quicksort_window<T>(
    mut v: &mut [T],
    mut base: i64,
    lo: i64,
    hi: i64,
    cmp: &mut impl FnMut(&T, &T) -> Ordering,
) {
    // Whether the part at absolute positions first..=last can hold part of the window.
    let overlaps =
        |first: i64, last: i64| !((lo < first && hi < first) || (lo > last && hi > last));
    loop {
        let n = v.len();
        if n < 7 {
            insertion_sort(v, cmp);
            return;
        }
        let mut pm = n / 2;
        if n > 7 {
            let (mut pl, mut pn) = (0, n - 1);
            if n > 40 {
                let d = n / 8;
                pl = median_of_three(v, pl, pl + d, pl + 2 * d, cmp);
                pm = median_of_three(v, pm - d, pm, pm + d, cmp);
                pn = median_of_three(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = median_of_three(v, pl, pm, pn, cmp);
        }
        v.swap(0, pm);
        // v[1..pa] and v[pd+1..] collect keys equal to the pivot v[0]; v[pa..pb] is less,
        // v[pc+1..=pd] greater.
        let (mut pa, mut pb) = (1usize, 1usize);
        let (mut pc, mut pd) = (n as isize - 1, n as isize - 1);
        let mut swapped = false;
        loop {
            while pb as isize <= pc {
                let r = cmp(&v[pb], &v[0]);
                if r == Ordering::Greater {
                    break;
                }
                if r == Ordering::Equal {
                    swapped = true;
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb as isize <= pc {
                let r = cmp(&v[pc as usize], &v[0]);
                if r == Ordering::Less {
                    break;
                }
                if r == Ordering::Equal {
                    swapped = true;
                    v.swap(pc as usize, pd as usize);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb as isize > pc {
                break;
            }
            v.swap(pb, pc as usize);
            swapped = true;
            pb += 1;
            pc -= 1;
        }
        if !swapped {
            insertion_sort(v, cmp);
            return;
        }
        let (pc, pd) = (pc as usize, pd as usize);
        let r = pa.min(pb - pa);
        swap_runs(v, 0, pb - r, r);
        let r = (pd - pc).min(n - pd - 1);
        swap_runs(v, pb, n - r, r);
        let less = pb - pa;
        if less > 1 && overlaps(base, base + less as i64 - 1) {
            quicksort_window(&mut v[..less], base, lo, hi, cmp);
        }
        let greater = pd - pc;
        if greater <= 1 {
            return;
        }
        let first = n - greater;
        base += first as i64;
        v = &mut v[first..];
        if !overlaps(base, base + greater as i64 - 1) {
            return;
        }
    }
}

fn sort(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    run_sort(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    run_sort(ctx, args, true)
}

fn run_sort(ctx: &mut Ctx<'_, '_>, args: &[Bytes], readonly: bool) -> Result<Reply> {
    let mut call = parse_sort(args, readonly)?;
    call.for_script = ctx.client.is_script;
    let key = &args[1];
    let sorted = if call.touches_other_keys() {
        ctx.all(|a| sort_exec(a, key, &call))?
    } else {
        ctx.key(key, |a| sort_exec(a, key, &call))?
    };
    Ok(match sorted {
        Sorted::Stored(n) => Reply::Int(n as i64),
        Sorted::Values(values) => Reply::Array(values.into_iter().map(Reply::from).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_like_c() {
        assert_eq!(strtod_whole(b""), Some(0.0));
        assert_eq!(strtod_whole(b" 4"), Some(4.0));
        assert_eq!(strtod_whole(b"\t-5.5"), Some(-5.5));
        assert_eq!(strtod_whole(b"0x10"), Some(16.0));
        assert_eq!(strtod_whole(b"0x1p4"), Some(16.0));
        assert_eq!(strtod_whole(b"1e2"), Some(100.0));
        assert_eq!(strtod_whole(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod_whole(b"1\x00abc"), Some(1.0));
        assert_eq!(strtod_whole(b".5"), Some(0.5));
        assert_eq!(strtod_whole(b"5."), Some(5.0));
        for bad in [
            &b"2 "[..],
            b"  ",
            b"abc",
            b"nan",
            b"1e400",
            b"1e-310",
            b"1e-400",
            b"0x",
            b"1e",
            b"--1",
            b"+-1",
            b"1_0",
        ] {
            assert_eq!(
                strtod_whole(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn partial_sort_orders_the_window_like_a_full_sort() {
        use rand::rngs::SmallRng;
        use rand::{Rng, SeedableRng};
        let mut rng = SmallRng::seed_from_u64(3);
        for _ in 0..500 {
            let n = rng.random_range(0..120);
            let v: Vec<u32> = (0..n).map(|_| rng.random_range(0..30)).collect();
            let mut full = v.clone();
            full.sort();
            if n == 0 {
                continue;
            }
            let lo = rng.random_range(0..n) as i64;
            let hi = rng.random_range(lo..n as i64);
            let mut part = v.clone();
            partial_sort(&mut part, lo, hi, &mut |a, b| a.cmp(b));
            assert_eq!(
                part[lo as usize..=hi as usize],
                full[lo as usize..=hi as usize]
            );
        }
    }

    #[test]
    fn equal_keys_come_out_in_redis_order() {
        // SORT ties BY w_* ALPHA LIMIT 0 3 / LIMIT 2 3 on [e d c b a x y z] with no w_ keys,
        // as redis-server 7.0 answers.
        let items = || b"edcbaxyz".to_vec();
        let mut v = items();
        partial_sort(&mut v, 0, 2, &mut |_, _| Ordering::Equal);
        assert_eq!(&v[0..3], b"zdc");
        let mut v = items();
        partial_sort(&mut v, 2, 4, &mut |_, _| Ordering::Equal);
        assert_eq!(&v[2..5], b"cba");
    }
}
