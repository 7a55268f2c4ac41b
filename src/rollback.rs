//! The rollback plan that `apply` writes before it changes anything, and the
//! restore that reads it back; its writes go through `atomic`, never around it.

use crate::atomic::{self, WriteError};
pub use crate::model::rollback::{RollbackBackend, RollbackFile, RollbackPlan, RollbackState};
use crate::plan::Action;
use crate::report::unified_diff;
use crate::scan::{FilePlan, RepoPlan};
use crate::source::sha256_hex;
use std::path::{Path, PathBuf};

pub const FORMAT_VERSION: &str = "1";

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

    /// The rollback plan of an apply of `files`, with the migrated backends of `repo`.
    pub fn new(repo: &RepoPlan, files: &[&FilePlan], root: &Path, strategy: &str) -> RollbackPlan {
        let files: Vec<RollbackFile> = files
            .iter()
            .map(|f| RollbackFile {
                path: f.path.clone(),
                sha256_before: f.sha256.clone(),
                sha256_after: f.sha256_after(),
                original: f.original.clone(),
                reverse_diff: unified_diff(&f.path, &f.new_text, &f.original),
            })
            .collect();
        let backends: Vec<RollbackBackend> = repo
            .backends
            .iter()
            .filter(|b| b.action == Action::Migrate)
            .flat_map(|b| b.resolution.targets.iter().map(move |t| (b, t)))
            .map(|(b, target)| RollbackBackend {
                file: b.path.clone(),
                line: b.backend.line,
                target: target.clone(),
                states: b
                    .locks
                    .iter()
                    .flat_map(|l| &l.states)
                    .filter(|s| s.unit == target.unit)
                    .map(|s| RollbackState {
                        workspace: s.workspace.clone(),
                        state_key: s.state_key.clone(),
                        table: s.table.clone(),
                        digest_item: s.table.as_ref().and_then(|_| {
                            target.bucket.as_ref().map(|bucket| {
                                crate::model::lock_ids::digest_id(bucket, &s.state_key)
                            })
                        }),
                        digest_at_migration: s.digest_value.clone(),
                        digest_deleted: None,
                    })
                    .collect(),
            })
            .collect();
        let created = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let states: usize = backends.iter().map(|b| b.states.len()).sum();
        let summary = format!(
            "tflock {strategy} migration at {created} changed {} file(s) of {} backend(s) ({states} state(s) \
             checked). `tflock rollback <this file>` restores every file byte for byte and rewrites each \
             state's DynamoDB digest item to match the state as it is then; `--files-only` skips the \
             digests, `--dry-run` shows both without writing.",
            files.len(),
            backends.len(),
        );
        RollbackPlan {
            format_version: FORMAT_VERSION.to_string(),
            tool: format!("tflock {}", env!("CARGO_PKG_VERSION")),
            created,
            root: root.to_path_buf(),
            strategy: strategy.to_string(),
            summary,
            files,
            backends,
        }
    }

    /// The same plan for a change ticket (see `report::rollback`).
    pub fn to_markdown(&self, json_path: &str) -> String {
        crate::report::rollback::markdown(self, json_path)
    }

    /// Records the digest items apply deleted (by LockID, with the value each held).
    pub fn record_deleted_digests(&mut self, deleted: &[(String, String)]) {
        for b in &mut self.backends {
            for s in &mut b.states {
                if let Some((_, value)) = deleted
                    .iter()
                    .find(|(id, _)| s.digest_item.as_deref() == Some(id.as_str()))
                {
                    s.digest_deleted = Some(value.clone());
                }
            }
        }
        let n = deleted.len();
        if n > 0 {
            self.summary.push_str(&format!(
                " Apply then deleted {n} DynamoDB digest item(s) (`digest_deleted` per state), so \
                 readers that still name dynamodb_table keep working; rollback writes each again \
                 from its state object."
            ));
        }
    }

    /// What this file records about each digest item, by LockID.
    pub fn recorded_digests(
        &self,
    ) -> std::collections::BTreeMap<String, crate::tripwire::Recorded> {
        self.backends
            .iter()
            .flat_map(|b| &b.states)
            .filter_map(|s| {
                let id = s.digest_item.clone()?;
                Some((
                    id,
                    crate::tripwire::Recorded {
                        deleted_by_apply: s.digest_deleted.is_some(),
                        at_migration: s.digest_at_migration.clone(),
                    },
                ))
            })
            .collect()
    }

    /// LockIDs of the digest items apply deleted.
    pub fn deleted_digests(&self) -> std::collections::BTreeSet<String> {
        self.backends
            .iter()
            .flat_map(|b| &b.states)
            .filter(|s| s.digest_deleted.is_some())
            .filter_map(|s| s.digest_item.clone())
            .collect()
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
    /// Its path escapes the root: never written, even with --force.
    Refused(String),
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
            if let Err(why) = atomic::safe_relative(&file.path) {
                return RestoreStep {
                    file: file.clone(),
                    fs_path,
                    state: FileState::Refused(why),
                    current: None,
                };
            }
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
pub fn restore(steps: &[RestoreStep], force: bool, root: &Path) -> Result<usize, WriteError> {
    let writes: Vec<atomic::Write> = steps
        .iter()
        .filter(|s| match &s.state {
            FileState::AsApplied => true,
            FileState::ChangedSince | FileState::Missing(_) => force,
            FileState::AlreadyRestored | FileState::Refused(_) => false,
        })
        .map(|s| atomic::Write {
            path: s.file.path.clone(),
            fs_path: s.fs_path.clone(),
            previous: s.current.clone(),
            new_bytes: s.file.original.clone().into_bytes(),
        })
        .collect();
    for w in writes.iter().filter(|w| w.previous.is_some()) {
        atomic::check_write_target(&w.fs_path, root).map_err(|error| WriteError::Io {
            path: w.path.clone(),
            error,
        })?;
    }
    atomic::write_all(&writes)?;
    Ok(writes.len())
}
