//! The Terraform / OpenTofu versions CI runs: GitHub Actions setup steps,
//! Atlantis `terraform_version`, container images. CI runs every module it
//! plans with that version, so an old one blocks like an old `.terraform-version`.
//!
//! CI files live at fixed places in the repository root (the folder with
//! `.git` at or above the current directory) and, when tflock runs below it,
//! in the current directory too (a project kept inside a larger repository).
//! It reads those files and says what they pin; it never judges a pin (the
//! caller does, with `version`) and never writes.

use super::version::{Pin, Tool, ToolPin};
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

/// A version a CI file runs, and which modules it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiPin {
    pub pin: ToolPin,
    /// An Atlantis project's `dir` (as written); None: every module.
    pub dir: Option<String>,
    /// How it was written, for the report (`hashicorp/setup-terraform`, ...).
    pub source: &'static str,
}

/// The Terraform / OpenTofu versions a CI file pins: GitHub Actions
/// `hashicorp/setup-terraform` `terraform_version` and `opentofu/setup-opentofu`
/// `tofu_version`, Atlantis `terraform_version` (top level and per project,
/// with the project's `dir`), and `hashicorp/terraform:X` /
/// `ghcr.io/opentofu/opentofu:X` container images anywhere in the file.
fn parse_ci_pins(text: &str) -> Vec<CiPin> {
    let mut pins = Vec::new();
    let setup_terraform = text.contains("hashicorp/setup-terraform");
    let setup_opentofu = text.contains("opentofu/setup-opentofu");
    let atlantis = text
        .lines()
        .any(|l| l.trim_start().starts_with("projects:"));
    // The Atlantis project whose item we are in: (its indent, its dir).
    let mut project: Option<(usize, Option<String>)> = None;
    for (i, line) in text.lines().enumerate() {
        let content = line.split(" #").next().unwrap_or(line);
        let trimmed = content.trim_start();
        if trimmed.starts_with('#') {
            continue;
        }
        let indent = content.len() - trimmed.len();
        let item = trimmed.strip_prefix("- ").map(str::trim_start);
        if atlantis {
            if let Some((at, _)) = &project
                && indent <= *at
                && !trimmed.is_empty()
            {
                project = None;
            }
            if let Some(rest) = item.filter(|r| r.starts_with("dir:") || r.starts_with("name:")) {
                project = Some((indent, yaml_value(rest, "dir")));
            } else if let (Some((_, dir)), Some(value)) = (&mut project, yaml_value(trimmed, "dir"))
            {
                *dir = Some(value);
            }
        }
        let key_value = |key: &str| yaml_value(item.unwrap_or(trimmed), key);
        let found = if let Some(v) = key_value("terraform_version") {
            if setup_terraform {
                Some((Tool::Terraform, v, "hashicorp/setup-terraform", None))
            } else if atlantis {
                let dir = project.as_ref().and_then(|(_, d)| d.clone());
                Some((Tool::Terraform, v, "atlantis terraform_version", dir))
            } else {
                None
            }
        } else {
            key_value("tofu_version")
                .filter(|_| setup_opentofu)
                .map(|v| (Tool::OpenTofu, v, "opentofu/setup-opentofu", None))
        };
        if let Some((tool, raw, source, dir)) = found {
            pins.push(CiPin {
                pin: ToolPin {
                    tool,
                    pin: Pin::from_token(raw.trim_start_matches('v'), false),
                    line: i + 1,
                    raw,
                },
                dir,
                source,
            });
        }
        for (image, tool) in [
            ("hashicorp/terraform:", Tool::Terraform),
            ("ghcr.io/opentofu/opentofu:", Tool::OpenTofu),
        ] {
            for (at, _) in content.match_indices(image) {
                let tag: String = content[at + image.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                    .collect();
                if tag.is_empty() {
                    continue;
                }
                pins.push(CiPin {
                    pin: ToolPin {
                        tool,
                        pin: Pin::from_token(&tag, false),
                        line: i + 1,
                        raw: format!("{image}{tag}"),
                    },
                    dir: None,
                    source: "container image",
                });
            }
        }
    }
    pins
}

/// `key: value` (unquoted) when the line sets `key`.
fn yaml_value(line: &str, key: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix(key)?.strip_prefix(':')?;
    let value = rest.trim().trim_matches(['"', '\'']).trim();
    (!value.is_empty()).then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::version::{PinVerdict, Version};

    #[test]
    fn ci_pins() {
        let gha = "jobs:\n  plan:\n    container: hashicorp/terraform:1.9.8\n    steps:\n      - uses: hashicorp/setup-terraform@v3\n        with:\n          terraform_version: \"1.5.7\"\n      - uses: opentofu/setup-opentofu@v1\n        with:\n          tofu_version: 1.10.2\n";
        let pins = parse_ci_pins(gha);
        let got: Vec<(usize, &str, &str)> = pins
            .iter()
            .map(|p| (p.pin.line, p.pin.raw.as_str(), p.source))
            .collect();
        assert_eq!(
            got,
            [
                (3, "hashicorp/terraform:1.9.8", "container image"),
                (7, "1.5.7", "hashicorp/setup-terraform"),
                (10, "1.10.2", "opentofu/setup-opentofu"),
            ]
        );
        let atlantis = "version: 3\nprojects:\n- name: net\n  dir: envs/net\n  terraform_version: v1.5.7\n- dir: envs/app\n  terraform_version: v1.11.0\n";
        let pins = parse_ci_pins(atlantis);
        assert_eq!(pins.len(), 2);
        assert_eq!(pins[0].dir.as_deref(), Some("envs/net"));
        assert_eq!(
            pins[0].pin.pin.verdict(&Version::new(1, 10, 0)),
            PinVerdict::BelowFloor
        );
        assert_eq!(pins[1].dir.as_deref(), Some("envs/app"));
        // A terraform_version key in an unrelated file is not a pin.
        assert!(parse_ci_pins("terraform_version: 1.0.0\n").is_empty());
    }
}
