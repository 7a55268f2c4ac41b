//! Upgrade safety: `use_lockfile` needs Terraform >= 1.10, which removed the
//! top-level assume-role attributes of the S3 backend, and Terraform 1.11
//! deprecates several more. A backend tflock migrates must still initialise
//! afterwards: with a removed attribute it is blocked for Terraform (OpenTofu
//! still accepts them, so there it is a finding), unless `--modernize` rewrites
//! them together with the migration.

use super::Finding;
use super::version::{Tool, VersionFileKind, parse_version_file};
use crate::discover::FileKind;
use crate::parse::{self, BackendKind};
use crate::plan::modernize::{self, TERRAGRUNT_KEEPS};
use crate::plan::{self, Action, PlanOptions, Strategy};
use crate::scan::{BackendPlan, Problem, RepoPlan};
use crate::source::Source;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Blocks, reports or (with `modernize`) rewrites the outdated attributes of
/// every backend to migrate.
pub fn run(repo: &mut RepoPlan, cwd: &Path, strategy: Strategy, modernize: bool) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut problems = Vec::new();
    let mut touched = BTreeSet::new();
    // Looked up per backend below: indexed once, not searched per backend.
    let texts: HashMap<String, usize> = repo
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.clone(), i))
        .collect();
    let mut tools = ToolCache::default();
    for i in 0..repo.backends.len() {
        if repo.backends[i].action != Action::Migrate {
            continue;
        }
        if modernize {
            let Some(file) = texts.get(&repo.backends[i].path).map(|&f| &repo.files[f]) else {
                continue;
            };
            let source = Source::new(file.original.clone());
            let b = &mut repo.backends[i];
            let options = PlanOptions {
                strategy,
                modernize: true,
            };
            match plan::plan_backend_with(&source, &b.backend, &options) {
                Ok((action, edits)) => {
                    if edits != b.edits {
                        touched.insert(b.path.clone());
                    }
                    b.action = action;
                    b.edits = edits;
                }
                Err(e) => {
                    let (line, column) = source.line_col(e.offset);
                    b.action = Action::Error;
                    problems.push(Problem {
                        path: b.path.clone(),
                        line,
                        column,
                        message: format!("--modernize: {}", e.message),
                    });
                }
            }
            findings.extend(kept_in_terragrunt(b, &source));
            continue;
        }
        let b = &mut repo.backends[i];
        let text = texts
            .get(&b.path)
            .map_or("", |&f| repo.files[f].original.as_str());
        let mut removed = Vec::new();
        for (setting, old, new) in modernize::outdated(&b.backend.body) {
            let at = setting.key_span.start;
            if modernize::is_removed(&old) {
                let (line, column) = line_col(text, at);
                removed.push((line, column, old));
                continue;
            }
            if migration_removes(&old, strategy) {
                continue;
            }
            let (line, column) = line_col(text, at);
            findings.push(Finding {
                path: b.path.clone(),
                line,
                column,
                kind: "deprecated",
                message: format!(
                    "`{old}` is deprecated since Terraform 1.11 (init warns); use `{new}` \
                     (--modernize rewrites it)"
                ),
                suggestion: None,
            });
        }
        if removed.is_empty() {
            continue;
        }
        let list = removed
            .iter()
            .map(|(line, _, old)| format!("{}:{line}: `{old}`", b.path))
            .collect::<Vec<_>>()
            .join(", ");
        // Asked only here: most backends have no removed attribute, and the
        // answer costs a look at the pin files of every folder above.
        if tools.is_opentofu(b, cwd) {
            findings.push(Finding {
                path: b.path.clone(),
                line: removed[0].0,
                column: removed[0].1,
                kind: "deprecated",
                message: format!(
                    "{list}: deprecated in OpenTofu and removed in Terraform 1.10; \
                     move into `assume_role = {{ ... }}` (--modernize rewrites it)"
                ),
                suggestion: None,
            });
        } else {
            b.action = Action::Blocked;
            b.reason = Some(format!(
                "{list}: removed in Terraform 1.10, which use_lockfile needs (init fails: An argument \
                 named \"{}\" is not expected here); move into `assume_role = {{ ... }}`, or run with \
                 --modernize",
                removed[0].2
            ));
        }
    }
    recheck(repo, &touched, strategy, &mut problems);
    repo.problems.extend(problems);
    findings
}

