//! The differential case format (`tests/cases/*.txt`, described in `tests/cases/README.md`):
//! parsing files into scenarios of commands, each with how its replies are compared.

use std::fmt;
use std::path::{Path, PathBuf};

/// How the two replies to one command are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// Identical frames.
    Exact,
    /// `!unordered`: aggregates sorted (recursively) before comparing.
    Unordered,
    /// `!approx N`: integers may differ by at most N, everything else exact.
    Approx(i64),
    /// `!shape`: only the type and, for aggregates, the length.
    Shape,
    /// `!skip`: sent to both, replies ignored.
    Skip,
}

/// One command line of a case file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1-based line number.
    pub line: usize,
    /// The line as written (for reports).
    pub text: String,
    /// The command's arguments after unquoting.
    pub args: Vec<Vec<u8>>,
    /// How replies are compared.
    pub compare: Compare,
}

/// Commands that run on one fresh connection after FLUSHALL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// Line of the `---` that opened it (1 for the first scenario of a file).
    pub line: usize,
    /// Its commands, in order.
    pub steps: Vec<Step>,
}

/// A parsed case file.
#[derive(Debug, Clone)]
pub struct CaseFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its scenarios (empty ones dropped).
    pub scenarios: Vec<Scenario>,
}

/// A syntax error in a case file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses a whole case file's text into scenarios.
pub fn parse(text: &str) -> Result<Vec<Scenario>, ParseError> {
    let mut scenarios = Vec::new();
    let mut current = Scenario {
        line: 1,
        steps: Vec::new(),
    };
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed == "---" {
            let done = std::mem::replace(
                &mut current,
                Scenario {
                    line,
                    steps: Vec::new(),
                },
            );
            if !done.steps.is_empty() {
                scenarios.push(done);
            }
            continue;
        }
        let err = |message: String| ParseError { line, message };
        let (compare, rest) = directive(trimmed).map_err(err)?;
        let args = split_args(rest).map_err(err)?;
        if args.is_empty() {
            return Err(err("a directive must be followed by a command".into()));
        }
        current.steps.push(Step {
            line,
            text: trimmed.to_string(),
            args,
            compare,
        });
    }
    if !current.steps.is_empty() {
        scenarios.push(current);
    }
    Ok(scenarios)
}

/// Reads and parses one file.
pub fn load(path: &Path) -> Result<CaseFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let scenarios =
        parse(&text).map_err(|e| format!("{}:{}: {}", path.display(), e.line, e.message))?;
    Ok(CaseFile {
        path: path.to_path_buf(),
        scenarios,
    })
}

/// Every `*.txt` in `dir`, sorted by name.
pub fn case_paths(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt") && p.is_file())
        .collect();
    paths.sort();
    Ok(paths)
}

/// The repository's `tests/cases` directory.
pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")
}

/// Splits a leading `!directive` off a line.
fn directive(line: &str) -> Result<(Compare, &str), String> {
    let Some(rest) = line.strip_prefix('!') else {
        return Ok((Compare::Exact, line));
    };
    let (word, rest) = split_word(rest);
    match word {
        "unordered" => Ok((Compare::Unordered, rest)),
        "shape" => Ok((Compare::Shape, rest)),
        "skip" => Ok((Compare::Skip, rest)),
        "approx" => {
            let (n, rest) = split_word(rest);
            match n.parse::<i64>() {
                Ok(n) if n >= 0 => Ok((Compare::Approx(n), rest)),
                _ => Err(format!(
                    "`!approx` needs a non-negative integer tolerance, got {n:?}"
                )),
            }
        }
        other => Err(format!(
            "unknown directive `!{other}` (known: !unordered, !approx N, !shape, !skip)"
        )),
    }
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

/// Splits a command line into arguments: whitespace separates, double quotes group with the
/// escapes `\"` `\\` `\r` `\n` `\t` `\xHH`; outside quotes every byte is literal.
pub fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let bytes = line.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let mut arg = Vec::new();
        if bytes[i] == b'"' {
            let start = i;
            i += 1;
            loop {
                let Some(&b) = bytes.get(i) else {
                    return Err(format!(
                        "unterminated quote starting at column {}",
                        start + 1
                    ));
                };
                i += 1;
                match b {
                    b'"' => break,
                    b'\\' => {
                        let Some(&e) = bytes.get(i) else {
                            return Err("a backslash ends the line inside quotes".into());
                        };
                        i += 1;
                        match e {
                            b'"' => arg.push(b'"'),
                            b'\\' => arg.push(b'\\'),
                            b'r' => arg.push(b'\r'),
                            b'n' => arg.push(b'\n'),
                            b't' => arg.push(b'\t'),
                            b'x' => {
                                let hex = bytes.get(i..i + 2).and_then(|h| {
                                    std::str::from_utf8(h)
                                        .ok()
                                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                                });
                                let Some(v) = hex else {
                                    return Err(format!(
                                        "`\\x` must be followed by two hex digits (column {})",
                                        i - 1
                                    ));
                                };
                                arg.push(v);
                                i += 2;
                            }
                            other => {
                                return Err(format!(
                                    "unknown escape `\\{}` (known: \\\" \\\\ \\r \\n \\t \\xHH)",
                                    other as char
                                ));
                            }
                        }
                    }
                    _ => arg.push(b),
                }
            }
            if bytes.get(i).is_some_and(|b| !b.is_ascii_whitespace()) {
                return Err(format!(
                    "a closing quote must be followed by a space or the end of the line (column {})",
                    i + 1
                ));
            }
        } else {
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                if bytes[i] == b'"' {
                    return Err(format!(
                        "a quote inside an unquoted argument (column {}): quote the whole argument",
                        i + 1
                    ));
                }
                arg.push(bytes[i]);
                i += 1;
            }
        }
        args.push(arg);
    }
    Ok(args)
}

