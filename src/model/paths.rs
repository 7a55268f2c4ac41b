//! Path helpers for display paths (relative to the cwd, `/`-separated). Pure
//! string and path work: never touches the file system.

use std::path::{Path, PathBuf};

/// `path` relative to `cwd` as plain folder and file names (`.` dropped), or
/// None when it climbs out (`..`) or is absolute elsewhere.
pub fn plainly_below(path: &Path, cwd: &Path) -> Option<PathBuf> {
    let relative = if path.is_absolute() {
        path.strip_prefix(cwd).ok()?
    } else {
        path
    };
    let mut plain = PathBuf::with_capacity(relative.as_os_str().len());
    for component in relative.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::Normal(name) => plain.push(name),
            _ => return None,
        }
    }
    Some(plain)
}

/// A path relative to `cwd` when it lies below it, `/`-separated, without `./`.
pub fn display_path(path: &Path, cwd: &Path) -> String {
    let relative = if path.is_absolute() {
        path.strip_prefix(cwd).unwrap_or(path)
    } else {
        path
    };
    let mut parts = Vec::new();
    for component in relative.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::RootDir => parts.push(String::new()),
            other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// The directory part of a display path ("." for a bare file name).
pub fn parent_dir(path: &str) -> String {
    match Path::new(path)
        .parent()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
    {
        Some(p) if !p.is_empty() => p,
        _ => ".".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::plainly_below;
    use std::path::{Path, PathBuf};

    #[test]
    fn plainly_below_keeps_plain_names_and_refuses_what_leaves_the_folder() {
        let cwd = Path::new("/repo");
        let plain = |p: &str| plainly_below(Path::new(p), cwd);
        assert_eq!(
            plain("./live/a/main.tf"),
            Some(PathBuf::from("live/a/main.tf"))
        );
        assert_eq!(
            plain("/repo/live/main.tf"),
            Some(PathBuf::from("live/main.tf"))
        );
        assert_eq!(plain("."), Some(PathBuf::new()));
        assert_eq!(plain("live/../main.tf"), None);
        assert_eq!(plain("/elsewhere/main.tf"), None);
    }
}
