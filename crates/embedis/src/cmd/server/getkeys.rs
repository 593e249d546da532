//! Which arguments of a command are keys (COMMAND GETKEYS / GETKEYSANDFLAGS), found the way
//! Redis 7.0 finds them: from the command's key specs, falling back to the command's own key
//! finder where a spec cannot be followed from the arguments alone (SORT, MIGRATE) or has
//! flags that depend on the arguments (SET ... GET, BITFIELD).

use bytes::Bytes;

use super::command_data::{self, BeginSearch, CommandData, FindKeys, KeySpec};
use crate::cmd::CommandRef;

/// A key argument: its position in the command and how the command accesses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    /// Index into the arguments (0 is the command name).
    pub pos: usize,
    /// Key-spec flags (`RW`, `access`, `update`, ...); empty where Redis gives none.
    pub flags: Vec<&'static str>,
}

const RO_ACCESS: &[&str] = &["RO", "access"];
const OW_UPDATE: &[&str] = &["OW", "update"];
const RW_ACCESS_UPDATE: &[&str] = &["RW", "access", "update"];
const RW_ACCESS_DELETE: &[&str] = &["RW", "access", "delete"];

fn key(pos: usize, flags: &[&'static str]) -> KeyRef {
    KeyRef {
        pos,
        flags: flags.to_vec(),
    }
}

/// Whether the command can have key arguments at all.
pub fn has_keys(cmd: CommandRef) -> bool {
    match command_data::lookup(cmd.full_name) {
        Some(d) => has_finder(cmd.full_name) || d.key_specs.iter().any(|s| !s.has("not_key")),
        None => cmd.spec.first_key != 0,
    }
}

/// The keys of `args` (a whole command, name first) for `cmd`.
pub fn command_keys(cmd: CommandRef, args: &[Bytes]) -> Vec<KeyRef> {
    let Some(data) = command_data::lookup(cmd.full_name) else {
        return legacy_range(cmd, args.len());
    };
    let has_spec = data.key_specs.iter().any(|s| !s.has("not_key"));
    let variable = data.key_specs.iter().any(|s| s.has("variable_flags"));
    if has_spec
        && !variable
        && let Some(keys) = from_specs(data, args)
    {
        return keys;
    }
    finder(cmd.full_name, args).unwrap_or_default()
}

/// First/last/step of a command Redis has no data for (our own commands).
fn legacy_range(cmd: CommandRef, argc: usize) -> Vec<KeyRef> {
    let s = cmd.spec;
    if s.first_key <= 0 {
        return Vec::new();
    }
    let argc = argc as i64;
    let first = s.first_key as i64;
    let last = if s.last_key < 0 {
        argc + s.last_key as i64
    } else {
        s.last_key as i64
    };
    let step = (s.step as i64).max(1);
    let mut keys = Vec::new();
    let mut i = first;
    while i <= last {
        if i >= argc {
            return Vec::new();
        }
        keys.push(key(i as usize, &[]));
        i += step;
    }
    keys
}

/// Keys from the key specs; `None` when a spec cannot be followed (Redis then asks the
/// command's own finder).
fn from_specs(data: &CommandData, args: &[Bytes]) -> Option<Vec<KeyRef>> {
    let argc = args.len() as i64;
    let mut keys = Vec::new();
    for spec in &data.key_specs {
        if spec.has("not_key") {
            continue;
        }
        let mut first = match begin(spec, args) {
            Start::At(i) => i,
            Start::Skip => continue,
            Start::Invalid => return None,
        };
        let (last, step) = match spec.find {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit == 0 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit + lastkey)
                };
                (last, keystep)
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let at = first + keynumidx;
                if at < 0 || at >= argc {
                    return None;
                }
                let n = crate::num::parse_i64(&args[at as usize]).filter(|&n| n >= 0)?;
                first += firstkey;
                (first.checked_add(n)? - 1, keystep)
            }
            FindKeys::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc {
            return None;
        }
        let step = step.max(1);
        let mut i = first;
        while i <= last {
            if i < argc {
                keys.push(KeyRef {
                    pos: i as usize,
                    flags: spec.flags.clone(),
                });
            }
            i += step;
        }
        if spec.has("incomplete") {
            return None;
        }
    }
    Some(keys)
}

/// Where a spec's keys start.
enum Start {
    At(i64),
    /// The keyword is absent: the spec has no keys here.
    Skip,
    /// Not derivable from the arguments: the specs cannot be followed.
    Invalid,
}

fn begin(spec: &KeySpec, args: &[Bytes]) -> Start {
    let argc = args.len() as i64;
    match spec.begin {
        BeginSearch::Index(i) => Start::At(i),
        BeginSearch::Keyword { keyword, startfrom } => {
            let (start, end) = if startfrom > 0 {
                (startfrom, argc - 1)
            } else {
                (argc + startfrom, 1)
            };
            let mut i = start;
            // Like Redis, the end index itself is not examined.
            while i != end {
                if i >= argc || i < 1 {
                    break;
                }
                if args[i as usize].eq_ignore_ascii_case(keyword.as_bytes()) {
                    return Start::At(i + 1);
                }
                i = if start <= end { i + 1 } else { i - 1 };
            }
            Start::Skip
        }
        BeginSearch::Unknown => Start::Invalid,
    }
}

