//! One client connection: read, run every complete request in the buffer through the
//! connection's [`Session`], write all their replies at once.
//!
//! Replies are gathered in one buffer and written once per read (flushing per reply is several
//! times slower when clients pipeline); a batch that grows past [`OUT_FLUSH`] is written early
//! so that a pipeline of large replies does not pile up. The engine is synchronous and its
//! locks are taken and released inside each command: nothing is held across an `.await`.
//!
//! A command that blocks (BLPOP on empty lists...) parks the connection: the replies before it
//! are written, then the connection awaits the blocked call while still reading the socket, so
//! that a client that disconnects (or is killed, or the server stopping) withdraws its waiter at
//! once; bytes it sends meanwhile wait in the buffer, run once the call completes, as in Redis.
//!
//! A connection closes when the client does, after QUIT or a protocol error (once the replies
//! before it are written), when another client kills it (pending replies are dropped, as when
//! Redis frees a client), when its query buffer passes `client-query-buffer-limit`, and when
//! the server stops.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use embedis::clients::ClientConn;
use embedis::persist::aof::with_deferred_sync;
use embedis::pubsub::Pushes;
use embedis::{BlockedCall, Execution, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::encode::encode;
use crate::parse::{Limits, READ_CHUNK, RequestParser};

/// Replies are written before the batch ends once this many bytes are waiting.
pub const OUT_FLUSH: usize = 256 * 1024;

/// Serves one connection until it closes, then removes it from the client registry.
pub(crate) async fn serve(
    mut stream: TcpStream,
    conn: Arc<ClientConn>,
    session: Session,
    stop: watch::Receiver<bool>,
) {
    let id = conn.id;
    let engine = session.engine().clone();
    let reason = run(&mut stream, &conn, session, stop).await;
    tracing::debug!(client = id, addr = %conn.addr, "closing connection: {reason}");
    engine.clients.unregister(id);
}

async fn run(
    stream: &mut TcpStream,
    conn: &ClientConn,
    mut session: Session,
    mut stop: watch::Receiver<bool>,
) -> &'static str {
    let engine = session.engine().clone();
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut parser = RequestParser::new();
    let mut args: Vec<Bytes> = Vec::new();
    // Pub/sub messages and subscription replies for this client (see `pushes` below).
    let pushes = session.pushes();
    // The AOF position this connection's unsent replies depend on (`appendfsync always`).
    let mut aof_pending: Option<u64> = None;
    loop {
        parser.reserve(&mut buf);
        let pushed = tokio::select! {
            biased;
            _ = conn.killed() => return "killed",
            _ = stop.wait_for(|s| *s) => return "server stopping",
            read = stream.read_buf(&mut buf) => match read {
                Ok(0) => return "closed by the client",
                Ok(_) => false,
                Err(_) => return "read error",
            },
            _ = pushes.ready() => true,
        };
        if pushed {
            if let Err(reason) =
                send_pushes(stream, conn, &pushes, session.state.resp, &mut out).await
            {
                return reason;
            }
            continue;
        }
        let (max_bulk, max_query) = engine
            .config
            .read(|c| (c.proto_max_bulk_len, c.client_query_buffer_limit));
        note_read(conn, &buf, &parser, engine.clock.now_millis());
        if (buf.len() + parser.pending_arg_bytes()) as u64 > max_query {
            tracing::warn!(
                client = conn.id,
                addr = %conn.addr,
                "closing client that reached max query buffer length"
            );
            return "query buffer limit";
        }

        let mut close = None;
        let mut ran = false;
        loop {
            let limits = Limits {
                proto_max_bulk_len: max_bulk,
                authenticated: session.state.authenticated,
            };
            match parser.next_request(&mut buf, limits, &mut args) {
                Ok(true) => {
                    ran = true;
                    let stopping = engine.shutdown_requested.load(Ordering::SeqCst);
                    // Scripts and transactions may hold this thread for long (and other
                    // commands wait while a script runs): let tokio move this worker's other
                    // tasks and I/O duties elsewhere meanwhile, so that SCRIPT KILL gets in.
                    // `appendfsync always`: the command's AOF append is written now and
                    // made durable once for the batch, before the first reply leaves (see
                    // `durable`).
                    let (executed, unsynced) = if embedis::script::may_block(&engine, &args[0]) {
                        tokio::task::block_in_place(|| {
                            with_deferred_sync(|| session.execute_or_block(&args))
                        })
                    } else {
                        with_deferred_sync(|| session.execute_or_block(&args))
                    };
                    aof_pending = aof_pending.max(unsynced);
                    // The arguments share the read buffer: release them before the next read.
                    args.clear();
                    let reply = match executed {
                        Execution::Reply(reply) => reply,
                        Execution::Blocked(call) => {
                            if !durable(&engine, &mut aof_pending).await {
                                return "AOF fsync failed";
                            }
                            if !out.is_empty() && !write(stream, conn, &pushes, &mut out).await {
                                return "write error";
                            }
                            let waited = wait_blocked(
                                stream,
                                conn,
                                &mut stop,
                                &mut buf,
                                &parser,
                                max_query,
                                call,
                                (&pushes, session.state.resp, &mut out),
                            )
                            .await;
                            match waited {
                                Ok(reply) => reply,
                                Err(reason) => return reason,
                            }
                        }
                    };
                    // Messages queued while the command ran go first, as in Redis (a RESP3
                    // client that publishes to itself gets the message before the count).
                    pushes.drain(usize::MAX, |r| encode(&r, session.state.resp, &mut out));
                    if pushes.overflowed() {
                        return overflowed(conn);
                    }
                    let deliver = session.state.finish_command();
                    if !stopping && engine.shutdown_requested.load(Ordering::SeqCst) {
                        // This command was SHUTDOWN: like Redis, the server goes away without
                        // replying to it (clients such as redis-py expect exactly that).
                        close = Some("shutdown requested");
                        break;
                    }
                    if deliver {
                        encode(&reply, session.state.resp, &mut out);
                    }
                    if session.state.close_after_reply {
                        close = Some("closed after reply");
                        break;
                    }
                    if conn.is_killed() || stopping {
                        break;
                    }
                    if out.len() >= OUT_FLUSH {
                        if !durable(&engine, &mut aof_pending).await {
                            return "AOF fsync failed";
                        }
                        if !write(stream, conn, &pushes, &mut out).await {
                            return write_failed(conn, &pushes);
                        }
                    }
                }
                Ok(false) => break,
                Err(e) => {
                    tracing::debug!(client = conn.id, "protocol error: {e}");
                    if session.state.finish_command() {
                        out.extend_from_slice(&e.reply());
                    }
                    close = Some("protocol error");
                    break;
                }
            }
        }
        if conn.is_killed() && !session.state.close_after_reply {
            return "killed";
        }
        if ran {
            // Like Redis after a write: the idle time counts from the last reply.
            conn.meta.lock().last_interaction_ms = engine.clock.now_millis();
        }
        if !durable(&engine, &mut aof_pending).await {
            return "AOF fsync failed";
        }
        if !out.is_empty() && !write(stream, conn, &pushes, &mut out).await {
            return write_failed(conn, &pushes);
        }
        if let Some(reason) = close {
            return reason;
        }
    }
}