/// The command line rendered back with quotes where needed (for generated reports).
pub fn quote_args(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.iter()
                    .all(|&b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
            if plain {
                String::from_utf8_lossy(a).into_owned()
            } else {
                format!("{:?}", crate::frame::Escaped(a))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<Vec<u8>> {
        split_args(line).unwrap()
    }

    fn strs(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn splits_on_whitespace() {
        assert_eq!(args("SET  k\tv "), strs(&["SET", "k", "v"]));
        assert_eq!(args(""), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn quotes_group_and_unescape() {
        assert_eq!(
            args(r#"SET "key with spaces" "line\r\nbreak\x00binary""#),
            vec![
                b"SET".to_vec(),
                b"key with spaces".to_vec(),
                b"line\r\nbreak\x00binary".to_vec()
            ]
        );
        assert_eq!(args(r#"ECHO "a\"b\\c\td""#)[1], b"a\"b\\c\td".to_vec());
        assert_eq!(args(r#"ECHO "\xff\xFE""#)[1], vec![0xff, 0xfe]);
        assert_eq!(args(r#"SET k """#), strs(&["SET", "k", ""]));
        assert_eq!(args(r#""""#), strs(&[""]));
    }

    #[test]
    fn unquoted_bytes_are_literal() {
        assert_eq!(args(r"GET a\nb 'x"), strs(&["GET", r"a\nb", "'x"]));
        assert_eq!(args("SET ключ значение")[1], "ключ".as_bytes().to_vec());
    }

    #[test]
    fn quoting_mistakes_are_errors() {
        for bad in [
            r#"SET "k v"#,
            r#"SET "k"v"#,
            r#"SET k"v""#,
            r#"SET "\q""#,
            r#"SET "\x4""#,
            r#"SET "\xzz""#,
            r#"SET "abc\"#,
        ] {
            assert!(split_args(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn scenarios_split_on_dashes_and_skip_comments() {
        let text = "# header\nSET k v\n\nGET k\n---\n  # note\n---\nDEL k\n   ---   \n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].line, 1);
        assert_eq!(s[0].steps.len(), 2);
        assert_eq!(s[0].steps[1].line, 4);
        assert_eq!(s[0].steps[1].text, "GET k");
        assert_eq!(s[1].line, 7);
        assert_eq!(s[1].steps[0].args, strs(&["DEL", "k"]));
    }

    #[test]
    fn directives() {
        let s = parse("!unordered KEYS *\n!approx 2 TTL k\n!shape TIME\n!skip  DEBUG x\nGET k\n")
            .unwrap();
        let c: Vec<Compare> = s[0].steps.iter().map(|s| s.compare).collect();
        assert_eq!(
            c,
            [
                Compare::Unordered,
                Compare::Approx(2),
                Compare::Shape,
                Compare::Skip,
                Compare::Exact
            ]
        );
        assert_eq!(s[0].steps[1].args, strs(&["TTL", "k"]));
        assert_eq!(s[0].steps[3].args, strs(&["DEBUG", "x"]));
    }

    #[test]
    fn directive_mistakes_are_errors_with_line_numbers() {
        for (text, line) in [
            ("GET k\n!sorted KEYS *\n", 2),
            ("!approx KEYS *\n", 1),
            ("!approx -1 TTL k\n", 1),
            ("\n\n!skip\n", 3),
            ("GET \"k\n", 1),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
        }
    }

    #[test]
    fn quote_args_round_trips() {
        let a = vec![
            b"SET".to_vec(),
            b"a b".to_vec(),
            b"".to_vec(),
            b"\x00\"".to_vec(),
        ];
        assert_eq!(split_args(&quote_args(&a)).unwrap(), a);
    }
}
