//! HyperLogLog in Redis's exact byte format, so that an HLL is an ordinary string value whose
//! bytes (GET, DUMP, RDB) are those Redis would hold after the same commands.
//!
//! Layout (Redis's `struct hllhdr`): `"HYLL"`, one encoding byte (0 dense, 1 sparse), three
//! unused bytes, the cached cardinality as 8 little-endian bytes whose top bit marks it stale,
//! then the registers: 16384 registers of 6 bits (`P = 14`), either packed LSB-first
//! (dense, always 12304 bytes in all) or run-length coded (sparse):
//!
//! - `00xxxxxx` ZERO: `x + 1` registers (1..=64) set to 0;
//! - `01xxxxxx yyyyyyyy` XZERO: `xy + 1` registers (1..=16384) set to 0;
//! - `1vvvvvxx` VAL: `x + 1` registers (1..=4) set to `v + 1` (1..=32).
//!
//! Elements are hashed with MurmurHash64A (seed `0xadc83b19`); the low 14 bits pick the
//! register, the run of zeros after them (plus one) is the value. A sparse HLL becomes dense
//! when a value above 32 must be stored or when it would grow past `hll-sparse-max-bytes`.
//! The estimator is Redis 7.0's (Otmar Ertl's improved raw estimator). Every function follows
//! the C of `hyperloglog.c` step for step, including how a sparse update is split and merged
//! back, because those choices show in the stored bytes.

/// Register index bits.
const P: u32 = 14;
/// Bits of the hash left for the run of zeros.
const Q: usize = 64 - P as usize;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
const P_MASK: u64 = (REGISTERS - 1) as u64;
/// Bits per dense register.
const BITS: usize = 6;
const REGISTER_MAX: u32 = (1 << BITS) - 1;
/// Header bytes before the registers.
pub const HDR_SIZE: usize = 16;
/// Length of a dense HLL, header included.
pub const DENSE_SIZE: usize = HDR_SIZE + (REGISTERS * BITS).div_ceil(8);
/// Encoding byte of a dense HLL.
pub const DENSE: u8 = 0;
/// Encoding byte of a sparse HLL.
pub const SPARSE: u8 = 1;
const MAX_ENCODING: u8 = 1;

const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;

/// `0.5 / ln 2`, the estimator's constant for an infinite number of registers (Redis's
/// literal, digits and all).
#[allow(clippy::excessive_precision)]
const ALPHA_INF: f64 = 0.721_347_520_444_481_703_680;
const SEED: u64 = 0xadc8_3b19;

/// The registers do not describe 16384 registers (Redis's "Corrupted HLL object detected").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// Redis's `MurmurHash64A`, reading 8-byte blocks little-endian.
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut blocks = key.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().expect("8-byte block"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate().rev() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element lands in and the value it offers (`hllPatLen`).
pub fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, SEED);
    let index = (hash & P_MASK) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---------------------------------------------------------------------------------------
// Header

/// A new, empty HLL as Redis creates it: sparse, one XZERO covering every register.
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR_SIZE + 2 * REGISTERS.div_ceil(SPARSE_XZERO_MAX_LEN));
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.extend_from_slice(&[0; 11]);
    let mut left = REGISTERS;
    while left > 0 {
        let run = left.min(SPARSE_XZERO_MAX_LEN);
        push_xzero(&mut v, run);
        left -= run;
    }
    v
}

/// Whether `bytes` pass Redis's `isHLLObjectOrReply` check (magic, known encoding, exact
/// dense length). The registers themselves are only checked when read.
pub fn is_hll(bytes: &[u8]) -> bool {
    bytes.len() >= HDR_SIZE
        && &bytes[..4] == b"HYLL"
        && bytes[4] <= MAX_ENCODING
        && (bytes[4] != DENSE || bytes.len() == DENSE_SIZE)
}

/// Marks the cached cardinality stale.
pub fn invalidate_cache(hll: &mut [u8]) {
    hll[15] |= 1 << 7;
}

/// The cached cardinality, if it is valid.
pub fn cached_count(hll: &[u8]) -> Option<u64> {
    (hll[15] & (1 << 7) == 0)
        .then(|| u64::from_le_bytes(hll[8..16].try_into().expect("8 header bytes")))
}

/// Stores a freshly computed cardinality (valid).
pub fn set_cached_count(hll: &mut [u8], count: u64) {
    hll[8..16].copy_from_slice(&count.to_le_bytes());
}

// ---------------------------------------------------------------------------------------
// Dense registers

fn dense_get(regs: &[u8], index: usize) -> u8 {
    let bit = index * BITS;
    let (byte, fb) = (bit / 8, bit & 7);
    let b0 = regs[byte] as u32;
    // Past the last register C reads the string's terminating NUL.
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u32;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX) as u8
}

