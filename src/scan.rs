//! The offline half of the pipeline: discover, read, parse, resolve and plan every
//! file of a tree; it only orchestrates (each step is its stage's) and never writes.
//!
//! Each file is read, prefiltered, parsed and planned on the walker's threads;
//! files that hold no backend are dropped there, so memory follows the backends,
//! not the size of the tree.

use crate::discover::{self, Candidate, FileKind, MAX_FILE_BYTES, Selection};
use crate::file_pipeline;
pub use crate::file_pipeline::plan_bytes;
pub use crate::model::{BackendPlan, FileOutcome, FilePlan, Problem, RepoPlan};
use crate::plan::Strategy;
use crate::preflight::facts::{self, Fact};
use crate::preflight::overrides::{self, InitOverride};
use crate::resolve::{self, Located};
use std::path::{Path, PathBuf};

/// Discovers, parses and plans every backend below `roots`.
pub fn scan(roots: &[PathBuf], cwd: &Path, strategy: Strategy) -> RepoPlan {
    scan_with(roots, cwd, strategy, &Selection::default(), None)
}

/// `scan` over a selection of the tree, counting files on a progress bar.
pub fn scan_with(
    roots: &[PathBuf],
    cwd: &Path,
    strategy: Strategy,
    selection: &Selection,
    progress: Option<&indicatif::ProgressBar>,
) -> RepoPlan {
    let walked = discover::walk(
        roots,
        cwd,
        selection,
        progress,
        |candidate, link, opened| {
            let (outcome, facts) = plan_file(candidate, link, opened, cwd, strategy);
            (outcome.is_some() || !facts.is_empty()).then_some((outcome, facts))
        },
    );
    let mut repo = RepoPlan {
        strategy: Some(strategy),
        ..RepoPlan::default()
    };
    for (_, (outcome, facts)) in walked.found {
        repo.facts.extend(facts);
        let Some(outcome) = outcome else { continue };
        match outcome {
            FileOutcome::Planned(file, backends) => {
                repo.backends.extend(backends);
                repo.files.push(file);
            }
            FileOutcome::Failed(problem, backends) => {
                repo.backends.extend(backends);
                repo.problems.push(problem);
            }
        }
    }
    // Units first (the overrides of a root's `extra_arguments` are evaluated
    // per unit), then the files init-time overrides pass are planned too, then
    // every backend is resolved (the partial files among them complete their
    // modules).
    let repository = resolve::Repository::open(cwd, &walked.unit_files);
    repo.units = repository.units.clone();
    overrides::collect(&mut repo, cwd, strategy, selection);
    resolve_repo(&mut repo, &repository, cwd);
    repo
}

/// Runs the resolve stage over every backend the scan found.
fn resolve_repo(repo: &mut RepoPlan, repository: &resolve::Repository, cwd: &Path) {
    let texts: foldhash::HashMap<&str, &str> = repo
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.original.as_str()))
        .collect();
    let located: Vec<Located> = repo
        .backends
        .iter()
        .map(|b| Located {
            backend: &b.backend,
            path: &b.path,
            text: texts.get(b.path.as_str()).copied().unwrap_or_default(),
        })
        .collect();
    let inits: Vec<resolve::InitArgument> = repo.overrides.iter().map(init_argument).collect();
    let resolutions = repository.resolve_all(&located, &inits, cwd);
    for (b, resolution) in repo.backends.iter_mut().zip(resolutions) {
        b.resolution = resolution;
    }
}

/// An init-time override as the resolve stage reads it.
fn init_argument(o: &InitOverride) -> resolve::InitArgument {
    use crate::preflight::overrides::OverrideKind;
    resolve::InitArgument {
        dir: o.dir.clone(),
        location: format!("{}:{}", o.source, o.line),
        what: match &o.kind {
            OverrideKind::Setting {
                key,
                value,
                literal_prefix,
                complete,
            } => resolve::InitWhat::Setting {
                key: key.clone(),
                value: value.clone(),
                literal_prefix: literal_prefix.clone(),
                complete: *complete,
            },
            OverrideKind::File { path, file, .. } => resolve::InitWhat::File {
                file: file.clone(),
                path: path.clone(),
            },
            OverrideKind::Unreadable { text } => {
                resolve::InitWhat::Unreadable { text: text.clone() }
            }
        },
    }
}

