//! Bitmaps: bit-level reads and writes over the bytes of a string value, with Redis's bit
//! order (bit 0 is the most significant bit of the first byte) and Redis's rules for ranges,
//! BITOP padding and BITFIELD overflow. Nothing here knows about keys, RESP or limits: callers
//! check offsets against proto-max-bulk-len before anything grows.

/// Bytes above which a growing bitmap reserves only 1 MB of slack instead of doubling (the
/// rule Redis's `sdsMakeRoomFor` follows), so that a bitmap near the size limit never holds
/// twice its length.
const GREEDY_GROWTH_LIMIT: usize = 1 << 20;

/// A byte index from a bit-derived `u64`. Offsets are bounded by proto-max-bulk-len before they
/// get here; saturating keeps a 32-bit build from wrapping.
#[inline]
fn to_index(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Mask selecting bit `offset` (0 = most significant) within its byte.
#[inline]
fn bit_mask(offset: u64) -> u8 {
    0x80 >> (offset & 7)
}

/// Mask of the bits of its byte that come before bit `offset`.
#[inline]
fn before_mask(offset: u64) -> u8 {
    !(0xffu8 >> (offset & 7))
}

/// Mask of the bits of its byte that come after bit `offset`.
#[inline]
fn after_mask(offset: u64) -> u8 {
    (0xffu16 >> ((offset & 7) + 1)) as u8
}

/// Extends `data` with zero bytes to at least `len` bytes.
pub fn grow_zeroed(data: &mut Vec<u8>, len: usize) {
    if data.len() >= len {
        return;
    }
    if len > data.capacity() {
        let target = if len < GREEDY_GROWTH_LIMIT {
            len.saturating_mul(2)
        } else {
            len.saturating_add(GREEDY_GROWTH_LIMIT)
        };
        data.reserve_exact(target - data.len());
    }
    data.resize(len, 0);
}

/// The bit at `offset`; bits past the end are 0.
pub fn get_bit(data: &[u8], offset: u64) -> bool {
    data.get(to_index(offset >> 3))
        .is_some_and(|b| b & bit_mask(offset) != 0)
}

/// Sets the bit at `offset` to `on`, growing `data` with zero bytes to reach it; returns the
/// bit's previous value.
pub fn set_bit(data: &mut Vec<u8>, offset: u64, on: bool) -> bool {
    let byte = to_index(offset >> 3);
    grow_zeroed(data, byte.saturating_add(1));
    let mask = bit_mask(offset);
    let old = data[byte] & mask != 0;
    if on {
        data[byte] |= mask;
    } else {
        data[byte] &= !mask;
    }
    old
}

/// Number of set bits.
pub fn popcount(data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(8);
    let mut n: u64 = 0;
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        n += u64::from(u64::from_ne_bytes(b).count_ones());
    }
    n + words
        .remainder()
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum::<u64>()
}

/// Number of set bits from bit `first` to bit `last`, both included and inside `data`.
fn popcount_bits(data: &[u8], first: u64, last: u64) -> u64 {
    let (fb, lb) = (to_index(first >> 3), to_index(last >> 3));
    let mut n = popcount(&data[fb..=lb]);
    // Bits of the edge bytes that lie outside the range.
    n -= u64::from((data[fb] & before_mask(first)).count_ones());
    n -= u64::from((data[lb] & after_mask(last)).count_ones());
    n
}

/// Whether range indexes count bytes (the default) or bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BitUnit {
    /// Indexes are byte positions.
    #[default]
    Byte,
    /// Indexes are bit positions.
    Bit,
}

/// An inclusive `start..=end` range as BITCOUNT and BITPOS take it; negative indexes count
/// from the end (-1 is the last byte or bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitRange {
    /// First index.
    pub start: i64,
    /// Last index, included.
    pub end: i64,
    /// What the indexes count.
    pub unit: BitUnit,
}

impl BitRange {
    /// A range of bytes.
    pub fn bytes(start: i64, end: i64) -> BitRange {
        BitRange {
            start,
            end,
            unit: BitUnit::Byte,
        }
    }

    /// A range of bits.
    pub fn bits(start: i64, end: i64) -> BitRange {
        BitRange {
            start,
            end,
            unit: BitUnit::Bit,
        }
    }
}

/// Where BITPOS looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PosRange {
    /// The whole string.
    #[default]
    All,
    /// From this byte index to the end of the string.
    From(i64),
    /// An explicit range.
    Range(BitRange),
}

