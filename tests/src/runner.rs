//! Runs case files against two servers in lockstep and collects every mismatch of the run
//! (file:line, the command, both replies), not just the first.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cases::{self, CaseFile, Compare, Step};
use crate::client::Client;
use crate::compare;
use crate::frame::Frame;
use crate::server::Server;

/// How long the runner waits for one reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// After this many timeouts the run stops: a hung server should fail CI in seconds, not
/// after every remaining case has waited out its timeout.
pub const MAX_TIMEOUTS: usize = 3;
/// Replies longer than this are cut in reports.
const MAX_SHOWN: usize = 2000;

/// What one server did with one command.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It replied.
    Reply(Frame),
    /// It closed the connection instead (e.g. after QUIT, or after a protocol error).
    Closed,
    /// Something else went wrong: timeout, protocol error, refused connection.
    Failed(String),
}

impl Outcome {
    fn of(r: io::Result<Frame>) -> Outcome {
        match r {
            Ok(f) => Outcome::Reply(f),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::BrokenPipe
                ) =>
            {
                Outcome::Closed
            }
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }

    fn timed_out(&self) -> bool {
        matches!(self, Outcome::Failed(m) if m.starts_with("no reply within"))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Reply(r) => {
                let s = r.to_string();
                if s.len() > MAX_SHOWN {
                    let mut cut = MAX_SHOWN;
                    while !s.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    write!(f, "{}... ({} more chars)", &s[..cut], s.len() - cut)
                } else {
                    f.write_str(&s)
                }
            }
            Outcome::Closed => f.write_str("(connection closed)"),
            Outcome::Failed(e) => write!(f, "(failed: {e})"),
        }
    }
}

/// Two servers disagreed on one command.
#[derive(Debug, Clone)]
pub struct Mismatch {
    /// The case file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// The line as written.
    pub command: String,
    /// How it was compared.
    pub compare: Compare,
    /// What the reference server did.
    pub left: Outcome,
    /// What the server under test did.
    pub right: Outcome,
}

/// Everything one run found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Name of the reference server (left column).
    pub left_name: String,
    /// Name of the server under test (right column).
    pub right_name: String,
    /// Case files run.
    pub files: usize,
    /// Scenarios run.
    pub scenarios: usize,
    /// Commands sent to each server.
    pub commands: usize,
    /// Every disagreement.
    pub mismatches: Vec<Mismatch>,
    /// Problems that are not a disagreement: unreadable case files, servers unreachable.
    pub errors: Vec<String>,
}

impl Report {
    /// Whether the run found nothing wrong.
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty() && self.errors.is_empty()
    }

    /// One line: counts of everything.
    pub fn summary(&self) -> String {
        format!(
            "{} vs {}: {} files, {} scenarios, {} commands, {} mismatches, {} errors",
            self.left_name,
            self.right_name,
            self.files,
            self.scenarios,
            self.commands,
            self.mismatches.len(),
            self.errors.len()
        )
    }

    fn timeouts(&self) -> usize {
        self.mismatches
            .iter()
            .filter(|m| m.left.timed_out() || m.right.timed_out())
            .count()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.left_name.len().max(self.right_name.len()) + 1;
        for e in &self.errors {
            writeln!(f, "error: {e}")?;
        }
        for m in &self.mismatches {
            let how = match m.compare {
                Compare::Exact => String::new(),
                Compare::Unordered => "  [!unordered]".into(),
                Compare::Approx(n) => format!("  [!approx {n}]"),
                Compare::Shape => "  [!shape]".into(),
                Compare::Skip => "  [!skip]".into(),
            };
            writeln!(
                f,
                "{}:{}: {}{how}",
                display_path(&m.file),
                m.line,
                m.command
            )?;
            writeln!(
                f,
                "    {:width$} {}",
                format!("{}:", self.left_name),
                m.left
            )?;
            writeln!(
                f,
                "    {:width$} {}",
                format!("{}:", self.right_name),
                m.right
            )?;
        }
        write!(f, "{}", self.summary())
    }
}

/// A path shown relative to the repository root when it is inside it.
pub fn display_path(p: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent();
    root.and_then(|r| p.strip_prefix(r).ok())
        .unwrap_or(p)
        .display()
        .to_string()
}

/// Runs every file against both servers. `left` is the reference (real Redis).
pub fn run_files(paths: &[PathBuf], left: &dyn Server, right: &dyn Server) -> Report {
    let mut report = Report {
        left_name: left.name().to_string(),
        right_name: right.name().to_string(),
        ..Report::default()
    };
    for path in paths {
        match cases::load(path) {
            Ok(file) => run_file(&file, left, right, &mut report),
            Err(e) => report.errors.push(e),
        }
        if report.timeouts() >= MAX_TIMEOUTS {
            report.errors.push(format!(
                "stopped after {MAX_TIMEOUTS} timeouts: a server hangs"
            ));
            break;
        }
    }
    report
}

/// Runs one parsed file's scenarios, adding to `report`.
pub fn run_file(file: &CaseFile, left: &dyn Server, right: &dyn Server, report: &mut Report) {
    report.files += 1;
    for scenario in &file.scenarios {
        if report.timeouts() >= MAX_TIMEOUTS {
            return;
        }
        report.scenarios += 1;
        let (mut l, mut r) = match (connect(left), connect(right)) {
            (Ok(l), Ok(r)) => (l, r),
            (l, r) => {
                let why = [l.err(), r.err()].into_iter().flatten().collect::<Vec<_>>();
                report.errors.push(format!(
                    "{}:{}: cannot connect: {}",
                    display_path(&file.path),
                    scenario.line,
                    why.join("; ")
                ));
                continue;
            }
        };
        let setup = Step {
            line: scenario.line,
            text: "FLUSHALL (scenario setup)".into(),
            args: vec![b"FLUSHALL".to_vec()],
            compare: Compare::Exact,
        };
        let ok = Outcome::Reply(Frame::Simple(b"OK".to_vec()));
        let (lo, ro) = exchange(&mut l, &mut r, &setup.args);
        if lo != ok || ro != ok {
            report.mismatches.push(mismatch(file, &setup, lo, ro));
            continue;
        }
        for step in &scenario.steps {
            report.commands += 1;
            let (lo, ro) = exchange(&mut l, &mut r, &step.args);
            let agree = match (&lo, &ro) {
                (Outcome::Reply(a), Outcome::Reply(b)) => compare::same(step.compare, a, b),
                (Outcome::Closed, Outcome::Closed) => true,
                _ => false,
            };
            if !agree {
                let broken = !matches!((&lo, &ro), (Outcome::Reply(_), Outcome::Reply(_)));
                report.mismatches.push(mismatch(file, step, lo, ro));
                if broken {
                    // One connection is gone or in an unknown state: the rest of this
                    // scenario would only report noise.
                    break;
                }
            }
        }
    }
}

fn connect(s: &dyn Server) -> Result<Client, String> {
    Client::connect_timeout(s.addr(), REPLY_TIMEOUT)
        .map_err(|e| format!("{} at {}: {e}", s.name(), s.addr()))
}

fn exchange(l: &mut Client, r: &mut Client, args: &[Vec<u8>]) -> (Outcome, Outcome) {
    (Outcome::of(l.call(args)), Outcome::of(r.call(args)))
}

fn mismatch(file: &CaseFile, step: &Step, left: Outcome, right: Outcome) -> Mismatch {
    Mismatch {
        file: file.path.clone(),
        line: step.line,
        command: step.text.clone(),
        compare: step.compare,
        left,
        right,
    }
}
