//! The git facts tflock needs: where a work tree's git directory is, and which
//! files git tracks.
//!
//! The listed files come from `git ls-files -z` rather than from reading the
//! index with a library (gix): git itself is the authority on its index (split
//! and sparse indexes, index versions, `core.quotePath`), whoever has a work
//! tree has git, and it costs no dependency and no build time.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The git directory of the work tree that holds `start` (a file or folder):
/// `.git` when it is a folder, or the folder a `.git` file points to (`gitdir:
/// ...`, as in linked worktrees and submodules). None outside a git work tree.
pub fn git_dir(start: &Path) -> Option<PathBuf> {
    let start = start.canonicalize().ok()?;
    for dir in start.ancestors() {
        let dot_git = dir.join(".git");
        let Ok(meta) = std::fs::metadata(&dot_git) else {
            continue;
        };
        if meta.is_dir() {
            return Some(dot_git);
        }
        let text = std::fs::read_to_string(&dot_git).ok()?;
        let target = text.lines().next()?.strip_prefix("gitdir:")?.trim();
        return Some(dir.join(target));
    }
    None
}

/// Why the tracked files could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum LsFilesError {
    #[error("cannot run `git ls-files`: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("`git ls-files` failed: {0}")]
    Failed(String),
}

/// What git lists below a folder: every tracked file, `.gitignore` or not, and
/// every untracked file `.gitignore` does not match (`git ls-files -z --cached`
/// and `--others --exclude-standard`; NUL-separated, so no name is quoted). A
/// submodule (or a repository inside an untracked folder) is one entry, a
/// folder, which the caller lists with its own git.
///
/// It comes in two parts: the tracked files at once
/// (git reads them from its index: milliseconds), the untracked ones that
/// `.gitignore` does not match when they come (git must read every folder
/// for those, a tenth of a second on a large tree). The second part runs
/// beside the caller's work on the first.
pub struct Listing {
    /// Tracked files, relative to the folder, once each, in git's order.
    pub tracked: Vec<PathBuf>,
    untracked: std::thread::JoinHandle<Result<Vec<PathBuf>, LsFilesError>>,
}

impl Listing {
    /// Starts both listings of `dir` and waits for the tracked one.
    pub fn start(dir: &Path) -> Result<Listing, LsFilesError> {
        let others = {
            let dir = dir.to_path_buf();
            std::thread::spawn(move || ls_files(&dir, &["--others", "--exclude-standard"]))
        };
        let mut tracked = ls_files(dir, &["--cached"])?;
        // A file with a merge conflict is listed once per stage, side by side.
        tracked.dedup();
        Ok(Listing {
            tracked,
            untracked: others,
        })
    }

    /// The untracked files `.gitignore` does not match, relative to the folder.
    pub fn untracked(self) -> Result<Vec<PathBuf>, LsFilesError> {
        self.untracked
            .join()
            .unwrap_or_else(|_| Err(LsFilesError::Failed("the listing thread panicked".into())))
    }
}

/// `git ls-files -z` with `args`, run in `dir`.
fn ls_files(dir: &Path, args: &[&str]) -> Result<Vec<PathBuf>, LsFilesError> {
    let out = Command::new("git")
        .arg("ls-files")
        .arg("-z")
        .args(args)
        .current_dir(dir)
        // Inside a git hook these point at the hook's repository and index;
        // git must find the repository from `dir`, as `git_dir` does.
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_PREFIX")
        .output()?;
    if !out.status.success() {
        return Err(LsFilesError::Failed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(split_nul(&out.stdout))
}

fn split_nul(bytes: &[u8]) -> Vec<PathBuf> {
    bytes
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(path_from_bytes)
        .collect()
}

#[cfg(unix)]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

/// Undoes git's C-style quoting of a path (`core.quotePath`, on by default):
/// `"caf\303\251/main.tf"` is `café/main.tf`. A line that is not quoted is
/// returned as it is; a quoted line with a broken escape is None.
pub fn unquote_path(line: &str) -> Option<Vec<u8>> {
    let Some(inner) = line
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return Some(line.as_bytes().to_vec());
    };
    let bytes = inner.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let escape = *bytes.get(i + 1)?;
        i += 2;
        let byte = match escape {
            b'a' => 0x07,
            b'b' => 0x08,
            b't' => b'\t',
            b'n' => b'\n',
            b'v' => 0x0b,
            b'f' => 0x0c,
            b'r' => b'\r',
            b'"' => b'"',
            b'\\' => b'\\',
            b'0'..=b'3' => {
                let digits = bytes.get(i - 1..i + 2)?;
                i += 2;
                digits.iter().try_fold(0u8, |acc, &d| {
                    (b'0'..=b'7')
                        .contains(&d)
                        .then(|| acc.wrapping_mul(8) + (d - b'0'))
                })?
            }
            _ => return None,
        };
        out.push(byte);
    }
    Some(out)
}