impl From<BitRange> for PosRange {
    fn from(r: BitRange) -> Self {
        PosRange::Range(r)
    }
}

/// Resolves `start..=end` against a length of `total` units the way Redis does: negative
/// indexes count from the end, then both are clamped into the string. `None` when the range
/// is empty.
fn resolve(start: i64, end: i64, total: i64) -> Option<(u64, u64)> {
    let start = if start < 0 { total + start } else { start }.max(0);
    let end = if end < 0 { total + end } else { end }.max(0);
    let end = end.min(total - 1);
    (start <= end).then_some((start as u64, end as u64))
}

/// Bits in units of `unit` for a string of `len` bytes.
fn total_units(len: usize, unit: BitUnit) -> i64 {
    // A string is at most proto-max-bulk-len bytes, far below i64::MAX / 8.
    let len = i64::try_from(len).unwrap_or(i64::MAX >> 3);
    match unit {
        BitUnit::Byte => len,
        BitUnit::Bit => len << 3,
    }
}

/// BITCOUNT: the set bits of `data`, or of `range` of it.
pub fn count(data: &[u8], range: Option<BitRange>) -> u64 {
    let Some(r) = range else {
        return popcount(data);
    };
    // Redis answers 0 for two negative indexes in reverse order before clamping them (so
    // `-100 -200` is empty while `-100 -50` on a short string counts from byte 0).
    if r.start < 0 && r.end < 0 && r.start > r.end {
        return 0;
    }
    let Some((start, end)) = resolve(r.start, r.end, total_units(data.len(), r.unit)) else {
        return 0;
    };
    match r.unit {
        BitUnit::Byte => popcount(&data[to_index(start)..=to_index(end)]),
        BitUnit::Bit => popcount_bits(data, start, end),
    }
}

/// First bit equal to `bit` from bit `first` to bit `last` (both included, inside `data`).
fn find_bit(data: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    let (fb, lb) = (to_index(first >> 3), to_index(last >> 3));
    // Looking for a 0 is looking for a 1 in the complement; bits outside the range are
    // forced to the value that is not searched for.
    let flip = if bit { 0x00 } else { 0xff };
    let head = !before_mask(first);
    let tail = !after_mask(last);
    let mut i = fb;
    while i <= lb {
        let mut b = data[i] ^ flip;
        if i == fb {
            b &= head;
        }
        if i == lb {
            b &= tail;
        }
        if b != 0 {
            return Some(((i as u64) << 3) + u64::from(b.leading_zeros()));
        }
        i += 1;
        // Skip whole words that cannot match.
        let skip = if bit { 0u64 } else { u64::MAX };
        while i + 8 <= lb {
            let mut w = [0u8; 8];
            w.copy_from_slice(&data[i..i + 8]);
            if u64::from_ne_bytes(w) != skip {
                break;
            }
            i += 8;
        }
    }
    None
}

/// BITPOS: position of the first bit equal to `bit` in `range`, or -1.
///
/// When looking for a 0 without an explicit end, the string counts as padded with zeros on
/// the right, so a string of all ones answers the bit just past its end; with an explicit
/// end, or when looking for a 1, a miss is -1.
pub fn bitpos(data: &[u8], bit: bool, range: PosRange) -> i64 {
    let (start, end, unit, end_given) = match range {
        PosRange::All => (0, -1, BitUnit::Byte, false),
        PosRange::From(s) => (s, -1, BitUnit::Byte, false),
        PosRange::Range(r) => (r.start, r.end, r.unit, true),
    };
    let Some((start, end)) = resolve(start, end, total_units(data.len(), unit)) else {
        return -1;
    };
    let (first, last) = match unit {
        BitUnit::Byte => (start << 3, (end << 3) + 7),
        BitUnit::Bit => (start, end),
    };
    match find_bit(data, bit, first, last) {
        Some(p) => p as i64,
        None if !bit && !end_given => (last + 1) as i64,
        None => -1,
    }
}

/// A BITOP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BitOp {
    /// Bitwise AND of all sources.
    And,
    /// Bitwise OR of all sources.
    Or,
    /// Bitwise XOR of all sources.
    Xor,
    /// Bitwise NOT of the one source.
    Not,
}