/// Commands with their own key finder in Redis.
fn has_finder(name: &str) -> bool {
    matches!(
        name,
        "zunionstore"
            | "zinterstore"
            | "zdiffstore"
            | "zunion"
            | "zinter"
            | "zdiff"
            | "zintercard"
            | "sintercard"
            | "lmpop"
            | "zmpop"
            | "blmpop"
            | "bzmpop"
            | "eval"
            | "evalsha"
            | "eval_ro"
            | "evalsha_ro"
            | "fcall"
            | "fcall_ro"
            | "sort"
            | "sort_ro"
            | "migrate"
            | "georadius"
            | "georadiusbymember"
            | "xread"
            | "xreadgroup"
            | "set"
            | "bitfield"
    )
}

/// The command's own key finder, as in Redis's db.c; `None` if it has none.
fn finder(name: &str, args: &[Bytes]) -> Option<Vec<KeyRef>> {
    Some(match name {
        "zunionstore" | "zinterstore" | "zdiffstore" => numkeys_keys(1, 2, 3, args),
        "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" | "lmpop" | "zmpop" => {
            numkeys_keys(0, 1, 2, args)
        }
        "blmpop" | "bzmpop" | "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall"
        | "fcall_ro" => numkeys_keys(0, 2, 3, args),
        "sort" => sort_keys(args),
        "sort_ro" => vec![key(1, RO_ACCESS)],
        "migrate" => migrate_keys(args),
        "georadius" | "georadiusbymember" => georadius_keys(args),
        "xread" | "xreadgroup" => xread_keys(args),
        "set" => set_keys(args),
        "bitfield" => bitfield_keys(args),
        _ => return None,
    })
}

/// C's `atoi`: leading spaces, a sign, digits, anything after ignored; the long result cut
/// to an int.
fn atoi(s: &[u8]) -> i64 {
    let mut i = 0;
    while i < s.len() && (s[i] == b' ' || (b'\t'..=b'\r').contains(&s[i])) {
        i += 1;
    }
    let neg = s.get(i) == Some(&b'-');
    if matches!(s.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let mut n: i64 = 0;
    while let Some(c) = s.get(i).filter(|c| c.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(c - b'0'));
        i += 1;
    }
    (if neg { -n } else { n }) as i32 as i64
}

/// `[destkey] numkeys key...` commands (Redis's `genericGetKeys`): the keys, then the
/// destination; none when the count does not fit.
fn numkeys_keys(store: usize, count_at: usize, first: usize, args: &[Bytes]) -> Vec<KeyRef> {
    let Some(count) = args.get(count_at) else {
        return Vec::new();
    };
    let num = atoi(count);
    let argc = args.len() as i64;
    if num < 1 || num > argc - first as i64 {
        return Vec::new();
    }
    let mut keys: Vec<KeyRef> = (0..num as usize).map(|i| key(first + i, &[])).collect();
    if store != 0 {
        keys.push(key(store, &[]));
    }
    keys
}

fn sort_keys(args: &[Bytes]) -> Vec<KeyRef> {
    let mut keys = vec![key(1, RO_ACCESS)];
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        // The last STORE wins, as in SORT itself.
        if a.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"store") && i + 1 < args.len() {
            store = Some(i + 1);
        } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
            i += 1;
        }
        i += 1;
    }
    if let Some(pos) = store {
        keys.push(key(pos, OW_UPDATE));
    }
    keys
}

fn migrate_keys(args: &[Bytes]) -> Vec<KeyRef> {
    let argc = args.len();
    let (mut first, mut num) = (3, 1);
    if argc > 6 {
        let mut i = 6;
        while i < argc {
            let a = &args[i];
            if a.eq_ignore_ascii_case(b"keys") {
                if args.get(3).is_some_and(|k| !k.is_empty()) {
                    num = 0;
                } else {
                    first = i + 1;
                    num = argc - first;
                }
                break;
            } else if a.eq_ignore_ascii_case(b"auth") {
                i += 1;
            } else if a.eq_ignore_ascii_case(b"auth2") {
                i += 2;
            }
            i += 1;
        }
    }
    (0..num)
        .filter(|i| first + i < argc)
        .map(|i| key(first + i, RW_ACCESS_DELETE))
        .collect()
}

