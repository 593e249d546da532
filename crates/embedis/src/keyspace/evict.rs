//! maxmemory eviction (Redis's eight policies) and the LRU/LFU data it reads.
//!
//! **Metadata.** Every entry has one 32-bit word, read per the current `maxmemory-policy` as
//! in Redis: the LRU clock of its last access ([`lru_clock`], in 10 ms units: finer than
//! Redis's 1 s, which tells recently used keys apart better, and wraps after 497 days), or for
//! the LFU policies Redis's layout, 16 bits of minutes (last decrement time) and an 8-bit
//! logarithmic counter ([`lfu_touch`], with `lfu-log-factor` and `lfu-decay-time`). Switching
//! between LRU and LFU reinterprets old words until keys are touched, as Redis does.
//!
//! **Eviction** works like Redis's `performEvictions`: before a command runs, while
//! `used_memory` is over `maxmemory`, sample `maxmemory-samples` keys in each database that
//! has candidates (all keys, or volatile keys for `volatile-*`), keep the best in a pool of
//! [`POOL_SIZE`] across rounds, and evict the best of the pool; the random policies evict a
//! random key. A round costs O(samples) whatever the keyspace's size, so eviction is O(1)
//! amortized per write. Sampling one shard per round draws uniformly (keys are spread over
//! shards by hash); volatile keys are drawn from the expiry index at a random time point, so
//! no second table of volatile keys is kept, and `volatile-ttl` always adds the sampled shard's
//! soonest-expiring key (the index is ordered), which makes it close to exact. A pass stops after [`TIME_LIMIT_US`] with
//! progress made ([`Outcome::Running`]: the command runs, the rest is evicted by the next
//! commands and the background cycle), like Redis's eviction time limit.

use std::cell::Cell;

use super::{Access, Keyspace, SHARDS};
use crate::clock::Stopwatch;
use crate::stats::Stats;

/// Candidates kept between eviction rounds (Redis's `EVPOOL_SIZE`).
pub const POOL_SIZE: usize = 16;
/// Longest an eviction pass runs before letting the command through (Redis's default
/// `maxmemory-eviction-tenacity` of 10 gives 500 µs).
pub const TIME_LIMIT_US: u64 = 500;

/// Units of the LRU clock, in milliseconds.
pub const LRU_UNIT_MS: u64 = 10;
/// The LFU counter of a new key (Redis's `LFU_INIT_VAL`).
pub const LFU_INIT_VAL: u32 = 5;

/// A `maxmemory-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Refuse writes that may grow memory.
    #[default]
    NoEviction,
    /// Least recently used among all keys.
    AllKeysLru,
    /// Least recently used among keys with a TTL.
    VolatileLru,
    /// Least frequently used among all keys.
    AllKeysLfu,
    /// Least frequently used among keys with a TTL.
    VolatileLfu,
    /// Any key.
    AllKeysRandom,
    /// Any key with a TTL.
    VolatileRandom,
    /// The key with the nearest expiry.
    VolatileTtl,
}

impl Policy {
    /// From its configuration name.
    pub fn parse(name: &str) -> Option<Policy> {
        Some(match name {
            "noeviction" => Policy::NoEviction,
            "allkeys-lru" => Policy::AllKeysLru,
            "volatile-lru" => Policy::VolatileLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "volatile-lfu" => Policy::VolatileLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => return None,
        })
    }

    /// Whether entries' metadata words count LFU.
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    /// Whether only keys with a TTL may be evicted.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    fn is_random(self) -> bool {
        matches!(self, Policy::AllKeysRandom | Policy::VolatileRandom)
    }
}

// ---------------------------------------------------------------------------------------
// LRU

/// The LRU clock at `now_ms` (wrapping).
#[inline]
pub fn lru_clock(now_ms: u64) -> u32 {
    (now_ms / LRU_UNIT_MS) as u32
}

/// Milliseconds since the access recorded in LRU word `meta`.
#[inline]
pub fn lru_idle_ms(meta: u32, now_ms: u64) -> u64 {
    u64::from(lru_clock(now_ms).wrapping_sub(meta)) * LRU_UNIT_MS
}

/// Whole seconds between the access recorded in `meta` and `now_ms`, counted like Redis
/// (difference of whole-second clocks): OBJECT IDLETIME.
pub fn lru_idle_secs(meta: u32, now_ms: u64) -> u64 {
    let now_units = now_ms / LRU_UNIT_MS;
    let then_units = now_units.saturating_sub(u64::from(lru_clock(now_ms).wrapping_sub(meta)));
    now_ms / 1000 - then_units * LRU_UNIT_MS / 1000
}

