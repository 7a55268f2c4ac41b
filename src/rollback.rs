//! The rollback plan that `apply` writes before it changes anything, and the
//! restore that reads it back.

use crate::apply::{self, WriteError};
use crate::source::sha256_hex;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const FORMAT_VERSION: &str = "1";

/// Everything needed to put every changed file back, byte for byte.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollbackPlan {
    pub format_version: String,
    pub tool: String,
    /// UTC time of the apply, RFC 3339.
    pub created: String,
    /// The directory the paths are relative to (the current directory of the apply).
    pub root: PathBuf,
    pub strategy: String,
    pub files: Vec<RollbackFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollbackFile {
    /// Relative to `root`, `/`-separated.
    pub path: String,
    pub sha256_before: String,
    pub sha256_after: String,
    /// The file's original text, restored verbatim.
    pub original: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error("{0}: cannot read rollback file: {1}")]
    Read(String, std::io::Error),
    #[error("{0}: not a tflock rollback file: {1}")]
    Format(String, serde_json::Error),
    #[error("{0}: unsupported rollback format_version {1:?}")]
    Version(String, String),
}

impl RollbackPlan {
    pub fn load(path: &Path) -> Result<RollbackPlan, RollbackError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| RollbackError::Read(name.clone(), e))?;
        let plan: RollbackPlan =
            serde_json::from_slice(&bytes).map_err(|e| RollbackError::Format(name.clone(), e))?;
        if plan.format_version != FORMAT_VERSION {
            return Err(RollbackError::Version(name, plan.format_version));
        }
        Ok(plan)
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// What a rollback would do to one file, judged from its current bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Still as apply left it: restore.
    AsApplied,
    /// Already holds the original bytes: nothing to do.
    AlreadyRestored,
    /// Changed since apply: refused unless forced.
    ChangedSince,
    /// Gone, or unreadable.
    Missing(String),
}

/// One file's rollback decision with the text it holds now.
#[derive(Debug, Clone)]
pub struct RestoreStep {
    pub file: RollbackFile,
    pub fs_path: PathBuf,
    pub state: FileState,
    pub current: Option<Vec<u8>>,
}

/// Reads each file of the plan and decides what restoring it means.
pub fn inspect(plan: &RollbackPlan) -> Vec<RestoreStep> {
    plan.files
        .iter()
        .map(|file| {
            let fs_path = plan.root.join(&file.path);
            let (state, current) = match std::fs::read(&fs_path) {
                Ok(bytes) => {
                    let sha = sha256_hex(&bytes);
                    let state = if sha == file.sha256_before {
                        FileState::AlreadyRestored
                    } else if sha == file.sha256_after {
                        FileState::AsApplied
                    } else {
                        FileState::ChangedSince
                    };
                    (state, Some(bytes))
                }
                Err(e) => (FileState::Missing(e.to_string()), None),
            };
            RestoreStep {
                file: file.clone(),
                fs_path,
                state,
                current,
            }
        })
        .collect()
}

/// Restores the original bytes of every step that needs it, atomically per file;
/// if any write fails, the files already restored are put back as they were.
pub fn restore(steps: &[RestoreStep], force: bool) -> Result<usize, WriteError> {
    let writes: Vec<apply::Write> = steps
        .iter()
        .filter(|s| match &s.state {
            FileState::AsApplied => true,
            FileState::ChangedSince | FileState::Missing(_) => force,
            FileState::AlreadyRestored => false,
        })
        .map(|s| apply::Write {
            path: s.file.path.clone(),
            fs_path: s.fs_path.clone(),
            previous: s.current.clone(),
            new_bytes: s.file.original.clone().into_bytes(),
        })
        .collect();
    apply::write_all(&writes)?;
    Ok(writes.len())
}
