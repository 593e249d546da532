//! LZF, the compression Redis applies to long strings in RDB files (`rdbcompression`).
//!
//! The format: a control byte `c`; `c < 32` starts a literal run of `c + 1` bytes; otherwise
//! `len = c >> 5` (7 means "add the next byte") and a back reference of `len + 2` bytes at
//! distance `((c & 31) << 8 | next byte) + 1`. The compressor is a plain single-probe hash
//! of 3-byte sequences, as liblzf's; its output differs from Redis's byte for byte but any
//! LZF decoder (Redis's included) reads it.

/// Why a compressed block could not be expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LzfError;

const HLOG: u32 = 14;
const MAX_LIT: usize = 32;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// Compresses `input`; `None` if the result would not be shorter than `max_out` bytes.
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let n = input.len();
    if n < 4 {
        return None;
    }
    let out: Vec<u8> = Vec::with_capacity(max_out.min(n + n / 16 + 64));
    // The table is sized to the input: most strings saved are short, and zeroing a full
    // 64 KiB table for each would cost more than compressing them.
    let hlog = (usize::BITS - n.leading_zeros()).clamp(8, HLOG);
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        let table = &mut t[..1 << hlog];
        table.fill(0);
        compress_with(input, max_out, out, table, hlog)
    })
}

thread_local! {
    /// The match table, reused across calls (snapshots compress millions of strings).
    static TABLE: std::cell::RefCell<Vec<u32>> = std::cell::RefCell::new(vec![0u32; 1 << HLOG]);
}

fn compress_with(
    input: &[u8],
    max_out: usize,
    mut out: Vec<u8>,
    table: &mut [u32],
    hlog: u32,
) -> Option<Vec<u8>> {
    let n = input.len();
    let hash = |p: usize| -> usize {
        let v = (input[p] as u32) << 16 | (input[p + 1] as u32) << 8 | input[p + 2] as u32;
        ((v.wrapping_mul(2_654_435_761)) >> (32 - hlog)) as usize
    };
    let mut lit_start = 0usize; // start of pending literals
    let mut ip = 0usize;
    let flush_literals = |out: &mut Vec<u8>, from: usize, to: usize| {
        let mut s = from;
        while s < to {
            let run = (to - s).min(MAX_LIT);
            out.push((run - 1) as u8);
            out.extend_from_slice(&input[s..s + run]);
            s += run;
        }
    };
    while ip + 2 < n {
        let h = hash(ip);
        let cand = table[h] as usize;
        table[h] = ip as u32;
        // Candidates are stored as position + 1 so that 0 means empty.
        if cand > 0 {
            let r = cand - 1;
            let off = ip - r - 1;
            if r < ip
                && off < MAX_OFF
                && input[r] == input[ip]
                && input[r + 1] == input[ip + 1]
                && input[r + 2] == input[ip + 2]
            {
                let max_len = (n - ip).min(MAX_REF);
                let mut len = 3;
                while len < max_len && input[r + len] == input[ip + len] {
                    len += 1;
                }
                flush_literals(&mut out, lit_start, ip);
                let l = len - 2;
                if l < 7 {
                    out.push(((off >> 8) as u8) | ((l as u8) << 5));
                } else {
                    out.push(((off >> 8) as u8) | (7 << 5));
                    out.push((l - 7) as u8);
                }
                out.push(off as u8);
                if out.len() >= max_out {
                    return None;
                }
                // Index the positions inside the match cheaply: just the next one.
                let end = ip + len;
                ip += 1;
                while ip < end {
                    if ip + 2 < n {
                        table[hash(ip)] = ip as u32 + 1;
                    }
                    ip += 1;
                }
                lit_start = ip;
                continue;
            }
        }
        table[h] = ip as u32 + 1;
        ip += 1;
        if out.len() + (ip - lit_start) >= max_out {
            return None;
        }
    }
    flush_literals(&mut out, lit_start, n);
    (out.len() < max_out).then_some(out)
}

/// Expands `input` into exactly `out_len` bytes.
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, LzfError> {
    // A back reference of 3 input bytes yields at most 264 bytes: refuse lengths no input of
    // this size can produce before allocating them (a forged length must not allocate).
    if out_len > input.len().saturating_mul(MAX_REF).saturating_add(MAX_LIT) {
        return Err(LzfError);
    }
    let mut out = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(ip..ip + run).ok_or(LzfError)?;
            if out.len() + run > out_len {
                return Err(LzfError);
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip).ok_or(LzfError)? as usize;
                ip += 1;
            }
            len += 2;
            let low = *input.get(ip).ok_or(LzfError)? as usize;
            ip += 1;
            let back = ((ctrl & 0x1f) << 8 | low) + 1;
            if back > out.len() || out.len() + len > out_len {
                return Err(LzfError);
            }
            let start = out.len() - back;
            for i in 0..len {
                let b = out[start + i];
                out.push(b);
            }
        }
    }
    if out.len() != out_len {
        return Err(LzfError);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut samples: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"hello hello hello hello world world world".to_vec(),
            (0..5000u32).map(|i| (i % 7) as u8).collect(),
            (0..70_000u32).map(|i| (i / 300) as u8).collect(),
        ];
        let mut x = 12345u64;
        samples.push(
            (0..3000)
                .map(|_| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (x >> 60) as u8
                })
                .collect(),
        );
        for s in samples {
            let c = compress(&s, s.len()).expect("compressible");
            assert!(c.len() < s.len());
            assert_eq!(decompress(&c, s.len()).unwrap(), s);
        }
    }

    #[test]
    fn incompressible_is_refused_and_bad_input_is_an_error() {
        let s: Vec<u8> = (0..=255u8).collect();
        assert!(compress(&s, s.len() - 4).is_none());
        assert!(decompress(&[5, 1, 2], 6).is_err());
        assert!(
            decompress(&[0x20, 0x05], 3).is_err(),
            "reference before start"
        );
        assert!(decompress(&[0, b'a'], 2).is_err(), "short output");
        assert!(decompress(&[0, b'a'], usize::MAX).is_err());
    }

    #[test]
    fn decodes_redis_output() {
        // The block inside redis-server 7.0's DUMP of a 40-byte string of 'a'.
        let block = [0x01, 0x61, 0x61, 0xe0, 0x1b, 0x00, 0x01, 0x61, 0x61];
        assert_eq!(decompress(&block, 40).unwrap(), vec![b'a'; 40]);
    }
}
