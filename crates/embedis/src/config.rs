//! Runtime configuration: what `CONFIG GET/SET` read and write, and what the engine obeys.
//!
//! [`PARAMS`] is the table: one row per parameter with Redis 7.0's name (and alias), type and
//! bounds, whether CONFIG SET may change it, and how it reads and writes [`ConfigValues`].
//! CONFIG GET, CONFIG SET and the server's command line (`--maxmemory 256mb`) all go through
//! it, so a parameter is validated and printed the same way everywhere, with Redis's errors.
//!
//! Only parameters the engine or the server honours are listed, and the encoding thresholds
//! the data types read. The persistence parameters (`save`, `appendonly`, `dir`...) live in
//! [`ConfigValues::persist`]; CONFIG SET hands their changes to [`crate::persist`], which
//! gives them effect (starting or stopping the AOF, the snapshot schedule) or refuses them,
//! in which case the whole CONFIG SET is undone, as in Redis.

use std::borrow::Cow;

use parking_lot::RwLock;

use crate::pubsub::OutputLimit;

/// Configuration values the engine reads. Cheap to clone; read with [`Config::read`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConfigValues {
    /// `requirepass`: when set, clients must AUTH first.
    pub requirepass: Option<String>,
    /// `databases`: number of logical databases (fixed at start).
    pub databases: usize,
    /// `maxclients`.
    pub maxclients: u64,
    /// `timeout`: idle seconds before a client is closed (0 = never).
    pub timeout: u64,
    /// `port`.
    pub port: u16,
    /// `bind`.
    pub bind: String,
    /// `hz`: background task frequency (kept within 1..=500, as Redis does).
    pub hz: u32,
    /// `slowlog-log-slower-than` in microseconds (negative disables).
    pub slowlog_log_slower_than: i64,
    /// `slowlog-max-len`.
    pub slowlog_max_len: u64,
    /// `proto-max-bulk-len`.
    pub proto_max_bulk_len: u64,
    /// `client-query-buffer-limit`.
    pub client_query_buffer_limit: u64,
    /// `maxmemory` in bytes (0 = no limit).
    pub maxmemory: u64,
    /// `maxmemory-policy`, one of [`MAXMEMORY_POLICIES`].
    pub maxmemory_policy: String,
    /// `maxmemory-samples`.
    pub maxmemory_samples: u32,
    /// `notify-keyspace-events` flags as given (validated); [`ConfigValues::notify_flags`]
    /// decodes them.
    pub notify_keyspace_events: String,
    /// `lfu-log-factor`.
    pub lfu_log_factor: u32,
    /// `lfu-decay-time` in minutes.
    pub lfu_decay_time: u32,
    /// `busy-reply-threshold` (alias `lua-time-limit`) in milliseconds.
    pub busy_reply_threshold: u64,
    /// `hash-max-listpack-entries`.
    pub hash_max_listpack_entries: u64,
    /// `hash-max-listpack-value`.
    pub hash_max_listpack_value: u64,
    /// `list-max-listpack-size`: positive = entries per node, negative = -1..-5 for 4..64 KiB.
    pub list_max_listpack_size: i32,
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: u64,
    /// `zset-max-listpack-entries`.
    pub zset_max_listpack_entries: u64,
    /// `zset-max-listpack-value`.
    pub zset_max_listpack_value: u64,
    /// `stream-node-max-bytes`.
    pub stream_node_max_bytes: u64,
    /// `stream-node-max-entries`.
    pub stream_node_max_entries: u64,
    /// `hll-sparse-max-bytes`.
    pub hll_sparse_max_bytes: u64,
    /// `client-output-buffer-limit`, per class: normal, replica, pubsub.
    pub client_output_buffer_limit: [OutputLimit; 3],
    /// Persistence parameters (`save`, `appendonly`, `dir`, `dbfilename`...). Without
    /// persistence configured for the store they describe what it does: no save points, no
    /// AOF.
    pub persist: crate::persist::PersistConfig,
    /// `enable-protected-configs`: `no`, `yes` or `local` (only clients on the loopback
    /// interface, and in-process callers); whether `dir` and `dbfilename` may be changed.
    pub enable_protected_configs: String,
}

impl Default for ConfigValues {
    fn default() -> Self {
        ConfigValues {
            requirepass: None,
            databases: 16,
            maxclients: 10000,
            timeout: 0,
            port: 6379,
            bind: "127.0.0.1".into(),
            hz: 10,
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            maxmemory_samples: 5,
            notify_keyspace_events: String::new(),
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            busy_reply_threshold: 5000,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            list_max_listpack_size: -2,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
            hll_sparse_max_bytes: 3000,
            client_output_buffer_limit: [
                OutputLimit::NONE,
                OutputLimit {
                    hard: 256 * 1024 * 1024,
                    soft: 64 * 1024 * 1024,
                    soft_seconds: 60,
                },
                OutputLimit::PUBSUB_DEFAULT,
            ],
            persist: crate::persist::PersistConfig::new(".").save_points(&[]),
            enable_protected_configs: "no".into(),
        }
    }
}

impl ConfigValues {
    /// The `notify-keyspace-events` classes as a bit set of [`notify`] flags.
    pub fn notify_flags(&self) -> u32 {
        notify::parse(self.notify_keyspace_events.as_bytes()).unwrap_or(0)
    }

    /// Sets one parameter from its text form, as a config file or command line would: any
    /// parameter, mutable at runtime or not (`databases`, `port`...). Names are
    /// case-insensitive; aliases work.
    pub fn apply(&mut self, name: &str, value: &[u8]) -> Result<(), ConfigError> {
        let (param, _) = lookup(name.as_bytes()).ok_or_else(|| ConfigError::Unknown {
            name: name.to_string(),
        })?;
        let parsed = param.parse(value).map_err(|reason| ConfigError::Failed {
            name: name.to_ascii_lowercase(),
            reason,
        })?;
        (param.set)(self, parsed);
        Ok(())
    }

