//! Terragrunt units: every `terragrunt.hcl` (or `terragrunt.hcl.json`) of the
//! repository and the files it includes. Found in the whole repository (the
//! files git lists in a work tree, as for the scan; elsewhere a walk), whatever
//! paths were scanned, because editing a root changes the backend of every unit
//! that includes it.

use super::eval::Evaluator;
use crate::discover::{SKIPPED_DIRS, display_path};
pub use crate::model::units::{Unit, UnresolvedUnit};
use ignore::{WalkBuilder, WalkState};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Every unit below `repo_root`, sorted by unit file, with display paths
/// relative to `cwd`. `listed`: the unit files a git listing of some folders
/// found (canonical folder, absolute files); when one is the repository,
/// those are its units and it is not walked again.
pub fn find(
    repo_root: &Path,
    cwd: &Path,
    evaluator: &Evaluator,
    listed: &[(PathBuf, Vec<PathBuf>)],
) -> (Vec<Unit>, Vec<UnresolvedUnit>) {
    // Each unit is read and evaluated on its own, on every core (the
    // evaluator parses each shared file once, whichever unit asks first).
    let files = unit_files(repo_root, listed);
    let found = crate::parallel::map(&files, |file| {
        let bytes = std::fs::read(file).ok()?;
        memchr::memmem::find(&bytes, b"include")?;
        let display = display_path(file, cwd);
        let dir = super::parent_dir(&display);
        // The unit's backend is the `remote_state` Terragrunt applies to it:
        // its own, or that of the last merged include that has one.
        match evaluator.remote_state_owner(file) {
            Ok(Some(owner)) => Some(Ok(Unit {
                dir,
                file: display,
                includes: display_path(&owner.file, cwd),
                own_remote_state: owner.include.is_none(),
                include: owner.include,
            })),
            Ok(None) => None,
            Err(reason) => Some(Err(UnresolvedUnit {
                dir,
                file: display,
                reason,
            })),
        }
    });
    let (mut units, mut unresolved): (Vec<Unit>, Vec<UnresolvedUnit>) = (Vec::new(), Vec::new());
    for outcome in found.into_iter().flatten() {
        match outcome {
            Ok(unit) => units.push(unit),
            Err(u) => unresolved.push(u),
        }
    }
    units.sort_by(|a, b| (&a.file, &a.includes).cmp(&(&b.file, &b.includes)));
    unresolved.sort_by(|a, b| a.file.cmp(&b.file));
    (units, unresolved)
}

pub use crate::names::is_unit_file;

/// The unit files below `root` (absolute paths): those git lists in a work
/// tree (from the scan's listing when it covered the repository), else
/// walked in parallel.
fn unit_files(root: &Path, listed: &[(PathBuf, Vec<PathBuf>)]) -> Vec<PathBuf> {
    let canonical = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let listed = match listed.iter().find(|(dir, _)| *dir == canonical) {
        Some((_, files)) => Some(files.clone()),
        // In a git work tree git says which files are there, as for the scan.
        None => crate::discover::listed_unit_files(root),
    };
    if let Some(files) = listed {
        let mut files: Vec<PathBuf> = files.iter().map(|f| normalize(&absolute(f))).collect();
        files.sort();
        files.dedup();
        return files;
    }
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
                    found
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(normalize(&absolute(entry.path())));
                }
                WalkState::Continue
            })
        });
    let mut files = found.into_inner().unwrap_or_else(|e| e.into_inner());
    files.sort();
    files
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    }
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
