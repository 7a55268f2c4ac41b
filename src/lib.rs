//! tflock: move Terraform / OpenTofu / Terragrunt S3 backends from DynamoDB state
//! locking to S3 lockfiles, with format-preserving edits and a real rollback.
//!
//! One pipeline, one module per stage, each importing only the stages before it
//! and the `model` (plain data and path helpers, importing no stage):
//! `discover -> parse -> resolve -> plan -> verify -> apply -> report / rollback`.
//! `names` (which files are read), `source`, `git` and `parallel` (work on every
//! core) are leaves; `file_pipeline`
//! runs one file through parse and plan; `readers` and `preflight` look across
//! the planned files; `scan` runs the offline half over a tree; `atomic` holds the
//! file writes `apply` and `rollback` share; `aws` is the AWS core (clients,
//! options, runtime, request counting, timeouts) that `verify` reads through and
//! `remote` writes through; `status`, `tripwire` and `remote` come after verify;
//! `check` (the CI gate) reads a finished scan; `report` renders every output;
//! `commands` runs each command's stages and decisions for the binary, which only prints.

pub mod apply;
pub(crate) mod atomic;
pub mod aws;
pub mod check;
pub mod commands;
pub mod discover;
pub(crate) mod file_pipeline;
/// Shared by the fuzzers (`tests/fuzz.rs`, `fuzz/`); not an API.
#[doc(hidden)]
pub mod fuzzing;
pub mod git;
pub mod iam;
pub(crate) mod model;
pub(crate) mod names;
pub mod next_steps;
pub(crate) mod parallel;
pub mod parse;
pub mod plan;
pub mod planfile;
pub mod preflight;
pub mod readers;
pub mod remote;
pub mod report;
pub(crate) mod resolve;
pub mod rollback;
pub mod runlock;
pub mod scan;
pub mod source;
pub mod status;
pub mod tripwire;
pub mod verify;

pub use scan::{
    BackendPlan, FileOutcome, FilePlan, Problem, RepoPlan, plan_bytes, scan, scan_with,
};
