//! Bitmap commands: GETBIT, SETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.

use super::CommandSpec;

/// The bitmap family's rows.
pub const COMMANDS: &[CommandSpec] = &[];
