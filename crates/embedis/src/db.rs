//! The engine handle ([`Db`]), its builder, and sessions ([`Session`]): the per-client state
//! that commands such as SELECT, AUTH and HELLO change.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};

use crate::clock::{Clock, Stopwatch, SystemClock};
use crate::cmd::{self, CommandRef, Ctx};
use crate::config::{Config, ConfigValues};
use crate::error::{Error, Result};
use crate::keyspace::{Access, Keyspace, SHARDS};
use crate::reply::Reply;
use crate::stats::{Counter, Stats};

/// Everything shared by all handles and sessions of one store.
#[derive(Debug)]
pub struct Engine {
    /// The keys.
    pub keyspace: Keyspace,
    /// The injected clock.
    pub clock: Arc<dyn Clock>,
    /// Live configuration.
    pub config: Config,
    /// INFO counters.
    pub stats: Stats,
    /// Per-command statistics, indexed by [`CommandRef::id`].
    pub command_stats: Box<[CommandStats]>,
    /// Whether clients must authenticate (mirrors `requirepass` being set).
    pub auth_required: AtomicBool,
    /// Seeded randomness for RANDOMKEY, SPOP, SRANDMEMBER, Lua's math.random...
    pub rng: Mutex<SmallRng>,
    /// Unix time in ms when the engine started.
    pub started_ms: u64,
    /// The 40-hex-character run id INFO reports.
    pub run_id: String,
    next_client_id: AtomicU64,
    /// Set when SHUTDOWN (or the embedding application) asks the server to stop; set it with
    /// [`Engine::request_shutdown`] so that a server waiting on [`Engine::shutdown_signal`]
    /// wakes up.
    pub shutdown_requested: AtomicBool,
    shutdown_notify: tokio::sync::Notify,
    /// Connected clients (server connections register here).
    pub clients: crate::clients::Clients,
    /// Lua scripts and functions, and the script running now.
    pub scripting: crate::script::Scripting,
    /// RDB/AOF persistence (inactive unless the store was opened with a directory).
    pub persist: crate::persist::Persistence,
    /// SLOWLOG entries.
    pub slowlog: crate::slowlog::Slowlog,
    /// Highest `used_memory` seen (INFO `used_memory_peak`), sampled by the background
    /// cycle, INFO and MEMORY STATS.
    pub peak_memory: AtomicU64,
}

/// Calls, time and errors of one command (INFO commandstats).
#[derive(Debug, Default)]
pub struct CommandStats {
    /// Times the command ran.
    pub calls: Counter,
    /// Total microseconds spent in it.
    pub usec: Counter,
    /// Calls refused before running (arity, auth, OOM...).
    pub rejected_calls: Counter,
    /// Calls that ran and replied with an error.
    pub failed_calls: Counter,
}

impl Engine {
    /// A new client id (CLIENT ID), unique for the engine's life.
    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A random 64-bit number from the engine's (possibly seeded) generator.
    pub fn random_u64(&self) -> u64 {
        self.rng.lock().next_u64()
    }

    /// The pub/sub broker (channels, patterns, keyspace notifications).
    pub fn pubsub(&self) -> &Arc<crate::pubsub::Broker> {
        self.keyspace.broker()
    }

