//! The offline half of the pipeline: discover, read, parse and plan every file.
//!
//! Each file is read, prefiltered, parsed and planned on the walker's threads;
//! files that hold no backend are dropped there, so memory follows the backends,
//! not the size of the tree.

use crate::discover::{self, Candidate, FileKind, MAX_FILE_BYTES, Selection};
use crate::parse::{self, Backend};
use crate::plan::{self, Action, Edit, Strategy};
use crate::preflight::Finding;
use crate::preflight::facts::{self, Fact};
use crate::preflight::overrides::{self, InitOverride};
use crate::resolve::{self, Located, Resolution, Unit};
use crate::source::{Source, sha256_hex};
use crate::verify::BackendLocks;
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// A problem with one input, shown as `path:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path, self.line, self.column, self.message
        )
    }
}

/// One backend and what the plan does to it.
#[derive(Debug, Clone)]
pub struct BackendPlan {
    pub path: String,
    pub backend: Backend,
    pub action: Action,
    /// The edits that migrate this backend (empty unless `action` is Migrate).
    pub edits: Vec<Edit>,
    /// What verification found, when it ran.
    pub locks: Option<BackendLocks>,
    /// Why it is blocked, when the preflight blocked it (e.g. its version).
    pub reason: Option<String>,
    /// The states it governs, as the resolve stage found them.
    pub resolution: Resolution,
}

/// One file the plan read, with its backends' edits.
#[derive(Debug, Clone)]
pub struct FilePlan {
    /// Display path (relative to the current directory, `/`-separated).
    pub path: String,
    /// Path to open.
    pub fs_path: PathBuf,
    pub original: String,
    pub sha256: String,
    pub edits: Vec<Edit>,
    /// Edits that belong to no backend (a bumped `required_version`, a
    /// reader's DynamoDB settings removed).
    pub extra_edits: Vec<Edit>,
    pub new_text: String,
    /// The S3 `terraform_remote_state` readers in this file.
    pub readers: Vec<crate::readers::ReaderPlan>,
}

impl FilePlan {
    pub fn changed(&self) -> bool {
        self.new_text != self.original
    }

    pub fn sha256_after(&self) -> String {
        sha256_hex(self.new_text.as_bytes())
    }
}

/// Everything the offline pipeline found under the given paths, sorted by path.
#[derive(Debug, Clone, Default)]
pub struct RepoPlan {
    pub strategy: Option<Strategy>,
    pub backends: Vec<BackendPlan>,
    pub files: Vec<FilePlan>,
    pub problems: Vec<Problem>,
    /// Every Terragrunt unit of the repository and the file it includes.
    pub units: Vec<Unit>,
    /// What the files told the preflight (constraints, CI arguments, ...).
    pub facts: Vec<Fact>,
    /// What the preflight wants people to see.
    pub findings: Vec<Finding>,
    /// Init-time overrides (`-backend-config` in CI files, scripts,
    /// `TF_CLI_ARGS_init`, Terragrunt `extra_arguments`), by source and line.
    pub overrides: Vec<InitOverride>,
}

impl RepoPlan {
    pub fn changed_files(&self) -> impl Iterator<Item = &FilePlan> {
        self.files.iter().filter(|f| f.changed())
    }

    pub fn count(&self, action: Action) -> usize {
        self.backends.iter().filter(|b| b.action == action).count()
    }

    /// Records what verification found for each backend (by index). A blocked
    /// backend loses its edits, and the text of its file is rebuilt without them.
    pub fn record_locks(&mut self, locks: Vec<(usize, BackendLocks)>) {
        for (i, found) in locks {
            let backend = &mut self.backends[i];
            if found.blocked() && backend.action == Action::Migrate {
                backend.action = Action::Blocked;
            }
            backend.locks = Some(found);
        }
        self.rebuild_files();
    }

    /// Recomputes each file's edits and new text from the backends still to
    /// migrate and the file's own extra edits (edits never overlap, so any
    /// subset splices cleanly).
    pub fn rebuild_files(&mut self) {
        let mut by_path: std::collections::HashMap<&str, Vec<&BackendPlan>> =
            std::collections::HashMap::new();
        for b in self.backends.iter().filter(|b| b.action == Action::Migrate) {
            by_path.entry(&b.path).or_default().push(b);
        }
        for file in &mut self.files {
            let mut edits: Vec<Edit> = by_path
                .get(file.path.as_str())
                .into_iter()
                .flatten()
                .flat_map(|b| b.edits.iter().cloned())
                .collect();
            edits.extend(file.extra_edits.iter().cloned());
            if let Ok(text) = plan::splice(&file.original, &edits) {
                file.new_text = text;
                file.edits = edits;
            }
        }
    }

