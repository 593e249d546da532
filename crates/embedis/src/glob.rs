//! Redis's glob-style pattern matching (`stringmatchlen`): what KEYS, SCAN MATCH, CONFIG GET,
//! COMMAND LIST FILTERBY PATTERN and PSUBSCRIBE use, with Redis's exact quirks (an unclosed
//! `[` matches up to the end of the pattern, ranges may be reversed, `\` escapes).

/// Deep nesting of `*` is cut off like Redis does (a pattern of thousands of stars would
/// otherwise take exponential time).
const MAX_NESTING: usize = 1000;

/// Whether `string` matches the glob `pattern`; `nocase` compares ASCII letters
/// case-insensitively.
///
/// ```
/// use embedis::glob::glob_match;
/// assert!(glob_match(b"h?llo*", b"hello world", false));
/// assert!(glob_match(b"[a-c]x", b"Bx", true));
/// assert!(!glob_match(b"[^a-c]x", b"bx", false));
/// ```
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, nocase, &mut skip_longer, 0)
}

fn fold(c: u8, nocase: bool) -> u8 {
    if nocase { c.to_ascii_lowercase() } else { c }
}

fn match_impl(
    mut pat: &[u8],
    mut s: &[u8],
    nocase: bool,
    skip_longer: &mut bool,
    nesting: usize,
) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    // `at` mirrors C reading the NUL terminator past the end.
    let at = |p: &[u8], i: usize| p.get(i).copied().unwrap_or(0);
    while !pat.is_empty() && !s.is_empty() {
        match pat[0] {
            b'*' => {
                while pat.len() > 1 && pat[1] == b'*' {
                    pat = &pat[1..];
                }
                if pat.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_impl(&pat[1..], s, nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                // No match for the rest of the pattern anywhere in the rest of the string:
                // earlier stars cannot do better by matching more.
                *skip_longer = true;
                return false;
            }
            b'?' => {
                s = &s[1..];
            }
            b'[' => {
                pat = &pat[1..];
                let not = at(pat, 0) == b'^';
                if not {
                    pat = &pat[1..];
                }
                let mut matched = false;
                loop {
                    if at(pat, 0) == b'\\' && pat.len() >= 2 {
                        pat = &pat[1..];
                        if pat[0] == s[0] {
                            matched = true;
                        }
                    } else if at(pat, 0) == b']' {
                        break;
                    } else if pat.is_empty() {
                        // Unclosed class: Redis steps back so that the pattern advance below
                        // lands on the end.
                        break;
                    } else if pat.len() >= 3 && pat[1] == b'-' {
                        let (mut start, mut end) = (pat[0], pat[2]);
                        let mut c = s[0];
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = start.to_ascii_lowercase();
                            end = end.to_ascii_lowercase();
                            c = c.to_ascii_lowercase();
                        }
                        pat = &pat[2..];
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if fold(pat[0], nocase) == fold(s[0], nocase) {
                        matched = true;
                    }
                    pat = &pat[1..];
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
                if pat.is_empty() {
                    // The unclosed-class case: the C code's step back and step forward cancel.
                    if s.is_empty() {
                        return true;
                    }
                    return false;
                }
            }
            b'\\' if pat.len() >= 2 => {
                pat = &pat[1..];
                if fold(pat[0], nocase) != fold(s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
            c => {
                if fold(c, nocase) != fold(s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        pat = &pat[1..];
        if s.is_empty() {
            while at(pat, 0) == b'*' {
                pat = &pat[1..];
            }
            break;
        }
    }
    pat.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn basics() {
        // Like Redis: the loop never runs on an empty string, so only "" matches it.
        assert!(!m("*", ""));
        assert!(m("*", "abc"));
        assert!(m("a*", "a"));
        assert!(m("a*c", "abbbc"));
        assert!(!m("a*c", "abbb"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hbllo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("maxmemory*", "maxmemory-policy"));
        assert!(!m("", "a"));
        assert!(m("", ""));
        assert!(m("a**", "a"));
        assert!(glob_match(b"MAX*", b"maxclients", true));
        assert!(!glob_match(b"MAX*", b"maxclients", false));
    }

    #[test]
    fn unclosed_class_matches_like_redis() {
        // Redis: "[a" matches "a"; "[ab" against "b" too; nothing may follow.
        assert!(m("[a", "a"));
        assert!(m("[ab", "b"));
        assert!(!m("[a", "ab"));
        assert!(!m("a[", "a"));
        assert!(!m("[", "["));
        assert!(m("[^", "x"));
    }

    #[test]
    fn pathological_patterns_finish() {
        let p = "*a".repeat(50) + "b";
        let s = "a".repeat(60);
        assert!(!m(&p, &s));
    }
}