fn dense_put(regs: &mut [u8], index: usize, value: u8) {
    let bit = index * BITS;
    let (byte, fb) = (bit / 8, bit & 7);
    let v = value as u32;
    regs[byte] &= !(REGISTER_MAX << fb) as u8;
    regs[byte] |= (v << fb) as u8;
    if let Some(next) = regs.get_mut(byte + 1) {
        *next &= !(REGISTER_MAX >> (8 - fb)) as u8;
        *next |= (v >> (8 - fb)) as u8;
    }
}

/// Raises register `index` of a dense HLL to `count`; true if it changed (`hllDenseSet`).
fn dense_set(hll: &mut [u8], index: usize, count: u8) -> bool {
    let regs = &mut hll[HDR_SIZE..];
    if count > dense_get(regs, index) {
        dense_put(regs, index, count);
        true
    } else {
        false
    }
}

// ---------------------------------------------------------------------------------------
// Sparse opcodes

fn is_zero(b: u8) -> bool {
    b & 0xc0 == 0
}

fn is_xzero(b: u8) -> bool {
    b & 0xc0 == 0x40
}

fn is_val(b: u8) -> bool {
    b & 0x80 != 0
}

fn zero_len(b: u8) -> usize {
    (b & 0x3f) as usize + 1
}

fn xzero_len(b: u8, next: u8) -> usize {
    ((((b & 0x3f) as usize) << 8) | next as usize) + 1
}

fn val_value(b: u8) -> u8 {
    ((b >> 2) & 0x1f) + 1
}

fn val_len(b: u8) -> usize {
    (b & 0x3) as usize + 1
}

fn val_op(value: u8, len: usize) -> u8 {
    (((value - 1) << 2) | (len as u8 - 1)) | 0x80
}

fn zero_op(len: usize) -> u8 {
    (len - 1) as u8
}

fn push_xzero(out: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    out.push((l >> 8) as u8 | 0x40);
    out.push((l & 0xff) as u8);
}

/// A run of `len` zero registers: ZERO when it fits, else XZERO.
fn push_zeros(out: &mut Vec<u8>, len: usize) {
    if len > SPARSE_ZERO_MAX_LEN {
        push_xzero(out, len);
    } else {
        out.push(zero_op(len));
    }
}

/// One sparse opcode at `p`: (registers covered, bytes, value). Past the end C reads the
/// terminating NUL, hence the 0.
fn opcode(hll: &[u8], p: usize) -> (usize, usize, u8) {
    let b = hll[p];
    if is_zero(b) {
        (zero_len(b), 1, 0)
    } else if is_xzero(b) {
        (xzero_len(b, hll.get(p + 1).copied().unwrap_or(0)), 2, 0)
    } else {
        (val_len(b), 1, val_value(b))
    }
}

