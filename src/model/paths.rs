//! Path helpers for display paths (relative to the cwd, `/`-separated). Pure
//! string and path work: never touches the file system.

use std::path::Path;

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
