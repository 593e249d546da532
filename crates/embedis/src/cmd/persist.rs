//! Persistence commands: SAVE, BGSAVE, LASTSAVE, BGREWRITEAOF, DUMP, RESTORE.

use bytes::Bytes;

use super::args::{Args, int, is};
use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::error::{self, Error, Result};
use crate::keyspace::Access;
use crate::persist::{self, BgError, dump};
use crate::pubsub::Event;
use crate::reply::Reply;

/// The persistence family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "save",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        save,
    ),
    CommandSpec::new("bgsave", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, bgsave),
    CommandSpec::new("lastsave", 1, LOADING | STALE | FAST, lastsave),
    CommandSpec::new(
        "bgrewriteaof",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        bgrewriteaof,
    ),
    CommandSpec::new("dump", 2, READONLY, dump_cmd).keys(1, 1, 1),
    CommandSpec::new("restore", -4, WRITE | DENYOOM, restore).keys(1, 1, 1),
];

fn save(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    match persist::save(ctx.engine()) {
        Ok(()) => Ok(Reply::Ok),
        Err(persist::PersistError::Other(m)) if m.contains("already in progress") => {
            Err(error::BGSAVE_IN_PROGRESS)
        }
        Err(_) if ctx.engine().persist.state().is_none() => Err(error::PERSISTENCE_OFF),
        Err(e) => Err(Error::save_failed(&e.to_string())),
    }
}

fn bgsave(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    match args.len() {
        1 => {}
        2 if is(&args[1], "schedule") => {}
        _ => return Err(Error::Syntax),
    }
    let in_exec = ctx.held.is_some();
    let engine = ctx.engine;
    let started = match ctx.held.as_deref_mut() {
        Some(a) => persist::bgsave(engine, Some(a)),
        None => persist::bgsave(engine, None),
    };
    match started {
        // Inside MULTI/EXEC Redis defers the fork and says so; the snapshot here is taken at
        // once (it sees the transaction so far), but the reply is Redis's.
        Ok(()) if in_exec => Ok(Reply::status("Background saving scheduled")),
        Ok(()) => Ok(Reply::status("Background saving started")),
        Err(BgError::InProgress) => Err(error::BGSAVE_IN_PROGRESS),
        Err(BgError::NotConfigured) => Err(error::PERSISTENCE_OFF),
    }
}

fn lastsave(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    let e = ctx.engine();
    let secs = match e.persist.state() {
        Some(s) => s.lastsave(),
        None => e.started_ms / 1000,
    };
    Ok(Reply::Int(secs as i64))
}

fn bgrewriteaof(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    match persist::bgrewriteaof(ctx.engine()) {
        Ok(()) => Ok(Reply::status(
            "Background append only file rewriting started",
        )),
        Err(BgError::InProgress) => Err(error::BGREWRITE_IN_PROGRESS),
        Err(BgError::NotConfigured) => Err(error::PERSISTENCE_OFF),
    }
}

/// The serialized value of `key` (DUMP), `None` if there is no such key.
pub fn dump_exec(a: &mut Access<'_>, key: &[u8]) -> Result<Option<Vec<u8>>> {
    let Some(e) = a.get(key) else {
        return Ok(None);
    };
    // Every type embedis holds has an RDB form; a new type without one is a bug to report,
    // not a payload to invent.
    dump::dump_value(&e.value)
        .map(Some)
        .map_err(|t| Error::formatted(format!("ERR DUMP of a {t} is not supported yet")))
}

fn dump_cmd(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let key = &args[1];
    Ok(match ctx.key(key, |a| dump_exec(a, key))? {
        Some(p) => Reply::Bulk(Bytes::from(p)),
        None => Reply::Nil,
    })
}

