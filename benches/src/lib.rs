//! Shared fixtures for the benches: the preloaded key set, a scrambled visiting order (so
//! that every variant measured touches the same keys in the same cache-unfriendly order), and
//! a runner for the same operation on several threads at once.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Keys preloaded before measuring.
pub const KEYS: usize = 100_000;

/// `n` distinct keys, `key:0000000` style (11 bytes, like typical short Redis keys).
pub fn keys(n: usize) -> Vec<Bytes> {
    (0..n).map(|i| Bytes::from(format!("key:{i:07}"))).collect()
}

/// The value stored under every key (16 bytes).
pub fn value() -> Bytes {
    Bytes::from_static(b"value-0123456789")
}

/// Visits `0..n` in a fixed scrambled order (a stride coprime to `n`), so consecutive
/// operations hit unrelated keys as a real workload would, without the cost of a random
/// number generator inside the measured loop.
#[derive(Debug, Clone)]
pub struct Scrambled {
    n: usize,
    at: usize,
    stride: usize,
}

impl Scrambled {
    /// A visitor over `0..n` (`n > 0`).
    pub fn new(n: usize) -> Self {
        let mut stride = (n as f64 * 0.618_033_988_7) as usize | 1;
        while gcd(stride, n) != 1 {
            stride += 2;
        }
        Scrambled { n, at: 0, stride }
    }

    /// A visitor over `0..n` starting at `start` (threads start apart from each other).
    pub fn starting_at(n: usize, start: usize) -> Self {
        let mut s = Self::new(n);
        s.at = start % n;
        s
    }

    /// The next index.
    #[inline]
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> usize {
        self.at += self.stride;
        if self.at >= self.n {
            self.at -= self.n;
        }
        self.at
    }
}

/// Whether [`threaded`] reports wall-clock time (`EMBEDIS_BENCH_WALL=1`) rather than the
/// threads' CPU time.
fn wall_time() -> bool {
    std::env::var_os("EMBEDIS_BENCH_WALL").is_some_and(|v| v == "1")
}

/// Runs `op(index)` `iters` times on each of `threads` threads at once, each visiting
/// `0..n` in [`Scrambled`] order from its own starting point; returns the slowest thread's
/// CPU time (its wall-clock time with `EMBEDIS_BENCH_WALL=1`). CPU time, because the
/// machines these run on are shared: a thread that waits for a core would otherwise be
/// charged for the wait, and two variants measured a minute apart would compare the load,
/// not the code. (Time parked on a contended lock is not CPU time: compare 2-thread results
/// with wall time on an idle machine.) Criterion then reports the time per operation *per thread*: with 2 threads, the
/// aggregate throughput is twice the reported rate if the threads do not slow each other.
pub fn threaded<F>(threads: usize, n: usize, iters: u64, op: Arc<F>) -> Duration
where
    F: Fn(usize) + Send + Sync + 'static,
{
    let start = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let op = op.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                let mut i = Scrambled::starting_at(n, t * n / threads.max(1) + t);
                start.wait();
                let (t0, c0) = (Instant::now(), cpu_time::ThreadTime::try_now().ok());
                for _ in 0..iters {
                    op(i.next());
                }
                match c0 {
                    Some(c0) if !wall_time() => c0.elapsed(),
                    _ => t0.elapsed(),
                }
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("bench thread panicked"))
        .max()
        .unwrap_or_default()
}

/// Key counts the in-process benches run with: `EMBEDIS_BENCH_SIZES` (comma-separated), by
/// default 100k and 1M.
pub fn sizes() -> Vec<usize> {
    std::env::var("EMBEDIS_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![100_000, 1_000_000])
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A `redis-server` child on loopback, stopped when dropped.
pub struct RedisProcess(std::process::Child);

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl RedisProcess {
    /// Starts `redis-server` without persistence on `EMBEDIS_BENCH_REDIS_PORT` (else
    /// `default_port`) and waits until it listens; `None` (after saying so) when
    /// redis-server is not installed, so that a bench can skip its Redis leg.
    pub fn start(default_port: u16, what: &str) -> Option<(RedisProcess, u16)> {
        let port: u16 = std::env::var("EMBEDIS_BENCH_REDIS_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(default_port);
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn();
        let Ok(child) = child else {
            eprintln!("=== SKIPPED {what}: redis-server is not installed ===");
            return None;
        };
        let server = RedisProcess(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some((server, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrambled_visits_every_index_once_per_round() {
        for n in [1, 2, 7, 100, 1000] {
            let mut s = Scrambled::new(n);
            let mut seen = vec![false; n];
            for _ in 0..n {
                seen[s.next()] = true;
            }
            assert!(seen.iter().all(|&x| x), "n = {n}");
        }
    }

    #[test]
    fn threaded_runs_every_thread() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let count = Arc::new(AtomicU64::new(0));
        let c = count.clone();
        threaded(
            2,
            10,
            5,
            Arc::new(move |i: usize| {
                assert!(i < 10);
                c.fetch_add(1, Ordering::Relaxed);
            }),
        );
        assert_eq!(count.load(Ordering::Relaxed), 10);
    }
}
