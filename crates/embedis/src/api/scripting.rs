//! Typed scripting methods: EVAL, EVALSHA, SCRIPT LOAD/EXISTS/FLUSH, FUNCTION LOAD/DELETE/
//! FLUSH/LIST, FCALL. A script or function runs atomically, as the command does.

use bytes::Bytes;

use crate::cmd::transactions::atomic_block;
use crate::db::Db;
use crate::error::Result;
use crate::reply::Reply;
use crate::script::{self, Call, LibraryInfo, Source};

fn bytes_of<A: AsRef<[u8]>>(items: &[A]) -> Vec<Bytes> {
    items
        .iter()
        .map(|a| Bytes::copy_from_slice(a.as_ref()))
        .collect()
}

/// The command line FUNCTION STATS shows for a typed call.
fn command_line(name: &str, target: &[u8], keys: &[Bytes], args: &[Bytes]) -> Vec<Bytes> {
    let mut v = Vec::with_capacity(3 + keys.len() + args.len());
    v.push(Bytes::copy_from_slice(name.as_bytes()));
    v.push(Bytes::copy_from_slice(target));
    v.push(Bytes::from(keys.len().to_string()));
    v.extend_from_slice(keys);
    v.extend_from_slice(args);
    v
}

/// An error reply becomes `Err`, anything else `Ok`.
fn into_result(r: Reply) -> Result<Reply> {
    match r {
        Reply::Error(e) => Err(e),
        other => Ok(other),
    }
}

impl Db {
    fn run_eval(
        &self,
        source: Source<'_>,
        keys: Vec<Bytes>,
        args: Vec<Bytes>,
        read_only: bool,
    ) -> Result<Reply> {
        let (name, target) = match source {
            Source::Body(b) => (if read_only { "EVAL_RO" } else { "EVAL" }, b),
            Source::Sha(s) => (if read_only { "EVALSHA_RO" } else { "EVALSHA" }, s),
        };
        let command = command_line(name, target, &keys, &args);
        let engine = &**self.engine();
        let oom = script::oom_check(engine, &name.to_ascii_lowercase(), &command)?;
        let call = Call {
            keys: &keys,
            args: &args,
            read_only,
            command: &command,
            oom,
        };
        into_result(atomic_block(engine, None, self.index(), |a| {
            script::eval_exec(engine, a, source, &call)
        }))
    }

