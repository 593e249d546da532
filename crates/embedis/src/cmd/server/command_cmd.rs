//! COMMAND and its subcommands: what this server implements, described exactly as Redis 7.0
//! describes the same commands (see [`super::command_data`]).

use std::borrow::Cow;

use bytes::Bytes;

use super::command_data;
use super::getkeys;
use crate::cmd::args::is;
use crate::cmd::flags::{self, MAY_REPLICATE, NO_MANDATORY_KEYS, SENTINEL};
use crate::cmd::{CommandRef, Ctx, table};
use crate::error::{self, Error, Result};
use crate::glob::matches as glob_match;
use crate::reply::Reply;

/// Flags Redis keeps out of COMMAND INFO.
const HIDDEN_FLAGS: u32 = MAY_REPLICATE | SENTINEL;

const HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

/// The lines of a HELP reply as status strings, like Redis's `addReplyHelp`.
pub(super) fn help_reply(lines: &[&'static str]) -> Reply {
    Reply::Array(lines.iter().map(|l| Reply::status(l)).collect())
}

fn status_set<'a>(names: impl Iterator<Item = &'a str>) -> Reply {
    Reply::Set(
        names
            .map(|n| Reply::Status(Cow::Owned(n.to_string())))
            .collect(),
    )
}

/// A command's COMMAND INFO entry: arity, flags and key positions from our table, the rest
/// from Redis's data; subcommands are the ones we implement.
pub fn info_reply(cmd: CommandRef) -> Reply {
    let spec = cmd.spec;
    let data = command_data::lookup(cmd.full_name);
    let flag_names = flags::NAMES
        .iter()
        .filter(|(bit, _)| spec.flags & bit & !HIDDEN_FLAGS != 0)
        .map(|(_, n)| *n);
    let subs = spec
        .subcommands
        .iter()
        .filter_map(|s| table().get_sub(spec.name, s.name.as_bytes()))
        .map(info_reply)
        .collect();
    Reply::Array(vec![
        Reply::bulk(cmd.full_name),
        Reply::Int(spec.arity as i64),
        status_set(flag_names),
        Reply::Int(spec.first_key as i64),
        Reply::Int(spec.last_key as i64),
        Reply::Int(spec.step as i64),
        data.map_or(Reply::Set(Vec::new()), |d| d.acl_categories.clone()),
        data.map_or(Reply::Set(Vec::new()), |d| d.tips.clone()),
        data.map_or(Reply::Set(Vec::new()), |d| d.key_specs_reply.clone()),
        // Redis sends an empty set for a command without subcommands, else an array.
        if spec.subcommands.is_empty() {
            Reply::Set(Vec::new())
        } else {
            Reply::Array(subs)
        },
    ])
}

/// A command's COMMAND DOCS map: Redis's docs, with only the subcommands we implement.
pub fn docs_reply(cmd: CommandRef) -> Reply {
    let spec = cmd.spec;
    let Some(Reply::Map(pairs)) = command_data::lookup(cmd.full_name).map(|d| d.docs) else {
        // A command of our own: the fields clients expect, empty.
        return Reply::Map(
            ["summary", "since", "group", "complexity"]
                .iter()
                .map(|k| {
                    (
                        Reply::bulk(k),
                        Reply::bulk(if *k == "group" { "server" } else { "" }),
                    )
                })
                .collect(),
        );
    };
    let mut out = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        if matches!(k, Reply::Bulk(b) if b.as_ref() == b"subcommands") {
            if spec.subcommands.is_empty() {
                continue;
            }
            let subs = spec
                .subcommands
                .iter()
                .filter_map(|s| table().get_sub(spec.name, s.name.as_bytes()))
                .map(|r| (Reply::bulk(r.full_name), docs_reply(r)))
                .collect();
            out.push((k.clone(), Reply::Map(subs)));
        } else {
            out.push((k.clone(), v.clone()));
        }
    }
    Reply::Map(out)
}

/// Finds a command by `name` or `container|sub`, case-insensitively (Redis's
/// `lookupCommandBySds`).
pub fn lookup_by_name(name: &[u8]) -> Option<CommandRef> {
    let t = table();
    let mut parts = name.split(|&c| c == b'|');
    let base = t.get(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(base),
        (Some(sub), None) if !base.spec.subcommands.is_empty() => t.get_sub(base.spec.name, sub),
        _ => None,
    }
}

