//! Connection commands: PING, ECHO, SELECT, QUIT, AUTH, HELLO, RESET and CLIENT.
//!
//! Replies follow Redis 7.0.15, including HELLO's map (`server` is `redis` and `version` is
//! [`crate::REDIS_VERSION`]: client libraries parse both to pick features, so they describe the
//! Redis we behave like, not this crate).
//!
//! The only user is `default` (no ACL): its password is `requirepass`, and without one it
//! accepts any password, as in Redis.
//!
//! `CLIENT SETINFO` is a Redis 7.2 command. Redis 7.0 answers it with its unknown-subcommand
//! error, and so do we: the clients that send it during their handshake (redis-py 5, go-redis
//! 9, node-redis 4.7...) ignore that error, because they were written to work with 7.0 too.
//!
//! What the server needs to act on (close after QUIT or a self-kill, CLIENT REPLY) is left in
//! [`ClientState`](crate::ClientState) for it to read; handlers never touch a socket.

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx, args};
use crate::clients::{ClientConn, ClientMeta};
use crate::db::{ClientState, ReplyMode};
use crate::error::{self, Error, Result};
use crate::reply::Reply;

/// The connection family's rows.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, FAST, ping),
    CommandSpec::new("echo", 2, LOADING | STALE | FAST, echo),
    CommandSpec::new("select", 2, LOADING | STALE | FAST, select),
    CommandSpec::new("auth", -2, HANDSHAKE, auth),
    CommandSpec::new("hello", -1, HANDSHAKE, hello),
    CommandSpec::new("reset", 1, HANDSHAKE, reset),
    CommandSpec::new("quit", -1, HANDSHAKE, quit),
    CommandSpec::new("client", -2, 0, container).subs(CLIENT_SUBCOMMANDS),
];

/// Flags of the commands a client may send before authenticating.
const HANDSHAKE: u32 = NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY;

const CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("id", 2, NOSCRIPT | LOADING | STALE, client_id),
    CommandSpec::new("getname", 2, NOSCRIPT | LOADING | STALE, client_getname),
    CommandSpec::new("setname", 3, NOSCRIPT | LOADING | STALE, client_setname),
    CommandSpec::new("info", 2, NOSCRIPT | LOADING | STALE, client_info),
    CommandSpec::new("list", -2, ADMIN | NOSCRIPT | LOADING | STALE, client_list),
    CommandSpec::new("kill", -3, ADMIN | NOSCRIPT | LOADING | STALE, client_kill),
    CommandSpec::new("reply", 3, NOSCRIPT | LOADING | STALE, client_reply),
    CommandSpec::new("help", 2, LOADING | STALE, client_help),
];

/// Never called: the table resolves CLIENT's subcommands and reports unknown ones itself.
fn container(_ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    Err(Error::unknown_subcommand(
        "client",
        args.get(1).map_or(&b""[..], |a| a),
    ))
}

fn ping(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    if ctx.client.resp == 2 && ctx.client.is_subscribed() {
        // In RESP2 pub/sub mode PING answers in the shape of a message, as Redis does.
        if args.len() > 2 {
            return Err(Error::wrong_arity("ping"));
        }
        let payload = args.get(1).cloned().unwrap_or_default();
        return Ok(Reply::Array(vec![
            Reply::Bulk(Bytes::from_static(b"pong")),
            Reply::Bulk(payload),
        ]));
    }
    match args.len() {
        1 => Ok(Reply::status("PONG")),
        2 => Ok(Reply::Bulk(args[1].clone())),
        _ => Err(Error::wrong_arity("ping")),
    }
}

fn echo(_ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Bulk(args[1].clone()))
}

fn select(ctx: &mut Ctx<'_, '_>, a: &[Bytes]) -> Result<Reply> {
    // Redis reads the index as a C int.
    let idx = args::int(&a[1])?;
    let idx = i32::try_from(idx).map_err(|_| error::NOT_INT32)?;
    if idx < 0 || idx as usize >= ctx.engine.keyspace.databases() {
        return Err(Error::DbIndexOutOfRange);
    }
    ctx.client.db = idx as usize;
    Ok(Reply::Ok)
}

