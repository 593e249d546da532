//! Durability: RDB snapshots, the append-only file, DUMP/RESTORE payloads, all in Redis
//! 7.0's formats so that files and payloads move both ways between embedis and Redis.
//!
//! # Snapshots without fork
//!
//! Redis forks and lets the kernel's copy-on-write keep the child's view still. embedis does
//! the same at shard granularity, in-process:
//!
//! 1. The snapshot is *requested* with every shard locked (one all-shards lock, O(shards)
//!    work: each shard gets a pointer to the snapshot). That instant is the snapshot's
//!    point in time.
//! 2. From then on, whoever first takes a shard for writing, a command or the snapshot's own
//!    thread, serializes that shard to RDB bytes *before* changing it (see
//!    [`crate::keyspace::ShardCapture`]); the snapshot thread walks all shards so the
//!    untouched ones are done too. Readers do not capture: DBSIZE or KEYS right after a
//!    BGSAVE do not wait for the serialization.
//! 3. The file is written from those bytes with no lock held.
//!
//! So the snapshot is exactly the keyspace at step 1, across all shards and databases
//! (the same consistency a fork gives), and the longest pause a command sees is one shard's
//! serialization (1/64 of the data), not the whole dataset's. A multi-key command that
//! locks all shards right after a request pays only for the shards it writes to (an MSET of
//! two keys: two shards), or waits while the snapshot thread holds one shard. The cost is memory:
//! the serialized snapshot (about the RDB file's size) is held until it is written.
//! Serializing under the lock instead of cloning values was chosen because it allocates one
//! buffer per shard instead of one per key, and the bytes are needed anyway.
//!
//! # AOF
//!
//! See [`aof`]. A rewrite uses the same snapshot, requested while holding the AOF gate
//! exclusively and switching to a new incremental file at that same instant: every command
//! before the switch is in the snapshot and in the old files, every command after it is in
//! the new incremental file and not in the snapshot.
//!
//! # Start-up
//!
//! With `appendonly yes`, the AOF is loaded (its manifest, base and incremental files); a
//! truncated last command is cut off and the file repaired when `aof-load-truncated` is on,
//! any other damage refuses to open the store with a message naming the file and offset.
//! If there is no AOF yet, the RDB file is loaded if there is one (Redis 7.0 would start
//! empty here; loading it is what someone turning AOF on expects), and the AOF is created
//! from that data. Without AOF, the RDB file is loaded.

pub mod aof;
pub mod config;
pub mod dump;
pub mod rdb;
pub mod snapshot;

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;

pub use config::{Fsync, PersistConfig};

use crate::cmd::aggregate::member_hasher;
use crate::db::{ClientState, Engine};
use crate::keyspace::Access;
use aof::{Aof, FileKind, Manifest, ManifestFile, Parsed};
use rdb::reader::{Record, read_file};
use rdb::writer::{CrcWriter, header, select_db};
use snapshot::{DbPart, Snapshot};

/// Why persisting or loading failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum PersistError {
    /// A file could not be read or written.
    Io(PathBuf, std::io::Error),
    /// An RDB file (or AOF base) is damaged or of an unknown kind.
    Rdb(PathBuf, rdb::RdbError),
    /// An AOF file is damaged, or could not be replayed.
    Aof(String),
    /// Anything else (a value that cannot be saved, a save already running...).
    Other(String),
}

impl fmt::Display for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PersistError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            PersistError::Rdb(p, e) => write!(f, "{}: {e}", p.display()),
            PersistError::Aof(m) | PersistError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for PersistError {}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PersistError + '_ {
    move |e| PersistError::Io(path.to_path_buf(), e)
}

/// Parses a memory amount like redis.conf: `100`, `1k`, `1kb`, `64mb`, `1gb`.
pub fn parse_memory(s: &str) -> Option<u64> {
    let l = s.to_ascii_lowercase();
    let (digits, mul) = [
        ("gb", 1u64 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1000),
        ("b", 1),
    ]
    .iter()
    .find_map(|(suf, m)| l.strip_suffix(suf).map(|d| (d.to_string(), *m)))
    .unwrap_or((l.clone(), 1));
    digits.parse::<u64>().ok()?.checked_mul(mul)
}

/// A store's persistence: absent until the store is opened with a [`PersistConfig`].
#[derive(Debug, Default)]
pub struct Persistence {
    state: OnceLock<Arc<State>>,
    /// Serializes CONFIG SET (apply, give effect, or undo all of it).
    reconfig: Mutex<()>,
}

/// The live persistence state of an opened store.
#[derive(Debug)]
pub struct State {
    engine: Weak<Engine>,
    config: Mutex<PersistConfig>,
    /// The AOF writer (off unless `appendonly`).
    pub aof: Aof,
    manifest: Mutex<Option<Manifest>>,
    lastsave_secs: AtomicU64,
    dirty_at_save: AtomicU64,
    bgsave_running: AtomicBool,
    last_bgsave_ok: AtomicBool,
    last_bgsave_secs: AtomicI64,
    last_save_try_secs: AtomicU64,
    rdb_saves: AtomicU64,
    rewrite_running: AtomicBool,
    rewrite_scheduled: AtomicBool,
    /// When starting the AOF last failed (Unix seconds; 0: never): retried 5 s later.
    last_aof_start_failed_secs: AtomicU64,
    last_rewrite_ok: AtomicBool,
    last_rewrite_secs: AtomicI64,
    aof_rewrites: AtomicU64,
    loaded_keys: AtomicU64,
    loaded_expired: AtomicU64,
    /// Function libraries' source code, kept across save and load (the script engine, when
    /// present, takes them over; see [`Persistence::functions`]).
    functions: Mutex<Vec<Vec<u8>>>,
}