/// COMMAND alone: every command's info.
pub(super) fn command(_ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(all_info())
}

fn all_info() -> Reply {
    Reply::Array(table().commands().map(|c| info_reply(*c)).collect())
}

pub(super) fn count(_ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Int(table().commands().count() as i64))
}

pub(super) fn info(_ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    if args.len() == 2 {
        return Ok(all_info());
    }
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|n| lookup_by_name(n).map_or(Reply::Nil, info_reply))
            .collect(),
    ))
}

pub(super) fn docs(_ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let cmds: Vec<CommandRef> = if args.len() == 2 {
        table().commands().copied().collect()
    } else {
        args[2..].iter().filter_map(|n| lookup_by_name(n)).collect()
    };
    Ok(Reply::Map(
        cmds.into_iter()
            .map(|c| (Reply::bulk(c.full_name), docs_reply(c)))
            .collect(),
    ))
}

/// What COMMAND LIST keeps.
enum ListFilter<'a> {
    All,
    Module,
    AclCategory(&'a [u8]),
    Pattern(&'a [u8]),
}

pub(super) fn list(_ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let mut filter = ListFilter::All;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(&args[i], "filterby") && more == 2 {
            let value = &args[i + 2][..];
            filter = match &args[i + 1] {
                t if is(t, "module") => ListFilter::Module,
                t if is(t, "aclcat") => ListFilter::AclCategory(value),
                t if is(t, "pattern") => ListFilter::Pattern(value),
                _ => return Err(Error::Syntax),
            };
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    let names = table()
        .all()
        .iter()
        .filter(|c| match filter {
            ListFilter::All => true,
            // No modules can be loaded.
            ListFilter::Module => false,
            ListFilter::AclCategory(cat) => in_acl_category(c.full_name, cat),
            ListFilter::Pattern(p) => glob_match(p, c.full_name.as_bytes(), true),
        })
        .map(|c| Reply::bulk(c.full_name))
        .collect();
    Ok(Reply::Array(names))
}

fn in_acl_category(full_name: &str, cat: &[u8]) -> bool {
    let Some(d) = command_data::lookup(full_name) else {
        return false;
    };
    let Reply::Set(cats) = d.acl_categories else {
        return false;
    };
    cats.iter().any(|c| {
        command_data::text(c).is_some_and(|name| {
            name.strip_prefix('@')
                .is_some_and(|n| n.as_bytes().eq_ignore_ascii_case(cat))
        })
    })
}

pub(super) fn getkeys(_ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Array(
        keys_of(&args[2..])?
            .into_iter()
            .map(|k| Reply::Bulk(args[2 + k.pos].clone()))
            .collect(),
    ))
}

pub(super) fn getkeysandflags(_ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Array(
        keys_of(&args[2..])?
            .into_iter()
            .map(|k| {
                Reply::Array(vec![
                    Reply::Bulk(args[2 + k.pos].clone()),
                    status_set(k.flags.iter().copied()),
                ])
            })
            .collect(),
    ))
}

/// The keys of the command in `cmd_args`, with Redis's GETKEYS checks in its order.
fn keys_of(cmd_args: &[Bytes]) -> Result<Vec<getkeys::KeyRef>> {
    let t = table();
    let base = t.get(&cmd_args[0]).ok_or(error::GETKEYS_UNKNOWN_COMMAND)?;
    let cmd = if cmd_args.len() >= 2 && !base.spec.subcommands.is_empty() {
        t.get_sub(base.spec.name, &cmd_args[1])
            .ok_or(error::GETKEYS_UNKNOWN_COMMAND)?
    } else {
        base
    };
    if !getkeys::has_keys(cmd) {
        return Err(error::GETKEYS_NO_KEYS);
    }
    if !cmd.spec.arity_ok(cmd_args.len()) {
        return Err(error::GETKEYS_ARITY);
    }
    let keys = getkeys::command_keys(cmd, cmd_args);
    if keys.is_empty() && !cmd.spec.has(NO_MANDATORY_KEYS) {
        return Err(error::GETKEYS_INVALID);
    }
    Ok(keys)
}

pub(super) fn help(_ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(help_reply(HELP))
}
