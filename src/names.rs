//! Which file names tflock reads beyond backend files: CI files and partial
//! backend configurations, by name and folder alone. Opens no file.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use std::path::Path;
use std::sync::OnceLock;

/// Whether a file name is a Terragrunt unit's configuration.
pub fn is_unit_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n == "terragrunt.hcl" || n == "terragrunt.hcl.json")
}

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
    let tables = ci_tables();
    let lowered = path.with_file_name(name.to_ascii_lowercase());
    if tables.name_any_case.is_match(&lowered) || tables.exact_case.is_match(path) {
        return true;
    }
    // Extension-less executables in scripts/ or bin/ (a glob cannot say "no dot").
    let parent = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|p| p.to_str());
    !name.contains('.') && matches!(parent, Some("scripts" | "bin"))
}

/// CI file globs matched against the path with its file name in lower case
/// (folder names keep their case). `*` and `?` stay inside one path component.
const CI_NAME_ANY_CASE: &[&str] = &[
    // `?` keeps a bare `.sh` (a dot-file) out.
    "**/?*.{sh,bash,zsh,ksh,ps1}",
    "**/?*.mk",
    "**/.github/workflows/*.{yml,yaml}",
    "**/.github/**/action.{yml,yaml}",
    // `*` may be empty: also `.gitlab-ci.yml` itself.
    "**/*.gitlab-ci.{yml,yaml}",
    "**/.gitlab/**/*.{yml,yaml}",
    "**/jenkinsfile",
    "**/*.jenkinsfile",
    "**/jenkinsfile.*",
    "**/justfile",
    "**/.justfile",
    "**/?*.just",
    "**/buildspec*.{yml,yaml}",
    "**/azure-pipelines*.{yml,yaml}",
    "**/.azure-pipelines/**/*.{yml,yaml}",
    "**/bitbucket-pipelines.{yml,yaml}",
    "**/.circleci/config.{yml,yaml}",
    "**/.drone.yml",
    "**/.travis.yml",
    "**/.woodpecker.{yml,yaml}",
    "**/.woodpecker/**/*.{yml,yaml}",
    "**/.buildkite/**/*.{yml,yaml}",
    "**/cloudbuild.{yml,yaml}",
];

/// CI file globs whose file name must match in its case.
const CI_EXACT_CASE: &[&str] = &[
    "**/{Makefile,makefile,GNUmakefile}",
    "**/atlantis.{yaml,yml}",
    "**/{Taskfile,taskfile}.{yml,yaml}",
    "**/{Taskfile,taskfile}.dist.{yml,yaml}",
];

struct CiTables {
    name_any_case: GlobSet,
    exact_case: GlobSet,
}

/// The two tables, compiled once per process.
fn ci_tables() -> &'static CiTables {
    static TABLES: OnceLock<CiTables> = OnceLock::new();
    TABLES.get_or_init(|| CiTables {
        name_any_case: glob_set(CI_NAME_ANY_CASE),
        exact_case: glob_set(CI_EXACT_CASE),
    })
}

fn glob_set(globs: &[&str]) -> GlobSet {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        let glob = GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .expect("the CI glob table is valid");
        builder.add(glob);
    }
    builder.build().expect("the CI glob table compiles")
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
            "DEPLOY.SH",
            ".github/workflows/PLAN.YML",
            "/abs/repo/.gitlab/ci/deep/plan.yaml",
            "JENKINSFILE",
            "Taskfile.dist.yaml",
            ".woodpecker/build.yml",
            "azure-pipelines-prod.yaml",
            "..sh",
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
            "Atlantis.yaml",
            "MAKEFILE",
            ".GITHUB/workflows/plan.yml",
            ".github/workflows/sub/plan.yml",
            "x/.circleci/sub/config.yml",
            "scripts/sub/tool",
            "scripts/tool.d/x",
            ".mk",
        ];
        for p in no {
            assert!(!is_ci_file(Path::new(p)), "{p}");
        }
    }
}
