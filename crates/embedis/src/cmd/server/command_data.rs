//! Redis 7.0's own description of every command: the `COMMAND INFO` and `COMMAND DOCS`
//! replies of the reference server, embedded from `command-data-7.0.txt` (written by
//! `tests/tools/gen-command-data.py`, which documents the format: one RESP3 token per line,
//! so maps, sets and status strings keep their types in both protocols).
//!
//! COMMAND INFO/DOCS/GETKEYS read ACL categories, tips, key specs and docs from here, but
//! only for commands in our table; arity, flags and key positions come from the table rows,
//! which drive dispatch. The tests check every row against this data.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use crate::reply::Reply;

const DATA: &str = include_str!("command-data-7.0.txt");

/// Where a key spec starts looking for keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeginSearch {
    /// At a fixed argument index.
    Index(i64),
    /// After a keyword, searched from `startfrom` (negative: from the end, backwards).
    Keyword {
        /// The keyword, e.g. `STREAMS`.
        keyword: &'static str,
        /// Where to start searching.
        startfrom: i64,
    },
    /// Cannot be found from the arguments alone (SORT's BY/GET keys).
    Unknown,
}

/// How a key spec finds its keys from where it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindKeys {
    /// A range: the last key relative to the first (negative: from the end), every
    /// `keystep`; `limit` splits the remaining arguments (XREAD's keys and ids).
    Range {
        /// Last key index, relative.
        lastkey: i64,
        /// Step between keys.
        keystep: i64,
        /// Divisor of the remaining arguments when `lastkey` is -1 (0: none).
        limit: i64,
    },
    /// An argument gives the number of keys.
    Keynum {
        /// Index of the count, relative to the start.
        keynumidx: i64,
        /// Index of the first key, relative to the start.
        firstkey: i64,
        /// Step between keys.
        keystep: i64,
    },
    /// Cannot be found from the arguments alone.
    Unknown,
}

/// One of a command's key specs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// Flags as Redis names them (`RO`, `access`, `incomplete`, ...).
    pub flags: Vec<&'static str>,
    /// Start of the search.
    pub begin: BeginSearch,
    /// How keys follow.
    pub find: FindKeys,
}

impl KeySpec {
    /// Whether the spec has a flag.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }
}

/// What Redis 7.0 says about one command or subcommand.
#[derive(Debug)]
pub struct CommandData {
    /// `name` or `container|sub`.
    pub name: &'static str,
    /// Redis's arity.
    pub arity: i64,
    /// Redis's visible command flags (`write`, `fast`, ...).
    pub flags: Vec<&'static str>,
    /// Legacy first key position.
    pub first_key: i64,
    /// Legacy last key position.
    pub last_key: i64,
    /// Legacy key step.
    pub step: i64,
    /// ACL categories, as the set COMMAND INFO sends.
    pub acl_categories: &'static Reply,
    /// Tips, as the set COMMAND INFO sends.
    pub tips: &'static Reply,
    /// Key specs, as the set COMMAND INFO sends.
    pub key_specs_reply: &'static Reply,
    /// Key specs, decoded for GETKEYS.
    pub key_specs: Vec<KeySpec>,
    /// The COMMAND DOCS map (with all of Redis's subcommands).
    pub docs: &'static Reply,
}

/// Looks up a command (`get`) or subcommand (`client|list`) by its lower-case full name.
pub fn lookup(full_name: &str) -> Option<&'static CommandData> {
    index().get(full_name)
}

/// Every command and subcommand Redis 7.0 has.
pub fn all() -> impl Iterator<Item = &'static CommandData> {
    index().values()
}

