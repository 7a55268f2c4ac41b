//! Lock facts: what verification found about each state (lock items, lockfiles,
//! digests, the conditional-write probe). Plain data; it never talks to AWS.

use super::lockinfo::LockInfo;
use serde::Serialize;

/// The state of one lock, as far as AWS could tell.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum LockStatus {
    Free,
    Held {
        lock: LockInfo,
    },
    /// Could not be checked; blocks exactly like a held lock.
    Unverified {
        reason: String,
    },
}

impl LockStatus {
    pub fn is_free(&self) -> bool {
        matches!(self, LockStatus::Free)
    }
}

/// Whether the `-md5` digest item of a state exists in the lock table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Digest {
    Present,
    Absent,
    Unknown,
}

/// One state (a workspace of a backend) and its locks.
#[derive(Debug, Clone, Serialize)]
pub struct StateLocks {
    pub workspace: String,
    pub state_key: String,
    /// The bucket and region the state lives in, as resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Terragrunt unit whose key this is, when the key was computed for a unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub table: Option<String>,
    pub dynamodb: LockStatus,
    pub lockfile: LockStatus,
    pub digest: Digest,
    /// The digest item's `Digest` (MD5 of the state Terraform last wrote with DynamoDB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_value: Option<String>,
    /// Whether the state object itself exists in the bucket.
    pub state_exists: Option<bool>,
}

/// The result of the conditional-write probe on one bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Probe {
    /// A second `If-None-Match: *` put was refused: lockfiles work here.
    Enforced,
    /// The store accepted the second put: a lockfile would lock nothing.
    Ignored,
    Unverified {
        reason: String,
    },
    Skipped,
}

/// Everything verification learnt about one backend.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BackendLocks {
    pub states: Vec<StateLocks>,
    /// Why this backend must not be migrated now; empty when it may.
    pub blockers: Vec<String>,
    /// Facts worth telling that do not block (e.g. how an unknown key was checked).
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<Probe>,
}
