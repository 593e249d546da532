//! Server configuration, read like redis-server reads it: an optional configuration file in
//! redis.conf syntax (`name value`, one directive per line, `#` comments, quoting as in inline
//! commands) given as the first argument, then `--name value` flags that override it.
//!
//! Directives are the engine's configuration parameters (`port`, `bind`, `databases`,
//! `requirepass`, `maxclients`, `timeout`, `hz`, `maxmemory`...) plus a few of the server's own:
//! `clock manual|system` (manual time, moved with `EMBEDIS.CLOCK ADVANCE`), `seed N` (one seed
//! for all randomness), `io-threads N` (tokio worker threads; default: one per core). Any other
//! name is applied with `CONFIG SET` once the engine exists, so that parameters the engine
//! learns later work here too, and an unknown one fails at start as in Redis.
//!
//! Persistence is opt-in, unlike redis-server: without any persistence directive (`dir`,
//! `dbfilename`, `save`, `appendonly`, `appendfsync`, ...) the server writes no file, so that
//! `embedis-server` started from any directory (or by a test) leaves nothing behind. Any
//! persistence directive turns it on with redis-server's defaults for the rest (`dir .`,
//! `save 3600 1 300 100 60 10000`, `appendonly no`). Daemonizing does not exist: `daemonize
//! no` is accepted, anything else refused rather than silently ignored.

use embedis::config::ConfigValues;
use embedis::{Db, DbBuilder, ManualClock, Reply};

/// Which clock the engine runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClockMode {
    /// Real time.
    #[default]
    System,
    /// Time moves only with `EMBEDIS.CLOCK ADVANCE` (tests).
    Manual,
}

/// Everything `embedis-server` is started with.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Engine configuration: `port` (0: an ephemeral port), `bind` (space-separated
    /// addresses), `databases`, `requirepass`, `maxclients`, `timeout`, `hz`, limits...
    pub values: ConfigValues,
    /// The clock.
    pub clock: ClockMode,
    /// Seed for all randomness (reproducible runs).
    pub seed: Option<u64>,
    /// Tokio worker threads (default: available parallelism).
    pub io_threads: Option<usize>,
    /// `loglevel`, used by the binary when `RUST_LOG` is not set.
    pub loglevel: Option<String>,
    /// Parameters applied with `CONFIG SET` after the engine is built, in order.
    pub config_set: Vec<(String, String)>,
    /// Persistence (RDB snapshots, AOF), when any persistence directive was given.
    pub persistence: Option<embedis::persist::PersistConfig>,
}

impl ServerConfig {
    /// Reads redis-server style arguments (without the program name; a first argument that
    /// names the `embedis-server` program is skipped): an optional configuration file path
    /// first, then `--name value...` flags.
    ///
    /// ```
    /// let c = embedis_server::ServerConfig::from_args(
    ///     ["--port", "0", "--requirepass", "secret", "--clock", "manual"].map(String::from),
    /// )
    /// .unwrap();
    /// assert_eq!(c.values.port, 0);
    /// ```
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Result<ServerConfig, String> {
        let mut args: Vec<String> = args.into_iter().collect();
        if args
            .first()
            .is_some_and(|a| a.ends_with("embedis-server") && !a.starts_with("--"))
        {
            args.remove(0);
        }
        let mut config = ServerConfig::default();
        let mut rest = &args[..];
        if let Some(first) = rest.first() {
            if !first.starts_with("--") {
                let text = std::fs::read_to_string(first)
                    .map_err(|e| format!("can't open config file '{first}': {e}"))?;
                config.apply_file(&text)?;
                rest = &rest[1..];
            }
        }
        let mut i = 0;
        while i < rest.len() {
            let Some(name) = rest[i].strip_prefix("--") else {
                return Err(format!(
                    "unexpected argument '{}': options are --name value",
                    rest[i]
                ));
            };
            let mut values = Vec::new();
            i += 1;
            while i < rest.len() && !rest[i].starts_with("--") {
                values.push(rest[i].clone());
                i += 1;
            }
            config
                .apply(name, &values)
                .map_err(|e| format!("--{name} {}: {e}", values.join(" ")))?;
        }
        Ok(config)
    }

