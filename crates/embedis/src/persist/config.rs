//! Persistence settings, named and parsed like redis-server's (`--dir`, `--dbfilename`,
//! `--appendonly`, `--appendfilename`, `--appenddirname`, `--appendfsync`, `--save`, ...).

use std::path::PathBuf;

/// When the AOF is flushed to stable storage (`appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// After every write command, before it is acknowledged.
    Always,
    /// Once a second, in the background.
    Everysec,
    /// Left to the operating system.
    No,
}

impl Fsync {
    /// The name CONFIG GET replies with.
    pub fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::Everysec => "everysec",
            Fsync::No => "no",
        }
    }

    /// Parses a name (case-insensitive).
    pub fn parse(s: &str) -> Option<Fsync> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Some(Fsync::Always),
            "everysec" => Some(Fsync::Everysec),
            "no" => Some(Fsync::No),
            _ => None,
        }
    }
}

/// Where and how a store persists itself.
///
/// ```
/// use embedis::persist::{Fsync, PersistConfig};
/// let cfg = PersistConfig::new("/var/lib/myapp")
///     .appendonly(true)
///     .appendfsync(Fsync::Always)
///     .save_points(&[(60, 1000)]);
/// assert_eq!(cfg.rdb_path(), std::path::Path::new("/var/lib/myapp/dump.rdb"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PersistConfig {
    /// `dir`: the working directory for all files.
    pub dir: PathBuf,
    /// `dbfilename`.
    pub dbfilename: String,
    /// `appendonly`.
    pub appendonly: bool,
    /// `appendfilename`: the base name of the AOF files.
    pub appendfilename: String,
    /// `appenddirname`: the directory (inside `dir`) of the multi-part AOF.
    pub appenddirname: String,
    /// `appendfsync`.
    pub appendfsync: Fsync,
    /// `save`: `(seconds, changes)` points; empty disables automatic snapshots.
    pub save: Vec<(u64, u64)>,
    /// `rdbcompression`: LZF for long strings.
    pub rdbcompression: bool,
    /// `rdbchecksum`: CRC64 at the end of RDB files.
    pub rdbchecksum: bool,
    /// `aof-load-truncated`: load an AOF whose last command is cut short (and repair it).
    pub aof_load_truncated: bool,
    /// `aof-use-rdb-preamble`: AOF base files in RDB form.
    pub aof_use_rdb_preamble: bool,
    /// `auto-aof-rewrite-percentage` (0 disables automatic rewrites).
    pub auto_aof_rewrite_percentage: u64,
    /// `auto-aof-rewrite-min-size` in bytes.
    pub auto_aof_rewrite_min_size: u64,
}

