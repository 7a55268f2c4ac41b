//! `tflock plan`: scan and preflight, the lock checks of the backends to
//! migrate, the report, and the files a plan writes besides it (saved plan,
//! patch, Markdown parts). Never writes a user's configuration file.

use super::{Aws, Error, Exit, Format, Io, Scope, Session, plural, print_problems, scan};
use crate::model::RepoPlan;
use crate::next_steps::NextSteps;
use crate::plan::Action;
use crate::planfile::SavedPlan;
use crate::report::patch::Caveat;
use crate::verify::ClientSettings;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    pub scope: Scope,
    pub planning: crate::preflight::Options,
    /// None: `--offline`, no lock check.
    pub aws: Option<Aws>,
    pub format: Format,
    pub outputs: Outputs,
    pub detailed_exitcode: bool,
}

pub fn run(config: &Config, cwd: &Path, io: &mut dyn Io, session: &Session) -> Result<Exit, Error> {
    let started = std::time::Instant::now();
    let mut repo = scan(io, &config.scope, cwd, config.planning.strategy);
    crate::preflight::run(&mut repo, cwd, &config.planning);
    print_problems(io, &repo);
    let checked = match config.aws {
        None => Checked::offline("Lock checks: not checked (--offline)."),
        Some(aws) => check_locks_showing(io, &mut repo, aws, session, false)?,
    };
    let steps = crate::next_steps::next_steps(&repo, &checked.versioning);
    let note = format!("{}\nTook {}.", checked.note, took(started.elapsed()));
    let lock_checks = if config.aws.is_some() {
        "checked"
    } else {
        "not checked"
    };
    match config.format {
        Format::Text => io.out(&crate::report::text::render(&repo, io.style(), &note))?,
        Format::Json => super::stream_out(io, |out| {
            crate::report::json::write(&repo, lock_checks, checked.requests, &steps, out)
        })?,
        Format::Markdown => io.out(&markdown(&repo, &steps).join("\n"))?,
    }
    for caveat in write_outputs(&repo, &steps, &config.planning, &config.outputs)? {
        io.err(&caveat);
    }
    let exit = if !repo.problems.is_empty() || repo.blocked() > 0 {
        Exit::Failed
    } else if config.detailed_exitcode && repo.changed_files().next().is_some() {
        Exit::Changes
    } else {
        Exit::Ok
    };
    // The process ends with the command: the plan of a large tree is some
    // 10^5 allocations, which the exit returns at once and `drop` would
    // return one by one (a twentieth of the run).
    std::mem::forget(repo);
    Ok(exit)
}

/// `check_locks` with a spinner while AWS answers.
pub(crate) fn check_locks_showing(
    io: &dyn Io,
    repo: &mut RepoPlan,
    aws: Aws,
    session: &Session,
    digests: bool,
) -> Result<Checked, Error> {
    let migrating = repo.count(Action::Migrate);
    let what = format!("checking locks of {migrating} backends in AWS");
    let bar = io.spinner("{spinner} {msg} ({elapsed})", what);
    let checked = check_locks(repo, aws, session, digests);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    checked
}

/// What the lock checks found besides the per-backend facts they record.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub note: String,
    /// AWS requests the checks made (None when they did not run).
    pub requests: Option<usize>,
    /// Versioning of each bucket of a migrating backend.
    pub versioning: BTreeMap<String, Result<Option<String>, String>>,
}

impl Checked {
    pub fn offline(note: &str) -> Checked {
        Checked {
            note: note.to_string(),
            ..Checked::default()
        }
    }
}

/// Runs the lock checks on the backends to migrate, and asks each of their
/// buckets whether versioning is on (for the next steps).
/// `digests`: also read the digest items (apply records them for rollback).
pub fn check_locks(
    repo: &mut RepoPlan,
    aws: Aws,
    session: &Session,
    digests: bool,
) -> Result<Checked, Error> {
    let options = crate::verify::Options {
        read_digests: digests,
        ..aws.options()
    };
    let found = session.block_on(crate::verify::verify_plan(
        repo,
        |b| b.action == Action::Migrate,
        true,
        &options,
        session.counter(),
    ))?;
    let states: usize = found.iter().map(|(_, l)| l.states.len()).sum();
    crate::plan::record_locks(repo, found);
    let buckets: BTreeSet<(ClientSettings, String)> = repo
        .backends
        .iter()
        .filter(|b| b.action == Action::Migrate)
        .flat_map(|b| b.resolution.targets.iter())
        .filter_map(|t| Some((t.client.clone(), t.bucket.clone()?)))
        .collect();
    let versioning = session.block_on(crate::remote::bucket_versioning(
        buckets.into_iter().collect(),
        &options,
        session.counter(),
    ))?;
    Ok(Checked {
        note: lock_note(states, repo.blocked(), session.requests()),
        requests: Some(session.requests()),
        versioning,
    })
}