    pub fn blocked(&self) -> usize {
        self.count(Action::Blocked)
    }
}

/// What planning one file produced.
#[derive(Debug, Clone)]
pub enum FileOutcome {
    /// The file holds backends; its plan (possibly with no change).
    Planned(FilePlan, Vec<BackendPlan>),
    /// The file could not be read, parsed or planned; it is left untouched.
    Failed(Problem, Vec<BackendPlan>),
}

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
    let visited = discover::walk(roots, cwd, selection, progress, |candidate| {
        let (outcome, facts) = plan_file(candidate, cwd, strategy);
        (outcome.is_some() || !facts.is_empty()).then_some((outcome, facts))
    });
    let mut repo = RepoPlan {
        strategy: Some(strategy),
        ..RepoPlan::default()
    };
    for (_, (outcome, facts)) in visited {
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
    let repository = resolve::Repository::open(cwd);
    repo.units = repository.units.clone();
    overrides::collect(&mut repo, cwd, strategy, selection);
    resolve_repo(&mut repo, &repository, cwd);
    repo
}

/// Runs the resolve stage over every backend the scan found.
fn resolve_repo(repo: &mut RepoPlan, repository: &resolve::Repository, cwd: &Path) {
    let texts: std::collections::HashMap<&str, &str> = repo
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

/// Reads and plans one candidate, and gathers its facts for the preflight.
fn plan_file(
    candidate: Candidate,
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
        let too_big = std::fs::metadata(&candidate.path).map_or(true, |m| m.len() > MAX_FILE_BYTES);
        let bytes = if too_big {
            Vec::new()
        } else {
            std::fs::read(&candidate.path).unwrap_or_default()
        };
        let mut facts = facts::facts_of(&candidate, &bytes);
        facts.extend(overrides::fact_of(&candidate, &bytes, cwd));
        return (None, facts);
    }
    // The walk turned links inside the tree into their targets; one still
    // here leads out of it, where plan files and rollback cannot follow.
    let full = cwd.join(&candidate.path);
    if let discover::Link::Outside(target) =
        discover::through_symlink(&full, &cwd.canonicalize().unwrap_or_else(|_| cwd.into()))
    {
        let target = target.map_or("nothing (a dangling link)".into(), |t| {
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
    // One open: its size decides whether to read it at all.
    let bytes = match read_capped(&candidate.path) {
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
    facts.extend(overrides::fact_of(&candidate, &bytes, cwd));
    (plan_bytes(candidate, bytes, strategy), facts)
}

/// A file's bytes, or its size when it is over the limit (then it is not read).
fn read_capped(path: &Path) -> std::io::Result<Result<Vec<u8>, u64>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > MAX_FILE_BYTES {
        return Ok(Err(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.read_to_end(&mut bytes)?;
    Ok(Ok(bytes))
}

/// Plans one file from its bytes: prefilter, decode, parse, plan, recheck.
/// None when the file cannot hold a backend.
pub fn plan_bytes(candidate: Candidate, bytes: Vec<u8>, strategy: Strategy) -> Option<FileOutcome> {
    let path = candidate.display.clone();
    let fail = |line, column, message: String| {
        Some(FileOutcome::Failed(
            Problem {
                path: path.clone(),
                line,
                column,
                message,
            },
            Vec::new(),
        ))
    };
    discover::worth_parsing(candidate.kind, &bytes).ok()?;
    if !candidate.kind.is_json()
        && let Some((line, length)) = longest_line_over(&bytes, MAX_HCL_LINE_BYTES)
    {
        return fail(
            line,
            1,
            format!(
                "line is {length} bytes long, over the {} KiB limit for HCL configuration; not parsed",
                MAX_HCL_LINE_BYTES / 1024
            ),
        );
    }
    if let Some(nul) = memchr::memchr(0, &bytes) {
        let (line, column) = position(&bytes, nul);
        return fail(
            line,
            column,
            "binary content (NUL byte); not a configuration file".into(),
        );
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let (line, column) = position(e.as_bytes(), at);
            return fail(
                line,
                column,
                "invalid UTF-8; tflock reads only UTF-8 files".into(),
            );
        }
    };
    let source = Source::new(text);
    let parsed = match parse::parse_file(candidate.kind, &source) {
        Ok(parsed) => parsed,
        Err(e) => return fail(e.line, e.column, e.message),
    };
    let readers = match crate::readers::plan_readers(&source, &path, parsed.readers, strategy) {
        Ok(readers) => readers,
        Err(problem) => return Some(FileOutcome::Failed(problem, Vec::new())),
    };
    if parsed.backends.is_empty() && !readers.iter().any(|r| r.reported()) {
        return None;
    }
    plan_backends(candidate, source, parsed.backends, readers, strategy)
}

fn plan_backends(
    candidate: Candidate,
    source: Source,
    backends: Vec<Backend>,
    readers: Vec<crate::readers::ReaderPlan>,
    strategy: Strategy,
) -> Option<FileOutcome> {
    let path = candidate.display;
    let mut edits = Vec::new();
    let mut plans = Vec::new();
    let mut problem = None;
    for backend in backends {
        let edits_before = edits.len();
        let action = match plan::plan_backend(&source, &backend, strategy) {
            Ok((action, backend_edits)) => {
                edits.extend(backend_edits);
                action
            }
            Err(e) => {
                let (line, column) = source.line_col(e.offset);
                problem.get_or_insert(Problem {
                    path: path.clone(),
                    line,
                    column,
                    message: e.message,
                });
                Action::Error
            }
        };
        plans.push(BackendPlan {
            path: path.clone(),
            backend,
            action,
            edits: backend_edits_of(&edits, edits_before),
            locks: None,
            reason: None,
            resolution: Resolution::default(),
        });
    }
    let failed = |plans: Vec<BackendPlan>, problem: Problem| {
        let plans = plans
            .into_iter()
            .map(|mut p| {
                p.action = Action::Error;
                p
            })
            .collect();
        Some(FileOutcome::Failed(problem, plans))
    };
    if let Some(problem) = problem {
        return failed(plans, problem);
    }
    let reader_edits: Vec<Edit> = readers.iter().flat_map(|r| r.edits.clone()).collect();
    let all_edits: Vec<Edit> = edits.iter().chain(&reader_edits).cloned().collect();
    let new_text = match plan::splice(&source.text, &all_edits) {
        Ok(text) => text,
        Err(e) => return failed(plans, internal(&path, format!("edits conflict: {e}"))),
    };
    if let Err(message) = recheck(candidate.kind, &new_text, strategy) {
        return failed(plans, internal(&path, message));
    }
    let sha256 = sha256_hex(source.text.as_bytes());
    Some(FileOutcome::Planned(
        FilePlan {
            path,
            fs_path: candidate.path,
            original: source.text,
            sha256,
            edits: all_edits,
            extra_edits: reader_edits,
            new_text,
            readers,
        },
        plans,
    ))
}

/// The rewritten text must parse and plan no further change; otherwise tflock has
/// a bug, and the file is left alone rather than written half-right.
fn recheck(kind: discover::FileKind, new_text: &str, strategy: Strategy) -> Result<(), String> {
    let source = Source::new(new_text.to_string());
    let parsed = parse::parse_file(kind, &source)
        .map_err(|e| format!("rewritten text would not parse ({e}); file left unchanged"))?;
    for backend in &parsed.backends {
        match plan::plan_backend(&source, backend, strategy) {
            Ok((_, edits)) if edits.is_empty() => {}
            _ => return Err("rewrite is not stable on a second plan; file left unchanged".into()),
        }
    }
    for reader in &parsed.readers {
        match plan::readers::plan_reader(&source, reader, strategy) {
            Ok(edits) if edits.is_empty() => {}
            _ => return Err("rewrite is not stable on a second plan; file left unchanged".into()),
        }
    }
    Ok(())
}

fn backend_edits_of(edits: &[Edit], from: usize) -> Vec<Edit> {
    edits[from.min(edits.len())..].to_vec()
}

fn internal(path: &str, message: String) -> Problem {
    Problem {
        path: path.to_string(),
        line: 1,
        column: 1,
        message: format!("internal error: {message} (please report this)"),
    }
}

/// No hand-written HCL has lines this long; such a file is generated or hostile,
/// and the alignment logic would spend its time on it for nothing.
const MAX_HCL_LINE_BYTES: usize = 64 * 1024;

/// The first line longer than `limit` bytes: (1-based line, its length).
fn longest_line_over(bytes: &[u8], limit: usize) -> Option<(usize, usize)> {
    let mut start = 0;
    for (i, end) in memchr::memchr_iter(b'\n', bytes)
        .chain(std::iter::once(bytes.len()))
        .enumerate()
    {
        if end - start > limit {
            return Some((i + 1, end - start));
        }
        start = end + 1;
    }
    None
}

/// 1-based line and column of a byte offset in possibly invalid UTF-8.
fn position(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}