/// The default user's password (`requirepass`), if it has one.
fn password(ctx: &Ctx<'_, '_>) -> Option<String> {
    ctx.engine.config.read(|c| c.requirepass.clone())
}

/// Checks `user`/`pass` against the only user, `default`, and marks the client authenticated.
/// A failed attempt leaves an already authenticated client authenticated, as in Redis.
fn authenticate(ctx: &mut Ctx<'_, '_>, user: &[u8], pass: &[u8]) -> Result<()> {
    if user != b"default" {
        return Err(Error::WrongPass);
    }
    if let Some(expected) = password(ctx) {
        if !same_secret(expected.as_bytes(), pass) {
            return Err(Error::WrongPass);
        }
    }
    ctx.client.authenticated = true;
    Ok(())
}

/// Compares without stopping at the first difference, so that timing does not tell how much of
/// a guess was right.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, &x) in a.iter().enumerate() {
        diff |= (x ^ b.get(i).copied().unwrap_or(!x)) as usize;
    }
    diff == 0
}

fn auth(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    if args.len() > 3 {
        return Err(Error::Syntax);
    }
    if args.len() == 2 {
        if password(ctx).is_none() {
            return Err(error::AUTH_NOT_CONFIGURED);
        }
        authenticate(ctx, b"default", &args[1])?;
    } else {
        authenticate(ctx, &args[1], &args[2])?;
    }
    Ok(Reply::Ok)
}

fn hello(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let mut proto = None;
    if let Some(v) = args.get(1) {
        let v = args::int(v).map_err(|_| error::PROTOVER_NOT_INTEGER)?;
        if !(2..=3).contains(&v) {
            return Err(error::NOPROTO);
        }
        proto = Some(v as u8);
    }
    let mut credentials = None;
    let mut name = None;
    let mut j = 2;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = &args[j];
        if args::is(opt, "auth") && more >= 2 {
            credentials = Some((&args[j + 1], &args[j + 2]));
            j += 3;
        } else if args::is(opt, "setname") && more >= 1 {
            name = Some(&args[j + 1]);
            j += 2;
        } else {
            return Err(Error::hello_option(opt));
        }
    }
    if let Some((user, pass)) = credentials {
        authenticate(ctx, user, pass)?;
    }
    if !ctx.client.authenticated {
        return Err(error::HELLO_NOAUTH);
    }
    if let Some(name) = name {
        set_name(ctx.client, name)?;
    }
    if let Some(p) = proto {
        ctx.client.resp = p;
    }
    let field = |k: &'static str, v: Reply| (Reply::Bulk(Bytes::from_static(k.as_bytes())), v);
    let text = |s: &'static str| Reply::Bulk(Bytes::from_static(s.as_bytes()));
    Ok(Reply::Map(vec![
        field("server", text("redis")),
        field("version", text(crate::REDIS_VERSION)),
        field("proto", Reply::Int(ctx.client.resp as i64)),
        field("id", Reply::Int(ctx.client.id as i64)),
        field("mode", text("standalone")),
        field("role", text("master")),
        field("modules", Reply::Array(Vec::new())),
    ]))
}

/// RESET: back to the state of a new connection (database 0, RESP2, no name, default user).
/// A reply being skipped by CLIENT REPLY SKIP stays skipped, as in Redis.
fn reset(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    let authenticated = password(ctx).is_none();
    let c = &mut *ctx.client;
    c.leave_pubsub();
    c.db = 0;
    c.resp = 2;
    c.authenticated = authenticated;
    c.name = None;
    // RESET discards the transaction and unwatches every key (cmd/transactions.rs).
    c.tx.discard();
    if c.reply_mode != ReplyMode::Skipping {
        c.reply_mode = ReplyMode::On;
    }
    Ok(Reply::status("RESET"))
}