    /// Clients blocked in BLPOP and friends right now (INFO `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.keyspace.blocking.pending()
    }

    /// Blocked clients with a timeout (INFO `clients_in_timeout_table`).
    pub fn clients_in_timeout_table(&self) -> usize {
        self.keyspace.blocking.with_deadline()
    }

    /// Asks whoever serves this engine (embedis-server) to stop: sets
    /// [`shutdown_requested`](Engine::shutdown_requested) and wakes [`shutdown_signal`]
    /// waiters.
    pub fn request_shutdown(&self) {
        self.shutdown_requested.store(true, Ordering::SeqCst);
        // SHUTDOWN NOSAVE is how Redis users stop a script that cannot be killed.
        self.scripting.stop_for_shutdown();
        self.shutdown_notify.notify_waiters();
    }

    /// Completes once [`request_shutdown`](Engine::request_shutdown) has been called (at once
    /// if it already was).
    pub async fn shutdown_signal(&self) {
        loop {
            let notified = self.shutdown_notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the flag is read: a request between the two still wakes us.
            notified.as_mut().enable();
            if self.shutdown_requested.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }

    /// Removes keys whose TTL has passed, at most `budget` in all; returns how many.
    pub fn active_expire(&self, budget: usize) -> usize {
        self.expire_pass(budget).0
    }

    /// Removes keys whose TTL has passed, shard by shard, holding each shard's lock for at
    /// most [`EXPIRE_BATCH`] removals so that clients never wait long; at most `budget` in
    /// all. Returns how many were removed and the earliest expiry left.
    fn expire_pass(&self, budget: usize) -> (usize, Option<u64>) {
        let now = self.clock.now_millis();
        let ks = &self.keyspace;
        ks.take_expiry_hint();
        let mut removed = 0;
        let mut next: Option<u64> = None;
        for idx in 0..SHARDS {
            loop {
                let batch = EXPIRE_BATCH.min(budget - removed);
                let (n, shard_next) = ks
                    .lock_shard(idx, &self.stats, now)
                    .expire_shard(idx, batch);
                removed += n;
                if removed == budget {
                    return (removed, Some(now));
                }
                if n < batch {
                    if let Some(at) = shard_next {
                        next = Some(next.map_or(at, |n: u64| n.min(at)));
                    }
                    break;
                }
            }
        }
        (removed, next)
    }

    /// One run of the background cycle: reclaims expired keys, continues an eviction that a
    /// command left unfinished, and samples the memory peak. Returns how long to sleep: until
    /// the next key expires, at least 1 ms and at most 1/hz.
    pub fn background_cycle(&self) -> Duration {
        let (_, next) = self.expire_pass(usize::MAX);
        let ks = &self.keyspace;
        if ks.maxmemory() != 0 && ks.used_memory() > ks.maxmemory() {
            self.evict(None);
        }
        self.memory_peak();
        let hz = self.config.read(|c| c.hz).clamp(1, 500) as u64;
        let now = self.clock.now_millis();
        let next = next.map_or(u64::MAX, |n| n.min(ks.expiry_hint()));
        let wait = next.saturating_sub(now).clamp(1, 1000 / hz);
        Duration::from_millis(wait)
    }

    /// `used_memory`: what the keyspace holds (see `keyspace::Keyspace::used_memory`).
    pub fn used_memory(&self) -> u64 {
        self.keyspace.used_memory()
    }

    /// The highest `used_memory` seen, including now.
    pub fn memory_peak(&self) -> u64 {
        let used = self.used_memory();
        self.peak_memory
            .fetch_max(used, Ordering::Relaxed)
            .max(used)
    }

    /// Evicts keys per the maxmemory settings until memory is within `maxmemory` (see
    /// `keyspace::evict`). `held` is the all-shards lock of EXEC or a script.
    pub fn evict(&self, held: Option<&mut Access<'_>>) -> crate::keyspace::evict::Outcome {
        let limits = self.keyspace.limits();
        let now = held
            .as_ref()
            .map_or_else(|| self.clock.now_millis(), |a| a.now_ms());
        // A generator of its own, seeded from the engine's: commands draw from the engine's
        // generator while holding shard locks, so holding its lock here while taking shard
        // locks could deadlock.
        let mut rng = SmallRng::seed_from_u64(self.random_u64());
        let mut rand = || rng.next_u64();
        crate::keyspace::evict::perform(&self.keyspace, &self.stats, held, now, limits, &mut rand)
    }

    /// What Redis does before every command when `maxmemory` is set: evict as the policy
    /// allows, then refuse a command that may grow memory (`denyoom`) if memory is still over
    /// the limit with nothing left to evict. EXEC and scripts call it with their lock.
    pub fn check_maxmemory(&self, held: Option<&mut Access<'_>>, denyoom: bool) -> Result<()> {
        let max = self.keyspace.maxmemory();
        if max == 0 || self.keyspace.used_memory() <= max {
            return Ok(());
        }
        let outcome = self.evict(held);
        self.memory_peak();
        if denyoom && outcome == crate::keyspace::evict::Outcome::Fail {
            return Err(Error::Oom);
        }
        Ok(())
    }

    /// Brings the keyspace's memory settings in line with the configuration (at start and
    /// after CONFIG SET).
    pub fn apply_memory_config(&self) {
        self.config.read(|c| {
            let limits = crate::keyspace::evict::Limits {
                maxmemory: c.maxmemory,
                policy: crate::keyspace::evict::Policy::parse(&c.maxmemory_policy)
                    .unwrap_or_default(),
                samples: c.maxmemory_samples as usize,
            };
            self.keyspace
                .configure(limits, c.lfu_log_factor, c.lfu_decay_time);
        });
    }
}

