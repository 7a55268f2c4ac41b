//! Terragrunt units: every `terragrunt.hcl` (or `terragrunt.hcl.json`) of the
//! repository and the files it includes. Found by walking the whole repository,
//! whatever paths were scanned, because editing a root changes the backend of
//! every unit that includes it.

use super::eval::Evaluator;
use crate::discover::{SKIPPED_DIRS, display_path};
pub use crate::model::units::{Unit, UnresolvedUnit};
use ignore::{WalkBuilder, WalkState};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Every unit below `repo_root`, sorted by unit file, with display paths
/// relative to `cwd`.
pub fn find(
    repo_root: &Path,
    cwd: &Path,
    evaluator: &Evaluator,
) -> (Vec<Unit>, Vec<UnresolvedUnit>) {
    let mut units = Vec::new();
    let mut unresolved = Vec::new();
    for file in unit_files(repo_root) {
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        if memchr::memmem::find(&bytes, b"include").is_none() {
            continue;
        }
        let display = display_path(&file, cwd);
        let dir = super::parent_dir(&display);
        // The unit's backend is the `remote_state` Terragrunt applies to it:
        // its own, or that of the last merged include that has one.
        match evaluator.remote_state_owner(&file) {
            Ok(Some(owner)) => units.push(Unit {
                dir: dir.clone(),
                file: display.clone(),
                includes: display_path(&owner.file, cwd),
                own_remote_state: owner.include.is_none(),
                include: owner.include,
            }),
            Ok(None) => {}
            Err(reason) => unresolved.push(UnresolvedUnit {
                dir: dir.clone(),
                file: display.clone(),
                reason,
            }),
        }
    }
    units.sort_by(|a, b| (&a.file, &a.includes).cmp(&(&b.file, &b.includes)));
    unresolved.sort_by(|a, b| a.file.cmp(&b.file));
    (units, unresolved)
}

/// Whether a file name is a Terragrunt unit's configuration.
pub fn is_unit_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n == "terragrunt.hcl" || n == "terragrunt.hcl.json")
}

/// The unit files below `root` (absolute paths), walked in parallel.
fn unit_files(root: &Path) -> Vec<PathBuf> {
    let found = Mutex::new(Vec::new());
    WalkBuilder::new(root)
        .hidden(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            !(is_dir && entry.depth() > 0 && SKIPPED_DIRS.iter().any(|d| entry.file_name() == *d))
        })
        .build_parallel()
        .run(|| {
            let found = &found;
            Box::new(move |entry| {
                if let Ok(entry) = entry
                    && entry.file_type().is_some_and(|t| t.is_file())
                    && is_unit_file(entry.path())
                {
                    let path = entry.path();
                    let absolute = if path.is_absolute() {
                        path.to_path_buf()
                    } else {
                        std::env::current_dir().unwrap_or_default().join(path)
                    };
                    found
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(normalize(&absolute));
                }
                WalkState::Continue
            })
        });
    let mut files = found.into_inner().unwrap_or_else(|e| e.into_inner());
    files.sort();
    files
}

/// Drops `.` and resolves `..` components lexically, as Terragrunt's paths are.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
