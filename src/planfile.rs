//! The saved plan (`plan --out FILE`, `apply --plan FILE`): edits plus the hash of
//! every file they were planned against, so apply can refuse a file that moved.

use crate::plan::{Edit, Strategy, splice};
use crate::scan::FilePlan;
use crate::source::sha256_hex;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const FORMAT_VERSION: &str = "1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: String,
    pub tool: String,
    pub strategy: Strategy,
    /// Whether the plan raised `required_version` (apply re-checks the same way).
    #[serde(default)]
    pub bump_required_version: bool,
    /// Whether the plan rewrote removed and deprecated attributes (`--modernize`).
    #[serde(default)]
    pub modernize: bool,
    pub files: Vec<SavedFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedFile {
    /// Relative to the directory the plan was made in, `/`-separated.
    pub path: String,
    pub sha256: String,
    pub sha256_after: String,
    pub edits: Vec<Edit>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("{0}: cannot read plan file: {1}")]
    Read(String, std::io::Error),
    #[error("{0}: not a tflock plan file: {1}")]
    Format(String, serde_json::Error),
    #[error("{0}: unsupported plan format_version {1:?}")]
    Version(String, String),
    #[error("{path}: changed since the plan was made (planned against sha256 {planned})")]
    Changed { path: String, planned: String },
    #[error("{path}: cannot read: {source}")]
    ReadTarget {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: the saved edits do not apply: {message}")]
    BadEdits { path: String, message: String },
}

impl SavedPlan {
    pub fn from_files(
        strategy: Strategy,
        bump_required_version: bool,
        files: &[&FilePlan],
    ) -> SavedPlan {
        SavedPlan {
            format_version: FORMAT_VERSION.to_string(),
            tool: format!("tflock {}", env!("CARGO_PKG_VERSION")),
            strategy,
            bump_required_version,
            modernize: false,
            files: files
                .iter()
                .map(|f| SavedFile {
                    path: f.path.clone(),
                    sha256: f.sha256.clone(),
                    sha256_after: f.sha256_after(),
                    edits: f.edits.clone(),
                })
                .collect(),
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    pub fn load(path: &Path) -> Result<SavedPlan, PlanFileError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| PlanFileError::Read(name.clone(), e))?;
        let plan: SavedPlan =
            serde_json::from_slice(&bytes).map_err(|e| PlanFileError::Format(name.clone(), e))?;
        if plan.format_version != FORMAT_VERSION {
            return Err(PlanFileError::Version(name, plan.format_version));
        }
        Ok(plan)
    }

    /// Re-reads every file below `root` and rebuilds its planned change; any file
    /// that no longer matches its planned hash is an error.
    pub fn resolve(&self, root: &Path) -> Result<Vec<FilePlan>, Vec<PlanFileError>> {
        let mut files = Vec::new();
        let mut errors = Vec::new();
        for saved in &self.files {
            match resolve_file(saved, root) {
                Ok(f) => files.push(f),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(files)
        } else {
            Err(errors)
        }
    }
}

fn resolve_file(saved: &SavedFile, root: &Path) -> Result<FilePlan, PlanFileError> {
    let relative =
        crate::apply::safe_relative(&saved.path).map_err(|message| PlanFileError::BadEdits {
            path: saved.path.clone(),
            message,
        })?;
    let fs_path = root.join(relative);
    let bytes = std::fs::read(&fs_path).map_err(|source| PlanFileError::ReadTarget {
        path: saved.path.clone(),
        source,
    })?;
    if sha256_hex(&bytes) != saved.sha256 {
        return Err(PlanFileError::Changed {
            path: saved.path.clone(),
            planned: saved.sha256.clone(),
        });
    }
    let bad = |message: String| PlanFileError::BadEdits {
        path: saved.path.clone(),
        message,
    };
    let original = String::from_utf8(bytes).map_err(|e| bad(e.to_string()))?;
    let new_text = splice(&original, &saved.edits).map_err(|e| bad(e.to_string()))?;
    if sha256_hex(new_text.as_bytes()) != saved.sha256_after {
        return Err(bad("result does not match the planned hash".into()));
    }
    Ok(FilePlan {
        path: saved.path.clone(),
        fs_path,
        sha256: saved.sha256.clone(),
        original,
        edits: saved.edits.clone(),
        extra_edits: Vec::new(),
        new_text,
        readers: Vec::new(),
    })
}