/// Most keys the active expiry cycle removes under one shard lock.
pub const EXPIRE_BATCH: usize = 256;

/// How a session's replies are delivered (CLIENT REPLY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplyMode {
    /// Every reply is sent.
    #[default]
    On,
    /// No reply is sent.
    Off,
    /// The reply of the next command is not sent.
    SkipNext,
    /// The current command's reply is skipped (set from `SkipNext` when a command starts).
    Skipping,
}

/// Per-client state. The server keeps one per connection; in-process users get one per
/// [`Session`].
#[derive(Debug)]
#[non_exhaustive]
pub struct ClientState {
    /// CLIENT ID.
    pub id: u64,
    /// Selected logical database.
    pub db: usize,
    /// Protocol version: 2 or 3.
    pub resp: u8,
    /// Whether AUTH succeeded (or none is required).
    pub authenticated: bool,
    /// CLIENT SETNAME.
    pub name: Option<Bytes>,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: Option<Bytes>,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: Option<Bytes>,
    /// CLIENT REPLY mode.
    pub reply_mode: ReplyMode,
    /// Set by QUIT (and CLIENT KILL of oneself): close after sending this reply.
    pub close_after_reply: bool,
    /// Connection details, for clients of the server (CLIENT LIST/INFO/KILL).
    pub conn: Option<Arc<crate::clients::ClientConn>>,
    /// MULTI queue and WATCHed keys.
    pub tx: crate::cmd::transactions::TxState,
    /// Pub/sub subscriptions and the push queue, created on first use.
    pub(crate) pubsub: Option<Box<crate::pubsub::ClientPubSub>>,
    /// Set while blocking commands must not block (inside MULTI/EXEC or a script, like
    /// Redis's `CLIENT_DENY_BLOCKING`): they reply as their timeout would, at once.
    pub deny_blocking: bool,
    /// The client scripts run their commands as (Redis's `CLIENT_SCRIPT`): SORT sorts sets
    /// even under `BY nosort` for it.
    pub(crate) is_script: bool,
    /// Whether the running call may block (set by [`Session::execute_or_block`] only).
    pub(crate) block_allowed: bool,
    /// A waiter registered by the running command, for [`Session::execute_or_block`].
    pub(crate) blocked: Option<crate::blocking::PendingBlock>,
}

impl ClientState {
    /// Fresh state for a new client of `engine`.
    pub fn new(engine: &Engine) -> Self {
        ClientState {
            id: engine.next_client_id(),
            db: 0,
            resp: 2,
            authenticated: !engine.auth_required.load(Ordering::Relaxed),
            name: None,
            lib_name: None,
            lib_ver: None,
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            conn: None,
            tx: Default::default(),
            pubsub: None,
            deny_blocking: false,
            is_script: false,
            block_allowed: false,
            blocked: None,
        }
    }