    /// The text form of a parameter (what CONFIG GET shows), by name or alias.
    pub fn get_text(&self, name: &str) -> Option<String> {
        lookup(name.as_bytes()).map(|(p, _)| (p.get)(self))
    }
}

/// Keyspace notification classes (`notify-keyspace-events`), with Redis's bit values.
pub mod notify {
    /// `K`: publish on `__keyspace@<db>__`.
    pub const KEYSPACE: u32 = 1 << 0;
    /// `E`: publish on `__keyevent@<db>__`.
    pub const KEYEVENT: u32 = 1 << 1;
    /// `g`: generic commands (DEL, EXPIRE, RENAME...).
    pub const GENERIC: u32 = 1 << 2;
    /// `$`: string commands.
    pub const STRING: u32 = 1 << 3;
    /// `l`: list commands.
    pub const LIST: u32 = 1 << 4;
    /// `s`: set commands.
    pub const SET: u32 = 1 << 5;
    /// `h`: hash commands.
    pub const HASH: u32 = 1 << 6;
    /// `z`: sorted set commands.
    pub const ZSET: u32 = 1 << 7;
    /// `x`: expired events.
    pub const EXPIRED: u32 = 1 << 8;
    /// `e`: evicted events.
    pub const EVICTED: u32 = 1 << 9;
    /// `t`: stream commands.
    pub const STREAM: u32 = 1 << 10;
    /// `m`: key miss events.
    pub const KEY_MISS: u32 = 1 << 11;
    /// `d`: module key type events.
    pub const MODULE: u32 = 1 << 13;
    /// `n`: new key events.
    pub const NEW: u32 = 1 << 14;
    /// `A`: alias for `g$lshzxetd` (not `m` nor `n`).
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

    /// Decodes a class string; `None` for an unknown character.
    pub fn parse(classes: &[u8]) -> Option<u32> {
        let mut flags = 0;
        for c in classes {
            flags |= match c {
                b'A' => ALL,
                b'g' => GENERIC,
                b'$' => STRING,
                b'l' => LIST,
                b's' => SET,
                b'h' => HASH,
                b'z' => ZSET,
                b'x' => EXPIRED,
                b'e' => EVICTED,
                b'K' => KEYSPACE,
                b'E' => KEYEVENT,
                b't' => STREAM,
                b'm' => KEY_MISS,
                b'd' => MODULE,
                b'n' => NEW,
                _ => return None,
            };
        }
        Some(flags)
    }

    /// The canonical class string CONFIG GET shows (Redis 7.0 drops `n` next to `A`).
    pub fn format(flags: u32) -> String {
        let mut s = String::new();
        if flags & ALL == ALL {
            s.push('A');
        } else {
            for (bit, c) in [
                (GENERIC, 'g'),
                (STRING, '$'),
                (LIST, 'l'),
                (SET, 's'),
                (HASH, 'h'),
                (ZSET, 'z'),
                (EXPIRED, 'x'),
                (EVICTED, 'e'),
                (STREAM, 't'),
                (MODULE, 'd'),
                (NEW, 'n'),
            ] {
                if flags & bit != 0 {
                    s.push(c);
                }
            }
        }
        for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
        s
    }
}

/// The `maxmemory-policy` values, in the order Redis lists them in its error.
pub const MAXMEMORY_POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// How a parameter's text is parsed and checked.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `yes` / `no`.
    Bool,
    /// An integer within `min..=max`. `memory` also accepts units (`100mb`, `1gb`, `5k`);
    /// `unsigned` makes the bounds check unsigned, like Redis's unsigned types.
    Int {
        /// Smallest accepted value.
        min: i128,
        /// Largest accepted value.
        max: i128,
        /// Accepts memory units.
        memory: bool,
        /// The value is stored unsigned.
        unsigned: bool,
    },
    /// One of these names, case-insensitively.
    Enum(&'static [&'static str]),
    /// Any string.
    Str,
    /// A parameter with its own check (returns the value to store, or the reason).
    Special(fn(&[u8]) -> Result<String, Cow<'static, str>>),
}

/// A parsed value handed to a parameter's setter.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A boolean.
    Bool(bool),
    /// An integer, already within bounds.
    Int(i128),
    /// A string (enum values are in canonical form).
    Str(String),
}

impl Parsed {
    fn int(&self) -> i128 {
        match self {
            Parsed::Int(n) => *n,
            Parsed::Bool(b) => *b as i128,
            Parsed::Str(_) => 0,
        }
    }

    fn text(self) -> String {
        match self {
            Parsed::Str(s) => s,
            Parsed::Int(n) => n.to_string(),
            Parsed::Bool(b) => yes_no(b),
        }
    }
}

/// One configuration parameter.
#[derive(Debug)]
pub struct Param {
    /// Redis's name.
    pub name: &'static str,
    /// The older name Redis still accepts (`hash-max-ziplist-entries`).
    pub alias: Option<&'static str>,
    /// Type and bounds.
    pub kind: Kind,
    /// Whether CONFIG SET may change it.
    pub mutable: bool,
    /// Whether its value is hidden from SLOWLOG (passwords).
    pub sensitive: bool,
    /// Whether CONFIG SET needs `enable-protected-configs` (`dir`, `dbfilename`).
    pub protected: bool,
    /// Reads the value as CONFIG GET shows it.
    pub get: fn(&ConfigValues) -> String,
    /// Stores a parsed value.
    pub set: fn(&mut ConfigValues, Parsed),
}

