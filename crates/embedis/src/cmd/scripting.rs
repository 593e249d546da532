//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT ..., FUNCTION ..., FCALL,
//! FCALL_RO. The engine side is [`crate::script`].

use bytes::Bytes;

use super::args::is;
use super::flags::*;
use super::transactions::atomic_block;
use super::{CommandSpec, Ctx};
use crate::error::{self, Error, Result};
use crate::reply::Reply;
use crate::script::{self, Call, Source};

const EVAL_FLAGS: u32 = NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | MOVABLE_KEYS;

/// The scripting family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("eval", -3, EVAL_FLAGS, eval),
    CommandSpec::new("eval_ro", -3, READONLY | EVAL_FLAGS, eval_ro),
    CommandSpec::new("evalsha", -3, EVAL_FLAGS, evalsha),
    CommandSpec::new("evalsha_ro", -3, READONLY | EVAL_FLAGS, evalsha_ro),
    CommandSpec::new("fcall", -3, EVAL_FLAGS, fcall),
    CommandSpec::new("fcall_ro", -3, READONLY | EVAL_FLAGS, fcall_ro),
    CommandSpec::new("function", -2, 0, function).subs(FUNCTION_SUBCOMMANDS),
    CommandSpec::new("script", -2, 0, script_cmd).subs(SCRIPT_SUBCOMMANDS),
];

const SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("debug", 3, NOSCRIPT, script_debug),
    CommandSpec::new("exists", -3, NOSCRIPT, script_exists),
    CommandSpec::new("flush", -2, NOSCRIPT, script_flush),
    CommandSpec::new("help", 2, LOADING | STALE, script_help),
    CommandSpec::new("kill", 2, NOSCRIPT | ALLOW_BUSY, script_kill),
    CommandSpec::new("load", 3, NOSCRIPT | STALE, script_load),
];

const FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("delete", 3, WRITE | NOSCRIPT, function_delete),
    CommandSpec::new("dump", 2, NOSCRIPT, function_dump),
    CommandSpec::new("flush", -2, WRITE | NOSCRIPT, function_flush),
    CommandSpec::new("help", 2, LOADING | STALE, function_help),
    CommandSpec::new("kill", 2, NOSCRIPT | ALLOW_BUSY, function_kill),
    CommandSpec::new("list", -2, NOSCRIPT, function_list),
    CommandSpec::new("load", -3, WRITE | DENYOOM | NOSCRIPT, function_load),
    CommandSpec::new("restore", -3, WRITE | DENYOOM | NOSCRIPT, function_restore),
    CommandSpec::new("stats", 2, NOSCRIPT | ALLOW_BUSY, function_stats),
];

// ---------------------------------------------------------------------------------------
// EVAL family

fn eval_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &[Bytes],
    by_sha: bool,
    read_only: bool,
) -> Result<Reply> {
    let oom = oom_state(ctx, args)?;
    if by_sha && args[1].len() != 40 {
        return Err(error::NOSCRIPT);
    }
    let (keys, argv) = script::split_keys(&args[2], &args[3..], Error::NotInteger)?;
    let call = Call {
        keys,
        args: argv,
        read_only,
        command: args,
        oom,
    };
    let source = if by_sha {
        Source::Sha(&args[1])
    } else {
        Source::Body(&args[1])
    };
    let engine = ctx.engine;
    let db = ctx.db();
    Ok(atomic_block(engine, ctx.held.as_deref_mut(), db, |a| {
        script::eval_exec(engine, a, source, &call)
    }))
}

fn eval(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    eval_generic(ctx, args, false, false)
}

fn eval_ro(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    eval_generic(ctx, args, false, true)
}

fn evalsha(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    eval_generic(ctx, args, true, false)
}

fn evalsha_ro(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    eval_generic(ctx, args, true, true)
}

// ---------------------------------------------------------------------------------------
// FCALL

