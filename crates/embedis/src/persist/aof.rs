//! The append-only file: Redis 7.0's multi-part layout, the writer with its fsync policies,
//! the command rewrites that make replay deterministic, and the RESP reader used to load it.
//!
//! Layout (as Redis 7.0, so either server can load the other's directory): in
//! `dir/appenddirname`, a manifest `<appendfilename>.manifest` lists one base file
//! (`<name>.<seq>.base.rdb`, an RDB snapshot, or `.base.aof` without the preamble) and the
//! incremental files (`<name>.<seq>.incr.aof`) written since, in order. A rewrite opens a new
//! incremental file at once (so the log never stops), writes a new base from a snapshot taken
//! at that same instant, then swaps the manifest atomically and deletes the old files.
//!
//! Writing: every acknowledged write is `write(2)`n to the current incremental file before
//! its reply is returned, with group commit (one thread writes what every waiting thread
//! appended). `always` also `fdatasync`s before replying; `everysec` syncs once a second in
//! the background; `no` leaves it to the OS. So a killed process (kill -9) loses nothing
//! under any policy; a machine crash loses nothing with `always`, about a second with
//! `everysec`.
//!
//! `always` and a server: a connection runs its whole read batch of commands inside
//! [`with_deferred_sync`], so each append only writes, and the connection makes the AOF
//! durable once ([`Aof::sync_through`], off the async worker) before any of those replies
//! leaves. Connections waiting at the same time share one fdatasync (group commit), which is
//! what Redis gets by syncing once per event-loop pass; syncing inside every command instead
//! blocked a worker thread per write and made `always` ~100x slower than Redis.

use std::cell::{Cell, RefCell};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::{Mutex, RwLock, RwLockReadGuard};

use super::config::Fsync;
use crate::reply::Reply;

/// Kind of a file listed in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The base snapshot.
    Base,
    /// Commands appended since the base.
    Incr,
    /// A file no longer in use, waiting to be deleted.
    History,
}

/// One manifest line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    /// File name inside the AOF directory.
    pub name: String,
    /// Sequence number.
    pub seq: u64,
    /// Kind.
    pub kind: FileKind,
}

/// The manifest: which files make up the AOF, in load order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The base file, if any.
    pub base: Option<ManifestFile>,
    /// Incremental files in order.
    pub incrs: Vec<ManifestFile>,
    /// Files to delete.
    pub history: Vec<ManifestFile>,
}

impl Manifest {
    /// Parses a manifest as Redis 7.0 writes it (`file <name> seq <n> type <b|i|h>` lines;
    /// names may be quoted).
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words = split_args(line).ok_or_else(|| format!("line {}: bad quoting", n + 1))?;
            let (mut name, mut seq, mut kind) = (None, None, None);
            for pair in words.chunks(2) {
                let [k, v] = pair else {
                    return Err(format!("line {}: odd number of words", n + 1));
                };
                match k.as_str() {
                    "file" => name = Some(v.clone()),
                    "seq" => seq = v.parse::<u64>().ok(),
                    "type" => {
                        kind = match v.as_str() {
                            "b" => Some(FileKind::Base),
                            "i" => Some(FileKind::Incr),
                            "h" => Some(FileKind::History),
                            _ => None,
                        }
                    }
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(format!("line {}: missing file, seq or type", n + 1));
            };
            if name.contains('/') {
                return Err(format!("line {}: file name is a path", n + 1));
            }
            let f = ManifestFile { name, seq, kind };
            match kind {
                FileKind::Base => {
                    if m.base.is_some() {
                        return Err("more than one base file".into());
                    }
                    m.base = Some(f)
                }
                FileKind::Incr => {
                    if m.incrs.last().is_some_and(|l| l.seq >= seq) {
                        return Err("incremental files out of order".into());
                    }
                    m.incrs.push(f)
                }
                FileKind::History => m.history.push(f),
            }
        }
        if m.base.is_none() && m.incrs.is_empty() {
            return Err("no base and no incremental file".into());
        }
        Ok(m)
    }

    /// The manifest's text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let line = |s: &mut String, f: &ManifestFile, t: char| {
            s.push_str(&format!("file {} seq {} type {}\n", f.name, f.seq, t));
        };
        if let Some(b) = &self.base {
            line(&mut s, b, 'b');
        }
        for h in &self.history {
            line(&mut s, h, 'h');
        }
        for i in &self.incrs {
            line(&mut s, i, 'i');
        }
        s
    }

    /// The next sequence number for a new incremental file (past the history's too: a name
    /// still listed there is deleted once a rewrite completes).
    pub fn next_incr_seq(&self) -> u64 {
        self.incrs
            .iter()
            .chain(self.history.iter().filter(|f| f.kind == FileKind::Incr))
            .map(|f| f.seq + 1)
            .max()
            .unwrap_or(1)
    }
}