impl Persistence {
    /// The live state, if the store persists.
    pub fn state(&self) -> Option<&Arc<State>> {
        self.state.get()
    }

    /// The AOF writer, when logging is on: the hot-path check (one load and one branch when
    /// persistence is off).
    #[inline]
    pub(crate) fn aof(&self) -> Option<&Aof> {
        let s = self.state.get()?;
        s.aof.enabled().then_some(&s.aof)
    }

    /// The function libraries saved with the data: the script engine stores what FUNCTION
    /// LOAD/DELETE/FLUSH/RESTORE leave here, and reads what a loaded file brought.
    pub fn functions(&self) -> Option<&Mutex<Vec<Vec<u8>>>> {
        self.state.get().map(|s| &s.functions)
    }

    /// The configuration in force, if the store persists.
    pub fn config(&self) -> Option<PersistConfig> {
        self.state.get().map(|s| s.config.lock().clone())
    }

    /// Held by CONFIG SET from its checks to its effects, so that changes do not interleave.
    pub fn reconfig_lock(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.reconfig.lock()
    }
}

/// Gives effect to a CONFIG SET that changed persistence parameters from `old` to `new`
/// (already checked and stored): the snapshot schedule and file names are read from the new
/// settings from now on, `appendfsync` applies to the next write, `appendonly yes` starts the
/// AOF with a background rewrite (the new base holds the data as of that instant, later
/// writes go to a new incremental file) and `appendonly no` stops it, a new `dir` with the
/// AOF on rewrites it there. A store opened without persistence refuses save points and the
/// AOF (it has no directory of its own to write to); the caller then undoes the CONFIG SET.
pub fn reconfigure(
    engine: &Engine,
    old: &PersistConfig,
    new: &PersistConfig,
) -> Result<(), crate::config::ConfigError> {
    let Some(state) = engine.persist.state().cloned() else {
        let refuse = |name: &str| {
            Err(crate::config::ConfigError::Failed {
                name: name.into(),
                reason: std::borrow::Cow::Borrowed(
                    "persistence is not configured for this store: open it with DbBuilder::persistence, or start embedis-server with --dir, --save or --appendonly",
                ),
            })
        };
        if new.appendonly {
            return refuse("appendonly");
        }
        if !new.save.is_empty() {
            return refuse("save");
        }
        return Ok(());
    };
    *state.config.lock() = new.clone();
    state.aof.set_fsync(new.appendfsync);
    if new.appendonly && !old.appendonly {
        start_aof(&state);
    } else if !new.appendonly && old.appendonly {
        stop_aof(&state);
    } else if new.appendonly && new.dir != old.dir {
        match bgrewriteaof(engine) {
            Err(BgError::InProgress) => state.rewrite_scheduled.store(true, Ordering::SeqCst),
            Ok(()) | Err(BgError::NotConfigured) => {}
        }
    }
    Ok(())
}

/// Starts the AOF (CONFIG SET appendonly yes) in the background: waits for a running
/// rewrite to end, then rewrites with logging starting at the snapshot's instant. A failure
/// is retried by the persistence thread while `appendonly` stays on.
fn start_aof(state: &Arc<State>) {
    let state = state.clone();
    let spawned = std::thread::Builder::new()
        .name("embedis-aof-start".into())
        .spawn(move || {
            while state
                .rewrite_running
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            let r = match state.engine.upgrade() {
                Some(engine) if state.config.lock().appendonly && !state.aof.enabled() => {
                    adopt_manifest_on_disk(&state);
                    let started = engine.clock.now_millis();
                    let r = rewrite_aof(&engine, &state, true);
                    state.last_rewrite_secs.store(
                        ((engine.clock.now_millis().saturating_sub(started)) / 1000) as i64,
                        Ordering::SeqCst,
                    );
                    if r.is_ok() {
                        state.aof_rewrites.fetch_add(1, Ordering::Relaxed);
                    }
                    r
                }
                _ => Ok(()),
            };
            if let Err(e) = &r {
                eprintln!("embedis: starting the AOF failed: {e}");
                state.last_aof_start_failed_secs.store(
                    state.engine.upgrade().map_or(0, |e| now_secs(&e)),
                    Ordering::SeqCst,
                );
            }
            state.last_rewrite_ok.store(r.is_ok(), Ordering::SeqCst);
            state.rewrite_running.store(false, Ordering::SeqCst);
        });
    if let Err(e) = spawned {
        eprintln!("embedis: could not start the AOF: {e}");
    }
}

