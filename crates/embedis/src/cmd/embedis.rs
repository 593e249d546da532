//! embedis's own commands, outside Redis's set: `EMBEDIS.CLOCK` moves a manual clock so that
//! tests in any language can drive TTLs, TIME and timeouts through the server
//! (`embedis-server --clock manual`).

use std::time::Duration;

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx, args};
use crate::error::{self, Error, Result};
use crate::reply::Reply;

/// The rows of embedis's own commands.
pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new(
    "embedis.clock",
    -2,
    NOSCRIPT | LOADING | STALE | FAST,
    container,
)
.subs(CLOCK_SUBCOMMANDS)];

const CLOCK_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, NOSCRIPT | LOADING | STALE | FAST, clock_get),
    CommandSpec::new(
        "advance",
        3,
        NOSCRIPT | LOADING | STALE | FAST,
        clock_advance,
    ),
    CommandSpec::new("help", 2, LOADING | STALE, clock_help),
];

/// Never called: the table resolves the subcommands and reports unknown ones itself.
fn container(_ctx: &mut Ctx<'_, '_>, args: &[Bytes]) -> Result<Reply> {
    Err(Error::unknown_subcommand(
        "embedis.clock",
        args.get(1).map_or(&b""[..], |a| a),
    ))
}

/// `EMBEDIS.CLOCK GET`: the clock's time in Unix milliseconds.
fn clock_get(ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    if !ctx.engine.clock.is_manual() {
        return Err(error::CLOCK_NOT_MANUAL);
    }
    Ok(Reply::Int(ctx.engine.clock.now_millis() as i64))
}

/// `EMBEDIS.CLOCK ADVANCE <ms>`: moves the clock forward and replies with the new time in Unix
/// milliseconds.
fn clock_advance(ctx: &mut Ctx<'_, '_>, a: &[Bytes]) -> Result<Reply> {
    let ms = args::int(&a[2])?;
    if ms < 0 {
        return Err(error::MUST_BE_POSITIVE);
    }
    let clock = &ctx.engine.clock;
    if !clock.is_manual() {
        return Err(error::CLOCK_NOT_MANUAL);
    }
    // The clock counts microseconds in a u64 and the reply is an i64 of milliseconds.
    let fits = (ms as u64)
        .checked_mul(1000)
        .and_then(|us| us.checked_add(clock.now_micros()))
        .is_some_and(|us| us / 1000 <= i64::MAX as u64);
    if !fits {
        return Err(Error::NotInteger);
    }
    clock.advance(Duration::from_millis(ms as u64));
    Ok(Reply::Int(clock.now_millis() as i64))
}

const CLOCK_HELP: &[&str] = &[
    "EMBEDIS.CLOCK <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET",
    "    Return the manual clock's time in Unix milliseconds.",
    "ADVANCE <milliseconds>",
    "    Move the manual clock forward, and return the new time in Unix milliseconds.",
    "HELP",
    "    Prints this help.",
];

fn clock_help(_ctx: &mut Ctx<'_, '_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Array(
        CLOCK_HELP.iter().map(|l| Reply::status(l)).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use crate::{Db, ManualClock, Reply};

    #[test]
    fn advances_a_manual_clock_only() {
        let clock = ManualClock::starting_at_micros(5_000_000);
        let db = Db::builder().clock(clock.clone()).build();
        assert_eq!(db.call(["EMBEDIS.CLOCK", "GET"]), Reply::Int(5000));
        assert_eq!(
            db.call(["embedis.clock", "advance", "1500"]),
            Reply::Int(6500)
        );
        assert!(db.call(["EMBEDIS.CLOCK", "ADVANCE", "-1"]).is_error());
        assert!(
            db.call(["EMBEDIS.CLOCK", "ADVANCE", "9223372036854775807"])
                .is_error()
        );
        assert_eq!(db.call(["EMBEDIS.CLOCK", "GET"]), Reply::Int(6500));

        let real = Db::new();
        assert_eq!(
            real.call(["EMBEDIS.CLOCK", "GET"]),
            Reply::Error(crate::error::CLOCK_NOT_MANUAL)
        );
    }
}
