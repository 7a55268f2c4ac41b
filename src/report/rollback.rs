//! The rollback plan as Markdown, for a change ticket: summary, reverse diffs
//! (secrets redacted), states and digests, and the command that rolls back.
//! Rendering only; the plan is `rollback`'s.

use super::redact;
use crate::model::rollback::{RollbackPlan, RollbackState};
use std::fmt::Write;

/// The plan as Markdown; `json_path` is the rollback file the command names.
pub fn markdown(plan: &RollbackPlan, json_path: &str) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# tflock rollback plan\n\n{}\n", plan.summary);
    let _ = writeln!(
        md,
        "- created: {}\n- root: `{}`\n- strategy: {}\n",
        plan.created,
        plan.root.display(),
        plan.strategy
    );
    let _ = writeln!(
        md,
        "Roll back with:\n\n```sh\ntflock rollback {json_path}\n```\n"
    );
    let _ = writeln!(md, "## Files\n");
    for f in &plan.files {
        let _ = writeln!(
            md,
            "### `{}`\n\nSHA-256 before: `{}`, after: `{}`\n",
            f.path, f.sha256_before, f.sha256_after
        );
        let diff = redact(&f.reverse_diff);
        let fence = if diff.contains("```") { "~~~~" } else { "```" };
        let _ = writeln!(md, "{fence}diff\n{diff}{fence}\n");
    }
    let _ = writeln!(md, "## States and DynamoDB digests\n");
    let _ = writeln!(
        md,
        "| backend | workspace | state key | table | digest item | digest at migration |\n| --- | --- | --- | --- | --- | --- |"
    );
    for b in &plan.backends {
        for s in &b.states {
            let _ = writeln!(
                md,
                "| `{}:{}` | {} | `{}` | {} | {} | {} |",
                b.file,
                b.line,
                s.workspace,
                s.state_key,
                s.table.as_deref().unwrap_or("-"),
                s.digest_item
                    .as_deref()
                    .map(|d| format!("`{d}`"))
                    .unwrap_or_else(|| "-".into()),
                s.digest_at_migration
                    .as_deref()
                    .map(|d| format!("`{d}`"))
                    .unwrap_or_else(|| "none".into()),
            );
        }
    }
    let deleted: Vec<&RollbackState> = plan
        .backends
        .iter()
        .flat_map(|b| &b.states)
        .filter(|s| s.digest_deleted.is_some())
        .collect();
    if !deleted.is_empty() {
        let _ = writeln!(
            md,
            "\n## Digest items deleted by apply\n\nRollback writes each again from its state \
             object as it is then.\n\n| digest item | digest when deleted |\n| --- | --- |"
        );
        for s in deleted {
            let _ = writeln!(
                md,
                "| `{}` | `{}` |",
                s.digest_item.as_deref().unwrap_or("-"),
                s.digest_deleted.as_deref().unwrap_or("-")
            );
        }
    }
    md
}