fn quit(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    ctx.client.close_after_reply = true;
    Ok(Reply::Ok)
}

fn client_id(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Int(ctx.client.id as i64))
}

fn client_getname(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(ctx.client.name.clone().into())
}

/// Sets (or, with an empty name, clears) the client's name. Names are printable ASCII without
/// spaces, so that CLIENT LIST stays parseable.
fn set_name(client: &mut ClientState, name: &Bytes) -> Result<()> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(error::BAD_CLIENT_NAME);
    }
    client.name = if name.is_empty() {
        None
    } else {
        Some(name.clone())
    };
    Ok(())
}

fn client_setname(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    set_name(ctx.client, &args[2])?;
    Ok(Reply::Ok)
}

fn client_reply(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let mode = &args[2];
    let c = &mut *ctx.client;
    if args::is(mode, "on") {
        c.reply_mode = ReplyMode::On;
    } else if args::is(mode, "off") {
        c.reply_mode = ReplyMode::Off;
    } else if args::is(mode, "skip") {
        if c.reply_mode != ReplyMode::Off {
            c.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        return Err(Error::Syntax);
    }
    // Under OFF and SKIP the server does not send this; in-process callers see +OK.
    Ok(Reply::Ok)
}

/// Client types of CLIENT LIST TYPE and CLIENT KILL TYPE. Only normal and pub/sub clients exist
/// here (no replication), but every Redis type name is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    PubSub,
    Master,
}

fn client_type(name: &[u8]) -> Result<ClientType> {
    if args::is(name, "normal") {
        Ok(ClientType::Normal)
    } else if args::is(name, "slave") || args::is(name, "replica") {
        Ok(ClientType::Replica)
    } else if args::is(name, "pubsub") {
        Ok(ClientType::PubSub)
    } else if args::is(name, "master") {
        Ok(ClientType::Master)
    } else {
        Err(Error::unknown_client_type(name))
    }
}

fn type_of(meta: &ClientMeta) -> ClientType {
    if meta.is_pubsub() {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}

/// What one CLIENT LIST line is made of, gathered under the meta lock.
struct Line<'a> {
    conn: Option<&'a ClientConn>,
    id: u64,
    name: Option<Bytes>,
    db: usize,
    resp: u8,
    cmd: &'static str,
    idle_ms: u64,
    argv_mem: u64,
    close_after_reply: bool,
    meta: ClientMeta,
}

