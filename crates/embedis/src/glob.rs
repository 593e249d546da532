//! Glob-style matching exactly like Redis's `stringmatchlen` (KEYS, SCAN/HSCAN/SSCAN/ZSCAN
//! MATCH, PSUBSCRIBE): `*`, `?`, `[...]` with `^` and ranges, `\` escapes.
//!
//! Ported branch for branch rather than written as a cleaner matcher because the corner cases
//! are observable: an unclosed `[` matches as if closed at the end, a reversed range `[z-a]`
//! is swapped, ranges compare bytes as C's signed `char`, and a trailing `\` is literal.
//! Like Redis 7.0.9+, a failed `*` stops the search for earlier stars (no exponential blowup).

/// Whether `string` matches the glob `pattern`; `nocase` folds ASCII case.
pub fn matches(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_from(pattern, string, nocase, &mut skip_longer)
}

/// The pattern byte at `i`, or 0 past the end: Redis's patterns are NUL-terminated sds
/// strings and `stringmatchlen` reads that terminator in two places.
#[inline]
fn at(p: &[u8], i: usize) -> u8 {
    p.get(i).copied().unwrap_or(0)
}

#[inline]
fn fold(c: u8, nocase: bool) -> u8 {
    if nocase { c.to_ascii_lowercase() } else { c }
}

fn match_from(pattern: &[u8], string: &[u8], nocase: bool, skip_longer: &mut bool) -> bool {
    // `p`/`s` index the pattern and the string; `plen`/`slen` are what is left of each, kept
    // signed like the C code's ints because the unclosed-bracket path steps back.
    let (mut p, mut s) = (0usize, 0usize);
    let mut plen = pattern.len() as isize;
    let mut slen = string.len() as isize;
    while plen > 0 && slen > 0 {
        match pattern[p] {
            b'*' => {
                while plen > 0 && at(pattern, p + 1) == b'*' {
                    p += 1;
                    plen -= 1;
                }
                if plen == 1 {
                    return true;
                }
                while slen > 0 {
                    if match_from(&pattern[p + 1..], &string[s..], nocase, skip_longer) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s += 1;
                    slen -= 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => {
                s += 1;
                slen -= 1;
            }
            b'[' => {
                p += 1;
                plen -= 1;
                let negate = at(pattern, p) == b'^';
                if negate {
                    p += 1;
                    plen -= 1;
                }
                let c = string[s];
                let mut matched = false;
                loop {
                    if at(pattern, p) == b'\\' && plen >= 2 {
                        p += 1;
                        plen -= 1;
                        if at(pattern, p) == c {
                            matched = true;
                        }
                    } else if at(pattern, p) == b']' {
                        break;
                    } else if plen == 0 {
                        // Unclosed class: step back so the common advance below ends the
                        // pattern.
                        p -= 1;
                        plen += 1;
                        break;
                    } else if plen >= 3 && at(pattern, p + 1) == b'-' {
                        // C compares `char`s, signed on the platforms Redis runs on.
                        let mut start = at(pattern, p) as i8 as i32;
                        let mut end = at(pattern, p + 2) as i8 as i32;
                        let mut ch = c as i8 as i32;
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = lower_i32(start);
                            end = lower_i32(end);
                            ch = lower_i32(ch);
                        }
                        p += 2;
                        plen -= 2;
                        if ch >= start && ch <= end {
                            matched = true;
                        }
                    } else if fold(at(pattern, p), nocase) == fold(c, nocase) {
                        matched = true;
                    }
                    p += 1;
                    plen -= 1;
                }
                if negate {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s += 1;
                slen -= 1;
            }
            other => {
                let lit = if other == b'\\' && plen >= 2 {
                    p += 1;
                    plen -= 1;
                    pattern[p]
                } else {
                    other
                };
                if fold(lit, nocase) != fold(string[s], nocase) {
                    return false;
                }
                s += 1;
                slen -= 1;
            }
        }
        p += 1;
        plen -= 1;
        if slen == 0 {
            while at(pattern, p) == b'*' && p < pattern.len() {
                p += 1;
                plen -= 1;
            }
            break;
        }
    }
    plen == 0 && slen == 0
}

/// C's `tolower` on a value that came from a signed `char`.
fn lower_i32(c: i32) -> i32 {
    if (b'A' as i32..=b'Z' as i32).contains(&c) {
        c + 32
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    fn m(p: &str, s: &str) -> bool {
        matches(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn stars_and_questions() {
        assert!(m("*", "anything"));
        // As in Redis: a pattern never matches the empty string (callers special-case a
        // lone `*` and skip matching altogether).
        assert!(!m("*", ""));
        assert!(!m("**", ""));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("a*", "a"));
        assert!(m("a**", "abc"));
        assert!(m("*c", "abc"));
        assert!(!m("*d", "abc"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!m("a*", ""));
        assert!(m("h*llo", "heeeello"));
    }

    #[test]
    fn classes() {
        assert!(m("h[ae]llo", "hello"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"), "reversed ranges are swapped");
        assert!(m("[\\]]", "]"));
        assert!(m("[a", "a"), "an unclosed class ends the pattern");
        assert!(!m("[a", "ab"));
        assert!(m("[^", "x"));
        assert!(!m("[", "x"));
    }

    #[test]
    fn escapes_and_case() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("a\\", "a\\"), "a trailing backslash is literal");
        assert!(matches(b"HeLLo", b"hello", true));
        assert!(!matches(b"HeLLo", b"hello", false));
        assert!(matches(b"[A-C]", b"b", true));
    }

    #[test]
    fn binary_and_signed_ranges() {
        assert!(matches(b"\xff*", b"\xff\x00", false));
        // 'a'..=0xff as signed chars is -1..=97: includes 'A' but not 'z'.
        assert!(matches(b"[a-\xff]", b"A", false));
        assert!(!matches(b"[a-\xff]", b"z", false));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let s = "a".repeat(60);
        let p = "a*".repeat(30) + "b";
        assert!(!m(&p, &s));
    }
}
