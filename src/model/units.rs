//! Terragrunt units as resolve found them: each unit's file, the file whose
//! `remote_state` it uses and the include that names it. Plain data; finding
//! and evaluating units is the resolve stage's job.

use std::path::PathBuf;

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

/// A Terragrunt unit and the file whose `remote_state` it uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// The unit's directory, display form (`/`-separated, relative to the cwd).
    pub dir: String,
    /// Display path of the unit's own file.
    pub file: String,
    /// The display path of the file whose `remote_state` the unit uses (an
    /// included root, or the unit's own file).
    pub includes: String,
    /// The include that names that file (None for the unit's own).
    pub include: Option<Include>,
    /// The unit configures its own `remote_state`: it is its own backend, not one
    /// of the included file's states.
    pub own_remote_state: bool,
}

/// A unit whose includes could not be evaluated: it may include any root in a
/// folder above it, so those roots cannot be checked completely.
#[derive(Debug, Clone, PartialEq)]
pub struct UnresolvedUnit {
    pub dir: String,
    pub file: String,
    pub reason: String,
}
