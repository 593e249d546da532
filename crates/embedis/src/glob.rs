//! Glob-style pattern matching exactly like Redis's `stringmatchlen` (KEYS, SCAN/ZSCAN MATCH,
//! PSUBSCRIBE): `*`, `?`, `[...]` with ranges and `^`, `\` escapes.
//!
//! Redis works on C `char`s, which are signed on x86: a range such as `[a-\xff]` compares
//! bytes as signed numbers, and that is reproduced here. A pattern ending inside `[...]`
//! matches as if the class were closed, as in Redis.

/// Whether `s` matches the glob `pattern` (`nocase`: ASCII case-insensitive).
pub fn string_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, s, nocase, &mut skip_longer)
}

fn lower(c: u8) -> u8 {
    c.to_ascii_lowercase()
}

fn match_impl(mut p: &[u8], mut s: &[u8], nocase: bool, skip_longer: &mut bool) -> bool {
    // `p.get(i)` past the end reads 0, like the NUL terminator Redis's loop relies on.
    let at = |p: &[u8], i: usize| p.get(i).copied().unwrap_or(0);
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_impl(&p[1..], s, nocase, skip_longer) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                // No match for the rest of the pattern anywhere in the rest of the string: a
                // longer match for an earlier `*` cannot help either (Redis's exponential
                // blow-up fix).
                *skip_longer = true;
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                p = &p[1..];
                let not = at(p, 0) == b'^';
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    if at(p, 0) == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                        if p[0] == s[0] {
                            matched = true;
                        }
                    } else if at(p, 0) == b']' {
                        break;
                    } else if p.is_empty() {
                        // Unterminated class: Redis steps back so that the shared `pattern++`
                        // below lands at the end.
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut start, mut end) = (p[0] as i8 as i32, p[2] as i8 as i32);
                        let mut c = s[0] as i8 as i32;
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = lower_signed(start);
                            end = lower_signed(end);
                            c = lower_signed(c);
                        }
                        p = &p[2..];
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if nocase {
                        if lower(p[0]) == lower(s[0]) {
                            matched = true;
                        }
                    } else if p[0] == s[0] {
                        matched = true;
                    }
                    p = &p[1..];
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    // The class ran to the end of the pattern: nothing left to consume.
                    return s.is_empty();
                }
            }
            c => {
                let c = if c == b'\\' && p.len() >= 2 {
                    p = &p[1..];
                    p[0]
                } else {
                    c
                };
                let same = if nocase {
                    lower(c) == lower(s[0])
                } else {
                    c == s[0]
                };
                if !same {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while at(p, 0) == b'*' {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

/// `tolower` on a signed C char (only ASCII letters change).
fn lower_signed(c: i32) -> i32 {
    if (b'A' as i32..=b'Z' as i32).contains(&c) {
        c + 32
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        string_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn globs() {
        // As in Redis, nothing matches the empty string but the empty pattern (callers
        // special-case a lone `*`).
        assert!(!m("*", ""));
        assert!(!m("**", ""));
        assert!(m("*", "abc"));
        assert!(m("a*c", "abbbc"));
        assert!(!m("a*c", "abbb"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("[a-c]x", "bx"));
        assert!(m("[c-a]x", "bx"));
        assert!(!m("[^a-c]x", "bx"));
        assert!(m("[^a-c]x", "dx"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("[\\]]", "]"));
        assert!(m("[abc", "a"));
        assert!(!m("[abc", "ab"));
        assert!(m("h*llo*", "hello world"));
        assert!(string_match(b"HE*", b"hello", true));
        assert!(!m("", "a"));
        assert!(m("", ""));
        assert!(m("a**", "a"));
        // Signed chars: 0xE9 is negative, outside [a-z].
        assert!(!string_match(b"[a-z]", &[0xE9], false));
    }

    #[test]
    fn pathological_patterns_are_fast() {
        let s = "a".repeat(60);
        assert!(!m("*a*a*a*a*a*a*a*a*a*a*a*a*b", &s));
    }
}
