//! The next steps after a migration: the folders to re-initialise, the IAM the
//! lockfiles need, advice per bucket and for consumers. Plain data; `next_steps`
//! computes it and `report::next_steps` renders it.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct NextSteps {
    /// Directories whose backend changed, with the command that re-reads it.
    pub reinit: Vec<Reinit>,
    /// The IAM statement the S3 lockfile needs (one for all migrated states,
    /// resources grouped per bucket as in `iam_statements`).
    pub iam_statement: Option<serde_json::Value>,
    /// The same permissions as one statement per bucket, each listing a few
    /// grouped patterns (see the `iam` module) rather than two ARNs per state.
    pub iam_statements: Vec<serde_json::Value>,
    pub buckets: Vec<BucketAdvice>,
    /// Readers of the migrated states and their digest items (issue 12).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumers: Option<Consumers>,
}

/// What keeps the consumers of a migrated state working.
#[derive(Debug, Clone, Serialize)]
pub struct Consumers {
    /// Readers in the scanned tree whose config names DynamoDB settings (`file:line`).
    pub readers: Vec<String>,
    /// Whether apply deletes the digest items of the states it takes to lockfiles.
    pub deletes_digests: bool,
    pub advice: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reinit {
    pub dir: String,
    pub command: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BucketAdvice {
    pub bucket: String,
    /// `Enabled`, `Suspended`, `never enabled`, or why it is unknown.
    pub versioning: String,
    pub advice: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle_rule: Option<serde_json::Value>,
}
