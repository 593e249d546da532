//! Typed server methods: database size and flushing, TIME, INFO, CONFIG.

use crate::cmd::server::{
    FlushMode, InfoSelection, config_get_exec, config_set_exec, flushall_exec, flushdb_exec,
    info_exec, swapdb_exec, time_exec,
};
use crate::config::ConfigError;
use crate::db::Db;
use crate::error::Result;

impl Db {
    /// DBSIZE: number of keys in this handle's database.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.set("a", "1");
    /// assert_eq!(db.dbsize(), 1);
    /// ```
    pub fn dbsize(&self) -> usize {
        let index = self.index();
        self.with_all(|a| a.dbsize(index))
    }

    /// FLUSHDB: removes every key of this handle's database; returns how many there were.
    pub fn flushdb(&self, mode: FlushMode) -> usize {
        let index = self.index();
        self.with_all(|a| flushdb_exec(a, index, mode))
    }

    /// FLUSHALL: removes every key of every database; returns how many there were.
    pub fn flushall(&self, mode: FlushMode) -> usize {
        self.with_all(|a| flushall_exec(a, mode))
    }

    /// SWAPDB: exchanges two databases (`Err(DbIndexOutOfRange)` if either does not exist).
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.set("k", "in zero");
    /// db.swapdb(0, 1).unwrap();
    /// assert_eq!(db.dbsize(), 0);
    /// assert_eq!(db.select(1).unwrap().dbsize(), 1);
    /// ```
    pub fn swapdb(&self, db1: usize, db2: usize) -> Result<()> {
        let to_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.with_all(|a| swapdb_exec(a, to_i64(db1), to_i64(db2)))
    }

    /// TIME: the engine clock as (Unix seconds, microseconds within the second).
    pub fn time(&self) -> (u64, u64) {
        time_exec(self.engine().clock.now_micros())
    }

    /// INFO: the text of the given sections (`""` or `"default"` for the default ones,
    /// `"all"`, `"everything"`, or section names separated by spaces).
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.set("k", "v");
    /// assert!(db.info("keyspace").contains("db0:keys=1,expires=0,avg_ttl=0"));
    /// ```
    pub fn info(&self, sections: &str) -> String {
        let names: Vec<&str> = sections.split_whitespace().collect();
        let e = self.engine();
        info_exec(e, None, e.clock.now_millis(), &InfoSelection::parse(&names))
    }

    /// CONFIG GET: `(name, value)` pairs of the parameters matching the glob patterns.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// assert_eq!(db.config_get(&["maxmemory"]), vec![("maxmemory".into(), "0".into())]);
    /// ```
    pub fn config_get(&self, patterns: &[&str]) -> Vec<(String, String)> {
        config_get_exec(self.engine(), patterns)
    }

    /// CONFIG SET: sets every `(name, value)` pair or none, with Redis's checks.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// db.config_set(&[("maxmemory", "100mb"), ("maxmemory-policy", "allkeys-lru")]).unwrap();
    /// assert_eq!(db.config_get(&["maxmemory"])[0].1, "104857600");
    /// assert!(db.config_set(&[("databases", "4")]).is_err());
    /// ```
    pub fn config_set(&self, pairs: &[(&str, &str)]) -> Result<(), ConfigError> {
        let pairs: Vec<(&[u8], &[u8])> = pairs
            .iter()
            .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
            .collect();
        config_set_exec(self.engine(), &pairs)
    }
}