fn lock_note(states: usize, blocked: usize, requests: usize) -> String {
    format!(
        "Lock checks: {states} {} checked, {blocked} {} blocked ({requests} AWS requests).",
        plural(states, "state", "states"),
        plural(blocked, "backend", "backends"),
    )
}

/// The files `tflock plan` writes besides its report.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    /// `--out`: the plan for a later `tflock apply --plan`.
    pub plan: Option<PathBuf>,
    /// `--patch`: the changes for `git apply`.
    pub patch: Option<PathBuf>,
    /// `--out-markdown`: the pull-request report.
    pub markdown: Option<PathBuf>,
}

/// Writes the requested outputs; returns what `git apply` will need help with.
pub fn write_outputs(
    repo: &RepoPlan,
    steps: &NextSteps,
    options: &crate::preflight::Options,
    outputs: &Outputs,
) -> Result<Vec<String>, Error> {
    let write = |path: &Path, bytes: &[u8], private: bool, what: &'static str| {
        let written = if private {
            crate::apply::write_private(path, bytes)
        } else {
            crate::apply::write_atomic(path, bytes)
        };
        written.map_err(|source| Error::Write {
            path: path.display().to_string(),
            what,
            source,
        })
    };
    if let Some(path) = &outputs.markdown {
        let parts = markdown(repo, steps);
        for (i, part) in parts.iter().enumerate() {
            let file = markdown_part_path(path, i);
            write(&file, part.as_bytes(), false, "cannot write the report")?;
        }
    }
    let changed: Vec<_> = repo.changed_files().collect();
    if let Some(out) = &outputs.plan {
        let mut saved =
            SavedPlan::from_files(options.strategy, options.bump_required_version, &changed);
        saved.modernize = options.modernize;
        write(
            out,
            saved.to_json().as_bytes(),
            true,
            "cannot write plan file",
        )?;
    }
    let mut caveats = Vec::new();
    if let Some(patch) = &outputs.patch {
        let diffs: Vec<(String, String, String)> = changed
            .iter()
            .map(|f| (f.path.clone(), f.original.clone(), f.new_text.clone()))
            .collect();
        let (text, found) = crate::report::patch(&diffs);
        write(patch, text.as_bytes(), false, "cannot write patch")?;
        caveats.extend(found.iter().map(|(path, c)| caveat_message(path, *c)));
    }
    Ok(caveats)
}

/// The pull-request report, split into parts that each fit one comment.
pub fn markdown(repo: &RepoPlan, steps: &NextSteps) -> Vec<String> {
    crate::report::markdown::render(repo, &crate::next_steps::render_markdown(steps))
}

fn caveat_message(path: &str, caveat: Caveat) -> String {
    match caveat {
        Caveat::Redacted => format!(
            "{path}: a line that changes holds a secret value; the patch redacts it, so `git \
             apply` will refuse that hunk: apply this file with `tflock apply`"
        ),
        Caveat::NeedsUnidiffZero => format!(
            "{path}: secret lines were left out of a hunk's context; apply the patch with `git \
             apply --unidiff-zero`"
        ),
    }
}

/// Where part `i` (0-based) of a Markdown report goes: FILE, then FILE.2.md, ...
pub fn markdown_part_path(path: &Path, i: usize) -> PathBuf {
    if i == 0 {
        return path.to_path_buf();
    }
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{}.md", i + 1));
    PathBuf::from(name)
}

/// "0.42s", "12.3s", "2m 05s".
pub fn took(d: Duration) -> String {
    if d.as_secs() >= 60 {
        format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60)
    } else if d.as_secs() >= 10 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_parts_after_the_first_are_numbered_from_two() {
        let path = Path::new("out/report.md");
        assert_eq!(markdown_part_path(path, 0), PathBuf::from("out/report.md"));
        assert_eq!(
            markdown_part_path(path, 1),
            PathBuf::from("out/report.md.2.md")
        );
        assert_eq!(
            markdown_part_path(path, 2),
            PathBuf::from("out/report.md.3.md")
        );
    }

    #[test]
    fn durations_read_like_a_stopwatch() {
        assert_eq!(took(Duration::from_millis(420)), "0.42s");
        assert_eq!(took(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(took(Duration::from_secs(125)), "2m 05s");
    }

    #[test]
    fn the_lock_note_counts_in_words() {
        assert_eq!(
            lock_note(1, 1, 3),
            "Lock checks: 1 state checked, 1 backend blocked (3 AWS requests)."
        );
        assert_eq!(
            lock_note(2, 0, 9),
            "Lock checks: 2 states checked, 0 backends blocked (9 AWS requests)."
        );
    }

    #[test]
    fn patch_caveats_name_the_file_and_the_way_out() {
        assert!(caveat_message("a.tf", Caveat::Redacted).starts_with("a.tf: a line that changes"));
        assert!(caveat_message("b.tf", Caveat::NeedsUnidiffZero).ends_with("--unidiff-zero`"));
    }
}
