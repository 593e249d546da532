//! Redis's intset blob (RDB type SET_INTSET): `u32` element width (2, 4 or 8), `u32` count,
//! then the sorted little-endian integers.

/// Why an intset could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntsetError;

/// Decodes an intset, requiring strictly ascending members (what Redis's validation asks).
pub fn decode(b: &[u8]) -> Result<Vec<i64>, IntsetError> {
    if b.len() < 8 {
        return Err(IntsetError);
    }
    let width = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let count = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    if !matches!(width, 2 | 4 | 8) || count.checked_mul(width) != Some(b.len() - 8) {
        return Err(IntsetError);
    }
    let mut out: Vec<i64> = Vec::with_capacity(count);
    for chunk in b[8..].chunks_exact(width) {
        let v = match width {
            2 => i16::from_le_bytes([chunk[0], chunk[1]]) as i64,
            4 => i32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) as i64,
            _ => i64::from_le_bytes(chunk.try_into().map_err(|_| IntsetError)?),
        };
        if out.last().is_some_and(|&last| last >= v) {
            return Err(IntsetError);
        }
        out.push(v);
    }
    Ok(out)
}

/// Encodes sorted integers in the narrowest width that holds them all.
pub fn encode(sorted: &[i64]) -> Vec<u8> {
    let fits = |lo: i64, hi: i64| sorted.iter().all(|v| (lo..=hi).contains(v));
    let width: usize = if fits(i16::MIN as i64, i16::MAX as i64) {
        2
    } else if fits(i32::MIN as i64, i32::MAX as i64) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * sorted.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    for v in sorted {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_bytes() {
        // The intset inside redis-server 7.0's DUMP of SADD s 1 2 3 70000.
        let redis = b"\x04\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00p\x11\x01\x00";
        assert_eq!(decode(redis).unwrap(), vec![1, 2, 3, 70000]);
        assert_eq!(encode(&[1, 2, 3, 70000]), redis.to_vec());
        let wide = [i64::MIN, -1, 0, i64::MAX];
        assert_eq!(decode(&encode(&wide)).unwrap(), wide.to_vec());
        assert!(decode(&encode(&[2, 1])).is_err(), "unsorted");
        assert!(decode(b"\x03\x00\x00\x00\x00\x00\x00\x00").is_err());
        assert!(decode(b"\x02\x00\x00\x00\x05\x00\x00\x00\x01\x00").is_err());
    }
}
