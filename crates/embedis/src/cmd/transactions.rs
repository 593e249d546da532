//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, and the per-client state behind them.
//!
//! Between MULTI and EXEC, dispatch ([`before_run`], called by `db::execute` after the arity and
//! AUTH checks) queues every command except the transaction controls and answers `+QUEUED`.
//! An error while queueing (unknown command, arity, NOAUTH, a `no_multi` command, BUSY) marks
//! the transaction so that EXEC answers EXECABORT, as Redis's `flagTransaction`.
//!
//! EXEC runs every queued command through the same `db::run` as clients, under one all-shards
//! lock passed as `held`: no other client or script observes a partial state. WATCH registers
//! keys in [`crate::keyspace::watch`]; any write to a watched key (from any client, a script,
//! expiry, FLUSHDB/FLUSHALL/SWAPDB) sets the client's flag and EXEC then answers a null array.
//!
//! maxmemory as in Redis: over the limit, every command inside MULTI but EXEC, DISCARD, QUIT
//! and RESET is refused (failing the transaction), and EXEC is refused with
//! `EXECABORT ... because of: OOM ...` when a queued command may grow memory (`denyoom`, or a
//! script with declared flags lacking `no-writes`/`allow-oom`). Commands inside EXEC are not
//! checked again. EXEC sets `deny_blocking` while it runs, as Redis does.

use std::sync::Arc;

use bytes::Bytes;

use super::flags::*;
use super::{CommandRef, CommandSpec, Ctx};
use crate::db::{ClientState, Engine};
use crate::error::{self, Error, Result};
use crate::keyspace::Access;
use crate::keyspace::watch::{WatchFlag, Watches};
use crate::reply::Reply;

/// The transaction family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "discard",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        discard,
    ),
    CommandSpec::new("exec", 1, NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG, exec),
    CommandSpec::new(
        "multi",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        multi,
    ),
    CommandSpec::new(
        "unwatch",
        1,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        unwatch,
    ),
    CommandSpec::new(
        "watch",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        watch,
    )
    .keys(1, -1, 1),
];

/// One queued command.
#[derive(Debug, Clone)]
struct Queued {
    cmd: CommandRef,
    args: Vec<Bytes>,
}

/// A client's MULTI/WATCH state (a field of [`ClientState`]).
#[derive(Debug, Default)]
pub struct TxState {
    /// Queued commands while in MULTI.
    queue: Option<Vec<Queued>>,
    /// An error happened while queueing: EXEC must answer EXECABORT (`CLIENT_DIRTY_EXEC`).
    aborted: bool,
    /// A queued command may grow memory (`denyoom`, or a script declaring flags without
    /// `no-writes`/`allow-oom`): EXEC is refused when memory is over `maxmemory`, as Redis's
    /// `mstate.cmd_flags & CMD_DENYOOM`.
    denyoom: bool,

    /// Watched (database, key) pairs.
    watched: Vec<(usize, Bytes)>,
    /// Set by writes to watched keys; created on the first WATCH.
    flag: Option<Arc<WatchFlag>>,
    /// The registry the watches are in, to unregister on drop.
    registry: Option<Arc<Watches>>,
}

impl TxState {
    /// Whether the client is between MULTI and EXEC/DISCARD.
    pub fn in_multi(&self) -> bool {
        self.queue.is_some()
    }

    /// Number of commands queued so far.
    pub fn queued(&self) -> usize {
        self.queue.as_ref().map_or(0, Vec::len)
    }

    /// Whether a watched key changed (EXEC will fail).
    pub fn is_dirty(&self) -> bool {
        self.flag.as_ref().is_some_and(|f| f.is_dirty())
    }

    /// Number of watched keys.
    pub fn watched_keys(&self) -> usize {
        self.watched.len()
    }

    /// Marks the transaction as failed because a command could not be queued.
    pub fn flag_error(&mut self) {
        if self.in_multi() {
            self.aborted = true;
        }
    }

    /// Forgets every watched key and clears the dirty flag (UNWATCH).
    pub fn unwatch_all(&mut self) {
        if let (Some(flag), Some(reg)) = (&self.flag, &self.registry) {
            reg.unwatch(flag, &self.watched);
            flag.clear();
        }
        self.watched.clear();
    }

    /// Leaves MULTI and unwatches everything (DISCARD, EXEC, RESET).
    pub fn discard(&mut self) {
        self.queue = None;
        self.aborted = false;
        self.denyoom = false;
        self.unwatch_all();
    }
}