impl BitOp {
    /// Parses an operation name, ASCII case-insensitively.
    pub fn parse(name: &[u8]) -> Option<BitOp> {
        [
            ("and", BitOp::And),
            ("or", BitOp::Or),
            ("xor", BitOp::Xor),
            ("not", BitOp::Not),
        ]
        .into_iter()
        .find(|(n, _)| name.eq_ignore_ascii_case(n.as_bytes()))
        .map(|(_, op)| op)
    }
}

/// Folds one more source into a BITOP result. `acc` is the result of the sources so far,
/// shorter sources counting as zero-padded; the first source starts as `acc` itself (or as
/// [`bitop_not`] of it). Working one source at a time keeps only one source borrowed.
pub fn bitop_fold(op: BitOp, acc: &mut Vec<u8>, src: &[u8]) {
    if src.len() > acc.len() {
        // Previous sources are zero past their end: AND stays zero there; OR and XOR take
        // the new source's bytes, which the loop below applies to zeros.
        grow_zeroed(acc, src.len());
    }
    match op {
        BitOp::And => {
            let (head, tail) = acc.split_at_mut(src.len());
            head.iter_mut().zip(src).for_each(|(a, s)| *a &= s);
            tail.fill(0);
        }
        BitOp::Or => acc.iter_mut().zip(src).for_each(|(a, s)| *a |= s),
        BitOp::Xor => acc.iter_mut().zip(src).for_each(|(a, s)| *a ^= s),
        BitOp::Not => {
            // NOT takes one source; a second one is refused before execution.
        }
    }
}

/// The complement of `src` (BITOP NOT).
pub fn bitop_not(src: &[u8]) -> Vec<u8> {
    src.iter().map(|b| !b).collect()
}

/// BITOP over in-memory sources: the bytes the destination receives (empty: delete it).
pub fn bitop(op: BitOp, sources: &[&[u8]]) -> Vec<u8> {
    let Some((first, rest)) = sources.split_first() else {
        return Vec::new();
    };
    if op == BitOp::Not {
        return bitop_not(first);
    }
    let mut acc = first.to_vec();
    for s in rest {
        bitop_fold(op, &mut acc, s);
    }
    acc
}

/// A BITFIELD integer type: `i1`..`i64` or `u1`..`u63` (u64 is refused, as in Redis, because
/// replies are signed 64-bit integers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldType {
    signed: bool,
    bits: u8,
}

impl FieldType {
    /// A signed type of `bits` bits (1..=64).
    pub fn signed(bits: u32) -> Option<FieldType> {
        (1..=64).contains(&bits).then_some(FieldType {
            signed: true,
            bits: bits as u8,
        })
    }

    /// An unsigned type of `bits` bits (1..=63).
    pub fn unsigned(bits: u32) -> Option<FieldType> {
        (1..=63).contains(&bits).then_some(FieldType {
            signed: false,
            bits: bits as u8,
        })
    }

    /// Parses `i<bits>` or `u<bits>` (lower case only, like Redis).
    pub fn parse(s: &[u8]) -> Option<FieldType> {
        let (&sign, digits) = s.split_first()?;
        let bits = crate::num::parse_i64(digits)?;
        let bits = u32::try_from(bits).ok()?;
        match sign {
            b'i' => FieldType::signed(bits),
            b'u' => FieldType::unsigned(bits),
            _ => None,
        }
    }

    /// Width in bits.
    pub fn bits(self) -> u32 {
        u32::from(self.bits)
    }

    /// Whether the type is signed.
    pub fn is_signed(self) -> bool {
        self.signed
    }
}

/// What BITFIELD does when SET or INCRBY does not fit the type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Wrap around (modulo arithmetic; signed values wrap to the other end). The default.
    #[default]
    Wrap,
    /// Saturate at the type's minimum or maximum.
    Sat,
    /// Leave the field unchanged and reply nil.
    Fail,
}

impl Overflow {
    /// Parses `WRAP`, `SAT` or `FAIL`, ASCII case-insensitively.
    pub fn parse(s: &[u8]) -> Option<Overflow> {
        [
            ("wrap", Overflow::Wrap),
            ("sat", Overflow::Sat),
            ("fail", Overflow::Fail),
        ]
        .into_iter()
        .find(|(n, _)| s.eq_ignore_ascii_case(n.as_bytes()))
        .map(|(_, o)| o)
    }
}

/// Where a field starts: a bit offset, or `#N`, the N-th field of the type's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOffset {
    /// A bit offset.
    Bit(u64),
    /// A field index: bit offset `index * width`.
    Index(u64),
}

impl From<u64> for FieldOffset {
    fn from(bit: u64) -> Self {
        FieldOffset::Bit(bit)
    }
}

