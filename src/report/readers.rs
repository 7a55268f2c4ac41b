//! The readers section of a plan: every `terraform_remote_state` reader whose
//! config names DynamoDB settings, and the scanned backend that writes its state.

use super::Style;
use crate::parse::Value;
use crate::readers::{self, ReaderPlan};
use crate::scan::RepoPlan;
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Serialize)]
pub struct JsonReader<'a> {
    pub file: &'a str,
    pub line: usize,
    /// `data.terraform_remote_state.<name>`.
    pub address: String,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub workspace: Option<String>,
    /// `literal`, or `not a literal` when tflock cannot read the config.
    pub config: &'static str,
    pub dynamodb_settings: &'a [&'static str],
    /// `remove-dynamodb-settings`, `unchanged`, or `check-by-hand`.
    pub action: &'static str,
    /// The backend in the scanned tree that writes the state it reads.
    pub producer: Option<JsonProducer<'a>>,
}

#[derive(Debug, Serialize)]
pub struct JsonProducer<'a> {
    pub file: &'a str,
    pub line: usize,
    pub kind: &'static str,
    pub action: &'static str,
}

fn action(r: &ReaderPlan) -> &'static str {
    if r.reader.config.is_none() {
        "check-by-hand"
    } else if r.edits.is_empty() {
        "unchanged"
    } else {
        "remove-dynamodb-settings"
    }
}

/// The `readers` member of the JSON plan.
pub fn json(plan: &RepoPlan) -> Vec<JsonReader<'_>> {
    readers::reported(plan)
        .map(|r| JsonReader {
            file: &r.path,
            line: r.reader.line,
            address: format!("data.terraform_remote_state.{}", r.reader.name),
            bucket: r.reader.value("bucket").map(Value::display),
            key: r.reader.value("key").map(Value::display),
            workspace: r.reader.workspace.as_ref().map(Value::display),
            config: if r.reader.config.is_some() {
                "literal"
            } else {
                "not a literal"
            },
            dynamodb_settings: &r.dynamodb_settings,
            action: action(r),
            producer: readers::producer_of(r, &plan.backends).map(|b| JsonProducer {
                file: &b.path,
                line: b.backend.line,
                kind: b.backend.kind.as_str(),
                action: b.action.as_str(),
            }),
        })
        .collect()
}

/// The readers section of the text plan (empty when there is none).
pub fn text(plan: &RepoPlan, style: Style) -> String {
    let mut out = String::new();
    let mut readers = readers::reported(plan).peekable();
    if readers.peek().is_none() {
        return out;
    }
    let _ = writeln!(
        out,
        "\nReaders (terraform_remote_state whose config names DynamoDB settings):"
    );
    for r in readers {
        let mut facts = String::new();
        for key in ["bucket", "key"] {
            if let Some(v) = r.reader.value(key) {
                let _ = write!(facts, " {key}={}", v.display());
            }
        }
        let (mark, label) = match action(r) {
            "remove-dynamodb-settings" => (
                style.yellow("~"),
                format!("remove {}", r.dynamodb_settings.join(", ")),
            ),
            "check-by-hand" => (
                style.red("?"),
                "config is not an object literal: check by hand that it names no dynamodb_table"
                    .to_string(),
            ),
            _ => (
                " ".to_string(),
                format!(
                    "names {} (kept with this strategy)",
                    r.dynamodb_settings.join(", ")
                ),
            ),
        };
        let _ = writeln!(
            out,
            "  {mark} {}:{} data.terraform_remote_state.{}{facts} -> {label}",
            r.path, r.reader.line, r.reader.name
        );
        match readers::producer_of(r, &plan.backends) {
            Some(b) => {
                let _ = writeln!(
                    out,
                    "      producer: {}:{} ({}) -> {}",
                    b.path,
                    b.backend.line,
                    b.backend.kind.as_str(),
                    b.action.as_str()
                );
            }
            None => {
                let _ = writeln!(out, "      producer: not in the scanned tree");
            }
        }
    }
    out
}
