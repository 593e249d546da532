//! Glob-style matching with exactly the semantics of Redis's `stringmatchlen` (KEYS, SCAN
//! MATCH, PSUBSCRIBE, CONFIG GET...): `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\` escapes, and
//! its quirks, which clients can observe and so are kept:
//!
//! - an unterminated class (`[abc`) is closed at the end of the pattern, and `[^` alone
//!   matches any one byte;
//! - ranges compare bytes as C's signed `char` (so `[a-\xff]` is the range `-1..='a'`), and
//!   reversed ranges (`[z-a]`) are swapped;
//! - inside a class a `\` escapes the next byte, compared without case folding;
//! - case folding (`nocase`) is ASCII only, like `tolower` in the C locale.
//!
//! Redis recurses once per `*`; a pattern with many stars could blow the stack, and naive
//! backtracking is exponential. Both are bounded the way Redis 7.0 (with the CVE-2022-36021
//! and CVE-2024-31228 fixes) bounds them: once every placement of some star has failed, no
//! longer placement of an earlier star is tried (the rest was already known not to match
//! anywhere later), and a star nested more than [`MAX_NESTING`] deep matches nothing. Here the
//! recursion is an explicit stack, so deep patterns cost heap, not call stack.

/// Stars nested deeper than this match nothing (Redis's "protection against abusive
/// patterns").
pub const MAX_NESTING: usize = 1000;

/// Whether `string` matches the glob `pattern`; `nocase` folds ASCII case.
///
/// ```
/// use embedis::glob::matches;
/// assert!(matches(b"user:*", b"user:42", false));
/// assert!(matches(b"h[ae]llo", b"hallo", false));
/// assert!(!matches(b"h[^e]llo", b"hello", false));
/// assert!(matches(b"H?LLO", b"hello", true));
/// ```
pub fn matches(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let m = Matcher {
        pattern,
        string,
        nocase,
    };
    // One frame per star whose placements are being tried: (pattern index after the star,
    // string position the rest of the pattern is being tried at).
    let mut stars: Vec<(usize, usize)> = Vec::new();
    let mut outcome = m.run(0, 0);
    loop {
        match outcome {
            Run::Matched => return true,
            Run::Failed => {
                let Some(top) = stars.last_mut() else {
                    return false;
                };
                top.1 += 1;
                if top.1 >= string.len() {
                    // Every placement of this star failed: Redis sets skipLongerMatches and
                    // every enclosing star gives up too.
                    return false;
                }
                outcome = m.nested(top.0, top.1, stars.len());
            }
            Run::Star { rest, at } => {
                stars.push((rest, at));
                outcome = m.nested(rest, at, stars.len());
            }
        }
    }
}

/// How a straight run of the pattern (up to its next star) ended.
enum Run {
    Matched,
    Failed,
    /// Reached a star that is not the last thing in the pattern: the rest of the pattern
    /// (from `rest`) must be tried at string positions `at`, `at + 1`, ...
    Star {
        rest: usize,
        at: usize,
    },
}

struct Matcher<'a> {
    pattern: &'a [u8],
    string: &'a [u8],
    nocase: bool,
}

