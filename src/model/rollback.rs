//! The rollback file `apply` writes before it changes anything: every changed
//! file's original bytes and hashes, and the states and digest items of the
//! migrated backends. Plain data (serialised as JSON); `rollback` reads and
//! restores it, `report::rollback` renders it for people.

use super::resolution::Target;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything needed to put every changed file back, byte for byte.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollbackPlan {
    pub format_version: String,
    pub tool: String,
    /// UTC time of the apply, RFC 3339.
    pub created: String,
    /// The directory the paths are relative to (the current directory of the apply).
    pub root: PathBuf,
    pub strategy: String,
    /// What the apply did and how to undo it, for people.
    #[serde(default)]
    pub summary: String,
    pub files: Vec<RollbackFile>,
    /// The migrated backends: where their states live, to repair digest items.
    #[serde(default)]
    pub backends: Vec<RollbackBackend>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollbackFile {
    /// Relative to `root`, `/`-separated.
    pub path: String,
    pub sha256_before: String,
    pub sha256_after: String,
    /// The file's original text, restored verbatim.
    pub original: String,
    /// The diff that rollback applies (new text back to the original).
    #[serde(default)]
    pub reverse_diff: String,
}

/// A migrated backend and the states it served at migration time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollbackBackend {
    pub file: String,
    pub line: usize,
    /// Bucket, keys, table and client settings, to find its states again.
    pub target: Target,
    pub states: Vec<RollbackState>,
}

/// One state's DynamoDB digest as it was when the migration ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollbackState {
    pub workspace: String,
    pub state_key: String,
    pub table: Option<String>,
    /// LockID of the digest item: `<bucket>/<state key>-md5`.
    pub digest_item: Option<String>,
    /// Its `Digest` at migration time (None: no item, or not checked).
    pub digest_at_migration: Option<String>,
    /// The `Digest` of the item apply deleted after writing the files (None:
    /// not deleted). Rollback writes such an item again from the state object.
    #[serde(default)]
    pub digest_deleted: Option<String>,
}
