//! The properties every rewrite must have, shared by the mutation fuzzer
//! (`tests/fuzz.rs`) and the coverage-guided fuzz targets (`fuzz/`), so both
//! check the same thing. Not an API: hidden from the docs, free to change.
//!
//! [`check_input`] plans one file with both strategies and checks: a problem has
//! a position inside the file and is no internal error; a plan's edits are in
//! bounds, on character boundaries and disjoint, and splice to the new text;
//! bytes outside the edits are unchanged (BOM, final newline, line-ending style);
//! the reversed edits restore the original; the new text parses to the expected
//! settings; a second plan is empty; edits stay inside migrated backends and only
//! remove DynamoDB/lockfile settings and insert `use_lockfile = true`.
//! [`check_evaluator`] runs the resolve stage's expression evaluator over a
//! Terragrunt unit and its root and checks that it is deterministic and that its
//! two ways of answering agree.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::discover::{Candidate, FileKind};
use crate::file_pipeline::{Skim, plan_skimming};
use crate::parse::{self, Backend, Body, Value, VersionQuery};
use crate::plan::{Action, Edit, Strategy, splice};
use crate::resolve::eval::{Evaluated, Evaluator, World};
use crate::source::Source;
use crate::{BackendPlan, FileOutcome, FilePlan};

/// Inputs of the coverage-guided targets are cut to this size: well above any
/// real backend file, and small enough that one input never takes seconds.
pub const MAX_FUZZ_INPUT: usize = 64 * 1024;

/// The kind tflock gives a file name, when it can hold a backend.
pub fn kind_of(name: &str) -> Option<FileKind> {
    FileKind::of(Path::new(name)).filter(|k| *k != FileKind::Ci)
}

/// [`check_input`] for a fuzz target: the input cut to [`MAX_FUZZ_INPUT`] and
/// planned as a file called `name`; a broken property panics with its class,
/// which is what libFuzzer reports.
pub fn fuzz_file(name: &str, bytes: &[u8]) {
    let bytes = &bytes[..bytes.len().min(MAX_FUZZ_INPUT)];
    let kind = kind_of(name).expect("a backend file name");
    if let Err(f) = check_input(name, kind, bytes) {
        panic!("{name}: {}: {}", f.class, f.detail);
    }
}

/// What one input did, summed over both strategies.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Stats {
    pub changed: u64,
    pub unchanged: u64,
    pub errors: u64,
    pub irrelevant: u64,
    /// Plans of `.tf` files where the skim alone found nothing to plan.
    pub skimmed: u64,
    /// The slowest single `plan_bytes` call, and the size of its input.
    pub slowest: (Duration, usize),
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, o: Stats) {
        self.changed += o.changed;
        self.unchanged += o.unchanged;
        self.errors += o.errors;
        self.irrelevant += o.irrelevant;
        self.skimmed += o.skimmed;
        self.slowest = self.slowest.max(o.slowest);
    }
}

/// A broken property: its class (what a saved file is named after) and details.
#[derive(Debug, Clone)]
pub struct Finding {
    pub class: &'static str,
    pub detail: String,
}

pub fn finding(class: &'static str, detail: impl Into<String>) -> Finding {
    Finding {
        class,
        detail: detail.into(),
    }
}

macro_rules! ensure {
    ($cond:expr, $class:literal, $($fmt:tt)+) => {
        if !$cond {
            return Err(finding($class, format!($($fmt)+)));
        }
    };
}

pub fn candidate(name: &str, kind: FileKind) -> Candidate {
    Candidate {
        path: PathBuf::from(name),
        display: name.to_string(),
        kind,
    }
}

pub const STRATEGIES: [Strategy; 2] = [Strategy::Replace, Strategy::Dual];

