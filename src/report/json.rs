//! The machine-readable plan (`--format json`), format_version "1".

use super::display_diff;
use crate::model::next_steps::NextSteps;
use crate::parse::{Backend, Value};
use crate::scan::{Problem, RepoPlan};
use serde::Serialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

#[derive(Serialize)]
pub struct JsonPlan<'a, B: Serialize, F: Serialize> {
    pub format_version: &'static str,
    pub strategy: &'static str,
    /// Each a [`JsonBackend`], rendered on its own (see [`Rendered`]).
    pub backends: B,
    /// Each a [`JsonFile`], rendered on its own.
    pub files: F,
    /// `terraform_remote_state` readers whose config names DynamoDB settings
    /// (left out when there is none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub readers: Vec<super::readers::JsonReader<'a>>,
    pub errors: &'a [Problem],
    /// Preflight findings: CI arguments, generated files, versions, OpenTofu twins.
    pub preflight: &'a [crate::preflight::Finding],
    /// `-backend-config` arguments given to `init` from CI files, scripts,
    /// `TF_CLI_ARGS_init` and Terragrunt `extra_arguments` (only when there are any).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub init_overrides: &'a [crate::preflight::overrides::InitOverride],
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
    /// The states this backend governs, as resolved (and, after the lock
    /// check, with the workspaces found in AWS).
    pub states: Vec<JsonState>,
    /// Whether some state could only be checked by a known key prefix.
    pub conservative: bool,
    /// Values that could not be evaluated offline.
    pub unknown: Vec<JsonUnknown>,
}

#[derive(Serialize)]
pub struct JsonState {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub workspace: String,
    pub bucket: Option<String>,
    pub key: String,
    pub lock_id: Option<String>,
    pub lockfile_key: String,
    pub region: Option<String>,
    pub table: Option<String>,
}

#[derive(Serialize)]
pub struct JsonUnknown {
    pub attribute: String,
    pub expression: String,
    pub reason: String,
    pub location: String,
    /// "blocks" or "conservative" (checked by the known prefix).
    pub effect: &'static str,
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

/// The plan as one JSON document (a test's or a small caller's form of [`write`]).
pub fn render(
    plan: &RepoPlan,
    lock_checks: &'static str,
    aws_requests: Option<usize>,
    next_steps: &NextSteps,
) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail, and serde_json writes only UTF-8.
    let _ = write(plan, lock_checks, aws_requests, next_steps, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes the plan as one JSON document to `out`, as it is rendered: the
/// document of a large tree (16 MB for 10,000 modules) is never held whole.
pub fn write(
    plan: &RepoPlan,
    lock_checks: &'static str,
    aws_requests: Option<usize>,
    next_steps: &NextSteps,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    use crate::plan::Action;
    let doc = JsonPlan {
        format_version: "1",
        strategy: plan
            .strategy
            .unwrap_or(crate::plan::Strategy::Replace)
            .as_str(),
        backends: Rendered::new(&plan.backends, |b: &crate::scan::BackendPlan| {
            let mut json = backend(&b.path, &b.backend, b.action.as_str());
            json.locks = match &b.locks {
                Some(locks) => serde_json::to_value(locks).unwrap_or_default(),
                None => serde_json::Value::String(lock_checks.to_string()),
            };
            json.reason = b
                .reason
                .clone()
                .or_else(|| b.locks.as_ref().and_then(|l| l.blockers.first().cloned()));
            json.units = super::unit_keys(b)
                .into_iter()
                .map(|(dir, key)| JsonUnit { dir, key })
                .collect();
            json.states = states(b);
            json.conservative = b.resolution.conservative();
            json.unknown = unknown(b);
            nested(&json)
        }),
        files: Rendered::new(&plan.files, |f: &crate::scan::FilePlan| {
            nested(&JsonFile {
                path: &f.path,
                changed: f.changed(),
                diff: display_diff(&f.path, &f.original, &f.new_text),
            })
        }),
        readers: super::readers::json(plan),
        errors: &plan.problems,
        preflight: &plan.findings,
        init_overrides: &plan.overrides,
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
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}

/// A top-level array of the document whose elements are rendered on every
/// core, a batch at a time, and written as each batch is done: the document
/// stays byte for byte the one rendered in one go (see [`nested`]), and only a
/// batch of rendered elements is held at once.
struct Rendered<'a, T, F> {
    items: &'a [T],
    render: F,
}

impl<'a, T, F> Rendered<'a, T, F> {
    fn new(items: &'a [T], render: F) -> Self {
        Rendered { items, render }
    }
}

/// Elements per batch: enough to keep every core busy, few enough that a
/// batch of rendered elements is small beside the plan.
const RENDER_BATCH: usize = 1024;

impl<T: Sync, F: Fn(&T) -> Box<RawValue> + Sync> Serialize for Rendered<'_, T, F> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.items.len()))?;
        for batch in self.items.chunks(RENDER_BATCH) {
            for element in crate::parallel::map(batch, &self.render) {
                seq.serialize_element(&element)?;
            }
        }
        seq.end()
    }
}

/// An element of the document's top-level arrays, rendered as the pretty
/// printer renders it there, so elements can be rendered on every core and
/// the document is still byte for byte the one rendered in one go: the
/// printer copies a raw value as it is, and each line below the first sits
/// two levels (four spaces) deeper. A JSON string never holds a raw line
/// break, so every one is between tokens.
fn nested<T: Serialize>(element: &T) -> Box<RawValue> {
    let text = serde_json::to_string_pretty(element).unwrap_or_default();
    RawValue::from_string(text.replace('\n', "\n    "))
        .unwrap_or_else(|_| RawValue::from_string("null".into()).expect("null is JSON"))
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
        states: Vec::new(),
        conservative: false,
        unknown: Vec::new(),
    }
}

/// The states of a backend: those the lock check saw, or, offline, the
/// default-workspace state of every resolved key.
fn states(b: &crate::BackendPlan) -> Vec<JsonState> {
    let state = |unit: Option<String>,
                 workspace: String,
                 bucket: Option<String>,
                 key: String,
                 region,
                 table| {
        JsonState {
            lock_id: bucket.as_ref().map(|bucket| format!("{bucket}/{key}")),
            lockfile_key: format!("{key}.tflock"),
            unit,
            workspace,
            bucket,
            key,
            region,
            table,
        }
    };
    if let Some(locks) = &b.locks {
        return locks
            .states
            .iter()
            .map(|s| {
                state(
                    s.unit.clone(),
                    s.workspace.clone(),
                    s.bucket.clone(),
                    s.state_key.clone(),
                    s.region.clone(),
                    s.table.clone(),
                )
            })
            .collect();
    }
    b.resolution
        .targets
        .iter()
        .flat_map(|t| {
            t.keys.iter().map(|(unit, key)| {
                state(
                    unit.clone(),
                    "default".into(),
                    t.bucket.clone(),
                    key.clone(),
                    t.client.region.clone(),
                    t.table.clone(),
                )
            })
        })
        .collect()
}

fn unknown(b: &crate::BackendPlan) -> Vec<JsonUnknown> {
    let mut seen = std::collections::BTreeSet::new();
    b.resolution
        .unknown()
        .filter(|u| seen.insert((u.attribute.clone(), u.location.clone(), u.reason.clone())))
        .map(|u| JsonUnknown {
            attribute: u.attribute.clone(),
            expression: u.expression.clone(),
            reason: u.reason.clone(),
            location: u.location.clone(),
            effect: if u.blocks { "blocks" } else { "conservative" },
        })
        .collect()
}
