//! INFO: Redis 7.0's sections, field names and format, filled with what the engine can
//! measure. A field Redis has but embedis cannot honestly measure (allocator figures, peak
//! memory, latency percentiles, network bytes) is left out rather than faked.

use std::fmt::Write as _;
use std::sync::OnceLock;

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};

use super::memory::{self, ScanWhat};
use crate::cmd::{Ctx, table};
use crate::db::Engine;
use crate::error::Result;
use crate::keyspace::Access;
use crate::reply::Reply;

/// The Redis version INFO and HELLO report: the one whose behaviour embedis follows.
pub const REDIS_VERSION: &str = "7.0.15";

/// Sections in output order, with whether INFO without arguments (`default`) includes them.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("cluster", true),
    ("keyspace", true),
];

/// Which sections a request asks for (Redis's `genInfoSectionDict`).
#[derive(Debug, Default)]
pub struct Selection {
    all: bool,
    names: Vec<String>,
}

impl Selection {
    /// From INFO's arguments: section names, `default`, `all`, `everything`
    /// (case-insensitive); none means `default`.
    pub fn parse(args: &[impl AsRef<[u8]>]) -> Selection {
        let mut s = Selection::default();
        if args.is_empty() {
            s.add_default();
            return s;
        }
        for a in args {
            let name = String::from_utf8_lossy(a.as_ref()).to_ascii_lowercase();
            match name.as_str() {
                "default" => s.add_default(),
                "all" | "everything" => s.all = true,
                // Redis names the modules section `module_list` internally and accepts both.
                "module_list" => s.names.push("modules".into()),
                _ => s.names.push(name),
            }
        }
        s
    }

    fn add_default(&mut self) {
        self.names.extend(
            SECTIONS
                .iter()
                .filter(|(_, default)| *default)
                .map(|(n, _)| n.to_string()),
        );
    }

    fn wants(&self, section: &str) -> bool {
        self.all || self.names.iter().any(|n| n == section)
    }
}

pub(super) fn info(ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    let now = ctx.now_ms();
    let sel = Selection::parse(&args[1..]);
    let text = info_exec(ctx.engine, ctx.held.as_deref_mut(), now, &sel);
    Ok(Reply::Verbatim(Bytes::from(text)))
}

/// The INFO text for `sel` at time `now_ms`; `held` is the all-shards lock when running
/// inside EXEC or a script.
pub fn info_exec(
    engine: &Engine,
    held: Option<&mut Access<'_>>,
    now_ms: u64,
    sel: &Selection,
) -> String {
    let mut out = String::new();
    let scan_what = ScanWhat {
        memory: sel.wants("memory"),
        ttl: sel.wants("keyspace"),
    };
    let usage = if scan_what.memory || scan_what.ttl {
        memory::scan(engine, held, now_ms, scan_what)
    } else {
        Vec::new()
    };
    for (name, _) in SECTIONS {
        if !sel.wants(name) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match *name {
            "server" => server(&mut out, engine, now_ms),
            "clients" => clients(&mut out, engine),
            "memory" => memory_section(&mut out, engine, &usage),
            "persistence" => persistence(&mut out, engine),
            "stats" => stats(&mut out, engine),
            "replication" => replication(&mut out, engine),
            "cpu" => cpu(&mut out),
            "modules" => out.push_str("# Modules\r\n"),
            "commandstats" => commandstats(&mut out, engine),
            "errorstats" => errorstats(&mut out, engine),
            "cluster" => out.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
            "keyspace" => keyspace(&mut out, &usage, now_ms),
            _ => {}
        }
    }
    out
}

macro_rules! line {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
        $out.push_str("\r\n");
    }};
}

fn server(out: &mut String, engine: &Engine, now_ms: u64) {
    let config = engine.config.get();
    let uptime = now_ms.saturating_sub(engine.started_ms) / 1000;
    let now_us = engine.clock.now_micros().max(now_ms * 1000);
    line!(out, "# Server");
    line!(out, "redis_version:{REDIS_VERSION}");
    line!(out, "embedis_version:{}", env!("CARGO_PKG_VERSION"));
    line!(out, "redis_mode:standalone");
    line!(out, "os:{}", os_name());
    line!(out, "arch_bits:{}", usize::BITS);
    line!(out, "process_id:{}", std::process::id());
    line!(out, "run_id:{}", engine.run_id);
    line!(out, "tcp_port:{}", config.port);
    line!(out, "server_time_usec:{now_us}");
    line!(out, "uptime_in_seconds:{uptime}");
    line!(out, "uptime_in_days:{}", uptime / 86400);
    line!(out, "hz:{}", config.hz);
    line!(out, "configured_hz:{}", config.hz);
    line!(out, "lru_clock:{}", (now_ms / 1000) & ((1 << 24) - 1));
    if let Ok(exe) = std::env::current_exe() {
        line!(out, "executable:{}", exe.display());
    }
}