const INT_MAX: i128 = i32::MAX as i128;
const INT_MIN: i128 = i32::MIN as i128;
const LONG_MAX: i128 = i64::MAX as i128;
const MB: i128 = 1024 * 1024;

const fn int(min: i128, max: i128) -> Kind {
    Kind::Int {
        min,
        max,
        memory: false,
        unsigned: false,
    }
}

const fn uint(min: i128, max: i128) -> Kind {
    Kind::Int {
        min,
        max,
        memory: false,
        unsigned: true,
    }
}

const fn memory(min: i128, max: i128) -> Kind {
    Kind::Int {
        min,
        max,
        memory: true,
        unsigned: false,
    }
}

const fn umemory(min: i128, max: i128) -> Kind {
    Kind::Int {
        min,
        max,
        memory: true,
        unsigned: true,
    }
}

const fn param(
    name: &'static str,
    kind: Kind,
    get: fn(&ConfigValues) -> String,
    set: fn(&mut ConfigValues, Parsed),
) -> Param {
    Param {
        name,
        alias: None,
        kind,
        mutable: true,
        sensitive: false,
        protected: false,
        get,
        set,
    }
}

impl Param {
    const fn alias(mut self, alias: &'static str) -> Self {
        self.alias = Some(alias);
        self
    }

    const fn immutable(mut self) -> Self {
        self.mutable = false;
        self
    }

    const fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    const fn protected(mut self) -> Self {
        self.protected = true;
        self
    }

    /// The default value, as CONFIG GET shows it.
    pub fn default_text(&self) -> String {
        (self.get)(&ConfigValues::default())
    }

    /// Parses and checks a value with Redis's rules and error reasons.
    pub fn parse(&self, value: &[u8]) -> Result<Parsed, Cow<'static, str>> {
        match self.kind {
            Kind::Bool => parse_yes_no(value)
                .map(Parsed::Bool)
                .ok_or(Cow::Borrowed("argument must be 'yes' or 'no'")),
            Kind::Int {
                min,
                max,
                memory,
                unsigned,
            } => {
                let raw: i64 = if memory {
                    match parse_memory(value) {
                        Some(n) => n as i64,
                        None => return Err(Cow::Borrowed("argument must be a memory value")),
                    }
                } else {
                    match crate::num::parse_i64(value) {
                        Some(n) => n,
                        None => {
                            return Err(Cow::Borrowed(
                                "argument couldn't be parsed into an integer",
                            ));
                        }
                    }
                };
                // Redis checks unsigned types on the value reinterpreted as unsigned.
                let n = if unsigned {
                    raw as u64 as i128
                } else {
                    raw as i128
                };
                if n < min || n > max {
                    return Err(Cow::Owned(format!(
                        "argument must be between {min} and {max} inclusive"
                    )));
                }
                Ok(Parsed::Int(n))
            }
            Kind::Enum(names) => names
                .iter()
                .find(|n| n.as_bytes().eq_ignore_ascii_case(value))
                .map(|n| Parsed::Str(n.to_string()))
                .ok_or_else(|| {
                    Cow::Owned(format!(
                        "argument(s) must be one of the following: {}",
                        names.join(", ")
                    ))
                }),
            Kind::Str => Ok(Parsed::Str(String::from_utf8_lossy(value).into_owned())),
            Kind::Special(check) => check(value).map(Parsed::Str),
        }
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes".into() } else { "no".into() }
}

fn parse_yes_no(v: &[u8]) -> Option<bool> {
    if v.eq_ignore_ascii_case(b"yes") {
        Some(true)
    } else if v.eq_ignore_ascii_case(b"no") {
        Some(false)
    } else {
        None
    }
}

/// Parses a memory amount like Redis 7.0's `memtoull`: digits, then an optional unit among
/// `b`, `k` (1000), `kb` (1024), `m`, `mb`, `g`, `gb`, case-insensitive. As in Redis, too many
/// digits saturate and a huge amount times its unit wraps around.
pub fn parse_memory(v: &[u8]) -> Option<u64> {
    let digits = v.iter().take_while(|c| c.is_ascii_digit()).count();
    let unit = &v[digits..];
    let mul: u64 = match unit.to_ascii_lowercase().as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits >= 128 {
        return None;
    }
    let mut n: u64 = 0;
    for c in &v[..digits] {
        n = n.saturating_mul(10).saturating_add(u64::from(c - b'0'));
    }
    Some(n.wrapping_mul(mul))
}

fn check_notify(v: &[u8]) -> Result<String, Cow<'static, str>> {
    match notify::parse(v) {
        Some(_) => Ok(String::from_utf8_lossy(v).into_owned()),
        None => Err(Cow::Borrowed(
            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.",
        )),
    }
}

/// Class names of `client-output-buffer-limit`, by index (`replica` is an alias of `slave`).
const OUTPUT_LIMIT_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// Index of the pubsub class in [`ConfigValues::client_output_buffer_limit`].
pub const OUTPUT_LIMIT_PUBSUB: usize = 2;

/// `client-output-buffer-limit`: groups of `<class> <hard> <soft> <soft seconds>`, with
/// Redis's checks and reasons.
fn parse_output_limits(v: &[u8]) -> Result<Vec<(usize, OutputLimit)>, Cow<'static, str>> {
    let words: Vec<&[u8]> = v
        .split(|c| c.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() % 4 != 0 {
        return Err(Cow::Borrowed(
            "Wrong number of arguments in buffer limit configuration.",
        ));
    }
    let mut out = Vec::new();
    for group in words.chunks_exact(4) {
        let class = match group[0].to_ascii_lowercase().as_slice() {
            b"normal" => 0,
            b"slave" | b"replica" => 1,
            b"pubsub" => OUTPUT_LIMIT_PUBSUB,
            _ => {
                return Err(Cow::Borrowed(
                    "Invalid client class specified in buffer limit configuration.",
                ));
            }
        };
        let bad = || {
            Cow::Borrowed(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
            )
        };
        let hard = parse_memory(group[1]).ok_or_else(bad)?;
        let soft = parse_memory(group[2]).ok_or_else(bad)?;
        let soft_seconds = strtoll_strict(group[3])
            .filter(|n| *n >= 0)
            .ok_or_else(bad)? as u64;
        out.push((
            class,
            OutputLimit {
                hard,
                soft,
                soft_seconds,
            },
        ));
    }
    Ok(out)
}

