//! tflock: move Terraform / OpenTofu / Terragrunt S3 backends from DynamoDB state
//! locking to S3 lockfiles, with format-preserving edits and a real rollback.
//!
//! One pipeline, one module per stage:
//! `discover -> parse -> plan -> (verify) -> apply -> report / rollback`.

pub mod apply;
pub mod check;
pub mod discover;
pub mod git;
pub mod next_steps;
pub mod parse;
pub mod plan;
pub mod planfile;
pub mod preflight;
pub mod readers;
pub mod remote;
pub mod report;
pub mod resolve;
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