/// `uname -srm`-like text, as Redis shows it.
fn os_name() -> &'static str {
    static OS: OnceLock<String> = OnceLock::new();
    OS.get_or_init(|| {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .ok()
                .map(|s| s.trim().to_string())
        };
        match (
            read("/proc/sys/kernel/ostype"),
            read("/proc/sys/kernel/osrelease"),
        ) {
            (Some(t), Some(r)) => format!("{t} {r} {}", std::env::consts::ARCH),
            _ => format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        }
    })
}

fn clients(out: &mut String, engine: &Engine) {
    line!(out, "# Clients");
    line!(out, "connected_clients:{}", engine.clients.count());
    line!(out, "cluster_connections:0");
    line!(out, "maxclients:{}", engine.config.read(|c| c.maxclients));
    line!(out, "blocked_clients:{}", engine.blocked_clients());
    line!(out, "tracking_clients:0");
    line!(
        out,
        "clients_in_timeout_table:{}",
        engine.clients_in_timeout_table()
    );
}

fn memory_section(out: &mut String, engine: &Engine, usage: &[memory::DbUsage]) {
    let (dataset, tables_overhead) = memory::used_memory(usage);
    let startup = engine.keyspace.baseline();
    let used = startup + dataset + tables_overhead;
    let overhead = startup + tables_overhead;
    let peak = engine.memory_peak().max(used);
    let (maxmemory, policy) = engine
        .config
        .read(|c| (c.maxmemory, c.maxmemory_policy.clone()));
    let pct = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            part as f64 * 100.0 / whole as f64
        }
    };
    let rss = process_rss();
    line!(out, "# Memory");
    line!(out, "used_memory:{used}");
    line!(out, "used_memory_human:{}", memory::bytes_to_human(used));
    if let Some(rss) = rss {
        line!(out, "used_memory_rss:{rss}");
        line!(out, "used_memory_rss_human:{}", memory::bytes_to_human(rss));
    }
    line!(out, "used_memory_peak:{peak}");
    line!(
        out,
        "used_memory_peak_human:{}",
        memory::bytes_to_human(peak)
    );
    line!(out, "used_memory_peak_perc:{:.2}%", pct(used, peak));
    line!(out, "used_memory_overhead:{overhead}");
    line!(out, "used_memory_startup:{startup}");
    line!(out, "used_memory_dataset:{dataset}");
    line!(
        out,
        "used_memory_dataset_perc:{:.2}%",
        pct(dataset, used - startup)
    );
    // Lua (script/): what Redis 7.0 reports about its scripting states and caches.
    let lua = engine.scripting.info();
    let vm_total = lua.eval_memory + lua.functions_memory;
    line!(out, "used_memory_lua:{}", lua.eval_memory);
    line!(out, "used_memory_vm_eval:{}", lua.eval_memory);
    line!(
        out,
        "used_memory_lua_human:{}",
        memory::bytes_to_human(lua.eval_memory as u64)
    );
    line!(out, "number_of_cached_scripts:{}", lua.cached_scripts);
    line!(out, "number_of_functions:{}", lua.functions);
    line!(out, "used_memory_vm_functions:{}", lua.functions_memory);
    line!(out, "used_memory_vm_total:{vm_total}");
    line!(
        out,
        "used_memory_vm_total_human:{}",
        memory::bytes_to_human(vm_total as u64)
    );
    if let Some(total) = system_memory() {
        line!(out, "total_system_memory:{total}");
        line!(
            out,
            "total_system_memory_human:{}",
            memory::bytes_to_human(total)
        );
    }
    line!(out, "maxmemory:{maxmemory}");
    line!(out, "maxmemory_human:{}", memory::bytes_to_human(maxmemory));
    line!(out, "maxmemory_policy:{policy}");
    if let Some(rss) = rss {
        // RSS over accounted bytes: allocator overhead and everything else in the process
        // (the server's buffers; an embedding application's own memory).
        line!(
            out,
            "mem_fragmentation_ratio:{:.2}",
            rss as f64 / used.max(1) as f64
        );
        line!(out, "mem_fragmentation_bytes:{}", rss as i64 - used as i64);
    }
    line!(out, "mem_not_counted_for_evict:0");
}

/// Resident set size of the process (Linux), in bytes.
pub(crate) fn process_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kb_field(&status, "VmRSS:")
}

/// A `Name:   1234 kB` line of a /proc file, in bytes.
fn kb_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kb: u64 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

/// Physical memory of the machine (Linux), in bytes.
fn system_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    kb_field(&meminfo, "MemTotal:")
}

fn persistence(out: &mut String, engine: &Engine) {
    line!(out, "# Persistence");
    for (name, value) in crate::persist::info(engine) {
        line!(out, "{name}:{value}");
        if name == "loading" {
            line!(out, "async_loading:0");
        }
    }
}