impl FieldOffset {
    /// The bit offset for a field of `ty`; `None` if it does not fit in 64 bits.
    pub fn resolve(self, ty: FieldType) -> Option<u64> {
        match self {
            FieldOffset::Bit(b) => Some(b),
            FieldOffset::Index(i) => i.checked_mul(u64::from(ty.bits)),
        }
    }
}

/// What one BITFIELD operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldAction {
    /// Read the field.
    Get,
    /// Store a value; replies the previous one.
    Set(i64),
    /// Add to the field; replies the new value.
    IncrBy(i64),
}

/// One BITFIELD operation with its offset resolved to bits and its overflow rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldOp {
    /// The operation.
    pub action: FieldAction,
    /// The integer type.
    pub ty: FieldType,
    /// First bit of the field.
    pub offset: u64,
    /// Overflow rule in effect (SET and INCRBY).
    pub overflow: Overflow,
}

impl FieldOp {
    /// Whether the operation writes.
    pub fn writes(&self) -> bool {
        !matches!(self.action, FieldAction::Get)
    }

    /// Bytes a string must have for this field to be inside it.
    pub fn bytes_needed(&self) -> u64 {
        ((self.offset + u64::from(self.ty.bits) - 1) >> 3) + 1
    }
}

/// A BITFIELD request for the typed API: operations in order, each using the overflow rule
/// set before it.
///
/// ```
/// use embedis::types::bitmap::{BitField, FieldOffset, FieldType, Overflow};
/// let u8_ = FieldType::unsigned(8).unwrap();
/// let ops = BitField::new()
///     .set(u8_, FieldOffset::Index(1), 200)
///     .overflow(Overflow::Sat)
///     .incrby(u8_, 8, 100)
///     .get(u8_, 8);
/// assert_eq!(ops.ops().len(), 3);
/// ```
#[derive(Debug, Clone, Default)]
pub struct BitField {
    ops: Vec<(FieldAction, FieldType, FieldOffset, Overflow)>,
    overflow: Overflow,
}

impl BitField {
    /// An empty request.
    pub fn new() -> BitField {
        BitField::default()
    }

    fn push(mut self, action: FieldAction, ty: FieldType, offset: FieldOffset) -> Self {
        self.ops.push((action, ty, offset, self.overflow));
        self
    }

    /// GET: reads a field.
    pub fn get(self, ty: FieldType, offset: impl Into<FieldOffset>) -> Self {
        self.push(FieldAction::Get, ty, offset.into())
    }

    /// SET: stores `value`, replying the previous value.
    pub fn set(self, ty: FieldType, offset: impl Into<FieldOffset>, value: i64) -> Self {
        self.push(FieldAction::Set(value), ty, offset.into())
    }

    /// INCRBY: adds `incr`, replying the new value.
    pub fn incrby(self, ty: FieldType, offset: impl Into<FieldOffset>, incr: i64) -> Self {
        self.push(FieldAction::IncrBy(incr), ty, offset.into())
    }

    /// OVERFLOW: the rule for the SET and INCRBY operations that follow.
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// The operations: action, type, offset and overflow rule.
    pub fn ops(&self) -> &[(FieldAction, FieldType, FieldOffset, Overflow)] {
        &self.ops
    }
}

/// All-ones mask of the low `bits` bits (1..=64).
#[inline]
fn low_mask(bits: u32) -> u64 {
    u64::MAX >> (64 - bits)
}

/// Where the up-to-9 bytes holding a field sit: first byte index, how many bytes, and the
/// shift of the field inside those bytes read as a big-endian u128.
#[inline]
fn field_window(offset: u64, bits: u32) -> (usize, usize, u32) {
    let first = to_index(offset >> 3);
    let span = ((offset & 7) as u32 + bits).div_ceil(8) as usize;
    let shift = 128 - (offset & 7) as u32 - bits;
    (first, span, shift)
}

/// The raw bits of a field, zero-extended; bits past the end of `data` read as 0.
fn get_raw(data: &[u8], offset: u64, bits: u32) -> u64 {
    let (first, span, shift) = field_window(offset, bits);
    let mut buf = [0u8; 16];
    if first < data.len() {
        let avail = (data.len() - first).min(span);
        buf[..avail].copy_from_slice(&data[first..first + avail]);
    }
    ((u128::from_be_bytes(buf) >> shift) as u64) & low_mask(bits)
}

