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
        let strategy = match plan.strategy {
            Some(crate::plan::Strategy::Dual) => "dual",
            _ => "replace",
        };
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
            for (unit, key) in crate::report::unit_keys(plan, b) {
                let _ = writeln!(out, "      unit {unit}: key {key}");
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