/// Stops the AOF (CONFIG SET appendonly no) from another thread: the gate must be taken
/// exclusively, and the CONFIG SET that asks (like any command while the AOF is on) holds
/// it shared until it has replied.
fn stop_aof(state: &Arc<State>) {
    let state = state.clone();
    let spawned = std::thread::Builder::new()
        .name("embedis-aof-stop".into())
        .spawn(move || {
            let _gate = state.aof.gate.write();
            if !state.config.lock().appendonly {
                state.aof.stop();
            }
        });
    if let Err(e) = spawned {
        eprintln!("embedis: could not stop the AOF: {e}");
    }
}

/// Before the AOF starts in a directory that already has a manifest (left by an earlier run
/// with the AOF on), takes that manifest over so that new files get new sequence numbers and
/// the old ones are deleted once the new base is written (Redis 7.0 reads the manifest at
/// start-up whatever `appendonly` says, to the same end).
fn adopt_manifest_on_disk(state: &State) {
    let cfg = state.config.lock().clone();
    let mut guard = state.manifest.lock();
    if guard.is_some() {
        return;
    }
    let Ok(text) = std::fs::read_to_string(manifest_path(&cfg)) else {
        return;
    };
    if let Ok(mut m) = Manifest::parse(&text) {
        // Nothing of the old files is current: all of it is history once the base lands.
        let mut old: Vec<ManifestFile> = m.base.take().into_iter().collect();
        old.append(&mut m.incrs);
        m.history.append(&mut old);
        *guard = Some(m);
    }
}

fn now_secs(engine: &Engine) -> u64 {
    engine.clock.now_millis() / 1000
}

impl State {
    fn new(engine: Weak<Engine>, config: PersistConfig, started_secs: u64) -> Self {
        State {
            engine,
            aof: Aof::new(config.appendfsync),
            config: Mutex::new(config),
            manifest: Mutex::new(None),
            lastsave_secs: AtomicU64::new(started_secs),
            dirty_at_save: AtomicU64::new(0),
            bgsave_running: AtomicBool::new(false),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_secs: AtomicI64::new(-1),
            last_save_try_secs: AtomicU64::new(0),
            rdb_saves: AtomicU64::new(0),
            rewrite_running: AtomicBool::new(false),
            rewrite_scheduled: AtomicBool::new(false),
            last_aof_start_failed_secs: AtomicU64::new(0),
            last_rewrite_ok: AtomicBool::new(true),
            last_rewrite_secs: AtomicI64::new(-1),
            aof_rewrites: AtomicU64::new(0),
            loaded_keys: AtomicU64::new(0),
            loaded_expired: AtomicU64::new(0),
            functions: Mutex::new(Vec::new()),
        }
    }

    /// Whether a BGSAVE is running.
    pub fn bgsave_in_progress(&self) -> bool {
        self.bgsave_running.load(Ordering::SeqCst)
    }

    /// Whether an AOF rewrite is running.
    pub fn rewrite_in_progress(&self) -> bool {
        self.rewrite_running.load(Ordering::SeqCst)
    }

    /// Unix seconds of the last successful save (or start-up).
    pub fn lastsave(&self) -> u64 {
        self.lastsave_secs.load(Ordering::SeqCst)
    }
}

// ---------------------------------------------------------------------------------------
// Opening

/// Loads the store's files into `engine` and starts persisting (called once, by
/// [`crate::DbBuilder::open`], before the store is shared).
pub fn open(engine: &Arc<Engine>, mut config: PersistConfig) -> Result<(), PersistError> {
    std::fs::create_dir_all(&config.dir).map_err(io_err(&config.dir))?;
    if let Ok(abs) = std::fs::canonicalize(&config.dir) {
        config.dir = abs;
    }
    engine.config.update(|c| c.persist = config.clone());
    let state = Arc::new(State::new(
        Arc::downgrade(engine),
        config.clone(),
        now_secs(engine),
    ));
    if config.appendonly {
        let manifest_path = manifest_path(&config);
        let legacy = config.dir.join(&config.appendfilename);
        if manifest_path.exists() {
            let m = load_aof(engine, &state, &config)?;
            *state.manifest.lock() = Some(m);
            open_incr_on_start(&state, &config)?;
        } else {
            if legacy.is_file() {
                load_aof_file(engine, &state, &legacy, true, config.aof_load_truncated)?;
            } else if config.rdb_path().is_file() {
                load_rdb(engine, &state, &config.rdb_path())?;
            }
            std::fs::create_dir_all(config.aof_dir()).map_err(io_err(&config.aof_dir()))?;
            // The AOF starts from a base holding what was loaded (Redis 7.0 creates the base
            // on start too), then logs from there.
            rewrite_aof(engine, &state, true)?;
        }
    } else if config.rdb_path().is_file() {
        load_rdb(engine, &state, &config.rdb_path())?;
    }
    state
        .dirty_at_save
        .store(engine.stats.dirty.get(), Ordering::SeqCst);
    if engine.persist.state.set(state).is_err() {
        return Err(PersistError::Other("persistence is already open".into()));
    }
    spawn_persist_thread(Arc::downgrade(engine));
    Ok(())
}

fn manifest_path(c: &PersistConfig) -> PathBuf {
    c.aof_dir().join(format!("{}.manifest", c.appendfilename))
}

