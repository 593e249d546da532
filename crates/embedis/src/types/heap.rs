//! What an allocation really costs: the allocator model behind every `heap_size()` and the
//! keyspace's memory accounting (INFO `used_memory`, MEMORY USAGE, `maxmemory`).
//!
//! Redis counts memory with its allocator's `malloc_usable_size`. An embedded library cannot
//! impose a global allocator on its host, so embedis counts its own allocations and rounds
//! each one the way the platform allocator (glibc's ptmalloc on Linux, what a Rust program
//! uses by default) lays it out: an 8-byte header, 16-byte granularity and a 32-byte minimum
//! chunk; large blocks are served by `mmap` in whole pages. For jemalloc or mimalloc hosts the
//! model is within a few bytes per small allocation (their size classes are finer). The
//! benchmark in `benches/memory.sh` compares the accounted figure with the process's RSS.

/// Requests at least this large are served by `mmap` (glibc's initial threshold).
const MMAP_THRESHOLD: usize = 128 * 1024;
const PAGE: usize = 4096;

/// Bytes the allocator takes for a request of `n` bytes (0 for no allocation).
#[inline]
pub const fn block(n: usize) -> usize {
    if n == 0 {
        0
    } else if n >= MMAP_THRESHOLD {
        (n + 16 + PAGE - 1) & !(PAGE - 1)
    } else {
        let chunk = (n + 8 + 15) & !15;
        if chunk < 32 { 32 } else { chunk }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_chunk_sizes() {
        assert_eq!(block(0), 0);
        assert_eq!(block(1), 32);
        assert_eq!(block(24), 32);
        assert_eq!(block(25), 48);
        assert_eq!(block(56), 64);
        assert_eq!(block(57), 80);
        assert_eq!(block(200_000), 200_704);
    }
}