impl Line<'_> {
    /// Appends the line in Redis 7.0's field order, with its trailing newline.
    fn write(&self, now_ms: u64, out: &mut Vec<u8>) {
        use std::fmt::Write as _;
        use std::sync::atomic::Ordering::Relaxed;
        let mut s = String::with_capacity(300);
        let (addr, laddr, fd, created) = match self.conn {
            Some(c) => (c.addr.as_str(), c.laddr.as_str(), c.fd, c.created_ms),
            None => ("", "", -1, now_ms),
        };
        let buffer = |f: fn(&crate::clients::ConnBuffers) -> &std::sync::atomic::AtomicU64| {
            self.conn.map_or(0, |c| f(&c.buffers).load(Relaxed))
        };
        let (qbuf, qbuf_free, rbs, rbp) = (
            buffer(|b| &b.qbuf),
            buffer(|b| &b.qbuf_free),
            buffer(|b| &b.rbs),
            buffer(|b| &b.rbp),
        );
        let (obl, omem) = (buffer(|b| &b.obl), buffer(|b| &b.omem));
        let m = &self.meta;
        let mut flags = String::new();
        if m.is_pubsub() {
            flags.push('P');
        }
        if m.multi.is_some() {
            flags.push('x');
        }
        if m.blocked {
            flags.push('b');
        }
        if self.close_after_reply {
            flags.push('c');
        }
        if self.conn.is_some_and(|c| c.is_killed()) {
            flags.push('A');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let tot_mem = rbs
            + omem
            + self.argv_mem
            + (std::mem::size_of::<ClientConn>() + std::mem::size_of::<ClientState>()) as u64;
        let _ = write!(
            s,
            "id={} addr={} laddr={} fd={} name=",
            self.id, addr, laddr, fd
        );
        let mut line = s.into_bytes();
        if let Some(n) = &self.name {
            line.extend_from_slice(n);
        }
        let mut s = String::with_capacity(256);
        let _ = writeln!(
            s,
            " age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} \
             argv-mem={} multi-mem=0 rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events={} \
             cmd={} user=default redir=-1 resp={}",
            now_ms.saturating_sub(created) / 1000,
            self.idle_ms / 1000,
            flags,
            self.db,
            m.sub,
            m.psub,
            m.ssub,
            m.multi.map_or(-1, |n| n as i64),
            qbuf,
            qbuf_free,
            self.argv_mem,
            rbs,
            rbp,
            obl,
            u64::from(obl > 0),
            omem,
            tot_mem,
            if obl > 0 { "rw" } else { "r" },
            if self.cmd.is_empty() {
                "NULL"
            } else {
                self.cmd
            },
            self.resp,
        );
        line.extend_from_slice(s.as_bytes());
        out.extend_from_slice(&line);
    }
}

/// The line of the calling client, from its live state (its registry entry is updated only
/// after each command).
fn own_line(ctx: &Ctx<'_, '_>, cmd: &'static str, args: &[Bytes]) -> Vec<u8> {
    let c = &*ctx.client;
    let meta = c
        .conn
        .as_ref()
        .map(|conn| conn.meta.lock().clone())
        .unwrap_or_default();
    let line = Line {
        conn: c.conn.as_deref(),
        id: c.id,
        name: c.name.clone(),
        db: c.db,
        resp: c.resp,
        cmd,
        idle_ms: 0,
        argv_mem: args.iter().map(|a| a.len() as u64).sum(),
        close_after_reply: c.close_after_reply,
        meta,
    };
    let mut out = Vec::new();
    line.write(ctx.now_ms(), &mut out);
    out
}

/// The line of another client, from the registry.
fn other_line(conn: &ClientConn, now_ms: u64, out: &mut Vec<u8>) {
    let meta = conn.meta.lock().clone();
    let line = Line {
        conn: Some(conn),
        id: conn.id,
        name: meta.name.clone(),
        db: meta.db,
        resp: meta.resp,
        cmd: meta.last_cmd,
        idle_ms: now_ms.saturating_sub(meta.last_interaction_ms),
        argv_mem: conn
            .buffers
            .argv_mem
            .load(std::sync::atomic::Ordering::Relaxed),
        close_after_reply: false,
        meta,
    };
    line.write(now_ms, out);
}

fn client_info(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Verbatim(own_line(ctx, "client|info", args).into()))
}

fn client_list(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let mut wanted_type = None;
    let mut ids = None;
    if args.len() == 4 && args::is(&args[2], "type") {
        wanted_type = Some(client_type(&args[3])?);
    } else if args.len() > 3 && args::is(&args[2], "id") {
        let list = args[3..]
            .iter()
            .map(|a| args::int(a).map_err(|_| error::INVALID_CLIENT_ID))
            .collect::<Result<Vec<i64>>>()?;
        ids = Some(list);
    } else if args.len() != 2 {
        return Err(Error::Syntax);
    }
    let now = ctx.now_ms();
    let me = ctx.client.id;
    let mut out = Vec::new();
    let add = |ctx: &Ctx<'_, '_>, conn: &ClientConn, out: &mut Vec<u8>| {
        if conn.id == me {
            out.extend_from_slice(&own_line(ctx, "client|list", args));
        } else {
            other_line(conn, now, out);
        }
    };
    let registry = &ctx.engine.clients;
    match ids {
        // In the order given, repeats included, as Redis does.
        Some(ids) => {
            for id in ids {
                if let Some(conn) = u64::try_from(id).ok().and_then(|id| registry.get(id)) {
                    add(ctx, &conn, &mut out);
                }
            }
        }
        None => {
            for conn in registry.list() {
                let matches = match wanted_type {
                    None => true,
                    Some(t) => t == type_of(&conn.meta.lock()),
                };
                if matches {
                    add(ctx, &conn, &mut out);
                }
            }
        }
    }
    Ok(Reply::Verbatim(out.into()))
}