/// The paths in a list read from standard input: one per line as `git
/// ls-files`, `git diff --name-only` or `find` print them (git's C-quoted
/// names decoded, CRLF endings and surrounding blanks dropped), or
/// NUL-separated when the list holds a NUL (`git ls-files -z`, `find -print0`).
/// A name need not be UTF-8.
pub fn paths_from_list(bytes: &[u8]) -> Vec<PathBuf> {
    if bytes.contains(&0) {
        return split_nul(bytes);
    }
    bytes
        .split(|&b| b == b'\n')
        .map(|line| line.trim_ascii())
        .filter(|line| !line.is_empty())
        .map(
            |line| match std::str::from_utf8(line).ok().and_then(unquote_path) {
                Some(unquoted) => path_from_bytes(&unquoted),
                None => path_from_bytes(line),
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquotes_octal_escapes_as_git_writes_them() {
        assert_eq!(
            unquote_path(r#""caf\303\251/main.tf""#).unwrap(),
            "café/main.tf".as_bytes()
        );
        assert_eq!(
            unquote_path(r#""a\"b\\c\td.tf""#).unwrap(),
            b"a\"b\\c\td.tf".to_vec()
        );
    }

    #[test]
    fn leaves_unquoted_lines_alone_and_refuses_broken_escapes() {
        assert_eq!(unquote_path("plain/main.tf").unwrap(), b"plain/main.tf");
        // An unquoted name may hold a backslash or a quote in its middle.
        assert_eq!(unquote_path(r"a\303.tf").unwrap(), br"a\303.tf".to_vec());
        assert_eq!(unquote_path(r#""bad\q""#), None);
        assert_eq!(unquote_path(r#""short\30""#), None);
        assert_eq!(unquote_path(r#""trailing\""#), None);
    }

    #[test]
    fn reads_path_lists_as_git_prints_them() {
        let list = b"plain.tf\r\n\"caf\\303\\251/main.tf\"\n\n  spaced/x.tf  \nraw\xff.tf\n";
        assert_eq!(
            paths_from_list(list),
            vec![
                PathBuf::from("plain.tf"),
                PathBuf::from("café/main.tf"),
                PathBuf::from("spaced/x.tf"),
                path_from_bytes(b"raw\xff.tf"),
            ]
        );
        assert_eq!(
            paths_from_list(b"a b.tf\0caf\xc3\xa9.tf\0"),
            vec![PathBuf::from("a b.tf"), PathBuf::from("café.tf")]
        );
    }

    #[test]
    fn splits_nul_separated_listings() {
        assert_eq!(
            split_nul(b"a.tf\0caf\xc3\xa9/b.tf\0"),
            vec![PathBuf::from("a.tf"), PathBuf::from("café/b.tf")]
        );
    }

    #[test]
    fn finds_a_linked_worktrees_git_dir_through_its_dot_git_file() {
        let dir = tempfile::TempDir::new().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join("sub")).unwrap();
        std::fs::create_dir_all(dir.path().join("repo.git/worktrees/tree")).unwrap();
        std::fs::write(
            tree.join(".git"),
            format!(
                "gitdir: {}\n",
                dir.path().join("repo.git/worktrees/tree").display()
            ),
        )
        .unwrap();
        let found = git_dir(&tree.join("sub")).unwrap();
        assert_eq!(
            found.canonicalize().unwrap(),
            dir.path()
                .join("repo.git/worktrees/tree")
                .canonicalize()
                .unwrap()
        );
    }
}