/// Opens the last incremental file for appending (or a new one) after loading.
fn open_incr_on_start(state: &State, config: &PersistConfig) -> Result<(), PersistError> {
    let dir = config.aof_dir();
    let mut guard = state.manifest.lock();
    let m = guard.get_or_insert_with(Manifest::default);
    if m.incrs.is_empty() {
        let seq = m.next_incr_seq();
        m.incrs.push(ManifestFile {
            name: format!("{}.{seq}.incr.aof", config.appendfilename),
            seq,
            kind: FileKind::Incr,
        });
        let path = manifest_path(config);
        aof::write_atomic(&path, m.render().as_bytes()).map_err(io_err(&path))?;
    }
    let last = m
        .incrs
        .last()
        .map(|f| dir.join(&f.name))
        .unwrap_or_default();
    let file = aof::open_append(&last).map_err(io_err(&last))?;
    let size: u64 = m
        .incrs
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(&f.name)).ok())
        .map(|md| md.len())
        .sum();
    let base = m
        .base
        .as_ref()
        .and_then(|b| std::fs::metadata(dir.join(&b.name)).ok())
        .map_or(0, |md| md.len());
    state.aof.incr_size.store(size, Ordering::Relaxed);
    state.aof.base_size.store(base, Ordering::Relaxed);
    state.aof.start(file);
    Ok(())
}

/// Loads an RDB file into the keyspace (keys already expired are skipped, as a Redis
/// master does).
pub fn load_rdb(engine: &Engine, state: &State, path: &Path) -> Result<(), PersistError> {
    let data = std::fs::read(path).map_err(io_err(path))?;
    let now = engine.clock.now_millis();
    let mut a = engine.keyspace.lock_all(&engine.stats, 0, now);
    let summary = load_rdb_bytes(engine, state, &mut a, &data, false, Some(now))
        .map_err(|e| PersistError::Rdb(path.to_path_buf(), e))?;
    drop(a);
    let _ = summary;
    Ok(())
}

/// Loads RDB bytes through a held all-shards lock; `skip_expired_before` drops keys whose
/// time has passed (not for AOF bases: later commands may touch them).
fn load_rdb_bytes(
    engine: &Engine,
    state: &State,
    a: &mut Access<'_>,
    data: &[u8],
    trailing: bool,
    skip_expired_before: Option<u64>,
) -> Result<rdb::reader::FileSummary, rdb::RdbError> {
    let hasher = member_hasher(a);
    let dbs = engine.keyspace.databases();
    let now_ms = a.now_ms();
    let mut functions = Vec::new();
    let mut loaded = 0u64;
    let mut expired = 0u64;
    let zlimits = crate::cmd::zset::limits(engine);
    let summary = read_file(data, hasher, &zlimits, trailing, |r| {
        match r {
            Record::Key(k) => {
                if k.db >= dbs {
                    return Err(rdb::RdbError::Corrupt(
                        "a database number beyond the configured databases",
                    ));
                }
                let expire = k.expire_ms.map(|t| t.max(1) as u64);
                if let (Some(at), Some(now)) = (expire, skip_expired_before) {
                    if at <= now {
                        expired += 1;
                        return Ok(());
                    }
                }
                a.set_in(k.db, &k.key, k.value, expire);
                if let Some(idle) = k.idle {
                    if let Some(e) = a.get_in(k.db, &k.key) {
                        e.set_meta(crate::keyspace::evict::lru_with_idle(now_ms, idle));
                    }
                }
                loaded += 1;
            }
            Record::Function(code) => functions.push(code),
            Record::Aux(..) => {}
        }
        Ok(())
    })?;
    if !functions.is_empty() {
        let mut f = state.functions.lock();
        for code in functions {
            if !f.contains(&code) {
                f.push(code);
            }
        }
    }
    state.loaded_keys.fetch_add(loaded, Ordering::Relaxed);
    state.loaded_expired.fetch_add(expired, Ordering::Relaxed);
    Ok(summary)
}

/// Loads the AOF named by the manifest.
fn load_aof(engine: &Engine, state: &State, c: &PersistConfig) -> Result<Manifest, PersistError> {
    let mpath = manifest_path(c);
    let text = std::fs::read_to_string(&mpath).map_err(io_err(&mpath))?;
    let m = Manifest::parse(&text).map_err(|e| {
        PersistError::Aof(format!("{}: invalid AOF manifest: {e}", mpath.display()))
    })?;
    let dir = c.aof_dir();
    if let Some(base) = &m.base {
        let p = dir.join(&base.name);
        load_aof_file(engine, state, &p, false, false)?;
    }
    let n = m.incrs.len();
    for (i, f) in m.incrs.iter().enumerate() {
        let p = dir.join(&f.name);
        if !p.exists() && i + 1 == n {
            // Created by a manifest update just before a crash, never written to.
            continue;
        }
        load_aof_file(engine, state, &p, i + 1 == n, c.aof_load_truncated)?;
    }
    Ok(m)
}

