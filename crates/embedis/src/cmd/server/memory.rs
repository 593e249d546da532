//! MEMORY USAGE / STATS / HELP, and the keyspace scan INFO's memory and keyspace sections
//! share.
//!
//! Memory figures are estimates computed from the keyspace, not allocator statistics: a
//! value's bytes come from [`Entry::memory_usage`], and a table's own cost (empty buckets,
//! control bytes, expiry index) from [`Table::overhead_bytes`]. Computing them walks every key
//! (one shard lock at a time, so other clients are not stalled), which is what MEMORY STATS and
//! INFO memory cost until the keyspace keeps running totals. Redis's numbers come from its
//! allocator and differ; replies keep Redis's field names and shapes.
//!
//! [`Entry::memory_usage`]: crate::keyspace::Entry::memory_usage
//! [`Table::overhead_bytes`]: crate::keyspace::Table::overhead_bytes

use bytes::Bytes;

use crate::cmd::Ctx;
use crate::cmd::args::{Args, int, is};
use crate::db::Engine;
use crate::error::{Error, Result};
use crate::keyspace::{Access, Entry, SHARDS, Table};
use crate::reply::Reply;

/// What a scan found in one logical database.
#[derive(Debug, Default, Clone)]
pub struct DbUsage {
    /// Keys.
    pub keys: u64,
    /// Keys with a TTL.
    pub expires: u64,
    /// Sum of the remaining TTLs (ms) of volatile keys not yet expired.
    pub ttl_sum: u128,
    /// How many keys `ttl_sum` adds up.
    pub ttl_count: u64,
    /// Bytes of keys and values.
    pub dataset: u64,
    /// Bytes of the tables' own structures.
    pub overhead: u64,
}

impl DbUsage {
    /// The average remaining TTL in ms (INFO keyspace's `avg_ttl`), 0 without volatile keys.
    pub fn avg_ttl(&self) -> u64 {
        if self.ttl_count == 0 {
            0
        } else {
            (self.ttl_sum / self.ttl_count as u128) as u64
        }
    }
}

/// What to compute in [`scan`]; key counts are always there.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanWhat {
    /// Bytes used (walks every key).
    pub memory: bool,
    /// Remaining TTLs (walks the tables that hold volatile keys).
    pub ttl: bool,
}

/// Walks the keyspace; one [`DbUsage`] per logical database. With `held` (the all-shards lock
/// of EXEC or a script) it reads through that lock; otherwise it locks one shard at a time.
pub fn scan(
    engine: &Engine,
    held: Option<&mut Access<'_>>,
    now_ms: u64,
    what: ScanWhat,
) -> Vec<DbUsage> {
    let dbs = engine.keyspace.databases();
    let mut out = vec![DbUsage::default(); dbs];
    match held {
        Some(a) => {
            for idx in 0..SHARDS {
                for (db, usage) in out.iter_mut().enumerate() {
                    add_table(usage, a.shard_table(idx, db), now_ms, what);
                }
            }
        }
        None => {
            for idx in 0..SHARDS {
                let mut a = engine.keyspace.lock_shard(idx, &engine.stats, now_ms);
                for (db, usage) in out.iter_mut().enumerate() {
                    add_table(usage, a.shard_table(idx, db), now_ms, what);
                }
            }
        }
    }
    out
}

fn add_table(usage: &mut DbUsage, t: &Table, now_ms: u64, what: ScanWhat) {
    usage.keys += t.len() as u64;
    usage.expires += t.volatile_len() as u64;
    if what.memory {
        // Entries live inside the table's buckets: count them once, as dataset.
        let inline = t.len() * std::mem::size_of::<Entry>();
        usage.overhead += t.overhead_bytes().saturating_sub(inline) as u64;
    }
    let want_ttl = what.ttl && t.volatile_len() > 0;
    if !what.memory && !want_ttl {
        return;
    }
    for e in t.iter() {
        if what.memory {
            usage.dataset += e.memory_usage() as u64;
        }
        if want_ttl && let Some(at) = e.expire_at().filter(|&at| at > now_ms) {
            usage.ttl_sum += u128::from(at - now_ms);
            usage.ttl_count += 1;
        }
    }
}