/// Splits a line into words, with Redis's double-quote rules (enough for file names).
fn split_args(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else {
            return Some(out);
        };
        let mut w = String::new();
        if c == '"' {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        'n' => w.push('\n'),
                        'r' => w.push('\r'),
                        't' => w.push('\t'),
                        o => w.push(o),
                    },
                    o => w.push(o),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                w.push(c);
                chars.next();
            }
        }
        out.push(w);
    }
}

/// Appends a command in RESP (`*<n>` then `$<len>` bulk strings).
pub fn encode_command<A: AsRef<[u8]>>(buf: &mut Vec<u8>, args: &[A]) {
    let mut ib = itoa::Buffer::new();
    buf.push(b'*');
    buf.extend_from_slice(ib.format(args.len()).as_bytes());
    buf.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        buf.push(b'$');
        buf.extend_from_slice(ib.format(a.len()).as_bytes());
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

/// What reading the next command found.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A command, and the offset after it.
    Command(Vec<Bytes>, usize),
    /// The data ends inside a command (a truncated tail).
    Truncated,
    /// Not a RESP command at this offset.
    Corrupt,
}

/// Reads the command starting at `pos`.
pub fn parse_command(data: &[u8], pos: usize) -> Parsed {
    fn line(data: &[u8], pos: usize, tag: u8) -> Result<(u64, usize), Parsed> {
        match data.get(pos) {
            None => return Err(Parsed::Truncated),
            Some(&t) if t != tag => return Err(Parsed::Corrupt),
            _ => {}
        }
        let mut n: u64 = 0;
        let mut p = pos + 1;
        let mut digits = 0;
        loop {
            match data.get(p) {
                None => return Err(Parsed::Truncated),
                Some(b'\r') => break,
                Some(&d) if d.is_ascii_digit() && digits < 18 => {
                    n = n * 10 + (d - b'0') as u64;
                    digits += 1;
                }
                _ => return Err(Parsed::Corrupt),
            }
            p += 1;
        }
        match data.get(p + 1) {
            None => Err(Parsed::Truncated),
            Some(b'\n') if digits > 0 => Ok((n, p + 2)),
            _ => Err(Parsed::Corrupt),
        }
    }
    let inner = || -> Result<(Vec<Bytes>, usize), Parsed> {
        let (argc, mut p) = line(data, pos, b'*')?;
        if argc == 0 {
            return Err(Parsed::Corrupt);
        }
        let mut args = Vec::with_capacity((argc as usize).min(1024));
        for _ in 0..argc {
            let (len, start) = line(data, p, b'$')?;
            let len = len as usize;
            let end = start.checked_add(len).ok_or(Parsed::Corrupt)?;
            if data.len() < end + 2 {
                return Err(Parsed::Truncated);
            }
            if &data[end..end + 2] != b"\r\n" {
                return Err(Parsed::Corrupt);
            }
            args.push(Bytes::copy_from_slice(&data[start..end]));
            p = end + 2;
        }
        Ok((args, p))
    };
    match inner() {
        Ok((args, p)) => Parsed::Command(args, p),
        Err(e) => e,
    }
}

/// A write to log: the database it ran in and its (possibly rewritten) arguments.
pub type LogRecord = (usize, Vec<Bytes>);

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn num(n: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes())
}