    /// EVAL: runs `script` with `keys` as KEYS and `args` as ARGV. The script's reply, or its
    /// error reply as `Err`.
    ///
    /// ```
    /// use embedis::Reply;
    /// let db = embedis::Db::new();
    /// let r = db.eval("return redis.call('set', KEYS[1], ARGV[1])", &["k"], &["v"]);
    /// assert_eq!(r.unwrap(), Reply::status("OK"));
    /// assert_eq!(db.eval("return {1, 'two'}", &[] as &[&str], &[] as &[&str]).unwrap(),
    ///     Reply::Array(vec![Reply::Int(1), Reply::bulk("two")]));
    /// let e = db.eval("return redis.call('nosuch')", &[] as &[&str], &[] as &[&str]);
    /// assert!(e.unwrap_err().to_string().starts_with("ERR Unknown Redis command called from script"));
    /// ```
    pub fn eval<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        &self,
        script: impl AsRef<[u8]>,
        keys: &[K],
        args: &[A],
    ) -> Result<Reply> {
        self.run_eval(
            Source::Body(script.as_ref()),
            bytes_of(keys),
            bytes_of(args),
            false,
        )
    }

    /// EVAL_RO: like [`Db::eval`], refusing write commands.
    pub fn eval_ro<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        &self,
        script: impl AsRef<[u8]>,
        keys: &[K],
        args: &[A],
    ) -> Result<Reply> {
        self.run_eval(
            Source::Body(script.as_ref()),
            bytes_of(keys),
            bytes_of(args),
            true,
        )
    }

    /// EVALSHA: runs a script loaded before (by EVAL or [`Db::script_load`]); `NOSCRIPT` if
    /// there is none with that SHA1.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// let sha = db.script_load("return ARGV[1] .. '!'").unwrap();
    /// let r = db.evalsha(&sha, &[] as &[&str], &["hi"]).unwrap();
    /// assert_eq!(r, embedis::Reply::bulk("hi!"));
    /// ```
    pub fn evalsha<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        &self,
        sha: &str,
        keys: &[K],
        args: &[A],
    ) -> Result<Reply> {
        if sha.len() != 40 {
            return Err(crate::error::NOSCRIPT);
        }
        self.run_eval(
            Source::Sha(sha.as_bytes()),
            bytes_of(keys),
            bytes_of(args),
            false,
        )
    }

    /// EVALSHA_RO: like [`Db::evalsha`], refusing write commands.
    pub fn evalsha_ro<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        &self,
        sha: &str,
        keys: &[K],
        args: &[A],
    ) -> Result<Reply> {
        if sha.len() != 40 {
            return Err(crate::error::NOSCRIPT);
        }
        self.run_eval(
            Source::Sha(sha.as_bytes()),
            bytes_of(keys),
            bytes_of(args),
            true,
        )
    }

    /// SCRIPT LOAD: compiles and caches `script`; returns its SHA1.
    pub fn script_load(&self, script: impl AsRef<[u8]>) -> Result<String> {
        script::script_load_exec(self.engine(), script.as_ref())
    }

    /// SCRIPT EXISTS: whether each SHA1 is in the script cache.
    pub fn script_exists<S: AsRef<[u8]>>(&self, shas: &[S]) -> Vec<bool> {
        script::script_exists_exec(self.engine(), shas)
    }

    /// SCRIPT FLUSH: empties the script cache.
    pub fn script_flush(&self) {
        script::script_flush_exec(self.engine())
    }

    /// FUNCTION LOAD: loads a library (`#!lua name=<lib>` and code registering functions);
    /// with `replace`, replaces a library of the same name. Returns the library name.
    ///
    /// ```
    /// let db = embedis::Db::new();
    /// let code = "#!lua name=counter\n\
    ///     redis.register_function('bump', function(keys, args)\n\
    ///       return redis.call('incrby', keys[1], args[1])\n\
    ///     end)";
    /// assert_eq!(db.function_load(code, false).unwrap(), "counter");
    /// let r = db.fcall("bump", &["hits"], &["5"]).unwrap();
    /// assert_eq!(r, embedis::Reply::Int(5));
    /// ```
    pub fn function_load(&self, code: impl AsRef<[u8]>, replace: bool) -> Result<String> {
        let code = Bytes::copy_from_slice(code.as_ref());
        let name = script::function_load_exec(self.engine(), &code, replace)?;
        self.engine().stats.dirty.inc();
        Ok(name)
    }

    /// FUNCTION DELETE: removes a library (`Err` if there is none).
    pub fn function_delete(&self, library: impl AsRef<[u8]>) -> Result<()> {
        script::function_delete_exec(self.engine(), library.as_ref())?;
        self.engine().stats.dirty.inc();
        Ok(())
    }

    /// FUNCTION FLUSH: removes every library.
    pub fn function_flush(&self) {
        script::function_flush_exec(self.engine());
        self.engine().stats.dirty.inc();
    }

    /// FUNCTION LIST: the libraries whose name matches `pattern` (a glob, any case), or all.
    pub fn function_list(&self, pattern: Option<&str>) -> Vec<LibraryInfo> {
        script::function_list_exec(self.engine(), pattern.map(str::as_bytes))
    }

    fn run_fcall(
        &self,
        function: &str,
        keys: Vec<Bytes>,
        args: Vec<Bytes>,
        read_only: bool,
    ) -> Result<Reply> {
        let name = if read_only { "FCALL_RO" } else { "FCALL" };
        let command = command_line(name, function.as_bytes(), &keys, &args);
        let engine = &**self.engine();
        let oom = script::oom_check(engine, &name.to_ascii_lowercase(), &command)?;
        let call = Call {
            keys: &keys,
            args: &args,
            read_only,
            command: &command,
            oom,
        };
        into_result(atomic_block(engine, None, self.index(), |a| {
            script::fcall_exec(engine, a, function.as_bytes(), &call)
        }))
    }

    /// FCALL: calls a function of a loaded library.
    pub fn fcall<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        &self,
        function: &str,
        keys: &[K],
        args: &[A],
    ) -> Result<Reply> {
        self.run_fcall(function, bytes_of(keys), bytes_of(args), false)
    }

    /// FCALL_RO: calls a function flagged `no-writes`.
    pub fn fcall_ro<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        &self,
        function: &str,
        keys: &[K],
        args: &[A],
    ) -> Result<Reply> {
        self.run_fcall(function, bytes_of(keys), bytes_of(args), true)
    }
}
