//! `tflock check`: reads the allow files, scans offline and prints what the
//! `check` gate found. Reads files only; never talks to AWS.

use super::{Error, Exit, Io, Scope, scan};
use crate::check::render::{self, CheckFormat};
use crate::check::{AllowList, check};
use crate::plan::Strategy;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Config {
    pub scope: Scope,
    pub format: CheckFormat,
    /// Files of `GLOB REASON` lines: backends kept on DynamoDB on purpose.
    pub allow_files: Vec<PathBuf>,
}

pub fn run(config: &Config, cwd: &Path, io: &mut dyn Io) -> Result<Exit, Error> {
    let mut allow = AllowList::default();
    for file in &config.allow_files {
        let path = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|source| Error::AllowRead {
            path: path.clone(),
            source,
        })?;
        allow.parse(&path, &text)?;
    }
    let repo = scan(io, &config.scope, cwd, Strategy::Replace);
    let text_of = |path: &str| std::fs::read_to_string(cwd.join(path)).ok();
    let report = check(&repo, &allow, &text_of);
    io.out(&render::render(&report, config.format))?;
    if config.format != CheckFormat::Json {
        io.err(&render::summary(&report));
    }
    Ok(Exit::failed_if(!report.passed()))
}
