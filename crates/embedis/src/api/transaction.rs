//! In-process MULTI/EXEC: [`Db::transaction`] queues commands and runs them atomically, with
//! optional WATCHed keys, through the same dispatch as `MULTI`/`EXEC` sent by a client.

use bytes::Bytes;

use crate::db::{Db, Session};
use crate::error::{Error, Result};
use crate::reply::Reply;

/// A transaction being built: WATCH keys first, queue commands, then [`exec`](Self::exec).
///
/// ```
/// use embedis::Reply;
/// let db = embedis::Db::new();
/// db.set("balance", "10");
/// let mut tx = db.transaction();
/// tx.watch(&["balance"]).unwrap();
/// tx.queue(["DECRBY", "balance", "3"]).unwrap();
/// tx.queue(["GET", "balance"]).unwrap();
/// assert_eq!(tx.exec().unwrap(), Some(vec![Reply::Int(7), Reply::bulk("7")]));
///
/// // A watched key changed by someone else: EXEC does nothing and answers `None`.
/// let mut tx = db.transaction();
/// tx.watch(&["balance"]).unwrap();
/// db.set("balance", "100");
/// tx.queue(["DECRBY", "balance", "3"]).unwrap();
/// assert_eq!(tx.exec().unwrap(), None);
/// assert_eq!(db.get("balance").unwrap().as_deref(), Some(&b"100"[..]));
/// ```
#[derive(Debug)]
pub struct Transaction {
    session: Session,
    started: bool,
}

impl Db {
    /// A new transaction on this handle's database.
    pub fn transaction(&self) -> Transaction {
        let mut session = self.session();
        session.state.authenticated = true;
        Transaction {
            session,
            started: false,
        }
    }
}

fn args_of<I, A>(args: I) -> Vec<Bytes>
where
    I: IntoIterator<Item = A>,
    A: AsRef<[u8]>,
{
    args.into_iter()
        .map(|a| Bytes::copy_from_slice(a.as_ref()))
        .collect()
}

impl Transaction {
    fn run(&mut self, args: Vec<Bytes>) -> Reply {
        self.session.execute(&args)
    }

    /// WATCH: EXEC will do nothing if any of `keys` changes before it. Only before the first
    /// queued command (Redis refuses WATCH inside MULTI).
    pub fn watch<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> Result<()> {
        let mut args = vec![Bytes::from_static(b"WATCH")];
        args.extend(keys.iter().map(|k| Bytes::copy_from_slice(k.as_ref())));
        match self.run(args) {
            Reply::Error(e) => Err(e),
            _ => Ok(()),
        }
    }

    /// Queues a command. A command that cannot be queued (unknown, wrong arity, not allowed in
    /// a transaction) is `Err`, and EXEC will then fail with EXECABORT, as in Redis.
    pub fn queue<I, A>(&mut self, args: I) -> Result<&mut Self>
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        self.start()?;
        match self.run(args_of(args)) {
            Reply::Error(e) => Err(e),
            _ => Ok(self),
        }
    }

    fn start(&mut self) -> Result<()> {
        if !self.started {
            if let Reply::Error(e) = self.run(vec![Bytes::from_static(b"MULTI")]) {
                return Err(e);
            }
            self.started = true;
        }
        Ok(())
    }

    /// EXEC: runs the queued commands atomically. `Ok(None)` if a watched key changed (nothing
    /// ran), `Ok(Some(replies))` otherwise, each command's reply (errors included) in order;
    /// `Err` (EXECABORT) if a command could not be queued.
    pub fn exec(mut self) -> Result<Option<Vec<Reply>>> {
        self.start()?;
        match self.run(vec![Bytes::from_static(b"EXEC")]) {
            Reply::Array(replies) => Ok(Some(replies)),
            Reply::NilArray => Ok(None),
            Reply::Error(e) => Err(e),
            other => Err(Error::err_msg(format_args!(
                "unexpected EXEC reply {other:?}"
            ))),
        }
    }

    /// DISCARD: drops the queued commands and the watches.
    pub fn discard(mut self) {
        self.session.state.tx.discard();
    }
}