/// Writes the low `bits` bits of `value` at `offset`; `data` must hold the whole field.
fn set_raw(data: &mut [u8], offset: u64, bits: u32, value: u64) {
    let (first, span, shift) = field_window(offset, bits);
    let bytes = &mut data[first..first + span];
    let mut buf = [0u8; 16];
    buf[..span].copy_from_slice(bytes);
    let mask = u128::from(low_mask(bits)) << shift;
    let word = (u128::from_be_bytes(buf) & !mask) | ((u128::from(value) << shift) & mask);
    bytes.copy_from_slice(&word.to_be_bytes()[..span]);
}

/// Sign-extends the low `bits` bits of `raw`.
#[inline]
fn sign_extend(raw: u64, bits: u32) -> i64 {
    let unused = 64 - bits;
    ((raw << unused) as i64) >> unused
}

/// Reads a field as its type's value; bits past the end of `data` read as 0.
pub fn get_field(data: &[u8], ty: FieldType, offset: u64) -> i64 {
    let raw = get_raw(data, offset, ty.bits());
    if ty.signed {
        sign_extend(raw, ty.bits())
    } else {
        raw as i64
    }
}

/// The unsigned value to store for `value + incr` in `bits` bits under `overflow`, `None` to
/// leave the field alone (FAIL). Mirrors Redis's check, including that SET of a negative
/// value is an overflow (it is compared as a huge unsigned number), so SAT stores the maximum.
fn unsigned_outcome(value: u64, incr: i64, bits: u32, overflow: Overflow) -> Option<u64> {
    let max = low_mask(bits);
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    let over = value > max || (incr > 0 && incr > max_incr);
    let under = !over && incr < 0 && incr < min_incr;
    if !over && !under {
        return Some(value.wrapping_add(incr as u64));
    }
    match overflow {
        Overflow::Wrap => Some(value.wrapping_add(incr as u64) & max),
        Overflow::Sat => Some(if over { max } else { 0 }),
        Overflow::Fail => None,
    }
}

/// The signed value to store for `value + incr` in `bits` bits under `overflow`, `None` for
/// FAIL. Mirrors Redis's check exactly, including its wrapping intermediate arithmetic: a
/// SET of a value within 2^(bits-1) of i64::MIN counts as an overflow, so SAT stores the
/// maximum there.
fn signed_outcome(value: i64, incr: i64, bits: u32, overflow: Overflow) -> Option<i64> {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let over = value > max
        || (bits != 64 && incr > max_incr)
        || (value >= 0 && incr > 0 && incr > max_incr);
    let under = !over
        && (value < min
            || (bits != 64 && incr < min_incr)
            || (value < 0 && incr < 0 && incr < min_incr));
    if !over && !under {
        return Some(value.wrapping_add(incr));
    }
    match overflow {
        Overflow::Wrap => Some(sign_extend(
            (value as u64).wrapping_add(incr as u64) & low_mask(bits),
            bits,
        )),
        Overflow::Sat => Some(if over { max } else { min }),
        Overflow::Fail => None,
    }
}

/// What one BITFIELD operation produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldOutcome {
    /// The reply: the field (GET), the previous value (SET), the new value (INCRBY), or
    /// `None` when OVERFLOW FAIL refused the write.
    pub reply: Option<i64>,
    /// Whether the field's bits changed (Redis signals a modification only then, or when the
    /// string grew).
    pub changed: bool,
}