/// The LRU word of an access `idle_secs` before `now_ms` (loading a saved idle time).
pub fn lru_with_idle(now_ms: u64, idle_secs: u64) -> u32 {
    lru_clock(now_ms.saturating_sub(idle_secs.saturating_mul(1000)))
}

// ---------------------------------------------------------------------------------------
// LFU (Redis's evict.c, same arithmetic)

fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xFFFF) as u32
}

/// The LFU word of a key created at `now_ms`.
pub fn lfu_new(now_ms: u64) -> u32 {
    (lfu_minutes(now_ms) << 8) | LFU_INIT_VAL
}

/// The LFU word for counter `freq` at `now_ms` (loading a saved frequency).
pub fn lfu_with_freq(now_ms: u64, freq: u8) -> u32 {
    (lfu_minutes(now_ms) << 8) | u32::from(freq)
}

/// The counter of LFU word `meta` after decay (Redis's `LFUDecrAndReturn`): OBJECT FREQ.
pub fn lfu_counter(meta: u32, now_ms: u64, decay_time: u32) -> u32 {
    // 16 bits of minutes, as in Redis; after a switch from LRU the word holds anything.
    let ldt = (meta >> 8) & 0xFFFF;
    let counter = meta & 0xFF;
    let now = lfu_minutes(now_ms);
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    };
    let periods = elapsed.checked_div(decay_time).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// The LFU word after an access at `now_ms` (Redis's `updateLFU`: decay, then a logarithmic
/// increment).
pub fn lfu_touch(meta: u32, now_ms: u64, log_factor: u32, decay_time: u32) -> u32 {
    let mut counter = lfu_counter(meta, now_ms, decay_time);
    if counter < 255 {
        let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
        let p = 1.0 / (base * f64::from(log_factor) + 1.0);
        if random_unit() < p {
            counter += 1;
        }
    }
    (lfu_minutes(now_ms) << 8) | counter
}

thread_local! {
    static LFU_RNG: Cell<u64> = const { Cell::new(0x9E37_79B9_7F4A_7C15) };
}