/// Plans `bytes` with both strategies and checks every property.
pub fn check_input(name: &str, kind: FileKind, bytes: &[u8]) -> Result<Stats, Finding> {
    let mut stats = Stats {
        skimmed: check_skim(name, kind, bytes)?,
        ..Stats::default()
    };
    for strategy in STRATEGIES {
        let tag = format!("{strategy:?}");
        let t = Instant::now();
        let outcome = crate::plan_bytes(candidate(name, kind), bytes.to_vec(), strategy);
        stats.slowest = stats.slowest.max((t.elapsed(), bytes.len()));
        match outcome {
            None => stats.irrelevant += 1,
            Some(FileOutcome::Failed(problem, _)) => {
                stats.errors += 1;
                // The planner's own recheck refusing its rewrite is a bug too.
                if problem.message.contains("internal error") {
                    let m = &problem.message;
                    let class = if m.contains("edits conflict") {
                        "edit-conflict"
                    } else if m.contains("not stable") {
                        "unstable-rewrite"
                    } else if m.contains("would not parse") {
                        "unparseable-rewrite"
                    } else {
                        "internal-error"
                    };
                    return Err(finding(class, format!("{tag}: {problem}")));
                }
                let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
                ensure!(
                    problem.line >= 1 && problem.column >= 1 && problem.line <= lines,
                    "problem-position",
                    "{tag}: {problem} (file has {lines} lines)"
                );
            }
            Some(FileOutcome::Planned(file, backends)) => {
                ensure!(
                    file.original.as_bytes() == bytes,
                    "original",
                    "{tag}: the plan's original text is not the input"
                );
                for b in &backends {
                    if let Some(key) = duplicated_target(&b.backend.body)
                        && b.action != Action::None
                    {
                        return Err(finding(
                            "duplicate-key",
                            format!(
                                "{tag}: the backend at line {} sets `{key}` twice and is planned \
                                 ({:?}) from the first; HCL objects keep the last, Terraform \
                                 rejects duplicate JSON members; expected: refused",
                                b.backend.line, b.action
                            ),
                        ));
                    }
                }
                if file.new_text == file.original {
                    stats.unchanged += 1;
                    ensure!(
                        splice(&file.original, &file.edits).as_deref()
                            == Ok(file.new_text.as_str()),
                        "splice",
                        "{tag}: edits {:?} of an unchanged file do not splice to it",
                        file.edits
                    );
                    continue;
                }
                stats.changed += 1;
                check_rewrite(name, kind, strategy, &file, &backends)
                    .map_err(|f| finding(f.class, format!("{tag}: {}", f.detail)))?;
            }
        }
    }
    Ok(stats)
}

/// The skim (`parse::skim`) changes nothing the pipeline says of a file: a
/// `.tf` file planned after skimming has the outcome and version settings of
/// the file parsed whole, except that a syntax error in an item it blanked
/// goes unreported. Returns how many of the skimmed plans found nothing to
/// plan (so a run can tell the property was put to work).
fn check_skim(name: &str, kind: FileKind, bytes: &[u8]) -> Result<u64, Finding> {
    // Where the lexer is not certain both plans parse the file whole.
    let lexed = || {
        std::str::from_utf8(bytes)
            .is_ok_and(|text| parse::skim::mask(Source::new(text.to_string()).body()).is_some())
    };
    if kind != FileKind::Terraform || !lexed() {
        return Ok(0);
    }
    let mut decided = 0;
    let query = VersionQuery {
        required_version: true,
        terragrunt_constraint: false,
    };
    for strategy in STRATEGIES {
        let plan = |skim| {
            let (outcome, versions) =
                plan_skimming(candidate(name, kind), bytes.to_vec(), strategy, query, skim);
            (format!("{outcome:?}"), outcome, versions)
        };
        let (whole, whole_outcome, whole_versions) = plan(Skim::Never);
        let (skimmed, skimmed_outcome, skimmed_versions) = plan(Skim::WhereCertain);
        let blanked_syntax_error = skimmed_outcome.is_none()
            && matches!(&whole_outcome, Some(FileOutcome::Failed(p, _))
                if p.message.starts_with("syntax error"));
        ensure!(
            (whole == skimmed && whole_versions == skimmed_versions) || blanked_syntax_error,
            "skim",
            "{strategy:?}: parsed whole: {whole} {whole_versions:?}; skimmed: {skimmed} \
             {skimmed_versions:?}"
        );
        decided += u64::from(skimmed_outcome.is_none());
    }
    Ok(decided)
}

