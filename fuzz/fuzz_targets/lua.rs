//! Fuzzes Lua scripting: any script run with EVAL through `Db` must end with a reply (a value
//! or an error), never a panic, an abort, a hang or a way out of the sandbox.
//!
//! Input layout: the first byte picks the protocol (bit 0: HELLO 3-like RESP3 via
//! `redis.setresp(3)` prepended), the rest is the script body. Scripts run against one shared
//! `Db` (a fresh Lua state per input would hide state leaking between runs, which is part of
//! what is checked): after each script a fixed probe must see exactly the environment a fresh
//! engine shows (no new globals, no `io`/`os`/`loadfile`..., `redis.call` working), and
//! FLUSHALL keeps the keyspace small.
//!
//! Bounds: a watchdog thread stops any script running longer than 200 ms (the way SHUTDOWN
//! stops an unkillable one), and the Lua memory budget is 16 MiB per run.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use embedis::{Db, Reply};
use libfuzzer_sys::fuzz_target;

/// What the probe sees: the global names and the types of what a sandbox escape would need.
const PROBE: &str = "local g = {} for k, v in pairs(_G) do g[#g + 1] = k .. ':' .. type(v) end \
    table.sort(g) \
    local t = {type(io), type(os), type(loadfile), type(dofile), type(require), type(package), \
    type(loadstring), type(setfenv), type(getfenv), type(newproxy), type(module), \
    tostring(pcall(function() x_fuzz_global = 1 end)), \
    redis.call('set', 'probe', 'ok'), redis.call('get', 'probe'), table.concat(g, ',')} \
    return t";

struct Fixture {
    db: Db,
    baseline: Reply,
}

static GENERATION: AtomicU64 = AtomicU64::new(0);

fn fixture() -> &'static Mutex<Fixture> {
    static F: OnceLock<Mutex<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let db = Db::builder().active_expiry(false).build();
        db.engine().scripting.set_memory_budget(16 << 20);
        let baseline = probe(&db);
        let watched = db.clone();
        std::thread::spawn(move || watchdog(watched));
        Mutex::new(Fixture { db, baseline })
    })
}

fn probe(db: &Db) -> Reply {
    db.call(["EVAL", PROBE, "0"])
}

/// Stops a script that has been running for 200 ms (10 ticks of the same input).
fn watchdog(db: Db) {
    let mut seen = (u64::MAX, 0u32);
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let generation = GENERATION.load(Ordering::Relaxed);
        if !db.engine().scripting.is_busy() {
            seen = (generation, 0);
            continue;
        }
        if seen.0 != generation {
            seen = (generation, 0);
        }
        seen.1 += 1;
        if seen.1 >= 10 {
            db.engine().scripting.stop_for_shutdown();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let fx = fixture().lock().unwrap_or_else(|e| e.into_inner());
    GENERATION.fetch_add(1, Ordering::Relaxed);
    let mut script = Vec::with_capacity(body.len() + 20);
    if mode & 1 == 1 {
        script.extend_from_slice(b"redis.setresp(3) ");
    }
    script.extend_from_slice(body);
    let _ = fx.db.call([&b"EVAL"[..], &script, b"2", b"k1", b"k2", b"a1", b"a2"]);
    // Also as a function library body (a different Lua state and load API).
    if mode & 2 == 2 {
        let mut lib = b"#!lua name=fuzz\n".to_vec();
        lib.extend_from_slice(body);
        let _ = fx.db.call([&b"FUNCTION"[..], b"LOAD", b"REPLACE", &lib]);
        let _ = fx.db.call(["FCALL", "f", "1", "k1", "a1"]);
    }
    let after = probe(&fx.db);
    assert_eq!(after, fx.baseline, "the script changed the sandbox");
    let _ = fx.db.call(["FLUSHALL"]);
    let _ = fx.db.call(["SCRIPT", "FLUSH"]);
});