impl Matcher<'_> {
    /// The pattern byte at `i`, or 0 past the end (Redis reads the terminating NUL there).
    #[inline]
    fn pat(&self, i: usize) -> u8 {
        self.pattern.get(i).copied().unwrap_or(0)
    }

    #[inline]
    fn eq(&self, a: u8, b: u8) -> bool {
        if self.nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    }

    /// A run started by a star at nesting depth `depth`.
    fn nested(&self, p: usize, s: usize, depth: usize) -> Run {
        if depth > MAX_NESTING {
            Run::Failed
        } else {
            self.run(p, s)
        }
    }

    /// Matches from pattern index `p` and string position `s` until the end, a mismatch, or
    /// a star that needs backtracking.
    fn run(&self, mut p: usize, mut s: usize) -> Run {
        let (pattern, string) = (self.pattern, self.string);
        let plen = pattern.len();
        while p < plen && s < string.len() {
            match pattern[p] {
                b'*' => {
                    while p < plen && self.pat(p + 1) == b'*' {
                        p += 1;
                    }
                    if plen - p == 1 {
                        return Run::Matched;
                    }
                    return Run::Star { rest: p + 1, at: s };
                }
                b'?' => s += 1,
                b'[' => {
                    p += 1;
                    let not = self.pat(p) == b'^';
                    if not {
                        p += 1;
                    }
                    let c = string[s];
                    let mut matched = false;
                    loop {
                        if self.pat(p) == b'\\' && plen - p >= 2 {
                            p += 1;
                            if pattern[p] == c {
                                matched = true;
                            }
                        } else if self.pat(p) == b']' {
                            break;
                        } else if p == plen {
                            // Unterminated class: step back so that the caller's step past
                            // the class lands on the end of the pattern.
                            p -= 1;
                            break;
                        } else if plen - p >= 3 && pattern[p + 1] == b'-' {
                            // C compares `char`s, signed on the platforms Redis runs on.
                            let mut start = pattern[p] as i8 as i32;
                            let mut end = pattern[p + 2] as i8 as i32;
                            let mut ch = c as i8 as i32;
                            if start > end {
                                std::mem::swap(&mut start, &mut end);
                            }
                            if self.nocase {
                                start = ascii_lower(start);
                                end = ascii_lower(end);
                                ch = ascii_lower(ch);
                            }
                            p += 2;
                            if ch >= start && ch <= end {
                                matched = true;
                            }
                        } else if self.eq(pattern[p], c) {
                            matched = true;
                        }
                        p += 1;
                    }
                    if not {
                        matched = !matched;
                    }
                    if !matched {
                        return Run::Failed;
                    }
                    s += 1;
                }
                b'\\' => {
                    if plen - p >= 2 {
                        p += 1;
                    }
                    if !self.eq(pattern[p], string[s]) {
                        return Run::Failed;
                    }
                    s += 1;
                }
                b => {
                    if !self.eq(b, string[s]) {
                        return Run::Failed;
                    }
                    s += 1;
                }
            }
            p += 1;
            if s == string.len() {
                while self.pat(p) == b'*' {
                    p += 1;
                }
                break;
            }
        }
        if p == plen && s == string.len() {
            Run::Matched
        } else {
            Run::Failed
        }
    }
}

