//! What the tripwire found about the `-md5` digest items of lockfile-only
//! states. Plain data; finding and judging them is the tripwire's job.

use serde::Serialize;

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