/// Replays one AOF file (an RDB preamble, then commands). Only the `last` file may end in a
/// truncated command, cut off when `allow_truncated`.
fn load_aof_file(
    engine: &Engine,
    state: &State,
    path: &Path,
    last: bool,
    allow_truncated: bool,
) -> Result<(), PersistError> {
    let data = std::fs::read(path).map_err(io_err(path))?;
    let mut a = engine.keyspace.lock_all(&engine.stats, 0, 0);
    let mut pos = 0;
    if data.starts_with(b"REDIS") {
        let s = load_rdb_bytes(engine, state, &mut a, &data, true, None)
            .map_err(|e| PersistError::Rdb(path.to_path_buf(), e))?;
        pos = s.end;
    }
    let mut client = ClientState::new(engine);
    client.authenticated = true;
    let table = crate::cmd::table();
    // Commands of an open MULTI: run at EXEC, dropped if the file ends first.
    let mut multi: Option<Vec<Vec<Bytes>>> = None;
    let mut good_end = pos;
    let display = path.display();
    while pos < data.len() {
        match aof::parse_command(&data, pos) {
            Parsed::Command(args, next) => {
                pos = next;
                if crate::cmd::args::is(&args[0], "multi") {
                    multi = Some(Vec::new());
                    continue;
                }
                if crate::cmd::args::is(&args[0], "exec") {
                    let Some(cmds) = multi.take() else {
                        return Err(PersistError::Aof(format!(
                            "Bad file format reading the append only file {display}: EXEC without MULTI"
                        )));
                    };
                    for c in cmds {
                        replay(engine, &mut client, table, &c, &mut a, path)?;
                    }
                    good_end = pos;
                    continue;
                }
                match multi.as_mut() {
                    Some(cmds) => cmds.push(args),
                    None => {
                        replay(engine, &mut client, table, &args, &mut a, path)?;
                        good_end = pos;
                    }
                }
            }
            Parsed::Truncated => {
                if !last || !allow_truncated {
                    return Err(PersistError::Aof(format!(
                        "Unexpected end of file reading the append only file {display} at offset {pos}. Make a backup, then either set aof-load-truncated yes to load what it holds (the cut command is dropped), or repair it with redis-check-aof --fix"
                    )));
                }
                break;
            }
            Parsed::Corrupt => {
                return Err(PersistError::Aof(format!(
                    "Bad file format reading the append only file {display} at offset {pos}: make a backup of your AOF file, then use redis-check-aof --fix <the manifest>"
                )));
            }
        }
    }
    if multi.is_some() && !(last && allow_truncated) {
        return Err(PersistError::Aof(format!(
            "Unexpected end of file reading the append only file {display}: a MULTI block is not closed"
        )));
    }
    if good_end < data.len() {
        // A truncated tail (or an unfinished MULTI) in the last file: keep what is whole.
        eprintln!(
            "embedis: !!! Warning: short read while loading the AOF {display}: truncating it to {good_end} bytes (it had {}) !!!",
            data.len()
        );
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_err(path))?;
        f.set_len(good_end as u64).map_err(io_err(path))?;
        f.sync_all().map_err(io_err(path))?;
    }
    Ok(())
}

