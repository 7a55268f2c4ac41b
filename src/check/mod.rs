//! The CI gate (`tflock check`): what in a scanned repository still uses
//! DynamoDB locking, and which of it a team keeps on purpose.
//!
//! Offline and read-only. It fails on a backend that still sets a DynamoDB
//! setting, a `terraform_remote_state` reader that still names one, an init-time
//! override that passes one, and (unknown means locked) anything it cannot read:
//! an unparseable file, a reader config or override argument it cannot evaluate.

pub mod allow;

pub use crate::model::check::{CheckReport, Finding, Subject};
use crate::parse::{Backend, Setting, Value};
use crate::preflight::overrides::{InitOverride, OverrideKind, Via};
use crate::readers::ReaderPlan;
/// How the findings print (moved to `report::check`; this path stays).
pub use crate::report::check as render;
use crate::scan::RepoPlan;
use crate::source::Source;
use allow::Inline;
pub use allow::{AllowFileError, AllowList};
use std::collections::HashMap;

/// The settings that only serve DynamoDB locking (`lock_table` is Terragrunt's
/// legacy alias of `dynamodb_table`).
const DYNAMODB_KEYS: &[&str] = &["dynamodb_table", "lock_table", "dynamodb_endpoint"];

/// Checks a scanned repository. `text_of` returns a file's text by display path
/// (for the inline markers of files the scan does not keep, such as CI files);
/// a file it cannot return simply has no inline markers.
pub fn check(
    repo: &RepoPlan,
    allow: &AllowList,
    text_of: &dyn Fn(&str) -> Option<String>,
) -> CheckReport {
    let mut sources = Sources {
        repo,
        text_of,
        cache: HashMap::new(),
    };
    let mut findings = Vec::new();
    for b in &repo.backends {
        if let Some(f) = backend_finding(&b.path, &b.backend, &mut sources) {
            findings.push(f);
        }
    }
    for r in crate::readers::reported(repo) {
        findings.push(reader_finding(r, &mut sources));
    }
    for o in &repo.overrides {
        if let Some(f) = override_finding(o, &mut sources) {
            findings.push(f);
        }
    }
    for p in &repo.problems {
        let mut f = Finding {
            path: p.path.clone(),
            line: p.line,
            column: p.column,
            subject: Subject::Unreadable,
            message: format!(
                "{}; tflock cannot tell whether it configures DynamoDB locking",
                p.message
            ),
            allowed: None,
        };
        f.allowed = allow.reason_for(&f.path).map(str::to_string);
        findings.push(f);
    }
    for f in &mut findings {
        if f.allowed.is_none() {
            f.allowed = allow.reason_for(&f.path).map(str::to_string);
        }
    }
    findings.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    findings.dedup();
    CheckReport {
        backends: repo.backends.len(),
        findings,
    }
}

/// File texts by display path: the scan's own copy, else `text_of`, once each.
struct Sources<'a> {
    repo: &'a RepoPlan,
    text_of: &'a dyn Fn(&str) -> Option<String>,
    cache: HashMap<String, Option<Source>>,
}

impl Sources<'_> {
    fn get(&mut self, path: &str) -> Option<&Source> {
        if !self.cache.contains_key(path) {
            let text = self
                .repo
                .files
                .iter()
                .find(|f| f.path == path)
                .map(|f| f.original.clone())
                .or_else(|| (self.text_of)(path));
            self.cache.insert(path.to_string(), text.map(Source::new));
        }
        self.cache.get(path).and_then(Option::as_ref)
    }

    /// The inline marker on any of `lines` of `path`, as the finding's verdict:
    /// allowed with its reason, or a note that the marker lacks one.
    fn apply_inline(&mut self, finding: &mut Finding, lines: &[usize]) {
        let Some(source) = self.get(&finding.path) else {
            return;
        };
        match allow::inline(&source.text, lines) {
            Inline::None => {}
            Inline::Allowed(reason) => finding.allowed = Some(reason),
            Inline::NoReason => finding
                .message
                .push_str(" (a `tflock:allow` comment allows nothing without a reason)"),
        }
    }
}

/// The DynamoDB settings a body sets: the top-level keys, then `endpoints.dynamodb`.
/// A literal `null` (or empty string) leaves a setting unset, as Terraform reads it.
fn dynamodb_settings(body: &crate::parse::Body) -> Vec<(String, &Setting)> {
    let set =
        |s: &&Setting| !matches!(&s.value, Value::Null) && s.value != Value::String(String::new());
    let mut found: Vec<(String, &Setting)> = body
        .settings
        .iter()
        .filter(|s| DYNAMODB_KEYS.contains(&s.key.as_str()))
        .filter(set)
        .map(|s| (s.key.clone(), s))
        .collect();
    if let Some(d) = body
        .get("endpoints")
        .and_then(|e| e.object.as_ref())
        .and_then(|o| o.get("dynamodb"))
        .filter(set)
    {
        found.push(("endpoints.dynamodb".to_string(), d));
    }
    found.sort_by_key(|(_, s)| s.key_span.start);
    found
}