fn check_rewrite(
    name: &str,
    kind: FileKind,
    strategy: Strategy,
    file: &FilePlan,
    backends: &[BackendPlan],
) -> Result<(), Finding> {
    let (old, new) = (file.original.as_str(), file.new_text.as_str());
    let mut edits = file.edits.clone();
    edits.sort_by_key(|e| (e.start, e.end));
    // Well-formed edits.
    let mut cursor = 0;
    for e in &edits {
        ensure!(
            e.start <= e.end
                && e.end <= old.len()
                && old.is_char_boundary(e.start)
                && old.is_char_boundary(e.end)
                && e.start >= cursor,
            "edits",
            "bad or overlapping edit {e:?} in {edits:?}"
        );
        cursor = e.end;
    }
    ensure!(
        splice(old, &edits).as_deref() == Ok(new),
        "splice",
        "splice(original, edits) is not the new text"
    );
    // An independent walk: outside the edits, the new text is the old one.
    let (mut o, mut n) = (0, 0);
    for e in &edits {
        let gap = &old.as_bytes()[o..e.start];
        ensure!(
            new.as_bytes().get(n..n + gap.len()) == Some(gap),
            "outside-bytes",
            "bytes {o}..{} changed outside the edits",
            e.start
        );
        n += gap.len();
        ensure!(
            new.as_bytes().get(n..n + e.text.len()) == Some(e.text.as_bytes()),
            "outside-bytes",
            "edit {e:?} not found at {n} of the new text"
        );
        n += e.text.len();
        o = e.end;
    }
    ensure!(
        new.as_bytes().get(n..) == Some(&old.as_bytes()[o..]),
        "outside-bytes",
        "the tail after {o} changed"
    );
    ensure!(
        old.starts_with('\u{feff}') == new.starts_with('\u{feff}'),
        "bom",
        "BOM added or lost"
    );
    // The final newline, or its absence, is kept. (When the last line of a file
    // without one is deleted and the line before it is blank, what is left ends
    // with that blank line's newline: that is still "no final newline".)
    let last_line_deleted_after_blank = edits
        .last()
        .is_some_and(|e| e.end == old.len() && e.text.is_empty() && old[..e.start].ends_with('\n'));
    ensure!(
        old.ends_with('\n') == new.ends_with('\n')
            || (!old.ends_with('\n') && last_line_deleted_after_blank)
            || new.is_empty(),
        "final-newline",
        "final newline added or lost"
    );
    // Inserted line breaks follow the file's style (when it has one): no CRLF in
    // an LF file, no bare LF in a CRLF file, no lone CR unless the file has one.
    let (crlf, lf, lone_cr) = line_breaks(old);
    if lf + crlf > 0 && (crlf == 0 || lf == 0) {
        let style_kept = edits.iter().all(|e| {
            let (c, l, r) = line_breaks(&e.text);
            (if crlf > 0 { l == 0 } else { c == 0 }) && (r == 0 || lone_cr > 0)
        });
        ensure!(
            style_kept,
            "line-endings",
            "an edit breaks the file's line-ending style: {edits:?}"
        );
    }
    // Rollback: the reversed edits, applied to the new text, give the original.
    let mut reverse = Vec::new();
    let mut shift: isize = 0;
    for e in &edits {
        let start = (e.start as isize + shift) as usize;
        reverse.push(Edit::replace(
            start..start + e.text.len(),
            &old[e.start..e.end],
        ));
        shift += e.text.len() as isize - (e.end - e.start) as isize;
    }
    ensure!(
        splice(new, &reverse).as_deref() == Ok(old),
        "rollback",
        "reversed edits do not restore the original"
    );
    check_locality(old, &edits, backends, &file.readers)?;
    // Parses again, to the expected settings.
    let source = Source::new(new.to_string());
    let reparsed = parse::parse(kind, &source)
        .map_err(|e| finding("reparse", format!("new text does not parse: {e}")))?;
    ensure!(
        reparsed.len() == backends.len(),
        "backend-count",
        "{} backends before, {} after",
        backends.len(),
        reparsed.len()
    );
    for (plan, after) in backends.iter().zip(&reparsed) {
        let want = expected_settings(&plan.backend, plan.action, strategy);
        let got = settings_of(&after.body);
        ensure!(
            got == want,
            "settings",
            "backend at line {}: settings after the rewrite\n  {got:?}\nwant\n  {want:?}",
            plan.backend.line
        );
    }
    // A second plan changes nothing, and calls the migrated backends migrated.
    match crate::plan_bytes(candidate(name, kind), new.as_bytes().to_vec(), strategy) {
        Some(FileOutcome::Planned(again, again_backends)) => {
            ensure!(
                again.new_text == again.original && again.edits.is_empty(),
                "second-plan",
                "second plan has edits {:?}",
                again.edits
            );
            let actions: Vec<Action> = again_backends.iter().map(|b| b.action).collect();
            let want: Vec<Action> = backends
                .iter()
                .map(|b| match b.action {
                    Action::Migrate => Action::AlreadyMigrated,
                    a => a,
                })
                .collect();
            ensure!(
                actions == want,
                "second-plan",
                "second plan actions {actions:?}, want {want:?}"
            );
        }
        Some(FileOutcome::Failed(p, _)) => {
            return Err(finding("second-plan", format!("second plan failed: {p}")));
        }
        // A file of readers only has nothing left to report once they lost
        // their DynamoDB settings (issue 12).
        None if backends.is_empty() => {}
        None => return Err(finding("second-plan", "second plan found no backend")),
    }
    Ok(())
}

