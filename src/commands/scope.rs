//! Which files a command covers, validated before anything runs: the paths
//! named (or read from standard input for `-`) and the include/exclude globs.
//! Reads no file beyond checking that the paths exist.

use super::Error;
use crate::discover::{Selection, check_root};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Scope {
    pub roots: Vec<PathBuf>,
    pub selection: Selection,
    /// The first path on the command line, as given (`-` too).
    pub first_named: Option<PathBuf>,
}

impl Scope {
    /// A path named on the command line must exist; one read from `stdin` (say a
    /// file `git diff --name-only` lists as deleted) is skipped when it does not.
    pub fn new(paths: &[PathBuf], cwd: &Path, mut stdin: impl Read) -> Result<Scope, Error> {
        let mut roots = Vec::new();
        for p in paths {
            if p.as_os_str() == "-" {
                let mut list = Vec::new();
                stdin.read_to_end(&mut list).map_err(Error::Stdin)?;
                for path in crate::git::paths_from_list(&list)
                    .into_iter()
                    .filter(|path| std::fs::symlink_metadata(cwd.join(path)).is_ok())
                {
                    check_root(cwd, &path).map_err(Error::Root)?;
                    roots.push(path);
                }
            } else {
                check_root(cwd, p).map_err(Error::Root)?;
                roots.push(p.clone());
            }
        }
        if paths.is_empty() {
            roots.push(PathBuf::from("."));
        }
        Ok(Scope {
            roots,
            selection: Selection::default(),
            first_named: paths.first().cloned(),
        })
    }

    /// Only the files the globs and the depth limit let through.
    pub fn select(
        self,
        include: &[String],
        exclude: &[String],
        max_depth: Option<usize>,
    ) -> Result<Scope, Error> {
        let selection = Selection::new(include, exclude, max_depth).map_err(Error::Glob)?;
        Ok(Scope { selection, ..self })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tflock-scope-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("live")).unwrap();
        std::fs::write(dir.join("live/main.tf"), "").unwrap();
        dir
    }

    fn scope(paths: &[&str], cwd: &Path, stdin: &str) -> Result<Scope, Error> {
        let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
        Scope::new(&paths, cwd, stdin.as_bytes())
    }

    #[test]
    fn no_path_means_the_current_directory() {
        let cwd = tree("none");
        assert_eq!(scope(&[], &cwd, "").unwrap().roots, [PathBuf::from(".")]);
    }

    #[test]
    fn a_named_path_must_exist() {
        let cwd = tree("named");
        assert_eq!(
            scope(&["live"], &cwd, "").unwrap().roots,
            [PathBuf::from("live")]
        );
        assert!(matches!(scope(&["gone"], &cwd, ""), Err(Error::Root(_))));
    }

    #[test]
    fn paths_from_stdin_skip_the_deleted_ones() {
        let cwd = tree("stdin");
        let roots = scope(&["-"], &cwd, "live/main.tf\ngone.tf\n")
            .unwrap()
            .roots;
        assert_eq!(roots, [PathBuf::from("live/main.tf")]);
    }

    #[test]
    fn a_bad_glob_is_a_usage_error() {
        let cwd = tree("glob");
        let bad = scope(&[], &cwd, "")
            .unwrap()
            .select(&["a[".to_string()], &[], None);
        assert_eq!(
            bad.unwrap_err().to_string(),
            "invalid --include/--exclude glob"
        );
        let depth = scope(&[], &cwd, "")
            .unwrap()
            .select(&[], &[], Some(2))
            .unwrap();
        assert_eq!(depth.selection.max_depth, Some(2));
    }
}
