//! Apply stage: writes a plan's files (through `atomic`), hash-checked against
//! what the plan read, after its rollback file; never plans, never talks to AWS.
//! A crash leaves each file either wholly old or wholly new.

pub use crate::atomic::{
    Write, WriteError, check_write_target, safe_relative, write_all, write_atomic, write_private,
    write_private_new,
};
use crate::model::FilePlan;
use crate::rollback::RollbackPlan;
use crate::source::sha256_hex;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("files changed since they were planned (nothing was written): {}", .0.join(", "))]
    ChangedSincePlan(Vec<String>),
    #[error("{path}: cannot write the rollback file: {error}")]
    RollbackFile {
        path: String,
        // Not `source`: the message already says it, and `{:#}` would repeat it.
        error: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Files whose current bytes no longer match the hash the plan read.
pub fn changed_since_plan(files: &[&FilePlan]) -> Vec<String> {
    files
        .iter()
        .filter(|f| match std::fs::read(&f.fs_path) {
            Ok(bytes) => sha256_hex(&bytes) != f.sha256,
            Err(_) => true,
        })
        .map(|f| f.path.clone())
        .collect()
}

/// Checks every file against the plan, writes the rollback file, then the files.
/// All or nothing: a changed file stops everything before the first write.
pub fn apply(
    files: &[&FilePlan],
    rollback: &RollbackPlan,
    rollback_path: &Path,
) -> Result<(), ApplyError> {
    let changed = changed_since_plan(files);
    if !changed.is_empty() {
        return Err(ApplyError::ChangedSincePlan(changed));
    }
    for f in files {
        check_write_target(&f.fs_path, &rollback.root).map_err(|error| WriteError::Io {
            path: f.path.clone(),
            error,
        })?;
    }
    let rollback_error = |path: &Path| {
        let path = path.display().to_string();
        move |error| ApplyError::RollbackFile { path, error }
    };
    write_private_new(rollback_path, rollback.to_json().as_bytes())
        .map_err(rollback_error(rollback_path))?;
    let markdown_path = markdown_path(rollback_path);
    let markdown = rollback.to_markdown(&rollback_path.display().to_string());
    write_private(&markdown_path, markdown.as_bytes()).map_err(rollback_error(&markdown_path))?;
    let writes: Vec<Write> = files
        .iter()
        .map(|f| Write {
            path: f.path.clone(),
            fs_path: f.fs_path.clone(),
            previous: Some(f.original.clone().into_bytes()),
            new_bytes: f.new_text.clone().into_bytes(),
        })
        .collect();
    write_all(&writes)?;
    Ok(())
}

/// Where the Markdown twin of a rollback file goes: `<rollback file>.md`.
pub fn markdown_path(rollback_path: &Path) -> PathBuf {
    let mut name = rollback_path.as_os_str().to_owned();
    name.push(".md");
    PathBuf::from(name)
}
