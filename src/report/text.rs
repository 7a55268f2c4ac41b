//! Human output: the backends found, a diff per changed file, a summary line.

use super::{Style, display_diff};
use crate::plan::Action;
use crate::scan::RepoPlan;
use std::fmt::Write;

/// The plan as a person reads it on a terminal or in a CI log.
pub fn render(plan: &RepoPlan, style: Style, lock_note: &str) -> String {
    let mut out = String::new();
    if plan.backends.is_empty() {
        out.push_str("No S3 backends found.\n");
    } else {
        let strategy = plan.strategy.unwrap_or(crate::plan::Strategy::Replace);
        let _ = writeln!(out, "S3 backends (strategy: {strategy}):");
        for b in &plan.backends {
            let (mark, label) = match b.action {
                Action::Migrate => (style.yellow("~"), "migrate"),
                Action::AlreadyMigrated => (style.green("="), "already on lockfiles"),
                Action::None => (" ".to_string(), "no DynamoDB locking"),
                Action::Error => (style.red("!"), "error"),
                Action::Blocked => (style.red("!"), "blocked"),
            };
            let get = |key: &str| b.backend.value(key).map(|v| v.display());
            let mut facts = Vec::new();
            for (name, key) in [
                ("bucket", "bucket"),
                ("key", "key"),
                ("table", "dynamodb_table"),
            ] {
                if let Some(value) = get(key) {
                    facts.push(format!("{name}={value}"));
                }
            }
            let facts = facts.iter().map(|f| format!(" {f}")).collect::<String>();
            let _ = writeln!(
                out,
                "  {mark} {}:{} ({}){facts} -> {label}",
                b.path,
                b.backend.line,
                b.backend.kind.as_str(),
            );
            if let Some(reason) = &b.reason {
                let _ = writeln!(out, "      {} {reason}", style.red("blocked:"));
            }
            for line in resolved_lines(b) {
                let _ = writeln!(out, "      {line}");
            }
            if let Some(locks) = &b.locks {
                for blocker in &locks.blockers {
                    let _ = writeln!(out, "      {} {blocker}", style.red("blocked:"));
                }
                for note in &locks.notes {
                    let _ = writeln!(out, "      note: {note}");
                }
            }
        }
    }
    if !plan.findings.is_empty() {
        let _ = writeln!(out, "\nPreflight:");
        for f in &plan.findings {
            let _ = writeln!(
                out,
                "  {}:{}:{}: {}: {}",
                f.path,
                f.line,
                f.column,
                style.yellow(f.kind),
                f.message
            );
            if let Some(suggestion) = &f.suggestion {
                let _ = writeln!(out, "      suggestion: {suggestion}");
            }
        }
    }
    out.push_str(&super::readers::text(plan, style));
    for file in plan.changed_files() {
        out.push('\n');
        out.push_str(&style.diff(&display_diff(&file.path, &file.original, &file.new_text)));
    }
    out.push('\n');
    out.push_str(&summary(plan, style));
    if !lock_note.is_empty() {
        let _ = writeln!(out, "{lock_note}");
    }
    out
}

/// What the resolve stage found that the backend's text does not show: the key
/// (and any evaluated bucket, region or table) per unit, and unknown values.
fn resolved_lines(b: &crate::BackendPlan) -> Vec<String> {
    // A value is worth a line when the file does not show it as it resolved
    // (an expression, a partial file's completion, an init-time override).
    let shown = |key: &str, resolved: Option<&String>| match (b.backend.value(key), resolved) {
        (Some(crate::parse::Value::String(s)), Some(r)) => s == r,
        (_, None) => true,
        _ => false,
    };
    let mut lines = Vec::new();
    for t in &b.resolution.targets {
        let mut evaluated = Vec::new();
        if !shown("bucket", t.bucket.as_ref()) {
            evaluated.push(format!(
                "bucket {}",
                t.bucket.as_deref().unwrap_or_default()
            ));
        }
        if !shown("region", t.client.region.as_ref()) {
            evaluated.push(format!(
                "region {}",
                t.client.region.as_deref().unwrap_or_default()
            ));
        }
        if !shown("dynamodb_table", t.table.as_ref()) && !shown("lock_table", t.table.as_ref()) {
            evaluated.push(format!("table {}", t.table.as_deref().unwrap_or_default()));
        }
        let extra = if evaluated.is_empty() {
            String::new()
        } else {
            format!(" ({})", evaluated.join(", "))
        };
        for (unit, key) in &t.keys {
            match unit {
                Some(unit) => lines.push(format!("unit {unit}: key {key}{extra}")),
                None if !shown("key", Some(key)) || !extra.is_empty() => {
                    lines.push(format!("key {key}{extra}"))
                }
                None => {}
            }
        }
        if t.keys.is_empty()
            && let Some(unit) = &t.unit
        {
            lines.push(format!("unit {unit}: key not fully known{extra}"));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for u in b.resolution.unknown() {
        let how = if u.blocks {
            "blocks"
        } else {
            "checked by its known prefix"
        };
        let line = format!(
            "unknown: {} = {} at {}: {} ({how})",
            u.attribute, u.expression, u.location, u.reason
        );
        if seen.insert(line.clone()) {
            lines.push(line);
        }
    }
    lines
}

/// `Plan: 2 to migrate, 1 already migrated, 0 without DynamoDB locking, 0 errors. 2 files to change.`
pub fn summary(plan: &RepoPlan, style: Style) -> String {
    let files = plan.changed_files().count();
    let errors = plan.problems.len();
    let blocked = match plan.blocked() {
        0 => String::new(),
        n => format!("{n} blocked, "),
    };
    format!(
        "{} {} to migrate, {blocked}{} already migrated, {} without DynamoDB locking, {} {}. {} {} to change.\n",
        style.bold("Plan:"),
        plan.count(Action::Migrate),
        plan.count(Action::AlreadyMigrated),
        plan.count(Action::None),
        errors,
        if errors == 1 { "error" } else { "errors" },
        files,
        if files == 1 { "file" } else { "files" },
    )
}
