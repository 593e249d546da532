//! Checks the command table against `shared/redis-7.0-commands.txt` (what we must have), that
//! nothing is registered twice, and that every command has at least one differential case.
//!
//! These fail until the families are done; the failure lists exactly what is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use embedis_tests::cases::{self, case_paths, cases_dir};
use embedis_tests::in_ci;

/// Command groups whose `core` rows must all be in the table. Extend as families land
/// (list, sorted-set, pubsub, transactions, scripting, hyperloglog).
const GROUPS: &[&str] = &[
    "string",
    "bitmap",
    "generic",
    "connection",
    "server",
    "hash",
    "set",
    "list",
    "sorted-set",
];

/// `core` rows of those groups that come later (with the data types they need).
const NOT_YET: &[&str] = &[];

/// Commands that exist only in embedis (EMBEDIS.CLOCK, and the rate limiter's CL.* family,
/// named after redis-cell's CL.THROTTLE): Redis cannot be the reference for them, so they
/// are tested in the crates' own tests instead of by a differential case.
const EXTENSION_PREFIXES: &[&str] = &["embedis.", "cl."];

const COMMANDS_FILE: &str = "redis-7.0-commands.txt";

/// `shared/redis-7.0-commands.txt` lives in a `shared/` directory beside the checkout (or
/// beside a parent of it, for worktrees); `EMBEDIS_COMMANDS_FILE` overrides.
fn commands_file() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("EMBEDIS_COMMANDS_FILE") {
        return Some(PathBuf::from(p));
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|dir| dir.join("shared").join(COMMANDS_FILE))
        .find(|p| p.is_file())
}

/// Full names (`get`, `client|list`) of the rows we must have.
fn required() -> Option<BTreeSet<String>> {
    let Some(path) = commands_file() else {
        let msg = format!(
            "shared/{COMMANDS_FILE} not found beside the repository (looked in every parent of \
             {}); set EMBEDIS_COMMANDS_FILE to its path",
            env!("CARGO_MANIFEST_DIR")
        );
        assert!(!in_ci(), "{msg}");
        eprintln!("\n=== SKIPPED: {msg} ===\n");
        return None;
    };
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut out = BTreeSet::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let (tier, group, cmd) = match f[..] {
            [tier, group, cmd] | [tier, group, cmd, _] => (tier, group, cmd),
            _ => panic!("{}: unexpected row {line:?}", path.display()),
        };
        if tier != "core" || !GROUPS.contains(&group) || NOT_YET.contains(&cmd) {
            continue;
        }
        out.insert(match f.get(3) {
            Some(sub) => format!("{cmd}|{sub}"),
            None => cmd.to_string(),
        });
    }
    Some(out)
}

fn table_names() -> Vec<&'static str> {
    embedis::cmd::table()
        .all()
        .iter()
        .map(|r| r.full_name)
        .collect()
}

#[test]
fn table_has_every_core_command() {
    let Some(required) = required() else { return };
    let have: BTreeSet<String> = table_names().iter().map(|n| n.to_string()).collect();
    let missing: Vec<&String> = required.difference(&have).collect();
    assert!(
        missing.is_empty(),
        "{} of {} core commands of groups {GROUPS:?} are not in embedis::cmd::table():\n  {}",
        missing.len(),
        required.len(),
        missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

#[test]
fn no_command_registered_twice() {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for n in table_names() {
        *count.entry(n).or_default() += 1;
    }
    let dups: Vec<String> = count
        .into_iter()
        .filter(|&(_, c)| c > 1)
        .map(|(n, c)| format!("{n} ({c} times)"))
        .collect();
    assert!(
        dups.is_empty(),
        "registered more than once:\n  {}",
        dups.join("\n  ")
    );
}

#[test]
fn every_command_has_a_differential_case() {
    // Every command name, and `name|sub` for every line with a second word, used anywhere.
    let mut used = BTreeSet::new();
    let mut errors = Vec::new();
    for path in case_paths(&cases_dir()).expect("read tests/cases") {
        match cases::load(&path) {
            Ok(file) => {
                for step in file.scenarios.iter().flat_map(|s| &s.steps) {
                    let word = |i: usize| {
                        step.args
                            .get(i)
                            .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
                    };
                    if let Some(cmd) = word(0) {
                        if let Some(sub) = word(1) {
                            used.insert(format!("{cmd}|{sub}"));
                        }
                        used.insert(cmd);
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    assert!(
        errors.is_empty(),
        "case files with syntax errors:\n{}",
        errors.join("\n")
    );
    let missing: Vec<&str> = table_names()
        .into_iter()
        .filter(|n| !EXTENSION_PREFIXES.iter().any(|p| n.starts_with(p)) && !used.contains(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "{} commands of embedis::cmd::table() appear in no tests/cases/*.txt line:\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
}