/// A DynamoDB or lockfile key set twice in one settings body (or `endpoints`).
fn duplicated_target(body: &Body) -> Option<String> {
    let mut seen = BTreeSet::new();
    for s in &body.settings {
        if TARGETS.contains(&s.key.as_str()) && !seen.insert(s.key.as_str()) {
            return Some(s.key.clone());
        }
        if s.key == "endpoints"
            && let Some(object) = &s.object
            && object
                .settings
                .iter()
                .filter(|i| i.key == "dynamodb")
                .count()
                > 1
        {
            return Some("endpoints.dynamodb".into());
        }
    }
    None
}

/// (CRLF, bare LF, lone CR) counts of a text.
fn line_breaks(text: &str) -> (usize, usize, usize) {
    let b = text.as_bytes();
    let crlf = text.matches("\r\n").count();
    let lf = b.iter().filter(|&&c| c == b'\n').count() - crlf;
    let cr = b.iter().filter(|&&c| c == b'\r').count() - crlf;
    (crlf, lf, cr)
}

const TARGETS: [&str; 7] = [
    "dynamodb_table",
    "dynamodb_endpoint",
    "endpoints",
    "use_lockfile",
    // Terragrunt's alias of dynamodb_table, and the keys of the lock table it
    // bootstraps (replace removes them from a remote_state config).
    "lock_table",
    "dynamodb_table_tags",
    "enable_lock_table_ssencryption",
];