fn eq(a: &[u8], name: &str) -> bool {
    a.eq_ignore_ascii_case(name.as_bytes())
}

/// Turns a successful write command into what replays to the same effect later: relative
/// times become absolute (as Redis 7.0 propagates them), random and blocking pops become the
/// plain pops or removals of what they actually took. Returns the commands to log.
pub fn rewrite(args: &[Bytes], reply: &Reply, now_ms: i64) -> Vec<Vec<Bytes>> {
    let name = args[0].to_ascii_lowercase();
    let abs = |amount: &[u8], unit_ms: i64| -> Option<Bytes> {
        let n = crate::num::parse_i64(amount)?;
        Some(num(n.checked_mul(unit_ms)?.checked_add(now_ms)?))
    };
    let verbatim = || vec![args.to_vec()];
    match name.as_slice() {
        b"set" => {
            let mut out = args.to_vec();
            let mut i = 3;
            while i < out.len() {
                let unit = if eq(&out[i], "ex") {
                    1000
                } else if eq(&out[i], "px") {
                    1
                } else {
                    i += 1;
                    continue;
                };
                if let Some(at) = out.get(i + 1).and_then(|a| abs(a, unit)) {
                    out[i] = b("PXAT");
                    out[i + 1] = at;
                }
                i += 2;
            }
            vec![out]
        }
        b"setex" | b"psetex" if args.len() == 4 => {
            let unit = if name == b"setex" { 1000 } else { 1 };
            match abs(&args[2], unit) {
                Some(at) => vec![vec![
                    b("SET"),
                    args[1].clone(),
                    args[3].clone(),
                    b("PXAT"),
                    at,
                ]],
                None => verbatim(),
            }
        }
        b"expire" | b"pexpire" if args.len() >= 3 => {
            let unit = if name == b"expire" { 1000 } else { 1 };
            match abs(&args[2], unit) {
                Some(at) => {
                    let mut c = vec![b("PEXPIREAT"), args[1].clone(), at];
                    c.extend_from_slice(&args[3..]);
                    vec![c]
                }
                None => verbatim(),
            }
        }
        b"getex" => {
            if matches!(reply, Reply::Nil) || args.len() < 3 {
                return Vec::new();
            }
            let key = args[1].clone();
            let opt = &args[2];
            let at = if eq(opt, "persist") {
                return vec![vec![b("PERSIST"), key]];
            } else if eq(opt, "ex") {
                args.get(3).and_then(|a| abs(a, 1000))
            } else if eq(opt, "px") {
                args.get(3).and_then(|a| abs(a, 1))
            } else if eq(opt, "exat") {
                args.get(3)
                    .and_then(|a| crate::num::parse_i64(a)?.checked_mul(1000))
                    .map(num)
            } else if eq(opt, "pxat") {
                args.get(3).cloned()
            } else {
                None
            };
            match at {
                Some(at) => vec![vec![b("PEXPIREAT"), key, at]],
                None => Vec::new(),
            }
        }
        b"restore" if args.len() >= 4 => {
            let absttl = args[4..].iter().any(|a| eq(a, "absttl"));
            match crate::num::parse_i64(&args[2]) {
                Some(ttl) if ttl > 0 && !absttl => {
                    let mut c = args.to_vec();
                    if let Some(at) = abs(&args[2], 1) {
                        c[2] = at;
                        c.push(b("ABSTTL"));
                    }
                    vec![c]
                }
                _ => verbatim(),
            }
        }
        b"spop" => {
            let members: Vec<Bytes> = match reply {
                Reply::Bulk(m) => vec![m.clone()],
                Reply::Array(items) | Reply::Set(items) => items
                    .iter()
                    .filter_map(|r| match r {
                        Reply::Bulk(m) => Some(m.clone()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            if members.is_empty() {
                return Vec::new();
            }
            let mut c = vec![b("SREM"), args[1].clone()];
            c.extend(members);
            vec![c]
        }
        b"blpop" | b"brpop" | b"bzpopmin" | b"bzpopmax" => {
            let Reply::Array(items) = reply else {
                return Vec::new();
            };
            let Some(Reply::Bulk(key)) = items.first() else {
                return Vec::new();
            };
            let cmd = match name.as_slice() {
                b"blpop" => "LPOP",
                b"brpop" => "RPOP",
                b"bzpopmin" => "ZPOPMIN",
                _ => "ZPOPMAX",
            };
            vec![vec![b(cmd), key.clone()]]
        }
        b"blmove" | b"brpoplpush" => {
            if matches!(reply, Reply::Nil | Reply::NilArray) {
                return Vec::new();
            }
            let mut c = args[..args.len() - 1].to_vec();
            c[0] = b(if name == b"blmove" {
                "LMOVE"
            } else {
                "RPOPLPUSH"
            });
            vec![c]
        }
        b"blmpop" | b"bzmpop" => {
            if matches!(reply, Reply::Nil | Reply::NilArray) {
                return Vec::new();
            }
            let mut c = vec![b(if name == b"blmpop" { "LMPOP" } else { "ZMPOP" })];
            c.extend_from_slice(&args[2..]);
            vec![c]
        }
        _ => verbatim(),
    }
}

thread_local! {
    /// Writes of the commands run inside the current outer command (EXEC, scripts), to be
    /// logged together when it ends.
    static BATCH: RefCell<Option<Vec<LogRecord>>> = const { RefCell::new(None) };
    /// Inside [`with_deferred_sync`]: the highest append position left unsynced under
    /// `always` (0: none yet). `None` outside: appends sync themselves.
    static DEFERRED: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Runs `f` (commands whose replies the caller sends itself) with `appendfsync always`'s
/// fdatasync deferred: appends are written but not synced. Returns `f`'s result and, if
/// something was left unsynced, the position to pass to [`Aof::sync_through`] (through
/// `Db::sync_aof_through`) before sending any reply produced by `f`.
///
/// `f` must not await: the deferral is per thread.
pub fn with_deferred_sync<R>(f: impl FnOnce() -> R) -> (R, Option<u64>) {
    struct Reset(Option<u64>);
    impl Drop for Reset {
        fn drop(&mut self) {
            DEFERRED.with(|d| d.set(self.0));
        }
    }
    let outer = DEFERRED.with(|d| d.replace(Some(0)));
    let reset = Reset(outer);
    let r = f();
    let pending = DEFERRED.with(|d| d.get()).filter(|&seq| seq > 0);
    drop(reset);
    (r, pending)
}

/// The AOF writer.
#[derive(Debug)]
pub struct Aof {
    enabled: AtomicBool,
    fsync: AtomicU8,
    /// Held shared by every command while it runs and logs; exclusively to switch files
    /// (so a snapshot and the switch see exactly the same commands).
    pub(crate) gate: RwLock<()>,
    inner: Mutex<Inner>,
    /// Serializes writers; the holder writes everything appended so far (group commit).
    flush: Mutex<FlushState>,
    appended_seq: AtomicU64,
    /// Set when a write or fsync failed: writes are refused until one succeeds again.
    error: Mutex<Option<String>>,
    /// Bytes in the current incremental files (for automatic rewrites).
    pub(crate) incr_size: AtomicU64,
    /// Base size at the last rewrite (auto-aof-rewrite-percentage's reference).
    pub(crate) base_size: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    buf: Vec<u8>,
    seq: u64,
    last_db: Option<usize>,
    file: Option<Arc<File>>,
}

#[derive(Debug, Default)]
struct FlushState {
    written_seq: u64,
    synced_seq: u64,
    unsynced: bool,
}

fn fsync_code(f: Fsync) -> u8 {
    match f {
        Fsync::Always => 0,
        Fsync::Everysec => 1,
        Fsync::No => 2,
    }
}

impl Aof {
    /// A writer, off until [`Aof::start`].
    pub fn new(fsync: Fsync) -> Self {
        Aof {
            enabled: AtomicBool::new(false),
            fsync: AtomicU8::new(fsync_code(fsync)),
            gate: RwLock::new(()),
            inner: Mutex::new(Inner {
                buf: Vec::new(),
                seq: 0,
                last_db: None,
                file: None,
            }),
            flush: Mutex::new(FlushState::default()),
            appended_seq: AtomicU64::new(0),
            error: Mutex::new(None),
            incr_size: AtomicU64::new(0),
            base_size: AtomicU64::new(0),
        }
    }

    /// Whether writes are being logged.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// The fsync policy.
    pub fn fsync(&self) -> Fsync {
        match self.fsync.load(Ordering::Relaxed) {
            0 => Fsync::Always,
            1 => Fsync::Everysec,
            _ => Fsync::No,
        }
    }

    /// Changes the fsync policy.
    pub fn set_fsync(&self, f: Fsync) {
        self.fsync.store(fsync_code(f), Ordering::Relaxed);
    }

    /// The last write error, if writes are failing.
    pub fn error(&self) -> Option<String> {
        self.error.lock().clone()
    }

    /// Starts logging to `file` (an incremental file opened for append). Call with the gate
    /// held exclusively, or before commands run.
    pub fn start(&self, file: File) {
        let mut g = self.inner.lock();
        g.file = Some(Arc::new(file));
        g.last_db = None;
        self.enabled.store(true, Ordering::SeqCst);
    }

    /// Stops logging (everything appended is written and synced first).
    pub fn stop(&self) {
        self.enabled.store(false, Ordering::SeqCst);
        let _ = self.sync_all();
        self.inner.lock().file = None;
    }

    /// Writes what is buffered and syncs it, then continues in `file` (a new incremental
    /// file). Call with the gate held exclusively.
    pub fn switch_to(&self, file: File) -> std::io::Result<()> {
        self.sync_all()?;
        let mut g = self.inner.lock();
        g.file = Some(Arc::new(file));
        // The new file is replayed from a fresh client: its first write must SELECT.
        g.last_db = None;
        self.incr_size.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Logs records and returns once they are written (and synced under `always`).
    pub fn append(&self, records: &[LogRecord], wrap_multi: bool) -> Result<(), String> {
        if records.is_empty() {
            return Ok(());
        }
        let seq = {
            let mut g = self.inner.lock();
            let start = g.buf.len();
            if wrap_multi {
                encode_command(&mut g.buf, &[b"MULTI"]);
            }
            for (db, args) in records {
                if g.last_db != Some(*db) {
                    let mut ib = itoa::Buffer::new();
                    let dbs = ib.format(*db).as_bytes().to_vec();
                    encode_command(&mut g.buf, &[&b"SELECT"[..], &dbs]);
                    g.last_db = Some(*db);
                }
                encode_command(&mut g.buf, args);
            }
            if wrap_multi {
                encode_command(&mut g.buf, &[b"EXEC"]);
            }
            self.incr_size
                .fetch_add((g.buf.len() - start) as u64, Ordering::Relaxed);
            g.seq += 1;
            g.seq
        };
        self.appended_seq.store(seq, Ordering::Release);
        let always = self.fsync() == Fsync::Always;
        if always {
            let deferred = DEFERRED.with(|d| match d.get() {
                Some(pending) => {
                    d.set(Some(pending.max(seq)));
                    true
                }
                None => false,
            });
            if deferred {
                return self.write_through(seq, false);
            }
        }
        self.write_through(seq, always)
    }

    /// Makes everything up to `seq` durable (written and fdatasync'ed), joining a sync in
    /// progress when it covers `seq`: the second half of [`with_deferred_sync`].
    pub fn sync_through(&self, seq: u64) -> Result<(), String> {
        self.write_through(seq, true)
    }

    /// Makes sure everything up to `seq` is written (and synced if `sync`).
    fn write_through(&self, seq: u64, sync: bool) -> Result<(), String> {
        let mut f = self.flush.lock();
        if f.written_seq >= seq && (!sync || f.synced_seq >= seq) {
            return Ok(());
        }
        let (data, file, upto) = {
            let mut g = self.inner.lock();
            (std::mem::take(&mut g.buf), g.file.clone(), g.seq)
        };
        let Some(file) = file else {
            return Ok(());
        };
        let result = (|| -> std::io::Result<()> {
            if !data.is_empty() {
                (&*file).write_all(&data)?;
            }
            f.written_seq = upto;
            f.unsynced = true;
            if sync {
                file.sync_data()?;
                f.synced_seq = upto;
                f.unsynced = false;
            }
            Ok(())
        })();
        match result {
            Ok(()) => {
                if self.error.lock().is_some() {
                    *self.error.lock() = None;
                }
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                *self.error.lock() = Some(msg.clone());
                Err(msg)
            }
        }
    }

    /// Writes and syncs everything appended so far (the `everysec` tick, shutdown, switch).
    pub fn sync_all(&self) -> std::io::Result<()> {
        let seq = self.inner.lock().seq;
        self.write_through(seq, true).map_err(std::io::Error::other)
    }

    /// The `everysec` tick: syncs if anything was written since the last sync.
    pub fn tick(&self) {
        if self.enabled() && self.fsync() == Fsync::Everysec {
            let pending = {
                let f = self.flush.lock();
                f.unsynced || f.written_seq < self.appended_seq.load(Ordering::Acquire)
            };
            if pending {
                if let Err(e) = self.sync_all() {
                    eprintln!("embedis: AOF fsync failed: {e}");
                }
            }
        }
    }
}

/// What [`begin`] hands to [`finish`] for one command.
#[derive(Debug)]
pub struct Scope<'a> {
    aof: &'a Aof,
    _gate: Option<RwLockReadGuard<'a, ()>>,
    outer: bool,
    db: usize,
}

/// Called before a command runs when the AOF is on: an outer command (not inside EXEC or a
/// script) holds the gate shared while it runs and logs, and collects the writes of the
/// commands it runs.
pub fn begin(aof: &Aof, outer: bool, db: usize) -> Scope<'_> {
    let gate = outer.then(|| aof.gate.read());
    if outer {
        BATCH.with(|b| *b.borrow_mut() = Some(Vec::new()));
    }
    Scope {
        aof,
        _gate: gate,
        outer,
        db,
    }
}

/// Called after the command: logs it (if it is a write that succeeded) with what it ran.
/// Returns an error when the log could not be written: the write is then not acknowledged.
pub fn finish(
    scope: Scope<'_>,
    is_write: bool,
    args: &[Bytes],
    reply: &Reply,
    now_ms: u64,
) -> Result<(), String> {
    let mut own: Vec<LogRecord> = Vec::new();
    if is_write && !reply.is_error() {
        for c in rewrite(args, reply, now_ms as i64) {
            own.push((scope.db, c));
        }
    }
    if !scope.outer {
        BATCH.with(|b| {
            if let Some(batch) = b.borrow_mut().as_mut() {
                batch.extend(own);
            }
        });
        return Ok(());
    }
    let inner = BATCH.with(|b| b.borrow_mut().take()).unwrap_or_default();
    if inner.is_empty() {
        return scope.aof.append(&own, false);
    }
    let mut all = inner;
    all.extend(own);
    let wrap = all.len() > 1;
    scope.aof.append(&all, wrap)
}

/// Logs a command's outcome through its scope (the hook `db::run` calls): a write that
/// succeeded is logged before its reply is returned; if logging fails, the reply becomes a
/// MISCONF error (the change is in memory but not durable, and the client is told).
pub fn log_result(
    scope: Scope<'_>,
    cmd: crate::cmd::CommandRef,
    args: &[Bytes],
    result: crate::error::Result<Reply>,
    now_ms: u64,
) -> crate::error::Result<Reply> {
    let is_write = cmd.spec.has(crate::cmd::flags::WRITE);
    let nil = Reply::Nil;
    let (ok, reply) = match &result {
        Ok(r) => (!r.is_error(), r),
        Err(_) => (false, &nil),
    };
    match finish(scope, is_write && ok, args, reply, now_ms) {
        Ok(()) => result,
        Err(e) => Err(crate::error::Error::aof_write(&e)),
    }
}

/// Opens (creating) a file for appending.
pub fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Writes `contents` to `path` atomically: a temporary file, fsync, rename, directory fsync.
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = temp_path(path);
    {
        let mut f = File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    sync_dir(path);
    Ok(())
}

/// A temporary name next to `path`.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("temp-{}-{name}", std::process::id()))
}

/// Syncs the directory holding `path` so a rename survives a crash (best effort).
pub fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<Bytes> {
        s.iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    #[test]
    fn manifest_round_trips_and_reads_redis() {
        let redis = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n";
        let m = Manifest::parse(redis).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.rdb");
        assert_eq!(m.incrs.len(), 1);
        assert_eq!(m.render(), redis);
        assert_eq!(m.next_incr_seq(), 2);
        let quoted = Manifest::parse("file \"a b.aof\" seq 3 type i\n").unwrap();
        assert_eq!(quoted.incrs[0].name, "a b.aof");
        assert!(Manifest::parse("file x seq 1\n").is_err());
        assert!(Manifest::parse("").is_err());
        assert!(Manifest::parse("file ../x seq 1 type b\n").is_err());
    }

    #[test]
    fn commands_parse_back_and_tails_are_told_apart() {
        let mut buf = Vec::new();
        encode_command(&mut buf, &args(&["SET", "k", "v\r\nx"]));
        encode_command(&mut buf, &args(&["DEL", "k"]));
        let Parsed::Command(a, next) = parse_command(&buf, 0) else {
            panic!()
        };
        assert_eq!(a, args(&["SET", "k", "v\r\nx"]));
        let Parsed::Command(a, end) = parse_command(&buf, next) else {
            panic!()
        };
        assert_eq!(a, args(&["DEL", "k"]));
        assert_eq!(end, buf.len());
        for cut in next + 1..buf.len() {
            assert_eq!(
                parse_command(&buf[..cut], next),
                Parsed::Truncated,
                "cut at {cut}"
            );
        }
        assert_eq!(parse_command(b"+OK\r\n", 0), Parsed::Corrupt);
        assert_eq!(parse_command(b"*1\r\n$3\r\nabcX\n", 0), Parsed::Corrupt);
        assert_eq!(parse_command(b"*x\r\n", 0), Parsed::Corrupt);
    }

    #[test]
    fn relative_times_become_absolute() {
        let now = 1_000_000;
        let r = rewrite(&args(&["set", "k", "v", "EX", "10", "NX"]), &Reply::Ok, now);
        assert_eq!(r, vec![args(&["set", "k", "v", "PXAT", "1010000", "NX"])]);
        let r = rewrite(&args(&["SETEX", "k", "5", "v"]), &Reply::Ok, now);
        assert_eq!(r, vec![args(&["SET", "k", "v", "PXAT", "1005000"])]);
        let r = rewrite(&args(&["PEXPIRE", "k", "5", "GT"]), &Reply::Int(1), now);
        assert_eq!(r, vec![args(&["PEXPIREAT", "k", "1000005", "GT"])]);
        let r = rewrite(&args(&["GETEX", "k", "PERSIST"]), &Reply::bulk("v"), now);
        assert_eq!(r, vec![args(&["PERSIST", "k"])]);
        assert!(rewrite(&args(&["GETEX", "k"]), &Reply::bulk("v"), now).is_empty());
        let r = rewrite(&args(&["RESTORE", "k", "100", "payload"]), &Reply::Ok, now);
        assert_eq!(
            r,
            vec![args(&["RESTORE", "k", "1000100", "payload", "ABSTTL"])]
        );
        let r = rewrite(
            &args(&["SPOP", "s", "2"]),
            &Reply::Array(vec![Reply::bulk("a"), Reply::bulk("b")]),
            now,
        );
        assert_eq!(r, vec![args(&["SREM", "s", "a", "b"])]);
        assert!(rewrite(&args(&["SPOP", "s"]), &Reply::Nil, now).is_empty());
        let r = rewrite(
            &args(&["BLPOP", "a", "b", "0"]),
            &Reply::Array(vec![Reply::bulk("b"), Reply::bulk("x")]),
            now,
        );
        assert_eq!(r, vec![args(&["LPOP", "b"])]);
    }
}
