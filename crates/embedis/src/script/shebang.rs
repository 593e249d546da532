//! Script flags and the first line of scripts and libraries: `#!lua flags=no-writes` for EVAL
//! scripts, `#!lua name=mylib` for FUNCTION LOAD, split like Redis's `sdssplitargs`.

use crate::error::{self, Error, Result};

/// Script flags (shebang `flags=` for EVAL, `flags` of `redis.register_function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScriptFlags(u32);

impl ScriptFlags {
    /// `no-writes`: the script never writes (allowed by EVAL_RO/FCALL_RO).
    pub const NO_WRITES: u32 = 1 << 0;
    /// `allow-oom`: may run write commands over maxmemory.
    pub const ALLOW_OOM: u32 = 1 << 1;
    /// `allow-stale`: may run on a stale replica.
    pub const ALLOW_STALE: u32 = 1 << 2;
    /// `no-cluster`: refuses to run in cluster mode.
    pub const NO_CLUSTER: u32 = 1 << 3;
    /// `allow-cross-slot-keys`: may touch keys of several slots.
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 4;
    /// An EVAL script without a shebang: Redis's pre-7.0 behaviour, where flags do not apply
    /// (the script may write unless run by EVAL_RO).
    pub const EVAL_COMPAT_MODE: u32 = 1 << 5;

    /// The flags and their names, in Redis's order (`scripts_flags_def`).
    pub const NAMES: &'static [(u32, &'static str)] = &[
        (Self::NO_WRITES, "no-writes"),
        (Self::ALLOW_OOM, "allow-oom"),
        (Self::ALLOW_STALE, "allow-stale"),
        (Self::NO_CLUSTER, "no-cluster"),
        (Self::ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
    ];

    /// Flags from bits.
    pub const fn from_bits(bits: u32) -> Self {
        ScriptFlags(bits)
    }

    /// Whether a flag is set.
    pub fn has(self, flag: u32) -> bool {
        self.0 & flag != 0
    }

    /// The bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// The flag called `name`, compared exactly (shebang) or ignoring ASCII case
    /// (`redis.register_function`).
    pub fn by_name(name: &[u8], ignore_case: bool) -> Option<u32> {
        Self::NAMES.iter().find_map(|&(bit, n)| {
            let same = if ignore_case {
                name.eq_ignore_ascii_case(n.as_bytes())
            } else {
                name == n.as_bytes()
            };
            same.then_some(bit)
        })
    }

    /// The names of the flags set, in Redis's order (FUNCTION LIST).
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .iter()
            .filter(move |(bit, _)| self.0 & bit != 0)
            .map(|&(_, n)| n)
    }
}

/// Splits a line into arguments like Redis's `sdssplitargs` (redis-cli, redis.conf, shebangs):
/// blanks separate, double quotes take `\n \r \t \b \a \xHH` escapes, single quotes take `\'`,
/// a closing quote must be followed by a blank or the end. `None` on unbalanced quotes. Like the
/// C original, the line ends at a NUL byte.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let end = memchr::memchr(0, line).unwrap_or(line.len());
    let line = &line[..end];
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let mut out = Vec::new();
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(out);
        }
        let (mut inq, mut insq) = (false, false);
        let mut current = Vec::new();
        loop {
            let c = at(p);
            if inq {
                if c == b'\\'
                    && at(p + 1) == b'x'
                    && at(p + 2).is_ascii_hexdigit()
                    && at(p + 3).is_ascii_hexdigit()
                {
                    let hex = |d: u8| (d as char).to_digit(16).unwrap_or(0) as u8;
                    current.push(hex(at(p + 2)) * 16 + hex(at(p + 3)));
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else if insq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        if c != 0 {
                            p += 1;
                        }
                        break;
                    }
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    _ => current.push(c),
                }
            }
            if c != 0 {
                p += 1;
            }
        }
        out.push(current);
    }
}

/// Reads the flags of an EVAL script (Redis's `evalExtractShebangFlags`). Returns the flags and
/// the length of the shebang line (without its `\n`), which the compiler skips while keeping the
/// line feed so that line numbers stay the user's.
pub fn eval_flags(body: &[u8]) -> Result<(ScriptFlags, usize)> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags(ScriptFlags::EVAL_COMPAT_MODE), 0));
    }
    let Some(len) = memchr::memchr(b'\n', body) else {
        return Err(error::INVALID_SHEBANG);
    };
    let parts = match split_args(&body[..len]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err(error::INVALID_SHEBANG_ENGINE),
    };
    if parts[0] != b"#!lua" {
        return Err(Error::err_msg(format_args!(
            "Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(&parts[0])
        )));
    }
    let mut flags = 0;
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(Error::err_msg(format_args!(
                "Unknown lua shebang option: {}",
                String::from_utf8_lossy(part)
            )));
        };
        if list.is_empty() {
            continue;
        }
        for name in list.split(|&b| b == b',') {
            match ScriptFlags::by_name(name, false) {
                Some(bit) => flags |= bit,
                None => {
                    return Err(Error::err_msg(format_args!(
                        "Unexpected flag in script shebang: {}",
                        String::from_utf8_lossy(name)
                    )));
                }
            }
        }
    }
    Ok((ScriptFlags(flags), len))
}