/// The rewritten text of each modernized file must parse and plan nothing more;
/// otherwise tflock has a bug and the file is left alone.
fn recheck(
    repo: &mut RepoPlan,
    touched: &BTreeSet<String>,
    strategy: Strategy,
    problems: &mut Vec<Problem>,
) {
    for path in touched {
        let Some(file) = repo.files.iter().find(|f| &f.path == path) else {
            continue;
        };
        let edits: Vec<plan::Edit> = repo
            .backends
            .iter()
            .filter(|b| &b.path == path && b.action == Action::Migrate)
            .flat_map(|b| b.edits.iter().cloned())
            .collect();
        let stable = FileKind::of(Path::new(path)).is_some_and(|kind| {
            let Ok(text) = plan::splice(&file.original, &edits) else {
                return false;
            };
            let source = Source::new(text);
            let Ok(backends) = parse::parse(kind, &source) else {
                return false;
            };
            let options = PlanOptions {
                strategy,
                modernize: true,
            };
            backends.iter().all(|b| {
                matches!(plan::plan_backend_with(&source, b, &options), Ok((_, e)) if e.is_empty())
            })
        });
        if !stable {
            for b in repo.backends.iter_mut().filter(|b| &b.path == path) {
                b.action = Action::Error;
            }
            problems.push(Problem {
                path: path.clone(),
                line: 1,
                column: 1,
                message:
                    "internal error: --modernize rewrite does not parse or is not stable on a \
                          second plan; file left unchanged (please report this)"
                        .into(),
            });
        }
    }
}

/// What replace removes anyway: the DynamoDB settings.
fn migration_removes(old: &str, strategy: Strategy) -> bool {
    match strategy {
        Strategy::Replace => matches!(
            old,
            "dynamodb_table" | "dynamodb_endpoint" | "endpoints.dynamodb"
        ),
        // Dual keeps the table on purpose; it is deprecated, and that is known.
        Strategy::Dual => old == "dynamodb_table" || old == "endpoints.dynamodb",
    }
}

/// In a Terragrunt `remote_state` config, the spellings Terragrunt's own S3
/// client still needs are kept: say so.
fn kept_in_terragrunt(b: &BackendPlan, source: &Source) -> Vec<Finding> {
    if !modernize::is_terragrunt_map(&b.backend) || b.action != Action::Migrate {
        return Vec::new();
    }
    TERRAGRUNT_KEEPS
        .iter()
        .filter_map(|key| b.backend.body.get(key))
        .map(|s| Finding {
            path: b.path.clone(),
            line: source.line_col(s.key_span.start).0,
            column: source.line_col(s.key_span.start).1,
            kind: "deprecated",
            message: format!(
                "`{}` kept: Terragrunt's own S3 client (which bootstraps the bucket) reads only this \
                 spelling; Terraform 1.11 accepts it with a deprecation warning",
                s.key
            ),
            suggestion: None,
        })
        .collect()
}

/// OpenTofu runs this backend: a `.tofu` file, or an OpenTofu pin (and no
/// Terraform pin) in the nearest version file of its folder or a parent
/// (`.opentofu-version`, `.tool-versions`, `mise.toml`). Anything else may be
/// Terraform.
/// Which tool the pin files of each folder name, looked at once per folder
/// however many modules sit below it.
#[derive(Default)]
struct ToolCache {
    by_dir: HashMap<PathBuf, Vec<Tool>>,
}

impl ToolCache {
    fn is_opentofu(&mut self, b: &BackendPlan, cwd: &Path) -> bool {
        if b.path.ends_with(".tofu") || b.path.ends_with(".tofu.json") {
            return true;
        }
        if b.backend.kind == BackendKind::Terragrunt {
            // Terragrunt picks its binary at run time: assume Terraform.
            return false;
        }
        let mut dir = cwd.join(&b.path);
        while dir.pop() {
            let tools = self.tools_in(&dir);
            if tools.contains(&Tool::Terraform) {
                return false;
            }
            if tools.contains(&Tool::OpenTofu) {
                return true;
            }
            if !dir.starts_with(cwd) {
                break;
            }
        }
        false
    }

    /// The tools the pin files in `dir` itself name.
    fn tools_in(&mut self, dir: &Path) -> &[Tool] {
        self.by_dir.entry(dir.to_path_buf()).or_insert_with(|| {
            let kinds = [
                VersionFileKind::TerraformVersion,
                VersionFileKind::OpenTofuVersion,
                VersionFileKind::ToolVersions,
                VersionFileKind::MiseToml,
                VersionFileKind::DotMiseToml,
            ];
            let mut tools = Vec::new();
            for kind in kinds {
                if let Ok(text) = std::fs::read_to_string(dir.join(kind.file_name())) {
                    tools.extend(
                        parse_version_file(kind, &text)
                            .pins
                            .into_iter()
                            .map(|p| p.tool),
                    );
                }
            }
            tools
        })
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    Source::new(text.to_string()).line_col(offset)
}
