//! What `tflock status` found: each backend's phase in the rollout and each lock
//! table's verdict, with the digest tripwire. Plain data; `status` assembles it
//! and `report::status` renders it.

use super::digests::DigestCheck;
use serde::Serialize;

/// The locking a backend configuration asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// DynamoDB only.
    Dynamodb,
    /// Both: the bake period.
    Dual,
    /// S3 lockfile only: migrated.
    Lockfile,
    /// Neither is set here (e.g. a partial `backend "s3" {}`).
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackendStatus {
    pub file: String,
    pub line: usize,
    pub kind: &'static str,
    pub phase: Phase,
    pub table: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableStatus {
    pub table: String,
    pub region: String,
    /// Why it is listed: named by a config, by a rollback file, or found in the account.
    pub sources: Vec<&'static str>,
    /// Configurations in the scanned tree that still name it (`file:line`).
    pub referenced_by: Vec<String>,
    pub active_locks: Option<usize>,
    pub digest_items: Option<usize>,
    /// `safe to retire`, `in use`, `locks held`, `still used by N states
    /// outside this scan`, or `unknown: why`.
    pub verdict: String,
    /// States with items in the table (locks or digests) that no scanned
    /// configuration on lockfiles governs: how many, and a few of their LockIDs.
    pub outside_states: Option<usize>,
    pub outside_examples: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub backends: Vec<BackendStatus>,
    pub tables: Vec<TableStatus>,
    /// The tripwire: digest items of lockfile-only states (see `tripwire`).
    pub digests: Vec<DigestCheck>,
}