/// The first line of a FUNCTION LOAD payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryMeta {
    /// The engine (`lua`), as written after `#!`.
    pub engine: Vec<u8>,
    /// The library name.
    pub name: Vec<u8>,
    /// Offset of the code: the `\n` ending the first line, kept so line numbers stay the user's.
    pub code_start: usize,
}

/// Reads a library's metadata line (Redis's `functionExtractLibMetaData`).
pub fn library_meta(payload: &[u8]) -> Result<LibraryMeta> {
    if !payload.starts_with(b"#!") {
        return Err(error::LIBRARY_METADATA_MISSING);
    }
    let Some(len) = memchr::memchr(b'\n', payload) else {
        return Err(error::LIBRARY_METADATA_INVALID);
    };
    let parts = match split_args(&payload[..len]) {
        Some(p) if !p.is_empty() => p,
        _ => return Err(error::LIBRARY_METADATA_INVALID),
    };
    let engine = parts[0].get(2..).unwrap_or_default().to_vec();
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(error::LIBRARY_NAME_TWICE);
            }
            name = Some(part[5..].to_vec());
            continue;
        }
        return Err(Error::err_msg(format_args!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        )));
    }
    let Some(name) = name else {
        return Err(error::LIBRARY_NAME_MISSING);
    };
    Ok(LibraryMeta {
        engine,
        name,
        code_start: len,
    })
}

/// Redis's rule for library and function names: `[A-Za-z0-9_]+`.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8(a).unwrap())
                .collect()
        })
    }

    #[test]
    fn splits_like_sdssplitargs() {
        assert_eq!(split("  a b\tc  ").unwrap(), ["a", "b", "c"]);
        assert_eq!(split(r#""a b" 'c d'"#).unwrap(), ["a b", "c d"]);
        assert_eq!(split(r#""\x41\n""#).unwrap(), ["A\n"]);
        assert_eq!(split(r#"'it\'s'"#).unwrap(), ["it's"]);
        assert_eq!(split(r#"a"b c""#).unwrap(), ["ab c"]);
        assert_eq!(split(r#""unterminated"#), None);
        assert_eq!(split(r#""a"b"#), None);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        assert_eq!(split("a\0b").unwrap(), ["a"]);
    }

    #[test]
    fn eval_shebangs() {
        let (f, n) = eval_flags(b"return 1").unwrap();
        assert!(f.has(ScriptFlags::EVAL_COMPAT_MODE));
        assert_eq!(n, 0);
        let (f, n) = eval_flags(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(f.has(ScriptFlags::NO_WRITES) && f.has(ScriptFlags::ALLOW_OOM));
        assert!(!f.has(ScriptFlags::EVAL_COMPAT_MODE));
        assert_eq!(n, 31);
        let (f, _) = eval_flags(b"#!lua flags=\nreturn 1").unwrap();
        assert_eq!(f.bits(), 0);
        let e = |b: &[u8]| eval_flags(b).unwrap_err().to_string();
        assert_eq!(e(b"#!lua"), "ERR Invalid script shebang");
        assert_eq!(
            e(b"#!lua flags=bogus\n"),
            "ERR Unexpected flag in script shebang: bogus"
        );
        assert_eq!(
            e(b"#!lua flags=no-writes,\n"),
            "ERR Unexpected flag in script shebang: "
        );
        assert_eq!(
            e(b"#!lua name=x\n"),
            "ERR Unknown lua shebang option: name=x"
        );
        assert_eq!(
            e(b"#!python\n"),
            "ERR Unexpected engine in script shebang: #!python"
        );
        assert_eq!(e(b"#!\"lua\n"), "ERR Invalid engine in script shebang");
    }

    #[test]
    fn library_metadata() {
        let m = library_meta(b"#!lua name=mylib\nredis.register_function()").unwrap();
        assert_eq!(m.engine, b"lua");
        assert_eq!(m.name, b"mylib");
        assert_eq!(m.code_start, 16);
        let e = |b: &[u8]| library_meta(b).unwrap_err().to_string();
        assert_eq!(e(b"return 1"), "ERR Missing library metadata");
        assert_eq!(e(b"#!lua name=x"), "ERR Invalid library metadata");
        assert_eq!(e(b"#!lua\n"), "ERR Library name was not given");
        assert_eq!(
            e(b"#!lua name=a name=b\n"),
            "ERR Invalid metadata value, name argument was given multiple times"
        );
        assert_eq!(
            e(b"#!lua name=a x=y\n"),
            "ERR Invalid metadata value given: x=y"
        );
        assert!(valid_name(b"lib_1"));
        assert!(!valid_name(b"li-b"));
        assert!(!valid_name(b""));
    }
}
