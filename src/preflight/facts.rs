//! What a file tells the preflight, gathered while the scan reads it anyway:
//! version constraints, Terragrunt-generated files, CI arguments.

use super::ci::{self, CiReference};
use crate::discover::{Candidate, FileKind, TERRAGRUNT_GENERATED};
use crate::parse::{self, Value};
use crate::source::Source;
use memchr::memmem;
use std::path::PathBuf;

/// Where a version constraint was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    /// `terraform { required_version = "..." }` in a `.tf` / `.tofu` file.
    RequiredVersion,
    /// Terragrunt's `terraform_version_constraint = "..."`.
    TerragruntConstraint,
}

/// One version constraint found in a file.
#[derive(Debug, Clone)]
pub struct VersionConstraint {
    pub kind: ConstraintKind,
    /// Display path of the file, and its directory (the module).
    pub path: String,
    pub dir: String,
    pub fs_path: PathBuf,
    pub line: usize,
    /// The constraint's text (the string's contents), or the expression text.
    pub text: String,
    /// Whether the value is a plain string (only then can it be bumped).
    pub literal: bool,
    /// A `.tofu` file: OpenTofu reads it.
    pub tofu: bool,
    /// Written inside a Terragrunt `generate` heredoc: it applies where the
    /// generated file lands (the units), and is not edited by tflock.
    pub generated: bool,
}

/// A fact for the preflight.
#[derive(Debug, Clone)]
pub enum Fact {
    Constraint(VersionConstraint),
    /// A file Terragrunt generated that configures a backend.
    Generated {
        path: String,
    },
    /// CI arguments that pass `dynamodb_table` to `init`, and the
    /// `-backend-config` files a CI file names (line, path as written).
    Ci {
        path: String,
        fs_path: PathBuf,
        references: Vec<CiReference>,
        config_files: Vec<(usize, String)>,
    },
    /// Init-time overrides written in the file (`-backend-config` arguments,
    /// Terragrunt `extra_arguments`); moved onto `RepoPlan::overrides` after the walk.
    Overrides(Vec<super::overrides::InitOverride>),
}

/// The facts in one file's bytes.
pub fn facts_of(candidate: &Candidate, bytes: &[u8]) -> Vec<Fact> {
    let path = candidate.display.clone();
    let content = bytes
        .strip_prefix(b"\xef\xbb\xbf".as_slice())
        .unwrap_or(bytes);
    let mut facts = Vec::new();
    match candidate.kind {
        FileKind::Ci => {
            let text = String::from_utf8_lossy(bytes);
            let references = ci::find_references(&text);
            let config_files = ci::backend_config_files(&text);
            if !references.is_empty() || !config_files.is_empty() {
                facts.push(Fact::Ci {
                    path,
                    fs_path: candidate.path.clone(),
                    references,
                    config_files,
                });
            }
        }
        _ if content.starts_with(TERRAGRUNT_GENERATED)
            && memmem::find(bytes, b"backend").is_some() =>
        {
            facts.push(Fact::Generated { path });
        }
        _ if content.starts_with(TERRAGRUNT_GENERATED) => {}
        FileKind::Terraform if memmem::find(bytes, b"required_version").is_some() => {
            facts.extend(
                required_versions(candidate, bytes)
                    .into_iter()
                    .map(Fact::Constraint),
            );
        }
        FileKind::TerraformJson if memmem::find(bytes, b"required_version").is_some() => {
            facts.extend(
                super::json_blocks::required_versions(candidate, bytes)
                    .into_iter()
                    .map(Fact::Constraint),
            );
        }
        FileKind::Terragrunt => {
            if memmem::find(bytes, b"terraform_version_constraint").is_some() {
                facts.extend(terragrunt_constraint(candidate, bytes).map(Fact::Constraint));
            }
            if memmem::find(bytes, b"required_version").is_some() {
                facts.extend(
                    required_versions(candidate, bytes)
                        .into_iter()
                        .map(Fact::Constraint),
                );
            }
        }
        _ => {}
    }
    facts
}

fn constraint(
    candidate: &Candidate,
    source: &Source,
    kind: ConstraintKind,
    setting: &parse::Setting,
) -> VersionConstraint {
    let (text, literal) = match &setting.value {
        Value::String(s) => (s.clone(), true),
        other => (other.display(), false),
    };
    VersionConstraint {
        kind,
        path: candidate.display.clone(),
        dir: crate::model::paths::parent_dir(&candidate.display),
        fs_path: candidate.path.clone(),
        line: source.line_of(setting.key_span.start),
        text,
        literal,
        tofu: candidate.display.ends_with(".tofu"),
        generated: candidate.kind == FileKind::Terragrunt,
    }
}

fn required_versions(candidate: &Candidate, bytes: &[u8]) -> Vec<VersionConstraint> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Vec::new();
    };
    let source = Source::new(text.to_string());
    let blocks = match candidate.kind {
        // Terragrunt: the terraform blocks of `generate` heredocs.
        FileKind::Terragrunt => parse::generated_terraform_blocks(&source),
        _ => parse::terraform_blocks(&source),
    };
    let Ok(blocks) = blocks else {
        return Vec::new();
    };
    blocks
        .iter()
        .filter_map(|body| body.get("required_version"))
        .map(|s| constraint(candidate, &source, ConstraintKind::RequiredVersion, s))
        .collect()
}

fn terragrunt_constraint(candidate: &Candidate, bytes: &[u8]) -> Option<VersionConstraint> {
    let source = Source::new(std::str::from_utf8(bytes).ok()?.to_string());
    let body = parse::top_level(&source).ok()?;
    let setting = body.get("terraform_version_constraint")?;
    Some(constraint(
        candidate,
        &source,
        ConstraintKind::TerragruntConstraint,
        setting,
    ))
}