/// Bytes used by the keyspace: `(dataset, overhead)` summed over databases.
pub fn used_memory(usage: &[DbUsage]) -> (u64, u64) {
    usage
        .iter()
        .fold((0, 0), |(d, o), u| (d + u.dataset, o + u.overhead))
}

/// Redis's `bytesToHuman`: `512B`, `1.02K`, `3.50M`, `2.00G`...
pub fn bytes_to_human(n: u64) -> String {
    const K: f64 = 1024.0;
    let d = n as f64;
    match n {
        _ if n < 1024 => format!("{n}B"),
        _ if n < 1 << 20 => format!("{:.2}K", d / K),
        _ if n < 1 << 30 => format!("{:.2}M", d / (K * K)),
        _ if n < 1 << 40 => format!("{:.2}G", d / (K * K * K)),
        _ if n < 1 << 50 => format!("{:.2}T", d / (K * K * K * K)),
        _ if n < 1 << 60 => format!("{:.2}P", d / (K * K * K * K * K)),
        _ => format!("{n}B"),
    }
}

const HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

pub(super) fn help(_ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(super::command_cmd::help_reply(HELP))
}

/// Bytes `key` costs (key, value and entry), `None` if it does not exist. The estimate is
/// exact for what the engine stores; it is not Redis's allocator figure.
pub fn memory_usage_exec(a: &mut Access<'_>, key: &[u8]) -> Option<u64> {
    a.peek(key).map(|e| e.memory_usage() as u64)
}

pub(super) fn usage(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let mut opts = Args::new(args, 3);
    while let Some(opt) = opts.next() {
        if is(opt, "samples") && opts.remaining() > 0 {
            // Values are measured exactly, so the sample count only has to be valid.
            let samples = int(opts.value()?)?;
            if samples < 0 {
                return Err(Error::Syntax);
            }
        } else {
            return Err(Error::Syntax);
        }
    }
    let key = &args[2];
    let bytes = ctx.key(key, |a| memory_usage_exec(a, key));
    Ok(bytes.map_or(Reply::Nil, |n| Reply::Int(n as i64)))
}

pub(super) fn stats(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    let now = ctx.now_ms();
    let what = ScanWhat {
        memory: true,
        ttl: false,
    };
    let usage = scan(ctx.engine, ctx.held.as_deref_mut(), now, what);
    let (dataset, overhead) = used_memory(&usage);
    let total = dataset + overhead;
    let keys: u64 = usage.iter().map(|u| u.keys).sum();
    let field = |k: &str, v: Reply| (Reply::bulk(k), v);
    let mut map = vec![field("total.allocated", Reply::Int(total as i64))];
    for (db, u) in usage.iter().enumerate().filter(|(_, u)| u.keys > 0) {
        map.push(field(
            &format!("db.{db}"),
            Reply::Map(vec![field(
                "overhead.hashtable.main",
                Reply::Int(u.overhead as i64),
            )]),
        ));
    }
    let per_key = total.checked_div(keys).unwrap_or(0);
    let dataset_pct = if total == 0 {
        0.0
    } else {
        dataset as f64 * 100.0 / total as f64
    };
    map.extend([
        field("overhead.total", Reply::Int(overhead as i64)),
        field("keys.count", Reply::Int(keys as i64)),
        field("keys.bytes-per-key", Reply::Int(per_key as i64)),
        field("dataset.bytes", Reply::Int(dataset as i64)),
        field("dataset.percentage", Reply::Double(dataset_pct)),
    ]);
    Ok(Reply::Map(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_like_redis() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1024), "1.00K");
        assert_eq!(bytes_to_human(1015016), "991.23K");
        assert_eq!(bytes_to_human(1313032), "1.25M");
        assert_eq!(bytes_to_human(25276063744), "23.54G");
        assert_eq!(bytes_to_human(u64::MAX), "18446744073709551615B");
    }
}