/// `tolower` in the C locale on a (possibly negative) `char` value.
fn ascii_lower(c: i32) -> i32 {
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
        matches(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn basics() {
        // Redis's loop never runs on an empty string, so even `*` fails there (KEYS and SCAN
        // special-case the pattern `*` before matching).
        assert!(!m("*", ""));
        assert!(!m("**", ""));
        assert!(m("*", "abc"));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(!m("a", ""));
        assert!(m("a*", "a"));
        assert!(m("a**", "a"));
        assert!(m("*a*", "bab"));
        assert!(!m("*a*", "bbb"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("*.txt", "a.b.txt"));
        assert!(!m("*.txt", "a.b.txt2"));
        assert!(m("a*b*c", "aXbYc"));
        assert!(m("a*b*c", "abbbc"));
        assert!(!m("a*b*c", "acb"));
        assert!(!m("?", ""));
        assert!(m("??", "ab"));
    }

    #[test]
    fn classes() {
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"), "reversed range is swapped");
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(!m("[]]", "]"));
        // `]` right after `[` closes the (empty) class, which then matches nothing.
        assert!(!m("[]a]", "a"));
        // Escapes inside a class.
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-]", "-"));
        // `[a-]` is the range a..=']' (swapped to ']'..='a') and then an unterminated class.
        assert!(!m("[a-]", "-"));
        assert!(m("[a-]", "^"));
        assert!(m("[-a]", "-"));
    }

    #[test]
    fn unterminated_classes_like_redis() {
        // Checked against redis-server 7.0: KEYS "[^" matches any one-byte key, "[" nothing.
        assert!(m("[^", "x"));
        assert!(!m("[^", "xy"));
        assert!(!m("[", "x"));
        assert!(m("[x", "x"));
        assert!(!m("x[", "x"));
        assert!(m("[ab", "b"));
        assert!(m("[a-", "a"));
        assert!(m("[a-", "-"));
    }

    #[test]
    fn escapes() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("a\\", "a\\"));
        assert!(m("\\?x", "?x"));
        assert!(!m("\\?x", "ax"));
    }

    #[test]
    fn signed_char_ranges() {
        // [a-\xff]: 0xff is -1 as a signed char, so the range is -1..='a' after the swap.
        assert!(matches(b"[a-\xff]", b"\xff", false));
        assert!(!matches(b"[a-\xff]", b"\x80", false));
        assert!(matches(b"[a-\xff]", b"0", false));
        assert!(matches(b"[a-\xff]", b"a", false));
        assert!(!matches(b"[a-\xff]", b"b", false));
        assert!(!matches(b"[a-\xff]", b"\xff\xff", false));
    }

    #[test]
    fn nocase() {
        assert!(matches(b"HELLO", b"hello", true));
        assert!(matches(b"h[A-C]llo", b"hbllo", true));
        assert!(matches(b"h[a-c]llo", b"hBllo", true));
        assert!(matches(b"[X]", b"x", true));
        assert!(!matches(b"HELLO", b"hello", false));
        // Escaped bytes inside a class are compared exactly.
        assert!(!matches(b"[\\X]", b"x", true));
    }

    #[test]
    fn binary_and_nul() {
        assert!(matches(b"a\x00*", b"a\x00bc", false));
        assert!(!matches(b"a\x00*", b"ab", false));
    }

    #[test]
    fn nesting_limit_like_redis() {
        // Checked against redis-server 7.0: 1000 nested stars still match, 1001 do not.
        let key = vec![b'a'; 3000];
        assert!(matches(&b"*a".repeat(1000), &key, false));
        assert!(!matches(&b"*a".repeat(1001), &key, false));
        // A trailing star does not nest.
        assert!(matches(&b"a*".repeat(1001), &key, false));
    }

    #[test]
    fn hostile_patterns_are_fast() {
        let key = vec![b'a'; 10_000];
        let mut pat = b"*a".repeat(900);
        pat.push(b'b');
        let t = std::time::Instant::now();
        assert!(!matches(&pat, &key, false));
        let pat2 = b"a*".repeat(5000);
        assert!(!matches(&pat2, &vec![b'a'; 4000], false));
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
    }

    /// A plain recursive transcription of Redis's algorithm, to check the iterative one.
    fn reference(p: &[u8], s: &[u8], nocase: bool, skip: &mut bool, nesting: usize) -> bool {
        if nesting > MAX_NESTING {
            return false;
        }
        let m = Matcher {
            pattern: p,
            string: s,
            nocase,
        };
        match m.run(0, 0) {
            Run::Matched => true,
            Run::Failed => false,
            Run::Star { rest, at } => {
                for start in at..s.len() {
                    if reference(&p[rest..], &s[start..], nocase, skip, nesting + 1) {
                        return true;
                    }
                    if *skip {
                        return false;
                    }
                }
                *skip = true;
                false
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn iterative_equals_recursive(
            p in proptest::collection::vec(proptest::sample::select(b"ab*?[]^-\\".to_vec()), 0..12),
            s in proptest::collection::vec(proptest::sample::select(b"ab-]".to_vec()), 0..10),
            nocase in proptest::bool::ANY,
        ) {
            let mut skip = false;
            proptest::prop_assert_eq!(matches(&p, &s, nocase), reference(&p, &s, nocase, &mut skip, 0));
        }
    }
}