    /// The client's pub/sub state, created on first use.
    pub(crate) fn pubsub(&mut self, engine: &Engine) -> &mut crate::pubsub::ClientPubSub {
        self.pubsub.get_or_insert_with(|| {
            Box::new(crate::pubsub::ClientPubSub::new(engine.pubsub().clone()))
        })
    }

    /// Channels, patterns and shard channels the client is subscribed to (CLIENT LIST's
    /// `sub`, `psub`, `ssub`).
    pub fn subscriptions(&self) -> (usize, usize, usize) {
        self.pubsub.as_ref().map_or((0, 0, 0), |p| {
            (p.channel_count(), p.pattern_count(), p.shard_count())
        })
    }

    /// Leaves every channel, pattern and shard channel without replies (RESET).
    pub fn leave_pubsub(&mut self) {
        if let Some(p) = &mut self.pubsub {
            p.reset();
        }
    }

    /// Whether the client has a subscription (Redis's pub/sub mode: in RESP2 only the
    /// subscription commands, PING, QUIT and RESET are then allowed).
    pub fn is_subscribed(&self) -> bool {
        self.pubsub.as_ref().is_some_and(|p| p.is_subscribed())
    }

    /// Called by the server after each command (and before sending a protocol error): whether
    /// that reply is delivered under CLIENT REPLY, and the step of CLIENT REPLY SKIP, as Redis
    /// does it when it resets a client for its next command.
    pub fn finish_command(&mut self) -> bool {
        let deliver = self.reply_mode == ReplyMode::On;
        self.reply_mode = match self.reply_mode {
            ReplyMode::Skipping => ReplyMode::On,
            ReplyMode::SkipNext => ReplyMode::Skipping,
            other => other,
        };
        deliver
    }

    /// Records in the client registry what CLIENT LIST shows of this client after a command:
    /// the command (`None`: unknown, shown as `NULL`), database, protocol and name. (The
    /// connection records the time of its last read and write, as Redis does: reading the
    /// clock here for every command would cost more than the rest of this.)
    fn note_command(&self, cmd: Option<&'static str>) {
        if let Some(conn) = &self.conn {
            let mut m = conn.meta.lock();
            m.last_cmd = cmd.unwrap_or("");
            m.db = self.db;
            m.resp = self.resp;
            (m.sub, m.psub, m.ssub) = self.subscriptions();
            if m.name != self.name {
                m.name.clone_from(&self.name);
            }
        }
    }
}

/// Builds a [`Db`].
///
/// ```
/// use embedis::{Db, ManualClock};
/// let clock = ManualClock::new();
/// let db = Db::builder().clock(clock.clone()).seed(42).build();
/// db.call(["SET", "k", "v", "PX", "100"]);
/// clock.advance(std::time::Duration::from_millis(101));
/// assert_eq!(db.call(["GET", "k"]), embedis::Reply::Nil);
/// ```
#[derive(Debug, Default)]
pub struct DbBuilder {
    clock: Option<Arc<dyn Clock>>,
    config: ConfigValues,
    seed: Option<u64>,
    active_expiry: Option<bool>,
    persistence: Option<crate::persist::PersistConfig>,
}

