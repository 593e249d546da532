//! Every error the engine can reply with, and its exact Redis 7.0 text.
//!
//! Handlers never build error strings: they return a variant, and [`Error`]'s `Display` is the
//! only place where the text a client sees is written. Fixed texts that appear only once or
//! twice are `Error::Static` values named as constants below, so that they, too, live here.

use std::fmt;

/// Result of executing a command.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error reply, with the text Redis 7.0 sends for it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `WRONGTYPE Operation against a key holding the wrong kind of value`
    WrongType,
    /// `ERR value is not an integer or out of range`
    NotInteger,
    /// `ERR value is not a valid float`
    NotFloat,
    /// `ERR syntax error`
    Syntax,
    /// `ERR increment or decrement would overflow`
    Overflow,
    /// `ERR no such key`
    NoSuchKey,
    /// `ERR DB index is out of range`
    DbIndexOutOfRange,
    /// `ERR wrong number of arguments for '<cmd>' command` (`cmd|sub` for subcommands)
    WrongArity(String),
    /// `ERR unknown command '<name>', with args beginning with: '<a>' '<b>' `
    UnknownCommand { name: String, args: String },
    /// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.`
    UnknownSubcommand { command: String, sub: String },
    /// `ERR invalid expire time in '<cmd>' command`
    InvalidExpire(String),
    /// `NOAUTH Authentication required.`
    NoAuth,
    /// `WRONGPASS invalid username-password pair or user is disabled.`
    WrongPass,
    /// `OOM command not allowed when used memory > 'maxmemory'.`
    Oom,
    /// A fixed error text, always one of the constants in this module.
    Static(&'static str),
    /// An error text that carries values (e.g. a config name); built only by the constructor
    /// functions in this module.
    Formatted(String),
}