/// Redis's OOM rules for a script command (see [`script::oom_check`]). Inside EXEC, memory is
/// checked again when the script starts (a CONFIG SET earlier in the transaction counts, as in
/// Redis 7.0), and a script that declared flags without `allow-oom`/`no-writes` is refused by
/// [`script::eval_exec`] then.
fn oom_state(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<bool> {
    if let Some(held) = ctx.held.as_deref_mut() {
        return Ok(ctx.engine.check_maxmemory(Some(held), true).is_err());
    }
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    script::oom_check(ctx.engine, &name, args)
}

fn fcall_generic(ctx: &mut Ctx<'_, '_>, args: &[Bytes], read_only: bool) -> Result<Reply> {
    let oom = oom_state(ctx, args)?;
    let engine = ctx.engine;
    // Redis looks the function up before reading the number of keys.
    if !function_exists(engine, &args[1]) {
        return Err(error::FUNCTION_NOT_FOUND);
    }
    let (keys, argv) = script::split_keys(&args[2], &args[3..], error::BAD_NUMBER_OF_KEYS)?;
    let call = Call {
        keys,
        args: argv,
        read_only,
        command: args,
        oom,
    };
    let db = ctx.db();
    let name = &args[1];
    Ok(atomic_block(engine, ctx.held.as_deref_mut(), db, |a| {
        script::fcall_exec(engine, a, name, &call)
    }))
}

fn function_exists(engine: &crate::db::Engine, name: &[u8]) -> bool {
    script::function_exists_exec(engine, name)
}

fn fcall(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    fcall_generic(ctx, args, false)
}

fn fcall_ro(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    fcall_generic(ctx, args, true)
}

// ---------------------------------------------------------------------------------------
// SCRIPT

fn script_cmd(_ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    // The table resolves every subcommand; this row only answers names it does not know.
    Err(Error::unknown_subcommand("script", &args[1]))
}

fn script_load(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let sha = script::script_load_exec(ctx.engine, &args[2])?;
    Ok(Reply::Bulk(Bytes::from(sha)))
}

fn script_exists(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let found = script::script_exists_exec(ctx.engine, &args[2..]);
    Ok(Reply::Array(
        found.into_iter().map(|b| Reply::Int(b as i64)).collect(),
    ))
}

fn script_flush(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    // SYNC and ASYNC both free everything at once (there is no lazy-free thread for scripts).
    let ok =
        args.len() == 2 || (args.len() == 3 && (is(&args[2], "sync") || is(&args[2], "async")));
    if !ok {
        return Err(error::SCRIPT_FLUSH_OPTION);
    }
    script::script_flush_exec(ctx.engine);
    Ok(Reply::Ok)
}

fn script_kill(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    ctx.engine.scripting.kill(true)?;
    Ok(Reply::Ok)
}

fn script_debug(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    if ctx.held.is_some() {
        // Inside EXEC Redis has replies pending for the client.
        return Err(error::SCRIPT_DEBUG_PIPELINE);
    }
    let mode = &args[2];
    if is(mode, "no") {
        Ok(Reply::Ok)
    } else if is(mode, "yes") || is(mode, "sync") {
        Err(error::SCRIPT_DEBUG_UNSUPPORTED)
    } else {
        Err(error::SCRIPT_DEBUG_MODE)
    }
}

const SCRIPT_HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];

fn script_help(_ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Array(
        SCRIPT_HELP.iter().map(|l| Reply::status(l)).collect(),
    ))
}

// ---------------------------------------------------------------------------------------
// FUNCTION

fn function(_ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    Err(Error::unknown_subcommand("function", &args[1]))
}

fn function_load(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let mut replace = false;
    let mut pos = 2;
    while pos < args.len() - 1 {
        if is(&args[pos], "replace") {
            replace = true;
            pos += 1;
            continue;
        }
        return Err(Error::err_msg(format_args!(
            "Unknown option given: {}",
            String::from_utf8_lossy(&args[pos])
        )));
    }
    if pos >= args.len() {
        return Err(error::FUNCTION_CODE_MISSING);
    }
    let name = script::function_load_exec(ctx.engine, &args[pos], replace)?;
    ctx.engine.stats.dirty.inc();
    Ok(Reply::Bulk(Bytes::from(name)))
}

fn function_delete(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    script::function_delete_exec(ctx.engine, &args[2])?;
    ctx.engine.stats.dirty.inc();
    Ok(Reply::Ok)
}

