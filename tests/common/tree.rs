//! Configuration trees for the end-to-end tests: backend blocks in the shape
//! `terraform fmt` prints, a temporary tree of files, and assertions on it.

use super::aws::Store;
use super::write_files;
use std::path::Path;
use tempfile::TempDir;

/// A `terraform { backend "s3" { ... } }` block; values are HCL literals, aligned
/// as `terraform fmt` does.
pub fn backend_hcl(attrs: &[(&str, String)]) -> String {
    let width = attrs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut text = String::from("terraform {\n  backend \"s3\" {\n");
    for (k, v) in attrs {
        text.push_str(&format!("    {k:<width$} = {v}\n"));
    }
    text.push_str("  }\n}\n");
    text
}

/// [`backend_hcl`] with string values only.
pub fn backend_tf(attrs: &[(&str, &str)]) -> String {
    let quoted: Vec<(&str, String)> = attrs.iter().map(|(k, v)| (*k, q(v))).collect();
    backend_hcl(&quoted)
}

/// `s` as an HCL string literal (the tests' names need no escaping).
pub fn q(s: &str) -> String {
    format!("\"{s}\"")
}

/// The usual backend: bucket, key, region and lock table of `store`.
pub fn app_tf(store: &Store, key: &str) -> String {
    backend_tf(&[
        ("bucket", &store.bucket),
        ("key", key),
        ("region", store.region),
        ("dynamodb_table", &store.table),
    ])
}

/// A temporary tree holding these `(relative path, text)` files.
pub fn tree(files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new().unwrap();
    let files: Vec<(&str, &[u8])> = files.iter().map(|(p, t)| (*p, t.as_bytes())).collect();
    write_files(dir.path(), &files);
    dir
}

pub fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The file now locks with an S3 lockfile only (`use_lockfile`, possibly aligned,
/// set to `true`; no `dynamodb_table` left).
pub fn assert_migrated(dir: &Path, rel: &str) {
    let text = read(dir, rel);
    let lockfile_on = text.lines().any(|line| {
        let mut parts = line.split('=').map(str::trim);
        parts.next() == Some("use_lockfile") && parts.next().is_some_and(|v| v.starts_with("true"))
    });
    assert!(
        lockfile_on && !text.contains("dynamodb_table"),
        "{rel} was not migrated:\n{text}"
    );
}

/// The permission bits of `path`.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}