/// Writes pub/sub pushes queued for the client, a batch of [`OUT_FLUSH`] bytes at a time,
/// until none is left. While a batch waits for the socket, new messages wait in the client's
/// queue, whose size is bounded by `client-output-buffer-limit pubsub`.
async fn send_pushes(
    stream: &mut TcpStream,
    conn: &ClientConn,
    pushes: &Pushes,
    resp: u8,
    out: &mut Vec<u8>,
) -> Result<(), &'static str> {
    // A bounded number of batches, so that a busy channel does not keep the connection from
    // reading its client's commands (UNSUBSCRIBE...).
    for _ in 0..PUSH_BATCHES {
        if pushes.overflowed() {
            return Err(overflowed(conn));
        }
        if pushes.drain(OUT_FLUSH, |r| encode(&r, resp, out)) == 0 {
            return Ok(());
        }
        if !write(stream, conn, pushes, out).await {
            return Err(write_failed(conn, pushes));
        }
    }
    Ok(())
}

/// Batches of pushes written before the connection looks at its socket again.
const PUSH_BATCHES: usize = 16;

/// A client cut off at its output-buffer limit: logged like Redis does.
fn overflowed(conn: &ClientConn) -> &'static str {
    tracing::warn!(
        client = conn.id,
        addr = %conn.addr,
        "client scheduled to be closed ASAP for overcoming of output buffer limits"
    );
    "output buffer limit"
}

fn write_failed(conn: &ClientConn, pushes: &Pushes) -> &'static str {
    if pushes.overflowed() {
        overflowed(conn)
    } else {
        "write error"
    }
}