fn index() -> &'static HashMap<&'static str, CommandData> {
    static INDEX: OnceLock<HashMap<&'static str, CommandData>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut map = HashMap::new();
        // The data is compiled in and checked by the tests; if it ever failed to parse, COMMAND
        // would describe no command rather than take the process down.
        if let Some(tree) = parse(DATA) {
            let tree: &'static Reply = Box::leak(Box::new(tree));
            if let Reply::Array(pairs) = tree {
                for pair in pairs {
                    if let Reply::Array(p) = pair
                        && let [info, docs] = p.as_slice()
                    {
                        add(&mut map, info, docs);
                    }
                }
            }
        }
        map
    })
}

fn add(map: &mut HashMap<&'static str, CommandData>, info: &'static Reply, docs: &'static Reply) {
    let Reply::Array(items) = info else { return };
    let [
        name,
        arity,
        flags,
        first,
        last,
        step,
        acl,
        tips,
        specs,
        subs,
    ] = items.as_slice()
    else {
        return;
    };
    let Some(name) = text(name) else { return };
    let sub_docs = map_get(docs, "subcommands");
    if let Reply::Array(subs) | Reply::Set(subs) = subs {
        for sub in subs {
            let sub_name = match sub {
                Reply::Array(s) => s.first().and_then(text),
                _ => None,
            };
            let Some(sub_name) = sub_name else { continue };
            let Some(d) = sub_docs.and_then(|m| map_get(m, sub_name)) else {
                continue;
            };
            add(map, sub, d);
        }
    }
    let data = CommandData {
        name,
        arity: int(arity),
        flags: texts(flags),
        first_key: int(first),
        last_key: int(last),
        step: int(step),
        acl_categories: acl,
        tips,
        key_specs_reply: specs,
        key_specs: match specs {
            // Redis 7.0 sends key specs as a set.
            Reply::Set(s) | Reply::Array(s) => s.iter().map(key_spec).collect(),
            _ => Vec::new(),
        },
        docs,
    };
    map.insert(name, data);
}

fn key_spec(r: &'static Reply) -> KeySpec {
    let flags = map_get(r, "flags").map(texts).unwrap_or_default();
    let field = |m: Option<&'static Reply>, k: &str| m.and_then(|m| map_get(m, k)).map(int);
    let begin = map_get(r, "begin_search");
    let begin_spec = begin.and_then(|b| map_get(b, "spec"));
    let begin = match begin.and_then(|b| map_get(b, "type")).and_then(text) {
        Some("index") => BeginSearch::Index(field(begin_spec, "index").unwrap_or(0)),
        Some("keyword") => match begin_spec
            .and_then(|s| map_get(s, "keyword"))
            .and_then(text)
        {
            Some(keyword) => BeginSearch::Keyword {
                keyword,
                startfrom: field(begin_spec, "startfrom").unwrap_or(0),
            },
            None => BeginSearch::Unknown,
        },
        _ => BeginSearch::Unknown,
    };
    let find = map_get(r, "find_keys");
    let find_spec = find.and_then(|f| map_get(f, "spec"));
    let find = match find.and_then(|f| map_get(f, "type")).and_then(text) {
        Some("range") => FindKeys::Range {
            lastkey: field(find_spec, "lastkey").unwrap_or(0),
            keystep: field(find_spec, "keystep").unwrap_or(1),
            limit: field(find_spec, "limit").unwrap_or(0),
        },
        Some("keynum") => FindKeys::Keynum {
            keynumidx: field(find_spec, "keynumidx").unwrap_or(0),
            firstkey: field(find_spec, "firstkey").unwrap_or(1),
            keystep: field(find_spec, "keystep").unwrap_or(1),
        },
        _ => FindKeys::Unknown,
    };
    KeySpec { flags, begin, find }
}