    /// Applies the directives of a redis.conf-style text.
    pub fn apply_file(&mut self, text: &str) -> Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words = crate::parse::split_inline(line.as_bytes())
                .ok_or_else(|| format!("line {}: unbalanced quotes", n + 1))?;
            let words: Vec<String> = words
                .iter()
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            let Some((name, values)) = words.split_first() else {
                continue;
            };
            self.apply(name, values)
                .map_err(|e| format!("line {}: '{line}': {e}", n + 1))?;
        }
        Ok(())
    }

    /// Applies one directive.
    pub fn apply(&mut self, name: &str, values: &[String]) -> Result<(), String> {
        let name = name.to_ascii_lowercase();
        if name == "bind" {
            if values.is_empty() {
                return Err("wrong number of arguments".into());
            }
            self.values.bind = values.join(" ");
            return Ok(());
        }
        let [value] = values else {
            return Err("wrong number of arguments".into());
        };
        let v = &mut self.values;
        match name.as_str() {
            "port" => v.port = int(value, 0, 65535)? as u16,
            "databases" => v.databases = int(value, 1, i32::MAX as u64)? as usize,
            "maxclients" => v.maxclients = int(value, 1, u32::MAX as u64)?,
            "timeout" => v.timeout = int(value, 0, i32::MAX as u64)?,
            "hz" => v.hz = int(value, 1, 500)? as u32,
            "requirepass" => {
                v.requirepass = (!value.is_empty()).then(|| value.clone());
            }
            "proto-max-bulk-len" => v.proto_max_bulk_len = memory(value, 1024 * 1024)?,
            "client-query-buffer-limit" => {
                v.client_query_buffer_limit = memory(value, 1024 * 1024)?
            }
            "maxmemory" => v.maxmemory = memory(value, 0)?,
            "maxmemory-policy" => {
                const POLICIES: &[&str] = &[
                    "volatile-lru",
                    "volatile-lfu",
                    "volatile-random",
                    "volatile-ttl",
                    "allkeys-lru",
                    "allkeys-lfu",
                    "allkeys-random",
                    "noeviction",
                ];
                let p = value.to_ascii_lowercase();
                if !POLICIES.contains(&p.as_str()) {
                    return Err("argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction".into());
                }
                v.maxmemory_policy = p;
            }
            "maxmemory-samples" => v.maxmemory_samples = int(value, 1, 64)? as u32,
            "slowlog-log-slower-than" => {
                v.slowlog_log_slower_than = value
                    .parse()
                    .map_err(|_| "argument couldn't be parsed into an integer")?
            }
            "slowlog-max-len" => v.slowlog_max_len = int(value, 0, i64::MAX as u64)?,
            "notify-keyspace-events" => {
                if let Some(bad) = value.chars().find(|c| !"KEg$lshzxetmdnA".contains(*c)) {
                    return Err(format!("invalid event class '{bad}'"));
                }
                v.notify_keyspace_events = value.clone();
            }
            // Immutable at runtime, so not applied with CONFIG SET like the rest.
            "enable-protected-configs" => v
                .apply("enable-protected-configs", value.as_bytes())
                .map_err(|e| match e {
                    embedis::config::ConfigError::Failed { reason, .. } => reason.into_owned(),
                    other => other.to_string(),
                })?,
            "clock" => {
                self.clock = match value.to_ascii_lowercase().as_str() {
                    "manual" => ClockMode::Manual,
                    "system" => ClockMode::System,
                    _ => return Err("must be manual or system".into()),
                }
            }
            "seed" => {
                self.seed = Some(
                    value
                        .parse()
                        .map_err(|_| "argument couldn't be parsed into an integer")?,
                )
            }
            "io-threads" => self.io_threads = Some(int(value, 1, 1024)? as usize),
            "loglevel" => {
                let level = value.to_ascii_lowercase();
                if !["debug", "verbose", "notice", "warning", "nothing"].contains(&level.as_str()) {
                    return Err(
                        "argument(s) must be one of the following: debug, verbose, notice, warning, nothing"
                            .into(),
                    );
                }
                self.loglevel = Some(level);
            }
            "logfile" if value.is_empty() => {}
            "daemonize" if value.eq_ignore_ascii_case("no") => {}
            // Loopback is the default bind; exposing the server is an explicit --bind.
            "protected-mode" if ["yes", "no"].contains(&value.to_ascii_lowercase().as_str()) => {}
            "logfile" => return Err("logging to a file is not supported: log to stderr".into()),
            "daemonize" => return Err("daemonizing is not supported".into()),
            _ => {
                let mut persist = self
                    .persistence
                    .clone()
                    .unwrap_or_else(|| embedis::persist::PersistConfig::new("."));
                if persist.apply(&name, value)? {
                    self.persistence = Some(persist);
                } else {
                    self.config_set.push((name, value.clone()));
                }
            }
        }
        Ok(())
    }

    /// Builds the engine this configuration describes.
    pub fn build_db(&self) -> Result<Db, String> {
        let mut builder: DbBuilder = Db::builder().config(self.values.clone());
        if let Some(seed) = self.seed {
            builder = builder.seed(seed);
        }
        if self.clock == ClockMode::Manual {
            builder = builder.clock(ManualClock::new());
        }
        let db = match &self.persistence {
            Some(persist) => builder
                .persistence(persist.clone())
                .open()
                .map_err(|e| format!("can't load the data set: {e}"))?,
            None => builder.build(),
        };
        for (name, value) in &self.config_set {
            match db.call(["CONFIG", "SET", name.as_str(), value.as_str()]) {
                // An engine without CONFIG knows no other parameter.
                Reply::Error(embedis::Error::UnknownCommand { .. }) => {
                    return Err(format!(
                        "'{name} {value}': bad directive or wrong number of arguments"
                    ));
                }
                Reply::Error(e) => return Err(format!("'{name} {value}': {e}")),
                _ => {}
            }
        }
        Ok(db)
    }
}