fn client_kill(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let mut addr: Option<&[u8]> = None;
    let mut laddr: Option<&[u8]> = None;
    let mut wanted_type = None;
    let mut id = None;
    let old_form = args.len() == 3;
    // The old form (`CLIENT KILL ip:port`) may kill the caller; the new form skips it unless
    // told otherwise.
    let mut skipme = !old_form;
    if old_form {
        addr = Some(&args[2]);
    } else if args.len() % 2 == 0 {
        for pair in args[2..].chunks_exact(2) {
            let (opt, value) = (&pair[0], &pair[1]);
            if args::is(opt, "id") {
                match args::int(value) {
                    Ok(n) if n > 0 => id = Some(n as u64),
                    _ => return Err(error::CLIENT_ID_NOT_POSITIVE),
                }
            } else if args::is(opt, "type") {
                wanted_type = Some(client_type(value)?);
            } else if args::is(opt, "addr") {
                addr = Some(value);
            } else if args::is(opt, "laddr") {
                laddr = Some(value);
            } else if args::is(opt, "user") {
                if value.as_ref() != b"default" {
                    return Err(Error::no_such_user(value));
                }
            } else if args::is(opt, "skipme") {
                if args::is(value, "yes") {
                    skipme = true;
                } else if args::is(value, "no") {
                    skipme = false;
                } else {
                    return Err(Error::Syntax);
                }
            } else {
                return Err(Error::Syntax);
            }
        }
    } else {
        return Err(Error::Syntax);
    }

    let me = ctx.client.id;
    let mut killed = 0i64;
    for conn in ctx.engine.clients.list() {
        if addr.is_some_and(|a| a != conn.addr.as_bytes())
            || laddr.is_some_and(|a| a != conn.laddr.as_bytes())
            || id.is_some_and(|id| id != conn.id)
            || wanted_type.is_some_and(|t| t != type_of(&conn.meta.lock()))
            || (conn.id == me && skipme)
        {
            continue;
        }
        if conn.id == me {
            // Closed by the server once this reply is written.
            ctx.client.close_after_reply = true;
        } else {
            conn.kill();
        }
        killed += 1;
    }
    if old_form {
        if killed == 0 {
            return Err(error::NO_SUCH_CLIENT);
        }
        return Ok(Reply::Ok);
    }
    Ok(Reply::Int(killed))
}

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Prints this help.",
];

