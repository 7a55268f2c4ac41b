//! The commands behind the binary (`plan`, `apply`, `rollback`, `locks`,
//! `status`, `check`): each runs the stages from a validated configuration and
//! makes every decision, writing what it says through `Io`. Never parses flags
//! and never touches the terminal itself (the binary implements `Io`).

pub mod apply;
pub mod check;
pub mod digests;
pub mod locks;
pub mod plan;
pub mod rollback;
pub mod scope;
pub mod status;

use crate::aws::{Options, RequestCounter};
use crate::model::RepoPlan;
use crate::plan::Strategy;
use crate::report::Style;
use indicatif::ProgressBar;
use std::future::Future;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use scope::Scope;

/// Why a command stopped. Refusals say "nothing was written" where that holds.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot read paths from standard input")]
    Stdin(#[source] std::io::Error),
    #[error("{0}")]
    Root(String),
    #[error("invalid --include/--exclude glob")]
    Glob(#[source] globset::Error),
    /// `what` says what could not be written ("cannot write patch").
    #[error("{path}: {what}")]
    Write {
        path: String,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    PlanFile(#[from] crate::planfile::PlanFileError),
    #[error("{}\nnothing was written", .0.join("\n"))]
    PlanStale(Vec<String>),
    #[error(
        "{}: the plan no longer matches what tflock plans for these files (was it made by \
         another version?); nothing was written",
        .0.display()
    )]
    PlanMismatch(PathBuf),
    #[error(
        "refusing to write read-only files (nothing was written):\n  {}\nRerun with --force \
         to rewrite them (their mode is kept).",
        .0.iter().map(|p| format!("{p}: read-only")).collect::<Vec<_>>().join("\n  ")
    )]
    ReadOnly(Vec<String>),
    #[error(
        "{}: rollback file exists; choose another --rollback-file (nothing was written)",
        .0.display()
    )]
    RollbackFileExists(PathBuf),
    #[error("could not take the locks, nothing was written: {0}")]
    TakeLocks(String),
    #[error("interrupted (Ctrl-C): the write finished and every lock was released")]
    Interrupted,
    #[error("some locks tflock took are still held; remove them as shown above")]
    LocksStillHeld,
    #[error(transparent)]
    Apply(#[from] crate::apply::ApplyError),
    #[error(transparent)]
    RunLock(#[from] crate::runlock::RunLockError),
    #[error(transparent)]
    RollbackFile(#[from] crate::rollback::RollbackError),
    #[error("{0}; nothing was written")]
    RestoreRefused(String),
    #[error(
        "refusing to roll back (nothing was written):\n  {}\nRerun with --force to overwrite \
         them with their original bytes.",
        .0.join("\n  ")
    )]
    FilesChanged(Vec<String>),
    #[error(
        "refusing to roll back (nothing was written): the lock table cannot be read:\n  {}\n\
         Restore the table (or its permissions), or use --files-only to restore only the files.",
        .0.join("\n  ")
    )]
    TableUnreadable(Vec<String>),
    #[error(
        "refusing to roll back (nothing was written): a state's lock is held or could not be \
         verified:\n  {}\nWait for the run to finish, or use --files-only to restore only the \
         files.",
        .0.join("\n  ")
    )]
    LockHeld(Vec<String>),
    #[error("cannot plan the digest repair (nothing was written): {0}")]
    DigestPlan(String),
    #[error("{0}\nThe files were restored; rerun `tflock rollback` to retry the digests.")]
    DigestRepair(String),
    #[error(transparent)]
    Restore(#[from] crate::atomic::WriteError),
    #[error("cannot write to standard output")]
    Stdout(#[source] std::io::Error),
    #[error(
        "standard input is not a terminal, so tflock cannot ask for confirmation; review the \
         plan and rerun with --auto-approve"
    )]
    CannotAsk,
    #[error(transparent)]
    Answer(std::io::Error),
    #[error("{path}: cannot read the allow file")]
    AllowRead {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Allow(#[from] crate::check::AllowFileError),
}

/// Where a command's words go. The binary writes them to the terminal (and owns
/// colours, progress bars and the prompt); a test collects them.
pub trait Io {
    fn style(&self) -> Style;
    /// Writes text to standard output.
    fn out(&mut self, text: &str) -> Result<(), Error>;
    /// Writes one line to standard error.
    fn err(&mut self, line: &str);
    /// Asks a question; true only when the user answers "yes".
    fn confirm(&mut self, question: &str) -> Result<bool, Error>;
    /// A spinner with `template` (indicatif's), or None off a terminal.
    fn spinner(&self, template: &str, what: String) -> Option<ProgressBar>;
}

/// Runs `render` with standard output as a writer: what it writes reaches
/// [`Io::out`] in pieces of about 64 KiB, each cut at a character boundary, so a
/// large document is printed as it is rendered rather than held whole.
pub(crate) fn stream_out(
    io: &mut dyn Io,
    render: impl FnOnce(&mut OutWriter<'_>) -> std::io::Result<()>,
) -> Result<(), Error> {
    let mut out = OutWriter {
        io,
        pending: Vec::new(),
        failed: None,
    };
    let written = render(&mut out).and_then(|()| out.send(0));
    match (written, out.failed) {
        (_, Some(e)) => Err(e),
        (Err(e), None) => Err(Error::Stdout(e)),
        (Ok(()), None) => Ok(()),
    }
}

/// See [`stream_out`].
pub(crate) struct OutWriter<'a> {
    io: &'a mut dyn Io,
    pending: Vec<u8>,
    /// What [`Io::out`] refused, kept to be returned as it was.
    failed: Option<Error>,
}

impl OutWriter<'_> {
    const PIECE: usize = 64 * 1024;

    /// Hands the pending text on once there is at least `at_least` of it,
    /// all but an incomplete character at its end.
    fn send(&mut self, at_least: usize) -> std::io::Result<()> {
        if self.pending.len() < at_least.max(1) {
            return Ok(());
        }
        let whole = match std::str::from_utf8(&self.pending) {
            Ok(text) => text.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        };
        let text = std::str::from_utf8(&self.pending[..whole]).unwrap_or_default();
        if let Err(e) = self.io.out(text) {
            self.failed = Some(e);
            return Err(std::io::Error::other("standard output refused the text"));
        }
        self.pending.drain(..whole);
        Ok(())
    }
}

