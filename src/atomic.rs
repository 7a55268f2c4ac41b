//! Atomic file writes: temp file in the same folder, fsync, rename, and a batch
//! that puts back what it replaced when a later write fails. Decides nothing about
//! what to write (apply and rollback do); never parses or plans.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// One file to replace, with what it held when it was read.
#[derive(Debug, Clone)]
pub struct Write {
    pub path: String,
    pub fs_path: PathBuf,
    /// The bytes it held before, to put back if a later write in the batch fails.
    pub previous: Option<Vec<u8>>,
    pub new_bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{path}: cannot write: {error}")]
    Io {
        path: String,
        // Not `source`: the message already says it, and `{:#}` would repeat it.
        error: std::io::Error,
    },
    #[error(
        "{path}: cannot write: {error}; files already written were restored: {}",
        restored.join(", ")
    )]
    RolledBack {
        path: String,
        // Not `source`: the message already says it, and `{:#}` would repeat it.
        error: std::io::Error,
        restored: Vec<String>,
    },
}

/// A path from a plan or rollback file, checked to stay below the directory it
/// is relative to: no absolute paths, no `..`, nothing but plain names.
pub fn safe_relative(path: &str) -> Result<PathBuf, String> {
    use std::path::Component;
    let p = Path::new(path);
    if path.is_empty()
        || p.components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "{path}: refused: paths in plan and rollback files must stay below their root \
             (no absolute paths, no `..`)"
        ));
    }
    Ok(p.to_path_buf())
}

/// Refuses to write through a symbolic link, or into a folder that resolves
/// outside `root` (a symlinked parent): tflock only replaces regular files it read.
pub fn check_write_target(path: &Path, root: &Path) -> std::io::Result<()> {
    let refuse = |why: String| std::io::Error::new(std::io::ErrorKind::PermissionDenied, why);
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.file_type().is_file() {
        return Err(refuse(
            "not a regular file (a symbolic link or folder); not written".into(),
        ));
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let (Ok(parent), Ok(root)) = (parent.canonicalize(), root.canonicalize()) else {
        return Ok(());
    };
    if !parent.starts_with(&root) {
        return Err(refuse(format!(
            "its folder resolves to {}, outside {}; not written",
            parent.display(),
            root.display()
        )));
    }
    Ok(())
}

/// Replaces each file atomically; on the first failure, restores those already
/// replaced (best effort, reported) and returns the error.
pub fn write_all(writes: &[Write]) -> Result<(), WriteError> {
    for (i, w) in writes.iter().enumerate() {
        if let Err(error) = write_atomic(&w.fs_path, &w.new_bytes) {
            let mut restored = Vec::new();
            for done in &writes[..i] {
                if let Some(previous) = &done.previous
                    && write_atomic(&done.fs_path, previous).is_ok()
                {
                    restored.push(done.path.clone());
                }
            }
            if i == 0 {
                return Err(WriteError::Io {
                    path: w.path.clone(),
                    error,
                });
            }
            return Err(WriteError::RolledBack {
                path: w.path.clone(),
                error,
                restored,
            });
        }
    }
    Ok(())
}

/// Writes through a temp file in the same directory, fsyncs it, keeps the
/// target's permissions, renames it over the target and fsyncs the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let permissions = std::fs::metadata(path).ok().map(|m| m.permissions());
    let mut tmp = tempfile::Builder::new()
        .prefix(".tflock-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    if let Some(permissions) = permissions {
        tmp.as_file().set_permissions(permissions)?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir);
    Ok(())
}

/// Creates (or replaces) a file readable by its owner only: rollback files hold
/// the original bytes of backend blocks.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_private_impl(path, bytes, true)
}

/// Like `write_private`, but fails if the file exists: a rollback file is the
/// only way back, so an older one is never overwritten.
pub fn write_private_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_private_impl(path, bytes, false)
}

fn write_private_impl(path: &Path, bytes: &[u8], replace: bool) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".tflock-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    if replace {
        tmp.persist(path).map_err(|e| e.error)?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| e.error)?;
    }
    sync_dir(dir);
    Ok(())
}

fn sync_dir(dir: &Path) {
    // Makes the rename durable; not every filesystem allows it, and the write
    // itself already succeeded, so a failure here is not an error.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