/// Reads and plans one candidate, and gathers its facts for the preflight
/// (`link`: what the walk found the path to be, as far as links go;
/// `opened`: the file, when the walk opened it).
fn plan_file(
    candidate: Candidate,
    link: &discover::Link,
    opened: Option<discover::Opened>,
    cwd: &Path,
    strategy: Strategy,
) -> (Option<FileOutcome>, Vec<Fact>) {
    let path = candidate.display.clone();
    let fail = |line, column, message: String| {
        let problem = Problem {
            path: path.clone(),
            line,
            column,
            message,
        };
        (Some(FileOutcome::Failed(problem, Vec::new())), Vec::new())
    };
    if candidate.kind == FileKind::Ci {
        // A CI file is read for its arguments only; one that cannot be read, or
        // that is far too large to be a script, is simply not a CI file here.
        let bytes = match read_candidate(opened, &candidate.path) {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(_)) | Err(_) => Vec::new(),
        };
        let mut facts = facts::facts_of(&candidate, &bytes);
        facts.extend(overrides::fact_of(&candidate, &bytes, cwd));
        return (None, facts);
    }
    // The walk turned links inside the tree into their targets; one still
    // here leads out of it, where plan files and rollback cannot follow.
    if let discover::Link::Outside(target) = link {
        let target = target
            .as_ref()
            .map_or("nothing (a dangling link)".into(), |t| {
                t.display().to_string()
            });
        return fail(
            1,
            1,
            format!(
                "symbolic link to {target}, outside the current directory; refused (tflock \
                 follows links only to files below the folder it runs in)"
            ),
        );
    }
    let bytes = match read_candidate(opened, &candidate.path) {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(size)) => {
            return fail(
                1,
                1,
                format!(
                    "file is {size} bytes, over the {} MiB limit for configuration; not read",
                    MAX_FILE_BYTES / (1024 * 1024)
                ),
            );
        }
        Err(e) => return fail(1, 1, format!("cannot read: {e}")),
    };
    // backend.hcl, backend.conf, ...: partial configurations only if they look like one.
    let Some(candidate) = overrides::partial::classify(candidate, &bytes) else {
        return (None, Vec::new());
    };
    if let Some(problem) = overrides::partial::not_literal(&candidate, &bytes) {
        return (Some(FileOutcome::Failed(problem, Vec::new())), Vec::new());
    }
    let mut facts = facts::facts_of(&candidate, &bytes);
    let overrides = overrides::fact_of(&candidate, &bytes, cwd);
    // One parse serves the plan and the preflight's version constraints.
    let query = facts::version_query(&candidate, &bytes);
    let shown = candidate.clone();
    let (outcome, versions) =
        file_pipeline::plan_and_read_versions(candidate, bytes, strategy, query);
    facts.extend(facts::constraint_facts(&shown, &versions));
    facts.extend(overrides);
    (outcome, facts)
}

/// A candidate's bytes, or its size when it is over the limit (then it is not
/// read). One open, the walk's when it made one: its size decides whether to
/// read the file at all.
pub fn read_candidate(
    opened: Option<discover::Opened>,
    path: &Path,
) -> std::io::Result<Result<Vec<u8>, u64>> {
    opened.map_or_else(|| open(path), Ok).and_then(read_capped)
}

/// Opens a file to read (its size asked of the open file).
fn open(path: &Path) -> std::io::Result<discover::Opened> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    Ok(discover::Opened { file, size })
}

/// A file's bytes, or its size when it is over the limit (then it is not read).
fn read_capped(opened: discover::Opened) -> std::io::Result<Result<Vec<u8>, u64>> {
    use std::io::Read;
    if opened.size > MAX_FILE_BYTES {
        return Ok(Err(opened.size));
    }
    // The size it had when opened, in one read: through `take`, std asks no
    // size of its own and makes no read to find the end. Bytes a writer adds
    // meanwhile are not read; `apply` finds the file changed since the plan
    // (its hash) and writes nothing.
    let mut bytes = Vec::with_capacity(opened.size as usize);
    opened.file.take(opened.size).read_to_end(&mut bytes)?;
    Ok(Ok(bytes))
}