fn int(value: &str, min: u64, max: u64) -> Result<u64, String> {
    let n: i64 = value
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if n < min as i64 || n as u64 > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n as u64)
}

/// A size with Redis's units: `k`/`m`/`g` are powers of 1000, `kb`/`mb`/`gb` of 1024.
fn memory(value: &str, min: u64) -> Result<u64, String> {
    let lower = value.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(digits_end);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err("argument must be a memory value".into()),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| "argument must be a memory value".to_string())?;
    let bytes = n
        .checked_mul(mul)
        .ok_or_else(|| "argument must be a memory value".to_string())?;
    if bytes < min {
        return Err(format!("argument must be at least {min}"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<ServerConfig, String> {
        ServerConfig::from_args(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_like_redis_server() {
        let c = args(&[
            "--port",
            "7000",
            "--bind",
            "127.0.0.1",
            "::1",
            "--maxmemory",
            "256mb",
            "--requirepass",
            "pw",
            "--clock",
            "manual",
            "--seed",
            "7",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .unwrap();
        assert_eq!(c.values.port, 7000);
        assert_eq!(c.values.bind, "127.0.0.1 ::1");
        assert_eq!(c.values.maxmemory, 256 << 20);
        assert_eq!(c.values.requirepass.as_deref(), Some("pw"));
        assert_eq!(c.clock, ClockMode::Manual);
        assert_eq!(c.seed, Some(7));
        assert!(args(&["embedis-server", "--port", "1"]).is_ok());
        assert!(args(&["--port", "x"]).is_err());
        assert!(args(&["--port", "70000"]).is_err());
        assert!(
            c.persistence
                .as_ref()
                .is_some_and(|p| p.save.is_empty() && !p.appendonly)
        );
        assert!(args(&["--port", "1"]).unwrap().persistence.is_none());
        let aof = args(&["--appendonly", "yes", "--dir", "/tmp/x"]).unwrap();
        assert!(aof.persistence.as_ref().is_some_and(|p| p.appendonly));
        assert!(args(&["--appendonly", "maybe"]).is_err());
        assert!(args(&["--port"]).is_err());
        assert!(args(&["--hz", "0"]).is_err());
        assert_eq!(args(&["--maxmemory", "1k"]).unwrap().values.maxmemory, 1000);
        assert!(args(&["--maxmemory", "1xb"]).is_err());
    }

    #[test]
    fn config_file_then_flags() {
        let dir = std::env::temp_dir().join(format!("embedis-conf-{}", std::process::id()));
        std::fs::write(
            &dir,
            "# comment\nport 7001\n\ntimeout 5\nrequirepass \"a b\"\nMAXCLIENTS 10\n",
        )
        .unwrap();
        let c = args(&[dir.to_str().unwrap(), "--port", "7002"]).unwrap();
        std::fs::remove_file(&dir).ok();
        assert_eq!(c.values.port, 7002);
        assert_eq!(c.values.timeout, 5);
        assert_eq!(c.values.maxclients, 10);
        assert_eq!(c.values.requirepass.as_deref(), Some("a b"));
        assert!(args(&["/nonexistent/embedis.conf"]).is_err());
    }

    #[test]
    fn unknown_parameters_go_through_config_set() {
        let c = args(&["--no-such-parameter", "1"]).unwrap();
        assert_eq!(c.config_set, vec![("no-such-parameter".into(), "1".into())]);
        // The engine refuses it at start, as Redis refuses an unknown directive.
        assert!(c.build_db().is_err());
    }
}
