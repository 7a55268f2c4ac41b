//! The Terraform / OpenTofu versions CI runs: GitHub Actions setup steps,
//! Atlantis `terraform_version`, container images. CI runs every module it
//! plans with that version, so an old one blocks like an old `.terraform-version`.
//!
//! CI files live at fixed places in the repository root (the folder with
//! `.git` at or above the current directory) and, when tflock runs below it,
//! in the current directory too (a project kept inside a larger repository).

use super::version::{CiPin, parse_ci_pins};
use std::path::{Path, PathBuf};

/// Root-relative CI files that can pin a version.
const CI_FILES: [&str; 9] = [
    ".gitlab-ci.yml",
    "atlantis.yaml",
    "atlantis.yml",
    "bitbucket-pipelines.yml",
    ".circleci/config.yml",
    "azure-pipelines.yml",
    ".drone.yml",
    ".woodpecker.yml",
    "Jenkinsfile",
];

/// Every CI pin in the repository around `cwd`: (display path, the pin).
pub fn find(cwd: &Path) -> Vec<(String, CiPin)> {
    let root = repo_root(cwd);
    let mut files: Vec<PathBuf> = Vec::new();
    for base in [cwd.to_path_buf(), root.clone()] {
        files.extend(CI_FILES.iter().map(|f| base.join(f)));
        if let Ok(entries) = std::fs::read_dir(base.join(".github/workflows")) {
            let mut workflows: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
                .collect();
            workflows.sort();
            files.extend(workflows);
        }
        if root == cwd {
            break;
        }
    }
    let mut out = Vec::new();
    for file in files {
        // CI files are small; anything larger is not one worth reading here.
        let small = std::fs::metadata(&file).is_ok_and(|m| m.is_file() && m.len() < 1 << 20);
        let Some(text) = small.then(|| std::fs::read_to_string(&file).ok()).flatten() else {
            continue;
        };
        let shown = crate::discover::display_path(&file, cwd);
        out.extend(parse_ci_pins(&text).into_iter().map(|p| (shown.clone(), p)));
    }
    out
}

/// The folder holding `.git` at or above `cwd`, else `cwd`.
fn repo_root(cwd: &Path) -> PathBuf {
    let mut dir = cwd.to_path_buf();
    loop {
        if dir.join(".git").exists() {
            return dir;
        }
        if !dir.pop() {
            return cwd.to_path_buf();
        }
    }
}

/// Whether an Atlantis project `dir` (root-relative) is the module folder
/// `module` (cwd-relative, `.` for the top).
pub fn applies_to(pin: &CiPin, module: &str) -> bool {
    match &pin.dir {
        None => true,
        Some(dir) => {
            let dir = dir.trim_start_matches("./").trim_end_matches('/');
            let dir = if dir.is_empty() { "." } else { dir };
            dir == module
        }
    }
}