fn check_output_limits(v: &[u8]) -> Result<String, Cow<'static, str>> {
    parse_output_limits(v)?;
    Ok(String::from_utf8_lossy(v).into_owned())
}

fn format_output_limits(limits: &[OutputLimit; 3]) -> String {
    let mut s = String::new();
    for (name, l) in OUTPUT_LIMIT_CLASSES.iter().zip(limits) {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&format!("{name} {} {} {}", l.hard, l.soft, l.soft_seconds));
    }
    s
}

/// `save`: Redis's syntax check (pairs of seconds >= 1 and changes >= 0); the value kept is
/// the pairs as CONFIG GET shows them.
fn check_save(v: &[u8]) -> Result<String, Cow<'static, str>> {
    const INVALID: &str = "Invalid save parameters";
    if v.is_empty() {
        return Ok(String::new());
    }
    let parts: Vec<&[u8]> = v.split(|&c| c == b' ').collect();
    if parts.len() % 2 == 1 {
        return Err(Cow::Borrowed(INVALID));
    }
    let mut shown = Vec::with_capacity(parts.len());
    for (i, p) in parts.iter().enumerate() {
        let n = strtoll_strict(p).ok_or(Cow::Borrowed(INVALID))?;
        if (i % 2 == 0 && n < 1) || (i % 2 == 1 && n < 0) {
            return Err(Cow::Borrowed(INVALID));
        }
        shown.push(n.to_string());
    }
    Ok(shown.join(" "))
}

/// `dir`: must be an existing directory (Redis's `chdir` errors); kept as an absolute path,
/// which is what CONFIG GET shows. embedis never changes the process's working directory:
/// the store's files go to this path.
fn check_dir(v: &[u8]) -> Result<String, Cow<'static, str>> {
    let os_reason = |e: std::io::Error| {
        // Rust shows an OS error as "<strerror> (os error N)"; Redis shows strerror alone.
        let s = e.to_string();
        Cow::Owned(match s.find(" (os error") {
            Some(i) => s[..i].to_string(),
            None => s,
        })
    };
    let path = std::path::Path::new(
        std::str::from_utf8(v)
            .map_err(|_| Cow::Borrowed("embedis needs a UTF-8 directory name"))?,
    );
    let abs = std::fs::canonicalize(path).map_err(os_reason)?;
    let md = std::fs::metadata(&abs).map_err(os_reason)?;
    if !md.is_dir() {
        return Err(Cow::Borrowed("Not a directory"));
    }
    Ok(abs.display().to_string())
}

/// The absolute form of a directory, as CONFIG GET shows `dir`.
fn show_dir(dir: &std::path::Path) -> String {
    std::path::absolute(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .display()
        .to_string()
}

fn check_file_name(v: &[u8], refusal: &'static str) -> Result<String, Cow<'static, str>> {
    if v.contains(&b'/') {
        return Err(Cow::Borrowed(refusal));
    }
    Ok(String::from_utf8_lossy(v).into_owned())
}

fn check_dbfilename(v: &[u8]) -> Result<String, Cow<'static, str>> {
    check_file_name(v, "dbfilename can't be a path, just a filename")
}

fn check_appendfilename(v: &[u8]) -> Result<String, Cow<'static, str>> {
    check_file_name(v, "appendfilename can't be a path, just a filename")
}

fn check_appenddirname(v: &[u8]) -> Result<String, Cow<'static, str>> {
    check_file_name(v, "appenddirname can't be a path, just a dirname")
}

/// `aof-use-rdb-preamble`: embedis always writes AOF bases in RDB form (what Redis 7.0 does
/// by default), so `no` is refused rather than ignored.
fn check_rdb_preamble(v: &[u8]) -> Result<String, Cow<'static, str>> {
    match parse_yes_no(v) {
        None => Err(Cow::Borrowed("argument must be 'yes' or 'no'")),
        Some(true) => Ok("yes".into()),
        Some(false) => Err(Cow::Borrowed(
            "embedis writes AOF base files in RDB form only: aof-use-rdb-preamble no is not supported",
        )),
    }
}