impl DbBuilder {
    /// Uses `clock` for all time (TTLs, TIME, idle times).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Uses a shared clock.
    pub fn clock_arc(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Seeds all randomness (hashing, RANDOMKEY, SPOP, Lua), for reproducible runs.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Number of logical databases (default 16).
    pub fn databases(mut self, n: usize) -> Self {
        self.config.databases = n.max(1);
        self
    }

    /// Requires AUTH with this password.
    pub fn requirepass(mut self, pass: impl Into<String>) -> Self {
        self.config.requirepass = Some(pass.into());
        self
    }

    /// Starts from these configuration values.
    pub fn config(mut self, config: ConfigValues) -> Self {
        self.config = config;
        self
    }

    /// Whether a background thread reclaims expired keys (default on). Tests that want to
    /// drive expiry by hand turn it off and call [`Db::run_active_expiry`].
    pub fn active_expiry(mut self, on: bool) -> Self {
        self.active_expiry = Some(on);
        self
    }

    /// Persists the store in a directory: what is there (RDB file, AOF) is loaded by
    /// [`DbBuilder::open`], then snapshots and the append-only file are written as configured.
    ///
    /// ```
    /// use embedis::persist::PersistConfig;
    /// let dir = std::env::temp_dir().join(format!("embedis-doc-{}", std::process::id()));
    /// let db = embedis::Db::builder()
    ///     .persistence(PersistConfig::new(&dir).appendonly(true))
    ///     .open()
    ///     .unwrap();
    /// db.call(["SET", "k", "v"]);
    /// db.save().unwrap();
    /// drop(db);
    /// let again = embedis::Db::builder().persistence(PersistConfig::new(&dir)).open().unwrap();
    /// assert_eq!(again.call(["GET", "k"]), embedis::Reply::bulk("v"));
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn persistence(mut self, config: crate::persist::PersistConfig) -> Self {
        self.persistence = Some(config);
        self
    }

    /// Builds the store and, if [`DbBuilder::persistence`] was given, loads its files and
    /// starts persisting. A damaged or unreadable file is an error (nothing is overwritten).
    pub fn open(mut self) -> std::result::Result<Db, crate::persist::PersistError> {
        let persistence = self.persistence.take();
        let db = self.build_engine();
        if let Some(cfg) = persistence {
            crate::persist::open(&db.engine, cfg)?;
        }
        Ok(db)
    }

    /// Builds the store. With [`DbBuilder::persistence`], this is [`DbBuilder::open`] and
    /// panics if the files cannot be loaded: call `open` to handle that error.
    pub fn build(self) -> Db {
        if self.persistence.is_some() {
            return match self.open() {
                Ok(db) => db,
                Err(e) => panic!("embedis: cannot open the persisted store: {e}"),
            };
        }
        self.build_engine()
    }

    fn build_engine(self) -> Db {
        let seed = self.seed.unwrap_or_else(|| {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one(0u64)
        });
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let started_ms = clock.now_millis();
        let mut rng = SmallRng::seed_from_u64(seed);
        let run_id: String = (0..40)
            .map(|_| char::from(b"0123456789abcdef"[(rng.next_u32() % 16) as usize]))
            .collect();
        let command_stats = (0..cmd::table().all().len())
            .map(|_| CommandStats::default())
            .collect();
        let auth_required = self.config.requirepass.is_some();
        let slowlog = crate::slowlog::Slowlog::new(&self.config);
        let engine = Arc::new(Engine {
            keyspace: Keyspace::new(self.config.databases, seed),
            clock,
            config: Config::new(self.config),
            stats: Stats::default(),
            command_stats,
            auth_required: AtomicBool::new(auth_required),
            rng: Mutex::new(rng),
            started_ms,
            run_id,
            next_client_id: AtomicU64::new(1),
            shutdown_requested: AtomicBool::new(false),
            shutdown_notify: tokio::sync::Notify::new(),
            clients: crate::clients::Clients::default(),
            scripting: crate::script::Scripting::default(),
            persist: crate::persist::Persistence::default(),
            slowlog,
            peak_memory: AtomicU64::new(0),
        });
        crate::cmd::server::apply_config(&engine);
        if self.active_expiry.unwrap_or(true) {
            spawn_active_expiry(Arc::downgrade(&engine));
        }
        engine
            .keyspace
            .blocking
            .prepare_timer(Arc::downgrade(&engine), engine.clock.clone());
        Db { engine, db: 0 }
    }
}

/// Reclaims expired keys in the background until the engine is dropped: each key soon after
/// its time (the cycle sleeps until the next expiry, between 1 ms and 1/hz), so that
/// expired-but-unread keys stay a small fraction of the volatile ones (`benches/expiry.sh`).
/// A std thread rather than a tokio task: the engine must work without a runtime.
fn spawn_active_expiry(engine: Weak<Engine>) {
    let spawned = std::thread::Builder::new()
        .name("embedis-expire".into())
        .spawn(move || {
            loop {
                let wait = match engine.upgrade() {
                    Some(e) => e.background_cycle(),
                    None => return,
                };
                std::thread::sleep(wait);
            }
        });
    if let Err(e) = spawned {
        // Without the thread, lazy expiry still keeps replies right; memory is reclaimed on
        // access only. Nothing to panic about.
        eprintln!("embedis: could not start the active expiry thread: {e}");
    }
}

/// A handle to a store: cheap to clone, `Send + Sync`. Commands run atomically, as in Redis.
///
/// ```
/// let db = embedis::Db::new();
/// db.call(["SET", "greeting", "hello"]);
/// assert_eq!(db.call(["GET", "greeting"]), embedis::Reply::bulk("hello"));
/// ```
#[derive(Debug, Clone)]
pub struct Db {
    engine: Arc<Engine>,
    db: usize,
}

impl Default for Db {
    fn default() -> Self {
        Self::new()
    }
}

impl Db {
    /// A store with default settings and the system clock.
    pub fn new() -> Db {
        DbBuilder::default().build()
    }