/// RESTORE's options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreOptions {
    /// REPLACE: overwrite an existing key.
    pub replace: bool,
    /// ABSTTL: the TTL is an absolute Unix time in milliseconds.
    pub absttl: bool,
    /// IDLETIME seconds (LRU idle time to set).
    pub idletime: Option<u64>,
    /// FREQ (LFU counter), applied under an LFU `maxmemory-policy` as in Redis.
    pub freq: Option<u8>,
}

/// Parses RESTORE's options (everything after the payload), with Redis's errors.
pub fn parse_restore_options(args: &[Bytes]) -> Result<RestoreOptions> {
    let mut o = RestoreOptions::default();
    let mut it = Args::new(args, 0);
    while let Some(a) = it.next() {
        if is(a, "replace") {
            o.replace = true;
        } else if is(a, "absttl") {
            o.absttl = true;
        } else if is(a, "idletime") && it.remaining() >= 1 && o.freq.is_none() {
            let n = int(it.value()?)?;
            if n < 0 {
                return Err(error::INVALID_IDLETIME);
            }
            o.idletime = Some(n as u64);
        } else if is(a, "freq") && it.remaining() >= 1 && o.idletime.is_none() {
            let n = int(it.value()?)?;
            if !(0..=255).contains(&n) {
                return Err(error::INVALID_FREQ);
            }
            o.freq = Some(n as u8);
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok(o)
}

/// RESTORE: creates `key` from a DUMP payload. `ttl_ms` 0 means no expiry; otherwise it is
/// relative, or absolute with ABSTTL. A TTL already in the past leaves no key (and deletes
/// the old one under REPLACE), replying OK, as Redis does.
pub fn restore_exec(
    a: &mut Access<'_>,
    key: &[u8],
    ttl_ms: i64,
    payload: &[u8],
    opts: RestoreOptions,
    zlimits: &crate::types::zset::Limits,
) -> Result<()> {
    if !opts.replace && a.get_mut(key).is_some() {
        return Err(error::BUSYKEY);
    }
    if ttl_ms < 0 {
        return Err(error::INVALID_TTL);
    }
    let body = dump::verify(payload).ok_or(error::DUMP_PAYLOAD)?;
    let hasher = super::aggregate::member_hasher(a);
    let value = dump::restore_value(body, hasher, zlimits).map_err(|_| error::BAD_DATA_FORMAT)?;
    let deleted = opts.replace && a.remove(key).is_some();
    let now = a.now_ms() as i64;
    let expire = match ttl_ms {
        0 => None,
        t if opts.absttl => Some(t),
        t => Some(t.saturating_add(now)),
    };
    if let Some(at) = expire {
        if at <= now {
            if deleted {
                a.touched(key);
                a.notify(Event::Del, key);
            }
            return Ok(());
        }
    }
    let db = a.db;
    a.set_in(db, key, value, expire.map(|t| t as u64));
    // Redis's objectSetLRUOrLFU: FREQ counts under an LFU policy, IDLETIME under the others.
    let now = a.now_ms();
    let meta = if a.keyspace().lfu() {
        opts.freq
            .map(|f| crate::keyspace::evict::lfu_with_freq(now, f))
    } else {
        opts.idletime
            .map(|idle| crate::keyspace::evict::lru_with_idle(now, idle))
    };
    if let Some(meta) = meta {
        if let Some(e) = a.get_mut(key) {
            e.set_meta(meta);
        }
    }
    a.touched(key);
    a.notify(Event::Restore, key);
    Ok(())
}

fn restore(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let opts = parse_restore_options(&args[4..])?;
    let key = &args[1];
    let zlimits = super::zset::limits(ctx.engine());
    ctx.key(key, |a| {
        // Redis's order: an existing key is reported before a bad TTL.
        if !opts.replace && a.get_mut(key).is_some() {
            return Err(error::BUSYKEY);
        }
        let ttl = int(&args[2])?;
        restore_exec(a, key, ttl, &args[3], opts, &zlimits)
    })?;
    Ok(Reply::Ok)
}
