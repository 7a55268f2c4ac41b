//! One `apply` or `rollback` at a time per repository: an exclusive advisory
//! lock held for the whole run.
//!
//! The lock is the operating system's file lock (`flock` / `LockFileEx`, via
//! `std::fs::File::try_lock`, stable since Rust 1.89: the same calls fs4 and
//! fd-lock wrap, without a dependency). The kernel drops it when the process
//! ends, however it ends, so a crash never leaves the repository locked.
//!
//! Where it lives: inside the git directory in a git work tree (git never shows
//! it), else a dotfile at the root of the scanned tree. The file holds who took
//! the lock, so a second run can name the holder; the holder deletes it before
//! it unlocks, and a run that locked a file someone deleted meanwhile locks the
//! new one instead, so two runs can never hold two different files.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock file's name, in the git directory or at the tree's root.
pub const GIT_LOCK_NAME: &str = "tflock-run.lock";
pub const TREE_LOCK_NAME: &str = ".tflock-run.lock";

/// How long a second run waits for the first before it refuses.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(3);

const POLL: Duration = Duration::from_millis(50);

/// Who holds the lock, as written into the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub command: String,
    /// RFC 3339, UTC.
    pub since: String,
}

impl Holder {
    fn me(command: &str) -> Holder {
        Holder {
            pid: std::process::id(),
            host: host_name(),
            command: command.to_string(),
            since: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} on {}, `{}`, since {}",
            self.pid, self.host, self.command, self.since
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunLockError {
    #[error(
        "another tflock run is changing this repository ({}); tflock waited {}s and gave up, \
         nothing was written. Wait for it to finish and run again (lock file: {})",
        .holder.as_ref().map_or("holder unknown".to_string(), |h| h.to_string()),
        .waited.as_secs(),
        .path.display()
    )]
    Busy {
        path: PathBuf,
        holder: Option<Holder>,
        waited: Duration,
    },
    // The cause is in the message, not a `source`: printed once, not twice.
    #[error(
        "{}: cannot take the run lock: {cause}; nothing was written. The run lock must be \
         creatable by whoever runs tflock (check the folder's permissions)",
        .path.display()
    )]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// The run lock, held until dropped.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
}

/// Where the run lock of the tree holding `anchor` (a file or folder) lives.
pub fn lock_path(anchor: &Path) -> PathBuf {
    if let Some(git_dir) = crate::git::git_dir(anchor) {
        return git_dir.join(GIT_LOCK_NAME);
    }
    let dir = if anchor.is_dir() {
        anchor
    } else {
        anchor
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    };
    dir.join(TREE_LOCK_NAME)
}

impl RunLock {
    /// Takes the lock at `path`, waiting up to `wait` for a run that holds it.
    pub fn acquire(path: &Path, command: &str, wait: Duration) -> Result<RunLock, RunLockError> {
        let io = |cause| RunLockError::Io {
            path: path.to_path_buf(),
            cause,
        };
        let started = Instant::now();
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(io)?;
            match file.try_lock() {
                Ok(()) => {
                    // The holder before us may have deleted the file we locked.
                    if !same_file(&file, path) {
                        continue;
                    }
                    let mut lock = RunLock {
                        file,
                        path: path.to_path_buf(),
                    };
                    lock.record(&Holder::me(command)).map_err(io)?;
                    return Ok(lock);
                }
                Err(TryLockError::WouldBlock) => {
                    if started.elapsed() >= wait {
                        return Err(RunLockError::Busy {
                            path: path.to_path_buf(),
                            holder: read_holder(path),
                            waited: wait,
                        });
                    }
                    std::thread::sleep(POLL);
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn record(&mut self, holder: &Holder) -> std::io::Result<()> {
        let text = serde_json::to_string(holder).map_err(std::io::Error::other)?;
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.file.write_all(text.as_bytes())?;
        self.file.write_all(b"\n")?;
        self.file.sync_data()
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Deleted while still locked, so no other run can lock this file and
        // then find it gone; the unlock itself happens when the file closes.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Whether `path` still names the file that is open as `file`.
fn same_file(file: &File, path: &Path) -> bool {
    let (Ok(open), Ok(named)) = (file.metadata(), std::fs::metadata(path)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        open.dev() == named.dev() && open.ino() == named.ino()
    }
    #[cfg(not(unix))]
    {
        // Windows refuses to delete an open file, so it cannot have changed.
        let _ = (open, named);
        true
    }
}

/// What the lock file says about its holder (None if unreadable or empty).
pub fn read_holder(path: &Path) -> Option<Holder> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    serde_json::from_str(text.trim()).ok()
}

fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "unknown host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_in_one_process_is_refused_and_names_the_holder() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join(TREE_LOCK_NAME);
        let first = RunLock::acquire(&path, "tflock apply", Duration::ZERO).unwrap();
        let err = RunLock::acquire(&path, "tflock rollback", Duration::from_millis(120))
            .expect_err("the first lock is held");
        let RunLockError::Busy { holder, .. } = &err else {
            panic!("unexpected error {err}");
        };
        let holder = holder.clone().expect("the holder is recorded");
        assert_eq!(holder.pid, std::process::id());
        assert_eq!(holder.command, "tflock apply");
        assert!(err.to_string().contains("`tflock apply`"), "{err}");
        drop(first);
        assert!(!path.exists(), "the holder deletes its lock file");
        let again = RunLock::acquire(&path, "tflock rollback", Duration::ZERO).unwrap();
        assert_eq!(
            read_holder(again.path()).unwrap().command,
            "tflock rollback"
        );
    }

    #[test]
    fn the_lock_lives_in_the_git_dir_inside_a_work_tree_else_at_its_root() {
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::create_dir_all(dir.path().join("repo/.git")).unwrap();
        std::fs::create_dir_all(dir.path().join("repo/live")).unwrap();
        std::fs::create_dir_all(dir.path().join("plain")).unwrap();
        let in_git = lock_path(&dir.path().join("repo/live"));
        assert_eq!(
            in_git,
            dir.path()
                .join("repo/.git")
                .canonicalize()
                .unwrap()
                .join(GIT_LOCK_NAME)
        );
        assert_eq!(
            lock_path(&dir.path().join("plain")),
            dir.path().join("plain").join(TREE_LOCK_NAME)
        );
    }
}
