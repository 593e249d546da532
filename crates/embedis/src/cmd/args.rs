//! Small helpers handlers use to read arguments, with Redis's errors.

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::num;

/// Reads an integer argument (`ERR value is not an integer or out of range`).
pub fn int(arg: &[u8]) -> Result<i64> {
    num::parse_i64(arg).ok_or(Error::NotInteger)
}

/// Reads a float argument (`ERR value is not a valid float`).
pub fn float(arg: &[u8]) -> Result<f64> {
    num::parse_f64(arg).ok_or(Error::NotFloat)
}

/// Whether an argument is the option `name` (ASCII case-insensitive).
#[inline]
pub fn is(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

/// A cursor over a command's optional arguments.
#[derive(Debug)]
pub struct Args<'a> {
    args: &'a [Bytes],
    pos: usize,
}

impl<'a> Args<'a> {
    /// Starts at `args[from]`.
    pub fn new(args: &'a [Bytes], from: usize) -> Self {
        Args { args, pos: from }
    }

    /// The next argument, if any.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<&'a Bytes> {
        let a = self.args.get(self.pos)?;
        self.pos += 1;
        Some(a)
    }

    /// The value following an option (`ERR syntax error` if missing).
    pub fn value(&mut self) -> Result<&'a Bytes> {
        self.next().ok_or(Error::Syntax)
    }

    /// Arguments not yet read.
    pub fn remaining(&self) -> usize {
        self.args.len().saturating_sub(self.pos)
    }
}
