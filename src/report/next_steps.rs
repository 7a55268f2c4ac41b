//! The next steps as a person reads them after `apply`, and as Markdown list
//! entries for the pull-request report. Rendering only.

use crate::model::next_steps::NextSteps;
use std::fmt::Write;

/// The next steps as Markdown list entries (for the pull-request report).
pub fn markdown(steps: &NextSteps) -> Vec<String> {
    let mut out = Vec::new();
    if !steps.reinit.is_empty() {
        let dirs: Vec<String> = steps
            .reinit
            .iter()
            .map(|r| format!("`(cd {} && {})`", r.dir, r.command))
            .collect();
        out.push(format!(
            "Re-initialise each changed configuration:\n{}",
            dirs.iter()
                .map(|d| format!("- {d}"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    if !steps.iam_statements.is_empty() {
        // One fence per bucket: a report split into parts cuts between
        // statements, so every fence holds a whole, valid JSON statement.
        let mut entry = format!(
            "Let everyone who runs Terraform create and delete the lockfiles (IAM, one \
             statement per bucket{}):",
            if steps.iam_statements.len() > 1 {
                format!(", {}", steps.iam_statements.len())
            } else {
                String::new()
            }
        );
        for statement in &steps.iam_statements {
            entry.push_str(&format!(
                "\n```json\n{}\n```",
                serde_json::to_string_pretty(statement).unwrap_or_default()
            ));
        }
        out.push(entry);
    }
    for b in &steps.buckets {
        let mut entry = format!(
            "Bucket `{}`: versioning {}; {}",
            b.bucket, b.versioning, b.advice
        );
        if let Some(rule) = &b.lifecycle_rule {
            entry.push_str(&format!(
                "\n```json\n{}\n```",
                serde_json::to_string_pretty(rule).unwrap_or_default()
            ));
        }
        out.push(entry);
    }
    if let Some(c) = &steps.consumers {
        let mut entry = format!("Consumers of the migrated states: {}", c.advice);
        for r in &c.readers {
            entry.push_str(&format!("\n  - reader `{r}`"));
        }
        out.push(entry);
    }
    out
}

/// The next steps as a person reads them after `apply`.
pub fn text(steps: &NextSteps) -> String {
    let mut out = String::new();
    if steps.reinit.is_empty() {
        return out;
    }
    let _ = writeln!(out, "Next steps:");
    let _ = writeln!(out, "  1. Re-initialise each changed configuration:");
    for r in &steps.reinit {
        let _ = writeln!(out, "       (cd {} && {})", r.dir, r.command);
    }
    if !steps.iam_statements.is_empty() {
        let _ = writeln!(
            out,
            "  2. Let everyone who runs Terraform create and delete the lockfiles (IAM, one \
             statement per bucket):"
        );
        for statement in &steps.iam_statements {
            let pretty = serde_json::to_string_pretty(statement).unwrap_or_default();
            for line in pretty.lines() {
                let _ = writeln!(out, "       {line}");
            }
        }
    }
    for b in &steps.buckets {
        let _ = writeln!(
            out,
            "  - bucket {}: versioning {}; {}",
            b.bucket, b.versioning, b.advice
        );
        if let Some(rule) = &b.lifecycle_rule {
            let _ = writeln!(
                out,
                "       {}",
                serde_json::to_string(rule).unwrap_or_default()
            );
        }
    }
    if let Some(c) = &steps.consumers {
        let _ = writeln!(out, "  - consumers: {}", c.advice);
        for r in &c.readers {
            let _ = writeln!(out, "       reader {r}");
        }
    }
    out
}