/// Edits stay inside migrated backends (and reader configs); they remove only target settings (with
/// their separators and same-line comments) and whitespace, and insert only
/// `use_lockfile = true` (HCL or JSON spelling), separators and whitespace.
fn check_locality(
    old: &str,
    edits: &[Edit],
    backends: &[BackendPlan],
    readers: &[crate::readers::ReaderPlan],
) -> Result<(), Finding> {
    let migrated: Vec<&Backend> = backends
        .iter()
        .filter(|b| b.action == Action::Migrate)
        .map(|b| &b.backend)
        .collect();
    // Readers (issue 12) lose their DynamoDB settings inside their `config`.
    let reader_configs: Vec<&Body> = readers
        .iter()
        .filter(|r| !r.edits.is_empty())
        .filter_map(|r| r.reader.config.as_ref())
        .collect();
    let line_end = |at: usize| old[at..].find('\n').map_or(old.len(), |i| at + i);
    // Each target setting's span, and the same-line comment after it, if any.
    let targets: Vec<(Range<usize>, Option<Range<usize>>)> = migrated
        .iter()
        .flat_map(|b| b.body.settings.iter())
        .chain(reader_configs.iter().flat_map(|c| c.settings.iter()))
        .filter(|s| TARGETS.contains(&s.key.as_str()))
        .map(|s| {
            let span = s.span();
            let end = line_end(span.end);
            let rest = old[span.end..end].trim_start_matches([' ', '\t', ',']);
            let comment = ["#", "//", "/*"]
                .iter()
                .any(|c| rest.starts_with(c))
                .then(|| end - rest.len()..end);
            (span, comment)
        })
        .collect();
    let blank = |t: &str| t.chars().all(|c| c == ' ' || c == '\t');
    for e in edits {
        // `terraform fmt` aligns trailing comments across block boundaries, so the
        // padding before a comment may change on lines outside the backend.
        let comment_padding = blank(&old[e.start..e.end])
            && blank(&e.text)
            && ["#", "//", "/*"]
                .iter()
                .any(|c| old[e.end..].starts_with(c));
        ensure!(
            comment_padding
                || migrated
                    .iter()
                    .map(|b| &b.body)
                    .chain(reader_configs.iter().copied())
                    .any(|b| b.span.start <= e.start && e.end <= b.span.end),
            "locality",
            "edit {e:?} lies outside every migrated backend's body and reader config"
        );
        let removed = &old[e.start..e.end];
        for (i, c) in removed.char_indices() {
            let at = e.start + i;
            let allowed = c.is_whitespace()
                || c == ','
                || targets.iter().any(|(t, comment)| {
                    t.contains(&at) || comment.as_ref().is_some_and(|c| c.contains(&at))
                });
            ensure!(
                allowed,
                "locality",
                "edit {e:?} removes {c:?} at {at}, outside the DynamoDB/lockfile settings"
            );
        }
        let mut rest: String = e.text.chars().filter(|c| !c.is_whitespace()).collect();
        'strip: while !rest.is_empty() {
            for token in ["\"use_lockfile\"", "use_lockfile", "true", "=", ":", ","] {
                if let Some(r) = rest.strip_prefix(token) {
                    rest = r.to_string();
                    continue 'strip;
                }
            }
            return Err(finding(
                "locality",
                format!("edit {e:?} inserts {rest:?}, not only `use_lockfile = true`"),
            ));
        }
    }
    Ok(())
}

/// A setting as compared before and after: key and value (expressions without
/// whitespace, objects by their items).
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Lit(String),
    Object(Vec<(String, Val)>),
}

fn val(s: &crate::parse::Setting) -> Val {
    if let Some(object) = &s.object {
        return Val::Object(settings_of(object));
    }
    Val::Lit(match &s.value {
        Value::Expression(e) => e.chars().filter(|c| !c.is_whitespace()).collect(),
        v => format!("{v:?}"),
    })
}

fn settings_of(body: &Body) -> Vec<(String, Val)> {
    let mut all: Vec<(String, Val)> = body
        .settings
        .iter()
        .map(|s| (s.key.clone(), val(s)))
        .collect();
    // `use_lockfile` may move (placed where DynamoDB stood); compare it last.
    all.sort_by_key(|(k, _)| k == "use_lockfile");
    all
}