/// A random number in [0, 1) for the LFU increment: a per-thread xorshift, since taking the
/// engine's generator lock on every read would cost more than the read.
fn random_unit() -> f64 {
    LFU_RNG.with(|c| {
        let mut x = c.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

// ---------------------------------------------------------------------------------------
// The pool and the eviction pass

#[derive(Debug, Clone)]
struct Candidate {
    /// Higher is evicted first: idle time, 255 - frequency, or time-to-expiry reversed.
    score: u64,
    db: usize,
    hash: u64,
    key: Vec<u8>,
}

/// Eviction state kept between passes.
#[derive(Debug, Default)]
pub struct Evictor {
    /// Best candidates so far, ascending by score.
    pool: Vec<Candidate>,
    /// Next database for the random policies (Redis's `next_db`).
    next_db: usize,
    /// The policy the pool was filled under.
    pool_policy: Policy,
}

impl Evictor {
    fn accepts(&self, score: u64) -> bool {
        self.pool.len() < POOL_SIZE || self.pool.first().is_some_and(|c| score > c.score)
    }

    fn insert(&mut self, c: Candidate) {
        if self.pool.iter().any(|p| p.hash == c.hash && p.db == c.db) {
            return;
        }
        let at = self.pool.partition_point(|p| p.score < c.score);
        self.pool.insert(at, c);
        if self.pool.len() > POOL_SIZE {
            self.pool.remove(0);
        }
    }
}

/// What an eviction pass achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Memory is within the limit (or there is none).
    Ok,
    /// Keys were evicted but the pass ran out of time: let the command run.
    Running,
    /// Over the limit with nothing (more) to evict: refuse commands that may grow memory.
    Fail,
}

/// The settings a pass runs with.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `maxmemory` (0: none).
    pub maxmemory: u64,
    /// `maxmemory-policy`.
    pub policy: Policy,
    /// `maxmemory-samples`.
    pub samples: usize,
}

/// Runs `f` on a view holding shard `idx`: `held` (all shards) or a fresh lock.
fn on_shard<R>(
    ks: &Keyspace,
    stats: &Stats,
    held: &mut Option<&mut Access<'_>>,
    idx: usize,
    now_ms: u64,
    f: impl FnOnce(&mut Access<'_>) -> R,
) -> R {
    match held {
        Some(a) => f(a),
        None => f(&mut ks.lock_shard(idx, stats, now_ms)),
    }
}

/// Evicts keys per `limits` until `used_memory` is within `maxmemory`. `held` is the lock
/// EXEC or a script holds; `rand` draws random numbers.
pub fn perform(
    ks: &Keyspace,
    stats: &Stats,
    mut held: Option<&mut Access<'_>>,
    now_ms: u64,
    limits: Limits,
    rand: &mut dyn FnMut() -> u64,
) -> Outcome {
    if limits.maxmemory == 0 || ks.used_memory() <= limits.maxmemory {
        return Outcome::Ok;
    }
    if limits.policy == Policy::NoEviction {
        return Outcome::Fail;
    }
    let watch = Stopwatch::start();
    let mut evicted = 0u64;
    while ks.used_memory() > limits.maxmemory {
        let done = if limits.policy.is_random() {
            evict_random(ks, stats, &mut held, now_ms, limits.policy, rand)
        } else {
            evict_from_pool(ks, stats, &mut held, now_ms, limits, rand)
        };
        if !done {
            return Outcome::Fail;
        }
        evicted += 1;
        if evicted % 16 == 0 && watch.elapsed_micros() > TIME_LIMIT_US {
            return Outcome::Running;
        }
    }
    Outcome::Ok
}

/// Whether database `db` has keys the policy may evict.
fn has_candidates(ks: &Keyspace, db: usize, policy: Policy) -> bool {
    let t = ks.totals(db);
    if policy.volatile_only() {
        t.volatile() > 0
    } else {
        t.keys() > 0
    }
}

/// A shard whose table of `db` has candidates, starting from a random one (it locks up to
/// every shard to find one: only a nearly empty database needs more than one try).
fn pick_shard(
    ks: &Keyspace,
    stats: &Stats,
    held: &mut Option<&mut Access<'_>>,
    now_ms: u64,
    db: usize,
    volatile: bool,
    rand: &mut dyn FnMut() -> u64,
) -> Option<usize> {
    let start = (rand() % SHARDS as u64) as usize;
    (0..SHARDS).map(|i| (start + i) % SHARDS).find(|&idx| {
        on_shard(ks, stats, held, idx, now_ms, |a| {
            let t = a.shard_table_ref(idx, db);
            if volatile {
                t.volatile_len() > 0
            } else {
                !t.is_empty()
            }
        })
    })
}

fn evict_random(
    ks: &Keyspace,
    stats: &Stats,
    held: &mut Option<&mut Access<'_>>,
    now_ms: u64,
    policy: Policy,
    rand: &mut dyn FnMut() -> u64,
) -> bool {
    let dbs = ks.databases();
    let volatile = policy.volatile_only();
    for _ in 0..dbs {
        let db = {
            let mut ev = ks.evictor.lock();
            ev.next_db = (ev.next_db + 1) % dbs;
            ev.next_db
        };
        if !has_candidates(ks, db, policy) {
            continue;
        }
        let Some(idx) = pick_shard(ks, stats, held, now_ms, db, volatile, rand) else {
            continue;
        };
        let done = on_shard(ks, stats, held, idx, now_ms, |a| {
            let t = a.shard_table_ref(idx, db);
            let key = if volatile {
                t.sample_volatile(rand()).and_then(|(at, hash)| {
                    t.entries_with_hash(hash)
                        .find(|e| e.expire_raw() == at)
                        .map(|e| e.key().to_vec())
                })
            } else {
                t.random(&mut *rand).map(|e| e.key().to_vec())
            };
            key.is_some_and(|k| a.evict(db, &k))
        });
        if done {
            return true;
        }
    }
    false
}

fn evict_from_pool(
    ks: &Keyspace,
    stats: &Stats,
    held: &mut Option<&mut Access<'_>>,
    now_ms: u64,
    limits: Limits,
    rand: &mut dyn FnMut() -> u64,
) -> bool {
    let policy = limits.policy;
    let volatile = policy.volatile_only();
    let decay = ks.lfu_decay_time();
    {
        let mut ev = ks.evictor.lock();
        if ev.pool_policy != policy {
            ev.pool.clear();
            ev.pool_policy = policy;
        }
    }
    // A few rounds at most: candidates may vanish between sampling and eviction.
    for _ in 0..8 {
        let mut any = false;
        for db in 0..ks.databases() {
            if !has_candidates(ks, db, policy) {
                continue;
            }
            let Some(idx) = pick_shard(ks, stats, held, now_ms, db, volatile, rand) else {
                continue;
            };
            any = true;
            on_shard(ks, stats, held, idx, now_ms, |a| {
                let t = a.shard_table_ref(idx, db);
                let mut ev = ks.evictor.lock();
                for i in 0..limits.samples.max(1) {
                    let e = if volatile {
                        // volatile-ttl: the shard's own soonest key is always one of the
                        // samples (its expiry index is ordered), which Redis cannot do.
                        let pick = if i == 0 && policy == Policy::VolatileTtl {
                            t.first_volatile()
                        } else {
                            t.sample_volatile(rand())
                        };
                        pick.and_then(|(at, hash)| {
                            t.entries_with_hash(hash).find(|e| e.expire_raw() == at)
                        })
                    } else {
                        t.random(&mut *rand)
                    };
                    let Some(e) = e else { break };
                    let score = match policy {
                        Policy::VolatileTtl => u64::MAX - e.expire_raw(),
                        _ if policy.is_lfu() => {
                            255 - u64::from(lfu_counter(e.meta(), now_ms, decay))
                        }
                        _ => lru_idle_ms(e.meta(), now_ms),
                    };
                    if ev.accepts(score) {
                        let hash = ks.hash(e.key());
                        ev.insert(Candidate {
                            score,
                            db,
                            hash,
                            key: e.key().to_vec(),
                        });
                    }
                }
            });
        }
        if !any {
            return false;
        }
        // Evict the best candidate that still exists.
        loop {
            let Some(c) = ks.evictor.lock().pool.pop() else {
                break;
            };
            let idx = Keyspace::shard_of(c.hash);
            let done = on_shard(ks, stats, held, idx, now_ms, |a| {
                let ok = a
                    .shard_table_ref(idx, c.db)
                    .get(c.hash, &c.key)
                    .is_some_and(|e| !volatile || e.expire_raw() != 0);
                ok && a.evict(c.db, &c.key)
            });
            if done {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_idle_counts_whole_seconds_like_redis() {
        let t0 = 1_700_000_000_900;
        let meta = lru_clock(t0);
        assert_eq!(lru_idle_secs(meta, t0), 0);
        assert_eq!(lru_idle_secs(meta, t0 + 150), 1);
        assert_eq!(lru_idle_secs(meta, t0 + 5000), 5);
        assert_eq!(lru_idle_ms(meta, t0 + 5000), 5000);
        assert_eq!(lru_idle_secs(lru_with_idle(t0, 30), t0), 30);
    }

    #[test]
    fn lfu_follows_redis_arithmetic() {
        let t0 = 1_700_000_000_000;
        let m = lfu_new(t0);
        assert_eq!(lfu_counter(m, t0, 1), 5);
        // At the initial value the first increment is certain.
        assert_eq!(lfu_counter(lfu_touch(m, t0, 10, 1), t0, 1), 6);
        // One decay period per `lfu-decay-time` minutes.
        assert_eq!(lfu_counter(m, t0 + 3 * 60_000, 1), 2);
        assert_eq!(lfu_counter(m, t0 + 3 * 60_000, 0), 5);
        assert_eq!(lfu_counter(m, t0 + 30 * 60_000, 1), 0);
        // Any word (an LRU clock left by a policy switch) reads without overflow.
        for w in [0, u32::MAX, lru_clock(t0), 0x00FF_FFFF] {
            assert!(lfu_counter(w, t0, 1) <= 255);
            assert!(lfu_counter(lfu_touch(w, t0, 10, 1), t0, 1) <= 255);
        }
        // Logarithmic: a million hits with factor 10 land near Redis's table (255 is 1M+).
        let mut m = m;
        for _ in 0..100_000 {
            m = lfu_touch(m, t0, 10, 1);
        }
        let c = lfu_counter(m, t0, 1);
        assert!((120..=160).contains(&c), "{c}");
    }

    #[test]
    fn pool_keeps_the_best() {
        let mut ev = Evictor::default();
        for s in 0..100u64 {
            let score = (s * 37) % 100;
            if ev.accepts(score) {
                ev.insert(Candidate {
                    score,
                    db: 0,
                    hash: s,
                    key: vec![],
                });
            }
        }
        let scores: Vec<u64> = ev.pool.iter().map(|c| c.score).collect();
        assert_eq!(scores, (84..100).collect::<Vec<_>>());
    }
}
