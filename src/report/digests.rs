//! The digest tripwire of `tflock status`, as text and Markdown, and the advice
//! each verdict carries. Words only: the verdicts are `tripwire`'s.

use crate::model::digests::{DigestCheck, Verdict};
use std::fmt::Write;

/// Said with every straggler: the old configuration runs until a change is merged.
pub const BEFORE_MERGE: &str = "Digests written before the change was merged and \
     re-initialised everywhere are expected (the old configuration still ran then).";

/// What to do about a digest item with this verdict.
pub fn advice(verdict: Verdict, table: &str, state_key: &str) -> String {
    match verdict {
        Verdict::Straggler => format!(
            "a client still locking with DynamoDB (table {table}) wrote {state_key} without the \
             lockfile since the migration: look for a branch, a CI job or a laptop that still \
             runs the old backend configuration, or passes -backend-config=dynamodb_table={table}. \
             {BEFORE_MERGE}"
        ),
        Verdict::StaleDigest => format!(
            "older than the state: readers that still name dynamodb_table fail on {state_key}; \
             `tflock status --clean-digests` deletes it"
        ),
    }
}

/// The tripwire section of `tflock status` (text).
pub fn text(checks: &[DigestCheck]) -> String {
    let mut out = String::new();
    if checks.is_empty() {
        let _ = writeln!(
            out,
            "\nDigest items of lockfile-only states: none (no client wrote one since the migration)."
        );
        return out;
    }
    let _ = writeln!(out, "\nDigest items of lockfile-only states:");
    for c in checks {
        let _ = writeln!(
            out,
            "  {}: {} in table {} ({}), state {} (workspace {}, backend {})",
            c.verdict.as_str(),
            c.digest_item,
            c.table,
            c.region,
            c.state_key,
            c.workspace,
            c.backend
        );
        let _ = writeln!(out, "      {}", c.advice);
        if let Some(done) = &c.cleaned {
            let _ = writeln!(out, "      --clean-digests: {done}");
        }
    }
    out
}

/// The tripwire section as Markdown (a table, then the advice once per verdict).
pub fn markdown(checks: &[DigestCheck]) -> String {
    let mut md = String::from("### Digest items of lockfile-only states\n\n");
    if checks.is_empty() {
        md.push_str("None: no client wrote one since the migration.\n");
        return md;
    }
    md.push_str(
        "| verdict | digest item | table | state | backend | clean |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for c in checks {
        let _ = writeln!(
            md,
            "| {} | `{}` | {} | `{}` ({}) | `{}` | {} |",
            c.verdict.as_str(),
            c.digest_item,
            c.table,
            c.state_key,
            c.workspace,
            c.backend,
            c.cleaned.as_deref().unwrap_or("-")
        );
    }
    md.push('\n');
    for verdict in [Verdict::Straggler, Verdict::StaleDigest] {
        if let Some(c) = checks.iter().find(|c| c.verdict == verdict) {
            let _ = writeln!(
                md,
                "- **{}**: {}",
                verdict.as_str(),
                advice(verdict, &c.table, "the state")
            );
        }
    }
    md
}