fn function_flush(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    if args.len() > 3 {
        return Err(Error::err_msg(format_args!(
            "unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
            String::from_utf8_lossy(&args[1])
        )));
    }
    if args.len() == 3 && !is(&args[2], "sync") && !is(&args[2], "async") {
        return Err(error::FUNCTION_FLUSH_OPTION);
    }
    script::function_flush_exec(ctx.engine);
    ctx.engine.stats.dirty.inc();
    Ok(Reply::Ok)
}

fn function_list(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if !with_code && is(a, "withcode") {
            with_code = true;
            i += 1;
            continue;
        }
        if pattern.is_none() && is(a, "libraryname") {
            if i >= args.len() - 1 {
                return Err(error::LIBRARYNAME_ARG_MISSING);
            }
            pattern = Some(&args[i + 1]);
            i += 2;
            continue;
        }
        return Err(Error::err_msg(format_args!(
            "Unknown argument {}",
            String::from_utf8_lossy(a)
        )));
    }
    let libs = script::function_list_exec(ctx.engine, pattern);
    Ok(Reply::Array(
        libs.into_iter()
            .map(|l| {
                let functions = l
                    .functions
                    .into_iter()
                    .map(|(name, desc, flags)| {
                        Reply::Map(vec![
                            (Reply::bulk("name"), Reply::Bulk(Bytes::from(name))),
                            (Reply::bulk("description"), Reply::from(desc)),
                            (
                                Reply::bulk("flags"),
                                Reply::Set(flags.into_iter().map(Reply::status).collect()),
                            ),
                        ])
                    })
                    .collect();
                let mut fields = vec![
                    (
                        Reply::bulk("library_name"),
                        Reply::Bulk(Bytes::from(l.name)),
                    ),
                    (Reply::bulk("engine"), Reply::bulk("LUA")),
                    (Reply::bulk("functions"), Reply::Array(functions)),
                ];
                if with_code {
                    fields.push((Reply::bulk("library_code"), Reply::Bulk(l.code)));
                }
                Reply::Map(fields)
            })
            .collect(),
    ))
}

fn function_stats(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    let stats = script::function_stats_exec(ctx.engine)?;
    let running = match stats.running {
        None => Reply::Nil,
        Some((name, command, ms)) => Reply::Map(vec![
            (Reply::bulk("name"), Reply::Bulk(Bytes::from(name))),
            (
                Reply::bulk("command"),
                Reply::Array(command.into_iter().map(Reply::Bulk).collect()),
            ),
            (Reply::bulk("duration_ms"), Reply::Int(ms as i64)),
        ]),
    };
    Ok(Reply::Map(vec![
        (Reply::bulk("running_script"), running),
        (
            Reply::bulk("engines"),
            Reply::Map(vec![(
                Reply::bulk("LUA"),
                Reply::Map(vec![
                    (
                        Reply::bulk("libraries_count"),
                        Reply::Int(stats.libraries as i64),
                    ),
                    (
                        Reply::bulk("functions_count"),
                        Reply::Int(stats.functions as i64),
                    ),
                ]),
            )]),
        ),
    ]))
}

fn function_kill(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    ctx.engine.scripting.kill(false)?;
    Ok(Reply::Ok)
}

fn function_dump(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Bulk(Bytes::from(script::function_dump_exec(
        ctx.engine,
    ))))
}

fn function_restore(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    if args.len() > 4 {
        return Err(Error::err_msg(format_args!(
            "unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
            String::from_utf8_lossy(&args[1])
        )));
    }
    let policy = match args.get(3) {
        None => script::RestorePolicy::Append,
        Some(p) if is(p, "append") => script::RestorePolicy::Append,
        Some(p) if is(p, "replace") => script::RestorePolicy::Replace,
        Some(p) if is(p, "flush") => script::RestorePolicy::Flush,
        Some(_) => return Err(error::RESTORE_POLICY_INVALID),
    };
    script::function_restore_exec(ctx.engine, &args[2], policy)?;
    ctx.engine.stats.dirty.inc();
    Ok(Reply::Ok)
}

const FUNCTION_HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];

fn function_help(_ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Array(
        FUNCTION_HELP.iter().map(|l| Reply::status(l)).collect(),
    ))
}