/// Awaits a blocked command's reply while watching the socket: a client that disconnects,
/// is killed, or the server stopping ends the wait, and dropping the call withdraws the
/// waiter. Bytes read meanwhile stay in `buf` for after the reply. Pushes (a RESP3
/// subscriber's messages) are written as they come, as Redis does for a blocked client.
#[allow(clippy::too_many_arguments)]
async fn wait_blocked(
    stream: &mut TcpStream,
    conn: &ClientConn,
    stop: &mut watch::Receiver<bool>,
    buf: &mut BytesMut,
    parser: &RequestParser,
    max_query: u64,
    mut call: BlockedCall,
    (pushes, resp, out): (&Pushes, u8, &mut Vec<u8>),
) -> Result<embedis::Reply, &'static str> {
    conn.meta.lock().blocked = true;
    let result = loop {
        parser.reserve(buf);
        let pushed = tokio::select! {
            biased;
            _ = conn.killed() => break Err("killed"),
            _ = stop.wait_for(|s| *s) => break Err("server stopping"),
            reply = &mut call => break Ok(reply),
            read = stream.read_buf(buf) => match read {
                Ok(0) => break Err("closed by the client"),
                Ok(_) if (buf.len() + parser.pending_arg_bytes()) as u64 > max_query => {
                    break Err("query buffer limit");
                }
                Ok(_) => false,
                Err(_) => break Err("read error"),
            },
            _ = pushes.ready() => true,
        };
        if pushed {
            if let Err(reason) = send_pushes(stream, conn, pushes, resp, out).await {
                break Err(reason);
            }
        }
    };
    conn.meta.lock().blocked = false;
    result
}

/// Makes the AOF durable up to `pending` (if set) before replies that depend on it leave:
/// `appendfsync always` without a blocked worker per write. The fdatasync runs on tokio's
/// blocking pool, where connections waiting at once share one sync (group commit). False if
/// it failed: like Redis, which exits rather than acknowledge writes it could not persist,
/// the connection closes without sending those replies.
async fn durable(engine: &Arc<embedis::Engine>, pending: &mut Option<u64>) -> bool {
    let Some(seq) = pending.take() else {
        return true;
    };
    let engine = engine.clone();
    let synced = tokio::task::spawn_blocking(move || match engine.persist.state() {
        Some(state) => state.aof.sync_through(seq),
        None => Ok(()),
    })
    .await;
    match synced {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::error!("AOF fsync failed, not acknowledging writes: {e}");
            false
        }
        Err(_) => false,
    }
}

/// Writes and empties `out`; false if the connection is gone, was killed, or passed its
/// pub/sub output-buffer limit meanwhile.
async fn write(
    stream: &mut TcpStream,
    conn: &ClientConn,
    pushes: &Pushes,
    out: &mut Vec<u8>,
) -> bool {
    let buffers = &conn.buffers;
    buffers.obl.store(out.len() as u64, Ordering::Relaxed);
    buffers.omem.store(out.capacity() as u64, Ordering::Relaxed);
    let ok = tokio::select! {
        biased;
        _ = conn.killed() => false,
        _ = pushes.overflow() => false,
        r = stream.write_all(out) => r.is_ok(),
    };
    out.clear();
    if out.capacity() > 4 * OUT_FLUSH {
        // One huge reply should not pin its buffer for the life of the connection.
        out.shrink_to(READ_CHUNK);
    }
    buffers.obl.store(0, Ordering::Relaxed);
    buffers.omem.store(out.capacity() as u64, Ordering::Relaxed);
    ok
}

/// Publishes buffer sizes for CLIENT LIST and the time of the read for the idle timeout.
fn note_read(conn: &ClientConn, buf: &BytesMut, parser: &RequestParser, now_ms: u64) {
    let b = &conn.buffers;
    b.qbuf.store(buf.len() as u64, Ordering::Relaxed);
    b.qbuf_free
        .store((buf.capacity() - buf.len()) as u64, Ordering::Relaxed);
    b.rbs.store(buf.capacity() as u64, Ordering::Relaxed);
    b.rbp.fetch_max(buf.len() as u64, Ordering::Relaxed);
    b.argv_mem
        .store(parser.pending_arg_bytes() as u64, Ordering::Relaxed);
    conn.meta.lock().last_interaction_ms = now_ms;
}
