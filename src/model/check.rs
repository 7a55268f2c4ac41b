//! What the CI gate (`tflock check`) found: each place that still uses DynamoDB
//! locking, and whether the team allowed it. Plain data; `check` finds them and
//! `report::check` prints them.

use serde::Serialize;

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Subject {
    /// A backend block, Terragrunt `remote_state`, or partial configuration file.
    Backend,
    /// A `data "terraform_remote_state"` with `backend = "s3"`.
    Reader,
    /// A `-backend-config` argument at `terraform init` (CI file, script,
    /// `TF_CLI_ARGS_init`, Terragrunt `extra_arguments`).
    InitOverride,
    /// A file tflock could not read or parse: it may hold anything.
    Unreadable,
}

/// One place that still uses DynamoDB locking (or may), as `path:line:col`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub subject: Subject,
    pub message: String,
    /// Why the team keeps it (from `--allow` or a `tflock:allow` comment);
    /// an allowed finding does not fail the check.
    pub allowed: Option<String>,
}

impl Finding {
    pub fn fails(&self) -> bool {
        self.allowed.is_none()
    }
}

/// The result of one check, findings in path order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// How many backends were looked at.
    pub backends: usize,
    pub findings: Vec<Finding>,
}

impl CheckReport {
    pub fn failing(&self) -> usize {
        self.findings.iter().filter(|f| f.fails()).count()
    }

    pub fn allowed(&self) -> usize {
        self.findings.len() - self.failing()
    }

    /// Whether the gate passes (exit 0).
    pub fn passed(&self) -> bool {
        self.failing() == 0
    }
}