fn client_help(_ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Array(
        CLIENT_HELP.iter().map(|l| Reply::status(l)).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Db;

    fn call(s: &mut crate::Session, args: &[&str]) -> Reply {
        let args: Vec<Bytes> = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        s.execute(&args)
    }

    fn err(r: Reply) -> String {
        match r {
            Reply::Error(e) => e.to_string(),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn auth_flow_with_requirepass() {
        let db = Db::builder().requirepass("secret").build();
        let mut s = db.session();
        assert_eq!(
            err(call(&mut s, &["PING"])),
            "NOAUTH Authentication required."
        );
        assert_eq!(
            err(call(&mut s, &["HELLO", "3"])),
            error::HELLO_NOAUTH.to_string()
        );
        assert_eq!(
            err(call(&mut s, &["AUTH", "nope"])),
            Error::WrongPass.to_string()
        );
        assert_eq!(
            err(call(&mut s, &["AUTH", "other", "secret"])),
            Error::WrongPass.to_string()
        );
        assert_eq!(call(&mut s, &["AUTH", "secret"]), Reply::Ok);
        assert_eq!(call(&mut s, &["PING"]), Reply::status("PONG"));
        // A failed attempt does not log an authenticated client out.
        assert!(call(&mut s, &["AUTH", "wrong"]).is_error());
        assert_eq!(call(&mut s, &["PING"]), Reply::status("PONG"));
        assert_eq!(call(&mut s, &["RESET"]), Reply::status("RESET"));
        assert!(call(&mut s, &["PING"]).is_error());
        let hello = call(&mut s, &["HELLO", "3", "AUTH", "default", "secret"]);
        assert!(matches!(hello, Reply::Map(_)));
        assert_eq!(s.state.resp, 3);
    }

    #[test]
    fn auth_without_password() {
        let db = Db::new();
        let mut s = db.session();
        assert_eq!(
            err(call(&mut s, &["AUTH", "x"])),
            error::AUTH_NOT_CONFIGURED.to_string()
        );
        assert_eq!(call(&mut s, &["AUTH", "default", "anything"]), Reply::Ok);
        assert_eq!(
            err(call(&mut s, &["AUTH", "a", "b", "c"])),
            "ERR syntax error"
        );
    }

    #[test]
    fn hello_options_and_errors() {
        let db = Db::new();
        let mut s = db.session();
        assert_eq!(
            err(call(&mut s, &["HELLO", "4"])),
            "NOPROTO unsupported protocol version"
        );
        assert_eq!(
            err(call(&mut s, &["HELLO", "x"])),
            "ERR Protocol version is not an integer or out of range"
        );
        assert_eq!(
            err(call(&mut s, &["HELLO", "3", "AUTH", "default"])),
            "ERR Syntax error in HELLO option 'AUTH'"
        );
        assert_eq!(
            err(call(&mut s, &["HELLO", "3", "SETNAME", "a b"])),
            error::BAD_CLIENT_NAME.to_string()
        );
        assert_eq!(s.state.resp, 2);
        let r = call(&mut s, &["HELLO", "3", "SETNAME", "me"]);
        let Reply::Map(fields) = r else {
            panic!("HELLO replies with a map")
        };
        let keys: Vec<_> = fields
            .iter()
            .map(|(k, _)| match k {
                Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                _ => panic!("bulk keys"),
            })
            .collect();
        assert_eq!(
            keys,
            [
                "server", "version", "proto", "id", "mode", "role", "modules"
            ]
        );
        assert_eq!(fields[2].1, Reply::Int(3));
        assert_eq!(s.state.name.as_deref(), Some(&b"me"[..]));
    }

    #[test]
    fn client_name_rules() {
        let db = Db::new();
        let mut s = db.session();
        assert_eq!(call(&mut s, &["CLIENT", "GETNAME"]), Reply::Nil);
        assert_eq!(call(&mut s, &["CLIENT", "SETNAME", "abc"]), Reply::Ok);
        assert_eq!(call(&mut s, &["CLIENT", "GETNAME"]), Reply::bulk("abc"));
        assert!(call(&mut s, &["CLIENT", "SETNAME", "a\nb"]).is_error());
        assert!(call(&mut s, &["CLIENT", "SETNAME", "é"]).is_error());
        assert_eq!(call(&mut s, &["CLIENT", "SETNAME", ""]), Reply::Ok);
        assert_eq!(call(&mut s, &["CLIENT", "GETNAME"]), Reply::Nil);
    }

    #[test]
    fn client_reply_modes_step_like_redis() {
        let db = Db::new();
        let mut s = db.session();
        let mut run = |args: &[&str]| {
            call(&mut s, args);
            s.state.finish_command()
        };
        assert!(!run(&["CLIENT", "REPLY", "SKIP"]));
        assert!(!run(&["PING"]));
        assert!(run(&["PING"]));
        assert!(!run(&["CLIENT", "REPLY", "OFF"]));
        assert!(!run(&["CLIENT", "REPLY", "SKIP"]));
        assert!(!run(&["PING"]));
        assert!(run(&["CLIENT", "REPLY", "ON"]));
        assert!(!run(&["CLIENT", "REPLY", "SKIP"]));
        assert!(run(&["CLIENT", "REPLY", "ON"]));
        assert!(run(&["PING"]));
    }

    #[test]
    fn client_list_and_kill_syntax() {
        let db = Db::new();
        let mut s = db.session();
        assert_eq!(
            err(call(&mut s, &["CLIENT", "LIST", "TYPE", "foo"])),
            "ERR Unknown client type 'foo'"
        );
        assert_eq!(
            err(call(&mut s, &["CLIENT", "LIST", "ID", "x"])),
            "ERR Invalid client ID"
        );
        assert_eq!(
            err(call(&mut s, &["CLIENT", "LIST", "x"])),
            "ERR syntax error"
        );
        assert_eq!(
            call(&mut s, &["CLIENT", "LIST", "ID", "12345"]),
            Reply::Verbatim(Bytes::new())
        );
        assert_eq!(
            err(call(&mut s, &["CLIENT", "KILL", "1.2.3.4:5"])),
            "ERR No such client"
        );
        assert_eq!(
            err(call(&mut s, &["CLIENT", "KILL", "ID", "0"])),
            "ERR client-id should be greater than 0"
        );
        assert_eq!(
            err(call(&mut s, &["CLIENT", "KILL", "USER", "bob"])),
            "ERR No such user 'bob'"
        );
        assert_eq!(
            err(call(&mut s, &["CLIENT", "KILL", "ID", "1", "SKIPME"])),
            "ERR syntax error"
        );
        assert_eq!(
            call(&mut s, &["CLIENT", "KILL", "TYPE", "normal"]),
            Reply::Int(0)
        );
    }

    #[test]
    fn client_kill_other_and_self() {
        let db = Db::new();
        let engine = db.engine().clone();
        let other = std::sync::Arc::new(ClientConn::new(
            engine.next_client_id(),
            "127.0.0.1:1000".into(),
            "127.0.0.1:6379".into(),
            0,
        ));
        engine.clients.register(other.clone());
        let mut s = db.session();
        let me = std::sync::Arc::new(ClientConn::new(
            s.state.id,
            "127.0.0.1:1001".into(),
            "127.0.0.1:6379".into(),
            0,
        ));
        engine.clients.register(me.clone());
        s.state.conn = Some(me.clone());
        let list = call(&mut s, &["CLIENT", "LIST"]);
        let Reply::Verbatim(text) = list else {
            panic!("verbatim")
        };
        let text = String::from_utf8_lossy(&text).into_owned();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("cmd=client|list"), "{text}");
        assert!(text.contains("cmd=NULL"), "{text}");
        assert_eq!(
            call(&mut s, &["CLIENT", "KILL", "ADDR", "127.0.0.1:1000"]),
            Reply::Int(1)
        );
        assert!(other.is_killed());
        assert_eq!(
            call(&mut s, &["CLIENT", "KILL", "127.0.0.1:1001"]),
            Reply::Ok
        );
        assert!(s.state.close_after_reply);
        assert!(!me.is_killed());
    }

    #[test]
    fn select_range() {
        let db = Db::new();
        let mut s = db.session();
        assert_eq!(call(&mut s, &["SELECT", "15"]), Reply::Ok);
        assert_eq!(s.state.db, 15);
        assert_eq!(
            err(call(&mut s, &["SELECT", "16"])),
            "ERR DB index is out of range"
        );
        assert_eq!(
            err(call(&mut s, &["SELECT", "4294967296"])),
            "ERR value is out of range, value must between -2147483648 and 2147483647"
        );
    }
}