    /// A builder for clock, seed and configuration.
    pub fn builder() -> DbBuilder {
        DbBuilder::default()
    }

    /// The same store, addressing logical database `index`.
    pub fn select(&self, index: usize) -> Result<Db> {
        if index >= self.engine.keyspace.databases() {
            return Err(Error::DbIndexOutOfRange);
        }
        Ok(Db {
            engine: self.engine.clone(),
            db: index,
        })
    }

    /// The logical database this handle addresses.
    pub fn index(&self) -> usize {
        self.db
    }

    /// The shared engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Makes the AOF durable up to `seq`, a position returned by
    /// [`persist::aof::with_deferred_sync`](crate::persist::aof::with_deferred_sync): a
    /// server calls it (off its async workers: it may fdatasync) before sending replies to
    /// commands it ran with `appendfsync always` deferred. An error means the writes may not
    /// be durable: the caller must not acknowledge them.
    pub fn sync_aof_through(&self, seq: u64) -> std::result::Result<(), String> {
        match self.engine.persist.state() {
            Some(state) => state.aof.sync_through(seq),
            None => Ok(()),
        }
    }

    /// Runs one command given as its arguments, the way a client would send it.
    /// Stateful commands (SELECT, MULTI...) affect only this call; use a [`Session`] to keep
    /// state across calls.
    /// Blocking commands (BLPOP...) do not block here: with nothing to take they reply as their
    /// timeout would; use the async methods (`db.blpop(..)`) or
    /// [`Session::execute_or_block`] to wait.
    pub fn call<I, A>(&self, args: I) -> Reply
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let args: Vec<Bytes> = args
            .into_iter()
            .map(|a| Bytes::copy_from_slice(a.as_ref()))
            .collect();
        let mut state = ClientState::new(&self.engine);
        state.db = self.db;
        state.authenticated = true;
        execute(&self.engine, &mut state, &args)
    }

    /// A session: client state (selected database, protocol, name...) kept across commands.
    pub fn session(&self) -> Session {
        let mut state = ClientState::new(&self.engine);
        state.db = self.db;
        Session {
            engine: self.engine.clone(),
            state,
        }
    }

    /// Reclaims every key whose TTL has passed now (the background thread does this on its
    /// own; tests with a manual clock call it to be deterministic). Returns how many.
    pub fn run_active_expiry(&self) -> usize {
        self.engine.active_expire(usize::MAX)
    }