impl Drop for TxState {
    fn drop(&mut self) {
        self.unwatch_all();
    }
}

/// Commands that run immediately inside MULTI instead of being queued.
fn runs_inside_multi(cmd: CommandRef) -> bool {
    matches!(
        cmd.full_name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Dispatch hook between the AUTH check and running a command: refuses `no_multi` commands in
/// a transaction, answers BUSY while a script runs past the time limit, and queues commands
/// inside MULTI. `None` means "run it now".
pub(crate) fn before_run(
    engine: &Engine,
    client: &mut ClientState,
    cmd: CommandRef,
    args: &[Bytes],
) -> Option<Reply> {
    let in_multi = client.tx.in_multi();
    if in_multi && cmd.spec.has(NO_MULTI) {
        return Some(reject(engine, client, cmd, error::NOT_ALLOWED_IN_MULTI));
    }
    // Queueing may take any amount of memory: over `maxmemory`, Redis refuses every command
    // inside MULTI but the ones that end it.
    if in_multi
        && !matches!(cmd.full_name, "exec" | "discard" | "quit" | "reset")
        && engine.check_maxmemory(None, true).is_err()
    {
        return Some(reject(engine, client, cmd, Error::Oom));
    }
    if let Err(e) = crate::script::wait_if_busy(engine, cmd) {
        return Some(reject(engine, client, cmd, e));
    }
    if in_multi && !runs_inside_multi(cmd) {
        if !client.tx.aborted && !client.tx.denyoom && crate::script::denies_oom(engine, cmd, args)
        {
            client.tx.denyoom = true;
        }
        if !client.tx.aborted
            && let Some(q) = client.tx.queue.as_mut()
        {
            q.push(Queued {
                cmd,
                args: args.to_vec(),
            });
        }
        return Some(Reply::status("QUEUED"));
    }
    None
}

/// A command refused before running: counted like Redis's `rejectCommand`.
fn reject(engine: &Engine, client: &mut ClientState, cmd: CommandRef, e: Error) -> Reply {
    engine.command_stats[cmd.id].rejected_calls.inc();
    engine.stats.count_error(&e);
    rejected(client, cmd.full_name.as_bytes(), e)
}

/// A command refused before running (unknown, arity, NOAUTH, BUSY, `no_multi`): the
/// transaction in progress will fail, and a refused EXEC aborts it at once, as Redis's
/// `rejectCommand` does.
pub(crate) fn rejected(client: &mut ClientState, name: &[u8], e: Error) -> Reply {
    client.tx.flag_error();
    if name.eq_ignore_ascii_case(b"exec") {
        client.tx.discard();
        return Reply::Error(Error::exec_abort(&e));
    }
    Reply::Error(e)
}

/// Runs `f` as one atomic block against every shard of the keyspace: with the lock already held
/// (EXEC running EVAL, a script inside EXEC) or with a new all-shards lock on database `db`.
///
/// Clients blocked on keys the block made ready (BLPOP...) are served once, when this lock is
/// released (the `Access` drops: see `blocking::serve_ready`), after the whole block and not
/// after each command inside it; commands inside it never block (their `Ctx` has `held`).
pub(crate) fn atomic_block<R>(
    engine: &Engine,
    held: Option<&mut Access<'_>>,
    db: usize,
    f: impl FnOnce(&mut Access<'_>) -> R,
) -> R {
    match held {
        Some(a) => super::with_db(a, db, f),
        None => {
            let now = engine.clock.now_millis();
            let mut a = engine.keyspace.lock_all(&engine.stats, db, now);
            f(&mut a)
        }
    }
}

fn multi(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    if ctx.client.tx.in_multi() {
        return Err(error::MULTI_NESTED);
    }
    ctx.client.tx.queue = Some(Vec::new());
    Ok(Reply::Ok)
}

fn discard(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    if !ctx.client.tx.in_multi() {
        return Err(error::DISCARD_WITHOUT_MULTI);
    }
    ctx.client.tx.discard();
    Ok(Reply::Ok)
}

fn watch(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    if ctx.client.tx.in_multi() {
        return Err(error::WATCH_IN_MULTI);
    }
    let flag = ctx
        .client
        .tx
        .flag
        .get_or_insert_with(|| Arc::new(WatchFlag::default()))
        .clone();
    if ctx.client.tx.registry.is_none() {
        ctx.client.tx.registry = Some(ctx.engine.keyspace.watches.clone());
    }
    let db = ctx.db();
    for key in &args[1..] {
        if ctx
            .client
            .tx
            .watched
            .iter()
            .any(|(d, k)| *d == db && k == key)
        {
            continue;
        }
        ctx.key(key, |a| a.watch(key, &flag));
        ctx.client.tx.watched.push((db, key.clone()));
    }
    Ok(Reply::Ok)
}

fn unwatch(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    ctx.client.tx.unwatch_all();
    Ok(Reply::Ok)
}

fn exec(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    if !ctx.client.tx.in_multi() {
        return Err(error::EXEC_WITHOUT_MULTI);
    }
    // Redis checks memory before running EXEC (in `processCommand`), so this comes before
    // the queueing errors and the watched keys.
    let oom = ctx.engine.check_maxmemory(None, true).is_err();
    if oom && ctx.client.tx.denyoom {
        ctx.client.tx.discard();
        return Err(Error::exec_abort(&Error::Oom));
    }
    if ctx.client.tx.aborted {
        ctx.client.tx.discard();
        return Err(error::EXECABORT);
    }
    let queued = ctx.client.tx.queue.take().unwrap_or_default();
    let engine = ctx.engine;
    let client = &mut *ctx.client;
    let db = client.db;
    // Like Redis's EXEC: blocking commands inside it reply at once (the held lock already
    // makes them so; the flag says it to anything that looks at the client).
    let deny_blocking = std::mem::replace(&mut client.deny_blocking, true);
    let reply = atomic_block(engine, ctx.held.as_deref_mut(), db, |a| {
        exec_exec(engine, client, a, &queued)
    });
    client.deny_blocking = deny_blocking;
    Ok(reply)
}

/// Runs a queued transaction under the all-shards lock `a`: a null array if a watched key
/// changed (or expired) since WATCH, else every command's reply in order.
fn exec_exec(
    engine: &Engine,
    client: &mut ClientState,
    a: &mut Access<'_>,
    queued: &[Queued],
) -> Reply {
    let expired = client
        .tx
        .watched
        .iter()
        .any(|(db, key)| a.is_stored_but_expired(*db, key));
    let dirty = client.tx.is_dirty() || expired;
    client.tx.discard();
    if dirty {
        return Reply::NilArray;
    }
    let mut replies = Vec::with_capacity(queued.len());
    for q in queued {
        replies.push(crate::db::run(
            engine,
            client,
            q.cmd,
            &q.args,
            Some(&mut *a),
        ));
    }
    Reply::Array(replies)
}

#[cfg(test)]
mod tests {
    use crate::{Db, Reply};
    use bytes::Bytes;

    fn cmd(s: &mut crate::Session, args: &[&str]) -> Reply {
        let args: Vec<Bytes> = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        s.execute(&args)
    }

    fn err(r: &Reply) -> String {
        match r {
            Reply::Error(e) => e.to_string(),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn queue_and_exec() {
        let db = Db::builder().active_expiry(false).build();
        let mut s = db.session();
        assert_eq!(cmd(&mut s, &["MULTI"]), Reply::Ok);
        assert_eq!(cmd(&mut s, &["SET", "a", "1"]), Reply::status("QUEUED"));
        assert_eq!(cmd(&mut s, &["GET", "a"]), Reply::status("QUEUED"));
        assert_eq!(
            cmd(&mut s, &["EXEC"]),
            Reply::Array(vec![Reply::Ok, Reply::bulk("1")])
        );
        assert!(!s.state.tx.in_multi());
    }

    #[test]
    fn queue_time_errors_abort() {
        let db = Db::new();
        let mut s = db.session();
        cmd(&mut s, &["MULTI"]);
        assert!(cmd(&mut s, &["NOSUCH"]).is_error());
        cmd(&mut s, &["SET", "a", "1"]);
        assert_eq!(
            err(&cmd(&mut s, &["EXEC"])),
            "EXECABORT Transaction discarded because of previous errors."
        );
        assert_eq!(db.get("a").unwrap(), None);
        // Nested MULTI and WATCH inside MULTI are errors that do not abort.
        cmd(&mut s, &["MULTI"]);
        assert_eq!(
            err(&cmd(&mut s, &["MULTI"])),
            "ERR MULTI calls can not be nested"
        );
        assert_eq!(
            err(&cmd(&mut s, &["WATCH", "a"])),
            "ERR WATCH inside MULTI is not allowed"
        );
        cmd(&mut s, &["SET", "a", "2"]);
        assert_eq!(cmd(&mut s, &["EXEC"]), Reply::Array(vec![Reply::Ok]));
    }

    #[test]
    fn watch_from_another_client_fails_exec() {
        let db = Db::new();
        let mut a = db.session();
        let mut b = db.session();
        cmd(&mut a, &["WATCH", "k"]);
        cmd(&mut b, &["SET", "k", "other"]);
        cmd(&mut a, &["MULTI"]);
        cmd(&mut a, &["SET", "k", "mine"]);
        assert_eq!(cmd(&mut a, &["EXEC"]), Reply::NilArray);
        assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"other"[..]));
        // EXEC unwatched: the next transaction goes through.
        cmd(&mut a, &["MULTI"]);
        cmd(&mut a, &["SET", "k", "mine"]);
        assert_eq!(cmd(&mut a, &["EXEC"]), Reply::Array(vec![Reply::Ok]));
    }

    #[test]
    fn unwatch_and_other_keys_do_not_fail_exec() {
        let db = Db::new();
        let mut a = db.session();
        let mut b = db.session();
        cmd(&mut a, &["WATCH", "k"]);
        cmd(&mut b, &["SET", "unrelated", "1"]);
        cmd(&mut a, &["MULTI"]);
        cmd(&mut a, &["GET", "k"]);
        assert_eq!(cmd(&mut a, &["EXEC"]), Reply::Array(vec![Reply::Nil]));
        cmd(&mut a, &["WATCH", "k"]);
        cmd(&mut b, &["SET", "k", "1"]);
        cmd(&mut a, &["UNWATCH"]);
        cmd(&mut a, &["MULTI"]);
        cmd(&mut a, &["GET", "k"]);
        assert_eq!(cmd(&mut a, &["EXEC"]), Reply::Array(vec![Reply::bulk("1")]));
    }

    #[test]
    fn watched_key_expiring_fails_exec() {
        let clock = crate::ManualClock::new();
        let db = Db::builder()
            .clock(clock.clone())
            .active_expiry(false)
            .build();
        let mut a = db.session();
        db.call(["SET", "k", "v"]);
        db.call(["PEXPIRE", "k", "100"]);
        cmd(&mut a, &["WATCH", "k"]);
        clock.advance(std::time::Duration::from_millis(200));
        cmd(&mut a, &["MULTI"]);
        cmd(&mut a, &["PING"]);
        assert_eq!(cmd(&mut a, &["EXEC"]), Reply::NilArray);

        // Deleted by active expiry (no longer stored) before EXEC: still a change.
        db.call(["SET", "k", "v"]);
        db.call(["PEXPIRE", "k", "100"]);
        cmd(&mut a, &["WATCH", "k"]);
        clock.advance(std::time::Duration::from_millis(200));
        assert_eq!(db.run_active_expiry(), 1);
        cmd(&mut a, &["MULTI"]);
        cmd(&mut a, &["PING"]);
        assert_eq!(cmd(&mut a, &["EXEC"]), Reply::NilArray);

        // Watching a key that already expired, then its deletion: no change.
        db.call(["SET", "k", "v"]);
        db.call(["PEXPIRE", "k", "100"]);
        clock.advance(std::time::Duration::from_millis(200));
        cmd(&mut a, &["WATCH", "k"]);
        assert_eq!(db.run_active_expiry(), 1);
        cmd(&mut a, &["MULTI"]);
        cmd(&mut a, &["PING"]);
        assert_eq!(
            cmd(&mut a, &["EXEC"]),
            Reply::Array(vec![Reply::status("PONG")])
        );
    }

    #[test]
    fn dropping_a_watching_session_unregisters() {
        let db = Db::new();
        {
            let mut a = db.session();
            cmd(&mut a, &["WATCH", "k1", "k2"]);
            assert!(db.engine().keyspace.watches.is_active());
        }
        assert!(!db.engine().keyspace.watches.is_active());
    }

    #[test]
    fn exec_is_atomic_against_other_clients() {
        let db = Db::new();
        db.set("counter", "0");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let mut s = db.session();
                    for _ in 0..200 {
                        cmd(&mut s, &["MULTI"]);
                        cmd(&mut s, &["GET", "counter"]);
                        cmd(&mut s, &["SET", "counter", "x"]);
                        cmd(&mut s, &["SET", "counter", "0"]);
                        let r = cmd(&mut s, &["EXEC"]);
                        // Nobody can observe the intermediate "x".
                        let Reply::Array(v) = r else { panic!() };
                        assert_eq!(v[0], Reply::bulk("0"));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
