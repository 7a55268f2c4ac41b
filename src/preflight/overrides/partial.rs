//! Partial backend configurations whatever their name: the files passed with
//! `-backend-config=FILE`, and files with the usual names (`backend.hcl`,
//! `backend.conf`, `*.backend.hcl`, `*.backend.conf`) whose top-level attributes
//! look like an S3 backend. Both are planned like `*.tfbackend`.
//!
//! Terraform reads such a file as HCL and evaluates it with no variables and
//! no functions, so a value that is not a literal (`bucket=state`, unquoted, is
//! a variable reference) makes the file invalid: reported as a problem, never
//! migrated.

use super::{InitOverride, OverrideKind};
use crate::discover::{Candidate, FileKind, MAX_FILE_BYTES, Selection};
use crate::model::{FileOutcome, Problem, RepoPlan};
use crate::plan::Strategy;
use crate::source::Source;
use hcl_edit::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure::Body;
use hcl_edit::template::Element;
use std::collections::BTreeSet;

/// Attributes only an S3 backend has at top level.
const S3_KEYS: &[&str] = &[
    "bucket",
    "key",
    "dynamodb_table",
    "use_lockfile",
    "workspace_key_prefix",
];

/// A well-known name that is not `*.tfbackend` is a partial configuration only
/// if it looks like one; otherwise a `.hcl` file is read as Terragrunt (a
/// `backend.hcl` holding `remote_state`), anything else not at all (`None`).
pub fn classify(mut candidate: Candidate, bytes: &[u8]) -> Option<Candidate> {
    if candidate.kind != FileKind::Tfbackend || candidate.display.ends_with(".tfbackend") {
        return Some(candidate);
    }
    if looks_like_s3(bytes) {
        return Some(candidate);
    }
    if candidate.display.ends_with(".hcl") {
        candidate.kind = FileKind::Terragrunt;
        return Some(candidate);
    }
    None
}

/// Top-level attributes only, at least one of them S3's. A file HCL cannot
/// parse does not count (an INI `backend.conf` of another tool is not ours);
/// it is read, and its syntax error reported, only when `-backend-config`
/// names it.
pub fn looks_like_s3(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.parse::<Body>().is_ok_and(|body| {
        body.blocks().next().is_none()
            && body.attributes().any(|a| S3_KEYS.contains(&a.key.as_str()))
    })
}

/// The first top-level value that is not a literal, as a problem: Terraform
/// refuses variables and functions in a `-backend-config` file. `None` for a
/// `*.tfbackend` file, a file that is not valid HCL (the parser reports that),
/// or one whose values are all literals.
pub fn not_literal(candidate: &Candidate, bytes: &[u8]) -> Option<Problem> {
    // `*.tfbackend` files keep their behaviour (values that are expressions are
    // planned and shown as written); the check is for the names this module adds.
    if candidate.kind != FileKind::Tfbackend || candidate.display.ends_with(".tfbackend") {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let source = Source::new(text.to_string());
    let body = source.body().parse::<Body>().ok()?;
    for attr in body.attributes() {
        if let Some(bad) = first_non_literal(&attr.value) {
            let offset = source.bom + bad.span().map_or(0, |s| s.start);
            let (line, column) = source.line_col(offset);
            let written = bad
                .span()
                .and_then(|s| source.body().get(s))
                .unwrap_or_default();
            return Some(Problem {
                path: candidate.display.clone(),
                line,
                column,
                message: format!(
                    "`{} = {}`: Terraform reads a -backend-config file without variables or \
                     functions, so `terraform init` rejects this file (quote the value: \
                     `{} = \"...\"`); not planned",
                    attr.key.as_str(),
                    written.trim(),
                    attr.key.as_str()
                ),
            });
        }
    }
    None
}

fn first_non_literal(e: &Expression) -> Option<&Expression> {
    match e {
        Expression::Null(_)
        | Expression::Bool(_)
        | Expression::Number(_)
        | Expression::String(_) => None,
        Expression::Array(items) => items.iter().find_map(first_non_literal),
        Expression::Object(object) => object.iter().find_map(|(_, v)| first_non_literal(v.expr())),
        Expression::StringTemplate(t) => t
            .iter()
            .any(|el| !matches!(el, Element::Literal(_)))
            .then_some(e),
        Expression::HeredocTemplate(h) => h
            .template
            .iter()
            .any(|el| !matches!(el, Element::Literal(_)))
            .then_some(e),
        Expression::Parenthesis(p) => first_non_literal(p.inner()),
        _ => Some(e),
    }
}

/// Plans, as partial configurations, the files that `-backend-config=FILE`
/// overrides name and the walk did not plan (any name: `prod.backend`, a
/// `backend.hcl` that does not look like one, a file outside the scanned paths).
pub fn plan_referenced(repo: &mut RepoPlan, strategy: Strategy, selection: &Selection) {
    let mut seen: BTreeSet<String> = repo
        .files
        .iter()
        .map(|f| f.path.clone())
        .chain(repo.problems.iter().map(|p| p.path.clone()))
        .chain(repo.backends.iter().map(|b| b.path.clone()))
        .collect();
    let mut added = false;
    let referenced: Vec<(std::path::PathBuf, String, String)> = repo
        .overrides
        .iter()
        .filter_map(|o| match &o.kind {
            OverrideKind::File {
                fs_path: Some(fs_path),
                file: Some(file),
                exists: true,
                ..
            } => Some((fs_path.clone(), file.clone(), reference(o))),
            _ => None,
        })
        .collect();
    for (fs_path, display, by) in referenced {
        if !seen.insert(display.clone()) {
            continue;
        }
        let excluded = selection
            .exclude
            .as_ref()
            .is_some_and(|g| g.is_match(&display));
        let included = selection
            .include
            .as_ref()
            .is_none_or(|g| g.is_match(&display));
        if excluded || !included {
            continue;
        }
        // Terraform and CI files are never partial configurations.
        if matches!(
            FileKind::of(&fs_path),
            Some(FileKind::Terraform | FileKind::TerraformJson | FileKind::Ci)
        ) {
            continue;
        }
        let candidate = Candidate {
            path: fs_path.clone(),
            display: display.clone(),
            kind: FileKind::Tfbackend,
        };
        let problem = |line, column, message: String| Problem {
            path: display.clone(),
            line,
            column,
            message: format!("{message} (passed to init with -backend-config by {by})"),
        };
        let bytes = match std::fs::metadata(&fs_path) {
            Ok(m) if m.len() > MAX_FILE_BYTES => {
                repo.problems.push(problem(
                    1,
                    1,
                    format!(
                        "file is {} bytes, too large for a backend configuration; not read",
                        m.len()
                    ),
                ));
                added = true;
                continue;
            }
            _ => match std::fs::read(&fs_path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    repo.problems
                        .push(problem(1, 1, format!("cannot read: {e}")));
                    added = true;
                    continue;
                }
            },
        };
        if let Some(p) = not_literal(&candidate, &bytes) {
            repo.problems.push(problem(p.line, p.column, p.message));
            added = true;
            continue;
        }
        match crate::file_pipeline::plan_bytes(candidate, bytes, strategy) {
            Some(FileOutcome::Planned(file, backends)) => {
                repo.backends.extend(backends);
                repo.files.push(file);
            }
            Some(FileOutcome::Failed(p, backends)) => {
                repo.backends.extend(backends);
                repo.problems.push(problem(p.line, p.column, p.message));
            }
            None => continue,
        }
        added = true;
    }
    if added {
        repo.files.sort_by(|a, b| a.path.cmp(&b.path));
        repo.backends.sort_by(|a, b| a.path.cmp(&b.path));
        repo.problems.sort_by(|a, b| a.path.cmp(&b.path));
    }
}