// Fixed texts. Keep them here so that every reply text is in one file.
/// `ERR offset is out of range` (SETRANGE, GETRANGE)
pub const OFFSET_OUT_OF_RANGE: Error = Error::Static("ERR offset is out of range");
/// `ERR string exceeds maximum allowed size (proto-max-bulk-len)`
pub const STRING_TOO_LONG: Error =
    Error::Static("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
/// `ERR bit offset is not an integer or out of range`
pub const BIT_OFFSET: Error = Error::Static("ERR bit offset is not an integer or out of range");
/// `ERR bit is not an integer or out of range`
pub const BIT_VALUE: Error = Error::Static("ERR bit is not an integer or out of range");
/// `ERR The bit argument must be 1 or 0.` (BITPOS)
pub const BIT_ARGUMENT: Error = Error::Static("ERR The bit argument must be 1 or 0.");
/// `ERR BITOP NOT must be called with a single source key.`
pub const BITOP_NOT_ONE_KEY: Error =
    Error::Static("ERR BITOP NOT must be called with a single source key.");
/// `ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.`
pub const BITFIELD_TYPE: Error = Error::Static(
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
);
/// `ERR Invalid OVERFLOW type specified` (BITFIELD)
pub const BITFIELD_OVERFLOW: Error = Error::Static("ERR Invalid OVERFLOW type specified");
/// `ERR BITFIELD_RO only supports the GET subcommand`
pub const BITFIELD_RO_GET_ONLY: Error =
    Error::Static("ERR BITFIELD_RO only supports the GET subcommand");
/// `ERR increment would produce NaN or Infinity`
pub const NAN_OR_INFINITY: Error = Error::Static("ERR increment would produce NaN or Infinity");
/// `ERR source and destination objects are the same`
pub const SAME_OBJECT: Error = Error::Static("ERR source and destination objects are the same");
/// `ERR timeout is not an integer or out of range`
pub const TIMEOUT_NOT_INTEGER: Error =
    Error::Static("ERR timeout is not an integer or out of range");
/// `ERR timeout is not a float or out of range` (blocking commands)
pub const TIMEOUT_NOT_FLOAT: Error = Error::Static("ERR timeout is not a float or out of range");
/// `ERR timeout is negative`
pub const TIMEOUT_NEGATIVE: Error = Error::Static("ERR timeout is negative");
/// `ERR index out of range` (LSET)
pub const INDEX_OUT_OF_RANGE: Error = Error::Static("ERR index out of range");
/// LPOS `RANK 0`
pub const LPOS_RANK_ZERO: Error = Error::Static(
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
);
/// `ERR COUNT can't be negative` (LPOS)
pub const COUNT_NEGATIVE: Error = Error::Static("ERR COUNT can't be negative");
/// `ERR MAXLEN can't be negative` (LPOS)
pub const MAXLEN_NEGATIVE: Error = Error::Static("ERR MAXLEN can't be negative");
/// `ERR invalid cursor`
pub const INVALID_CURSOR: Error = Error::Static("ERR invalid cursor");
/// `ERR value is out of range, must be positive`
pub const MUST_BE_POSITIVE: Error = Error::Static("ERR value is out of range, must be positive");
/// `ERR NX and XX, GT or LT options at the same time are not compatible` (EXPIRE family)
pub const EXPIRE_NX_AND_OTHERS: Error =
    Error::Static("ERR NX and XX, GT or LT options at the same time are not compatible");
/// `ERR GT and LT options at the same time are not compatible` (EXPIRE family)
pub const EXPIRE_GT_AND_LT: Error =
    Error::Static("ERR GT and LT options at the same time are not compatible");
/// `ERR value is out of range, value must between -2147483648 and 2147483647`
/// (`getIntFromObjectOrReply`: MOVE and COPY's DB argument)
pub const NOT_INT32: Error =
    Error::Static("ERR value is out of range, value must between -2147483648 and 2147483647");
/// OBJECT FREQ without an LFU maxmemory-policy.
pub const LFU_NOT_SELECTED: Error = Error::Static(
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
);
/// OBJECT IDLETIME under an LFU maxmemory-policy.
pub const LFU_SELECTED: Error = Error::Static(
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
);
/// `ERR decrement would overflow` (DECRBY of i64::MIN)
pub const DECREMENT_OVERFLOW: Error = Error::Static("ERR decrement would overflow");
/// `ERR The specified keys must contain string values` (LCS)
pub const LCS_NOT_STRINGS: Error =
    Error::Static("ERR The specified keys must contain string values");
/// `ERR If you want both the length and indexes, please just use IDX.` (LCS)
pub const LCS_LEN_AND_IDX: Error =
    Error::Static("ERR If you want both the length and indexes, please just use IDX.");
/// `ERR String too long for LCS`
pub const LCS_TOO_LONG: Error = Error::Static("ERR String too long for LCS");
/// `ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len`
pub const LCS_TABLE_TOO_BIG: Error =
    Error::Static("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
/// `ERR Insufficient memory, failed allocating transient memory for LCS`
pub const LCS_ALLOC_FAILED: Error =
    Error::Static("ERR Insufficient memory, failed allocating transient memory for LCS");
/// `ERR value is out of range` (HRANDFIELD WITHVALUES count beyond +-LONG_MAX/2)
pub const VALUE_OUT_OF_RANGE: Error = Error::Static("ERR value is out of range");
/// The range error of SRANDMEMBER/HRANDFIELD/ZRANDMEMBER counts (`-LONG_MAX..=LONG_MAX`).
pub const RANDOM_COUNT_RANGE: Error = Error::Static(
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
);
/// Not a Redis text: embedis builds replies in memory and refuses a negative
/// SRANDMEMBER/HRANDFIELD count whose reply would not fit (Redis streams it until OOM).
pub const RANDOM_COUNT_TOO_LARGE: Error = Error::Static(
    "ERR count is too large: at most 4194304 random elements can be returned with repetitions",
);
/// `ERR hash value is not an integer` (HINCRBY on a non-integer value)
pub const HASH_VALUE_NOT_INTEGER: Error = Error::Static("ERR hash value is not an integer");
/// `ERR hash value is not a float` (HINCRBYFLOAT on a non-number value)
pub const HASH_VALUE_NOT_FLOAT: Error = Error::Static("ERR hash value is not a float");
/// `ERR value is NaN or Infinity` (HINCRBYFLOAT with an infinite increment)
pub const VALUE_NAN_OR_INFINITY: Error = Error::Static("ERR value is NaN or Infinity");
/// `ERR numkeys should be greater than 0` (SINTERCARD, LMPOP, BLMPOP)
pub const NUMKEYS_NOT_POSITIVE: Error = Error::Static("ERR numkeys should be greater than 0");
/// `ERR Number of keys can't be greater than number of args` (SINTERCARD)
pub const NUMKEYS_TOO_MANY: Error =
    Error::Static("ERR Number of keys can't be greater than number of args");
/// `ERR LIMIT can't be negative` (SINTERCARD)
pub const LIMIT_NEGATIVE: Error = Error::Static("ERR LIMIT can't be negative");
/// `ERR XX and NX options at the same time are not compatible` (ZADD)
pub const XX_AND_NX: Error =
    Error::Static("ERR XX and NX options at the same time are not compatible");
/// `ERR GT, LT, and/or NX options at the same time are not compatible` (ZADD)
pub const GT_LT_NX: Error =
    Error::Static("ERR GT, LT, and/or NX options at the same time are not compatible");
/// `ERR INCR option supports a single increment-element pair` (ZADD)
pub const INCR_SINGLE_PAIR: Error =
    Error::Static("ERR INCR option supports a single increment-element pair");
/// `ERR resulting score is not a number (NaN)` (ZADD INCR, ZINCRBY)
pub const SCORE_IS_NAN: Error = Error::Static("ERR resulting score is not a number (NaN)");
/// `ERR min or max is not a float` (score ranges)
pub const MIN_MAX_NOT_FLOAT: Error = Error::Static("ERR min or max is not a float");
/// `ERR min or max not valid string range item` (lex ranges)
pub const MIN_MAX_NOT_LEX: Error = Error::Static("ERR min or max not valid string range item");
/// `ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX`
pub const LIMIT_NEEDS_BY: Error = Error::Static(
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
);
/// `ERR syntax error, WITHSCORES not supported in combination with BYLEX`
pub const WITHSCORES_BYLEX: Error =
    Error::Static("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
/// `ERR weight value is not a float` (ZUNION/ZINTER WEIGHTS)
pub const WEIGHT_NOT_FLOAT: Error = Error::Static("ERR weight value is not a float");
/// `ERR count should be greater than 0` (ZMPOP, LMPOP)
pub const COUNT_NOT_POSITIVE: Error = Error::Static("ERR count should be greater than 0");
/// `ERR value is out of range, value must between -9223372036854775807 and
/// 9223372036854775807` (ZRANDMEMBER/HRANDFIELD/SRANDMEMBER count of `LONG_MIN`)
pub const VALUE_NOT_IN_LONG_RANGE: Error = Error::Static(
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
);
/// `ERR Protocol error: ...` texts are the server's; see embedis-server.
/// `ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?`
pub const AUTH_NOT_CONFIGURED: Error = Error::Static(
    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
);

// Transactions (MULTI/EXEC/WATCH) and scripting (EVAL, SCRIPT, FUNCTION, FCALL).
/// `ERR MULTI calls can not be nested`
pub const MULTI_NESTED: Error = Error::Static("ERR MULTI calls can not be nested");
/// `ERR EXEC without MULTI`
pub const EXEC_WITHOUT_MULTI: Error = Error::Static("ERR EXEC without MULTI");
/// `ERR DISCARD without MULTI`
pub const DISCARD_WITHOUT_MULTI: Error = Error::Static("ERR DISCARD without MULTI");
/// `ERR WATCH inside MULTI is not allowed`
pub const WATCH_IN_MULTI: Error = Error::Static("ERR WATCH inside MULTI is not allowed");
/// `EXECABORT Transaction discarded because of previous errors.`
pub const EXECABORT: Error =
    Error::Static("EXECABORT Transaction discarded because of previous errors.");
/// `ERR Command not allowed inside a transaction` (commands flagged `no_multi`)
pub const NOT_ALLOWED_IN_MULTI: Error =
    Error::Static("ERR Command not allowed inside a transaction");
/// `BUSY ...` while an EVAL script runs past the time limit.
pub const BUSY_SCRIPT: Error = Error::Static(
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
);
/// `BUSY ...` while a function (FCALL) runs past the time limit.
pub const BUSY_FUNCTION: Error = Error::Static(
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
);
/// `NOTBUSY No scripts in execution right now.`
pub const NOTBUSY: Error = Error::Static("NOTBUSY No scripts in execution right now.");
/// SCRIPT KILL / FUNCTION KILL of a script that already wrote.
pub const UNKILLABLE: Error = Error::Static(
    "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
);
/// `NOSCRIPT No matching script. Please use EVAL.`
pub const NOSCRIPT: Error = Error::Static("NOSCRIPT No matching script. Please use EVAL.");
/// `ERR Number of keys can't be greater than number of args`
pub const TOO_MANY_KEYS: Error =
    Error::Static("ERR Number of keys can't be greater than number of args");
/// `ERR Number of keys can't be negative`
pub const NEGATIVE_KEYS: Error = Error::Static("ERR Number of keys can't be negative");
/// `ERR Bad number of keys provided` (FCALL)
pub const BAD_NUMBER_OF_KEYS: Error = Error::Static("ERR Bad number of keys provided");
/// `ERR Can not execute a script with write flag using *_ro command.`
pub const WRITE_SCRIPT_RO: Error =
    Error::Static("ERR Can not execute a script with write flag using *_ro command.");
/// `ERR Invalid script shebang`
pub const INVALID_SHEBANG: Error = Error::Static("ERR Invalid script shebang");
/// `ERR Invalid engine in script shebang`
pub const INVALID_SHEBANG_ENGINE: Error = Error::Static("ERR Invalid engine in script shebang");
/// `ERR SCRIPT FLUSH only support SYNC|ASYNC option`
pub const SCRIPT_FLUSH_OPTION: Error =
    Error::Static("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
/// `ERR FUNCTION FLUSH only supports SYNC|ASYNC option`
pub const FUNCTION_FLUSH_OPTION: Error =
    Error::Static("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
/// `ERR Use SCRIPT DEBUG YES/SYNC/NO`
pub const SCRIPT_DEBUG_MODE: Error = Error::Static("ERR Use SCRIPT DEBUG YES/SYNC/NO");
/// `ERR SCRIPT DEBUG must be called outside a pipeline` (inside EXEC)
pub const SCRIPT_DEBUG_PIPELINE: Error =
    Error::Static("ERR SCRIPT DEBUG must be called outside a pipeline");
/// SCRIPT DEBUG YES/SYNC: embedis has no Lua debugger (not a Redis text).
pub const SCRIPT_DEBUG_UNSUPPORTED: Error = Error::Static(
    "ERR SCRIPT DEBUG YES/SYNC is not supported: embedis has no Lua debugger (SCRIPT DEBUG NO is)",
);
/// `ERR Missing library metadata`
pub const LIBRARY_METADATA_MISSING: Error = Error::Static("ERR Missing library metadata");
/// `ERR Invalid library metadata`
pub const LIBRARY_METADATA_INVALID: Error = Error::Static("ERR Invalid library metadata");
/// `ERR Library name was not given`
pub const LIBRARY_NAME_MISSING: Error = Error::Static("ERR Library name was not given");
/// `ERR Invalid metadata value, name argument was given multiple times`
pub const LIBRARY_NAME_TWICE: Error =
    Error::Static("ERR Invalid metadata value, name argument was given multiple times");
/// `ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long`
pub const LIBRARY_NAME_INVALID: Error = Error::Static(
    "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
);
/// `ERR No functions registered`
pub const NO_FUNCTIONS_REGISTERED: Error = Error::Static("ERR No functions registered");
/// `ERR Function not found`
pub const FUNCTION_NOT_FOUND: Error = Error::Static("ERR Function not found");
/// `ERR Library not found`
pub const LIBRARY_NOT_FOUND: Error = Error::Static("ERR Library not found");
/// `ERR Function code is missing`
pub const FUNCTION_CODE_MISSING: Error = Error::Static("ERR Function code is missing");
/// `ERR library name argument was not given` (FUNCTION LIST LIBRARYNAME)
pub const LIBRARYNAME_ARG_MISSING: Error = Error::Static("ERR library name argument was not given");
/// A script that declared flags without `allow-oom` (or `no-writes`), started over
/// `maxmemory` where the command was not refused before running (inside EXEC).
pub const OOM_SCRIPT_FLAG: Error = Error::Static(
    "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'",
);
/// FUNCTION RESTORE: a record that is not a library.
pub const NOT_A_FUNCTION_PAYLOAD: Error = Error::Static("ERR given type is not a function");
/// FUNCTION RESTORE: no record type could be read.
pub const FUNCTION_PAYLOAD_TYPE: Error = Error::Static("ERR can not read data type");
/// FUNCTION RESTORE with a policy other than FLUSH, APPEND or REPLACE.
pub const RESTORE_POLICY_INVALID: Error = Error::Static(
    "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
);
// Rate limiter commands (cmd/limiter.rs). CL.THROTTLE's texts are redis-cell's, which
// prefixes everything with "Cell error: " (and its own errors with "Store error: ").
/// redis-cell's usage error for a wrong number of CL.THROTTLE arguments.
pub const CELL_USAGE: Error = Error::Static(
    "Cell error: Store error: Usage: cl.throttle <key> <max_burst> <count per period> <period> [<quantity>]",
);
/// redis-cell: a count or period of zero.
pub const CELL_ZERO_RATE: Error =
    Error::Static("Cell error: Store error: Zero rates are not supported");
/// redis-cell: a stored `-1` (counted as missing) blocks every insert attempt.
pub const CELL_CAS_EXHAUSTED: Error =
    Error::Static("Cell error: Store error: Failed to update rate limit after 5 attempts");
/// redis-cell: `RedisModule_SetExpire` refused a negative TTL.
pub const CELL_EXPIRE_FAILED: Error =
    Error::Static("Cell error: Store error: Error while setting key expire");
/// A rate limiter key holds a string that is not that limiter's state (embedis text).
pub const LIMITER_STATE: Error =
    Error::Static("ERR the key holds a value that is not this rate limiter's state");
/// The same key twice in one CL.LIMITALL (embedis text).
pub const LIMITER_DUPLICATE_KEY: Error =
    Error::Static("ERR the same key appears twice in one rate limit check");
// Persistence (DUMP, RESTORE, SAVE, BGSAVE, BGREWRITEAOF).
/// `BUSYKEY Target key name already exists.` (RESTORE without REPLACE)
pub const BUSYKEY: Error = Error::Static("BUSYKEY Target key name already exists.");
/// `ERR DUMP payload version or checksum are wrong`
pub const DUMP_PAYLOAD: Error = Error::Static("ERR DUMP payload version or checksum are wrong");
/// `ERR Bad data format` (a RESTORE payload that passes the checksum but does not decode)
pub const BAD_DATA_FORMAT: Error = Error::Static("ERR Bad data format");
/// `ERR Invalid TTL value, must be >= 0`
pub const INVALID_TTL: Error = Error::Static("ERR Invalid TTL value, must be >= 0");
/// `ERR Invalid IDLETIME value, must be >= 0`
pub const INVALID_IDLETIME: Error = Error::Static("ERR Invalid IDLETIME value, must be >= 0");
/// `ERR Invalid FREQ value, must be >= 0 and <= 255`
pub const INVALID_FREQ: Error = Error::Static("ERR Invalid FREQ value, must be >= 0 and <= 255");
/// `ERR Background save already in progress`
pub const BGSAVE_IN_PROGRESS: Error = Error::Static("ERR Background save already in progress");
/// `ERR Background append only file rewriting already in progress`
pub const BGREWRITE_IN_PROGRESS: Error =
    Error::Static("ERR Background append only file rewriting already in progress");
/// Not a Redis text: SAVE, BGSAVE and BGREWRITEAOF on a store opened without a directory
/// (a redis-server always has one; an in-process store may have none).
pub const PERSISTENCE_OFF: Error = Error::Static(
    "ERR persistence is not configured: open the store with a directory (DbBuilder::persistence, or the server's --dir)",
);

/// `ERR invalid first DB index` (SWAPDB)
pub const INVALID_FIRST_DB: Error = Error::Static("ERR invalid first DB index");
/// `ERR invalid second DB index` (SWAPDB)
pub const INVALID_SECOND_DB: Error = Error::Static("ERR invalid second DB index");
/// `ERR No shutdown in progress.` (SHUTDOWN ABORT)
pub const NO_SHUTDOWN_IN_PROGRESS: Error = Error::Static("ERR No shutdown in progress.");
/// `ERR Errors trying to SHUTDOWN. Check logs.` (SHUTDOWN SAVE when saving fails)
pub const SHUTDOWN_FAILED: Error = Error::Static("ERR Errors trying to SHUTDOWN. Check logs.");
/// SHUTDOWN inside MULTI/EXEC or a script without NOW.
pub const SHUTDOWN_DENY_BLOCKING: Error =
    Error::Static("ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client");
/// A string that is not a HyperLogLog given to PFADD, PFCOUNT or PFMERGE.
pub const HLL_WRONGTYPE: Error =
    Error::Static("WRONGTYPE Key is not a valid HyperLogLog string value.");
/// An HLL whose registers do not add up (PFADD, PFCOUNT, PFMERGE).
pub const HLL_INVALID: Error = Error::Static("INVALIDOBJ Corrupted HLL object detected");
/// SSUBSCRIBE inside MULTI/EXEC (Redis 7.0 lets SUBSCRIBE and PSUBSCRIBE through there, for
/// backward compatibility, but not SSUBSCRIBE).
pub const SSUBSCRIBE_DENY_BLOCKING: Error =
    Error::Static("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
/// `ERR count should be greater than or equal to -1` (SLOWLOG GET)
pub const SLOWLOG_COUNT: Error = Error::Static("ERR count should be greater than or equal to -1");
/// `ERR Invalid command specified` (COMMAND GETKEYS)
pub const GETKEYS_UNKNOWN_COMMAND: Error = Error::Static("ERR Invalid command specified");
/// `ERR The command has no key arguments` (COMMAND GETKEYS)
pub const GETKEYS_NO_KEYS: Error = Error::Static("ERR The command has no key arguments");
/// `ERR Invalid number of arguments specified for command` (COMMAND GETKEYS)
pub const GETKEYS_ARITY: Error =
    Error::Static("ERR Invalid number of arguments specified for command");
/// `ERR Invalid arguments specified for command` (COMMAND GETKEYS)
pub const GETKEYS_INVALID: Error = Error::Static("ERR Invalid arguments specified for command");
/// `ERR Client names cannot contain spaces, newlines or special characters.`
pub const BAD_CLIENT_NAME: Error =
    Error::Static("ERR Client names cannot contain spaces, newlines or special characters.");
/// `NOPROTO unsupported protocol version` (HELLO)
pub const NOPROTO: Error = Error::Static("NOPROTO unsupported protocol version");
/// `ERR Protocol version is not an integer or out of range` (HELLO)
pub const PROTOVER_NOT_INTEGER: Error =
    Error::Static("ERR Protocol version is not an integer or out of range");
/// HELLO sent before authenticating, without its AUTH option.
pub const HELLO_NOAUTH: Error = Error::Static(
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
);
/// `ERR No such client` (CLIENT KILL, old form)
pub const NO_SUCH_CLIENT: Error = Error::Static("ERR No such client");
/// `ERR client-id should be greater than 0` (CLIENT KILL ID)
pub const CLIENT_ID_NOT_POSITIVE: Error = Error::Static("ERR client-id should be greater than 0");
/// `ERR Invalid client ID` (CLIENT LIST ID)
pub const INVALID_CLIENT_ID: Error = Error::Static("ERR Invalid client ID");
/// EMBEDIS.CLOCK on a server that runs on the real clock.
pub const CLOCK_NOT_MANUAL: Error = Error::Static(
    "ERR EMBEDIS.CLOCK needs a manual clock (start embedis-server with --clock manual)",
);

impl Error {
    /// `MISCONF Errors writing to the AOF file: <reason>`: the write was applied but could
    /// not be logged.
    pub fn aof_write(reason: &str) -> Error {
        Error::Formatted(format!("MISCONF Errors writing to the AOF file: {reason}"))
    }

    /// `ERR <reason>` for a SAVE that failed (Redis replies a bare `ERR` and logs the
    /// reason; embedis says it).
    pub fn save_failed(reason: &str) -> Error {
        Error::Formatted(format!("ERR {reason}"))
    }

    /// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try <CMD> HELP.`,
    /// what a subcommand sends when its own argument check fails (SLOWLOG GET 1 2).
    pub fn subcommand_syntax(command: &[u8], sub: &[u8]) -> Error {
        Error::Formatted(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
            sanitize(&sub[..sub.len().min(128)]),
            sanitize(command).to_ascii_uppercase()
        ))
    }

    /// A refused CONFIG SET (`ERR Unknown option ...` / `ERR CONFIG SET failed ...`).
    pub fn config(e: &crate::config::ConfigError) -> Error {
        Error::Formatted(sanitize(format!("ERR {e}").as_bytes()))
    }

    /// `ERR unknown command` for `name` with its arguments, as Redis quotes them (at most
    /// 128 bytes of each of the first arguments, up to 128 bytes in all).
    pub fn unknown_command(name: &[u8], args: &[impl AsRef<[u8]>]) -> Error {
        // Same rule as Redis: keep appending `'<arg>' ` while the text is under 128 bytes,
        // each argument cut to what is left of those 128.
        let mut shown = String::new();
        for a in args {
            if shown.len() >= 128 {
                break;
            }
            let a = a.as_ref();
            let take = a.len().min(128 - shown.len());
            shown.push('\'');
            shown.push_str(&sanitize(&a[..take]));
            shown.push_str("' ");
        }
        Error::UnknownCommand {
            name: sanitize(&name[..name.len().min(128)]),
            args: shown,
        }
    }

    /// `ERR unknown subcommand` for `command` (reported upper case) and `sub`.
    pub fn unknown_subcommand(command: &str, sub: &[u8]) -> Error {
        Error::UnknownSubcommand {
            command: command.to_ascii_uppercase(),
            sub: sanitize(&sub[..sub.len().min(128)]),
        }
    }

    /// `ERR at least 1 input key is needed for '<cmd>' command` (ZUNION, ZINTER, ZDIFF...;
    /// `cmd` is the command's table name).
    pub fn no_input_keys(cmd: &str) -> Error {
        Error::Formatted(format!(
            "ERR at least 1 input key is needed for '{cmd}' command"
        ))
    }

    /// `ERR wrong number of arguments for '<name>' command`, `name` as the user typed it,
    /// lower-cased like Redis does.
    pub fn wrong_arity(name: &str) -> Error {
        Error::WrongArity(name.to_ascii_lowercase())
    }

    /// `ERR Unsupported option <opt>` (EXPIRE family). Redis formats the option with `%s`,
    /// so the text stops at a NUL byte.
    pub fn unsupported_option(opt: &[u8]) -> Error {
        let end = opt.iter().position(|&b| b == 0).unwrap_or(opt.len());
        Error::Formatted(format!("ERR Unsupported option {}", sanitize(&opt[..end])))
    }

    /// `ERR Can't execute '<cmd>': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT /
    /// RESET are allowed in this context`: a RESP2 client in pub/sub mode ran another command
    /// (`cmd` is the full name, `client|list` for subcommands).
    pub fn subscribed_context(cmd: &str) -> Error {
        Error::Formatted(format!(
            "ERR Can't execute '{cmd}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        ))
    }

    /// An error whose text carries values. `text` must be the complete Redis text,
    /// including its code (`ERR ...`).
    pub fn formatted(text: String) -> Error {
        Error::Formatted(text)
    }

    /// An error reply whose complete text (code included) comes from a script: `{err=...}`
    /// tables, `redis.error_reply`, and Lua runtime errors. Carriage returns and line feeds
    /// become spaces, as Redis's `addReplyErrorFormat` does, so the reply stays one line.
    pub fn script(text: &[u8]) -> Error {
        Error::Formatted(
            String::from_utf8_lossy(text)
                .chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                .collect(),
        )
    }

    /// EXEC refused before running (arity, NOAUTH, BUSY): Redis aborts the transaction with
    /// `EXECABORT Transaction discarded because of: <reason>`, the reason without the `ERR`
    /// code for the errors Redis formats itself (arity).
    pub fn exec_abort(reason: &Error) -> Error {
        let text = reason.to_string();
        let reason = match reason {
            Error::WrongArity(_)
            | Error::UnknownCommand { .. }
            | Error::UnknownSubcommand { .. } => text.strip_prefix("ERR ").unwrap_or(&text),
            // The RESP2 subscribed-context refusal is formatted by Redis too.
            Error::Formatted(t) if t.starts_with("ERR Can't execute '") => &t[4..],
            _ => &text,
        };
        Error::Formatted(format!(
            "EXECABORT Transaction discarded because of: {reason}"
        ))
    }

    /// `ERR <msg>` for a message that carries values (shebangs, library metadata, FUNCTION
    /// LOAD options...): `msg` is Redis's text after the `ERR ` code.
    pub fn err_msg(msg: impl std::fmt::Display) -> Error {
        Error::Formatted(format!("ERR {msg}"))
    }

    /// redis-cell's error for an argument that is not an integer.
    pub fn cell_not_integer(arg: &[u8]) -> Error {
        Error::Formatted(format!(
            "Cell error: Store error: Couldn't parse as integer: {}",
            sanitize(arg)
        ))
    }

    /// redis-cell's error for a stored value it cannot read (`detail` is Rust's own text
    /// for the parse or UTF-8 error, which redis-cell passes through).
    pub fn cell_bad_value(detail: &str) -> Error {
        Error::Formatted(format!("Cell error: {detail}"))
    }

    /// A rate limiter policy, cost or lease argument out of range (embedis text).
    pub fn limiter_invalid(detail: &dyn fmt::Display) -> Error {
        Error::Formatted(format!("ERR invalid rate limit: {detail}"))
    }

    /// `ERR Syntax error in HELLO option '<opt>'`
    pub fn hello_option(opt: &[u8]) -> Error {
        Error::Formatted(format!(
            "ERR Syntax error in HELLO option '{}'",
            sanitize(c_str(opt))
        ))
    }

    /// `ERR Unknown client type '<name>'` (CLIENT LIST TYPE, CLIENT KILL TYPE)
    pub fn unknown_client_type(name: &[u8]) -> Error {
        Error::Formatted(format!(
            "ERR Unknown client type '{}'",
            sanitize(c_str(name))
        ))
    }

    /// `ERR No such user '<name>'` (CLIENT KILL USER)
    pub fn no_such_user(name: &[u8]) -> Error {
        Error::Formatted(format!("ERR No such user '{}'", sanitize(c_str(name))))
    }

    /// The error code: the first word (`ERR`, `WRONGTYPE`, ...).
    pub fn code(&self) -> String {
        let s = self.to_string();
        s.split(' ').next().unwrap_or("ERR").to_string()
    }
}

/// Redis replaces CR/LF (and other control characters) in echoed input with spaces so that an
/// error line stays one line.
fn sanitize(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// Redis formats these arguments with `%s`, which stops at the first NUL byte.
fn c_str(b: &[u8]) -> &[u8] {
    match memchr::memchr(0, b) {
        Some(end) => &b[..end],
        None => b,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            Error::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            Error::NotFloat => f.write_str("ERR value is not a valid float"),
            Error::Syntax => f.write_str("ERR syntax error"),
            Error::Overflow => f.write_str("ERR increment or decrement would overflow"),
            Error::NoSuchKey => f.write_str("ERR no such key"),
            Error::DbIndexOutOfRange => f.write_str("ERR DB index is out of range"),
            Error::WrongArity(cmd) => {
                write!(f, "ERR wrong number of arguments for '{cmd}' command")
            }
            Error::UnknownCommand { name, args } => {
                write!(
                    f,
                    "ERR unknown command '{name}', with args beginning with: {args}"
                )
            }
            Error::UnknownSubcommand { command, sub } => {
                write!(f, "ERR unknown subcommand '{sub}'. Try {command} HELP.")
            }
            Error::InvalidExpire(cmd) => write!(f, "ERR invalid expire time in '{cmd}' command"),
            Error::NoAuth => f.write_str("NOAUTH Authentication required."),
            Error::WrongPass => {
                f.write_str("WRONGPASS invalid username-password pair or user is disabled.")
            }
            Error::Oom => f.write_str("OOM command not allowed when used memory > 'maxmemory'."),
            Error::Static(s) => f.write_str(s),
            Error::Formatted(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_match_redis() {
        assert_eq!(
            Error::unknown_command(b"foo", &[b"a".as_slice(), b"b"]).to_string(),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            Error::unknown_subcommand("client", b"foo").to_string(),
            "ERR unknown subcommand 'foo'. Try CLIENT HELP."
        );
        assert_eq!(
            Error::wrong_arity("client|setname").to_string(),
            "ERR wrong number of arguments for 'client|setname' command"
        );
        assert_eq!(Error::WrongType.code(), "WRONGTYPE");
    }
}