/// What a backend's settings should be after the plan.
fn expected_settings(backend: &Backend, action: Action, strategy: Strategy) -> Vec<(String, Val)> {
    let mut want = settings_of(&backend.body);
    if action != Action::Migrate {
        return want;
    }
    // Only the first of each key counts for tflock (and Terraform rejects duplicates).
    if strategy == Strategy::Replace {
        want.retain(|(k, _)| {
            k != "dynamodb_table" && k != "dynamodb_endpoint" && k != "lock_table"
        });
        if backend.kind == crate::parse::BackendKind::Terragrunt
            && backend.body.syntax == crate::parse::Syntax::HclObject
        {
            want.retain(|(k, _)| {
                k != "dynamodb_table_tags" && k != "enable_lock_table_ssencryption"
            });
        }
        let mut drop_endpoints = false;
        for (k, v) in want.iter_mut() {
            if k == "endpoints"
                && let Val::Object(items) = v
            {
                let before = items.len();
                items.retain(|(k, _)| k != "dynamodb");
                drop_endpoints = items.is_empty() && before > 0;
            }
        }
        if drop_endpoints {
            want.retain(|(k, _)| k != "endpoints");
        }
    }
    let lockfile = ("use_lockfile".to_string(), Val::Lit("Bool(true)".into()));
    match want.iter_mut().find(|(k, _)| k == "use_lockfile") {
        Some(slot) => *slot = lockfile,
        None => want.push(lockfile),
    }
    want
}

// ---------------------------------------------------------------------------
// Heredocs
// ---------------------------------------------------------------------------

/// A Terragrunt file whose `generate` block writes `contents` (a heredoc) next
/// to a `remote_state` block: the rewriter must edit the backend and leave the
/// heredoc's text alone, or edit the backend inside the heredoc when that is
/// where it is, and never take a heredoc's terminator for text.
pub fn heredoc_unit(contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(contents.len() + 256);
    out.extend_from_slice(
        b"remote_state {\n  backend = \"s3\"\n  config = {\n    bucket         = \"b\"\n    key            = \"k\"\n    region         = \"us-east-1\"\n    dynamodb_table = \"locks\"\n  }\n}\n\ngenerate \"backend\" {\n  path      = \"backend.tf\"\n  if_exists = \"overwrite\"\n  contents  = <<EOF\n",
    );
    out.extend_from_slice(contents);
    if !contents.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.extend_from_slice(b"EOF\n}\n");
    out
}

// ---------------------------------------------------------------------------
// The resolve stage's evaluator
// ---------------------------------------------------------------------------

/// A root for units whose input names none: `include` of it resolves, and its
/// locals read the unit's path the way the gruntwork live example does.
pub const DEFAULT_ROOT: &str = r#"locals {
  env    = basename(dirname(get_terragrunt_dir()))
  region = get_env("AWS_REGION", "us-east-1")
  vars   = try(read_terragrunt_config(find_in_parent_folders("env.hcl")).locals, {})
}

remote_state {
  backend = "s3"
  config = {
    bucket         = "state-${local.env}-${local.region}"
    key            = "${path_relative_to_include()}/terraform.tfstate"
    region         = local.region
    dynamodb_table = lookup(local.vars, "table", "locks")
  }
}
"#;

/// The files around the unit, shaped like gruntwork's live example (account,
/// region and environment variables read with `find_in_parent_folders`, a
/// shared `_envcommon` include): (path below the repository, text).
const TREE: [(&str, &str); 5] = [
    (
        "prod/account.hcl",
        "locals {\n  account_name   = \"prod\"\n  aws_account_id = \"123456789012\"\n}\n",
    ),
    (
        "prod/us-east-1/region.hcl",
        "locals {\n  aws_region = \"us-east-1\"\n}\n",
    ),
    (
        "prod/us-east-1/prod/env.hcl",
        "locals {\n  environment = \"prod\"\n  table       = \"locks-${basename(get_terragrunt_dir())}\"\n}\n",
    ),
    (
        "_envcommon/mysql.hcl",
        "locals {\n  env = read_terragrunt_config(find_in_parent_folders(\"env.hcl\")).locals.environment\n}\n",
    ),
    (
        "_envcommon/webserver-cluster.hcl",
        "terraform {\n  source = \"git::https://example.com/modules.git//asg\"\n}\n",
    ),
];

/// Where the unit lies below the repository.
const UNIT: &str = "prod/us-east-1/prod/app/terragrunt.hcl";

/// One evaluated setting: its key path, the value as [`Evaluated`] shows it,
/// and the string prefix with the reason the rest is unknown.
type Answer = (String, Evaluated, (String, Option<String>));

