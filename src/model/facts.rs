//! What the files tell the preflight, gathered while the scan reads them
//! anyway: version constraints, Terragrunt-generated files, CI arguments that
//! keep DynamoDB locking, init-time overrides. Plain data; finding the facts and
//! judging them is the preflight's job.

use super::InitOverride;
use serde::Serialize;
use std::path::PathBuf;

/// How a CI file passes `dynamodb_table` to `init`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// `-backend-config=dynamodb_table=X` on a command line (any quoting, `--`,
    /// space form), or an action's `backend_config` input.
    BackendConfigArg,
    /// The same argument inside `TF_CLI_ARGS` / `TF_CLI_ARGS_init`.
    EnvVar,
    /// A `dynamodb_table = X` line in a file passed with `-backend-config=FILE`.
    BackendConfigFileLine,
    /// A `dynamodb_table = X` line in a shell heredoc (a backend config file or
    /// `backend "s3"` block generated at CI time).
    HeredocLine,
}

/// One place that keeps DynamoDB locking alive from outside the backend files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CiReference {
    /// 1-based line of the argument (its leading `-`) or attribute.
    pub line: usize,
    /// 1-based column, counted in chars (a UTF-8 BOM is not counted).
    pub column: usize,
    pub form: Form,
    /// The table as written (variables unresolved, surrounding quotes removed);
    /// `None` when the value is empty (or `null` in a file).
    pub table: Option<String>,
    /// The matched argument or attribute as written.
    pub snippet: String,
    /// What the user should change.
    pub suggestion: String,
}

/// Where a version constraint was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    /// `terraform { required_version = "..." }` in a `.tf` / `.tofu` file.
    RequiredVersion,
    /// Terragrunt's `terraform_version_constraint = "..."`.
    TerragruntConstraint,
}

/// One version constraint found in a file.
#[derive(Debug, Clone)]
pub struct VersionConstraint {
    pub kind: ConstraintKind,
    /// Display path of the file, and its directory (the module).
    pub path: String,
    pub dir: String,
    pub fs_path: PathBuf,
    pub line: usize,
    /// The constraint's text (the string's contents), or the expression text.
    pub text: String,
    /// Whether the value is a plain string (only then can it be bumped).
    pub literal: bool,
    /// A `.tofu` file: OpenTofu reads it.
    pub tofu: bool,
    /// Written inside a Terragrunt `generate` heredoc: it applies where the
    /// generated file lands (the units), and is not edited by tflock.
    pub generated: bool,
}

/// A fact for the preflight.
#[derive(Debug, Clone)]
pub enum Fact {
    Constraint(VersionConstraint),
    /// A file Terragrunt generated that configures a backend.
    Generated {
        path: String,
    },
    /// CI arguments that pass `dynamodb_table` to `init`, and the
    /// `-backend-config` files a CI file names (line, path as written).
    Ci {
        path: String,
        fs_path: PathBuf,
        references: Vec<CiReference>,
        config_files: Vec<(usize, String)>,
    },
    /// Init-time overrides written in the file (`-backend-config` arguments,
    /// Terragrunt `extra_arguments`); moved onto `RepoPlan::overrides` after the walk.
    Overrides(Vec<InitOverride>),
}
