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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rollback::{RollbackBackend, RollbackFile};
    use crate::resolve::targets::Target;

    fn plan() -> RollbackPlan {
        RollbackPlan {
            format_version: "1".into(),
            tool: "tflock".into(),
            created: "2026-11-27T10:00:00Z".into(),
            root: "/repo".into(),
            strategy: "replace".into(),
            summary: "1 file changed.".into(),
            files: vec![RollbackFile {
                path: "app/main.tf".into(),
                sha256_before: "aa".into(),
                sha256_after: "bb".into(),
                original: String::new(),
                reverse_diff: "-    use_lockfile = true\n+    secret_key = \"SECRET\"\n".into(),
            }],
            backends: vec![RollbackBackend {
                file: "app/main.tf".into(),
                line: 2,
                target: Target {
                    bucket: Some("b".into()),
                    keys: Vec::new(),
                    unknown_key_prefix: None,
                    workspace_key_prefix: "env:".into(),
                    table: Some("locks".into()),
                    client: Default::default(),
                    probe: false,
                    dir: "app".into(),
                    unknown: Vec::new(),
                    unit: None,
                },
                states: vec![RollbackState {
                    workspace: "default".into(),
                    state_key: "app/terraform.tfstate".into(),
                    table: Some("locks".into()),
                    digest_item: Some("b/app/terraform.tfstate-md5".into()),
                    digest_at_migration: Some("d1".into()),
                    digest_deleted: Some("d2".into()),
                }],
            }],
        }
    }

    #[test]
    fn names_the_command_the_files_the_states_and_deleted_digests() {
        let md = markdown(&plan(), "tflock-rollback-x.json");
        for line in [
            "# tflock rollback plan\n\n1 file changed.\n",
            "- created: 2026-11-27T10:00:00Z\n- root: `/repo`\n- strategy: replace\n",
            "```sh\ntflock rollback tflock-rollback-x.json\n```",
            "### `app/main.tf`\n\nSHA-256 before: `aa`, after: `bb`\n",
            "| `app/main.tf:2` | default | `app/terraform.tfstate` | locks | \
             `b/app/terraform.tfstate-md5` | `d1` |",
            "## Digest items deleted by apply",
            "| `b/app/terraform.tfstate-md5` | `d2` |",
        ] {
            assert!(md.contains(line), "missing {line:?} in:\n{md}");
        }
        assert!(
            !md.contains("SECRET"),
            "a secret in the reverse diff:\n{md}"
        );
    }

    #[test]
    fn a_diff_holding_a_fence_gets_a_longer_one() {
        let mut p = plan();
        p.files[0].reverse_diff = "+ # ```\n".into();
        p.backends[0].states[0].digest_deleted = None;
        let md = markdown(&p, "r.json");
        assert!(md.contains("~~~~diff\n+ # ```\n~~~~"), "{md}");
        assert!(!md.contains("Digest items deleted by apply"), "{md}");
    }
}
