//! The slow log (SLOWLOG GET/LEN/RESET): commands that ran longer than
//! `slowlog-log-slower-than` microseconds, newest first, at most `slowlog-max-len` of them,
//! recorded the way Redis 7.0 records them (argument truncation, redacted secrets).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::config::ConfigValues;

/// At most this many arguments are kept; the last kept slot then says how many were left out.
pub const MAX_ARGS: usize = 32;
/// Each argument is cut to this many bytes, followed by how many were left out.
pub const MAX_ARG_BYTES: usize = 128;

/// One slow command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowlogEntry {
    /// Unique, increasing id (not reset by SLOWLOG RESET).
    pub id: u64,
    /// Unix time in seconds when the command was logged.
    pub time: u64,
    /// How long it ran, in microseconds.
    pub duration_us: u64,
    /// The arguments, truncated and redacted.
    pub args: Vec<Bytes>,
    /// The client's `ip:port` (empty for in-process calls).
    pub addr: String,
    /// The client's name (empty if none).
    pub name: Bytes,
}

#[derive(Debug, Default)]
struct Log {
    entries: VecDeque<SlowlogEntry>,
    next_id: u64,
}

/// The slow log of one engine.
#[derive(Debug)]
pub struct Slowlog {
    // Copies of the two settings, read on every command without touching the config lock.
    slower_than: AtomicI64,
    max_len: AtomicU64,
    log: Mutex<Log>,
}

impl Slowlog {
    /// An empty log obeying `config`.
    pub fn new(config: &ConfigValues) -> Self {
        let s = Slowlog {
            slower_than: AtomicI64::new(0),
            max_len: AtomicU64::new(0),
            log: Mutex::new(Log::default()),
        };
        s.configure(config);
        s
    }

    /// Takes the thresholds from `config` (after CONFIG SET), trimming the log if it shrank.
    pub fn configure(&self, config: &ConfigValues) {
        self.slower_than
            .store(config.slowlog_log_slower_than, Ordering::Relaxed);
        self.max_len
            .store(config.slowlog_max_len, Ordering::Relaxed);
        let max = config.slowlog_max_len as usize;
        let mut log = self.log.lock();
        log.entries.truncate(max);
    }

    /// Whether a command that ran `duration_us` must be logged.
    #[inline]
    pub fn is_slow(&self, duration_us: u64) -> bool {
        let threshold = self.slower_than.load(Ordering::Relaxed);
        threshold >= 0 && duration_us >= threshold as u64
    }

    /// Logs a command (call only when [`is_slow`](Slowlog::is_slow) said so).
    pub fn push(&self, args: Vec<Bytes>, duration_us: u64, time: u64, addr: String, name: Bytes) {
        let max = self.max_len.load(Ordering::Relaxed) as usize;
        let mut log = self.log.lock();
        let id = log.next_id;
        log.next_id += 1;
        log.entries.push_front(SlowlogEntry {
            id,
            time,
            duration_us,
            args,
            addr,
            name,
        });
        log.entries.truncate(max);
    }