/// Runs the evaluator over a repository in `dir` (which it rewrites): the unit
/// [`UNIT`] holds `input` up to its first NUL byte, and `root.hcl` what follows
/// it (or [`DEFAULT_ROOT`]); [`TREE`] gives the files around them. Every setting of the
/// `remote_state` that applies to the unit is evaluated, twice, by fresh
/// evaluators; the answers must be equal, and a known string must be its own
/// known prefix, a fully known prefix a known value.
pub fn check_evaluator(dir: &Path, input: &[u8]) -> Result<usize, Finding> {
    let input = &input[..input.len().min(MAX_FUZZ_INPUT)];
    let (unit, root) = match memchr::memchr(0, input) {
        Some(at) => (&input[..at], &input[at + 1..]),
        None => (input, DEFAULT_ROOT.as_bytes()),
    };
    let unit_file = dir.join(UNIT);
    let write = |path: &Path, bytes: &[u8]| {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create the tree");
        std::fs::write(path, bytes).expect("write the tree");
    };
    write(&unit_file, unit);
    write(&dir.join("root.hcl"), root);
    // Inputs never change these: written once per directory.
    for (path, text) in TREE {
        let path = dir.join(path);
        if !path.exists() {
            write(&path, text.as_bytes());
        }
    }
    let first = evaluate_unit(dir, &unit_file);
    let second = evaluate_unit(dir, &unit_file);
    ensure!(
        first == second,
        "eval-nondeterministic",
        "two evaluations differ:\n  {first:?}\n  {second:?}"
    );
    // A unit or root the scan cannot read is the scan's problem (reported there).
    let Ok(answers) = first else { return Ok(0) };
    for (key, value, (prefix, reason)) in &answers {
        if let Evaluated::Known(hcl::Value::String(known)) = value {
            ensure!(
                reason.is_none() && prefix == known,
                "eval-prefix",
                "{key}: value {known:?} but prefix {prefix:?} ({reason:?})"
            );
        }
        if reason.is_none() {
            ensure!(
                matches!(value, Evaluated::Known(_)),
                "eval-prefix",
                "{key}: prefix {prefix:?} fully known but value {value:?}"
            );
        }
    }
    Ok(answers.len())
}

/// The answers for every setting of the unit's `remote_state` (an error when
/// the unit or its includes cannot be read: that is the scan's problem).
fn evaluate_unit(dir: &Path, unit_file: &Path) -> Result<Vec<Answer>, String> {
    let evaluator = Evaluator::new(World {
        repo_root: dir.to_path_buf(),
        env: [("AWS_REGION".to_string(), "eu-west-1".to_string())].into(),
    });
    let Some(owner) = evaluator.remote_state_owner(unit_file)? else {
        return Ok(Vec::new());
    };
    let scope = evaluator.scope(&owner.file, unit_file, owner.include.as_ref());
    let text = std::fs::read_to_string(&owner.file).map_err(|e| e.to_string())?;
    let source = Source::new(text);
    let backends = parse::parse(FileKind::Terragrunt, &source).map_err(|e| e.to_string())?;
    let mut answers = Vec::new();
    let mut settings: Vec<(String, &parse::Setting)> = Vec::new();
    for b in &backends {
        for s in &b.body.settings {
            settings.push((s.key.clone(), s));
            if let Some(object) = &s.object {
                settings.extend(
                    object
                        .settings
                        .iter()
                        .map(|i| (format!("{}.{}", s.key, i.key), i)),
                );
            }
        }
    }
    for (key, s) in settings {
        let Some(expression) = source.text.get(s.value_span.clone()) else {
            return Err(format!(
                "{key}: value span {:?} outside the file",
                s.value_span
            ));
        };
        answers.push((
            key,
            scope.eval(expression),
            scope.eval_string_prefix(expression),
        ));
    }
    Ok(answers)
}

/// [`check_evaluator`] for a fuzz target, in a directory it keeps per process.
pub fn fuzz_evaluator(input: &[u8]) {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("a temp dir"));
    if let Err(f) = check_evaluator(dir.path(), input) {
        panic!("evaluator: {}: {}", f.class, f.detail);
    }
}
