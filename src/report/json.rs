//! The machine-readable plan (`--format json`), format_version "1".

use super::display_diff;
use crate::model::next_steps::NextSteps;
use crate::parse::{Backend, Value};
use crate::scan::RepoPlan;
use serde::Serialize;
use std::collections::BTreeMap;

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
/// Byte for byte what `serde_json::to_writer_pretty` writes for the same
/// fields (see [`Document`]).
pub fn write(
    plan: &RepoPlan,
    lock_checks: &'static str,
    aws_requests: Option<usize>,
    next_steps: &NextSteps,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    use crate::plan::Action;
    let strategy = plan
        .strategy
        .unwrap_or(crate::plan::Strategy::Replace)
        .as_str();
    let mut doc = Document::start(out)?;
    doc.field("format_version", &"1")?;
    doc.field("strategy", &strategy)?;
    doc.array(
        "backends",
        &plan.backends,
        |b: &crate::scan::BackendPlan| {
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
            json
        },
    )?;
    doc.array("files", &plan.files, |f: &crate::scan::FilePlan| JsonFile {
        path: &f.path,
        changed: f.changed(),
        diff: display_diff(&f.path, &f.original, &f.new_text),
    })?;
    // `terraform_remote_state` readers whose config names DynamoDB settings,
    // left out when there is none.
    let readers = super::readers::json(plan);
    if !readers.is_empty() {
        doc.field("readers", &readers)?;
    }
    doc.field("errors", &plan.problems)?;
    // CI arguments, generated files, versions, OpenTofu twins.
    doc.field("preflight", &plan.findings)?;
    // `-backend-config` arguments given to `init` from CI files, scripts,
    // `TF_CLI_ARGS_init` and Terragrunt `extra_arguments`, when there are any.
    if !plan.overrides.is_empty() {
        doc.field("init_overrides", &plan.overrides)?;
    }
    doc.field(
        "summary",
        &JsonSummary {
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
    )?;
    // What to do after apply: re-init, IAM, bucket versioning.
    doc.field("next_steps", next_steps)?;
    doc.end()
}

/// The plan's top-level object, written field by field in serde_json's
/// pretty layout (two spaces per level, `"key": value`, `[]` for an empty
/// array), so that the elements of its large arrays can be rendered on every
/// core, a batch at a time, and written as each batch is done.
struct Document<'o, W> {
    out: &'o mut W,
    fields: usize,
}

/// Elements per batch: enough to keep every core busy, few enough that a
/// batch of rendered elements is small beside the plan.
const RENDER_BATCH: usize = 2048;

impl<'o, W: std::io::Write> Document<'o, W> {
    fn start(out: &'o mut W) -> std::io::Result<Self> {
        out.write_all(b"{")?;
        Ok(Document { out, fields: 0 })
    }

    /// Starts the next field: `key` is a plain name, which JSON needs no escape for.
    fn key(&mut self, key: &str) -> std::io::Result<()> {
        let separator = if self.fields == 0 { "" } else { "," };
        self.fields += 1;
        write!(self.out, "{separator}\n  \"{key}\": ")
    }

    fn field(&mut self, key: &str, value: &impl Serialize) -> std::io::Result<()> {
        self.key(key)?;
        self.out.write_all(indented(value, "\n  ").as_bytes())
    }

    /// An array field whose elements are `render`ed on every core.
    fn array<'t, T: Sync, J: Serialize>(
        &mut self,
        key: &str,
        items: &'t [T],
        render: impl Fn(&'t T) -> J + Sync,
    ) -> std::io::Result<()> {
        self.key(key)?;
        if items.is_empty() {
            return self.out.write_all(b"[]");
        }
        self.out.write_all(b"[")?;
        let mut first = true;
        for batch in items.chunks(RENDER_BATCH) {
            let rendered = crate::parallel::map(batch, |item| indented(&render(item), "\n    "));
            for element in rendered {
                let separator = if first { "" } else { "," };
                first = false;
                write!(self.out, "{separator}\n    ")?;
                self.out.write_all(element.as_bytes())?;
            }
        }
        self.out.write_all(b"\n  ]")
    }

    fn end(self) -> std::io::Result<()> {
        self.out.write_all(b"\n}\n")
    }
}

/// A value rendered as the pretty printer renders it at some depth: each line
/// below the first starts with `newline` (a line break and that depth's
/// indent). A JSON string never holds a raw line break, so every one is
/// between tokens.
fn indented(value: &impl Serialize, newline: &str) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into());
    text.replace('\n', newline)
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

#[cfg(test)]
mod tests {
    use super::Document;
    use serde_json::json;

    /// The hand-written top level must be the pretty printer's, byte for byte:
    /// scripts compare plans with `cmp`, and the snapshots hold that layout.
    #[test]
    fn the_document_is_laid_out_as_the_pretty_printer_lays_it_out() {
        let elements: Vec<serde_json::Value> = (0..3000)
            .map(|i| json!({"n": i, "nested": {"list": [i, "a\nb"], "empty": []}, "none": {}}))
            .collect();
        let mut out = Vec::new();
        let mut doc = Document::start(&mut out).unwrap();
        doc.field("first", &"1").unwrap();
        doc.array("many", &elements, |e| e).unwrap();
        doc.array("none", &[] as &[u8], |e| e).unwrap();
        doc.field("object", &json!({"a": [1, {"b": null}], "c": {}}))
            .unwrap();
        doc.end().unwrap();
        let expected = json!({
            "first": "1",
            "many": elements,
            "none": [],
            "object": {"a": [1, {"b": null}], "c": {}},
        });
        let expected = serde_json::to_string_pretty(&expected).unwrap() + "\n";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}
