//! Pub/sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB.
//!
//! The (un)subscribe commands reply with one push per channel, queued on the client's push
//! queue in order with its messages (see [`crate::pubsub::client`]), and return
//! [`Reply::Pushed`]. In RESP2 a client with subscriptions may only run the commands of
//! [`allowed_when_subscribed`]; the dispatcher enforces that.

use bytes::Bytes;

use super::flags::*;
use super::{CommandRef, CommandSpec, Ctx};
use crate::error::{self, Error, Result};
use crate::pubsub::client::Kind;
use crate::reply::Reply;

/// The pub/sub family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "subscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        subscribe,
    ),
    CommandSpec::new(
        "unsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        unsubscribe,
    ),
    CommandSpec::new(
        "psubscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        psubscribe,
    ),
    CommandSpec::new(
        "punsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        punsubscribe,
    ),
    CommandSpec::new(
        "ssubscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        ssubscribe,
    )
    .keys(1, -1, 1),
    CommandSpec::new(
        "sunsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        sunsubscribe,
    )
    .keys(1, -1, 1),
    CommandSpec::new("publish", 3, PUBSUB | LOADING | STALE | FAST, publish),
    CommandSpec::new("spublish", 3, PUBSUB | LOADING | STALE | FAST, spublish).keys(1, 1, 1),
    CommandSpec::new("pubsub", -2, 0, no_subcommand).subs(&[
        CommandSpec::new("channels", -2, PUBSUB | LOADING | STALE, channels),
        CommandSpec::new("help", 2, LOADING | STALE, help),
        CommandSpec::new("numpat", 2, PUBSUB | LOADING | STALE, numpat),
        CommandSpec::new("numsub", -2, PUBSUB | LOADING | STALE, numsub),
        CommandSpec::new("shardchannels", -2, PUBSUB | LOADING | STALE, shardchannels),
        CommandSpec::new("shardnumsub", -2, PUBSUB | LOADING | STALE, shardnumsub),
    ]),
];

/// Whether a RESP2 client with subscriptions may run `cmd`: only (P|S)SUBSCRIBE,
/// (P|S)UNSUBSCRIBE, PING, QUIT and RESET, as in Redis 7.0.
pub fn allowed_when_subscribed(cmd: CommandRef) -> bool {
    matches!(
        cmd.full_name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

fn no_subcommand(_ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    Err(Error::wrong_arity(&String::from_utf8_lossy(&args[0])))
}

fn sub(ctx: &mut Ctx<'_, '_>, kind: Kind, names: &[Bytes], subscribe: bool) -> Result<Reply> {
    let now = ctx.now_ms();
    let engine = ctx.engine;
    let in_exec = ctx.held.is_some();
    let state = ctx.client.pubsub(engine);
    if in_exec {
        // Inside MULTI/EXEC the replies belong to EXEC's reply. Redis writes one frame per
        // channel there, so that EXEC's array holds more frames than its length says when
        // there are several; `Reply::Frames` writes them the same way.
        state.collect_replies();
    }
    if subscribe {
        state.subscribe(kind, names, now);
    } else {
        state.unsubscribe(kind, names, now);
    }
    if in_exec {
        let mut replies = state.take_replies();
        return Ok(match replies.len() {
            1 => replies.remove(0),
            _ => Reply::Frames(replies),
        });
    }
    Ok(Reply::Pushed)
}

fn subscribe(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    sub(ctx, Kind::Channel, &args[1..], true)
}

fn unsubscribe(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    sub(ctx, Kind::Channel, &args[1..], false)
}

fn psubscribe(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    sub(ctx, Kind::Pattern, &args[1..], true)
}

fn punsubscribe(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    sub(ctx, Kind::Pattern, &args[1..], false)
}

fn ssubscribe(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    // EXEC runs its commands as a client that may not block, and SSUBSCRIBE (unlike its older
    // siblings) refuses such clients.
    if ctx.held.is_some() {
        return Err(error::SSUBSCRIBE_DENY_BLOCKING);
    }
    sub(ctx, Kind::Shard, &args[1..], true)
}

fn sunsubscribe(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    sub(ctx, Kind::Shard, &args[1..], false)
}

fn publish(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let now = ctx.now_ms();
    let n = ctx.engine.pubsub().publish(&args[1], &args[2], now);
    Ok(Reply::Int(n as i64))
}

fn spublish(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let now = ctx.now_ms();
    let n = ctx.engine.pubsub().spublish(&args[1], &args[2], now);
    Ok(Reply::Int(n as i64))
}

/// `[pattern]` of PUBSUB CHANNELS / SHARDCHANNELS.
fn pattern_arg(args: &[Bytes]) -> Result<Option<&[u8]>> {
    match args.len() {
        2 => Ok(None),
        3 => Ok(Some(&args[2])),
        _ => Err(Error::subcommand_syntax(&args[0], &args[1])),
    }
}

fn channels(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let pattern = pattern_arg(args)?;
    let list = ctx.engine.pubsub().channels(pattern);
    Ok(Reply::Array(list.into_iter().map(Reply::Bulk).collect()))
}

fn shardchannels(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let pattern = pattern_arg(args)?;
    let list = ctx.engine.pubsub().shard_channels(pattern);
    Ok(Reply::Array(list.into_iter().map(Reply::Bulk).collect()))
}

fn numsub(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let broker = ctx.engine.pubsub();
    let mut out = Vec::with_capacity((args.len() - 2) * 2);
    for ch in &args[2..] {
        out.push(Reply::Bulk(ch.clone()));
        out.push(Reply::Int(broker.numsub(ch) as i64));
    }
    // Redis 7.0 sends a flat array, not a map, in RESP3 too.
    Ok(Reply::Array(out))
}

fn shardnumsub(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let broker = ctx.engine.pubsub();
    let mut out = Vec::with_capacity((args.len() - 2) * 2);
    for ch in &args[2..] {
        out.push(Reply::Bulk(ch.clone()));
        out.push(Reply::Int(broker.shard_numsub(ch) as i64));
    }
    Ok(Reply::Array(out))
}

fn numpat(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Int(ctx.engine.pubsub().numpat() as i64))
}

const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

fn help(_ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Array(
        HELP.iter().map(|l| Reply::status(l)).collect(),
    ))
}

#[cfg(test)]
mod tests;