fn replay(
    engine: &Engine,
    client: &mut ClientState,
    table: &crate::cmd::CommandTable,
    args: &[Bytes],
    a: &mut Access<'_>,
    path: &Path,
) -> Result<(), PersistError> {
    let cmd = table.resolve(args).map_err(|e| {
        PersistError::Aof(format!(
            "{}: cannot replay {:?}: {e}",
            path.display(),
            String::from_utf8_lossy(&args[0])
        ))
    })?;
    // Replies (errors included) are ignored, as Redis does when loading.
    let _ = crate::db::run(engine, client, cmd, args, Some(a));
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Saving

/// Writes an RDB file from a completed snapshot, atomically (temporary file, fsync, rename).
fn write_rdb_file(
    path: &Path,
    parts: Vec<Vec<DbPart>>,
    functions: &[Vec<u8>],
    ctime_secs: u64,
    aof_base: bool,
    compress: bool,
    checksum: bool,
) -> Result<u64, PersistError> {
    let tmp = aof::temp_path(path);
    let result = (|| -> std::io::Result<u64> {
        let file = File::create(&tmp)?;
        let mut w = CrcWriter::new(BufWriter::with_capacity(1 << 20, file));
        let mut out = rdb::Out::new();
        let used: u64 = parts.iter().flatten().map(|p| p.bytes.len() as u64).sum();
        header(&mut out, ctime_secs, used, aof_base);
        for code in functions {
            rdb::writer::function(&mut out, code, compress);
        }
        w.put(&out.buf)?;
        for (db, dbparts) in parts.into_iter().enumerate() {
            if dbparts.is_empty() {
                continue;
            }
            let keys = dbparts.iter().map(|p| p.keys).sum();
            let volatile = dbparts.iter().map(|p| p.volatile).sum();
            let mut sel = rdb::Out::new();
            select_db(&mut sel, db, keys, volatile);
            w.put(&sel.buf)?;
            for p in dbparts {
                w.put(&p.bytes)?;
            }
        }
        let size = w.written() + 9;
        let mut buf = if checksum {
            w.finish()?
        } else {
            // rdbchecksum no: the checksum field is written as zero.
            let mut inner = {
                w.put(&[rdb::opcodes::EOF])?;
                w.finish_without_crc()
            };
            inner.write_all(&[0u8; 8])?;
            inner
        };
        buf.flush()?;
        let file = buf.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(size)
    })();
    match result {
        Ok(size) => {
            std::fs::rename(&tmp, path).map_err(io_err(path))?;
            aof::sync_dir(path);
            Ok(size)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(PersistError::Io(path.to_path_buf(), e))
        }
    }
}

/// Takes a snapshot now and writes the RDB file (SAVE, [`crate::Db::save`]): other clients
/// keep running, each pausing at most for one shard's serialization.
pub fn save(engine: &Engine) -> Result<(), PersistError> {
    let state = engine
        .persist
        .state()
        .ok_or_else(|| PersistError::Other("persistence is not configured".into()))?;
    if state.bgsave_in_progress() {
        return Err(PersistError::Other(
            "Background save already in progress".into(),
        ));
    }
    let (snap, dirty) = request_snapshot(engine, state, None);
    finish_save(engine, state, &snap, dirty)
}

fn request_snapshot(
    engine: &Engine,
    state: &State,
    held: Option<&mut Access<'_>>,
) -> (Arc<Snapshot>, u64) {
    let compress = state.config.lock().rdbcompression;
    match held {
        Some(a) => (
            Snapshot::request(engine, a, compress),
            engine.stats.dirty.get(),
        ),
        None => {
            let now = engine.clock.now_millis();
            let mut a = engine.keyspace.lock_all(&engine.stats, 0, now);
            let dirty = engine.stats.dirty.get();
            (Snapshot::request(engine, &mut a, compress), dirty)
        }
    }
}

fn finish_save(
    engine: &Engine,
    state: &State,
    snap: &Snapshot,
    dirty: u64,
) -> Result<(), PersistError> {
    let cfg = state.config.lock().clone();
    let parts = snap.complete(engine).map_err(PersistError::Other)?;
    let functions = state.functions.lock().clone();
    let path = cfg.rdb_path();
    write_rdb_file(
        &path,
        parts,
        &functions,
        snap.now_ms / 1000,
        false,
        cfg.rdbcompression,
        cfg.rdbchecksum,
    )?;
    state.dirty_at_save.store(dirty, Ordering::SeqCst);
    state
        .lastsave_secs
        .store(now_secs(engine), Ordering::SeqCst);
    state.rdb_saves.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Why a background job did not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BgError {
    /// Persistence is not configured for this store.
    NotConfigured,
    /// The same job is already running.
    InProgress,
}

/// Starts a BGSAVE: the snapshot is taken now (through `held` when the caller holds every
/// shard, e.g. inside EXEC), written by a background thread.
pub fn bgsave(engine: &Engine, held: Option<&mut Access<'_>>) -> Result<(), BgError> {
    let state = engine
        .persist
        .state()
        .ok_or(BgError::NotConfigured)?
        .clone();
    if state
        .bgsave_running
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return Err(BgError::InProgress);
    }
    state
        .last_save_try_secs
        .store(now_secs(engine), Ordering::SeqCst);
    let (snap, dirty) = request_snapshot(engine, &state, held);
    let weak = state.engine.clone();
    let (thread_state, thread_snap) = (state.clone(), snap.clone());
    let spawned = std::thread::Builder::new()
        .name("embedis-bgsave".into())
        .spawn(move || {
            let (state, snap) = (thread_state, thread_snap);
            let Some(engine) = weak.upgrade() else {
                return;
            };
            let started = engine.clock.now_millis();
            let r = finish_save(&engine, &state, &snap, dirty);
            if let Err(e) = &r {
                eprintln!("embedis: background save failed: {e}");
            }
            state.last_bgsave_ok.store(r.is_ok(), Ordering::SeqCst);
            state.last_bgsave_secs.store(
                ((engine.clock.now_millis().saturating_sub(started)) / 1000) as i64,
                Ordering::SeqCst,
            );
            state.bgsave_running.store(false, Ordering::SeqCst);
        });
    if spawned.is_err() {
        // Settle the shards here instead: nothing may stay pending.
        let _ = snap.complete(engine);
        state.bgsave_running.store(false, Ordering::SeqCst);
        state.last_bgsave_ok.store(false, Ordering::SeqCst);
    }
    Ok(())
}

/// Starts an AOF rewrite in the background (BGREWRITEAOF).
pub fn bgrewriteaof(engine: &Engine) -> Result<(), BgError> {
    let state = engine
        .persist
        .state()
        .ok_or(BgError::NotConfigured)?
        .clone();
    if state.rewrite_in_progress() {
        return Err(BgError::InProgress);
    }
    let weak = state.engine.clone();
    state.rewrite_running.store(true, Ordering::SeqCst);
    let spawned = std::thread::Builder::new()
        .name("embedis-aof-rewrite".into())
        .spawn(move || {
            if let Some(engine) = weak.upgrade() {
                let r = rewrite_aof_locked_out(&engine, &state);
                if let Err(e) = &r {
                    eprintln!("embedis: AOF rewrite failed: {e}");
                }
                state.last_rewrite_ok.store(r.is_ok(), Ordering::SeqCst);
            }
            state.rewrite_running.store(false, Ordering::SeqCst);
        });
    if spawned.is_err() {
        if let Some(s) = engine.persist.state() {
            s.rewrite_running.store(false, Ordering::SeqCst);
        }
    }
    Ok(())
}

fn rewrite_aof_locked_out(engine: &Engine, state: &State) -> Result<(), PersistError> {
    let started = engine.clock.now_millis();
    let r = rewrite_aof(engine, state, false);
    state.last_rewrite_secs.store(
        ((engine.clock.now_millis().saturating_sub(started)) / 1000) as i64,
        Ordering::SeqCst,
    );
    if r.is_ok() {
        state.aof_rewrites.fetch_add(1, Ordering::Relaxed);
    }
    r
}

/// Rewrites the AOF: new incremental file and snapshot at one instant, new base written from
/// the snapshot, manifest swapped, old files deleted. With `start`, logging starts with the
/// new incremental file (opening a store whose AOF does not exist yet).
fn rewrite_aof(engine: &Engine, state: &State, start: bool) -> Result<(), PersistError> {
    let cfg = state.config.lock().clone();
    let dir = cfg.aof_dir();
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let mpath = manifest_path(&cfg);
    let (snap, new_incr_seq) = {
        let _gate = state.aof.gate.write();
        let now = engine.clock.now_millis();
        let mut a = engine.keyspace.lock_all(&engine.stats, 0, now);
        let snap = Snapshot::request(engine, &mut a, cfg.rdbcompression);
        let mut guard = state.manifest.lock();
        let m = guard.get_or_insert_with(Manifest::default);
        let mut new_incr_seq = None;
        // Checked under the gate: a CONFIG SET appendonly no since the start was asked for
        // wins (its stop takes the gate too).
        let starting = start && state.config.lock().appendonly;
        if state.aof.enabled() || starting {
            let seq = m.next_incr_seq();
            let name = format!("{}.{seq}.incr.aof", cfg.appendfilename);
            let p = dir.join(&name);
            let f = aof::open_append(&p).map_err(io_err(&p))?;
            if state.aof.enabled() {
                state.aof.switch_to(f).map_err(io_err(&p))?;
            } else {
                state.aof.start(f);
            }
            m.incrs.push(ManifestFile {
                name,
                seq,
                kind: FileKind::Incr,
            });
            // Persist at once: a crash during the rewrite still finds every file.
            aof::write_atomic(&mpath, m.render().as_bytes()).map_err(io_err(&mpath))?;
            new_incr_seq = Some(seq);
        }
        drop(a);
        (snap, new_incr_seq)
    };
    let parts = snap.complete(engine).map_err(PersistError::Other)?;
    let functions = state.functions.lock().clone();
    let base_seq = state
        .manifest
        .lock()
        .as_ref()
        .and_then(|m| {
            m.base
                .iter()
                .chain(m.history.iter().filter(|f| f.kind == FileKind::Base))
                .map(|b| b.seq + 1)
                .max()
        })
        .unwrap_or(1);
    let base_name = format!("{}.{base_seq}.base.rdb", cfg.appendfilename);
    let base_path = dir.join(&base_name);
    let base_size = write_rdb_file(
        &base_path,
        parts,
        &functions,
        snap.now_ms / 1000,
        true,
        cfg.rdbcompression,
        cfg.rdbchecksum,
    )?;
    let mut guard = state.manifest.lock();
    let m = guard.get_or_insert_with(Manifest::default);
    let mut old: Vec<ManifestFile> = Vec::new();
    old.extend(m.base.take());
    let keep_from = new_incr_seq.unwrap_or(u64::MAX);
    let (keep, gone): (Vec<_>, Vec<_>) = m.incrs.drain(..).partition(|f| f.seq >= keep_from);
    old.extend(gone);
    old.append(&mut m.history);
    m.incrs = keep;
    m.base = Some(ManifestFile {
        name: base_name,
        seq: base_seq,
        kind: FileKind::Base,
    });
    aof::write_atomic(&mpath, m.render().as_bytes()).map_err(io_err(&mpath))?;
    for f in old {
        if f.name != m.base.as_ref().map_or("", |b| b.name.as_str()) {
            let _ = std::fs::remove_file(dir.join(&f.name));
        }
    }
    state.aof.base_size.store(base_size, Ordering::Relaxed);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Background duties

/// Once every 100 ms: the `everysec` fsync, `save` points, automatic AOF rewrites, and a
/// BGREWRITEAOF scheduled while another was running. Stops when the engine is dropped.
fn spawn_persist_thread(engine: Weak<Engine>) {
    let spawned = std::thread::Builder::new()
        .name("embedis-persist".into())
        .spawn(move || {
            let mut ticks: u64 = 0;
            loop {
                std::thread::sleep(Duration::from_millis(100));
                ticks += 1;
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                let Some(state) = engine.persist.state().cloned() else {
                    return;
                };
                if ticks % 10 == 0 {
                    state.aof.tick();
                }
                cron(&engine, &state);
            }
        });
    if let Err(e) = spawned {
        eprintln!("embedis: could not start the persistence thread: {e}");
    }
}

fn cron(engine: &Engine, state: &State) {
    let now = now_secs(engine);
    let cfg = state.config.lock().clone();
    if !state.bgsave_in_progress() && !cfg.save.is_empty() {
        let changes = engine
            .stats
            .dirty
            .get()
            .saturating_sub(state.dirty_at_save.load(Ordering::SeqCst));
        let since = now.saturating_sub(state.lastsave());
        // After a failure, retry no sooner than 5 s later (Redis's retry delay).
        let may_retry = state.last_bgsave_ok.load(Ordering::SeqCst)
            || now.saturating_sub(state.last_save_try_secs.load(Ordering::SeqCst)) >= 5;
        if may_retry
            && cfg
                .save
                .iter()
                .any(|&(secs, min)| changes >= min && since >= secs)
        {
            let _ = bgsave(engine, None);
        }
    }
    if cfg.appendonly
        && !state.aof.enabled()
        && !state.rewrite_in_progress()
        && now.saturating_sub(state.last_aof_start_failed_secs.load(Ordering::SeqCst)) >= 5
    {
        if let Some(state) = engine.persist.state() {
            start_aof(state);
        }
    }
    if state.aof.enabled() && !state.rewrite_in_progress() {
        let scheduled = state.rewrite_scheduled.swap(false, Ordering::SeqCst);
        let incr = state.aof.incr_size.load(Ordering::Relaxed);
        let base = state.aof.base_size.load(Ordering::Relaxed);
        let pct = cfg.auto_aof_rewrite_percentage;
        let grown = pct > 0
            && incr >= cfg.auto_aof_rewrite_min_size
            && (base == 0 || incr.saturating_mul(100) / base.max(1) >= pct);
        if scheduled || grown {
            let _ = bgrewriteaof(engine);
        }
    }
}

/// Flushes and syncs the AOF (shutdown); with `save`, also writes the RDB file, as Redis's
/// SHUTDOWN does when save points are configured (or SHUTDOWN SAVE).
pub fn shutdown(engine: &Engine, save_rdb: Option<bool>) -> Result<(), PersistError> {
    let Some(state) = engine.persist.state() else {
        return Ok(());
    };
    let wants_save = save_rdb.unwrap_or_else(|| !state.config.lock().save.is_empty());
    if state.aof.enabled() {
        state
            .aof
            .sync_all()
            .map_err(|e| PersistError::Aof(format!("AOF fsync at shutdown failed: {e}")))?;
    }
    if wants_save {
        while state.bgsave_in_progress() {
            std::thread::sleep(Duration::from_millis(5));
        }
        save(engine)?;
    }
    Ok(())
}

/// INFO's persistence section, Redis's field names.
pub fn info(engine: &Engine) -> Vec<(&'static str, String)> {
    let dirty = engine.stats.dirty.get();
    let Some(s) = engine.persist.state() else {
        return vec![
            ("loading", "0".into()),
            ("rdb_changes_since_last_save", dirty.to_string()),
            ("rdb_bgsave_in_progress", "0".into()),
            ("rdb_last_save_time", (engine.started_ms / 1000).to_string()),
            ("rdb_last_bgsave_status", "ok".into()),
            ("rdb_saves", "0".into()),
            ("aof_enabled", "0".into()),
            ("aof_rewrite_in_progress", "0".into()),
        ];
    };
    let ok = |b: &AtomicBool| {
        if b.load(Ordering::SeqCst) {
            "ok"
        } else {
            "err"
        }
        .to_string()
    };
    vec![
        ("loading", "0".into()),
        (
            "rdb_changes_since_last_save",
            dirty
                .saturating_sub(s.dirty_at_save.load(Ordering::SeqCst))
                .to_string(),
        ),
        (
            "rdb_bgsave_in_progress",
            (s.bgsave_in_progress() as u8).to_string(),
        ),
        ("rdb_last_save_time", s.lastsave().to_string()),
        ("rdb_last_bgsave_status", ok(&s.last_bgsave_ok)),
        (
            "rdb_last_bgsave_time_sec",
            s.last_bgsave_secs.load(Ordering::SeqCst).to_string(),
        ),
        ("rdb_saves", s.rdb_saves.load(Ordering::Relaxed).to_string()),
        (
            "rdb_last_load_keys_expired",
            s.loaded_expired.load(Ordering::Relaxed).to_string(),
        ),
        (
            "rdb_last_load_keys_loaded",
            s.loaded_keys.load(Ordering::Relaxed).to_string(),
        ),
        // On from CONFIG SET appendonly yes, while the first rewrite runs (Redis's
        // AOF_WAIT_REWRITE counts as enabled too).
        (
            "aof_enabled",
            ((s.aof.enabled() || s.config.lock().appendonly) as u8).to_string(),
        ),
        (
            "aof_rewrite_in_progress",
            (s.rewrite_in_progress() as u8).to_string(),
        ),
        (
            "aof_rewrite_scheduled",
            (s.rewrite_scheduled.load(Ordering::SeqCst) as u8).to_string(),
        ),
        (
            "aof_last_rewrite_time_sec",
            s.last_rewrite_secs.load(Ordering::SeqCst).to_string(),
        ),
        ("aof_last_bgrewrite_status", ok(&s.last_rewrite_ok)),
        (
            "aof_rewrites",
            s.aof_rewrites.load(Ordering::Relaxed).to_string(),
        ),
        (
            "aof_last_write_status",
            if s.aof.error().is_some() { "err" } else { "ok" }.into(),
        ),
    ]
}
#[cfg(test)]
mod tests;
