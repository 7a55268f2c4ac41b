//! Apply stage: the only place that writes files. Every write goes through a temp
//! file in the same directory, fsync and rename, so a crash leaves each file either
//! wholly old or wholly new; a failed batch puts back what it already replaced.

use crate::rollback::RollbackPlan;
use crate::scan::FilePlan;
use crate::source::sha256_hex;
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

/// Files no one may write (no write bit set): a user who made a file read-only
/// meant something by it, so apply names them and writes only with --force.
pub fn read_only(files: &[&FilePlan]) -> Vec<String> {
    files
        .iter()
        .filter(|f| std::fs::metadata(&f.fs_path).is_ok_and(|m| m.permissions().readonly()))
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
    // A failure before any file changed leaves no rollback file behind: it
    // would only make a retry with the same --rollback-file refuse.
    let discard_rollback = || {
        let _ = std::fs::remove_file(rollback_path);
        let _ = std::fs::remove_file(&markdown_path);
    };
    let markdown = rollback.to_markdown(&rollback_path.display().to_string());
    if let Err(e) = write_private(&markdown_path, markdown.as_bytes()) {
        discard_rollback();
        return Err(rollback_error(&markdown_path)(e));
    }
    let writes: Vec<Write> = files
        .iter()
        .map(|f| Write {
            path: f.path.clone(),
            fs_path: f.fs_path.clone(),
            previous: Some(f.original.clone().into_bytes()),
            new_bytes: f.new_text.clone().into_bytes(),
        })
        .collect();
    match write_all(&writes) {
        Err(e) if e.wrote_nothing() => {
            discard_rollback();
            Err(e.into())
        }
        result => Ok(result?),
    }
}

impl WriteError {
    /// Whether no file was touched: the first write failed. (After a rolled-back
    /// batch the rollback file stays: a restore may not have taken.)
    fn wrote_nothing(&self) -> bool {
        match self {
            WriteError::Io { .. } => true,
            WriteError::RolledBack { .. } => false,
        }
    }
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

/// Where the Markdown twin of a rollback file goes: `<rollback file>.md`.
pub fn markdown_path(rollback_path: &Path) -> PathBuf {
    let mut name = rollback_path.as_os_str().to_owned();
    name.push(".md");
    PathBuf::from(name)
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