    /// Runs `f` with the shard of `key` locked, on this handle's database (typed API).
    pub(crate) fn with_key<R>(&self, key: &[u8], f: impl FnOnce(&mut Access<'_>) -> R) -> R {
        let e = &*self.engine;
        let mut a = e
            .keyspace
            .lock_key(key, &e.stats, self.db, e.clock.now_millis());
        f(&mut a)
    }

    /// Runs `f` with every shard locked, on this handle's database (typed API).
    pub(crate) fn with_all<R>(&self, f: impl FnOnce(&mut Access<'_>) -> R) -> R {
        let e = &*self.engine;
        let mut a = e.keyspace.lock_all(&e.stats, self.db, e.clock.now_millis());
        f(&mut a)
    }
}

/// A client of the store with its own state, like one connection to a Redis server.
#[derive(Debug)]
pub struct Session {
    engine: Arc<Engine>,
    /// The client's state.
    pub state: ClientState,
}

impl Session {
    /// A session with the given state (the server builds one per connection).
    pub fn with_state(engine: Arc<Engine>, state: ClientState) -> Session {
        Session { engine, state }
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Runs one command. A blocking command (BLPOP...) does not block here: with nothing to
    /// take it replies at once as its timeout would (a null reply), like inside MULTI. Use
    /// [`Session::execute_or_block`] to block.
    pub fn execute(&mut self, args: &[Bytes]) -> Reply {
        execute(&self.engine, &mut self.state, args)
    }

    /// The receiving end of this client's pushes: pub/sub messages and the replies of
    /// SUBSCRIBE and friends (which return [`Reply::Pushed`]), in order. A server connection
    /// waits on it next to its socket and writes what is queued before each reply.
    pub fn pushes(&mut self) -> crate::pubsub::Pushes {
        self.state.pubsub(&self.engine).pushes()
    }
    /// Runs one command, letting blocking commands block: with nothing to take, BLPOP and
    /// friends return [`Execution::Blocked`], a call to await for the reply (served FIFO when
    /// another client pushes, or the timeout reply). Dropping the call withdraws the client.
    ///
    /// ```
    /// # tokio_test_block_on(async {
    /// use embedis::{Db, Execution, Reply};
    /// let db = Db::new();
    /// let mut consumer = db.session();
    /// let args: Vec<bytes::Bytes> = ["BLPOP", "jobs", "0"].map(bytes::Bytes::from).to_vec();
    /// let Execution::Blocked(call) = consumer.execute_or_block(&args) else { panic!() };
    /// db.call(["RPUSH", "jobs", "j1"]);
    /// assert_eq!(call.await, Reply::Array(vec![Reply::bulk("jobs"), Reply::bulk("j1")]));
    /// # });
    /// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::noop();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
    /// #         std::thread::yield_now();
    /// #     }
    /// # }
    /// ```
    pub fn execute_or_block(&mut self, args: &[Bytes]) -> Execution {
        self.state.block_allowed = true;
        let reply = execute(&self.engine, &mut self.state, args);
        self.state.block_allowed = false;
        match self.state.blocked.take() {
            Some(pending) => Execution::Blocked(pending.into_call(self.engine.clone())),
            None => Execution::Reply(reply),
        }
    }
}

/// What running a command gave: a reply, or a blocked call to await.
#[derive(Debug)]
pub enum Execution {
    /// The command completed.
    Reply(Reply),
    /// The command blocked (BLPOP on empty lists...): await the call for its reply.
    Blocked(crate::blocking::BlockedCall),
}

/// Resolves, checks and runs one command for `client`, keeping statistics.
pub(crate) fn execute(engine: &Engine, client: &mut ClientState, args: &[Bytes]) -> Reply {
    if args.is_empty() {
        return Reply::Error(Error::unknown_command(b"", &[] as &[&[u8]]));
    }
    let table = cmd::table();
    let cmd = match table.resolve(args) {
        Ok(c) => c,
        Err(e) => {
            // Like Redis, a known command that fails its arity check still counts as the
            // client's last command; an unknown (sub)command leaves it NULL.
            let known = table.get(&args[0]).and_then(|c| match args.get(1) {
                Some(sub) if !c.spec.subcommands.is_empty() => table.get_sub(c.spec.name, sub),
                _ => Some(c),
            });
            if let Some(c) = known {
                engine.command_stats[c.id].rejected_calls.inc();
            }
            client.note_command(known.map(|c| c.full_name));
            engine.stats.count_error(&e);
            return cmd::transactions::rejected(client, &args[0], e);
        }
    };
    if !client.authenticated && !cmd.spec.has(cmd::flags::NO_AUTH) {
        engine.command_stats[cmd.id].rejected_calls.inc();
        engine.stats.count_error(&Error::NoAuth);
        client.note_command(Some(cmd.full_name));
        return cmd::transactions::rejected(client, &args[0], Error::NoAuth);
    }
    // MULTI queueing, no_multi refusal and BUSY while a script runs (cmd/transactions.rs).
    if let Some(r) = cmd::transactions::before_run(engine, client, cmd, args) {
        client.note_command(Some(cmd.full_name));
        return r;
    }
    if let Err(e) = engine.check_maxmemory(None, cmd.spec.has(cmd::flags::DENYOOM)) {
        engine.command_stats[cmd.id].rejected_calls.inc();
        engine.stats.count_error(&e);
        client.note_command(Some(cmd.full_name));
        return Reply::Error(e);
    }
    if client.resp == 2 && client.is_subscribed() && !cmd::pubsub::allowed_when_subscribed(cmd) {
        let e = Error::subscribed_context(cmd.full_name);
        engine.command_stats[cmd.id].rejected_calls.inc();
        engine.stats.count_error(&e);
        client.note_command(Some(cmd.full_name));
        // A refused EXEC answers EXECABORT, as every command Redis's `rejectCommand` refuses.
        return cmd::transactions::rejected(client, cmd.full_name.as_bytes(), e);
    }
    let reply = run(engine, client, cmd, args, None);
    client.note_command(Some(cmd.full_name));
    reply
}

/// Runs a resolved command (also used by EXEC and scripts, which pass the lock they hold).
pub(crate) fn run(
    engine: &Engine,
    client: &mut ClientState,
    cmd: CommandRef,
    args: &[Bytes],
    held: Option<&mut Access<'_>>,
) -> Reply {
    let watch = Stopwatch::start();
    // Persistence: the AOF scope (None, one branch, when the AOF is off).
    let aof = engine.persist.aof().map(|aof| {
        let now = held
            .as_ref()
            .map_or_else(|| engine.clock.now_millis(), |a| a.now_ms());
        (
            crate::persist::aof::begin(aof, held.is_none(), client.db),
            now,
        )
    });
    let result = {
        let mut ctx = Ctx::new(engine, client, held);
        (cmd.spec.handler)(&mut ctx, args)
    };
    let result = match aof {
        None => result,
        Some((scope, now)) => crate::persist::aof::log_result(scope, cmd, args, result, now),
    };
    let usec = watch.elapsed_micros();
    if engine.slowlog.is_slow(usec) && !cmd.spec.has(cmd::flags::SKIP_SLOWLOG) {
        crate::cmd::server::log_slow(engine, client, cmd, args, usec);
    }
    let stats = &engine.command_stats[cmd.id];
    stats.calls.inc();
    stats.usec.add(usec);
    engine.stats.total_commands.inc();
    match result {
        Ok(r) => {
            if let Reply::Error(e) = &r {
                stats.failed_calls.inc();
                engine.stats.count_error(e);
            }
            r
        }
        Err(e) => {
            stats.failed_calls.inc();
            engine.stats.count_error(&e);
            Reply::Error(e)
        }
    }
}