fn backend_finding(path: &str, backend: &Backend, sources: &mut Sources) -> Option<Finding> {
    let settings = dynamodb_settings(&backend.body);
    let (first_key, first) = settings.first()?;
    let source = sources.get(path)?.clone();
    let (line, column) = source.line_col(first.key_span.start);
    let names: Vec<&str> = settings.iter().map(|(k, _)| k.as_str()).collect();
    let what = match first_key.as_str() {
        "dynamodb_table" | "lock_table" => format!(
            "{} backend still locks with DynamoDB ({first_key} = {})",
            backend.kind.as_str(),
            shown(&first.value)
        ),
        _ => format!(
            "{} backend still sets {}, which only serves DynamoDB locking",
            backend.kind.as_str(),
            names.join(", ")
        ),
    };
    let lockfile = backend.value("use_lockfile").is_some_and(Value::is_true);
    let hint = if lockfile {
        "; it also has use_lockfile = true (dual): remove the DynamoDB settings once no checkout needs them"
    } else {
        "; `tflock plan` shows the change"
    };
    let mut finding = Finding {
        path: path.to_string(),
        line,
        column,
        subject: Subject::Backend,
        message: format!("{what}{hint}"),
        allowed: None,
    };
    // The marker may sit on the block's line or the one above it (above the
    // blocks that enclose it too, `terraform {`), or on the setting's own line
    // or the one above it.
    let mut lines = vec![line, line - 1];
    lines.extend(enclosing_lines(&source, backend.line));
    sources.apply_inline(&mut finding, &lines);
    Some(finding)
}

/// `line`, the line above it, and while that line opens an enclosing block
/// (`terraform {`), the line above that one too.
fn enclosing_lines(source: &Source, line: usize) -> Vec<usize> {
    let all: Vec<&str> = source.text.lines().collect();
    let mut lines = vec![line];
    let mut above = line.saturating_sub(1);
    while above > 0 {
        lines.push(above);
        let opens = all
            .get(above - 1)
            .is_some_and(|l| l.trim_end().ends_with('{'));
        if !opens {
            break;
        }
        above -= 1;
    }
    lines
}

fn reader_finding(reader: &ReaderPlan, sources: &mut Sources) -> Finding {
    let r = &reader.reader;
    let named = reader
        .dynamodb_settings
        .iter()
        .filter_map(|k| {
            let (top, nested) = k.split_once('.').map_or((*k, None), |(a, b)| (a, Some(b)));
            let s = r.setting(top)?;
            match nested {
                Some(n) => s.object.as_ref()?.get(n),
                None => Some(s),
            }
        })
        .min_by_key(|s| s.key_span.start);
    let source = sources.get(&reader.path).cloned();
    let (line, column, message) = match (named, &source) {
        (Some(s), Some(src)) => {
            let (line, column) = src.line_col(s.key_span.start);
            (
                line,
                column,
                format!(
                    "terraform_remote_state \"{}\" still names {}: once its producer writes without DynamoDB, its reads fail",
                    r.name,
                    reader.dynamodb_settings.join(", ")
                ),
            )
        }
        _ => (
            r.config_line.unwrap_or(r.line),
            1,
            format!(
                "terraform_remote_state \"{}\": tflock cannot read its config, so it may name dynamodb_table",
                r.name
            ),
        ),
    };
    let mut finding = Finding {
        path: reader.path.clone(),
        line,
        column,
        subject: Subject::Reader,
        message,
        allowed: None,
    };
    let lines = [r.line, r.line.saturating_sub(1), line, line - 1];
    sources.apply_inline(&mut finding, &lines);
    finding
}

fn override_finding(o: &InitOverride, sources: &mut Sources) -> Option<Finding> {
    let message = match &o.kind {
        OverrideKind::Setting { key, value, .. } => {
            let key_named = DYNAMODB_KEYS.contains(&key.as_str()) || key == "endpoints.dynamodb";
            if !key_named || value.is_empty() {
                return None;
            }
            format!(
                "init-time override{} passes {key}={value}: it overrides the backend files, so the state keeps DynamoDB locking",
                via(&o.via)
            )
        }
        OverrideKind::Unreadable { text } => format!(
            "init-time override{} tflock cannot read ({text}): it may pass dynamodb_table",
            via(&o.via)
        ),
        OverrideKind::File {
            path, file, exists, ..
        } => {
            // A file in the repository was scanned as a partial configuration
            // and is checked as a backend; one that is not there may set anything.
            if file.is_some() && *exists {
                return None;
            }
            format!(
                "init-time override{} passes -backend-config file {path}, which is not in the repository: tflock cannot tell whether it sets dynamodb_table",
                via(&o.via)
            )
        }
    };
    let mut finding = Finding {
        path: o.source.clone(),
        line: o.line,
        column: o.column,
        subject: Subject::InitOverride,
        message,
        allowed: None,
    };
    sources.apply_inline(&mut finding, &[o.line, o.line.saturating_sub(1)]);
    Some(finding)
}

fn via(via: &Via) -> String {
    match via {
        Via::Argument => String::new(),
        Via::EnvVar(name) => format!(" in {name}"),
        Via::ActionInput => " (action input)".to_string(),
        Via::TerragruntExtraArguments => " in Terragrunt extra_arguments".to_string(),
    }
}

/// A value as written for a message: strings quoted, expressions as source.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => other.display(),
    }
}

#[cfg(test)]
mod tests;
