//! The tripwire of `tflock status`: after a replace no Terraform run that locks
//! with lockfiles only writes a `-md5` digest item again. A lockfile-only state
//! whose digest item is there (again) and matches the state means some client
//! still runs with DynamoDB locking and writes that state without the lockfile:
//! a straggler. One that does not match is a stale digest, which breaks every
//! reader that still names `dynamodb_table`: `--clean-digests` deletes those.

use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Fresh, or back after tflock deleted it: a client still locks with DynamoDB.
    #[serde(rename = "straggler")]
    Straggler,
    /// Older than the state: harmless to Terraform on lockfiles, fatal to readers.
    #[serde(rename = "stale digest")]
    StaleDigest,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Straggler => "straggler",
            Verdict::StaleDigest => "stale digest",
        }
    }
}

/// A digest item found for a lockfile-only state.
#[derive(Debug, Clone, Serialize)]
pub struct DigestCheck {
    /// The backend (`file:line`) that now locks this state with lockfiles only.
    pub backend: String,
    pub workspace: String,
    pub state_key: String,
    pub table: String,
    pub region: String,
    /// The item's LockID: `<bucket>/<state key>-md5`.
    pub digest_item: String,
    pub digest: String,
    /// MD5 of the state object now (None: the object is gone).
    pub state_md5: Option<String>,
    /// A rollback file says tflock deleted this item at migration.
    pub deleted_by_apply: bool,
    /// A rollback file says it held this value at migration.
    pub digest_at_migration: Option<String>,
    pub verdict: Verdict,
    /// What the verdict means and what to look for.
    pub advice: String,
    /// Why `--clean-digests` may not touch it now (a lock held or unverified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
    /// What `--clean-digests` did: `deleted`, `would delete` (dry run),
    /// `changed since read`, `failed: why`, or `not cleaned: a lock ...`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleaned: Option<String>,
}

/// What rollback files say about a digest item.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// Apply deleted it.
    pub deleted_by_apply: bool,
    /// Its `Digest` when the migration ran.
    pub at_migration: Option<String>,
}

/// The verdict on one digest item of a lockfile-only state. Back after apply
/// deleted it: a straggler. Unchanged since the migration: left from before it
/// (kept with `--keep-digests`), stale as soon as the state changes. Otherwise
/// fresh means a client still writes it with DynamoDB locking.
pub fn judge(digest: &str, state_md5: Option<&str>, recorded: &Recorded) -> Verdict {
    if recorded.deleted_by_apply {
        Verdict::Straggler
    } else if recorded.at_migration.as_deref() == Some(digest) {
        Verdict::StaleDigest
    } else if state_md5 == Some(digest) {
        Verdict::Straggler
    } else {
        Verdict::StaleDigest
    }
}

/// Said with every straggler: the old configuration runs until a change is merged.
pub const BEFORE_MERGE: &str = "Digests written before the change was merged and \
     re-initialised everywhere are expected (the old configuration still ran then).";

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
pub fn render_text(checks: &[DigestCheck]) -> String {
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

/// The same as Markdown (a table, then the advice once per verdict).
pub fn render_markdown(checks: &[DigestCheck]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_or_reappeared_is_a_straggler_and_the_rest_is_stale() {
        let none = Recorded::default();
        let deleted = Recorded {
            deleted_by_apply: true,
            at_migration: Some("a".into()),
        };
        let kept = Recorded {
            deleted_by_apply: false,
            at_migration: Some("a".into()),
        };
        assert_eq!(judge("a", Some("a"), &none), Verdict::Straggler);
        assert_eq!(judge("b", Some("c"), &deleted), Verdict::Straggler);
        assert_eq!(judge("a", Some("a"), &kept), Verdict::StaleDigest);
        assert_eq!(judge("b", Some("b"), &kept), Verdict::Straggler);
        assert_eq!(judge("a", Some("b"), &none), Verdict::StaleDigest);
        assert_eq!(judge("a", None, &none), Verdict::StaleDigest);
        assert!(advice(Verdict::Straggler, "t", "k").contains("before the change was merged"));
        assert!(advice(Verdict::StaleDigest, "t", "k").contains("--clean-digests"));
    }
}
