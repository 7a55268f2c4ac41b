//! Lexical path helpers with Go's `filepath` semantics (Terragrunt computes
//! every path function with them): no file system access, no symlink resolution.

use std::path::{Component, Path, PathBuf};

/// `filepath.Clean`: removes `.`, resolves `..` against earlier parts.
pub(crate) fn clean(path: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => out.push(part),
            },
            other => out.push(other),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

/// `filepath.Join(base, p)` for a relative `p`, or `p` itself when absolute; cleaned.
pub(crate) fn join(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        clean(p)
    } else {
        clean(&base.join(p))
    }
}

/// The directory of a file path (`filepath.Dir` of an absolute, clean path).
pub(crate) fn dir_of(path: &Path) -> PathBuf {
    path.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| path.to_path_buf())
}

/// `filepath.Rel(from, to)` for two absolute, clean directories.
pub(crate) fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = Vec::new();
    for _ in common..from.len() {
        parts.push("..".into());
    }
    for part in &to[common..] {
        parts.push(part.as_os_str().to_string_lossy().into_owned());
    }
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// Go's `filepath.Base` (Terraform's `basename`).
pub(crate) fn go_base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    match trimmed.rfind('/') {
        Some(i) => trimmed[i + 1..].to_string(),
        None => trimmed.to_string(),
    }
}

/// Go's `filepath.Dir` (Terraform's `dirname`).
pub(crate) fn go_dir(p: &str) -> String {
    let head = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    let cleaned = clean(Path::new(head));
    let s = cleaned.to_string_lossy().into_owned();
    if head.is_empty() { ".".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_and_relative_follow_go() {
        assert_eq!(clean(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(clean(Path::new("/../a")), PathBuf::from("/a"));
        assert_eq!(
            relative(Path::new("/r/live"), Path::new("/r/live/prod/vpc")),
            "prod/vpc"
        );
        assert_eq!(
            relative(Path::new("/r/live/prod"), Path::new("/r/live")),
            ".."
        );
        assert_eq!(relative(Path::new("/r/a/b"), Path::new("/r/c")), "../../c");
        assert_eq!(relative(Path::new("/r"), Path::new("/r")), ".");
    }

    #[test]
    fn base_and_dir_follow_go() {
        for (input, base, dir) in [
            ("a/b/c.hcl", "c.hcl", "a/b"),
            ("/a/b/", "b", "/a/b"),
            ("c.hcl", "c.hcl", "."),
            ("", ".", "."),
            ("/", "/", "/"),
        ] {
            assert_eq!(go_base(input), base, "basename({input:?})");
            assert_eq!(go_dir(input), dir, "dirname({input:?})");
        }
    }
}