fn stats(out: &mut String, engine: &Engine) {
    let s = &engine.stats;
    line!(out, "# Stats");
    line!(
        out,
        "total_connections_received:{}",
        s.total_connections.get()
    );
    line!(out, "total_commands_processed:{}", s.total_commands.get());
    line!(out, "rejected_connections:{}", s.rejected_connections.get());
    line!(out, "expired_keys:{}", s.expired_keys.get());
    line!(out, "evicted_keys:{}", s.evicted_keys.get());
    line!(out, "keyspace_hits:{}", s.keyspace_hits.get());
    line!(out, "keyspace_misses:{}", s.keyspace_misses.get());
    let pubsub = engine.pubsub();
    line!(out, "pubsub_channels:{}", pubsub.channel_count());
    line!(out, "pubsub_patterns:{}", pubsub.numpat());
    line!(out, "pubsubshard_channels:{}", pubsub.shard_channel_count());
    line!(out, "total_error_replies:{}", s.error_replies.get());
    // Redis 7.0 has no INFO field for clients cut off at their output-buffer limit (7.2's
    // `client_output_buffer_limit_disconnections`); the count is `Broker::limit_disconnections`.
}

fn replication(out: &mut String, engine: &Engine) {
    line!(out, "# Replication");
    line!(out, "role:master");
    line!(out, "connected_slaves:0");
    line!(out, "master_failover_state:no-failover");
    line!(out, "master_replid:{}", replid(engine));
    line!(out, "master_replid2:{}", "0".repeat(40));
    line!(out, "master_repl_offset:0");
    line!(out, "second_repl_offset:-1");
    line!(out, "repl_backlog_active:0");
    line!(out, "repl_backlog_first_byte_offset:0");
    line!(out, "repl_backlog_histlen:0");
}

/// The replication id: random like Redis's, fixed for the engine's life (derived from the
/// run id so that the engine's seeded generator is not disturbed).
fn replid(engine: &Engine) -> String {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let seed = BuildHasherDefault::<DefaultHasher>::default().hash_one(&engine.run_id);
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..40)
        .map(|_| char::from(b"0123456789abcdef"[(rng.next_u32() % 16) as usize]))
        .collect()
}

fn cpu(out: &mut String) {
    line!(out, "# CPU");
    // Linux: utime, stime, cutime, cstime (fields 14-17) in clock ticks of 1/100 s
    // (USER_HZ, fixed for /proc). Elsewhere the section stays empty.
    let Some(ticks) = proc_stat_times() else {
        return;
    };
    let secs = |t: u64| format!("{}.{:06}", t / 100, (t % 100) * 10_000);
    line!(out, "used_cpu_sys:{}", secs(ticks[1]));
    line!(out, "used_cpu_user:{}", secs(ticks[0]));
    line!(out, "used_cpu_sys_children:{}", secs(ticks[3]));
    line!(out, "used_cpu_user_children:{}", secs(ticks[2]));
}

fn proc_stat_times() -> Option<[u64; 4]> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: fields are counted after its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime is field 14.
    let get = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some([get(14)?, get(15)?, get(16)?, get(17)?])
}

fn commandstats(out: &mut String, engine: &Engine) {
    line!(out, "# Commandstats");
    let mut cmds: Vec<_> = table().all().iter().collect();
    cmds.sort_by_key(|c| c.full_name);
    for c in cmds {
        let s = &engine.command_stats[c.id];
        let (calls, usec, rejected, failed) = (
            s.calls.get(),
            s.usec.get(),
            s.rejected_calls.get(),
            s.failed_calls.get(),
        );
        if calls == 0 && rejected == 0 && failed == 0 {
            continue;
        }
        // Redis divides in single precision.
        let per_call = if calls == 0 {
            0.0
        } else {
            f64::from(usec as f32 / calls as f32)
        };
        line!(
            out,
            "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}",
            c.full_name
        );
    }
}

fn errorstats(out: &mut String, engine: &Engine) {
    line!(out, "# Errorstats");
    for (code, count) in engine.stats.errors.lock().iter() {
        line!(out, "errorstat_{code}:count={count}");
    }
}

fn keyspace(out: &mut String, usage: &[memory::DbUsage], now_ms: u64) {
    line!(out, "# Keyspace");
    for (db, u) in usage.iter().enumerate().filter(|(_, u)| u.keys > 0) {
        line!(
            out,
            "db{db}:keys={},expires={},avg_ttl={}",
            u.keys,
            u.expires,
            u.avg_ttl(now_ms)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_like_redis() {
        let s = Selection::parse(&[] as &[&[u8]]);
        assert!(s.wants("server") && s.wants("keyspace") && !s.wants("commandstats"));
        let s = Selection::parse(&[b"CPU".as_slice(), b"keyspace"]);
        assert!(s.wants("cpu") && s.wants("keyspace") && !s.wants("server"));
        let s = Selection::parse(&[b"all"]);
        assert!(s.wants("commandstats"));
        let s = Selection::parse(&[b"default".as_slice(), b"commandstats"]);
        assert!(s.wants("commandstats") && s.wants("server"));
        let s = Selection::parse(&[b"module_list"]);
        assert!(s.wants("modules"));
    }
}
