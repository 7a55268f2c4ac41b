//! The machine-readable plan (`--format json`), format_version "1".

use super::display_diff;
use crate::next_steps::NextSteps;
use crate::parse::{Backend, Value};
use crate::scan::{Problem, RepoPlan};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
pub struct JsonPlan<'a> {
    pub format_version: &'static str,
    pub strategy: &'static str,
    pub backends: Vec<JsonBackend<'a>>,
    pub files: Vec<JsonFile<'a>>,
    /// `terraform_remote_state` readers whose config names DynamoDB settings
    /// (left out when there is none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub readers: Vec<super::readers::JsonReader<'a>>,
    pub errors: &'a [Problem],
    /// Preflight findings: CI arguments, generated files, versions, OpenTofu twins.
    pub preflight: &'a [crate::preflight::Finding],
    pub summary: JsonSummary,
    /// What to do after apply: re-init, IAM, bucket versioning.
    pub next_steps: &'a NextSteps,
}

#[derive(Serialize)]
pub struct JsonBackend<'a> {
    pub file: &'a str,
    pub line: usize,
    pub kind: &'static str,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub region: Option<String>,
    pub dynamodb_table: Option<String>,
    pub workspace_key_prefix: Option<String>,
    pub use_lockfile: Option<String>,
    pub endpoints: Option<BTreeMap<String, String>>,
    pub profile: Option<String>,
    pub role_arn: Option<String>,
    pub action: &'static str,
    /// Lock facts, or "not checked" when verification did not run.
    pub locks: serde_json::Value,
    /// Why the preflight blocked it (e.g. a version constraint).
    pub reason: Option<String>,
    /// Terragrunt units of a root configuration, with their computed keys.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<JsonUnit>,
}

#[derive(Serialize)]
pub struct JsonUnit {
    pub dir: String,
    pub key: String,
}

#[derive(Serialize)]
pub struct JsonFile<'a> {
    pub path: &'a str,
    pub changed: bool,
    pub diff: String,
}

#[derive(Serialize)]
pub struct JsonSummary {
    pub backends: usize,
    pub migrate: usize,
    pub already_migrated: usize,
    pub none: usize,
    pub error: usize,
    pub files_changed: usize,
    pub errors: usize,
    pub blocked: usize,
    pub preflight_findings: usize,
    pub lock_checks: &'static str,
    /// AWS requests the lock checks made (null with --offline).
    pub aws_requests: Option<usize>,
}

pub fn render(
    plan: &RepoPlan,
    lock_checks: &'static str,
    aws_requests: Option<usize>,
    next_steps: &NextSteps,
) -> String {
    use crate::plan::Action;
    let doc = JsonPlan {
        format_version: "1",
        strategy: match plan.strategy {
            Some(crate::plan::Strategy::Dual) => "dual",
            _ => "replace",
        },
        backends: plan
            .backends
            .iter()
            .map(|b| {
                let mut json = backend(&b.path, &b.backend, b.action.as_str());
                json.locks = match &b.locks {
                    Some(locks) => serde_json::to_value(locks).unwrap_or_default(),
                    None => serde_json::Value::String(lock_checks.to_string()),
                };
                json.reason = b
                    .reason
                    .clone()
                    .or_else(|| b.locks.as_ref().and_then(|l| l.blockers.first().cloned()));
                json.units = super::unit_keys(plan, b)
                    .into_iter()
                    .map(|(dir, key)| JsonUnit { dir, key })
                    .collect();
                json
            })
            .collect(),
        files: plan
            .files
            .iter()
            .map(|f| JsonFile {
                path: &f.path,
                changed: f.changed(),
                diff: display_diff(&f.path, &f.original, &f.new_text),
            })
            .collect(),
        readers: super::readers::json(plan),
        errors: &plan.problems,
        preflight: &plan.findings,
        summary: JsonSummary {
            backends: plan.backends.len(),
            migrate: plan.count(Action::Migrate),
            already_migrated: plan.count(Action::AlreadyMigrated),
            none: plan.count(Action::None),
            error: plan.count(Action::Error),
            files_changed: plan.changed_files().count(),
            errors: plan.problems.len(),
            blocked: plan.blocked(),
            preflight_findings: plan.findings.len(),
            lock_checks,
            aws_requests,
        },
        next_steps,
    };
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}

fn backend<'a>(file: &'a str, b: &Backend, action: &'static str) -> JsonBackend<'a> {
    let get = |key: &str| b.value(key).map(Value::display);
    let endpoints = b
        .body
        .get("endpoints")
        .and_then(|e| e.object.as_ref())
        .map(|o| {
            o.settings
                .iter()
                .map(|s| (s.key.clone(), s.value.display()))
                .collect()
        });
    let assume_role_arn = b
        .body
        .get("assume_role")
        .and_then(|a| a.object.as_ref())
        .and_then(|o| o.get("role_arn"))
        .map(|s| s.value.display());
    JsonBackend {
        file,
        line: b.line,
        kind: b.kind.as_str(),
        bucket: get("bucket"),
        key: get("key"),
        region: get("region"),
        dynamodb_table: get("dynamodb_table"),
        workspace_key_prefix: get("workspace_key_prefix"),
        use_lockfile: get("use_lockfile"),
        endpoints,
        profile: get("profile"),
        role_arn: get("role_arn").or(assume_role_arn),
        action,
        locks: serde_json::Value::Null,
        reason: None,
        units: Vec::new(),
    }
}