fn reference(o: &InitOverride) -> String {
    format!("{}:{}", o.source, o.line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn candidate(display: &str) -> Candidate {
        Candidate {
            path: PathBuf::from(display),
            display: display.to_string(),
            kind: FileKind::of(Path::new(display)).expect("a known kind"),
        }
    }

    #[test]
    fn classify_by_content() {
        let s3 = b"bucket = \"b\"\nkey = \"k\"\n";
        let kind = |name: &str, bytes: &[u8]| classify(candidate(name), bytes).map(|c| c.kind);
        assert_eq!(kind("envs/backend.hcl", s3), Some(FileKind::Tfbackend));
        assert_eq!(kind("envs/backend.conf", s3), Some(FileKind::Tfbackend));
        // Not HCL: not a partial configuration unless -backend-config names it
        // (a `.hcl` stays Terragrunt, whose parser reports the syntax error).
        assert_eq!(kind("backend.conf", b"[backend]\nkey = value\n"), None);
        assert_eq!(
            kind("backend.hcl", b"bucket = \n"),
            Some(FileKind::Terragrunt)
        );
        let tg = b"remote_state {\n  backend = \"s3\"\n}\n";
        assert_eq!(kind("backend.hcl", tg), Some(FileKind::Terragrunt));
        assert_eq!(kind("backend.conf", b"[server]\nport = 1\n"), None);
        assert_eq!(
            kind("backend.hcl", b"locals {\n  bucket = \"b\"\n}\n"),
            Some(FileKind::Terragrunt)
        );
        // `.tfbackend` is always a partial configuration.
        assert_eq!(kind("x.tfbackend", b"anything"), Some(FileKind::Tfbackend));
    }

    #[test]
    fn values_must_be_literals() {
        let c = candidate("backend.conf");
        let ok = b"bucket = \"b\"\nencrypt = true\nmax_retries = 5\nassume_role = {\n  role_arn = \"arn\"\n  tags = { a = \"b\" }\n}\nallowed = [\"1\", \"2\"]\n";
        assert_eq!(not_literal(&c, ok), None);
        let p = not_literal(&c, b"bucket = \"b\"\nkey=envs/prod/t.tfstate\n").expect("a problem");
        assert_eq!((p.path.as_str(), p.line, p.column), ("backend.conf", 2, 5));
        assert!(
            p.message.contains("`key = envs/prod/t.tfstate`"),
            "{}",
            p.message
        );
        let p = not_literal(&c, b"region = \"${var.region}\"\n").expect("a problem");
        assert_eq!((p.line, p.column), (1, 10));
        let p = not_literal(&c, b"\xef\xbb\xbfassume_role = { role_arn = local.r }\n")
            .expect("a problem");
        assert_eq!((p.line, p.column), (1, 28));
        // Syntax errors are the parser's to report.
        assert_eq!(not_literal(&c, b"bucket = \n"), None);
        assert_eq!(
            not_literal(&candidate("x.s3.tfbackend"), b"key = local.k\n"),
            None
        );
    }
}
