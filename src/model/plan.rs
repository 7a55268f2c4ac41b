//! What a plan is made of: the strategy asked for, the action decided for a
//! backend, and the byte edits that carry it out. Plain data; `plan` decides
//! and splices them.

use serde::{Deserialize, Serialize};
use std::ops::Range;

/// How to move a backend off DynamoDB locking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Remove the DynamoDB settings and lock with S3 lockfiles only.
    Replace,
    /// Add `use_lockfile = true` next to DynamoDB: Terraform takes both locks.
    Dual,
}

impl Strategy {
    /// The name used on the command line, in reports and in rollback files.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Replace => "replace",
            Strategy::Dual => "dual",
        }
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the plan does to one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Migrate,
    AlreadyMigrated,
    None,
    Error,
    /// A migration was planned, but a state's lock is held or could not be verified.
    Blocked,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Migrate => "migrate",
            Action::AlreadyMigrated => "already-migrated",
            Action::None => "none",
            Action::Error => "error",
            Action::Blocked => "blocked",
        }
    }
}

/// Replace `start..end` of the original text with `text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

impl Edit {
    pub fn replace(range: Range<usize>, text: impl Into<String>) -> Edit {
        Edit {
            start: range.start,
            end: range.end,
            text: text.into(),
        }
    }

    pub fn insert(at: usize, text: impl Into<String>) -> Edit {
        Edit::replace(at..at, text)
    }

    pub fn delete(range: Range<usize>) -> Edit {
        Edit::replace(range, "")
    }
}
