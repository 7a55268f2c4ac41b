//! Expression evaluation for the resolve stage: Terragrunt and HCL expressions
//! evaluated offline with hcl-rs, in the scope Terragrunt would use for a unit.
//! Whatever cannot be known offline is `Unknown`, with the reason; never a guess.
//!
//! STUB: the interface the resolve stage codes against; the implementation
//! lands in the evaluator's own change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The result of evaluating one expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluated {
    Known(hcl::Value),
    Unknown { reason: String },
}

/// An `include` of a Terragrunt unit, resolved to the file it names.
#[derive(Debug, Clone, PartialEq)]
pub struct Include {
    /// Label of the block (`include "root" { .. }`), None for a bare `include { .. }`.
    pub name: Option<String>,
    /// The included file, absolute and normalised (no `.`/`..`).
    pub path: PathBuf,
    pub expose: bool,
    /// `merge_strategy` as written ("shallow" when absent).
    pub merge_strategy: String,
}

/// What the evaluator needs from the outside world; a snapshot, so tests can
/// give their own.
#[derive(Debug, Clone, Default)]
pub struct World {
    /// The repository root (`get_repo_root()`), absolute.
    pub repo_root: PathBuf,
    /// Environment variables (`get_env`).
    pub env: BTreeMap<String, String>,
}

/// Evaluates Terragrunt configuration files, caching what it read and parsed.
pub struct Evaluator {
    #[allow(dead_code)]
    world: World,
}

impl Evaluator {
    pub fn new(world: World) -> Evaluator {
        Evaluator { world }
    }

    /// The includes of a unit's Terragrunt file (absolute path), in the order written.
    /// An include whose path cannot be evaluated is an error naming the expression.
    pub fn includes(&self, _unit_file: &Path) -> Result<Vec<Include>, String> {
        Err("evaluator not built yet".into())
    }

    /// The scope in which the expressions of `file` are evaluated when Terragrunt
    /// runs the unit `unit_file`: `file` is the unit itself or a root it includes
    /// (then `include` is the include that names it). Locals of `file` are
    /// evaluated in that scope (lazily or eagerly), path functions start from the
    /// unit's directory, `path_relative_to_include()` is relative to `file`'s.
    pub fn scope(&self, file: &Path, unit_file: &Path, include: Option<&Include>) -> Scope {
        let _ = (file, unit_file, include);
        Scope {}
    }
}

/// One evaluation scope (see `Evaluator::scope`).
pub struct Scope {}

impl Scope {
    /// Evaluates an expression given as source text (as parse recorded it).
    pub fn eval(&self, _expression: &str) -> Evaluated {
        Evaluated::Unknown {
            reason: "evaluator not built yet".into(),
        }
    }

    /// For a string template (`"a/${x}/b"`): the longest known prefix, and
    /// the reason the rest is unknown (None when the whole string is known).
    pub fn eval_string_prefix(&self, _expression: &str) -> (String, Option<String>) {
        (String::new(), Some("evaluator not built yet".into()))
    }
}