impl PersistConfig {
    /// redis-server's defaults, in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        PersistConfig {
            dir: dir.into(),
            dbfilename: "dump.rdb".into(),
            appendonly: false,
            appendfilename: "appendonly.aof".into(),
            appenddirname: "appendonlydir".into(),
            appendfsync: Fsync::Everysec,
            save: vec![(3600, 1), (300, 100), (60, 10000)],
            rdbcompression: true,
            rdbchecksum: true,
            aof_load_truncated: true,
            aof_use_rdb_preamble: true,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 * 1024 * 1024,
        }
    }

    /// Turns the append-only file on or off.
    pub fn appendonly(mut self, on: bool) -> Self {
        self.appendonly = on;
        self
    }

    /// Sets the fsync policy.
    pub fn appendfsync(mut self, f: Fsync) -> Self {
        self.appendfsync = f;
        self
    }

    /// Sets the automatic snapshot points (`&[]` disables them).
    pub fn save_points(mut self, points: &[(u64, u64)]) -> Self {
        self.save = points.to_vec();
        self
    }

    /// Sets the RDB file name.
    pub fn dbfilename(mut self, name: impl Into<String>) -> Self {
        self.dbfilename = name.into();
        self
    }

    /// The RDB file.
    pub fn rdb_path(&self) -> PathBuf {
        self.dir.join(&self.dbfilename)
    }

    /// The multi-part AOF directory.
    pub fn aof_dir(&self) -> PathBuf {
        self.dir.join(&self.appenddirname)
    }

    /// Parses a `save` value: pairs of seconds and changes, or `""` for none.
    pub fn parse_save(s: &str) -> Result<Vec<(u64, u64)>, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        if words.len() % 2 != 0 {
            return Err("Invalid save parameters".into());
        }
        words
            .chunks(2)
            .map(|p| match (p[0].parse::<u64>(), p[1].parse::<u64>()) {
                (Ok(secs), Ok(changes)) => Ok((secs, changes)),
                _ => Err("Invalid save parameters".into()),
            })
            .collect()
    }

    /// The `save` value as CONFIG GET shows it.
    pub fn save_string(&self) -> String {
        self.save
            .iter()
            .map(|(s, c)| format!("{s} {c}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Applies one setting by its redis.conf name (`dir`, `appendonly`, ...). `Ok(false)` if
    /// the name is not a persistence setting; `Err` with a reason for a bad value. Meant for
    /// command-line and config-file parsing (`--appendfsync always`).
    pub fn apply(&mut self, name: &str, value: &str) -> Result<bool, String> {
        let yes_no = |v: &str| match v.to_ascii_lowercase().as_str() {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ => Err("argument must be 'yes' or 'no'".to_string()),
        };
        let bytes =
            |v: &str| crate::persist::parse_memory(v).ok_or("argument must be a memory value");
        match name.to_ascii_lowercase().as_str() {
            "dir" => self.dir = PathBuf::from(value),
            "dbfilename" => {
                if value.contains('/') {
                    return Err("dbfilename can't be a path, just a filename".into());
                }
                self.dbfilename = value.into()
            }
            "appendonly" => self.appendonly = yes_no(value)?,
            "appendfilename" => {
                if value.contains('/') {
                    return Err("appendfilename can't be a path, just a filename".into());
                }
                self.appendfilename = value.into()
            }
            "appenddirname" => {
                if value.contains('/') {
                    return Err("appenddirname can't be a path, just a dirname".into());
                }
                self.appenddirname = value.into()
            }
            "appendfsync" => {
                self.appendfsync = Fsync::parse(value)
                    .ok_or("argument(s) must be one of the following: always, everysec, no")?
            }
            "save" => self.save = Self::parse_save(value)?,
            "rdbcompression" => self.rdbcompression = yes_no(value)?,
            "rdbchecksum" => self.rdbchecksum = yes_no(value)?,
            "aof-load-truncated" => self.aof_load_truncated = yes_no(value)?,
            "aof-use-rdb-preamble" => {
                if !yes_no(value)? {
                    return Err("embedis writes AOF base files in RDB form only: aof-use-rdb-preamble no is not supported".into());
                }
                self.aof_use_rdb_preamble = true
            }
            "auto-aof-rewrite-percentage" => {
                self.auto_aof_rewrite_percentage = value
                    .parse()
                    .map_err(|_| "argument must be a number".to_string())?
            }
            "auto-aof-rewrite-min-size" => self.auto_aof_rewrite_min_size = bytes(value)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Every setting by its redis.conf name, as CONFIG GET shows it.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let yn = |b: bool| if b { "yes" } else { "no" }.to_string();
        vec![
            ("dir", self.dir.display().to_string()),
            ("dbfilename", self.dbfilename.clone()),
            ("appendonly", yn(self.appendonly)),
            ("appendfilename", self.appendfilename.clone()),
            ("appenddirname", self.appenddirname.clone()),
            ("appendfsync", self.appendfsync.name().into()),
            ("save", self.save_string()),
            ("rdbcompression", yn(self.rdbcompression)),
            ("rdbchecksum", yn(self.rdbchecksum)),
            ("aof-load-truncated", yn(self.aof_load_truncated)),
            ("aof-use-rdb-preamble", yn(self.aof_use_rdb_preamble)),
            (
                "auto-aof-rewrite-percentage",
                self.auto_aof_rewrite_percentage.to_string(),
            ),
            (
                "auto-aof-rewrite-min-size",
                self.auto_aof_rewrite_min_size.to_string(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_redis_flags() {
        let mut c = PersistConfig::new("/tmp");
        assert_eq!(c.apply("appendonly", "yes"), Ok(true));
        assert_eq!(c.apply("appendfsync", "ALWAYS"), Ok(true));
        assert_eq!(c.apply("save", ""), Ok(true));
        assert_eq!(c.apply("auto-aof-rewrite-min-size", "1mb"), Ok(true));
        assert_eq!(c.apply("port", "1"), Ok(false));
        assert!(c.apply("save", "1").is_err());
        assert!(c.apply("dbfilename", "a/b").is_err());
        assert!(c.appendonly);
        assert_eq!(c.appendfsync, Fsync::Always);
        assert!(c.save.is_empty());
        assert_eq!(c.auto_aof_rewrite_min_size, 1024 * 1024);
        assert_eq!(
            PersistConfig::parse_save("900 1 300 10").unwrap(),
            vec![(900, 1), (300, 10)]
        );
    }
}