    /// The newest `count` entries.
    pub fn get(&self, count: usize) -> Vec<SlowlogEntry> {
        self.log
            .lock()
            .entries
            .iter()
            .take(count)
            .cloned()
            .collect()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.log.lock().entries.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry (ids keep increasing).
    pub fn reset(&self) {
        self.log.lock().entries.clear();
    }
}

/// The arguments as the slow log keeps them: secrets replaced by `(redacted)` (AUTH, HELLO
/// AUTH, CONFIG SET of a sensitive parameter, MIGRATE AUTH/AUTH2), at most [`MAX_ARGS`]
/// of them and each at most [`MAX_ARG_BYTES`] long.
pub fn entry_args(full_name: &str, args: &[Bytes]) -> Vec<Bytes> {
    let redacted = redacted_positions(full_name, args);
    let kept = args.len().min(MAX_ARGS);
    let mut out = Vec::with_capacity(kept);
    for (j, a) in args.iter().take(kept).enumerate() {
        if kept != args.len() && j == kept - 1 {
            out.push(Bytes::from(format!(
                "... ({} more arguments)",
                args.len() - kept + 1
            )));
        } else if redacted.contains(&j) {
            out.push(Bytes::from_static(b"(redacted)"));
        } else if a.len() > MAX_ARG_BYTES {
            let mut s = a[..MAX_ARG_BYTES].to_vec();
            s.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_ARG_BYTES).as_bytes());
            out.push(Bytes::from(s));
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// Positions of arguments the command itself would redact in Redis.
fn redacted_positions(full_name: &str, args: &[Bytes]) -> Vec<usize> {
    let is = |a: &Bytes, s: &str| a.eq_ignore_ascii_case(s.as_bytes());
    let mut out = Vec::new();
    match full_name {
        "auth" => out.extend(1..args.len()),
        "hello" => {
            let mut j = 2;
            while j < args.len() {
                let more = args.len() - 1 - j;
                if is(&args[j], "auth") && more >= 2 {
                    out.extend([j + 1, j + 2]);
                    j += 2;
                } else if is(&args[j], "setname") && more >= 1 {
                    j += 1;
                } else {
                    break;
                }
                j += 1;
            }
        }
        "config|set" => {
            let mut j = 2;
            while j + 1 < args.len() {
                if crate::config::lookup(&args[j]).is_some_and(|(p, _)| p.sensitive) {
                    out.push(j + 1);
                }
                j += 2;
            }
        }
        "migrate" => {
            let mut j = 6;
            while j < args.len() {
                let more = args.len() - 1 - j;
                if is(&args[j], "auth") && more >= 1 {
                    out.push(j + 1);
                    j += 1;
                } else if is(&args[j], "auth2") && more >= 2 {
                    out.extend([j + 1, j + 2]);
                    j += 2;
                } else if !is(&args[j], "copy") && !is(&args[j], "replace") {
                    // KEYS ends the options; anything else is a syntax error there.
                    break;
                }
                j += 1;
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn truncates_like_redis() {
        let mut args = vec![b("rpush"), b("l")];
        args.extend((1..=40).map(|i| b(&i.to_string())));
        let kept = entry_args("rpush", &args);
        assert_eq!(kept.len(), 32);
        assert_eq!(kept[31], b("... (11 more arguments)"));
        assert_eq!(kept[30], b("29"));

        let long = "x".repeat(200);
        let kept = entry_args("set", &[b("set"), b("k"), b(&long)]);
        assert_eq!(
            kept[2],
            b(&format!("{}... (72 more bytes)", "x".repeat(128)))
        );
    }

    #[test]
    fn redacts_secrets() {
        let kept = entry_args("auth", &[b("auth"), b("user"), b("pass")]);
        assert_eq!(kept, vec![b("auth"), b("(redacted)"), b("(redacted)")]);
        let kept = entry_args(
            "hello",
            &[
                b("hello"),
                b("3"),
                b("AUTH"),
                b("u"),
                b("p"),
                b("setname"),
                b("n"),
            ],
        );
        assert_eq!(kept[3], b("(redacted)"));
        assert_eq!(kept[4], b("(redacted)"));
        assert_eq!(kept[6], b("n"));
        let kept = entry_args(
            "config|set",
            &[
                b("config"),
                b("set"),
                b("hz"),
                b("5"),
                b("requirepass"),
                b("pw"),
            ],
        );
        assert_eq!(kept[3], b("5"));
        assert_eq!(kept[5], b("(redacted)"));
    }

    #[test]
    fn keeps_newest_first_within_max_len() {
        let mut cfg = ConfigValues {
            slowlog_max_len: 2,
            slowlog_log_slower_than: 5,
            ..ConfigValues::default()
        };
        let log = Slowlog::new(&cfg);
        assert!(!log.is_slow(4));
        assert!(log.is_slow(5));
        for i in 0..3 {
            log.push(vec![b("ping")], 10, i, String::new(), Bytes::new());
        }
        let got = log.get(10);
        assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), vec![2, 1]);
        log.reset();
        assert!(log.is_empty());
        log.push(vec![b("ping")], 10, 0, String::new(), Bytes::new());
        assert_eq!(log.get(1)[0].id, 3);
        cfg.slowlog_log_slower_than = -1;
        log.configure(&cfg);
        assert!(!log.is_slow(u64::MAX));
    }
}
