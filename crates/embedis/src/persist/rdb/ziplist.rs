//! The encodings of older RDB files that Redis 7.0 still loads: ziplist (hashes, zsets and
//! lists before 7.0, quicklist v1 nodes) and zipmap (hashes before 2.6). Read only: embedis
//! writes listpacks, as Redis 7.0 does.

use super::listpack::Elem;

/// Why a ziplist or zipmap could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZiplistError;

fn take(b: &[u8], at: usize, len: usize) -> Result<&[u8], ZiplistError> {
    let end = at.checked_add(len).ok_or(ZiplistError)?;
    b.get(at..end).ok_or(ZiplistError)
}

/// Decodes a ziplist: `u32` bytes, `u32` tail offset, `u16` count, entries, 0xFF.
pub fn decode(z: &[u8]) -> Result<Vec<Elem<'_>>, ZiplistError> {
    if z.len() < 11 {
        return Err(ZiplistError);
    }
    let total = u32::from_le_bytes([z[0], z[1], z[2], z[3]]) as usize;
    let count = u16::from_le_bytes([z[8], z[9]]) as usize;
    if total != z.len() || z[z.len() - 1] != 0xFF {
        return Err(ZiplistError);
    }
    let end = z.len() - 1;
    let mut out = Vec::with_capacity(count.min(end / 2));
    let mut p = 10;
    let mut prev_len = 0usize;
    while p < end {
        let start = p;
        // prevlen: 1 byte, or 0xFE and a u32.
        let stored_prev = if z[p] < 0xFE {
            p += 1;
            z[p - 1] as usize
        } else if z[p] == 0xFE {
            let b = take(z, p + 1, 4)?;
            p += 5;
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
        } else {
            return Err(ZiplistError);
        };
        if stored_prev != prev_len {
            return Err(ZiplistError);
        }
        let c = *z.get(p).ok_or(ZiplistError)?;
        let elem = match c >> 6 {
            0 => {
                let len = (c & 0x3f) as usize;
                let s = take(z, p + 1, len)?;
                p += 1 + len;
                Elem::Bytes(s)
            }
            1 => {
                let len = ((c & 0x3f) as usize) << 8 | *z.get(p + 1).ok_or(ZiplistError)? as usize;
                let s = take(z, p + 2, len)?;
                p += 2 + len;
                Elem::Bytes(s)
            }
            2 => {
                let l = take(z, p + 1, 4)?;
                let len = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
                let s = take(z, p + 5, len)?;
                p += 5 + len;
                Elem::Bytes(s)
            }
            _ => {
                let (v, n) = match c {
                    0xC0 => {
                        let d = take(z, p + 1, 2)?;
                        (i16::from_le_bytes([d[0], d[1]]) as i64, 2)
                    }
                    0xD0 => {
                        let d = take(z, p + 1, 4)?;
                        (i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64, 4)
                    }
                    0xE0 => {
                        let d = take(z, p + 1, 8)?;
                        (
                            i64::from_le_bytes(d.try_into().map_err(|_| ZiplistError)?),
                            8,
                        )
                    }
                    0xF0 => {
                        let d = take(z, p + 1, 3)?;
                        let v = (d[0] as i32) | (d[1] as i32) << 8 | (d[2] as i32) << 16;
                        (((v << 8) >> 8) as i64, 3)
                    }
                    0xFE => (*z.get(p + 1).ok_or(ZiplistError)? as i8 as i64, 1),
                    0xF1..=0xFD => (((c & 0x0f) as i64) - 1, 0),
                    _ => return Err(ZiplistError),
                };
                p += 1 + n;
                Elem::Int(v)
            }
        };
        if p > end {
            return Err(ZiplistError);
        }
        prev_len = p - start;
        out.push(elem);
    }
    if count != u16::MAX as usize && count != out.len() {
        return Err(ZiplistError);
    }
    Ok(out)
}

/// Decodes a zipmap into alternating fields and values.
pub fn decode_zipmap(z: &[u8]) -> Result<Vec<&[u8]>, ZiplistError> {
    let mut out = Vec::new();
    let mut p = 1; // the first byte is a (saturating) count
    let read_len = |p: &mut usize| -> Result<Option<usize>, ZiplistError> {
        let c = *z.get(*p).ok_or(ZiplistError)?;
        match c {
            0xFF => Ok(None),
            0xFE => {
                let b = take(z, *p + 1, 4)?;
                *p += 5;
                Ok(Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize))
            }
            _ => {
                *p += 1;
                Ok(Some(c as usize))
            }
        }
    };
    while let Some(klen) = read_len(&mut p)? {
        out.push(take(z, p, klen)?);
        p += klen;
        let vlen = read_len(&mut p)?.ok_or(ZiplistError)?;
        let free = *z.get(p).ok_or(ZiplistError)? as usize;
        p += 1;
        out.push(take(z, p, vlen)?);
        p += vlen + free;
    }
    if p + 1 != z.len() {
        return Err(ZiplistError);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(entries: &[&[u8]]) -> Vec<u8> {
        // A ziplist of short strings and small immediate integers, as Redis 6 wrote them.
        let mut body = Vec::new();
        let mut prev = 0usize;
        for e in entries {
            let start = body.len();
            body.push(prev as u8);
            match std::str::from_utf8(e)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
            {
                Some(n) if (0..=12).contains(&n) => body.push(0xF1 + n as u8),
                Some(n) if i16::try_from(n).is_ok() => {
                    body.push(0xC0);
                    body.extend_from_slice(&(n as i16).to_le_bytes());
                }
                _ => {
                    body.push(e.len() as u8);
                    body.extend_from_slice(e);
                }
            }
            prev = body.len() - start;
        }
        let mut z = Vec::new();
        let total = 10 + body.len() + 1;
        z.extend_from_slice(&(total as u32).to_le_bytes());
        z.extend_from_slice(&0u32.to_le_bytes());
        z.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        z.extend_from_slice(&body);
        z.push(0xFF);
        z
    }

    #[test]
    fn decodes_strings_and_integers() {
        let z = build(&[b"field", b"7", b"other", b"-300"]);
        let d = decode(&z).unwrap();
        assert_eq!(
            d,
            vec![
                Elem::Bytes(b"field"),
                Elem::Int(7),
                Elem::Bytes(b"other"),
                Elem::Int(-300)
            ]
        );
        for cut in 0..z.len() {
            assert!(decode(&z[..cut]).is_err());
        }
    }

    #[test]
    fn decodes_zipmap() {
        // zmlen 2, "a" -> "1" (free 0), "bb" -> "xyz" (free 1), end.
        let z = b"\x02\x01a\x01\x001\x02bb\x03\x01xyz\x00\xff";
        assert_eq!(
            decode_zipmap(z).unwrap(),
            vec![&b"a"[..], b"1", b"bb", b"xyz"]
        );
        assert!(decode_zipmap(&z[..z.len() - 1]).is_err());
    }
}
