//! `tflock locks`: every state of every S3 backend and its locks, checked in
//! AWS and recorded on the plan. Reads AWS only; decides nothing to write.

use super::{Aws, Error, Exit, Io, Scope, Session, TableFormat, print_problems, scan};
use crate::model::{BackendPlan, RepoPlan};
use crate::plan::Strategy;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct Config {
    pub scope: Scope,
    pub format: TableFormat,
    pub aws: Aws,
}

/// Fails when a lock is held or could not be verified, or a file could not be read.
pub fn run(config: &Config, cwd: &Path, io: &mut dyn Io, session: &Session) -> Result<Exit, Error> {
    let mut repo = scan(io, &config.scope, cwd, Strategy::Replace);
    print_problems(io, &repo);
    let any_unfree = check(&mut repo, config.aws, session)?;
    io.out(&match config.format {
        TableFormat::Text => crate::report::locks::text(&repo, io.style(), session.requests()),
        TableFormat::Json => crate::report::locks::json(&repo, session.requests()),
    })?;
    Ok(Exit::failed_if(any_unfree || !repo.problems.is_empty()))
}

/// Checks the locks of every backend that names something to check; true
/// when a lock is held or could not be verified.
fn check(repo: &mut RepoPlan, aws: Aws, session: &Session) -> Result<bool, Error> {
    let options = crate::verify::Options {
        skip_probe: true,
        ..aws.options()
    };
    let found = session.block_on(crate::verify::verify_plan(
        repo,
        names_something,
        false,
        &options,
        session.counter(),
    ))?;
    let any_unfree = found.iter().any(|(_, l)| l.blocked());
    crate::plan::record_locks(repo, found);
    Ok(any_unfree)
}

/// A partial `backend "s3" {}` names nothing to check; its .tfbackend does.
fn names_something(b: &BackendPlan) -> bool {
    ["bucket", "dynamodb_table"]
        .iter()
        .any(|k| b.backend.value(k).is_some())
}
