//! Which file names tflock reads beyond backend files: CI files and partial
//! backend configurations, by name and folder alone. Opens no file.

use std::path::Path;

/// `backend.hcl`, `backend.conf`, `*.backend.hcl`, `*.backend.conf`.
pub fn is_partial_config_name(name: &str) -> bool {
    matches!(name, "backend.hcl" | "backend.conf")
        || name.ends_with(".backend.hcl")
        || name.ends_with(".backend.conf")
}

/// Whether `path` names a file that can pass arguments to `terraform init`:
///
/// - shell scripts `*.sh`, `*.bash`, `*.zsh`, `*.ksh`, PowerShell `*.ps1`, and
///   files without any extension directly in a `scripts/` or `bin/` folder
///   (not dot-files; the caller should skip files that are not UTF-8 text);
/// - `Makefile`, `makefile`, `GNUmakefile`, `*.mk`;
/// - `.github/workflows/*.yml|yaml` and `action.yml|yaml` anywhere under `.github/`
///   (composite actions);
/// - `.gitlab-ci.yml`, `*.gitlab-ci.yml` (and `.yaml`), any YAML under `.gitlab/`;
/// - `atlantis.yaml`, `atlantis.yml`;
/// - `Jenkinsfile`, `*.jenkinsfile`, `Jenkinsfile.*` (any case);
/// - `Taskfile.yml|yaml`, `taskfile.yml|yaml`, `Taskfile.dist.yml|yaml`;
/// - `justfile` / `.justfile` (any case), `*.just`;
/// - `buildspec*.yml|yaml`, `azure-pipelines*.yml|yaml` and YAML under
///   `.azure-pipelines/`, `bitbucket-pipelines.yml`, `.circleci/config.yml|yaml`;
/// - also `.drone.yml`, `.travis.yml`, `.woodpecker.yml` and YAML under
///   `.woodpecker/`, YAML under `.buildkite/`, `cloudbuild.yml|yaml`.
pub fn is_ci_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let lower = name.to_ascii_lowercase();
    let dirs: Vec<&str> = path
        .parent()
        .map(|p| {
            p.components()
                .rev()
                .filter_map(|c| c.as_os_str().to_str())
                .collect()
        })
        .unwrap_or_default();
    let parent = dirs.first().copied();
    let grandparent = dirs.get(1).copied();
    let under = |dir: &str| dirs.contains(&dir);
    let yaml = lower.ends_with(".yml") || lower.ends_with(".yaml");
    let ext = match lower.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => Some(ext),
        _ => None,
    };

    if matches!(ext, Some("sh" | "bash" | "zsh" | "ksh" | "ps1")) {
        return true;
    }
    if matches!(name, "Makefile" | "makefile" | "GNUmakefile") || ext == Some("mk") {
        return true;
    }
    if yaml && parent == Some("workflows") && grandparent == Some(".github") {
        return true;
    }
    if (lower == "action.yml" || lower == "action.yaml") && under(".github") {
        return true;
    }
    if lower == ".gitlab-ci.yml"
        || lower == ".gitlab-ci.yaml"
        || lower.ends_with(".gitlab-ci.yml")
        || lower.ends_with(".gitlab-ci.yaml")
        || (yaml && under(".gitlab"))
    {
        return true;
    }
    if matches!(name, "atlantis.yaml" | "atlantis.yml") {
        return true;
    }
    if lower == "jenkinsfile"
        || lower.ends_with(".jenkinsfile")
        || lower.starts_with("jenkinsfile.")
    {
        return true;
    }
    if matches!(
        name,
        "Taskfile.yml"
            | "Taskfile.yaml"
            | "taskfile.yml"
            | "taskfile.yaml"
            | "Taskfile.dist.yml"
            | "Taskfile.dist.yaml"
            | "taskfile.dist.yml"
            | "taskfile.dist.yaml"
    ) {
        return true;
    }
    if lower == "justfile" || lower == ".justfile" || ext == Some("just") {
        return true;
    }
    if yaml
        && (lower.starts_with("buildspec")
            || lower.starts_with("azure-pipelines")
            || under(".azure-pipelines")
            || lower == "bitbucket-pipelines.yml"
            || lower == "bitbucket-pipelines.yaml"
            || ((lower == "config.yml" || lower == "config.yaml") && parent == Some(".circleci"))
            || lower == ".drone.yml"
            || lower == ".travis.yml"
            || lower == ".woodpecker.yml"
            || lower == ".woodpecker.yaml"
            || under(".woodpecker")
            || under(".buildkite")
            || lower == "cloudbuild.yml"
            || lower == "cloudbuild.yaml")
    {
        return true;
    }
    // Extension-less executables in scripts/ or bin/.
    !name.contains('.') && matches!(parent, Some("scripts" | "bin"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_config_names() {
        for name in [
            "backend.hcl",
            "backend.conf",
            "prod.backend.hcl",
            "x.backend.conf",
        ] {
            assert!(is_partial_config_name(name), "{name}");
        }
        for name in [
            "terragrunt.hcl",
            "backend.tf",
            "mybackend.hcl",
            "backend.hcl.bak",
        ] {
            assert!(!is_partial_config_name(name), "{name}");
        }
    }

    #[test]
    fn ci_file_names() {
        let yes = [
            "deploy.sh",
            "scripts/init.bash",
            "scripts/tf-init",
            "bin/deploy",
            "tools/run.ps1",
            "Makefile",
            "sub/makefile",
            "GNUmakefile",
            "mk/terraform.mk",
            ".github/workflows/plan.yml",
            ".github/workflows/apply.yaml",
            ".github/actions/tf-init/action.yml",
            ".gitlab-ci.yml",
            "ci/terraform.gitlab-ci.yml",
            ".gitlab/ci/plan.yml",
            "atlantis.yaml",
            "atlantis.yml",
            "Jenkinsfile",
            "ci/deploy.jenkinsfile",
            "Jenkinsfile.prod",
            "Taskfile.yml",
            "Taskfile.yaml",
            "taskfile.yml",
            "justfile",
            "Justfile",
            ".justfile",
            "buildspec.yml",
            "buildspec-plan.yml",
            "azure-pipelines.yml",
            "bitbucket-pipelines.yml",
            ".circleci/config.yml",
            ".drone.yml",
            "cloudbuild.yaml",
            ".buildkite/pipeline.yml",
        ];
        for p in yes {
            assert!(is_ci_file(Path::new(p)), "{p}");
        }
        let no = [
            "main.tf",
            "backend.tfbackend",
            "terragrunt.hcl",
            "README.md",
            "workflows/plan.yml",
            ".github/dependabot.yml",
            "config.yml",
            "docker-compose.yml",
            "scripts/setup.py",
            "bin/.env",
            "src/Makefile.am",
            "lib/deploy",
            "sh",
            ".sh",
        ];
        for p in no {
            assert!(!is_ci_file(Path::new(p)), "{p}");
        }
    }
}
