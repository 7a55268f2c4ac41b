//! Model: the plain data the stages pass on (parsed backends and readers, the
//! states they resolve to, strategies, actions and edits, a repository's plan,
//! its files, problems, facts, findings, init-time overrides) and path helpers.
//! It imports no stage and holds no stage's work: no walking, parsing,
//! evaluating, splicing, AWS calls or writes. The stages re-export the types
//! they produce at their own paths (`parse::Backend`, `plan::Edit`, ...).

pub mod backend;
pub mod check;
pub mod digests;
pub mod facts;
pub mod hash;
pub mod lock_ids;
pub mod lockinfo;
pub mod locks;
pub mod next_steps;
pub mod paths;
pub mod plan;
pub mod resolution;
pub mod rollback;
pub mod status;
pub mod units;

use backend::{Backend, Reader};
use facts::Fact;
use hash::sha256_hex;
use locks::BackendLocks;
use plan::{Action, Edit, Strategy};
use resolution::Resolution;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;
use units::Unit;

/// Settings whose values are secrets: never shown in a diff or report.
pub const SECRET_KEYS: &[&str] = &[
    "access_key",
    "secret_key",
    "token",
    "session_token",
    "sse_customer_key",
    "external_id",
];

/// A problem with one input, shown as `path:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path, self.line, self.column, self.message
        )
    }
}

/// One backend and what the plan does to it.
#[derive(Debug, Clone)]
pub struct BackendPlan {
    pub path: String,
    pub backend: Backend,
    pub action: Action,
    /// The edits that migrate this backend (empty unless `action` is Migrate).
    pub edits: Vec<Edit>,
    /// What verification found, when it ran.
    pub locks: Option<BackendLocks>,
    /// Why it is blocked, when the preflight blocked it (e.g. its version).
    pub reason: Option<String>,
    /// The states it governs, as the resolve stage found them.
    pub resolution: Resolution,
}

/// One file the plan read, with its backends' edits.
#[derive(Debug, Clone)]
pub struct FilePlan {
    /// Display path (relative to the current directory, `/`-separated).
    pub path: String,
    /// Path to open.
    pub fs_path: PathBuf,
    pub original: String,
    pub sha256: String,
    pub edits: Vec<Edit>,
    /// Edits that belong to no backend (a bumped `required_version`, a
    /// reader's DynamoDB settings removed).
    pub extra_edits: Vec<Edit>,
    pub new_text: String,
    /// The S3 `terraform_remote_state` readers in this file.
    pub readers: Vec<ReaderPlan>,
}

impl FilePlan {
    pub fn changed(&self) -> bool {
        self.new_text != self.original
    }

    pub fn sha256_after(&self) -> String {
        sha256_hex(self.new_text.as_bytes())
    }
}

/// Everything the offline pipeline found under the given paths, sorted by path.
#[derive(Debug, Clone, Default)]
pub struct RepoPlan {
    pub strategy: Option<Strategy>,
    pub backends: Vec<BackendPlan>,
    pub files: Vec<FilePlan>,
    pub problems: Vec<Problem>,
    /// Every Terragrunt unit of the repository and the file it includes.
    pub units: Vec<Unit>,
    /// What the files told the preflight (constraints, CI arguments, ...).
    pub facts: Vec<Fact>,
    /// What the preflight wants people to see.
    pub findings: Vec<Finding>,
    /// Init-time overrides (`-backend-config` in CI files, scripts,
    /// `TF_CLI_ARGS_init`, Terragrunt `extra_arguments`), by source and line.
    pub overrides: Vec<InitOverride>,
}

impl RepoPlan {
    pub fn changed_files(&self) -> impl Iterator<Item = &FilePlan> {
        self.files.iter().filter(|f| f.changed())
    }

    pub fn count(&self, action: Action) -> usize {
        self.backends.iter().filter(|b| b.action == action).count()
    }

    pub fn blocked(&self) -> usize {
        self.count(Action::Blocked)
    }
}

/// What planning one file produced.
#[derive(Debug, Clone)]
pub enum FileOutcome {
    /// The file holds backends; its plan (possibly with no change).
    Planned(FilePlan, Vec<BackendPlan>),
    /// The file could not be read, parsed or planned; it is left untouched.
    Failed(Problem, Vec<BackendPlan>),
}

/// One reader and what the plan does to it.
#[derive(Debug, Clone)]
pub struct ReaderPlan {
    pub path: String,
    pub reader: Reader,
    /// The DynamoDB settings its config names (`dynamodb_table`,
    /// `dynamodb_endpoint`, `endpoints.dynamodb`).
    pub dynamodb_settings: Vec<&'static str>,
    /// The edits that remove them (`replace` only).
    pub edits: Vec<Edit>,
}

/// Something the preflight wants people to see.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub path: String,
    pub line: usize,
    pub column: usize,
    /// `ci-reference`, `generated-file`, `opentofu-twin`, `version`.
    pub kind: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

/// One `-backend-config` argument given to `terraform init` from outside the
/// backend files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InitOverride {
    /// Display path of the file it was written in.
    pub source: String,
    /// 1-based line and char column of the argument (its leading `-`, or the
    /// string in a Terragrunt `arguments` list).
    pub line: usize,
    pub column: usize,
    /// The module directory it applies to, as a display path relative to the
    /// cwd; `None` when it cannot be told (it may apply to any module).
    pub dir: Option<String>,
    /// How it reaches `init`.
    pub via: Via,
    pub kind: OverrideKind,
}

/// How an override reaches `terraform init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "name")]
pub enum Via {
    /// An argument on a command line (or in a YAML/Groovy list of arguments).
    Argument,
    /// Inside the value of `TF_CLI_ARGS_init` or `TF_CLI_ARGS` (named).
    EnvVar(String),
    /// A GitHub action's `backend_config` / `backend_config_file` input.
    ActionInput,
    /// A Terragrunt `extra_arguments` block whose `commands` include `init`.
    TerragruntExtraArguments,
}

/// What an override sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum OverrideKind {
    /// `-backend-config=key=value`: `value` as written (quotes removed; a
    /// secret's value is never kept). Variables (`${ENV}`, `$VAR`, `$(...)`,
    /// `${{ ... }}`, `{{ ... }}`, an unevaluated Terragrunt `${...}`) make it
    /// partly unknown: `literal_prefix` is the text before the first of them and
    /// `complete` is false.
    Setting {
        key: String,
        value: String,
        literal_prefix: String,
        complete: bool,
    },
    /// `-backend-config=FILE`: `path` as written; `fs_path` where it was looked
    /// for (relative to `dir`, else to the source's folder or the repository
    /// root, whichever holds it), `None` when the path holds a variable.
    /// `file` is `fs_path` as a display path; `exists` says whether it is there.
    File {
        path: String,
        #[serde(skip)]
        fs_path: Option<PathBuf>,
        file: Option<String>,
        exists: bool,
    },
    /// An argument tflock cannot read at all (`-backend-config="$K=$V"`, a
    /// Terragrunt `arguments` element that is not a string): it may set anything.
    Unreadable { text: String },
}