impl std::io::Write for OutWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        self.send(Self::PIECE)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(()) // `stream_out` sends the rest when the renderer is done.
    }
}

/// How a command ended, as `terraform plan -detailed-exitcode` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok,
    /// An error, a finding, a blocked backend or a refusal.
    Failed,
    /// `--detailed-exitcode`: changes are planned.
    Changes,
}

impl Exit {
    /// 0, 1 or 2: a usage error is 1 too, never 2 (that means "changes planned").
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Changes => 2,
        }
    }

    fn failed_if(failed: bool) -> Exit {
        if failed { Exit::Failed } else { Exit::Ok }
    }
}

/// Output of `plan` and `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// The pull-request report (plan), or the status for a change ticket.
    Markdown,
}

/// Output of `locks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TableFormat {
    Text,
    Json,
}

/// Discovers, parses and plans the selected files, counting them on a spinner.
fn scan(io: &dyn Io, scope: &Scope, cwd: &Path, strategy: Strategy) -> RepoPlan {
    let bar = io.spinner(
        "{spinner} {msg}: {pos} files ({elapsed})",
        "scanning".into(),
    );
    let repo = crate::scan_with(&scope.roots, cwd, strategy, &scope.selection, bar.as_ref());
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    repo
}

/// Every file the scan could not read or parse, one `path:line:col: message` a line.
fn print_problems(io: &mut dyn Io, repo: &RepoPlan) {
    for problem in &repo.problems {
        io.err(&problem.to_string());
    }
}