/// The text of a bulk or status string of the data.
pub fn text(r: &'static Reply) -> Option<&'static str> {
    match r {
        Reply::Bulk(b) => std::str::from_utf8(b.as_ref()).ok(),
        Reply::Status(Cow::Borrowed(s)) => Some(s),
        _ => None,
    }
}

fn texts(r: &'static Reply) -> Vec<&'static str> {
    match r {
        Reply::Set(v) | Reply::Array(v) => v.iter().filter_map(text).collect(),
        _ => Vec::new(),
    }
}

fn int(r: &Reply) -> i64 {
    match r {
        Reply::Int(n) => *n,
        _ => 0,
    }
}

/// The value under a string key of a map reply.
pub fn map_get<'a>(m: &'a Reply, key: &str) -> Option<&'a Reply> {
    match m {
        Reply::Map(pairs) => pairs.iter().find_map(|(k, v)| match k {
            Reply::Bulk(b) if b.as_ref() == key.as_bytes() => Some(v),
            _ => None,
        }),
        _ => None,
    }
}

/// Parses the token-per-line format; `None` if it is malformed.
fn parse(data: &'static str) -> Option<Reply> {
    let mut lines = data.lines().filter(|l| !l.starts_with('#'));
    let v = parse_value(&mut lines, 0)?;
    lines.next().is_none().then_some(v)
}

fn parse_value(lines: &mut impl Iterator<Item = &'static str>, depth: usize) -> Option<Reply> {
    if depth > 32 {
        return None;
    }
    let line = lines.next()?;
    let kind = *line.as_bytes().first()?;
    let rest = line.get(1..)?;
    let count = || rest.parse::<usize>().ok();
    Some(match kind {
        b'*' => Reply::Array(parse_items(lines, count()?, depth)?),
        b'~' => Reply::Set(parse_items(lines, count()?, depth)?),
        b'%' => {
            let n = count()?;
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                let k = parse_value(lines, depth + 1)?;
                let v = parse_value(lines, depth + 1)?;
                pairs.push((k, v));
            }
            Reply::Map(pairs)
        }
        b'$' => Reply::Bulk(Bytes::from_static(rest.as_bytes())),
        b'+' => Reply::Status(Cow::Borrowed(rest)),
        b':' => Reply::Int(rest.parse().ok()?),
        b'_' => Reply::Nil,
        _ => return None,
    })
}

fn parse_items(
    lines: &mut impl Iterator<Item = &'static str>,
    n: usize,
    depth: usize,
) -> Option<Vec<Reply>> {
    (0..n).map(|_| parse_value(lines, depth + 1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_parses_completely() {
        assert!(parse(DATA).is_some());
        // Redis 7.0.15: 240 commands; with subcommands, 380.
        assert!(all().count() > 350, "{}", all().count());
        let get = lookup("get").unwrap();
        assert_eq!(
            (get.arity, get.first_key, get.last_key, get.step),
            (2, 1, 1, 1)
        );
        assert_eq!(get.flags, vec!["readonly", "fast"]);
        assert_eq!(
            get.key_specs,
            vec![KeySpec {
                flags: vec!["RO", "access"],
                begin: BeginSearch::Index(1),
                find: FindKeys::Range {
                    lastkey: 0,
                    keystep: 1,
                    limit: 0
                },
            }]
        );
        let list = lookup("client|list").unwrap();
        assert_eq!(list.arity, -2);
        assert_eq!(map_get(list.docs, "since").and_then(text), Some("2.4.0"));
    }

    #[test]
    fn keyword_and_keynum_specs_decode() {
        let xread = lookup("xread").unwrap();
        assert_eq!(
            xread.key_specs[0].begin,
            BeginSearch::Keyword {
                keyword: "STREAMS",
                startfrom: 1
            }
        );
        assert_eq!(
            xread.key_specs[0].find,
            FindKeys::Range {
                lastkey: -1,
                keystep: 1,
                limit: 2
            }
        );
        let zunionstore = lookup("zunionstore").unwrap();
        assert_eq!(
            zunionstore.key_specs[1].find,
            FindKeys::Keynum {
                keynumidx: 0,
                firstkey: 1,
                keystep: 1
            }
        );
        let sort = lookup("sort").unwrap();
        assert!(
            sort.key_specs
                .iter()
                .any(|s| s.begin == BeginSearch::Unknown)
        );
    }
}