/// Runs one BITFIELD operation on `data`, which must already hold every field a write
/// touches.
pub fn apply_field_op(data: &mut [u8], op: &FieldOp) -> FieldOutcome {
    let bits = op.ty.bits();
    let old = get_raw(data, op.offset, bits);
    let value = |raw: u64| {
        if op.ty.signed {
            sign_extend(raw, bits)
        } else {
            raw as i64
        }
    };
    let outcome = match op.action {
        FieldAction::Get => Some((old, value(old))),
        FieldAction::Set(v) if op.ty.signed => {
            signed_outcome(v, 0, bits, op.overflow).map(|new| (new as u64, value(old)))
        }
        FieldAction::Set(v) => {
            unsigned_outcome(v as u64, 0, bits, op.overflow).map(|new| (new, value(old)))
        }
        FieldAction::IncrBy(d) if op.ty.signed => {
            signed_outcome(value(old), d, bits, op.overflow).map(|new| (new as u64, new))
        }
        FieldAction::IncrBy(d) => {
            unsigned_outcome(old, d, bits, op.overflow).map(|new| (new, new as i64))
        }
    };
    let Some((new_raw, reply)) = outcome else {
        return FieldOutcome {
            reply: None,
            changed: false,
        };
    };
    let new_raw = new_raw & low_mask(bits);
    if op.writes() {
        set_raw(data, op.offset, bits, new_raw);
    }
    FieldOutcome {
        reply: Some(reply),
        changed: new_raw != old,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    fn naive_bit(data: &[u8], i: u64) -> bool {
        let byte = (i / 8) as usize;
        byte < data.len() && (data[byte] >> (7 - i % 8)) & 1 == 1
    }

    /// Reference: resolve like Redis, then walk bit by bit.
    fn naive_range(len: usize, r: BitRange) -> Option<(i64, i64)> {
        let total = match r.unit {
            BitUnit::Byte => len as i64,
            BitUnit::Bit => len as i64 * 8,
        };
        let mut s = r.start;
        let mut e = r.end;
        if s < 0 {
            s += total;
        }
        if e < 0 {
            e += total;
        }
        s = s.max(0);
        e = e.max(0).min(total - 1);
        if s > e {
            return None;
        }
        Some(match r.unit {
            BitUnit::Byte => (s * 8, e * 8 + 7),
            BitUnit::Bit => (s, e),
        })
    }

    fn naive_count(data: &[u8], r: Option<BitRange>) -> u64 {
        let (s, e) = match r {
            None => (0, data.len() as i64 * 8 - 1),
            Some(r) if r.start < 0 && r.end < 0 && r.start > r.end => return 0,
            Some(r) => match naive_range(data.len(), r) {
                Some(x) => x,
                None => return 0,
            },
        };
        (s..=e).filter(|&i| naive_bit(data, i as u64)).count() as u64
    }

    fn naive_pos(data: &[u8], bit: bool, range: PosRange) -> i64 {
        let (r, end_given) = match range {
            PosRange::All => (BitRange::bytes(0, -1), false),
            PosRange::From(s) => (BitRange::bytes(s, -1), false),
            PosRange::Range(r) => (r, true),
        };
        let Some((s, e)) = naive_range(data.len(), r) else {
            return -1;
        };
        for i in s..=e {
            if naive_bit(data, i as u64) == bit {
                return i;
            }
        }
        if !bit && !end_given { e + 1 } else { -1 }
    }

    fn random_data(rng: &mut SmallRng) -> Vec<u8> {
        let len = rng.random_range(0..40);
        // Mostly runs of 0x00 / 0xff so the word-skipping paths are exercised.
        (0..len)
            .map(|_| match rng.random_range(0..4) {
                0 => 0x00,
                1 => 0xff,
                _ => rng.random(),
            })
            .collect()
    }

    #[test]
    fn popcount_and_bitpos_match_a_naive_reference() {
        let mut rng = SmallRng::seed_from_u64(7);
        for _ in 0..20_000 {
            let data = random_data(&mut rng);
            let n = data.len() as i64 * 8 + 10;
            let start = rng.random_range(-n..n);
            let end = rng.random_range(-n..n);
            let unit = if rng.random() {
                BitUnit::Bit
            } else {
                BitUnit::Byte
            };
            let r = BitRange { start, end, unit };
            assert_eq!(count(&data, None), naive_count(&data, None), "{data:?}");
            assert_eq!(
                count(&data, Some(r)),
                naive_count(&data, Some(r)),
                "{data:?} {r:?}"
            );
            let bit = rng.random();
            for range in [PosRange::All, PosRange::From(start), PosRange::Range(r)] {
                assert_eq!(
                    bitpos(&data, bit, range),
                    naive_pos(&data, bit, range),
                    "{data:?} {bit} {range:?}"
                );
            }
        }
    }

    #[test]
    fn bits_are_msb_first_and_grow() {
        let mut d = Vec::new();
        assert!(!set_bit(&mut d, 7, true));
        assert_eq!(d, [0x01]);
        assert!(!set_bit(&mut d, 8, true));
        assert_eq!(d, [0x01, 0x80]);
        assert!(set_bit(&mut d, 8, false));
        assert_eq!(d, [0x01, 0x00]);
        assert!(get_bit(&d, 7));
        assert!(!get_bit(&d, 1000));
    }

    #[test]
    fn growth_slack_is_bounded() {
        let mut d = Vec::new();
        grow_zeroed(&mut d, 100);
        assert_eq!((d.len(), d.capacity()), (100, 200));
        let big = 3 << 20;
        grow_zeroed(&mut d, big);
        assert_eq!(d.len(), big);
        assert!(d.capacity() <= big + GREEDY_GROWTH_LIMIT);
    }

    #[test]
    fn count_examples() {
        // "foobar": 26 bits set; byte 1 is 'o' (6 bits).
        assert_eq!(count(b"foobar", None), 26);
        assert_eq!(count(b"foobar", Some(BitRange::bytes(1, 1))), 6);
        assert_eq!(count(b"foobar", Some(BitRange::bits(5, 30))), 17);
        assert_eq!(count(b"foobar", Some(BitRange::bytes(-100, -200))), 0);
        assert_eq!(count(b"", Some(BitRange::bytes(0, -1))), 0);
    }

    #[test]
    fn bitpos_end_rule() {
        assert_eq!(bitpos(b"\xff\xff", false, PosRange::All), 16);
        assert_eq!(bitpos(b"\xff\xff", false, PosRange::From(1)), 16);
        assert_eq!(
            bitpos(b"\xff\xff", false, BitRange::bytes(0, -1).into()),
            -1
        );
        assert_eq!(bitpos(b"\x00\x00", true, PosRange::All), -1);
        assert_eq!(bitpos(b"", false, PosRange::All), -1);
        assert_eq!(bitpos(b"\x00\x01", true, BitRange::bits(0, 15).into()), 15);
    }

    #[test]
    fn bitop_pads_shorter_sources() {
        assert_eq!(bitop(BitOp::And, &[b"abc", b"ab"]), b"ab\0");
        assert_eq!(bitop(BitOp::And, &[b"", b"ab"]), b"\0\0");
        assert_eq!(bitop(BitOp::Or, &[b"a", b"\x00b"]), b"ab");
        assert_eq!(bitop(BitOp::Xor, &[b"ab", b"ab", b"ab"]), b"ab");
        assert_eq!(bitop(BitOp::Not, &[b"\x0f"]), b"\xf0");
        assert_eq!(bitop(BitOp::Or, &[b"", b""]), b"");
        assert_eq!(BitOp::parse(b"xOr"), Some(BitOp::Xor));
        assert_eq!(BitOp::parse(b"nor"), None);
    }

    #[test]
    fn bitop_matches_bytewise_reference() {
        let mut rng = SmallRng::seed_from_u64(3);
        for _ in 0..2000 {
            let srcs: Vec<Vec<u8>> = (0..rng.random_range(1..5))
                .map(|_| random_data(&mut rng))
                .collect();
            let refs: Vec<&[u8]> = srcs.iter().map(|s| s.as_slice()).collect();
            let max = srcs.iter().map(Vec::len).max().unwrap_or(0);
            for op in [BitOp::And, BitOp::Or, BitOp::Xor] {
                let want: Vec<u8> = (0..max)
                    .map(|j| {
                        let byte = |s: &Vec<u8>| s.get(j).copied().unwrap_or(0);
                        srcs[1..].iter().fold(byte(&srcs[0]), |acc, s| match op {
                            BitOp::And => acc & byte(s),
                            BitOp::Or => acc | byte(s),
                            _ => acc ^ byte(s),
                        })
                    })
                    .collect();
                assert_eq!(bitop(op, &refs), want);
            }
        }
    }

    #[test]
    fn field_types_parse_like_redis() {
        assert_eq!(FieldType::parse(b"i64"), FieldType::signed(64));
        assert_eq!(FieldType::parse(b"u63"), FieldType::unsigned(63));
        for bad in [
            &b"u64"[..],
            b"i65",
            b"i0",
            b"I8",
            b"i08",
            b"u",
            b"",
            b"x8",
            b"i-1",
        ] {
            assert_eq!(FieldType::parse(bad), None, "{:?}", bad);
        }
    }

    fn op(action: FieldAction, ty: &[u8], offset: u64, overflow: Overflow) -> FieldOp {
        FieldOp {
            action,
            ty: FieldType::parse(ty).unwrap(),
            offset,
            overflow,
        }
    }

    #[test]
    fn field_set_layout_and_reads() {
        // u5 at bit 7 set to 23: 00000001|01110000.
        let mut d = vec![0u8; 2];
        let r = apply_field_op(&mut d, &op(FieldAction::Set(23), b"u5", 7, Overflow::Wrap));
        assert_eq!(
            r,
            FieldOutcome {
                reply: Some(0),
                changed: true
            }
        );
        assert_eq!(d, [0b0000_0001, 0b0111_0000]);
        assert_eq!(get_field(&d, FieldType::parse(b"u5").unwrap(), 7), 23);
        assert_eq!(get_field(&d, FieldType::parse(b"i5").unwrap(), 7), -9);
        // Reads past the end are zero-padded.
        assert_eq!(
            get_field(b"\xff", FieldType::parse(b"u16").unwrap(), 0),
            0xff00
        );
        assert_eq!(
            get_field(b"\xff", FieldType::parse(b"i64").unwrap(), 100),
            0
        );
        // A 64-bit field at an unaligned offset spans 9 bytes.
        let mut d = vec![0u8; 9];
        apply_field_op(&mut d, &op(FieldAction::Set(-1), b"i64", 3, Overflow::Wrap));
        assert_eq!(d, [0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe0]);
    }

    #[test]
    fn field_overflow_rules_match_redis() {
        let run = |action, ty: &[u8], ov| {
            let mut d = vec![0u8; 8];
            let first = apply_field_op(&mut d, &op(action, ty, 0, ov)).reply;
            (first, get_field(&d, FieldType::parse(ty).unwrap(), 0))
        };
        use FieldAction::*;
        use Overflow::*;
        assert_eq!(run(Set(-1), b"u8", Wrap), (Some(0), 255));
        assert_eq!(run(Set(-1), b"u8", Sat), (Some(0), 255));
        assert_eq!(run(Set(-1), b"u8", Fail), (None, 0));
        assert_eq!(run(Set(200), b"i8", Wrap), (Some(0), -56));
        assert_eq!(run(Set(200), b"i8", Sat), (Some(0), 127));
        assert_eq!(run(Set(-200), b"i8", Sat), (Some(0), -128));
        // Redis's wrapping comparison: near i64::MIN a SET saturates to the maximum.
        assert_eq!(run(Set(i64::MIN), b"i8", Sat), (Some(0), 127));
        assert_eq!(run(Set(i64::MIN + 127), b"i8", Sat), (Some(0), 127));
        assert_eq!(run(Set(i64::MIN + 128), b"i8", Sat), (Some(0), -128));
        assert_eq!(run(Set(i64::MIN), b"i8", Wrap), (Some(0), 0));
        assert_eq!(run(IncrBy(-1), b"u8", Sat), (Some(0), 0));
        assert_eq!(run(IncrBy(-1), b"u8", Wrap), (Some(255), 255));
        assert_eq!(run(IncrBy(300), b"u8", Wrap), (Some(44), 44));
        assert_eq!(
            run(IncrBy(i64::MAX), b"i64", Wrap),
            (Some(i64::MAX), i64::MAX)
        );
        assert_eq!(
            run(IncrBy(i64::MIN), b"i64", Sat),
            (Some(i64::MIN), i64::MIN)
        );
        assert_eq!(run(IncrBy(-129), b"i8", Wrap), (Some(127), 127));
        assert_eq!(
            run(IncrBy(i64::MAX), b"u63", Sat),
            (Some(i64::MAX), i64::MAX)
        );
        assert_eq!(run(IncrBy(2), b"u1", Fail), (None, 0));
    }

    #[test]
    fn field_ops_match_a_bitwise_reference() {
        let mut rng = SmallRng::seed_from_u64(11);
        for _ in 0..5000 {
            let signed = rng.random();
            let bits = if signed {
                rng.random_range(1..=64)
            } else {
                rng.random_range(1..=63)
            };
            let ty = if signed {
                FieldType::signed(bits).unwrap()
            } else {
                FieldType::unsigned(bits).unwrap()
            };
            let offset = rng.random_range(0..40u64);
            let mut data: Vec<u8> = (0..16).map(|_| rng.random()).collect();
            let before = data.clone();
            let value: i64 = rng.random();
            apply_field_op(
                &mut data,
                &FieldOp {
                    action: FieldAction::Set(value),
                    ty,
                    offset,
                    overflow: Overflow::Wrap,
                },
            );
            for i in 0..128u64 {
                let want = if i >= offset && i < offset + u64::from(bits) {
                    (value as u64 >> (u64::from(bits) - 1 - (i - offset))) & 1 == 1
                } else {
                    naive_bit(&before, i)
                };
                assert_eq!(naive_bit(&data, i), want, "bit {i}");
            }
        }
    }
}