fn georadius_keys(args: &[Bytes]) -> Vec<KeyRef> {
    let mut stored = None;
    let mut i = 5;
    while i < args.len() {
        let a = &args[i];
        if (a.eq_ignore_ascii_case(b"store") || a.eq_ignore_ascii_case(b"storedist"))
            && i + 1 < args.len()
        {
            stored = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    let mut keys = vec![key(1, &[])];
    if let Some(pos) = stored {
        keys.push(key(pos, &[]));
    }
    keys
}

fn xread_keys(args: &[Bytes]) -> Vec<KeyRef> {
    let argc = args.len();
    let mut streams = None;
    let mut i = 1;
    while i < argc {
        let a = &args[i];
        if a.eq_ignore_ascii_case(b"block") || a.eq_ignore_ascii_case(b"count") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"group") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"noack") {
        } else if a.eq_ignore_ascii_case(b"streams") {
            streams = Some(i);
            break;
        } else {
            break;
        }
        i += 1;
    }
    let Some(pos) = streams else {
        return Vec::new();
    };
    let num = argc - pos - 1;
    if num == 0 || num % 2 != 0 {
        return Vec::new();
    }
    (pos + 1..argc - num / 2).map(|i| key(i, &[])).collect()
}

fn set_keys(args: &[Bytes]) -> Vec<KeyRef> {
    let get = args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
    vec![key(1, if get { RW_ACCESS_UPDATE } else { OW_UPDATE })]
}

fn bitfield_keys(args: &[Bytes]) -> Vec<KeyRef> {
    let argc = args.len();
    let mut readonly = true;
    let mut i = 2;
    while i < argc {
        let rem = argc - i - 1;
        let a = &args[i];
        if a.eq_ignore_ascii_case(b"get") && rem >= 2 {
            i += 2;
        } else if (a.eq_ignore_ascii_case(b"set") || a.eq_ignore_ascii_case(b"incrby")) && rem >= 3
        {
            readonly = false;
            break;
        } else if a.eq_ignore_ascii_case(b"overflow") && rem >= 1 {
            i += 1;
        } else {
            readonly = false;
            break;
        }
        i += 1;
    }
    vec![key(
        1,
        if readonly {
            RO_ACCESS
        } else {
            RW_ACCESS_UPDATE
        },
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ')
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    fn spec_keys(name: &str, cmd: &str) -> Option<Vec<usize>> {
        let d = command_data::lookup(name).unwrap();
        from_specs(d, &args(cmd)).map(|k| k.iter().map(|k| k.pos).collect())
    }

    #[test]
    fn specs_find_keys_like_redis() {
        assert_eq!(spec_keys("get", "get k"), Some(vec![1]));
        assert_eq!(spec_keys("del", "del a b c"), Some(vec![1, 2, 3]));
        assert_eq!(spec_keys("mset", "mset a 1 b 2"), Some(vec![1, 3]));
        assert_eq!(
            spec_keys("zunionstore", "zunionstore d 2 a b"),
            Some(vec![1, 3, 4])
        );
        assert_eq!(spec_keys("zunionstore", "zunionstore d 5 a b"), None);
        assert_eq!(spec_keys("eval", "eval s 2 k j"), Some(vec![3, 4]));
        assert_eq!(spec_keys("eval", "eval s 0"), None);
        assert_eq!(
            spec_keys("xread", "xread count 2 streams a b 0 0"),
            Some(vec![4, 5])
        );
        assert_eq!(spec_keys("sort", "sort k"), None);
        assert_eq!(spec_keys("memory|usage", "memory usage k"), Some(vec![2]));
        assert_eq!(
            spec_keys("georadius", "georadius k 0 0 1 m store d"),
            Some(vec![1, 7])
        );
    }

    #[test]
    fn finders_match_redis() {
        let pos = |v: Vec<KeyRef>| v.iter().map(|k| k.pos).collect::<Vec<_>>();
        assert_eq!(
            pos(finder("sort", &args("sort k store d")).unwrap()),
            vec![1, 3]
        );
        assert_eq!(
            pos(finder("sort", &args("sort k limit 0 1 store d")).unwrap()),
            vec![1, 6]
        );
        assert_eq!(
            finder("set", &args("set a b get")).unwrap()[0].flags,
            RW_ACCESS_UPDATE
        );
        assert_eq!(finder("set", &args("set a b")).unwrap()[0].flags, OW_UPDATE);
        let mut m = args("migrate h p k 0 5 keys a b");
        assert!(finder("migrate", &m).unwrap().is_empty());
        m[3] = Bytes::new();
        assert_eq!(pos(finder("migrate", &m).unwrap()), vec![7, 8]);
        assert_eq!(
            pos(finder("migrate", &args("migrate h p k 0 5")).unwrap()),
            vec![3]
        );
        assert_eq!(
            finder("bitfield", &args("bitfield k get u8 0")).unwrap()[0].flags,
            RO_ACCESS
        );
        assert_eq!(
            pos(finder("zunionstore", &args("zunionstore d 2 a b")).unwrap()),
            vec![3, 4, 1]
        );
        assert!(finder("eval", &args("eval s 0")).unwrap().is_empty());
        assert_eq!(atoi(b" 12abc"), 12);
        assert_eq!(atoi(b"99999999999"), 99999999999i64 as i32 as i64);
    }
}
