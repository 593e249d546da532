//! Typed persistence methods: SAVE, BGSAVE, LASTSAVE, BGREWRITEAOF, DUMP, RESTORE.

use crate::cmd::persist::{RestoreOptions, dump_exec, restore_exec};
use crate::db::Db;
use crate::error::Result;
use crate::persist::{self, BgError, PersistError};

impl Db {
    /// SAVE: writes the RDB file now and returns when it is on disk. Other handles keep
    /// working meanwhile (each pauses at most for one shard's serialization).
    pub fn save(&self) -> std::result::Result<(), PersistError> {
        persist::save(self.engine())
    }

    /// BGSAVE: takes a snapshot now and writes it in the background.
    pub fn bgsave(&self) -> std::result::Result<(), BgError> {
        persist::bgsave(self.engine(), None)
    }

    /// BGREWRITEAOF: rewrites the append-only file in the background.
    pub fn bgrewriteaof(&self) -> std::result::Result<(), BgError> {
        persist::bgrewriteaof(self.engine())
    }

    /// LASTSAVE: Unix seconds of the last successful save (start-up time if none).
    pub fn lastsave(&self) -> u64 {
        let e = self.engine();
        e.persist
            .state()
            .map_or(e.started_ms / 1000, |s| s.lastsave())
    }

    /// Flushes and syncs the append-only file, and writes the RDB file when `save` says so
    /// (`None`: when save points are configured), as redis-server does on SHUTDOWN.
    pub fn shutdown_persist(&self, save: Option<bool>) -> std::result::Result<(), PersistError> {
        persist::shutdown(self.engine(), save)
    }

    /// DUMP: the Redis-compatible serialized value of `key`, `None` if it does not exist.
    ///
    /// ```
    /// use embedis::cmd::persist::RestoreOptions;
    /// let db = embedis::Db::new();
    /// db.call(["HSET", "h", "f", "v"]);
    /// let payload = db.dump("h").unwrap().unwrap();
    /// db.restore("copy", 0, &payload, RestoreOptions::default()).unwrap();
    /// assert_eq!(db.call(["HGET", "copy", "f"]), embedis::Reply::bulk("v"));
    /// ```
    pub fn dump(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let key = key.as_ref();
        self.with_key(key, |a| dump_exec(a, key))
    }

    /// RESTORE: creates `key` from a DUMP payload (from embedis or Redis 7.0). `ttl_ms` 0 is
    /// no expiry; otherwise relative milliseconds, or an absolute Unix time with
    /// `opts.absttl`.
    pub fn restore(
        &self,
        key: impl AsRef<[u8]>,
        ttl_ms: i64,
        payload: &[u8],
        opts: RestoreOptions,
    ) -> Result<()> {
        let key = key.as_ref();
        let zlimits = crate::cmd::zset::limits(self.engine());
        self.with_key(key, |a| {
            restore_exec(a, key, ttl_ms, payload, opts, &zlimits)
        })
    }
}