/// C's `strtoll(s, &end, 10)` with `*end == '\0'` required: optional spaces and sign, digits
/// (an empty string reads as 0, like C).
fn strtoll_strict(s: &[u8]) -> Option<i64> {
    let mut i = 0;
    while i < s.len() && (s[i] == b' ' || (b'\t'..=b'\r').contains(&s[i])) {
        i += 1;
    }
    if i == s.len() {
        // Only spaces (or nothing): no conversion, end pointer at the start.
        return if s.is_empty() { Some(0) } else { None };
    }
    let neg = s[i] == b'-';
    if s[i] == b'-' || s[i] == b'+' {
        i += 1;
    }
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: i64 = 0;
    for c in digits {
        n = n.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    Some(if neg { -n } else { n })
}

/// Every parameter, in the order CONFIG GET lists pattern matches.
pub static PARAMS: &[Param] = &[
    param(
        "requirepass",
        Kind::Str,
        |c| c.requirepass.clone().unwrap_or_default(),
        |c, v| {
            let s = v.text();
            c.requirepass = (!s.is_empty()).then_some(s);
        },
    )
    .sensitive(),
    param(
        "maxmemory",
        umemory(0, u64::MAX as i128),
        |c| c.maxmemory.to_string(),
        |c, v| c.maxmemory = v.int() as u64,
    ),
    param(
        "maxmemory-policy",
        Kind::Enum(MAXMEMORY_POLICIES),
        |c| c.maxmemory_policy.clone(),
        |c, v| c.maxmemory_policy = v.text(),
    ),
    param(
        "maxmemory-samples",
        int(1, INT_MAX),
        |c| c.maxmemory_samples.to_string(),
        |c, v| c.maxmemory_samples = v.int() as u32,
    ),
    param(
        "hz",
        int(0, INT_MAX),
        |c| c.hz.to_string(),
        |c, v| {
            // A hint, like in Redis: out-of-range values are accepted and capped.
            c.hz = v.int().clamp(1, 500) as u32
        },
    ),
    param(
        "timeout",
        int(0, INT_MAX),
        |c| c.timeout.to_string(),
        |c, v| c.timeout = v.int() as u64,
    ),
    param(
        "maxclients",
        uint(1, u32::MAX as i128),
        |c| c.maxclients.to_string(),
        |c, v| c.maxclients = v.int() as u64,
    ),
    param(
        "databases",
        int(1, INT_MAX),
        |c| c.databases.to_string(),
        |c, v| c.databases = v.int() as usize,
    )
    .immutable(),
    // The server binds once at start; changing these at runtime would not be honoured.
    param(
        "port",
        int(0, 65535),
        |c| c.port.to_string(),
        |c, v| c.port = v.int() as u16,
    )
    .immutable(),
    param(
        "bind",
        Kind::Str,
        |c| c.bind.clone(),
        |c, v| c.bind = v.text(),
    )
    .immutable(),
    param(
        "slowlog-log-slower-than",
        int(-1, LONG_MAX),
        |c| c.slowlog_log_slower_than.to_string(),
        |c, v| c.slowlog_log_slower_than = v.int() as i64,
    ),
    param(
        "slowlog-max-len",
        uint(0, LONG_MAX),
        |c| c.slowlog_max_len.to_string(),
        |c, v| c.slowlog_max_len = v.int() as u64,
    ),
    param(
        "proto-max-bulk-len",
        memory(MB, LONG_MAX),
        |c| c.proto_max_bulk_len.to_string(),
        |c, v| c.proto_max_bulk_len = v.int() as u64,
    ),
    param(
        "client-query-buffer-limit",
        memory(MB, LONG_MAX),
        |c| c.client_query_buffer_limit.to_string(),
        |c, v| c.client_query_buffer_limit = v.int() as u64,
    ),
    param(
        "notify-keyspace-events",
        Kind::Special(check_notify),
        |c| notify::format(c.notify_flags()),
        |c, v| c.notify_keyspace_events = v.text(),
    ),
    param(
        "lfu-log-factor",
        int(0, INT_MAX),
        |c| c.lfu_log_factor.to_string(),
        |c, v| c.lfu_log_factor = v.int() as u32,
    ),
    param(
        "lfu-decay-time",
        int(0, INT_MAX),
        |c| c.lfu_decay_time.to_string(),
        |c, v| c.lfu_decay_time = v.int() as u32,
    ),
    param(
        "busy-reply-threshold",
        int(0, LONG_MAX),
        |c| c.busy_reply_threshold.to_string(),
        |c, v| c.busy_reply_threshold = v.int() as u64,
    )
    .alias("lua-time-limit"),
    param(
        "save",
        Kind::Special(check_save),
        |c| c.persist.save_string(),
        |c, v| {
            // Checked already.
            if let Ok(points) = crate::persist::PersistConfig::parse_save(&v.text()) {
                c.persist.save = points;
            }
        },
    ),
    param(
        "appendonly",
        Kind::Bool,
        |c| yes_no(c.persist.appendonly),
        |c, v| c.persist.appendonly = v.int() != 0,
    ),
    param(
        "appendfsync",
        Kind::Enum(&["everysec", "always", "no"]),
        |c| c.persist.appendfsync.name().into(),
        |c, v| {
            if let Some(f) = crate::persist::Fsync::parse(&v.text()) {
                c.persist.appendfsync = f;
            }
        },
    ),
    param(
        "dir",
        Kind::Special(check_dir),
        |c| show_dir(&c.persist.dir),
        |c, v| c.persist.dir = v.text().into(),
    )
    .protected(),
    param(
        "dbfilename",
        Kind::Special(check_dbfilename),
        |c| c.persist.dbfilename.clone(),
        |c, v| c.persist.dbfilename = v.text(),
    )
    .protected(),
    param(
        "appendfilename",
        Kind::Special(check_appendfilename),
        |c| c.persist.appendfilename.clone(),
        |c, v| c.persist.appendfilename = v.text(),
    )
    .immutable(),
    param(
        "appenddirname",
        Kind::Special(check_appenddirname),
        |c| c.persist.appenddirname.clone(),
        |c, v| c.persist.appenddirname = v.text(),
    )
    .immutable(),
    param(
        "aof-use-rdb-preamble",
        Kind::Special(check_rdb_preamble),
        |c| yes_no(c.persist.aof_use_rdb_preamble),
        |c, _| c.persist.aof_use_rdb_preamble = true,
    ),
    param(
        "aof-load-truncated",
        Kind::Bool,
        |c| yes_no(c.persist.aof_load_truncated),
        |c, v| c.persist.aof_load_truncated = v.int() != 0,
    ),
    param(
        "rdbcompression",
        Kind::Bool,
        |c| yes_no(c.persist.rdbcompression),
        |c, v| c.persist.rdbcompression = v.int() != 0,
    ),
    param(
        "rdbchecksum",
        Kind::Bool,
        |c| yes_no(c.persist.rdbchecksum),
        |c, v| c.persist.rdbchecksum = v.int() != 0,
    )
    .immutable(),
    param(
        "auto-aof-rewrite-percentage",
        int(0, INT_MAX),
        |c| c.persist.auto_aof_rewrite_percentage.to_string(),
        |c, v| c.persist.auto_aof_rewrite_percentage = v.int() as u64,
    ),
    param(
        "auto-aof-rewrite-min-size",
        memory(0, LONG_MAX),
        |c| c.persist.auto_aof_rewrite_min_size.to_string(),
        |c, v| c.persist.auto_aof_rewrite_min_size = v.int() as u64,
    ),
    param(
        "enable-protected-configs",
        Kind::Enum(&["no", "yes", "local"]),
        |c| c.enable_protected_configs.clone(),
        |c, v| c.enable_protected_configs = v.text(),
    )
    .immutable(),
    param(
        "hash-max-listpack-entries",
        uint(0, LONG_MAX),
        |c| c.hash_max_listpack_entries.to_string(),
        |c, v| c.hash_max_listpack_entries = v.int() as u64,
    )
    .alias("hash-max-ziplist-entries"),
    param(
        "hash-max-listpack-value",
        umemory(0, LONG_MAX),
        |c| c.hash_max_listpack_value.to_string(),
        |c, v| c.hash_max_listpack_value = v.int() as u64,
    )
    .alias("hash-max-ziplist-value"),
    param(
        "list-max-listpack-size",
        int(INT_MIN, INT_MAX),
        |c| c.list_max_listpack_size.to_string(),
        |c, v| c.list_max_listpack_size = v.int() as i32,
    )
    .alias("list-max-ziplist-size"),
    param(
        "set-max-intset-entries",
        uint(0, LONG_MAX),
        |c| c.set_max_intset_entries.to_string(),
        |c, v| c.set_max_intset_entries = v.int() as u64,
    ),
    param(
        "zset-max-listpack-entries",
        uint(0, LONG_MAX),
        |c| c.zset_max_listpack_entries.to_string(),
        |c, v| c.zset_max_listpack_entries = v.int() as u64,
    )
    .alias("zset-max-ziplist-entries"),
    param(
        "zset-max-listpack-value",
        umemory(0, LONG_MAX),
        |c| c.zset_max_listpack_value.to_string(),
        |c, v| c.zset_max_listpack_value = v.int() as u64,
    )
    .alias("zset-max-ziplist-value"),
    param(
        "stream-node-max-bytes",
        umemory(0, LONG_MAX),
        |c| c.stream_node_max_bytes.to_string(),
        |c, v| c.stream_node_max_bytes = v.int() as u64,
    ),
    param(
        "stream-node-max-entries",
        int(0, LONG_MAX),
        |c| c.stream_node_max_entries.to_string(),
        |c, v| c.stream_node_max_entries = v.int() as u64,
    ),
    param(
        "client-output-buffer-limit",
        Kind::Special(check_output_limits),
        |c| format_output_limits(&c.client_output_buffer_limit),
        |c, v| {
            // Checked already: only the classes given change, as in Redis.
            if let Ok(given) = parse_output_limits(v.text().as_bytes()) {
                for (class, limit) in given {
                    c.client_output_buffer_limit[class] = limit;
                }
            }
        },
    ),
    param(
        "hll-sparse-max-bytes",
        umemory(0, LONG_MAX),
        |c| c.hll_sparse_max_bytes.to_string(),
        |c, v| c.hll_sparse_max_bytes = v.int() as u64,
    ),
];

/// Finds a parameter by name or alias, case-insensitively; also returns the name it was
/// found under (Redis 7.0 treats an alias as its own entry: errors name the alias).
pub fn lookup(name: &[u8]) -> Option<(&'static Param, &'static str)> {
    PARAMS.iter().find_map(|p| {
        if p.name.as_bytes().eq_ignore_ascii_case(name) {
            Some((p, p.name))
        } else {
            p.alias
                .filter(|a| a.as_bytes().eq_ignore_ascii_case(name))
                .map(|a| (p, a))
        }
    })
}

/// Every name CONFIG GET patterns are matched against: each parameter, then its alias.
pub fn names() -> impl Iterator<Item = (&'static str, &'static Param)> {
    PARAMS
        .iter()
        .flat_map(|p| std::iter::once((p.name, p)).chain(p.alias.map(|a| (a, p))))
}

/// Why CONFIG SET (or a startup option) was refused; `Display` is Redis's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// No such parameter (`name` as given).
    Unknown {
        /// The name as given.
        name: String,
    },
    /// The parameter exists but the value (or the change) was refused.
    Failed {
        /// The name Redis reports.
        name: String,
        /// Why.
        reason: Cow<'static, str>,
    },
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Unknown { name } => {
                write!(
                    f,
                    "Unknown option or number of arguments for CONFIG SET - '{name}'"
                )
            }
            ConfigError::Failed { name, reason } => write!(
                f,
                "CONFIG SET failed (possibly related to argument '{name}') - {reason}"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The live configuration.
#[derive(Debug, Default)]
pub struct Config {
    values: RwLock<ConfigValues>,
}

impl Config {
    /// A configuration with the given values.
    pub fn new(values: ConfigValues) -> Self {
        Config {
            values: RwLock::new(values),
        }
    }

    /// A snapshot of the values.
    pub fn get(&self) -> ConfigValues {
        self.values.read().clone()
    }

    /// Reads one value without cloning everything.
    pub fn read<R>(&self, f: impl FnOnce(&ConfigValues) -> R) -> R {
        f(&self.values.read())
    }

    /// Changes values.
    pub fn update<R>(&self, f: impl FnOnce(&mut ConfigValues) -> R) -> R {
        f(&mut self.values.write())
    }

    /// CONFIG SET: sets every `(name, value)` pair or none, with Redis 7.0's checks in its
    /// order: unknown names, immutable parameters and duplicates first (the first problem
    /// found wins), then each value in turn.
    pub fn set_many(&self, pairs: &[(&[u8], &[u8])]) -> Result<(), ConfigError> {
        self.set_many_as(pairs, true)
    }

    /// [`Config::set_many`] for a client that is `local` (in-process, or connected over the
    /// loopback interface), which `enable-protected-configs local` lets change protected
    /// parameters.
    pub fn set_many_as(&self, pairs: &[(&[u8], &[u8])], local: bool) -> Result<(), ConfigError> {
        let protected_ok = self.read(|c| match c.enable_protected_configs.as_str() {
            "yes" => true,
            "local" => local,
            _ => false,
        });
        let mut found = Vec::with_capacity(pairs.len());
        let mut first_problem: Option<ConfigError> = None;
        for (name, _) in pairs {
            let shown = String::from_utf8_lossy(name).into_owned();
            let Some((param, under)) = lookup(name) else {
                first_problem.get_or_insert(ConfigError::Unknown { name: shown });
                continue;
            };
            if first_problem.is_some() {
                continue;
            }
            if !param.mutable || (param.protected && !protected_ok) {
                let reason = if param.mutable {
                    "can't set protected config"
                } else {
                    "can't set immutable config"
                };
                first_problem = Some(ConfigError::Failed {
                    name: shown,
                    reason: Cow::Borrowed(reason),
                });
                continue;
            }
            // An alias is its own entry in Redis 7.0, so only the same spelling is a duplicate.
            if found.iter().any(|&(_, u): &(&Param, &str)| u == under) {
                first_problem = Some(ConfigError::Failed {
                    name: shown,
                    reason: Cow::Borrowed("duplicate parameter"),
                });
                continue;
            }
            found.push((param, under));
        }
        if let Some(e) = first_problem {
            return Err(e);
        }
        let mut parsed = Vec::with_capacity(found.len());
        for ((param, under), (_, value)) in found.iter().zip(pairs) {
            let v = param.parse(value).map_err(|reason| ConfigError::Failed {
                name: under.to_string(),
                reason,
            })?;
            parsed.push((*param, v));
        }
        let mut values = self.values.write();
        for (param, v) in parsed {
            (param.set)(&mut values, v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(c: &Config, pairs: &[(&str, &str)]) -> Result<(), String> {
        let pairs: Vec<(&[u8], &[u8])> = pairs
            .iter()
            .map(|(a, b)| (a.as_bytes(), b.as_bytes()))
            .collect();
        c.set_many(&pairs).map_err(|e| e.to_string())
    }

    #[test]
    fn memory_units_like_redis() {
        assert_eq!(parse_memory(b"100mb"), Some(100 * 1024 * 1024));
        assert_eq!(parse_memory(b"1GB"), Some(1 << 30));
        assert_eq!(parse_memory(b"1g"), Some(1_000_000_000));
        assert_eq!(parse_memory(b"1k"), Some(1000));
        assert_eq!(parse_memory(b"5"), Some(5));
        assert_eq!(parse_memory(b"0B"), Some(0));
        assert_eq!(parse_memory(b""), Some(0));
        assert_eq!(parse_memory(b"kb"), Some(0));
        assert_eq!(parse_memory(b"-1"), None);
        assert_eq!(parse_memory(b"1.5gb"), None);
        assert_eq!(parse_memory(b"1x"), None);
        assert_eq!(parse_memory(b"99999999999999999999"), Some(u64::MAX));
        assert_eq!(
            parse_memory(b"99999999999999999999kb"),
            Some(18446744073709550592)
        );
        assert_eq!(
            parse_memory(b"20000000000000000gb"),
            Some(4026358804357578752)
        );
    }

    #[test]
    fn set_errors_match_redis() {
        let c = Config::default();
        assert_eq!(
            set(&c, &[("foo", "bar")]).unwrap_err(),
            "Unknown option or number of arguments for CONFIG SET - 'foo'"
        );
        assert_eq!(
            set(&c, &[("hz", "10"), ("hz", "11")]).unwrap_err(),
            "CONFIG SET failed (possibly related to argument 'hz') - duplicate parameter"
        );
        assert_eq!(
            set(&c, &[("DATABASES", "5")]).unwrap_err(),
            "CONFIG SET failed (possibly related to argument 'DATABASES') - can't set immutable config"
        );
        assert_eq!(
            set(&c, &[("HZ", "abc")]).unwrap_err(),
            "CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer"
        );
        assert_eq!(
            set(&c, &[("maxmemory", "100mb"), ("maxmemory-samples", "0")]).unwrap_err(),
            "CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument must be between 1 and 2147483647 inclusive"
        );
        // Atomic: the valid first pair was not applied.
        assert_eq!(c.read(|v| v.maxmemory), 0);
        assert_eq!(
            set(&c, &[("maxclients", "-1")]).unwrap_err(),
            "CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"
        );
        assert_eq!(
            set(&c, &[("maxmemory-policy", "foo")]).unwrap_err(),
            "CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
        );
        assert_eq!(
            set(&c, &[("hash-max-ziplist-entries", "x")]).unwrap_err(),
            "CONFIG SET failed (possibly related to argument 'hash-max-ziplist-entries') - argument couldn't be parsed into an integer"
        );
        // First problem wins: an immutable one before an unknown one.
        assert!(
            set(&c, &[("databases", "1"), ("foo", "2")])
                .unwrap_err()
                .contains("immutable")
        );
        assert!(
            set(&c, &[("foo", "1"), ("databases", "2")])
                .unwrap_err()
                .contains("Unknown option")
        );
        assert!(
            set(&c, &[("hz", "x"), ("databases", "1")])
                .unwrap_err()
                .contains("immutable")
        );
    }

    #[test]
    fn set_applies_all() {
        let c = Config::default();
        set(
            &c,
            &[
                ("maxmemory", "1gb"),
                ("maxmemory-policy", "ALLKEYS-LRU"),
                ("hz", "501"),
                ("requirepass", "secret"),
            ],
        )
        .unwrap();
        let v = c.get();
        assert_eq!(v.maxmemory, 1 << 30);
        assert_eq!(v.maxmemory_policy, "allkeys-lru");
        assert_eq!(v.hz, 500);
        assert_eq!(v.requirepass.as_deref(), Some("secret"));
        set(&c, &[("requirepass", ""), ("hz", "0")]).unwrap();
        assert_eq!(c.read(|v| v.requirepass.clone()), None);
        assert_eq!(c.read(|v| v.hz), 1);
        // Aliases are separate entries in Redis 7.0: both may be set in one call.
        set(
            &c,
            &[
                ("hash-max-ziplist-entries", "1"),
                ("hash-max-listpack-entries", "2"),
            ],
        )
        .unwrap();
        assert_eq!(c.read(|v| v.hash_max_listpack_entries), 2);
    }

    #[test]
    fn notify_flags_round_trip_like_redis() {
        for (given, shown) in [
            ("KEA", "AKE"),
            ("Kg", "gK"),
            ("An", "A"),
            ("mKE", "KEm"),
            ("g$lshzxetd", "A"),
            ("Ex", "xE"),
            ("gn", "gn"),
            ("", ""),
        ] {
            let flags = notify::parse(given.as_bytes()).unwrap();
            assert_eq!(notify::format(flags), shown, "{given}");
        }
        assert_eq!(notify::parse(b"xyz"), None);
        let mut v = ConfigValues::default();
        v.apply("notify-keyspace-events", b"An").unwrap();
        assert_ne!(v.notify_flags() & notify::NEW, 0);
    }

    #[test]
    fn persistence_params_like_redis() {
        let c = Config::default();
        set(&c, &[("save", ""), ("appendonly", "NO")]).unwrap();
        set(&c, &[("save", "3600 1 +60 0")]).unwrap();
        assert_eq!(c.get().get_text("save").as_deref(), Some("3600 1 60 0"));
        for bad in ["10", "0 1", "10 -1", "a b", "10  1"] {
            assert!(
                set(&c, &[("save", bad)])
                    .unwrap_err()
                    .ends_with("Invalid save parameters"),
                "{bad}"
            );
        }
        assert!(
            set(&c, &[("dir", "/tmp")])
                .unwrap_err()
                .ends_with("can't set protected config")
        );
        assert!(
            set(&c, &[("rdbchecksum", "no")])
                .unwrap_err()
                .ends_with("can't set immutable config")
        );
        let mut open = ConfigValues::default();
        open.apply("enable-protected-configs", b"local").unwrap();
        let c2 = Config::new(open);
        let pairs: &[(&[u8], &[u8])] = &[(b"dir", b"/tmp")];
        assert!(c2.set_many_as(pairs, false).is_err());
        c2.set_many_as(pairs, true).unwrap();
        assert!(
            set(&c2, &[("dir", "/nonexistent-embedis")])
                .unwrap_err()
                .ends_with("- No such file or directory")
        );
        assert!(
            set(&c2, &[("dbfilename", "a/b")])
                .unwrap_err()
                .ends_with("dbfilename can't be a path, just a filename")
        );
        set(
            &c,
            &[
                ("appendfsync", "ALWAYS"),
                ("auto-aof-rewrite-min-size", "1kb"),
            ],
        )
        .unwrap();
        assert_eq!(c.get().persist.auto_aof_rewrite_min_size, 1024);
        assert!(
            set(&c, &[("appendfsync", "sometimes")])
                .unwrap_err()
                .ends_with("argument(s) must be one of the following: everysec, always, no")
        );
        assert!(
            set(&c, &[("save", "abc")])
                .unwrap_err()
                .ends_with("Invalid save parameters")
        );
        assert!(
            set(&c, &[("appendonly", "maybe")])
                .unwrap_err()
                .ends_with("argument must be 'yes' or 'no'")
        );
        set(&c, &[("appendonly", "yes")]).unwrap();
        assert_eq!(c.get().get_text("appendonly").as_deref(), Some("yes"));
    }

    #[test]
    fn every_default_parses_back_to_itself() {
        for p in PARAMS {
            let text = p.default_text();
            let mut v = ConfigValues::default();
            let parsed = p
                .parse(text.as_bytes())
                .unwrap_or_else(|e| panic!("{}: {e}", p.name));
            (p.set)(&mut v, parsed);
            assert_eq!((p.get)(&v), text, "{}", p.name);
            assert_eq!(lookup(p.name.as_bytes()).map(|(q, _)| q.name), Some(p.name));
        }
    }

    #[test]
    fn startup_apply_sets_immutable() {
        let mut v = ConfigValues::default();
        v.apply("databases", b"4").unwrap();
        v.apply("PORT", b"7000").unwrap();
        v.apply("maxmemory", b"256mb").unwrap();
        assert_eq!((v.databases, v.port, v.maxmemory), (4, 7000, 256 << 20));
        assert_eq!(v.get_text("lua-time-limit").as_deref(), Some("5000"));
        assert!(matches!(
            v.apply("nope", b"1"),
            Err(ConfigError::Unknown { .. })
        ));
    }
}
