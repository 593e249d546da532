//! Runtime configuration: what `CONFIG GET/SET` read and write, and what the engine obeys.

use parking_lot::RwLock;

/// Configuration values the engine reads. Cheap to clone; read with [`Config::get`].
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
    /// `hz`: background task frequency.
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
    /// `maxmemory-policy`.
    pub maxmemory_policy: String,
    /// `maxmemory-samples`.
    pub maxmemory_samples: u32,
    /// `notify-keyspace-events` flags as given.
    pub notify_keyspace_events: String,
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
        }
    }
}

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
}
