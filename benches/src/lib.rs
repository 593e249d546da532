//! Shared fixtures for the benches: the preloaded key set and a scrambled visiting order,
//! so that every variant measured touches the same keys in the same cache-unfriendly order.

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

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
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
}
