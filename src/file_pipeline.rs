//! One file through parse and plan: its bytes in, its plan (edits, new text,
//! rechecked to parse and to plan no further change) out. Pure: it walks no
//! tree, reads and writes no file, and knows nothing of other files.

use crate::discover::{self, Candidate, FileKind};
use crate::model::{BackendPlan, FileOutcome, FilePlan, Problem};
use crate::parse::{self, Backend, VersionQuery, Versions};
use crate::plan::{self, Action, Edit, Strategy};
use crate::resolve::Resolution;
use crate::source::{Source, sha256_hex};

/// Plans one file from its bytes: prefilter, decode, parse, plan, recheck.
/// None when the file cannot hold a backend.
pub fn plan_bytes(candidate: Candidate, bytes: Vec<u8>, strategy: Strategy) -> Option<FileOutcome> {
    plan_and_read_versions(candidate, bytes, strategy, VersionQuery::default()).0
}

/// `plan_bytes`, and the version settings `query` asks for, from the same
/// parse of the file (a file without a backend is parsed for them alone).
pub fn plan_and_read_versions(
    candidate: Candidate,
    bytes: Vec<u8>,
    strategy: Strategy,
    query: VersionQuery,
) -> (Option<FileOutcome>, Versions) {
    plan_skimming(candidate, bytes, strategy, query, Skim::WhereCertain)
}

/// Whether a `.tf` file is skimmed (`parse::skim`) before it is parsed whole.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Skim {
    /// Wherever the lexer is certain: what every run does.
    WhereCertain,
    /// Never (the fuzzers compare the two).
    Never,
}

/// `plan_and_read_versions`, skimming as `skim` says.
pub(crate) fn plan_skimming(
    candidate: Candidate,
    bytes: Vec<u8>,
    strategy: Strategy,
    query: VersionQuery,
    skim: Skim,
) -> (Option<FileOutcome>, Versions) {
    let path = candidate.display.clone();
    let kind = candidate.kind;
    // Where the planner stops before parsing, the version settings still
    // come from a parse of their own (the preflight reads any file it can).
    let versions_only = |bytes: &[u8]| match std::str::from_utf8(bytes) {
        Ok(text) if query.any() => parse::versions_of(kind, &Source::new(text.to_string()), query),
        _ => Versions::default(),
    };
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
    if discover::worth_parsing(kind, &bytes).is_err() {
        return (None, versions_only(&bytes));
    }
    if !kind.is_json()
        && let Some((line, length)) = longest_line_over(&bytes, MAX_HCL_LINE_BYTES)
    {
        let message = format!(
            "line is {length} bytes long, over the {} KiB limit for HCL configuration; not parsed",
            MAX_HCL_LINE_BYTES / 1024
        );
        return (fail(line, 1, message), versions_only(&bytes));
    }
    if let Some(nul) = memchr::memchr(0, &bytes) {
        let (line, column) = position(&bytes, nul);
        let message = "binary content (NUL byte); not a configuration file".into();
        return (fail(line, column, message), versions_only(&bytes));
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let (line, column) = position(e.as_bytes(), at);
            let message = "invalid UTF-8; tflock reads only UTF-8 files".into();
            return (fail(line, column, message), Versions::default());
        }
    };
    let source = Source::new(text);
    // A file whose items that mention `backend` hold nothing to plan is
    // not parsed whole (parse::skim); elsewhere the skim costs a lexing pass.
    if kind == FileKind::Terraform
        && skim == Skim::WhereCertain
        && let Some(masked) = parse::skim::mask(source.body())
        && masked.blanks_anything
        && let Some(versions) = nothing_to_plan(&source, &path, masked, strategy, query)
    {
        return (None, versions);
    }
    let (parsed, versions) = match parse::document(kind, &source) {
        Ok(document) => (document.parsed(), document.versions(query)),
        // A JSON file the strict parser refuses may still be read leniently
        // for its constraints; an HCL file that does not parse has none.
        Err(e) if kind.is_json() && query.any() => {
            (Err(e), parse::versions_of(kind, &source, query))
        }
        Err(e) => (Err(e), Versions::default()),
    };
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return (fail(e.line, e.column, e.message), versions),
    };
    let readers = match crate::readers::plan_readers(&source, &path, parsed.readers, strategy) {
        Ok(readers) => readers,
        Err(problem) => return (Some(FileOutcome::Failed(problem, Vec::new())), versions),
    };
    if parsed.backends.is_empty() && !readers.iter().any(|r| r.reported()) {
        return (None, versions);
    }
    (
        plan_backends(candidate, source, parsed.backends, readers, strategy),
        versions,
    )
}

/// The version settings of a `.tf` file whose masked text parses to no
/// backend and no reader the plan reports, where the whole file, parsed,
/// would give the same (or a syntax error in a blanked item, which this
/// leaves unreported, as for a file without the word `backend`). None when
/// the masked text holds anything: then the file is parsed whole.
fn nothing_to_plan(
    source: &Source,
    path: &str,
    masked: parse::skim::Masked,
    strategy: Strategy,
    query: VersionQuery,
) -> Option<Versions> {
    let text = format!("{}{}", &source.text[..source.bom], masked.text);
    let masked = Source::at_offsets_of(source, text);
    let document = parse::document(FileKind::Terraform, &masked).ok()?;
    let parsed = document.parsed().ok()?;
    let readers = crate::readers::plan_readers(&masked, path, parsed.readers, strategy).ok()?;
    let nothing = parsed.backends.is_empty() && !readers.iter().any(|r| r.reported());
    nothing.then(|| document.versions(query))
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
        // A rewrite that does not parse is tflock's bug, unless the file was
        // not valid HCL to begin with, which hcl-edit let through.
        let problem = match parse::quoted_string_over_lines(candidate.kind, &source) {
            Some(e) => Problem {
                path: path.clone(),
                line: e.line,
                column: e.column,
                message: e.message,
            },
            None => internal(&path, message),
        };
        return failed(plans, problem);
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