/// How the commands talk to AWS: `--aws-timeout` and `--skip-probe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aws {
    pub timeout: Duration,
    pub skip_probe: bool,
}

impl Aws {
    /// A timeout of 0 would fail every call: it counts as one second.
    pub fn new(timeout_secs: u64, skip_probe: bool) -> Aws {
        Aws {
            timeout: Duration::from_secs(timeout_secs.max(1)),
            skip_probe,
        }
    }

    /// `skip_probe`: `--skip-probe` was given.
    pub fn probing(self, skip_probe: bool) -> Aws {
        Aws { skip_probe, ..self }
    }

    pub fn options(self) -> Options {
        Options {
            timeout: self.timeout,
            skip_probe: self.skip_probe,
            ..Options::default()
        }
    }
}

/// The command's [`crate::aws::Session`], with its failure as a command [`Error`].
#[derive(Default)]
pub struct Session(crate::aws::Session);

impl Session {
    pub fn block_on<F: Future>(&self, future: F) -> Result<F::Output, Error> {
        self.0.block_on(future).map_err(Error::Runtime)
    }

    pub fn counter(&self) -> Arc<RequestCounter> {
        self.0.counter()
    }

    /// AWS requests made so far.
    pub fn requests(&self) -> usize {
        self.0.requests()
    }
}

/// `n file`/`n files`: the plural the summaries use.
pub(crate) fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_timeout_counts_as_one_second() {
        assert_eq!(Aws::new(0, false).timeout, Duration::from_secs(1));
        assert_eq!(
            Aws::new(30, true).options().timeout,
            Duration::from_secs(30)
        );
        assert!(Aws::new(30, true).options().skip_probe);
        assert!(!Aws::new(30, true).probing(false).options().skip_probe);
    }

    /// Collects what a command prints, one entry per `out` call.
    #[derive(Default)]
    struct Printed {
        pieces: Vec<String>,
        refuse: bool,
    }

    impl Io for Printed {
        fn style(&self) -> Style {
            Style { color: false }
        }
        fn out(&mut self, text: &str) -> Result<(), Error> {
            if self.refuse {
                return Err(Error::Stdout(std::io::Error::other("closed")));
            }
            self.pieces.push(text.to_string());
            Ok(())
        }
        fn err(&mut self, _: &str) {}
        fn confirm(&mut self, _: &str) -> Result<bool, Error> {
            Ok(false)
        }
        fn spinner(&self, _: &str, _: String) -> Option<ProgressBar> {
            None
        }
    }

    #[test]
    fn streamed_output_arrives_whole_in_pieces_cut_between_characters() {
        use std::io::Write;
        // 3-byte characters written one byte at a time: a piece boundary
        // falls inside a character unless the writer holds it back.
        let text = "é€".repeat(30_000);
        let mut printed = Printed::default();
        stream_out(&mut printed, |out| {
            for byte in text.as_bytes() {
                out.write_all(std::slice::from_ref(byte))?;
            }
            Ok(())
        })
        .unwrap();
        assert!(printed.pieces.len() > 1, "{} pieces", printed.pieces.len());
        assert!(printed.pieces.iter().all(|p| p.len() <= 64 * 1024 + 4));
        assert_eq!(printed.pieces.concat(), text);
    }

    #[test]
    fn a_refused_stream_returns_the_refusal_and_a_failed_render_its_error() {
        use std::io::Write;
        let mut refusing = Printed {
            refuse: true,
            ..Printed::default()
        };
        let refused = stream_out(&mut refusing, |out| out.write_all(b"{}"));
        assert!(matches!(refused, Err(Error::Stdout(e)) if e.to_string() == "closed"));
        let mut printed = Printed::default();
        let failed = stream_out(&mut printed, |_| Err(std::io::Error::other("render")));
        assert!(matches!(failed, Err(Error::Stdout(e)) if e.to_string() == "render"));
    }
}
