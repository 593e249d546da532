//! CONFIG GET / SET / RESETSTAT / HELP over the parameter table in [`crate::config`].

use bytes::Bytes;

use super::command_cmd::help_reply;
use crate::cmd::Ctx;
use crate::config::{self, ConfigError};
use crate::db::Engine;
use crate::error::{Error, Result};
use crate::glob::matches as glob_match;
use crate::reply::Reply;

const HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

/// The `(name, value)` pairs CONFIG GET replies with for `patterns`, in Redis 7.0's way: a
/// name without glob characters is looked up directly (and reported as typed), a pattern is
/// matched case-insensitively against every name and alias (an alias is its own entry, as in
/// Redis 7.0); each name appears once.
pub fn config_get_exec(engine: &Engine, patterns: &[impl AsRef<[u8]>]) -> Vec<(String, String)> {
    let values = engine.config.get();
    let mut out: Vec<(String, &config::Param)> = Vec::new();
    let seen = |out: &[(String, &config::Param)], name: &str| {
        out.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    for pattern in patterns {
        let pattern = pattern.as_ref();
        if !pattern.iter().any(|c| matches!(c, b'[' | b'*' | b'?')) {
            let name = String::from_utf8_lossy(pattern).into_owned();
            if seen(&out, &name) {
                continue;
            }
            if let Some((param, _)) = config::lookup(pattern) {
                out.push((name, param));
            }
            continue;
        }
        for (name, param) in config::names() {
            if seen(&out, name) {
                continue;
            }
            if glob_match(pattern, name.as_bytes(), true) {
                out.push((name.to_string(), param));
            }
        }
    }
    out.into_iter()
        .map(|(name, param)| {
            let v = (param.get)(&values);
            (name, v)
        })
        .collect()
}

/// CONFIG SET of several parameters, all or none, then what the engine derives from them
/// (AUTH requirement, slow log thresholds, keyspace notifications, pub/sub output limit).
pub fn config_set_exec(engine: &Engine, pairs: &[(&[u8], &[u8])]) -> Result<(), ConfigError> {
    config_set_exec_as(engine, pairs, true)
}

/// [`config_set_exec`] for a client that is `local` or not (`enable-protected-configs
/// local`). Persistence changes take effect through [`crate::persist::reconfigure`]; if it
/// refuses them, every parameter of this CONFIG SET goes back to its old value, as in Redis.
pub fn config_set_exec_as(
    engine: &Engine,
    pairs: &[(&[u8], &[u8])],
    local: bool,
) -> Result<(), ConfigError> {
    let _serial = engine.persist.reconfig_lock();
    let before = engine.config.get();
    engine.config.set_many_as(pairs, local)?;
    let after = engine.config.read(|c| c.persist.clone());
    if after != before.persist {
        if let Err(e) = crate::persist::reconfigure(engine, &before.persist, &after) {
            engine.config.update(|c| *c = before);
            return Err(e);
        }
    }
    apply(engine);
    Ok(())
}

/// Whether a client counts as local for `enable-protected-configs local`: in-process, or
/// connected from 127.0.0.1 or ::1 (Redis's `islocalClient`; embedis has no unix socket).
fn is_local(client: &crate::db::ClientState) -> bool {
    let Some(conn) = client.conn.as_ref() else {
        return true;
    };
    match conn.addr.parse::<std::net::SocketAddr>() {
        Ok(a) => match a.ip() {
            std::net::IpAddr::V4(ip) => ip == std::net::Ipv4Addr::LOCALHOST,
            std::net::IpAddr::V6(ip) => ip == std::net::Ipv6Addr::LOCALHOST,
        },
        Err(_) => false,
    }
}

/// Brings the engine's derived state in line with its configuration.
pub fn apply(engine: &Engine) {
    engine.config.read(|c| {
        engine.auth_required.store(
            c.requirepass.is_some(),
            std::sync::atomic::Ordering::Relaxed,
        );
        engine.slowlog.configure(c);
        let pubsub = engine.pubsub();
        pubsub.set_notify_classes(c.notify_flags());
        pubsub.set_output_limit(c.client_output_buffer_limit[config::OUTPUT_LIMIT_PUBSUB]);
    });
    engine.apply_memory_config();
}

/// CONFIG RESETSTAT: INFO's counters, per-command and per-error statistics.
pub fn config_resetstat_exec(engine: &Engine) {
    engine.stats.reset();
    engine.pubsub().limit_disconnections.reset();
    for s in engine.command_stats.iter() {
        s.calls.reset();
        s.usec.reset();
        s.rejected_calls.reset();
        s.failed_calls.reset();
    }
}

pub(super) fn get(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let found = config_get_exec(ctx.engine(), &args[2..]);
    Ok(Reply::Map(
        found
            .into_iter()
            .map(|(k, v)| (Reply::bulk(k), Reply::bulk(v)))
            .collect(),
    ))
}

pub(super) fn set(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    if args.len() % 2 == 1 {
        return Err(Error::Syntax);
    }
    let pairs: Vec<(&[u8], &[u8])> = args[2..]
        .chunks_exact(2)
        .map(|p| (&p[0][..], &p[1][..]))
        .collect();
    let local = is_local(ctx.client);
    config_set_exec_as(ctx.engine(), &pairs, local).map_err(|e| Error::config(&e))?;
    Ok(Reply::Ok)
}

pub(super) fn resetstat(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    config_resetstat_exec(ctx.engine());
    Ok(Reply::Ok)
}

pub(super) fn help(_ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(help_reply(HELP))
}
