//! MEMORY USAGE / STATS / HELP, and the keyspace scan INFO's memory and keyspace sections
//! share.
//!
//! Memory figures come from the keyspace's own accounting (see `keyspace::table` and
//! `types::heap`): every entry's bytes are kept up to date as it changes, so `used_memory` is
//! O(1) and the per-database breakdown is a walk over the tables (not the keys), one shard
//! lock at a time. They model what the allocator really holds for the keyspace (allocation
//! headers and size classes included); Redis's numbers come from its allocator and differ in
//! detail. Replies keep Redis's field names and shapes.

use bytes::Bytes;

use crate::cmd::Ctx;
use crate::cmd::args::{Args, int, is};
use crate::db::Engine;
use crate::error::{Error, Result};
use crate::keyspace::{Access, SHARDS, Table};
use crate::reply::Reply;

/// What a scan found in one logical database.
#[derive(Debug, Default, Clone)]
pub struct DbUsage {
    /// Keys.
    pub keys: u64,
    /// Keys with a TTL.
    pub expires: u64,
    /// Sum of the volatile keys' expiry times (Unix ms).
    pub expire_sum: u128,
    /// Bytes of keys and values.
    pub dataset: u64,
    /// Bytes of the tables' bucket arrays.
    pub overhead: u64,
    /// Bytes of the expiry indexes.
    pub overhead_expires: u64,
}

impl DbUsage {
    /// The average remaining TTL in ms (INFO keyspace's `avg_ttl`), 0 without volatile keys.
    pub fn avg_ttl(&self, now_ms: u64) -> u64 {
        if self.expires == 0 {
            0
        } else {
            ((self.expire_sum / u128::from(self.expires)) as u64).saturating_sub(now_ms)
        }
    }
}

/// What to compute in [`scan`]; key counts are always there. (Kept for callers; the scan no
/// longer walks keys, so both are cheap.)
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanWhat {
    /// Bytes used.
    pub memory: bool,
    /// Remaining TTLs.
    pub ttl: bool,
}

/// Walks the keyspace's tables; one [`DbUsage`] per logical database. With `held` (the
/// all-shards lock of EXEC or a script) it reads through that lock; otherwise it locks one
/// shard at a time.
pub fn scan(
    engine: &Engine,
    held: Option<&mut Access<'_>>,
    now_ms: u64,
    _what: ScanWhat,
) -> Vec<DbUsage> {
    let dbs = engine.keyspace.databases();
    let mut out = vec![DbUsage::default(); dbs];
    match held {
        Some(a) => {
            for idx in 0..SHARDS {
                for (db, usage) in out.iter_mut().enumerate() {
                    add_table(usage, a.shard_table_ref(idx, db));
                }
            }
        }
        None => {
            for idx in 0..SHARDS {
                let mut a = engine.keyspace.lock_shard(idx, &engine.stats, now_ms);
                for (db, usage) in out.iter_mut().enumerate() {
                    add_table(usage, a.shard_table_ref(idx, db));
                }
            }
        }
    }
    out
}

fn add_table(usage: &mut DbUsage, t: &Table) {
    usage.keys += t.len() as u64;
    usage.expires += t.volatile_len() as u64;
    usage.expire_sum += t.expire_sum();
    usage.overhead += t.bucket_bytes() as u64;
    usage.overhead_expires += t.expires_bytes() as u64;
    usage.dataset += (t.bytes() - t.overhead_bytes()) as u64;
}

/// Bytes used by the keyspace's tables: `(dataset, overhead)` summed over databases.
pub fn used_memory(usage: &[DbUsage]) -> (u64, u64) {
    usage.iter().fold((0, 0), |(d, o), u| {
        (d + u.dataset, o + u.overhead + u.overhead_expires)
    })
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

/// Bytes `key` costs: its entry (key, value, TTL), the value's allocations and its slot in
/// the hash table; `None` if it does not exist. Exact for what the engine stores (values keep
/// their sizes), so SAMPLES only has to be valid; not Redis's allocator figure.
pub fn memory_usage_exec(a: &mut Access<'_>, key: &[u8]) -> Option<u64> {
    const SLOT: usize = std::mem::size_of::<Box<crate::keyspace::Entry>>() + 1;
    a.peek(key).map(|e| (e.memory_usage() + SLOT) as u64)
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

/// MEMORY STATS figures, in Redis's order (allocator and fragmentation figures where the
/// process can measure them).
pub fn memory_stats_exec(
    engine: &Engine,
    held: Option<&mut Access<'_>>,
    now_ms: u64,
) -> Vec<(String, Reply)> {
    let usage = scan(engine, held, now_ms, ScanWhat::default());
    let startup = engine.keyspace.baseline();
    let (dataset, tables_overhead) = used_memory(&usage);
    let total = startup + dataset + tables_overhead;
    let peak = engine.memory_peak().max(total);
    let keys: u64 = usage.iter().map(|u| u.keys).sum();
    let int = |n: u64| Reply::Int(n as i64);
    let pct = |part: u64, whole: u64| {
        Reply::Double(if whole == 0 {
            0.0
        } else {
            part as f64 * 100.0 / whole as f64
        })
    };
    let mut out: Vec<(String, Reply)> = vec![
        ("peak.allocated".into(), int(peak)),
        ("total.allocated".into(), int(total)),
        ("startup.allocated".into(), int(startup)),
        ("replication.backlog".into(), int(0)),
        ("clients.slaves".into(), int(0)),
        ("clients.normal".into(), int(0)),
        ("cluster.links".into(), int(0)),
        ("aof.buffer".into(), int(0)),
    ];
    for (db, u) in usage.iter().enumerate().filter(|(_, u)| u.keys > 0) {
        out.push((
            format!("db.{db}"),
            Reply::Map(vec![
                (Reply::bulk("overhead.hashtable.main"), int(u.overhead)),
                (
                    Reply::bulk("overhead.hashtable.expires"),
                    int(u.overhead_expires),
                ),
            ]),
        ));
    }
    let overhead = startup + tables_overhead;
    out.extend([
        ("overhead.total".into(), int(overhead)),
        ("keys.count".into(), int(keys)),
        (
            "keys.bytes-per-key".into(),
            int((total - startup).checked_div(keys).unwrap_or(0)),
        ),
        ("dataset.bytes".into(), int(dataset)),
        ("dataset.percentage".into(), pct(dataset, total - startup)),
        ("peak.percentage".into(), pct(total, peak)),
    ]);
    if let Some(rss) = super::info::process_rss() {
        out.push((
            "fragmentation".into(),
            Reply::Double(rss as f64 / total.max(1) as f64),
        ));
        out.push((
            "fragmentation.bytes".into(),
            Reply::Int(rss as i64 - total as i64),
        ));
    }
    out
}

pub(super) fn stats(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    let now = ctx.now_ms();
    let fields = memory_stats_exec(ctx.engine, ctx.held.as_deref_mut(), now);
    Ok(Reply::Map(
        fields
            .into_iter()
            .map(|(k, v)| (Reply::bulk(k), v))
            .collect(),
    ))
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