/// Rewrites a sparse HLL as dense (`hllSparseToDense`); the header, cached cardinality
/// included, is kept.
pub fn sparse_to_dense(hll: &mut Vec<u8>) -> Result<(), Corrupt> {
    if hll[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR_SIZE].copy_from_slice(&hll[..HDR_SIZE]);
    dense[4] = DENSE;
    let mut idx = 0;
    let mut p = HDR_SIZE;
    while p < hll.len() {
        let (run, oplen, value) = opcode(hll, p);
        if value > 0 {
            if run + idx > REGISTERS {
                break;
            }
            for i in idx..idx + run {
                dense_put(&mut dense[HDR_SIZE..], i, value);
            }
        }
        idx += run;
        p += oplen;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    *hll = dense;
    Ok(())
}

/// Raises register `index` of a sparse HLL to `count` (`hllSparseSet`): true if it changed.
/// Splits the opcode covering the register, then merges equal neighbours back, exactly as
/// Redis does; becomes dense when `count` does not fit a VAL opcode or the result would
/// pass `sparse_max` bytes.
fn sparse_set(
    hll: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max: usize,
) -> Result<bool, Corrupt> {
    if count > SPARSE_VAL_MAX_VALUE {
        return promote(hll, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let end = hll.len();
    let mut p = HDR_SIZE;
    let mut first = 0;
    let mut prev = None;
    let mut span = 0;
    while p < end {
        let (run, oplen, _) = opcode(hll, p);
        span = run;
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(Corrupt);
    }
    let b = hll[p];
    let (runlen, _, _) = opcode(hll, p);
    let (zero, xzero, val) = (is_zero(b), is_xzero(b), is_val(b));

    // Step 2: the cases updated in place.
    let mut trivial = false;
    if val {
        if val_value(b) >= count {
            return Ok(false);
        }
        if runlen == 1 {
            hll[p] = val_op(count, 1);
            trivial = true;
        }
    }
    if !trivial && zero && runlen == 1 {
        hll[p] = val_op(count, 1);
        trivial = true;
    }
    if !trivial {
        // The general case: split the opcode into up to three.
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        let last = first + span - 1;
        if zero || xzero {
            if index != first {
                push_zeros(&mut seq, index - first);
            }
            seq.push(val_op(count, 1));
            if index != last {
                push_zeros(&mut seq, last - index);
            }
        } else {
            let current = val_value(b);
            if index != first {
                seq.push(val_op(current, index - first));
            }
            seq.push(val_op(count, 1));
            if index != last {
                seq.push(val_op(current, last - index));
            }
        }
        // Step 3: put the sequence in place of the opcode.
        let oldlen = if xzero { 2 } else { 1 };
        if seq.len() > oldlen && hll.len() + (seq.len() - oldlen) > sparse_max {
            return promote(hll, index, count);
        }
        let old_end = (p + oldlen).min(hll.len());
        hll.splice(p..old_end, seq);
    }

    // Step 4: merge adjacent VAL opcodes of the same value, up to 5 opcodes from `prev`.
    let mut p = prev.unwrap_or(HDR_SIZE);
    let mut scan = 5;
    while p < hll.len() && scan > 0 {
        scan -= 1;
        let b = hll[p];
        if is_xzero(b) {
            p += 2;
            continue;
        } else if is_zero(b) {
            p += 1;
            continue;
        }
        if p + 1 < hll.len() && is_val(hll[p + 1]) {
            let (v1, v2) = (val_value(b), val_value(hll[p + 1]));
            if v1 == v2 {
                let len = val_len(b) + val_len(hll[p + 1]);
                if len <= SPARSE_VAL_MAX_LEN {
                    hll[p + 1] = val_op(v1, len);
                    hll.remove(p);
                    // Stay on the merged opcode: it may merge with the next one too.
                    continue;
                }
            }
        }
        p += 1;
    }
    invalidate_cache(hll);
    Ok(true)
}

/// Goes dense, then sets the register there (the set always changes it).
fn promote(hll: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    sparse_to_dense(hll)?;
    Ok(dense_set(hll, index, count))
}

/// Raises register `index` to `count` in either encoding; true if it changed.
pub fn set_register(
    hll: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max: usize,
) -> Result<bool, Corrupt> {
    match hll[4] {
        DENSE => Ok(dense_set(hll, index, count)),
        SPARSE => sparse_set(hll, index, count, sparse_max),
        _ => Err(Corrupt),
    }
}

/// Adds an element (`hllAdd`): true if a register changed. Does not touch the cached
/// cardinality unless a sparse update rewrote the registers (as in Redis; PFADD marks it
/// stale itself).
pub fn add(hll: &mut Vec<u8>, element: &[u8], sparse_max: usize) -> Result<bool, Corrupt> {
    let (index, count) = pattern(element);
    set_register(hll, index, count, sparse_max)
}

// ---------------------------------------------------------------------------------------
// Merging and counting

/// Raises `max[i]` to register `i` of `hll` (`hllMerge`).
pub fn merge_into(max: &mut [u8; REGISTERS], hll: &[u8]) -> Result<(), Corrupt> {
    if hll[4] == DENSE {
        let regs = &hll[HDR_SIZE..];
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(regs, i));
        }
        return Ok(());
    }
    let mut i = 0;
    let mut p = HDR_SIZE;
    while p < hll.len() {
        let (run, oplen, value) = opcode(hll, p);
        if value > 0 {
            if run + i > REGISTERS {
                break;
            }
            for m in &mut max[i..i + run] {
                *m = (*m).max(value);
            }
        }
        i += run;
        p += oplen;
    }
    if i != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// The histogram of register values of a stored HLL; `Err` for a sparse one that does not
/// cover exactly 16384 registers.
fn histogram(hll: &[u8]) -> Result<[u32; 64], Corrupt> {
    let mut histo = [0u32; 64];
    if hll[4] == DENSE {
        let regs = &hll[HDR_SIZE..];
        for i in 0..REGISTERS {
            histo[dense_get(regs, i) as usize] += 1;
        }
        return Ok(histo);
    }
    let mut idx = 0usize;
    let mut p = HDR_SIZE;
    while p < hll.len() {
        let (run, oplen, value) = opcode(hll, p);
        idx = idx.saturating_add(run);
        histo[value as usize] = histo[value as usize].saturating_add(run as u32);
        p += oplen;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(histo)
}

/// The cardinality estimate of a stored HLL (`hllCount`), ignoring the cache.
pub fn count(hll: &[u8]) -> Result<u64, Corrupt> {
    Ok(estimate(&histogram(hll)?))
}

/// The cardinality estimate of merged registers, one byte each (Redis's `HLL_RAW`).
pub fn count_registers(max: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u32; 64];
    for &r in max.iter() {
        histo[r as usize & 63] += 1;
    }
    estimate(&histo)
}

/// Otmar Ertl's estimator ("New cardinality estimation algorithms for HyperLogLog
/// sketches", arXiv:1702.01284), in Redis's order of operations.
fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let z_prime = z;
        z += x * y;
        y += y;
        if z_prime == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let z_prime = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if z_prime == z {
            return z / 3.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 3000;

    fn hll_of(n: u64) -> Vec<u8> {
        let mut h = new_sparse();
        for i in 0..n {
            add(&mut h, i.to_string().as_bytes(), MAX).unwrap();
        }
        h
    }

    #[test]
    fn murmur_matches_reference_values() {
        // The reference implementation (Austin Appleby's, which Redis copies) gives these.
        assert_eq!(murmur64a(b"", 0), 0);
        assert_ne!(murmur64a(b"a", SEED), murmur64a(b"b", SEED));
        // Blocks and tails both contribute.
        assert_ne!(murmur64a(b"12345678", SEED), murmur64a(b"123456789", SEED));
    }

    #[test]
    fn an_empty_hll_is_18_bytes_and_counts_zero() {
        let h = new_sparse();
        assert_eq!(h.len(), 18);
        assert_eq!(&h[..5], b"HYLL\x01");
        assert_eq!(&h[16..], &[0x7f, 0xff]);
        assert!(is_hll(&h));
        assert_eq!(count(&h), Ok(0));
        assert_eq!(cached_count(&h), Some(0));
    }

    #[test]
    fn estimates_are_close_in_both_encodings() {
        for n in [1u64, 10, 100, 1000, 10_000, 100_000] {
            let h = hll_of(n);
            let est = count(&h).unwrap() as f64;
            let err = (est - n as f64).abs() / n as f64;
            assert!(err < 0.05, "{n}: estimated {est}");
            let mut dense = h.clone();
            sparse_to_dense(&mut dense).unwrap();
            assert_eq!(
                count(&dense),
                count(&h),
                "{n}: same registers, same estimate"
            );
        }
        assert_eq!(hll_of(100_000)[4], DENSE, "large sets go dense");
        assert_eq!(hll_of(100)[4], SPARSE);
    }

    #[test]
    fn sparse_updates_agree_with_dense_updates() {
        let mut sparse = new_sparse();
        let mut dense = new_sparse();
        sparse_to_dense(&mut dense).unwrap();
        for i in 0..3000u32 {
            let e = (i * 7919).to_le_bytes();
            let a = add(&mut sparse, &e, usize::MAX).unwrap();
            let b = add(&mut dense, &e, usize::MAX).unwrap();
            assert_eq!(a, b, "element {i}");
        }
        assert_eq!(sparse[4], SPARSE);
        let mut converted = sparse.clone();
        sparse_to_dense(&mut converted).unwrap();
        assert_eq!(converted[HDR_SIZE..], dense[HDR_SIZE..]);
    }

    #[test]
    fn merged_registers_count_like_the_union() {
        let a = hll_of(1000);
        let mut b = new_sparse();
        for i in 500..1500u64 {
            add(&mut b, i.to_string().as_bytes(), MAX).unwrap();
        }
        let mut max = [0u8; REGISTERS];
        merge_into(&mut max, &a).unwrap();
        merge_into(&mut max, &b).unwrap();
        let union = hll_of(1500);
        assert_eq!(count_registers(&max), count(&union).unwrap());
    }

    #[test]
    fn corrupt_sparse_registers_are_detected() {
        let mut h = new_sparse();
        h[16] = 0x7f;
        h[17] = 0xfe; // covers 16383 registers
        assert_eq!(count(&h), Err(Corrupt));
        let mut max = [0u8; REGISTERS];
        assert_eq!(merge_into(&mut max, &h), Err(Corrupt));
        assert_eq!(sparse_to_dense(&mut h.clone()), Err(Corrupt));
        h.truncate(17); // an XZERO cut in half: an error or not, but no panic
        let _ = add(&mut h, b"x", MAX);
        let _ = count(&h);
        assert!(!is_hll(b"HYLL\x00 short"));
        assert!(!is_hll(
            b"HYLX\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff"
        ));
    }

    #[test]
    fn cache_bit_round_trips() {
        let mut h = new_sparse();
        set_cached_count(&mut h, 42);
        assert_eq!(cached_count(&h), Some(42));
        invalidate_cache(&mut h);
        assert_eq!(cached_count(&h), None);
    }
}
